//! Earned roles (schema version [`schema::SOCIAL`], docs/governance.md "Earned roles"): a
//! member whose reputation meets a threshold the space sets holds a role without any admin
//! writing it, and loses it as soon as the log no longer meets the threshold.
//!
//! ```text
//! meta.earned_roles: Str(JSON [ {"role": NAME, "min_reputation": N}
//!                             | {"role": NAME, "ability": ABILITY, "min_ability_reputation": N} ])
//! ```
//! A member's **effective role** is the highest-ranked of its assigned role (its member entry's
//! `role`) and every earned role whose threshold it meets; on a tie the assigned role wins,
//! then the threshold listed first. `min_reputation` is met by the member's reputation score
//! (reputation v2, [`crate::reputation`]); `min_ability_reputation` by its points in that
//! ability (the capped, standing-weighted points of its rated outcomes there). Nobody earns
//! `owner` or `admin` (nor a defined role ranking as high), and a banned member, or one the
//! revocation notices no longer admit, earns nothing. The standing that weighs reputation is
//! seeded from *assigned* roles only, so roles and reputation never depend on each other in a
//! cycle.
//!
//! Everything is read at one view of the document: the rules read at a change's
//! dependencies, readers now, so every node decides the same role at the same heads.

use std::cell::OnceCell;

use automerge::transaction::Transactable;
use tim_protocol::api::RoleHeld;
use tim_protocol::Did;

pub use tim_protocol::api::EarnedRole;

use crate::abilities::check_name;
use crate::doc::{self, View};
use crate::reputation::{Ledger, Tally, ABILITY_CAP};
use crate::roles::{Grant, Role, ADMIN_RANK};
use crate::{schema, Applied, Space, SpaceError, Writer};

/// The `meta` key of the earned roles.
pub const EARNED_ROLES: &str = "earned_roles";
/// Most thresholds a space sets.
pub const MAX_EARNED_ROLES: usize = 16;
/// Highest `min_reputation`.
pub const MAX_MIN_REPUTATION: u64 = 1_000_000;
/// Highest `min_ability_reputation`: the most points one ability gives ([`ABILITY_CAP`]).
pub const MAX_MIN_ABILITY_REPUTATION: u64 = ABILITY_CAP.unsigned_abs() / 1000;

/// Parses `meta.earned_roles`: a JSON array of at most [`MAX_EARNED_ROLES`] thresholds, each
/// well formed ([`check_threshold`]). The one definition of the format; whether a defined
/// role exists and ranks below `admin` is for the rules to say, at the change's dependencies.
pub fn parse_earned_roles(json: &str) -> Result<Vec<EarnedRole>, String> {
    let list: Vec<EarnedRole> = serde_json::from_str(json).map_err(|e| {
        format!(
            "earned_roles is a JSON array of {{\"role\", \"min_reputation\"}} or {{\"role\", \
             \"ability\", \"min_ability_reputation\"}}: {e}"
        )
    })?;
    if list.len() > MAX_EARNED_ROLES {
        return Err(format!(
            "at most {MAX_EARNED_ROLES} earned roles; {} given",
            list.len()
        ));
    }
    for t in &list {
        check_threshold(t)?;
    }
    Ok(list)
}

/// Checks one threshold: its role is `moderator`, `member` or a valid name for a defined role;
/// it sets either `min_reputation` (1 to [`MAX_MIN_REPUTATION`]) or `ability` (an ability
/// name) with `min_ability_reputation` (1 to [`MAX_MIN_ABILITY_REPUTATION`]). Returns the
/// role.
pub fn check_threshold(t: &EarnedRole) -> Result<Role, String> {
    let role = match Role::parse(&t.role) {
        Some(r @ (Role::Moderator | Role::Member | Role::Custom(_))) => r,
        _ => {
            return Err(format!(
                "`{}` cannot be earned: earned roles are `moderator`, `member` or a role the \
                 space defines below `admin`",
                t.role
            ))
        }
    };
    match (t.min_reputation, &t.ability, t.min_ability_reputation) {
        (Some(n), None, None) if (1..=MAX_MIN_REPUTATION).contains(&n) => Ok(role),
        (Some(n), None, None) => Err(format!(
            "min_reputation is 1 to {MAX_MIN_REPUTATION}, not {n}"
        )),
        (None, Some(a), Some(n)) => {
            check_name(a)?;
            if !(1..=MAX_MIN_ABILITY_REPUTATION).contains(&n) {
                return Err(format!(
                    "min_ability_reputation is 1 to {MAX_MIN_ABILITY_REPUTATION} (the most \
                     points one ability gives), not {n}"
                ));
            }
            Ok(role)
        }
        _ => Err(format!(
            "the threshold for `{}` sets either `min_reputation`, or `ability` and \
             `min_ability_reputation`",
            t.role
        )),
    }
}

