//! Reputation v2 (schema version [`crate::schema::REPUTATION_V2`], docs/reputation.md): a
//! member's standing decided from the space's own signed history, so every node computes the
//! same figure at the same heads (no clock, no local state, integer arithmetic only).
//!
//! `score = max(0, ⌊(C + R + A) / 1000⌋)`, each part in milli-points:
//! - **Standing** `t(m)`, per mille: the space's creator, owner and admins hold 1000 (the
//!   seeds); trust flows along ratings of 4 and 5 for [`TRUST_HOPS`] rounds, each round
//!   computed from the previous one only (`t'(m) = min(1000, Σ t(r) × (rating − 3) / 4)`), so
//!   there is no fixpoint to disagree on. Banned members hold none. A group rating each other
//!   cannot raise its own standing: it starts at 0 and 0 × anything is 0.
//! - **Contributions** `C`: the member's messages in timeline order, a run of consecutive
//!   messages by the same author worth `1 + ⌊log2(run)⌋` *turns* (the causal period is a turn:
//!   it ends when another member speaks); `C_full = 2000 × √turns`. Without standing only
//!   [`NEWCOMER_CAP`] of it counts; the rest counts in proportion to standing.
//! - **Ratings** `R`: `Σ t(rater) × 5 × (rating − 3)` over the live peer ratings from members,
//!   one per rater pair (the key `"<rater> <ratee>"`), so each pair moves the score by at most
//!   10 points.
//! - **Abilities** `A`: per ability, the requesters' ratings of the member's outcomes,
//!   `2000 × (score − 3)` each, summed per requester and capped at ±[`PAIR_CAP`], weighted by
//!   the requester's standing, and the ability's total capped at ±[`ABILITY_CAP`].

use std::collections::{HashMap, HashSet};

use automerge::{ReadDoc, ScalarValue, Value};
use tim_protocol::Did;

use crate::abilities::Abilities;
use crate::doc::{self, View};
use crate::notices::Notices;
use crate::rules::Role;
use crate::space::Reputation;
use crate::{schema, Space};

/// Full standing, per mille.
pub const FULL_STANDING: i64 = 1000;
/// How many rounds trust travels from the seeds along ratings of 4 and 5.
pub const TRUST_HOPS: usize = 3;
/// Contribution milli-points a member without standing can reach (4 points, 4 turns).
pub const NEWCOMER_CAP: i64 = 4_000;
/// Most milli-points one requester's ratings of one provider's outcomes in one ability move.
pub const PAIR_CAP: i64 = 10_000;
/// Most milli-points one ability adds or takes away.
pub const ABILITY_CAP: i64 = 20_000;

/// Everything reputation v2 reads from the document, computed once for every member.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    /// Messages per author (the basis's `contributions`, as in v1).
    messages: HashMap<Did, u64>,
    /// Turns per author.
    turns: HashMap<Did, u64>,
    /// Standing per member, per mille (absent: 0).
    standing: HashMap<Did, i64>,
    /// Live peer ratings from members: ratee → (rater, score).
    ratings: HashMap<Did, Vec<(Did, u8)>>,
    /// Ability milli-points per provider, each ability already capped.
    abilities: HashMap<Did, i64>,
    /// Ability milli-points per provider and ability, capped.
    per_ability: HashMap<(Did, String), i64>,
    /// Members with any role but banned.
    active: HashSet<Did>,
}

/// `1 + ⌊log2(run)⌋`: what a run of `run` consecutive messages by one author is worth.
pub(crate) fn run_turns(run: u64) -> u64 {
    1 + u64::from(run.max(1).ilog2())
}

/// The full contribution milli-points of `turns` turns: `2000 × √turns`.
fn contribution_points(turns: u64) -> i64 {
    i64::try_from((turns.saturating_mul(4_000_000)).isqrt()).unwrap_or(i64::MAX)
}

/// The contribution milli-points that count at `standing` per mille.
fn counted_contribution(turns: u64, standing: i64) -> i64 {
    let full = contribution_points(turns);
    let free = full.min(NEWCOMER_CAP);
    free + (full - free) * standing / FULL_STANDING
}

