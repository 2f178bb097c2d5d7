//! JSON types of a space's profile and its action budgets (schema version 9;
//! docs/governance.md "Budgets" and "Space profiles"). The same JSON is the value of
//! `meta.budgets` in the space document (docs/protocol.md).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A space's profile: what kind of space it is and what it expects of its timites, people
/// and agents alike. Each field is absent until an admin (or a passed proposal) sets it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct SpaceProfile {
    /// `goal`, `social`, `problem-solving` or `creative` (`meta.kind`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// `formal` or `casual` (`meta.style`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub style: Option<String>,
    /// `reactive` (agents answer, never start) or `proactive` (`meta.initiative`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initiative: Option<String>,
    /// What joiners must present, in words (`meta.requirements`; empty: nothing).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requirements: Vec<String>,
}

impl SpaceProfile {
    /// Whether no field is set.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// Body of `PUT /v1/spaces/{id}/profile`: the fields to set (absent ones stay as they are).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetProfile {
    /// `goal`, `social`, `problem-solving` or `creative`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// `formal` or `casual`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub style: Option<String>,
    /// `reactive` or `proactive`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initiative: Option<String>,
}

/// A space's action budgets (`meta.budgets`; body and answer of `/v1/spaces/{id}/budgets`):
/// per role, how many of the last `period` messages (and of the last `period` requests) one
/// member of that role may have authored, and how many unused invitations it may hold.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Budgets {
    /// The length of the sliding window, in messages (and in requests), 1 to 1000.
    pub period: u64,
    /// The budget of each role that has one, by role name; a role not named is unlimited.
    #[serde(default)]
    pub roles: BTreeMap<String, RoleBudget>,
}

impl Default for Budgets {
    /// No role, over the default window.
    fn default() -> Self {
        Self {
            period: Self::DEFAULT_PERIOD,
            roles: BTreeMap::new(),
        }
    }
}

impl Budgets {
    /// The window of a space's first budget when none is named, in messages.
    pub const DEFAULT_PERIOD: u64 = 10;

    /// Sets the counts of `role`'s budget that `counts` gives, keeping its others (a role
    /// without a budget gets one): what `tim space budget` and a budget proposal change.
    pub fn set_role(&mut self, role: &str, counts: RoleBudget) {
        let entry = self.roles.entry(role.to_string()).or_default();
        entry.posts = counts.posts.or(entry.posts);
        entry.requests = counts.requests.or(entry.requests);
        entry.invites = counts.invites.or(entry.invites);
    }
}

/// One role's budget; an absent count is unlimited.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleBudget {
    /// Most of the last `period` messages one member of the role may have authored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub posts: Option<u64>,
    /// Most of the last `period` ability requests one member of the role may have made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<u64>,
    /// Most unused invitations one member of the role may hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invites: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_role_changes_the_counts_given_and_keeps_the_others() {
        let mut b = Budgets::default();
        assert_eq!((b.period, b.roles.len()), (Budgets::DEFAULT_PERIOD, 0));
        let posts = RoleBudget {
            posts: Some(2),
            ..RoleBudget::default()
        };
        b.set_role("member", posts);
        let requests = RoleBudget {
            requests: Some(1),
            ..RoleBudget::default()
        };
        b.set_role("member", requests);
        b.set_role("moderator", posts);
        assert_eq!(
            serde_json::to_value(&b).unwrap(),
            serde_json::json!({"period": 10, "roles": {
                "member": {"posts": 2, "requests": 1},
                "moderator": {"posts": 2}}})
        );
    }
}
