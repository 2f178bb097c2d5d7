//! Abilities and requests in the space document (schema version 4, docs/abilities.md): what a
//! timite declares it can do, requests that someone do it, their claims and outcomes, and the
//! pure functions of the document every node computes alike (a request's state, a provider's
//! ability reputation, search ranking, the `auto` order).
//!
//! ```text
//! abilities: Map { "<provider DID> <name>": Map { description: Str, input_schema: Str(JSON),
//!                  output_schema: Str(JSON), credential?: Str, price?: Uint, at: Timestamp } }
//! requests: List [ Map { author: Str(DID), ability: Str, input: Str(JSON),
//!                  target: Str(DID | "auto"), candidates: Str(JSON list of DIDs),
//!                  at: Timestamp, deadline: Timestamp,
//!                  "claim <DID>": Timestamp, "progress <DID>": Str, "result <DID>": Str(JSON),
//!                  "failure <DID>": Str, "rating <DID>": Int(1..=5), cancelled: Timestamp } ]
//! ```
//! From schema version 6 a request may hold `input_hash: Str, input_size: Uint` instead of
//! `input`, and a result `"result_hash <DID>": Str, "result_size <DID>": Uint` instead of
//! `"result <DID>"`: payloads held out of band ([`PayloadRef`], docs/abilities.md §14).
//!
//! A request's state is not stored: it is [`Record::state`], computed from its keys, so two
//! concurrent claims, or a result concurrent with a cancellation, resolve the same way on
//! every replica (docs/abilities.md §4).

use std::collections::HashMap;

use automerge::transaction::Transactable;
use automerge::{ObjId, ObjType, ReadDoc, ScalarValue};
use serde_json::Value;
use tim_protocol::api::RequestStateName;
use tim_protocol::payload::{PayloadHash, MAX_PAYLOAD_BYTES};
use tim_protocol::Did;

use crate::admission::AdmissionVerifier;
use crate::attestation::{Attestation, Attesting, Claimed, ATTESTATION};
use crate::doc::{self, View};
use crate::notices::NoticeCache;
use crate::space::millis;
use crate::tokens::{self, Ledger};
use crate::{json_schema, schema, Applied, Role, Space, SpaceError, Writer};

pub mod chains;

/// Longest ability name, in bytes.
pub const MAX_NAME_BYTES: usize = 64;
/// Longest description, in bytes.
pub const MAX_DESCRIPTION_BYTES: usize = 1024;
/// Most abilities one provider declares in one space.
pub const MAX_DECLARATIONS: usize = 32;
/// Most providers an `auto` request asks, in turn.
pub const MAX_CANDIDATES: usize = 8;
/// How long each `auto` candidate's turn lasts before the next one may claim, in ms.
pub const AUTO_TURN_MS: u64 = 10_000;
/// Longest time a request stays open, in ms (30 days).
pub const MAX_TIMEOUT_MS: u64 = 30 * 24 * 3600 * 1000;
/// The `target` of a request whose provider the space chooses.
pub const AUTO: &str = "auto";

pub(crate) const DESCRIPTION: &str = "description";
pub(crate) const INPUT_SCHEMA: &str = "input_schema";
pub(crate) const OUTPUT_SCHEMA: &str = "output_schema";
pub(crate) const CREDENTIAL: &str = "credential";
pub(crate) const PRICE: &str = "price";
pub(crate) const ABILITY: &str = "ability";
pub(crate) const INPUT: &str = "input";
pub(crate) const TARGET: &str = "target";
pub(crate) const CANDIDATES: &str = "candidates";
pub(crate) const DEADLINE: &str = "deadline";
pub(crate) const CANCELLED: &str = "cancelled";
pub(crate) const INPUT_HASH: &str = "input_hash";
pub(crate) const INPUT_SIZE: &str = "input_size";
/// The kind of the step key naming an out-of-band result's hash (`"result_hash <did>"`).
pub(crate) const RESULT_HASH: &str = "result_hash";
/// The kind of the step key naming an out-of-band result's size (`"result_size <did>"`).
pub(crate) const RESULT_SIZE: &str = "result_size";

/// A payload held out of band (docs/abilities.md §14): the document names it by the SHA-256
/// hash and the size of its bytes (JSON text, UTF-8); the bytes travel between nodes on the
/// payload protocol and only the two endpoints validate them against their schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayloadRef {
    /// The hash of its bytes.
    pub hash: PayloadHash,
    /// Its size in bytes, 1 to [`MAX_PAYLOAD_BYTES`].
    pub size: u64,
}

impl PayloadRef {
    /// The reference of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self {
            hash: PayloadHash::of(bytes),
            size: bytes.len() as u64,
        }
    }

    /// Reads a hash field's text and a size field's value as the rules accept them: the one
    /// text form of a hash, a size from 1 to [`MAX_PAYLOAD_BYTES`].
    pub(crate) fn parse(hash: &str, size: u64) -> Result<Self, String> {
        let hash = hash.parse()?;
        if !(1..=MAX_PAYLOAD_BYTES).contains(&size) {
            return Err(format!(
                "an out-of-band payload is 1 to {MAX_PAYLOAD_BYTES} bytes, not {size}"
            ));
        }
        Ok(Self { hash, size })
    }
}

/// A request's input as the requester gives it: inline JSON, or out of band.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// JSON in the document (`input`), within the document's string bound.
    Inline(&'a Value),
    /// A payload held out of band (`input_hash`, `input_size`), from schema version 6.
    OutOfBand(PayloadRef),
}

/// Checks an ability name: 3 to [`MAX_NAME_BYTES`] bytes, dot-separated segments of lowercase
/// ASCII letters, digits, `-` and `_`, each starting with a letter, at least two segments
/// (`text.summarize`): the first is the namespace.
pub fn check_name(name: &str) -> Result<(), String> {
    let segment_ok = |s: &str| {
        s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    };
    if name.len() <= MAX_NAME_BYTES && name.contains('.') && name.split('.').all(segment_ok) {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not an ability name: namespaced, like `text.summarize` (lowercase \
             letters, digits, - and _, segments starting with a letter, at most \
             {MAX_NAME_BYTES} bytes)"
        ))
    }
}