impl Ledger {
    /// Reads the ledger of `space` now, its messages and turns as its timeline index counts
    /// them ([`crate::timeline_index`]) rather than by a walk of the timeline.
    pub(crate) fn of(space: &Space) -> Self {
        let mut ledger = Self::default();
        for (did, messages, turns) in space.timeline_index().turns_by_did() {
            *ledger.messages.entry(did).or_default() += messages;
            *ledger.turns.entry(did).or_default() += turns;
        }
        Self::weighed(ledger, &space.notices_now())
    }

    /// Reads the ledger at the notices' view: the document at given heads (what the rules
    /// see at a change's dependencies) or now. Members the notices no longer admit count as
    /// banned, as [`Space::role_of`] says.
    pub(crate) fn at(notices: &Notices<'_>) -> Self {
        let mut ledger = Self::default();
        ledger.count_turns(&message_authors(&notices.view));
        Self::weighed(ledger, notices)
    }

    /// The rest of [`Ledger::at`], `ledger`'s messages and turns already counted: standing,
    /// ratings and abilities at the notices' view.
    fn weighed(mut ledger: Self, notices: &Notices<'_>) -> Self {
        let view = notices.view;
        let members = doc::root_obj(view.doc, &schema::MEMBERS, view.heads);
        let roles: HashMap<Did, Role> = members
            .as_ref()
            .map(|m| {
                view.keys(m)
                    .into_iter()
                    .filter_map(|k| {
                        let role = view.role(m, &k)?;
                        let role = match notices.no_longer_admitted(m, &k) {
                            Some(_) => Role::Banned,
                            None => role,
                        };
                        Some((k.parse().ok()?, role))
                    })
                    .collect()
            })
            .unwrap_or_default();
        // Member entries, with a role or not (a rating counts between entries).
        let entries: HashSet<String> = members
            .map(|m| view.keys(&m))
            .unwrap_or_default()
            .into_iter()
            .collect();
        ledger.active = roles
            .iter()
            .filter(|(_, r)| **r != Role::Banned)
            .map(|(d, _)| *d)
            .collect();
        let creator = doc::root_obj(view.doc, &schema::META, view.heads)
            .and_then(|m| view.get_str(&m, doc::CREATED_BY))
            .and_then(|c| c.parse::<Did>().ok());
        let seeds: HashSet<Did> = ledger
            .active
            .iter()
            .filter(|d| {
                creator.as_ref() == Some(*d)
                    || matches!(roles.get(d), Some(Role::Owner | Role::Admin))
            })
            .copied()
            .collect();
        let mut edges = Vec::new();
        for (rater, ratee, score) in all_ratings(&view) {
            if !entries.contains(&rater.to_string()) || !entries.contains(&ratee.to_string()) {
                continue;
            }
            if ledger.active.contains(&rater) && ledger.active.contains(&ratee) && score >= 4 {
                edges.push((rater, ratee, i64::from(score)));
            }
            ledger
                .ratings
                .entry(ratee)
                .or_default()
                .push((rater, score));
        }
        ledger.standing = propagate(&seeds, &edges);
        ledger.per_ability = ledger.ability_points(&Abilities::new(view));
        for ((provider, _), points) in &ledger.per_ability {
            *ledger.abilities.entry(*provider).or_default() += points;
        }
        ledger
    }

    /// Counts messages and turns from the authors in timeline order.
    fn count_turns(&mut self, authors: &[String]) {
        let mut by_text: HashMap<&str, (u64, u64)> = HashMap::new();
        for run in authors.chunk_by(|a, b| a == b) {
            let e = by_text.entry(&run[0]).or_default();
            e.0 += run.len() as u64;
            e.1 += run_turns(run.len() as u64);
        }
        for (author, (messages, turns)) in by_text {
            if let Ok(did) = author.parse::<Did>() {
                *self.messages.entry(did).or_default() += messages;
                *self.turns.entry(did).or_default() += turns;
            }
        }
    }

