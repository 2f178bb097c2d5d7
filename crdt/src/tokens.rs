//! Contribution tokens (schema version 9, docs/governance.md "Tokens"): balances are not stored,
//! they are a fold over the token *events* the document holds, in the order of the op ids of
//! the writes that make them (Lamport counter, then actor), which every replica computes alike
//! and which extends causal order.
//!
//! The events:
//! - **join grant**: a member's first appearance earns the policy's `join_grant` (once per DID:
//!   at its member entry, or at its first request if that is earlier, so that leaving and
//!   joining again neither grants twice nor undoes what its earlier grant paid for);
//! - **escrow**: a request carrying a `reward` takes it from the requester if its balance
//!   covers it at that point of the fold (the request is *funded*), else nothing moves and the
//!   request is *unfunded*;
//! - **settlement** of a funded request: its completion pays the reward to the winning
//!   claimant (at the op of the accepted result), its failure or cancellation refunds the
//!   requester (at the op of that step);
//! - **mint**: a completed request whose winning outcome its requester rates 4 or 5 mints the
//!   policy's `outcome_mint` to the provider, at most `pair_cap` tokens per (requester,
//!   provider) pair over the space's history.
//!
//! So no balance ever goes below zero, and two concurrent spends of the same balance resolve
//! alike everywhere: the first in op-id order is funded, the other unfunded.
//!
//! ```text
//! meta.tokens: Str(JSON { "join_grant"?: u64, "outcome_mint"?: u64, "pair_cap"?: u64 })
//! requests[i].reward: Uint   (1 or more, written with the request, never changed)
//! ```

use std::collections::{BTreeMap, HashMap};

use automerge::transaction::Transactable;
use automerge::{ActorId, ObjId, ScalarValue};
use serde::Deserialize;
use tim_protocol::Did;

use crate::abilities::{Abilities, Input, Record, RequestState, Target, CANCELLED, RESULT_HASH};
use crate::doc::{self, View};
use crate::{schema, Applied, Space, SpaceError, Writer};

/// The `meta` key holding the space's token policy.
pub const TOKENS: &str = "tokens";
/// The request field holding its reward.
pub const REWARD: &str = "reward";
/// The join grant when the policy does not set one.
pub const DEFAULT_JOIN_GRANT: u64 = 0;
/// The tokens minted for a well-rated outcome when the policy does not set it.
pub const DEFAULT_OUTCOME_MINT: u64 = 1;
/// The most tokens minted for one requester-provider pair when the policy does not set it.
pub const DEFAULT_PAIR_CAP: u64 = 10;
/// The largest value of each field of the policy.
pub const MAX_POLICY_VALUE: u64 = 1_000_000_000;
/// The lowest rating that mints tokens.
pub const MINTING_RATING: i64 = 4;

/// A space's token policy (`meta.tokens`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenPolicy {
    /// Tokens a member receives when it first joins.
    pub join_grant: u64,
    /// Tokens minted to a provider for an outcome its requester rates 4 or 5.
    pub outcome_mint: u64,
    /// The most tokens minted for one requester-provider pair.
    pub pair_cap: u64,
}

impl Default for TokenPolicy {
    fn default() -> Self {
        Self {
            join_grant: DEFAULT_JOIN_GRANT,
            outcome_mint: DEFAULT_OUTCOME_MINT,
            pair_cap: DEFAULT_PAIR_CAP,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyJson {
    join_grant: Option<u64>,
    outcome_mint: Option<u64>,
    pair_cap: Option<u64>,
}

impl TokenPolicy {
    /// The JSON of `meta.tokens`.
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "join_grant": self.join_grant,
            "outcome_mint": self.outcome_mint,
            "pair_cap": self.pair_cap,
        })
        .to_string()
    }
}

/// Parses `meta.tokens`: a JSON object with `join_grant`, `outcome_mint` and `pair_cap`, each
/// optional (absent: the default), an integer from 0 to [`MAX_POLICY_VALUE`]; no other key.
/// The one source of truth for the format, for the rules and the readers.
pub fn parse_policy(json: &str) -> Result<TokenPolicy, String> {
    let p: PolicyJson = serde_json::from_str(json).map_err(|e| {
        format!(
            "meta.tokens is {{\"join_grant\": N, \"outcome_mint\": N, \"pair_cap\": N}} \
             (each optional, 0 to {MAX_POLICY_VALUE}): {e}"
        )
    })?;
    let d = TokenPolicy::default();
    let policy = TokenPolicy {
        join_grant: p.join_grant.unwrap_or(d.join_grant),
        outcome_mint: p.outcome_mint.unwrap_or(d.outcome_mint),
        pair_cap: p.pair_cap.unwrap_or(d.pair_cap),
    };
    if [policy.join_grant, policy.outcome_mint, policy.pair_cap]
        .iter()
        .any(|v| *v > MAX_POLICY_VALUE)
    {
        return Err(format!(
            "meta.tokens: each value is at most {MAX_POLICY_VALUE}"
        ));
    }
    Ok(policy)
}