/// What a provider declares: an MCP tool definition (`name`, `description`, `inputSchema`,
/// `outputSchema`) plus an optional attesting credential and price.
#[derive(Debug, Clone, PartialEq)]
pub struct AbilitySpec {
    /// Namespaced name ([`check_name`]).
    pub name: String,
    /// What it does, 1 to [`MAX_DESCRIPTION_BYTES`] bytes.
    pub description: String,
    /// JSON Schema of the input ([`json_schema::SUBSET`]).
    pub input_schema: Value,
    /// JSON Schema of the output.
    pub output_schema: Value,
    /// The id of an ability credential that attests it.
    pub credential: Option<String>,
    /// Its price, in tokens.
    pub price: Option<u64>,
}

/// A declaration in the space.
#[derive(Debug, Clone, PartialEq)]
pub struct Declaration {
    /// Who declared it.
    pub provider: Did,
    /// What it declares.
    pub spec: AbilitySpec,
    /// When, ms since the Unix epoch.
    pub at: u64,
    /// The attesting credential it carries, JSON or JWT (schema version 6,
    /// docs/abilities.md §13).
    pub attestation: Option<String>,
}

/// Who a request asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// One provider.
    Did(Did),
    /// The providers the space ranks first, in turn ([`Space::auto_candidates`]).
    Auto,
}

/// Where a request is: computed from the document, the same on every replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RequestState {
    /// Nobody claimed it yet.
    Open,
    /// A provider claimed it (the winning claim).
    Claimed,
    /// The winning claimant posted a result.
    Completed,
    /// The winning claimant posted a failure.
    Failed,
    /// The requester cancelled it before any outcome.
    Cancelled,
}

impl RequestState {
    /// The name in the API ([`RequestStateName`]).
    pub fn as_str(self) -> &'static str {
        RequestStateName::from(self).as_str()
    }

    /// No step but a rating follows.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }
}

impl From<RequestState> for RequestStateName {
    fn from(state: RequestState) -> Self {
        match state {
            RequestState::Open => Self::Open,
            RequestState::Claimed => Self::Claimed,
            RequestState::Completed => Self::Completed,
            RequestState::Failed => Self::Failed,
            RequestState::Cancelled => Self::Cancelled,
        }
    }
}

/// A step of a request, as a change's effect reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A claim.
    Claim,
    /// A progress note.
    Progress,
    /// A result.
    Result,
    /// A failure.
    Failure,
    /// The requester cancelled.
    Cancel,
    /// The requester rated the outcome.
    Rate,
}

impl Step {
    /// The step a request key names, and the DID it is keyed by (claims and outcomes).
    pub(crate) fn of_key(key: &str) -> Option<(Self, Option<&str>)> {
        if let Some((kind, did)) = key.split_once(' ') {
            let step = match kind {
                "claim" => Self::Claim,
                "progress" => Self::Progress,
                "result" => Self::Result,
                "failure" => Self::Failure,
                "rating" => Self::Rate,
                _ => return None,
            };
            return Some((step, Some(did)));
        }
        (key == CANCELLED).then_some((Self::Cancel, None))
    }

    fn key(self, did: &Did) -> String {
        let kind = match self {
            Self::Claim => "claim",
            Self::Progress => "progress",
            Self::Result => "result",
            Self::Failure => "failure",
            Self::Rate => "rating",
            Self::Cancel => return CANCELLED.to_string(),
        };
        format!("{kind} {did}")
    }
}

/// A request as the document holds it, at some heads: what the rules judge and readers show.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub(crate) requester: String,
    pub(crate) ability: String,
    /// The inline input; `None` if it is held out of band.
    pub(crate) input: Option<String>,
    /// The out-of-band input.
    pub(crate) input_ref: Option<PayloadRef>,
    pub(crate) target: String,
    pub(crate) candidates: Vec<String>,
    pub(crate) at: i64,
    pub(crate) deadline: i64,
    /// Claimants and the time each claimed.
    pub(crate) claims: Vec<(String, i64)>,
    progress: HashMap<String, String>,
    results: HashMap<String, String>,
    failures: HashMap<String, String>,
    /// Out-of-band results, by claimant.
    result_refs: HashMap<String, PayloadRef>,
    pub(crate) cancelled: bool,
    /// The requester's ratings, by the claimant whose outcome each rates.
    pub(crate) ratings: HashMap<String, i64>,
    /// The chain it is a step of, and the step (schema version 6).
    link: Option<(String, usize)>,
    /// Its reward in tokens (schema version 9, [`crate::tokens`]).
    pub(crate) reward: Option<u64>,
}

fn millis_of(s: Option<ScalarValue>) -> Option<i64> {
    match s? {
        ScalarValue::Timestamp(t) | ScalarValue::Int(t) => Some(t),
        ScalarValue::Uint(u) => i64::try_from(u).ok(),
        _ => None,
    }
}

impl Record {
    /// Reads the request map `obj`; `None` if it lacks a field every request has.
    pub(crate) fn read(view: &View<'_>, obj: &ObjId) -> Option<Self> {
        let mut r = Self {
            requester: view.get_str(obj, doc::AUTHOR)?,
            ability: view.get_str(obj, ABILITY)?,
            input: view.get_str(obj, INPUT),
            input_ref: Self::payload_ref(view, obj, INPUT_HASH, INPUT_SIZE),
            target: view.get_str(obj, TARGET)?,
            candidates: serde_json::from_str(&view.get_str(obj, CANDIDATES)?).ok()?,
            at: millis_of(view.scalar(obj, doc::AT))?,
            deadline: millis_of(view.scalar(obj, DEADLINE))?,
            claims: Vec::new(),
            progress: HashMap::new(),
            results: HashMap::new(),
            failures: HashMap::new(),
            result_refs: HashMap::new(),
            cancelled: false,
            ratings: HashMap::new(),
            link: chains::link_of(view, obj),
            reward: tokens::reward_of(view, obj),
        };
        if r.input.is_none() && r.input_ref.is_none() {
            return None;
        }
        for key in view.keys(obj) {
            if let Some((RESULT_HASH, did)) = key.split_once(' ') {
                let size_key = format!("{RESULT_SIZE} {did}");
                if let Some(p) = Self::payload_ref(view, obj, &key, &size_key) {
                    r.result_refs.insert(did.to_string(), p);
                }
            }
            match Step::of_key(&key) {
                Some((Step::Claim, Some(did))) => {
                    let at = millis_of(view.scalar(obj, &key)).unwrap_or(0);
                    r.claims.push((did.to_string(), at));
                }
                Some((step @ (Step::Progress | Step::Result | Step::Failure), Some(did))) => {
                    let text = view.get_str(obj, &key).unwrap_or_default();
                    let into = match step {
                        Step::Progress => &mut r.progress,
                        Step::Result => &mut r.results,
                        _ => &mut r.failures,
                    };
                    into.insert(did.to_string(), text);
                }
                Some((Step::Cancel, _)) => r.cancelled = true,
                Some((Step::Rate, Some(did))) => {
                    if let Some(score) = millis_of(view.scalar(obj, &key)) {
                        r.ratings.insert(did.to_string(), score);
                    }
                }
                _ => {}
            }
        }
        Some(r)
    }