    /// Rated ability outcomes: per provider and ability, the capped total of its requesters'
    /// capped, standing-weighted ratings.
    fn ability_points(&self, abilities: &Abilities<'_>) -> HashMap<(Did, String), i64> {
        // (provider, ability, requester) → milli-points before the pair cap.
        let mut pairs: HashMap<(String, String, String), i64> = HashMap::new();
        for (requester, provider, ability, score) in abilities.rated_outcomes() {
            if provider == requester || !(1..=5).contains(&score) {
                continue;
            }
            *pairs.entry((provider, ability, requester)).or_default() += 2_000 * (score - 3);
        }
        let mut per_ability: HashMap<(Did, String), i64> = HashMap::new();
        for ((provider, ability, requester), points) in pairs {
            let (Ok(provider), Ok(requester)) = (provider.parse::<Did>(), requester.parse::<Did>())
            else {
                continue;
            };
            let weight = self.standing_of(&requester);
            *per_ability.entry((provider, ability)).or_default() +=
                points.clamp(-PAIR_CAP, PAIR_CAP) * weight / FULL_STANDING;
        }
        for points in per_ability.values_mut() {
            *points = (*points).clamp(-ABILITY_CAP, ABILITY_CAP);
        }
        per_ability
    }

    /// Whether `did` is a member with any role but banned (the notices' verdict included).
    pub(crate) fn is_active(&self, did: &Did) -> bool {
        self.active.contains(did)
    }

    /// `did`'s reputation in `ability`, in points: the capped, standing-weighted milli-points
    /// of its rated outcomes there ([`ABILITY_CAP`]), rounded down (at least 0).
    pub(crate) fn ability_reputation(&self, did: &Did, ability: &str) -> u64 {
        self.per_ability
            .get(&(*did, ability.to_string()))
            .map_or(0, |p| (*p).max(0).unsigned_abs() / 1000)
    }

    /// `did`'s standing, per mille.
    fn standing_of(&self, did: &Did) -> i64 {
        self.standing.get(did).copied().unwrap_or(0)
    }

    /// `did`'s messages, as the v1 formula counts them.
    fn messages_of(&self, did: &Did) -> u64 {
        self.messages.get(did).copied().unwrap_or(0)
    }

    /// `did`'s reputation by the v2 formula.
    pub(crate) fn reputation(&self, did: &Did) -> Reputation {
        let turns = self.turns.get(did).copied().unwrap_or(0);
        let standing = self.standing_of(did);
        let contribution = counted_contribution(turns, standing);
        let received = self.ratings.get(did).map(Vec::as_slice).unwrap_or_default();
        let rating: i64 = received
            .iter()
            .map(|(rater, r)| self.standing_of(rater) * 5 * (i64::from(*r) - 3))
            .sum();
        let ability = self.abilities.get(did).copied().unwrap_or(0);
        let sum: i64 = received.iter().map(|(_, r)| i64::from(*r)).sum();
        let n = received.len() as u64;
        Reputation {
            score: (contribution + rating + ability).max(0) / 1000,
            contributions: self.messages_of(did),
            ratings_received: n,
            average_rating: if n == 0 { 0.0 } else { sum as f64 / n as f64 },
            v2: Some(Basis {
                turns,
                standing: standing.unsigned_abs(),
                contribution_points: contribution,
                rating_points: rating,
                ability_points: ability,
            }),
        }
    }
}

/// Standing from the seeds along `edges` (rater, ratee, rating ≥ 4), in [`TRUST_HOPS`] rounds.
fn propagate(seeds: &HashSet<Did>, edges: &[(Did, Did, i64)]) -> HashMap<Did, i64> {
    let seeded = || -> HashMap<Did, i64> { seeds.iter().map(|d| (*d, FULL_STANDING)).collect() };
    let mut standing = seeded();
    for _ in 0..TRUST_HOPS {
        let mut next = seeded();
        for (rater, ratee, rating) in edges {
            if seeds.contains(ratee) {
                continue;
            }
            if let Some(t) = standing.get(rater) {
                *next.entry(*ratee).or_default() += t * (rating - 3) / 4;
            }
        }
        for t in next.values_mut() {
            *t = (*t).min(FULL_STANDING);
        }
        standing = next;
    }
    standing
}