/// The role a member holds, and the threshold that earns it (`None`: assigned).
#[derive(Debug, Clone)]
pub(crate) struct Held {
    /// The effective role's rank and permissions.
    pub(crate) grant: Grant,
    /// The threshold met, when the role is earned.
    pub(crate) earned_by: Option<EarnedRole>,
}

/// A space's earned roles at one view: the thresholds whose role is defined there and ranks
/// below `admin`, each with that role's grant, in their listed order.
#[derive(Debug, Default)]
pub(crate) struct Earning {
    thresholds: Vec<(EarnedRole, Grant)>,
}

impl Earning {
    /// The earned roles at `view` (none below schema version [`schema::SOCIAL`]).
    pub(crate) fn at(view: &View<'_>) -> Self {
        if doc::schema_version(view.doc, view.heads) < schema::SOCIAL {
            return Self::default();
        }
        Self {
            thresholds: thresholds_at(view),
        }
    }

    /// The highest rank a threshold here gives (0 with none).
    pub(crate) fn top_rank(&self) -> u64 {
        self.thresholds
            .iter()
            .map(|(_, g)| g.rank)
            .max()
            .unwrap_or(0)
    }

    /// What `did`, whose member entry assigns `assigned`, holds here, measured by the
    /// reputation ledger at the same view. `ledger` is called only if some threshold
    /// outranks `assigned` (reading the ledger walks the whole document).
    pub(crate) fn hold<'l>(
        &self,
        did: &Did,
        assigned: Grant,
        ledger: impl FnOnce() -> Option<&'l Ledger>,
    ) -> Held {
        let mut held = Held {
            grant: assigned,
            earned_by: None,
        };
        if assigned.role == Role::Banned || self.top_rank() <= assigned.rank {
            return held;
        }
        let Some(ledger) = ledger().filter(|l| l.is_active(did)) else {
            return held;
        };
        for (t, g) in &self.thresholds {
            if g.rank > held.grant.rank && meets(ledger, did, t) {
                held = Held {
                    grant: *g,
                    earned_by: Some(t.clone()),
                };
            }
        }
        held
    }
}

/// Whether `did` meets threshold `t` by `ledger`.
fn meets(ledger: &Ledger, did: &Did, t: &EarnedRole) -> bool {
    match (t.min_reputation, &t.ability, t.min_ability_reputation) {
        (Some(n), _, _) => ledger.reputation(did).score.unsigned_abs() >= n,
        (None, Some(a), Some(n)) => ledger.ability_reputation(did, a) >= n,
        _ => false,
    }
}

/// The thresholds in `meta.earned_roles` at `view` whose role is defined there and ranks
/// below `admin`, each with its role's grant.
fn thresholds_at(view: &View<'_>) -> Vec<(EarnedRole, Grant)> {
    let Some(json) = doc::root_obj(view.doc, &schema::META, view.heads)
        .and_then(|m| view.get_str(&m, EARNED_ROLES))
    else {
        return vec![];
    };
    parse_earned_roles(&json)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|t| {
            let grant = grant_of(view, check_threshold(&t).ok()?)?;
            Some((t, grant))
        })
        .collect()
}

/// The grant of an earnable role at `view`: `None` for a defined role the space does not
/// define there, or that ranks as high as `admin`.
pub(crate) fn grant_of(view: &View<'_>, role: Role) -> Option<Grant> {
    let def = match role {
        Role::Custom(name) => Some(doc::role_def(view.doc, &name, view.heads)?),
        _ => None,
    };
    Some(Grant::of(role, def)).filter(|g| g.rank < ADMIN_RANK)
}