    /// The payload named by the hash field `hash` and the size field `size` of `obj`, if both
    /// hold values the rules accept.
    fn payload_ref(view: &View<'_>, obj: &ObjId, hash: &str, size: &str) -> Option<PayloadRef> {
        let size = match view.scalar(obj, size)? {
            ScalarValue::Uint(u) => u,
            _ => return None,
        };
        PayloadRef::parse(&view.get_str(obj, hash)?, size).ok()
    }

    /// A claimant's place in the order providers are asked: its index among the candidates.
    pub(crate) fn turn_of(&self, did: &str) -> Option<usize> {
        self.candidates.iter().position(|c| c == did)
    }

    /// Whether `did` posted a result or a failure.
    fn has_outcome(&self, did: &str) -> bool {
        self.has_result(did) || self.failures.contains_key(did)
    }

    /// Whether `did` posted a result, inline or out of band.
    fn has_result(&self, did: &str) -> bool {
        self.results.contains_key(did) || self.result_refs.contains_key(did)
    }

    /// The winning claim. Claims are pairwise concurrent (a claim that saw another is
    /// refused); among them a claimant with an outcome wins over one without (so an outcome
    /// is superseded only by a concurrent outcome), then the claimant asked first; the DID
    /// breaks a tie (a claimant's own concurrent claims share one key).
    pub(crate) fn winner(&self) -> Option<&str> {
        self.claims.iter().map(|(d, _)| d.as_str()).min_by_key(|d| {
            (
                !self.has_outcome(d),
                self.turn_of(d).unwrap_or(usize::MAX),
                *d,
            )
        })
    }

    /// The state: the winner's outcome (a result before a failure: a claimant's two sessions
    /// may post both concurrently), else cancelled, else claimed or open. An outcome
    /// concurrent with a cancellation stands (docs/abilities.md §4).
    pub(crate) fn state(&self) -> RequestState {
        match self.winner() {
            Some(w) if self.has_result(w) => RequestState::Completed,
            Some(w) if self.failures.contains_key(w) => RequestState::Failed,
            _ if self.cancelled => RequestState::Cancelled,
            Some(_) => RequestState::Claimed,
            None => RequestState::Open,
        }
    }

    /// When the winner claimed, after the request: its response time, in ms.
    fn response_ms(&self) -> Option<u64> {
        let w = self.winner()?;
        let (_, at) = self.claims.iter().find(|(d, _)| d == w)?;
        u64::try_from(at - self.at).ok()
    }
}

/// Declarations, requests and members, read at some heads.
pub(crate) struct Abilities<'a> {
    view: View<'a>,
    members: Option<ObjId>,
    /// What judges attestations from schema version 6 (without it, only `credential` ids
    /// in `issued` attest, as in version 4).
    attesting: Option<Attesting<'a>>,
}

/// A provider's record for one ability, from the requests it won.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AbilityReputation {
    /// Requests it completed.
    pub completed: u64,
    /// Requests it failed.
    pub failed: u64,
    /// Ratings its outcomes received.
    pub ratings: u64,
    /// Their sum.
    pub rating_sum: u64,
    /// Requests it is working on now (claimed, no outcome): its load.
    pub in_flight: u64,
    /// Mean time from request to its claim, ms, over the requests it won.
    pub mean_response_ms: Option<u64>,
    response_sum: u64,
    responses: u64,
}

impl AbilityReputation {
    /// The rated reputation, per mille: the mean rating with a prior of two ratings of 3,
    /// mapped from 1..=5 to 0..=1000 (500 with no rating).
    pub fn rating_score(&self) -> u64 {
        ((self.rating_sum + 6) * 1000 / (self.ratings + 2)).saturating_sub(1000) / 4
    }

    /// The success rate, per mille, with one success and one failure as prior.
    pub fn success_score(&self) -> u64 {
        (self.completed + 1) * 1000 / (self.completed + self.failed + 2)
    }

    /// The speed, per mille: `1000 × 60 s / (60 s + mean response)`, 500 with none.
    pub fn speed_score(&self) -> u64 {
        self.mean_response_ms
            .map_or(500, |ms| 60_000_000 / (60_000 + ms))
    }

    fn add(&mut self, r: &Record) {
        match r.state() {
            RequestState::Completed => self.completed += 1,
            RequestState::Failed => self.failed += 1,
            RequestState::Claimed => self.in_flight += 1,
            _ => return,
        }
        if let Some(ms) = r.response_ms() {
            self.response_sum += ms;
            self.responses += 1;
            self.mean_response_ms = Some(self.response_sum / self.responses);
        }
    }
}

/// One provider found by [`Space::search`].
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    /// The declaration.
    pub declaration: Declaration,
    /// Its credential is recorded as issued by this space, to the provider, for an ability,
    /// and not revoked.
    pub attested: bool,
    /// The provider's record for this ability.
    pub reputation: AbilityReputation,
    /// How well the query matched its name and description, per mille.
    pub text: u64,
    /// The rank score, per mille (docs/abilities.md §6).
    pub score: u64,
}