/// Why tokens moved (or, for an unfunded request, did not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LedgerKind {
    /// The member's join grant (+).
    JoinGrant,
    /// A request's reward held from its requester (−).
    Escrow,
    /// A request whose reward the requester's balance did not cover: nothing moved.
    Unfunded,
    /// A completed request's reward, paid to the winning claimant (+).
    Reward,
    /// A failed or cancelled request's reward, returned to its requester (+).
    Refund,
    /// Minted for an outcome its requester rated 4 or 5 (+).
    Mint,
}

impl LedgerKind {
    /// The name in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::JoinGrant => "join_grant",
            Self::Escrow => "escrow",
            Self::Unfunded => "unfunded",
            Self::Reward => "reward",
            Self::Refund => "refund",
            Self::Mint => "mint",
        }
    }
}

/// One line of a timite's ledger: what moved, why, and its balance after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerLine {
    /// Whose balance.
    pub did: Did,
    /// Why.
    pub kind: LedgerKind,
    /// How many tokens (for [`LedgerKind::Unfunded`], the reward that was not covered).
    pub amount: u64,
    /// The request it concerns (none for a join grant).
    pub request: Option<String>,
    /// The other party: the provider of a request's reward or mint, the requester paying it.
    pub counterpart: Option<Did>,
    /// The balance after this line.
    pub balance: u64,
}

/// Every balance and ledger line of a space at some heads: the result of the fold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ledger {
    /// The policy the fold applied.
    pub policy: TokenPolicy,
    balances: BTreeMap<String, u64>,
    lines: Vec<LedgerLine>,
    funded: HashMap<String, bool>,
}

/// Where an event sits in the fold: the op id of its write (counter, actor), then which kind
/// of event comes first at one op (a join grant placed at a request precedes its escrow).
type Pos = (u64, ActorId, u8);

fn pos(obj: &ObjId, rank: u8) -> Option<Pos> {
    match obj {
        ObjId::Id(counter, actor, _) => Some((*counter, actor.clone(), rank)),
        ObjId::Root => None,
    }
}

enum Event {
    Join(String),
    Escrow {
        id: String,
        requester: String,
        reward: u64,
    },
    Settle {
        id: String,
        requester: String,
        reward: u64,
        to: String,
        kind: LedgerKind,
    },
    Mint {
        id: String,
        requester: String,
        provider: String,
    },
}

