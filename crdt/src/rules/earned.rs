//! Earned roles in the rules (schema version 9; docs/governance.md "Earned roles" and
//! [`crate::earned`]): the author's role, and a target's where ranks are compared, is its
//! effective role at the change's dependencies, the higher of the assigned one and the earned
//! ones whose thresholds it meets there. The reputation ledger is read only when an earned
//! role could change the verdict, once per change.

use std::cell::OnceCell;

use tim_protocol::Did;

use super::{deny, Judge};
use crate::earned::{grant_of, parse_earned_roles, Earning, Held};
use crate::reputation::Ledger;
use crate::roles::Grant;
use crate::Rejection;

/// What the Judge reads about earned roles, each at most once, when first needed.
#[derive(Default)]
pub(super) struct EarnedAt {
    earning: OnceCell<Earning>,
    ledger: OnceCell<Ledger>,
    /// The author's effective grant.
    author: OnceCell<Option<Grant>>,
}

impl Judge<'_> {
    /// What the author may do at the change's dependencies: its effective role's rank and
    /// permissions (`None` for a non-member). Every verdict about the author's role goes
    /// through this (or [`Judge::may`] and [`Judge::rank`], which call it).
    pub(super) fn grant(&self) -> Option<Grant> {
        *self
            .earned
            .author
            .get_or_init(|| self.assigned.map(|a| self.hold(&self.author, a).grant))
    }

    /// What member `did` (as written in the members map) may do at the change's
    /// dependencies, as far as a comparison with the author's rank can tell: its earned roles
    /// are weighed only when one could reach the author's rank.
    pub(super) fn target_grant(&self, did: &str) -> Option<Grant> {
        let assigned = self.at.grant(&self.members, did)?;
        let rank = self.rank();
        if assigned.rank >= rank || self.earning().top_rank() < rank {
            return Some(assigned);
        }
        Some(match did.parse::<Did>() {
            Ok(d) => self.hold(&d, assigned).grant,
            Err(_) => assigned,
        })
    }

    /// What `did`, assigned `assigned`, holds at the change's dependencies.
    fn hold(&self, did: &Did, assigned: Grant) -> Held {
        self.earning().hold(did, assigned, || {
            Some(
                self.earned
                    .ledger
                    .get_or_init(|| Ledger::at(&self.notices())),
            )
        })
    }

    /// The earned roles at the change's dependencies.
    fn earning(&self) -> &Earning {
        self.earned
            .earning
            .get_or_init(|| Earning::at(&self.at.view))
    }

    /// `meta.earned_roles`: well formed ([`crate::earned::parse_earned_roles`]), and each
    /// role built in or defined at the change's dependencies, ranking below `admin`.
    pub(super) fn check_earned_roles(&self, json: &str) -> Result<(), Rejection> {
        let thresholds = parse_earned_roles(json).map_err(Rejection::Unauthorized)?;
        for t in thresholds {
            let role = crate::earned::check_threshold(&t).map_err(Rejection::Unauthorized)?;
            if grant_of(&self.at.view, role).is_none() {
                return deny(format!(
                    "{}; `{}` cannot be earned here: it is not defined at this change's \
                     dependencies, or ranks as high as admin",
                    self.who, t.role
                ));
            }
        }
        Ok(())
    }
}
