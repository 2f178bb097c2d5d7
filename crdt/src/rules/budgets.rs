//! The rules of action budgets and space profiles (schema version 9; docs/rules.md §5 and
//! [`crate::budgets`], [`crate::profile`]): the values of `meta.budgets`, `meta.kind`,
//! `meta.style` and `meta.initiative`, and, once a change's operations are judged, whether its
//! author stays within its role's budget. Every verdict reads the document at the change's
//! dependencies.

use automerge::{ObjId, ReadDoc};

use super::{deny, Judge};
use crate::budgets::{parse_budgets, RoleBudget, BUDGETS};
use crate::schema::{self, Container};
use crate::writer::same_author;
use crate::{doc, profile, Rejection};

/// What a change spends of its author's budget, counted while its operations are judged.
#[derive(Default)]
pub(super) struct Spending {
    /// Messages it inserts into the timeline.
    pub(super) posts: u64,
    /// Keys of the invitations it makes.
    pub(super) invites: Vec<String>,
}

impl Judge<'_> {
    /// `meta.budgets`, `meta.kind`, `meta.style`, `meta.initiative`: a value of the format
    /// [`parse_budgets`] and [`profile::check_field`] accept; a direct-message space's `kind`
    /// (`dm`, set at its genesis) never changes.
    pub(super) fn check_social_meta(&self, key: &str, value: &str) -> Result<(), Rejection> {
        if key == BUDGETS {
            return parse_budgets(value)
                .map(drop)
                .map_err(Rejection::Unauthorized);
        }
        if key == profile::KIND
            && self.at.get_str(&self.meta, doc::KIND).as_deref() == Some(doc::DM)
        {
            return deny("a direct-message space's kind is `dm`, for good".into());
        }
        profile::check_field(key, value).map_err(Rejection::Unauthorized)
    }

    /// Whether `key` is a meta key of schema version 9 that [`Judge::check_social_meta`]
    /// judges, in this space.
    pub(super) fn is_social_meta(&self, key: &str) -> bool {
        self.at.version >= schema::SOCIAL && (key == BUDGETS || profile::values_of(key).is_some())
    }

    /// The change, whole, keeps its author within its role's budget at the change's
    /// dependencies (nothing to check without `meta.budgets` or a budget for the role).
    pub(super) fn check_budgets(&self) -> Result<(), Rejection> {
        let spends =
            self.spending.posts > 0 || self.request.is_some() || !self.spending.invites.is_empty();
        if self.at.version < schema::SOCIAL || !spends {
            return Ok(());
        }
        let Some(budgets) = self
            .at
            .get_str(&self.meta, BUDGETS)
            .and_then(|j| parse_budgets(&j).ok())
        else {
            return Ok(());
        };
        // The effective role (an earned role's budget applies), read only once a budget is set.
        let Some(role) = self.grant().map(|g| g.role) else {
            return Ok(());
        };
        let role = &role;
        let Some(budget) = budgets.roles.get(role.as_str()) else {
            return Ok(());
        };
        let roles = format!("{}s", role.as_str());
        let period = budgets.period;
        self.within_window(
            &schema::TIMELINE,
            self.spending.posts,
            budget.posts,
            period,
            ("messages", "post", &roles),
        )?;
        self.within_window(
            &schema::REQUESTS,
            u64::from(self.request.is_some()),
            budget.requests,
            period,
            ("requests", "request", &roles),
        )?;
        self.within_invites(budget, &roles)
    }

    /// Of the last `period` entries of list container `c` (counting the `new` ones this change
    /// adds), at most `limit` are the author's.
    fn within_window(
        &self,
        c: &Container,
        new: u64,
        limit: Option<u64>,
        period: u64,
        (things, verb, roles): (&str, &str, &str),
    ) -> Result<(), Rejection> {
        let (Some(limit), true) = (limit, new > 0) else {
            return Ok(());
        };
        let older = period.saturating_sub(new) as usize;
        let mine = self
            .roots
            .get(c)
            .map_or(0, |list| self.authored_in_last(list, older));
        let used = mine + new;
        if used > limit {
            return deny(format!(
                "{}; {used} of the last {period} {things} would be its own (counting this \
                 change's), and {roles} may {verb} {limit} per {period}: wait until others \
                 have written more, or earn a role with a larger budget",
                self.who
            ));
        }
        Ok(())
    }

    /// How many of the last `n` elements of `list`, at the change's dependencies, the
    /// author made (whatever its session).
    fn authored_in_last(&self, list: &ObjId, n: usize) -> u64 {
        let doc = self.doc;
        let authored = |id: &ObjId| matches!(id, ObjId::Id(_, a, _) if same_author(a, &self.actor));
        match self.at.heads {
            Some(h) => {
                let len = doc.length_at(list, h);
                doc.list_range_at(list, len.saturating_sub(n).., h)
                    .filter(|i| authored(&i.id))
                    .count() as u64
            }
            None => {
                let len = doc.length(list);
                doc.list_range(list, len.saturating_sub(n)..)
                    .filter(|i| authored(&i.id))
                    .count() as u64
            }
        }
    }

    /// Counting the invitations this change makes, the author holds at most its role's
    /// `invites` unused invitations it made (an invitation's maker is its map's creator).
    fn within_invites(&self, budget: &RoleBudget, roles: &str) -> Result<(), Rejection> {
        let (Some(limit), false) = (budget.invites, self.spending.invites.is_empty()) else {
            return Ok(());
        };
        let held = self.roots.get(&schema::INVITES).map_or(0, |invites| {
            self.at
                .keys(invites)
                .iter()
                .filter(|k| !self.spending.invites.contains(k))
                .filter_map(|k| self.at.child(invites, k))
                .filter(|i| matches!(i, ObjId::Id(_, a, _) if same_author(a, &self.actor)))
                .filter(|i| {
                    !matches!(
                        self.at.scalar(i, doc::USED),
                        Some(automerge::ScalarValue::Boolean(true))
                    )
                })
                .count() as u64
        });
        let holds = held + self.spending.invites.len() as u64;
        if holds > limit {
            return deny(format!(
                "{}; it would hold {holds} unused invitations, and {roles} may hold {limit}: \
                 wait until invitees join, or withdraw an unused invitation",
                self.who
            ));
        }
        Ok(())
    }
}
