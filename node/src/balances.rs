//! Contribution tokens through the node (docs/governance.md "Tokens"): the use case that reads
//! a space's balances and one timite's ledger, folded from the space's document as the caller
//! reads it (a private space is unknown to a non-member, as every read). Spending is a
//! request's `reward` ([`Service::request_ability`]); nothing here writes.

use tim_crdt::tokens::{Ledger, LedgerLine, TokenPolicy};
use tim_protocol::api::{
    LedgerLineView, TokenBalance, TokenBalances, TokenPolicyView, TokensQuery,
};
use tim_protocol::{ChangeHash, SpaceId};

use crate::abilities::AbilityAct;
use crate::service::{Caller, Service, ServiceResult};

impl Service {
    /// The space's token balances now, and with `query.did` that timite's ledger lines.
    pub async fn token_balances(
        &self,
        caller: &Caller,
        space: SpaceId,
        query: TokensQuery,
    ) -> ServiceResult<TokenBalances> {
        Ok(self
            .node()
            .acting_as(caller.timite)
            .read_space(space, move |s| balances_view(&s.ledger(), query))
            .await?)
    }

    /// Sets the space's token policy (`meta.tokens`) as the caller: an admin or the owner, in
    /// a space at schema version 9. Every balance is folded again with it.
    pub async fn set_token_policy(
        &self,
        caller: &Caller,
        space: SpaceId,
        policy: TokenPolicyView,
    ) -> ServiceResult<ChangeHash> {
        let policy = TokenPolicy {
            join_grant: policy.join_grant,
            outcome_mint: policy.outcome_mint,
            pair_cap: policy.pair_cap,
        };
        self.ability_step(caller, space, AbilityAct::SetTokenPolicy(policy))
            .await
    }
}

/// The API's view of `ledger`.
fn balances_view(ledger: &Ledger, query: TokensQuery) -> TokenBalances {
    let p = ledger.policy;
    TokenBalances {
        policy: TokenPolicyView {
            join_grant: p.join_grant,
            outcome_mint: p.outcome_mint,
            pair_cap: p.pair_cap,
        },
        balances: ledger
            .balances()
            .into_iter()
            .map(|(did, balance)| TokenBalance { did, balance })
            .collect(),
        ledger: query
            .did
            .map(|d| ledger.lines_of(&d).iter().map(line_view).collect()),
    }
}

fn line_view(l: &LedgerLine) -> LedgerLineView {
    LedgerLineView {
        kind: l.kind.as_str().to_string(),
        amount: l.amount,
        request: l.request.clone(),
        counterpart: l.counterpart,
        balance: l.balance,
    }
}
