//! Contribution tokens of a space (docs/governance.md "Tokens"): balances folded from the
//! space's document, the policy that folded them, and one timite's ledger.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::Did;

/// `GET /v1/spaces/{id}/tokens`: whose ledger to show.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TokensQuery {
    /// A timite whose ledger lines to show; absent: balances only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub did: Option<Did>,
}

/// The space's token policy (`meta.tokens`, or the defaults).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct TokenPolicyView {
    /// Tokens a member receives when it first joins.
    pub join_grant: u64,
    /// Tokens minted to a provider for an outcome its requester rates 4 or 5.
    pub outcome_mint: u64,
    /// The most tokens minted for one requester-provider pair.
    pub pair_cap: u64,
}

/// One timite's balance.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct TokenBalance {
    /// The timite.
    pub did: Did,
    /// Its tokens.
    pub balance: u64,
}

/// One line of a timite's ledger: what moved and why.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct LedgerLineView {
    /// `join_grant`, `escrow`, `unfunded` (nothing moved), `reward`, `refund` or `mint`.
    pub kind: String,
    /// Tokens in (`join_grant`, `reward`, `refund`, `mint`) or out (`escrow`); for
    /// `unfunded`, the reward the balance did not cover.
    pub amount: u64,
    /// The request it concerns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    /// The other party: the requester paying a reward or a mint's rater.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counterpart: Option<Did>,
    /// The balance after this line.
    pub balance: u64,
}

/// `GET /v1/spaces/{id}/tokens`: the space's balances (its members', and former members'
/// that hold tokens), and with `?did=` that timite's balance and ledger.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct TokenBalances {
    /// The policy the balances were folded with.
    pub policy: TokenPolicyView,
    /// Every balance, by DID.
    pub balances: Vec<TokenBalance>,
    /// The asked timite's ledger, oldest first (with `?did=`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger: Option<Vec<LedgerLineView>>,
}
