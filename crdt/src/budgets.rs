//! Per-role action budgets (schema version 9, [`schema::SOCIAL`]; docs/governance.md
//! "Budgets"): how much one member may post, request and invite, measured in the space's own
//! history, never by a clock.
//!
//! ```text
//! meta.budgets: Str (JSON {"period": P, "roles": {ROLE: {"posts"?: N, "requests"?: N,
//!                                                        "invites"?: N}}})
//! ```
//! The rules judge each change at its dependencies, against the budget of its author's role
//! there (absent count, absent role, absent key: unlimited):
//! - **posts**: of the last `P` messages of the timeline, counting the ones the change posts,
//!   at most `posts` are the author's;
//! - **requests**: of the last `P` ability requests, counting the one the change makes, at
//!   most `requests` are the author's;
//! - **invites**: counting the invitations the change makes, the author holds at most
//!   `invites` invitations it made that are not used yet.
//!
//! The window slides with everyone's activity, so a member is held back only while it has
//! said more than its share of what was said lately; [`parse_budgets`] is the one source of
//! truth for the format.

use automerge::transaction::Transactable;
pub use tim_protocol::api::{Budgets, RoleBudget};

use crate::doc;
use crate::roles::{Role, RoleName};
use crate::{schema, Applied, Space, SpaceError, Writer};

/// `meta.budgets`.
pub const BUDGETS: &str = "budgets";
/// Longest window, in messages (and requests): what the rules read per judged post.
pub const MAX_PERIOD: u64 = 1000;
/// Most roles with a budget.
pub const MAX_BUDGET_ROLES: usize = 16;
/// Largest `invites` count.
pub const MAX_INVITES: u64 = 1000;

/// Parses and checks `meta.budgets`: `period` from 1 to [`MAX_PERIOD`]; at most
/// [`MAX_BUDGET_ROLES`] roles, each a built-in role below the owner that may act (`admin`,
/// `moderator`, `member`) or a valid custom role name; `posts` and `requests` at most
/// `period`, `invites` at most [`MAX_INVITES`].
pub fn parse_budgets(json: &str) -> Result<Budgets, String> {
    let budgets: Budgets =
        serde_json::from_str(json).map_err(|e| format!("budgets are not valid: {e}"))?;
    let period = budgets.period;
    if !(1..=MAX_PERIOD).contains(&period) {
        return Err(format!(
            "a budget's period is 1 to {MAX_PERIOD} messages, not {period}"
        ));
    }
    if budgets.roles.len() > MAX_BUDGET_ROLES {
        return Err(format!("at most {MAX_BUDGET_ROLES} roles have a budget"));
    }
    for (name, b) in &budgets.roles {
        match Role::parse(name) {
            Some(Role::Owner | Role::Guest | Role::Banned) => {
                return Err(format!(
                    "`{name}` has no budget: the owner is never held back, and guests and \
                     banned timites write nothing"
                ))
            }
            Some(_) => {}
            None => RoleName::parse(name).map(drop)?,
        }
        for (what, n) in [("posts", b.posts), ("requests", b.requests)] {
            if n.is_some_and(|n| n > period) {
                return Err(format!(
                    "the {what} budget of {name} is at most the period ({period})"
                ));
            }
        }
        if b.invites.is_some_and(|n| n > MAX_INVITES) {
            return Err(format!(
                "the invites budget of {name} is at most {MAX_INVITES}"
            ));
        }
    }
    Ok(budgets)
}

impl Space {
    /// The space's budgets now (`None`: none set, everyone is unlimited).
    pub fn budgets(&self) -> Option<Budgets> {
        let meta = doc::root_obj(self.doc(), &schema::META, None)?;
        parse_budgets(&doc::get_str(self.doc(), &meta, BUDGETS)?).ok()
    }

    /// Sets the budgets, whole, as `who` (the `meta` permission: admins and the owner; schema
    /// version 9).
    pub fn set_budgets(
        &mut self,
        who: &Writer,
        budgets: &Budgets,
        at_ms: u64,
    ) -> Result<Applied, SpaceError> {
        let json =
            serde_json::to_string(budgets).map_err(|e| SpaceError::Invalid(e.to_string()))?;
        parse_budgets(&json).map_err(SpaceError::Invalid)?;
        let meta = self.social_meta("a budget")?;
        self.local_write(who, at_ms, |tx| {
            tx.put(&meta, BUDGETS, json)?;
            Ok(())
        })
        .map(|(a, ())| a)
    }
}