/// The rank score of a provider for an ability, per mille (docs/abilities.md §6). The
/// network index ranks with it too, with no reputation known (docs/abilities.md §10).
pub fn score(text: u64, attested: bool, rep: &AbilityReputation) -> u64 {
    (400 * text
        + 150 * if attested { 1000 } else { 0 }
        + 200 * rep.rating_score()
        + 150 * rep.success_score()
        + 100 * rep.speed_score())
        / 1000
}

/// How well `query` matches an ability, per mille: the mean over the query's words of 1000
/// (a segment of the name), 600 (inside the name), 300 (inside the description) or 0; an
/// empty query matches everything at 1000.
pub fn text_match(query: &str, name: &str, description: &str) -> u64 {
    let query = query.to_lowercase();
    let words: Vec<&str> = query.split_whitespace().collect();
    if words.is_empty() || query.trim() == name {
        return 1000;
    }
    let description = description.to_lowercase();
    let sum: u64 = words
        .iter()
        .map(|w| {
            if name.split('.').any(|s| s == *w) {
                1000
            } else if name.contains(w) {
                600
            } else if description.contains(w) {
                300
            } else {
                0
            }
        })
        .sum();
    sum / words.len() as u64
}

impl<'a> Abilities<'a> {
    pub(crate) fn new(view: View<'a>) -> Self {
        let members = doc::root_obj(view.doc, &schema::MEMBERS, view.heads);
        Self {
            view,
            members,
            attesting: None,
        }
    }

    /// These abilities, with attestations judged from schema version 6 by `verifier`
    /// (docs/abilities.md §13).
    pub(crate) fn judging(
        mut self,
        space: tim_protocol::SpaceId,
        verifier: Option<&'a dyn AdmissionVerifier>,
        cache: &'a NoticeCache,
    ) -> Self {
        self.attesting = Some(Attesting {
            view: self.view,
            space,
            verifier,
            cache,
        });
        self
    }

    /// How `d`'s attestation stands: from schema version 6 the verdict of
    /// [`Attesting::verdict`], below it whether its `credential` is an unrevoked ability
    /// credential this space issued to the provider (never refused).
    pub(crate) fn attestation(&self, d: &Declaration) -> Attestation {
        match &self.attesting {
            Some(a)
                if doc::schema_version(self.view.doc, self.view.heads) >= schema::ABILITIES_V2 =>
            {
                a.verdict(&Claimed {
                    provider: &d.provider,
                    name: &d.spec.name,
                    credential: d.spec.credential.as_deref(),
                    attestation: d.attestation.as_deref(),
                    at_ms: i64::try_from(d.at).unwrap_or(i64::MAX),
                })
            }
            _ if self.attested(d) => Attestation::Attested,
            _ => Attestation::Unattested,
        }
    }

    /// Whether `did` is a member with any role but banned.
    pub(crate) fn is_active(&self, did: &str) -> bool {
        self.members
            .as_ref()
            .and_then(|m| self.view.role(m, did))
            .is_some_and(|r| r != Role::Banned)
    }

    /// The declaration maps: `(key, map)` over every copy of `abilities` (concurrent
    /// migrations may make two), the shown copy first, each key once.
    fn declaration_maps(&self) -> Vec<(String, ObjId)> {
        let mut out: Vec<(String, ObjId)> = Vec::new();
        for root in doc::root_objs(self.view.doc, &schema::ABILITIES, self.view.heads) {
            for key in self.view.keys(&root) {
                if out.iter().all(|(k, _)| *k != key) {
                    if let Some(obj) = self.view.child(&root, &key) {
                        out.push((key, obj));
                    }
                }
            }
        }
        out
    }

    /// How many abilities `did` declares.
    pub(crate) fn count_of(&self, did: &str) -> usize {
        let prefix = format!("{did} ");
        self.declaration_maps()
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .count()
    }

    fn declaration_at(&self, key: &str, obj: &ObjId) -> Option<Declaration> {
        let (provider, name) = key.split_once(' ')?;
        let json = |k| serde_json::from_str(&self.view.get_str(obj, k)?).ok();
        Some(Declaration {
            provider: provider.parse().ok()?,
            spec: AbilitySpec {
                name: name.to_string(),
                description: self.view.get_str(obj, DESCRIPTION)?,
                input_schema: json(INPUT_SCHEMA)?,
                output_schema: json(OUTPUT_SCHEMA)?,
                credential: self.view.get_str(obj, CREDENTIAL),
                price: match self.view.scalar(obj, PRICE) {
                    Some(ScalarValue::Uint(p)) => Some(p),
                    _ => None,
                },
            },
            at: millis_of(self.view.scalar(obj, doc::AT))
                .and_then(|t| u64::try_from(t).ok())
                .unwrap_or(0),
            attestation: self.view.get_str(obj, ATTESTATION),
        })
    }

    /// Every declaration, by provider and name.
    pub(crate) fn declarations(&self) -> Vec<Declaration> {
        let mut all: Vec<Declaration> = self
            .declaration_maps()
            .iter()
            .filter_map(|(k, o)| self.declaration_at(k, o))
            .collect();
        all.sort_by(|a, b| {
            (&a.spec.name, a.provider.to_string()).cmp(&(&b.spec.name, b.provider.to_string()))
        });
        all
    }

    /// `did`'s declaration of `name`.
    pub(crate) fn declaration(&self, did: &str, name: &str) -> Option<Declaration> {
        let key = format!("{did} {name}");
        self.declaration_maps()
            .iter()
            .find(|(k, _)| *k == key)
            .and_then(|(k, o)| self.declaration_at(k, o))
    }

    /// The request maps, over every copy of `requests`, in order.
    pub(crate) fn request_maps(&self) -> Vec<ObjId> {
        doc::root_objs(self.view.doc, &schema::REQUESTS, self.view.heads)
            .iter()
            .flat_map(|root| self.view.list(root))
            .collect()
    }