impl Ledger {
    /// Folds the token events of the document at `view` (empty below schema version 9).
    pub(crate) fn of(view: View<'_>) -> Self {
        if doc::schema_version(view.doc, view.heads) < schema::SOCIAL {
            return Self::default();
        }
        let policy = policy_at(&view);
        let mut events: Vec<(Pos, Event)> = Vec::new();
        let mut first_seen: BTreeMap<String, Pos> = BTreeMap::new();
        let mut seen = |did: &str, p: Pos| {
            let e = first_seen
                .entry(did.to_string())
                .or_insert_with(|| p.clone());
            if p < *e {
                *e = p;
            }
        };
        if let Some(members) = doc::root_obj(view.doc, &schema::MEMBERS, view.heads) {
            for did in view.keys(&members) {
                if let Some(p) = view.child(&members, &did).and_then(|e| pos(&e, 0)) {
                    seen(&did, p);
                }
            }
        }
        for obj in Abilities::new(view).request_maps() {
            let Some(r) = Record::read(&view, &obj) else {
                continue;
            };
            let Some(at) = pos(&obj, 1) else { continue };
            let id = obj.to_string();
            if let Some(reward) = r.reward.filter(|n| *n > 0) {
                seen(&r.requester, (at.0, at.1.clone(), 0));
                events.push((
                    at,
                    Event::Escrow {
                        id: id.clone(),
                        requester: r.requester.clone(),
                        reward,
                    },
                ));
                if let Some((p, to, kind)) = settlement(&view, &obj, &r) {
                    events.push((
                        p,
                        Event::Settle {
                            id: id.clone(),
                            requester: r.requester.clone(),
                            reward,
                            to,
                            kind,
                        },
                    ));
                }
            }
            if let Some((p, provider)) = minting_rating(&view, &obj, &r) {
                events.push((
                    p,
                    Event::Mint {
                        id,
                        requester: r.requester.clone(),
                        provider,
                    },
                ));
            }
        }
        events.extend(first_seen.into_iter().map(|(did, p)| (p, Event::Join(did))));
        events.sort_by(|(a, _), (b, _)| a.cmp(b));
        let mut ledger = Self {
            policy,
            ..Self::default()
        };
        if let Some(members) = doc::root_obj(view.doc, &schema::MEMBERS, view.heads) {
            for did in view.keys(&members) {
                ledger.balances.insert(did, 0);
            }
        }
        let mut minted: HashMap<(String, String), u64> = HashMap::new();
        for (_, e) in events {
            match e {
                Event::Join(did) => {
                    ledger.post(&did, LedgerKind::JoinGrant, policy.join_grant, None, None);
                }
                Event::Escrow {
                    id,
                    requester,
                    reward,
                } => {
                    let funded = ledger.balance_of(&requester) >= reward;
                    ledger.funded.insert(id.clone(), funded);
                    let kind = if funded {
                        LedgerKind::Escrow
                    } else {
                        LedgerKind::Unfunded
                    };
                    ledger.post(&requester, kind, reward, Some(id), None);
                }
                Event::Settle {
                    id,
                    requester,
                    reward,
                    to,
                    kind,
                } => {
                    if ledger.funded.get(&id) != Some(&true) {
                        continue;
                    }
                    let counterpart = (kind == LedgerKind::Reward).then_some(requester);
                    ledger.post(&to, kind, reward, Some(id), counterpart.as_deref());
                }
                Event::Mint {
                    id,
                    requester,
                    provider,
                } => {
                    let so_far = minted
                        .entry((requester.clone(), provider.clone()))
                        .or_default();
                    let amount = policy
                        .outcome_mint
                        .min(policy.pair_cap.saturating_sub(*so_far));
                    if amount > 0 {
                        *so_far += amount;
                        ledger.post(
                            &provider,
                            LedgerKind::Mint,
                            amount,
                            Some(id),
                            Some(&requester),
                        );
                    }
                }
            }
        }
        ledger
    }

    /// Adds a line for `did` and moves its balance (an escrow is posted only when covered).
    fn post(
        &mut self,
        did: &str,
        kind: LedgerKind,
        amount: u64,
        request: Option<String>,
        counterpart: Option<&str>,
    ) {
        let balance = self.balances.entry(did.to_string()).or_default();
        match kind {
            LedgerKind::Escrow => *balance -= amount,
            LedgerKind::Unfunded => {}
            _ => *balance = balance.saturating_add(amount),
        }
        let (Ok(did), balance) = (did.parse(), *balance) else {
            return;
        };
        if kind == LedgerKind::JoinGrant && amount == 0 {
            return;
        }
        self.lines.push(LedgerLine {
            did,
            kind,
            amount,
            request,
            counterpart: counterpart.and_then(|c| c.parse().ok()),
            balance,
        });
    }

    fn balance_of(&self, did: &str) -> u64 {
        self.balances.get(did).copied().unwrap_or(0)
    }

    /// `did`'s balance (0 if nothing ever moved for it).
    pub fn balance(&self, did: &Did) -> u64 {
        self.balance_of(&did.to_string())
    }

    /// Every balance: the current members' (0 or more) and those of former members that hold
    /// tokens, by DID.
    pub fn balances(&self) -> Vec<(Did, u64)> {
        self.balances
            .iter()
            .filter_map(|(d, b)| Some((d.parse().ok()?, *b)))
            .collect()
    }

    /// `did`'s ledger lines, in the fold's order.
    pub fn lines_of(&self, did: &Did) -> Vec<LedgerLine> {
        self.lines
            .iter()
            .filter(|l| l.did == *did)
            .cloned()
            .collect()
    }

    /// Whether request `id`'s reward was covered: `None` for a request without a reward.
    pub fn funded(&self, id: &str) -> Option<bool> {
        self.funded.get(id).copied()
    }
}

/// The policy at `view`: `meta.tokens`, or the defaults if absent (the rules refuse a value
/// [`parse_policy`] does not read).
fn policy_at(view: &View<'_>) -> TokenPolicy {
    doc::root_obj(view.doc, &schema::META, view.heads)
        .and_then(|m| view.get_str(&m, TOKENS))
        .and_then(|j| parse_policy(&j).ok())
        .unwrap_or_default()
}