/// The inputs of a v2 reputation: what a reputation credential's basis states
/// (docs/passports.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Basis {
    /// Turns: runs of the member's messages, each worth `1 + ⌊log2(length)⌋`.
    pub turns: u64,
    /// The member's standing, per mille (1000: a seed).
    pub standing: u64,
    /// Contribution milli-points counted (`C`).
    pub contribution_points: i64,
    /// Peer rating milli-points, weighted by the raters' standing (`R`).
    pub rating_points: i64,
    /// Rated ability outcome milli-points, capped per requester and per ability (`A`).
    pub ability_points: i64,
}

/// How a space tallies reputation: by the formula of its schema version.
#[derive(Debug)]
pub(crate) enum Tally {
    /// Below [`schema::REPUTATION_V2`]: messages per author.
    V1(HashMap<Did, u64>),
    /// From [`schema::REPUTATION_V2`].
    V2(Box<Ledger>),
}

impl Tally {
    /// The tally of `space` now.
    pub(crate) fn of(space: &Space) -> Self {
        if space.schema_version() >= schema::REPUTATION_V2 {
            Self::V2(Box::new(Ledger::of(space)))
        } else {
            Self::V1(space.contributions())
        }
    }

    /// The v2 ledger, from schema version [`schema::REPUTATION_V2`].
    pub(crate) fn ledger(&self) -> Option<&Ledger> {
        match self {
            Self::V1(_) => None,
            Self::V2(ledger) => Some(ledger),
        }
    }

    /// `did`'s reputation.
    pub(crate) fn reputation(&self, space: &Space, did: &Did) -> Reputation {
        match self {
            Self::V1(counts) => space.reputation_v1(did, counts.get(did).copied().unwrap_or(0)),
            Self::V2(ledger) => ledger.reputation(did),
        }
    }
}

/// The authors of the timeline's messages at `view`, in timeline order (only messages with a
/// `text`: an encrypted message counts nowhere).
pub(crate) fn message_authors(view: &View<'_>) -> Vec<String> {
    let Some(timeline) = doc::root_obj(view.doc, &schema::TIMELINE, view.heads) else {
        return vec![];
    };
    view.list(&timeline)
        .iter()
        .filter(|id| {
            // Checked without copying the text.
            matches!(view.get(id, doc::TEXT), Some((Value::Scalar(s), _)) if s.is_str())
        })
        .filter_map(|id| view.get_str(id, doc::AUTHOR))
        .collect()
}

/// Every rating at `view` as (rater, ratee, score).
fn all_ratings(view: &View<'_>) -> Vec<(Did, Did, u8)> {
    let Some(ratings) = doc::root_obj(view.doc, &schema::RATINGS, view.heads) else {
        return vec![];
    };
    view.keys(&ratings)
        .into_iter()
        .filter_map(|k| {
            let (rater, ratee) = k.split_once(' ')?;
            let score = match view.scalar(&ratings, &k)? {
                ScalarValue::Int(i) => u64::try_from(i).ok()?,
                ScalarValue::Uint(u) => u,
                ScalarValue::Timestamp(t) => u64::try_from(t).ok()?,
                _ => return None,
            };
            Some((
                rater.parse().ok()?,
                ratee.parse().ok()?,
                u8::try_from(score).ok().filter(|s| (1..=5).contains(s))?,
            ))
        })
        .collect()
}

impl Space {
    /// `did`'s reputation as the document stood at `heads` (what the rules see at a change
    /// whose dependencies are `heads`): by the v2 formula, `None` if a head is not here or
    /// the space was below [`schema::REPUTATION_V2`] there.
    pub fn reputation_at(
        &self,
        did: &Did,
        heads: &[tim_protocol::ChangeHash],
    ) -> Option<Reputation> {
        let heads: Vec<automerge::ChangeHash> = heads.iter().map(crate::space::am_hash).collect();
        if heads
            .iter()
            .any(|h| self.doc().get_change_by_hash(h).is_none())
        {
            return None;
        }
        let mut notices = self.notices_now();
        notices.view.heads = Some(&heads);
        if doc::schema_version(self.doc(), Some(&heads)) < schema::REPUTATION_V2 {
            return None;
        }
        Some(Ledger::at(&notices).reputation(did))
    }
}