    /// Every provider's record, by `(provider, ability)`.
    pub(crate) fn reputations(&self) -> HashMap<(String, String), AbilityReputation> {
        let mut out: HashMap<(String, String), AbilityReputation> = HashMap::new();
        for obj in self.request_maps() {
            let Some(r) = Record::read(&self.view, &obj) else {
                continue;
            };
            if let Some(w) = r.winner() {
                out.entry((w.to_string(), r.ability.clone()))
                    .or_default()
                    .add(&r);
            }
            // A rating counts for the outcome it rated, even one a concurrent outcome
            // superseded later.
            for (did, score) in &r.ratings {
                let rep = out.entry((did.clone(), r.ability.clone())).or_default();
                rep.ratings += 1;
                rep.rating_sum += u64::try_from(*score).unwrap_or(0);
            }
        }
        out
    }

    /// Every rated outcome, as (requester, rated provider, ability, score), over all requests
    /// (reputation v2 weighs each by its requester, [`crate::reputation`]).
    pub(crate) fn rated_outcomes(&self) -> Vec<(String, String, String, i64)> {
        let mut out = Vec::new();
        for obj in self.request_maps() {
            if let Some(r) = Record::read(&self.view, &obj) {
                for (provider, score) in r.ratings {
                    out.push((r.requester.clone(), provider, r.ability.clone(), score));
                }
            }
        }
        out
    }

    /// Whether `d`'s credential is recorded in `issued` as an ability credential to `d`,
    /// and not revoked.
    fn attested(&self, d: &Declaration) -> bool {
        let Some(id) = &d.spec.credential else {
            return false;
        };
        let view = &self.view;
        let Some(record) = doc::root_obj(view.doc, &schema::ISSUED, view.heads)
            .and_then(|issued| view.child(&issued, id))
        else {
            return false;
        };
        let revoked = match view.scalar(&record, doc::STATUS_INDEX) {
            Some(ScalarValue::Uint(i)) => doc::root_obj(view.doc, &schema::STATUS_LIST, view.heads)
                .and_then(|l| view.scalar(&l, &i.to_string()))
                .is_some_and(|v| v == ScalarValue::Boolean(true)),
            _ => true,
        };
        view.get_str(&record, doc::SUBJECT) == Some(d.provider.to_string())
            && view.get_str(&record, doc::KIND).as_deref() == Some(ABILITY)
            && !revoked
    }

    /// The declarations of active members matching `query`, best first (docs/abilities.md
    /// §6): by score, then name, then DID.
    pub(crate) fn search(&self, query: &str) -> Vec<SearchHit> {
        let reps = self.reputations();
        let mut hits: Vec<SearchHit> = self
            .declarations()
            .into_iter()
            .filter(|d| self.is_active(&d.provider.to_string()))
            .filter_map(|d| {
                let attestation = self.attestation(&d);
                if matches!(attestation, Attestation::Refused(_)) {
                    return None;
                }
                let text = text_match(query, &d.spec.name, &d.spec.description);
                if text == 0 {
                    return None;
                }
                let reputation = reps
                    .get(&(d.provider.to_string(), d.spec.name.clone()))
                    .cloned()
                    .unwrap_or_default();
                let attested = attestation == Attestation::Attested;
                Some(SearchHit {
                    score: score(text, attested, &reputation),
                    text,
                    attested,
                    reputation,
                    declaration: d,
                })
            })
            .collect();
        hits.sort_by(|a, b| {
            b.score.cmp(&a.score).then_with(|| {
                let key = |h: &SearchHit| {
                    (
                        h.declaration.spec.name.clone(),
                        h.declaration.provider.to_string(),
                    )
                };
                key(a).cmp(&key(b))
            })
        });
        hits
    }

    /// Who an `auto` request for `ability` with `input`, by `requester`, asks, in turn: the
    /// active providers of `ability` other than the requester whose input schema accepts
    /// `input`, by rank score less 100 a request in flight, then DID; at most
    /// [`MAX_CANDIDATES`] (docs/abilities.md §7).
    pub(crate) fn auto_order(&self, requester: &str, ability: &str, input: &Value) -> Vec<String> {
        self.auto_order_for(requester, ability, Some(input), None)
    }

    /// [`Self::auto_order`] for an input the rules may not read: `None` for one held out of
    /// band, which no provider's input schema excludes (its node checks it before claiming);
    /// from schema version 9, only providers whose price `reward` covers
    /// ([`tokens::covers`]).
    pub(crate) fn auto_order_for(
        &self,
        requester: &str,
        ability: &str,
        input: Option<&Value>,
        reward: Option<u64>,
    ) -> Vec<String> {
        let priced = doc::schema_version(self.view.doc, self.view.heads) >= schema::SOCIAL;
        let reps = self.reputations();
        let mut ranked: Vec<(u64, String)> = self
            .declarations()
            .into_iter()
            .filter(|d| d.spec.name == ability)
            .map(|d| (d.provider.to_string(), d))
            .filter(|(p, d)| {
                p != requester
                    && (!priced || tokens::covers(reward, d.spec.price))
                    && self.is_active(p)
                    && input.is_none_or(|i| json_schema::validate(&d.spec.input_schema, i).is_ok())
            })
            .map(|(p, d)| (p, self.attestation(&d), d))
            .filter(|(_, a, _)| !matches!(a, Attestation::Refused(_)))
            .map(|(p, a, _)| {
                let rep = reps
                    .get(&(p.clone(), ability.to_string()))
                    .cloned()
                    .unwrap_or_default();
                let s = score(1000, a == Attestation::Attested, &rep)
                    .saturating_sub(100 * rep.in_flight);
                (s, p)
            })
            .collect();
        ranked.sort_by(|(sa, pa), (sb, pb)| sb.cmp(sa).then_with(|| pa.cmp(pb)));
        ranked
            .into_iter()
            .take(MAX_CANDIDATES)
            .map(|(_, p)| p)
            .collect()
    }
}

