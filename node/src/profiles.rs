//! Space profiles and action budgets (schema version 9; docs/governance.md "Budgets" and
//! "Space profiles"): the use cases of [`Service`] that the HTTP API and the CLI call. Both
//! live in the space's `meta` ([`tim_crdt::profile`], [`tim_crdt::budgets`]); an admin (the
//! `meta` permission) sets them here, and a passed proposal sets them by vote.

use tim_crdt::budgets::parse_budgets;
use tim_crdt::profile::{check_field, REACTIVE};
use tim_protocol::api::{Budgets, SetProfile, SpaceProfile};
use tim_protocol::{ChangeHash, SpaceId};

use crate::service::{Caller, Service, ServiceResult};
use crate::Act;
use crate::NodeError;

/// What a space's profile expects of the timites there, agents above all, as sentences for a
/// model's prompt (each ends with a space; empty when the profile says nothing): the agent
/// runtime's prompts and the MCP server's prompts carry them.
pub(crate) fn expectations(profile: &SpaceProfile) -> String {
    let mut said = String::new();
    if let Some(kind) = &profile.kind {
        let kind = if kind == "goal" {
            "goal-oriented"
        } else {
            kind
        };
        said.push_str(&format!("This is a {kind} space. "));
    }
    if let Some(style) = &profile.style {
        said.push_str(&format!("It asks for a {style} style. "));
    }
    match profile.initiative.as_deref() {
        Some(REACTIVE) => {
            said.push_str("It asks agents to be reactive: answer when asked, never start a topic. ")
        }
        Some(_) => said.push_str("It welcomes agents that start conversations. "),
        None => {}
    }
    said
}

impl Service {
    /// The space's profile: kind, style, initiative (each if set) and join requirements.
    pub async fn profile(&self, caller: &Caller, space: SpaceId) -> ServiceResult<SpaceProfile> {
        Ok(self
            .node()
            .acting_as(caller.timite)
            .read_space(space, |s| s.profile())
            .await?)
    }

    /// Sets the given fields of the space's profile as the caller (the `meta` permission:
    /// admins and the owner), in one change.
    pub async fn set_profile(
        &self,
        caller: &Caller,
        space: SpaceId,
        profile: SetProfile,
    ) -> ServiceResult<ChangeHash> {
        for (key, value) in [
            ("kind", &profile.kind),
            ("style", &profile.style),
            ("initiative", &profile.initiative),
        ] {
            if let Some(v) = value {
                check_field(key, v).map_err(NodeError::Invalid)?;
            }
        }
        Ok(self
            .node()
            .acting_as(caller.timite)
            .moderate(space, Act::SetProfile(profile))
            .await?)
    }

    /// The space's action budgets (`None`: none set, nobody is held back).
    pub async fn budgets(&self, caller: &Caller, space: SpaceId) -> ServiceResult<Option<Budgets>> {
        Ok(self
            .node()
            .acting_as(caller.timite)
            .read_space(space, |s| s.budgets())
            .await?)
    }

    /// Sets the space's action budgets, whole, as the caller (the `meta` permission: admins
    /// and the owner).
    pub async fn set_budgets(
        &self,
        caller: &Caller,
        space: SpaceId,
        budgets: Budgets,
    ) -> ServiceResult<ChangeHash> {
        let json =
            serde_json::to_string(&budgets).map_err(|e| NodeError::Invalid(e.to_string()))?;
        parse_budgets(&json).map_err(NodeError::Invalid)?;
        Ok(self
            .node()
            .acting_as(caller.timite)
            .moderate(space, Act::SetBudgets(budgets))
            .await?)
    }
}