/// The event that settles a request's escrow, if its state is final: the winner's accepted
/// result (pays the winner), its failure or the cancellation (refund the requester); where it
/// sits is the op of that step.
fn settlement(view: &View<'_>, obj: &ObjId, r: &Record) -> Option<(Pos, String, LedgerKind)> {
    let winner = r.winner().map(str::to_string);
    let at = |key: &str| view.get(obj, key).and_then(|(_, id)| pos(&id, 2));
    match r.state() {
        RequestState::Completed => {
            let w = winner?;
            let p = at(&format!("result {w}")).or_else(|| at(&format!("{RESULT_HASH} {w}")))?;
            Some((p, w, LedgerKind::Reward))
        }
        RequestState::Failed => Some((
            at(&format!("failure {}", winner?))?,
            r.requester.clone(),
            LedgerKind::Refund,
        )),
        RequestState::Cancelled => Some((at(CANCELLED)?, r.requester.clone(), LedgerKind::Refund)),
        RequestState::Open | RequestState::Claimed => None,
    }
}

/// The rating that mints for a completed request: its requester's rating, 4 or 5, of the
/// winning claimant (never the requester itself); where it sits is the rating's op.
fn minting_rating(view: &View<'_>, obj: &ObjId, r: &Record) -> Option<(Pos, String)> {
    if r.state() != RequestState::Completed {
        return None;
    }
    let w = r.winner()?;
    if w == r.requester || r.ratings.get(w).is_none_or(|s| *s < MINTING_RATING) {
        return None;
    }
    let (_, id) = view.get(obj, &format!("rating {w}"))?;
    Some((pos(&id, 3)?, w.to_string()))
}

/// The reward field of a request map, if it holds one the rules accept.
pub(crate) fn reward_of(view: &View<'_>, obj: &ObjId) -> Option<u64> {
    match view.scalar(obj, REWARD)? {
        ScalarValue::Uint(n) => Some(n),
        _ => None,
    }
}

impl Space {
    /// The space's token balances and ledger now (docs/governance.md "Tokens").
    pub fn ledger(&self) -> Ledger {
        Ledger::of(View {
            doc: self.doc(),
            heads: None,
        })
    }

    /// The token policy now: `meta.tokens`, or the defaults.
    pub fn token_policy(&self) -> TokenPolicy {
        policy_at(&View {
            doc: self.doc(),
            heads: None,
        })
    }

    /// Sets the token policy `meta.tokens` as `who` (a timite with the `meta` permission;
    /// schema version 9). Balances are folded again with it, from the start.
    pub fn set_token_policy(
        &mut self,
        who: &Writer,
        policy: &TokenPolicy,
        at_ms: u64,
    ) -> Result<Applied, SpaceError> {
        self.social_version("a token policy")?;
        let meta = doc::root_obj(self.doc(), &schema::META, None)
            .ok_or(SpaceError::NotReady(self.id()))?;
        self.local_write(who, at_ms, |tx| {
            tx.put(&meta, TOKENS, policy.to_json())?;
            Ok(())
        })
        .map(|(a, ())| a)
    }

    /// Refuses `what` below schema version 9.
    fn social_version(&self, what: &str) -> Result<(), SpaceError> {
        let version = self.schema_version();
        if version < schema::SOCIAL {
            return Err(SpaceError::Invalid(format!(
                "this space is at schema version {version}; {what} needs version {} (migrate \
                 it)",
                schema::SOCIAL
            )));
        }
        Ok(())
    }
}

/// Whether a request's `reward` (none: 0) covers a provider's `price` (none: free).
pub(crate) fn covers(reward: Option<u64>, price: Option<u64>) -> bool {
    reward.unwrap_or(0) >= price.unwrap_or(0)
}

/// What an empty `auto` order leaves out at schema `version`: from 9, providers whose price
/// the request's reward does not cover.
pub(crate) fn price_note(version: u64) -> &'static str {
    if version >= schema::SOCIAL {
        " at a price its reward covers"
    } else {
        ""
    }
}

impl Space {
    /// [`Space::request_with`], carrying `reward` tokens (schema version 9): held from `who`'s
    /// balance, which must cover it at the request's dependencies, paid to the winning
    /// claimant on completion and returned on failure or cancellation. With [`Target::Auto`]
    /// it is a bounty: whichever candidate's result completes it receives the reward; only
    /// providers whose price it covers are asked.
    #[allow(clippy::too_many_arguments)]
    pub fn request_rewarded(
        &mut self,
        who: &Writer,
        ability: &str,
        input: Input<'_>,
        target: Target,
        reward: u64,
        timeout_ms: u64,
        at_ms: u64,
    ) -> Result<(Applied, String), SpaceError> {
        self.social_version("a reward")?;
        self.write_request(
            who,
            ability,
            input,
            target,
            timeout_ms,
            at_ms,
            vec![(REWARD, ScalarValue::Uint(reward))],
        )
    }
}