/// A request, as [`Space::requests`] shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestView {
    /// Its id: the Automerge object id of its map, the same on every node.
    pub id: String,
    /// The ability asked for.
    pub ability: String,
    /// Who asked.
    pub requester: Did,
    /// Whom it asked.
    pub target: Target,
    /// Who may claim, in turn.
    pub candidates: Vec<Did>,
    /// The input; `null` if it is held out of band ([`RequestView::input_payload`]).
    pub input: Value,
    /// The input held out of band, if it is.
    pub input_payload: Option<PayloadRef>,
    /// When it was made, ms since the Unix epoch.
    pub at: u64,
    /// No claim or outcome is accepted after this time (by the stamp of its change).
    pub deadline: u64,
    /// Every claimant, the winner among them.
    pub claims: Vec<Did>,
    /// The winning claimant.
    pub claimant: Option<Did>,
    /// The winning claimant's latest progress note.
    pub progress: Option<String>,
    /// The winning claimant's output, if it completed inline.
    pub output: Option<Value>,
    /// The winning claimant's output held out of band, if it completed so (an inline result
    /// of the same claimant, from a concurrent session, is shown instead).
    pub output_payload: Option<PayloadRef>,
    /// The winning claimant's reason, if it failed.
    pub failure: Option<String>,
    /// Results posted by claimants who lost a concurrent claim: never accepted.
    pub superseded: Vec<Did>,
    /// The requester's rating of the winning claimant's outcome.
    pub rating: Option<u8>,
    /// Where it is.
    pub state: RequestState,
    /// The chain it is a step of, and the step, from 0 (docs/abilities.md §12).
    pub chain: Option<(String, usize)>,
    /// Its reward in tokens, held from the requester while it is open (schema version 9).
    pub reward: Option<u64>,
    /// Whether the requester's balance covered the reward ([`crate::tokens`]); `None` without
    /// a reward. An unfunded request pays nothing: claimants skip it.
    pub funded: Option<bool>,
}

impl RequestView {
    /// The view of request `id` read as `r`; `funded` is the ledger's verdict on its reward
    /// (`None` without one).
    pub(crate) fn of(id: String, r: &Record, funded: Option<bool>) -> Option<Self> {
        let dids = |v: &[String]| {
            v.iter()
                .filter_map(|d| d.parse().ok())
                .collect::<Vec<Did>>()
        };
        let winner = r.winner().map(str::to_string);
        let of_winner =
            |m: &HashMap<String, String>| winner.as_ref().and_then(|w| m.get(w)).cloned();
        let mut claims: Vec<String> = r.claims.iter().map(|(d, _)| d.clone()).collect();
        claims.sort();
        let mut superseded: Vec<String> = r
            .results
            .keys()
            .chain(r.result_refs.keys().filter(|d| !r.results.contains_key(*d)))
            .filter(|d| Some(*d) != winner.as_ref())
            .cloned()
            .collect();
        superseded.sort();
        let state = r.state();
        Some(Self {
            id,
            ability: r.ability.clone(),
            requester: r.requester.parse().ok()?,
            target: match r.target.as_str() {
                AUTO => Target::Auto,
                t => Target::Did(t.parse().ok()?),
            },
            candidates: dids(&r.candidates),
            input: match &r.input {
                Some(i) => serde_json::from_str(i).ok()?,
                None => Value::Null,
            },
            input_payload: r.input.is_none().then_some(r.input_ref).flatten(),
            at: u64::try_from(r.at).ok()?,
            deadline: u64::try_from(r.deadline).ok()?,
            claims: dids(&claims),
            claimant: winner.as_ref().and_then(|w| w.parse().ok()),
            progress: of_winner(&r.progress),
            output: match state {
                RequestState::Completed => {
                    of_winner(&r.results).and_then(|o| serde_json::from_str(&o).ok())
                }
                _ => None,
            },
            output_payload: match state {
                RequestState::Completed if of_winner(&r.results).is_none() => {
                    winner.as_ref().and_then(|w| r.result_refs.get(w)).copied()
                }
                _ => None,
            },
            failure: match state {
                RequestState::Failed => of_winner(&r.failures),
                _ => None,
            },
            superseded: dids(&superseded),
            rating: winner
                .as_ref()
                .and_then(|w| r.ratings.get(w))
                .and_then(|s| u8::try_from(*s).ok()),
            state,
            chain: r.link.clone(),
            reward: r.reward,
            funded,
        })
    }
}