/// A member's role as readers show it ([`tim_protocol::api::MemberView`]).
#[derive(Debug)]
pub(crate) struct ShownRole {
    /// The effective role.
    pub(crate) role: String,
    /// Assigned or earned.
    pub(crate) held: RoleHeld,
    /// The assigned role, when an earned one outranks it.
    pub(crate) assigned_role: Option<String>,
    /// The threshold met, when earned.
    pub(crate) earned_by: Option<EarnedRole>,
}

impl Space {
    /// The earned roles now.
    pub(crate) fn earning_now(&self) -> Earning {
        Earning::at(&View {
            doc: self.doc(),
            heads: None,
        })
    }

    /// How member `did`, whose entry assigns `assigned` (`banned` when the notices no longer
    /// admit it), holds its role now, by `tally` and `earning` (both read now).
    pub(crate) fn shown_role(
        &self,
        did: &Did,
        assigned: String,
        tally: &Tally,
        earning: &Earning,
    ) -> ShownRole {
        let as_assigned = |role| ShownRole {
            role,
            held: RoleHeld::Assigned,
            assigned_role: None,
            earned_by: None,
        };
        let Some(role) = Role::parse(&assigned) else {
            return as_assigned(assigned);
        };
        let now = View {
            doc: self.doc(),
            heads: None,
        };
        let def = match role {
            Role::Custom(name) => doc::role_def(now.doc, &name, None),
            _ => None,
        };
        match earning.hold(did, Grant::of(role, def), || tally.ledger()) {
            Held {
                grant,
                earned_by: Some(t),
            } => ShownRole {
                role: grant.role.as_str().to_string(),
                held: RoleHeld::Earned,
                assigned_role: Some(assigned),
                earned_by: Some(t),
            },
            Held {
                earned_by: None, ..
            } => as_assigned(assigned),
        }
    }

    /// The space's earned roles now (`meta.earned_roles`; empty when it sets none).
    pub fn earned_roles(&self) -> Vec<EarnedRole> {
        doc::root_obj(self.doc(), &schema::META, None)
            .and_then(|m| doc::get_str(self.doc(), &m, EARNED_ROLES))
            .and_then(|json| parse_earned_roles(&json).ok())
            .unwrap_or_default()
    }

    /// `did`'s effective role now, and the threshold that earns it (`None`: assigned), as the
    /// rules would judge a change made at the current heads; `None` if not a member.
    pub fn effective_role(&self, did: &Did) -> Option<(Role, Option<EarnedRole>)> {
        let assigned = self.role_of(did)?;
        let def = match assigned {
            Role::Custom(name) => doc::role_def(self.doc(), &name, None),
            _ => None,
        };
        let tally = OnceCell::new();
        let held = self.earning_now().hold(did, Grant::of(assigned, def), || {
            tally.get_or_init(|| Tally::of(self)).ledger()
        });
        Some((held.grant.role, held.earned_by))
    }

    /// Sets the space's earned roles, as `who` (the `meta` permission), replacing the list
    /// (an empty one: no role is earned). Schema version [`schema::SOCIAL`] and later.
    pub fn set_earned_roles(
        &mut self,
        who: &Writer,
        thresholds: &[EarnedRole],
        at_ms: u64,
    ) -> Result<Applied, SpaceError> {
        if self.schema_version() < schema::SOCIAL {
            return Err(SpaceError::Invalid(format!(
                "this space is at schema version {}; earned roles need version {} (migrate it)",
                self.schema_version(),
                schema::SOCIAL
            )));
        }
        if thresholds.len() > MAX_EARNED_ROLES {
            return Err(SpaceError::Invalid(format!(
                "at most {MAX_EARNED_ROLES} earned roles; {} given",
                thresholds.len()
            )));
        }
        for t in thresholds {
            check_threshold(t).map_err(SpaceError::Invalid)?;
        }
        let json =
            serde_json::to_string(thresholds).map_err(|e| SpaceError::Invalid(e.to_string()))?;
        let meta = doc::root_obj(self.doc(), &schema::META, None)
            .ok_or(SpaceError::NotReady(self.id()))?;
        self.local_write(who, at_ms, |tx| {
            tx.put(&meta, EARNED_ROLES, json)?;
            Ok(())
        })
        .map(|(a, ())| a)
    }
}
