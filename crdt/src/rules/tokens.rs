//! The rules of tokens (schema version 9; docs/governance.md "Tokens", docs/rules.md §5):
//! a request's `reward` is written with the request and never changed, is covered by the
//! requester's balance at the request's dependencies, covers the price of the provider it
//! names, and never rides on a chain step; `meta.tokens` holds a policy [`parse_policy`]
//! reads.

use automerge::ScalarValue;

use super::{deny, Judge};
use crate::abilities::AUTO;
use crate::tokens::{covers, parse_policy, Ledger};
use crate::{schema, Rejection};

impl Judge<'_> {
    /// The reward of the request this change makes, if any: from schema version 9, at least
    /// 1 token, not on a chain step, within the author's balance at the change's
    /// dependencies (the fold of [`Ledger`]), and covering the price of a named `target`'s
    /// declaration of `ability` (an `auto` request asks only providers it covers,
    /// [`crate::abilities`]).
    pub(super) fn check_reward(
        &self,
        reward: Option<u64>,
        target: &str,
        ability: &str,
        chain_step: bool,
    ) -> Result<(), Rejection> {
        if self.at.version < schema::SOCIAL {
            return Ok(());
        }
        if let Some(n) = reward {
            if n == 0 {
                return deny("a request's reward is 1 token or more".into());
            }
            if chain_step {
                return deny("a step of a chain carries no reward".into());
            }
            let balance = Ledger::of(self.at.view).balance(&self.author);
            if n > balance {
                return deny(format!(
                    "{}; its reward of {n} tokens is over its balance of {balance} at this \
                     change's dependencies",
                    self.who
                ));
            }
        }
        if target != AUTO {
            let price = self
                .abilities()
                .declaration(target, ability)
                .and_then(|d| d.spec.price);
            if !covers(reward, price) {
                return deny(format!(
                    "{target} asks a price of {} tokens for {ability}: the request's reward \
                     must cover it",
                    price.unwrap_or(0)
                ));
            }
        }
        Ok(())
    }

    /// `meta.tokens` (schema version 9): the token policy, as [`parse_policy`] reads it.
    pub(super) fn check_token_policy(&self, value: &ScalarValue) -> Result<(), Rejection> {
        match value {
            ScalarValue::Str(j) if self.at.version >= schema::SOCIAL => {
                parse_policy(j).map(drop).map_err(Rejection::Unauthorized)
            }
            _ => deny(format!(
                "meta.tokens is a JSON string, from schema version {}",
                schema::SOCIAL
            )),
        }
    }
}