impl Space {
    pub(crate) fn abilities_now(&self) -> Abilities<'_> {
        Abilities::new(View {
            doc: self.doc(),
            heads: None,
        })
        .judging(self.id(), self.verifier.as_deref(), &self.notices)
    }

    fn v4_root(&self, c: &schema::Container) -> Result<ObjId, SpaceError> {
        doc::root_obj(self.doc(), c, None).ok_or_else(|| {
            SpaceError::Invalid(format!(
                "this space is at schema version {}; abilities need version {} (migrate it)",
                self.schema_version(),
                c.since
            ))
        })
    }

    /// Declares an ability as `who` (a member), replacing its earlier declaration of the same
    /// name.
    pub fn declare(
        &mut self,
        who: &Writer,
        spec: &AbilitySpec,
        at_ms: u64,
    ) -> Result<Applied, SpaceError> {
        self.declare_attested(who, spec, None, at_ms)
    }

    /// Declares an ability as `who`, carrying `attestation`, the credential that attests it
    /// (JSON or JWT; schema version 6, docs/abilities.md §13).
    pub fn declare_attested(
        &mut self,
        who: &Writer,
        spec: &AbilitySpec,
        attestation: Option<&str>,
        at_ms: u64,
    ) -> Result<Applied, SpaceError> {
        if attestation.is_some() && self.schema_version() < schema::ABILITIES_V2 {
            return Err(SpaceError::Invalid(format!(
                "this space is at schema version {}; a carried attestation needs version {} \
                 (migrate it)",
                self.schema_version(),
                schema::ABILITIES_V2
            )));
        }
        check_name(&spec.name).map_err(SpaceError::Invalid)?;
        for s in [&spec.input_schema, &spec.output_schema] {
            json_schema::check(s).map_err(SpaceError::Invalid)?;
        }
        let abilities = self.v4_root(&schema::ABILITIES)?;
        let key = format!("{} {}", who.did(), spec.name);
        self.local_write(who, at_ms, |tx| {
            let d = tx.put_object(&abilities, key, ObjType::Map)?;
            tx.put(&d, DESCRIPTION, spec.description.as_str())?;
            tx.put(&d, INPUT_SCHEMA, spec.input_schema.to_string())?;
            tx.put(&d, OUTPUT_SCHEMA, spec.output_schema.to_string())?;
            if let Some(c) = &spec.credential {
                tx.put(&d, CREDENTIAL, c.as_str())?;
            }
            if let Some(p) = spec.price {
                tx.put(&d, PRICE, ScalarValue::Uint(p))?;
            }
            if let Some(a) = attestation {
                tx.put(&d, ATTESTATION, a)?;
            }
            tx.put(&d, doc::AT, ScalarValue::Timestamp(millis(at_ms)))?;
            Ok(())
        })
        .map(|(a, ())| a)
    }

    /// Withdraws `who`'s declaration of `name`.
    pub fn withdraw(
        &mut self,
        who: &Writer,
        name: &str,
        at_ms: u64,
    ) -> Result<Applied, SpaceError> {
        let abilities = self.v4_root(&schema::ABILITIES)?;
        let key = format!("{} {name}", who.did());
        if self.doc().get(&abilities, &key)?.is_none() {
            return Err(SpaceError::Invalid(format!(
                "{} does not declare {name}",
                who.did()
            )));
        }
        self.local_write(who, at_ms, |tx| Ok(tx.delete(&abilities, key)?))
            .map(|(a, ())| a)
    }

    /// Every declaration in the space (of members and former members), by name, then
    /// provider.
    pub fn abilities(&self) -> Vec<Declaration> {
        self.abilities_now().declarations()
    }

    /// How `d`'s attestation stands now (docs/abilities.md §13): a declaration refused here
    /// is left out of search and `auto`, and this says why.
    pub fn attestation_of(&self, d: &Declaration) -> Attestation {
        self.abilities_now().attestation(d)
    }

    /// Who an `auto` request of `ability` with `input` by `requester` would ask, in turn.
    pub fn auto_candidates(&self, requester: &Did, ability: &str, input: &Value) -> Vec<Did> {
        self.abilities_now()
            .auto_order(&requester.to_string(), ability, input)
            .iter()
            .filter_map(|d| d.parse().ok())
            .collect()
    }

    /// Asks, as `who`, for `ability` with `input`, of `target`, open for `timeout_ms`.
    /// Returns the change and the request's id.
    pub fn request_ability(
        &mut self,
        who: &Writer,
        ability: &str,
        input: &Value,
        target: Target,
        timeout_ms: u64,
        at_ms: u64,
    ) -> Result<(Applied, String), SpaceError> {
        self.request_with(
            who,
            ability,
            Input::Inline(input),
            target,
            timeout_ms,
            at_ms,
        )
    }

    /// [`Space::request_ability`] with an input given inline or held out of band (from schema
    /// version 6, [`schema::ABILITIES_V2`]; docs/abilities.md §14).
    pub fn request_with(
        &mut self,
        who: &Writer,
        ability: &str,
        input: Input<'_>,
        target: Target,
        timeout_ms: u64,
        at_ms: u64,
    ) -> Result<(Applied, String), SpaceError> {
        self.write_request(who, ability, input, target, timeout_ms, at_ms, Vec::new())
    }

    /// [`Space::request_with`], with `extra` fields written into the request map in the same
    /// change (a chain step's `chain` and `step`, a `reward`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn write_request(
        &mut self,
        who: &Writer,
        ability: &str,
        input: Input<'_>,
        target: Target,
        timeout_ms: u64,
        at_ms: u64,
        extra: Vec<(&'static str, ScalarValue)>,
    ) -> Result<(Applied, String), SpaceError> {
        check_name(ability).map_err(SpaceError::Invalid)?;
        let requests = self.v4_root(&schema::REQUESTS)?;
        let me = who.did();
        let reward = extra.iter().find_map(|(k, v)| match (*k, v) {
            (tokens::REWARD, ScalarValue::Uint(n)) => Some(*n),
            _ => None,
        });
        let inline = match input {
            Input::Inline(v) => Some(v),
            Input::OutOfBand(_) => {
                self.out_of_band_allowed()?;
                None
            }
        };
        let (target, candidates) = match target {
            Target::Did(d) => (d.to_string(), vec![d]),
            Target::Auto => {
                let order =
                    self.abilities_now()
                        .auto_order_for(&me.to_string(), ability, inline, reward);
                (
                    AUTO.to_string(),
                    order.iter().filter_map(|d| d.parse().ok()).collect(),
                )
            }
        };
        if candidates.is_empty() {
            return Err(SpaceError::Invalid(format!(
                "no member of this space provides {ability} for this input{}",
                tokens::price_note(self.schema_version())
            )));
        }
        let candidates =
            serde_json::to_string(&candidates.iter().map(Did::to_string).collect::<Vec<_>>())
                .map_err(|e| SpaceError::Invalid(e.to_string()))?;
        let len = self.doc().length(&requests);
        self.local_write(who, at_ms, |tx| {
            let r = tx.insert_object(&requests, len, ObjType::Map)?;
            tx.put(&r, doc::AUTHOR, me.to_string())?;
            tx.put(&r, ABILITY, ability)?;
            match input {
                Input::Inline(v) => tx.put(&r, INPUT, v.to_string())?,
                Input::OutOfBand(p) => {
                    tx.put(&r, INPUT_HASH, p.hash.to_string())?;
                    tx.put(&r, INPUT_SIZE, ScalarValue::Uint(p.size))?;
                }
            }
            tx.put(&r, TARGET, target)?;
            tx.put(&r, CANDIDATES, candidates)?;
            tx.put(&r, doc::AT, ScalarValue::Timestamp(millis(at_ms)))?;
            tx.put(
                &r,
                DEADLINE,
                ScalarValue::Timestamp(millis(at_ms.saturating_add(timeout_ms))),
            )?;
            for (k, v) in extra {
                tx.put(&r, k, v)?;
            }
            Ok(r.to_string())
        })
    }

    fn request_obj(&self, id: &str) -> Result<ObjId, SpaceError> {
        let unknown = || SpaceError::Invalid(format!("no request {id} in this space"));
        let (obj, ObjType::Map) = self.doc().import(id).map_err(|_| unknown())? else {
            return Err(unknown());
        };
        let parent = self.doc().parents(&obj).ok().and_then(|mut p| p.next());
        let roots = doc::root_objs(self.doc(), &schema::REQUESTS, None);
        match parent {
            Some(p) if roots.contains(&p.obj) => Ok(obj),
            _ => Err(unknown()),
        }
    }

    /// Writes step `step` of request `id` as `who`, with `value`.
    fn step(
        &mut self,
        who: &Writer,
        id: &str,
        step: Step,
        value: ScalarValue,
        at_ms: u64,
    ) -> Result<Applied, SpaceError> {
        let obj = self.request_obj(id)?;
        // Each step is keyed by its author, but a rating by the claimant whose outcome it
        // rates: the winner.
        let keyed_by = match step {
            Step::Rate => self.request(id).and_then(|r| r.claimant).ok_or_else(|| {
                SpaceError::Invalid(format!("request {id} has no outcome to rate"))
            })?,
            _ => who.did(),
        };
        let key = step.key(&keyed_by);
        self.local_write(who, at_ms, |tx| Ok(tx.put(&obj, key, value)?))
            .map(|(a, ())| a)
    }

    /// Claims request `id` as `who` (its target, or an `auto` candidate whose turn came).
    pub fn claim(&mut self, who: &Writer, id: &str, at_ms: u64) -> Result<Applied, SpaceError> {
        self.step(
            who,
            id,
            Step::Claim,
            ScalarValue::Timestamp(millis(at_ms)),
            at_ms,
        )
    }

    /// Posts a progress note on request `id`, as its winning claimant.
    pub fn progress(
        &mut self,
        who: &Writer,
        id: &str,
        note: &str,
        at_ms: u64,
    ) -> Result<Applied, SpaceError> {
        self.step(who, id, Step::Progress, note.into(), at_ms)
    }

    /// Posts the result of request `id`, as its winning claimant.
    pub fn complete(
        &mut self,
        who: &Writer,
        id: &str,
        output: &Value,
        at_ms: u64,
    ) -> Result<Applied, SpaceError> {
        self.step(who, id, Step::Result, output.to_string().into(), at_ms)
    }

    /// Posts the result of request `id` held out of band, as its winning claimant: its hash and
    /// size, in one change (from schema version 6; docs/abilities.md §14).
    pub fn complete_out_of_band(
        &mut self,
        who: &Writer,
        id: &str,
        output: PayloadRef,
        at_ms: u64,
    ) -> Result<Applied, SpaceError> {
        self.out_of_band_allowed()?;
        let obj = self.request_obj(id)?;
        let me = who.did();
        self.local_write(who, at_ms, |tx| {
            tx.put(&obj, format!("{RESULT_HASH} {me}"), output.hash.to_string())?;
            tx.put(
                &obj,
                format!("{RESULT_SIZE} {me}"),
                ScalarValue::Uint(output.size),
            )?;
            Ok(())
        })
        .map(|(a, ())| a)
    }

    /// Whether this space's schema carries payloads out of band.
    fn out_of_band_allowed(&self) -> Result<(), SpaceError> {
        let version = self.schema_version();
        if version < schema::ABILITIES_V2 {
            return Err(SpaceError::Invalid(format!(
                "this space is at schema version {version}; payloads held out of band need \
                 version {} (migrate it)",
                schema::ABILITIES_V2
            )));
        }
        Ok(())
    }

    /// Posts that request `id` failed, and why, as its winning claimant.
    pub fn fail(
        &mut self,
        who: &Writer,
        id: &str,
        reason: &str,
        at_ms: u64,
    ) -> Result<Applied, SpaceError> {
        self.step(who, id, Step::Failure, reason.into(), at_ms)
    }

    /// Cancels request `id`, as its requester.
    pub fn cancel(&mut self, who: &Writer, id: &str, at_ms: u64) -> Result<Applied, SpaceError> {
        self.step(
            who,
            id,
            Step::Cancel,
            ScalarValue::Timestamp(millis(at_ms)),
            at_ms,
        )
    }

    /// Rates the outcome of request `id` from 1 to 5, as its requester.
    pub fn rate_request(
        &mut self,
        who: &Writer,
        id: &str,
        score: u8,
        at_ms: u64,
    ) -> Result<Applied, SpaceError> {
        self.step(
            who,
            id,
            Step::Rate,
            ScalarValue::Int(i64::from(score)),
            at_ms,
        )
    }

    /// Every request, in the space's order (the token ledger is folded only if one of them
    /// carries a reward).
    pub fn requests(&self) -> Vec<RequestView> {
        let a = self.abilities_now();
        let records: Vec<(String, Record)> = a
            .request_maps()
            .into_iter()
            .filter_map(|obj| Some((obj.to_string(), Record::read(&a.view, &obj)?)))
            .collect();
        let ledger: Option<Ledger> = records
            .iter()
            .any(|(_, r)| r.reward.is_some())
            .then(|| self.ledger());
        records
            .into_iter()
            .filter_map(|(id, r)| {
                let funded = ledger.as_ref().and_then(|l| l.funded(&id));
                RequestView::of(id, &r, funded)
            })
            .collect()
    }

    /// Request `id` (the token ledger is folded only if it carries a reward).
    pub fn request(&self, id: &str) -> Option<RequestView> {
        let obj = self.request_obj(id).ok()?;
        let r = Record::read(&self.abilities_now().view, &obj)?;
        let id = obj.to_string();
        let funded = r.reward.and_then(|_| self.ledger().funded(&id));
        RequestView::of(id, &r, funded)
    }

    /// `provider`'s record for `ability`, from the requests it won.
    pub fn ability_reputation(&self, provider: &Did, ability: &str) -> AbilityReputation {
        self.abilities_now()
            .reputations()
            .remove(&(provider.to_string(), ability.to_string()))
            .unwrap_or_default()
    }

    /// The abilities of active members matching `query`, best first (docs/abilities.md §6).
    pub fn search(&self, query: &str) -> Vec<SearchHit> {
        self.abilities_now().search(query)
    }
}
