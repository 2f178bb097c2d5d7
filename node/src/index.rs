//! The network index of abilities (issue 14, slice 3; docs/protocol.md §14, docs/abilities.md
//! §11): how a timite finds a provider in a space it has not joined.
//!
//! Every node publishes, on the gossipsub topic [`INDEX_TOPIC`], one signed **record**: the
//! declarations of the timites it hosts in the *public* spaces it hosts (never an invite-only
//! or ephemeral space: docs/privacy.md §0), and the addresses to join through. Each
//! **entry** is signed by its provider's key, over the entry and the publishing node's key, so
//! a receiver checks who vouches for it without trusting the node, and an entry copied into
//! another node's record fails. The record is signed by the node's key, carries a sequence
//! number (a newer one replaces the older; an older or equal one is dropped as a replay) and
//! an expiry (a node that went away drops out). A node publishes when its entries or
//! addresses change (at most every [`MIN_PUBLISH_MS`]), when a new peer subscribes, and
//! every refresh interval.
//!
//! Every node keeps the verified records in a bounded [`Cache`] and answers a network search
//! from it alone, ranked like a space's local search with no reputation known
//! ([`Cache::search`]). This module is pure: the actor (`node/mod.rs`) feeds it the spaces,
//! the received bytes and the time, and publishes what it returns.

use std::collections::{HashMap, HashSet};

use libp2p::gossipsub::MessageAcceptance;
use libp2p::multiaddr::Protocol;
use libp2p::{identity, Multiaddr, PeerId};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tim_crdt::abilities::{self, AbilityReputation, SearchHit};
use tim_crdt::{Space, Visibility};
use tim_did::Identity;
use tim_protocol::codec::{self, CodecError};
use tim_protocol::{verify_strict, ChangeHash, Did, SpaceId};
use tracing::{debug, warn};

/// The gossipsub topic of the index (identity hash: the string is the topic id).
pub const INDEX_TOPIC: &str = "tim/abilities/v1";
/// The record layout's version.
pub const INDEX_VERSION: u8 = 1;
/// Largest encoded record, bytes: under the gossip frame bound (`MAX_GOSSIP_BYTES`) with room
/// for gossipsub's framing. A node whose entries do not fit leaves the last ones out.
pub const MAX_RECORD_BYTES: usize = 120 * 1024;
/// Most entries in one record.
pub const MAX_ENTRIES: usize = 256;
/// Most addresses in one record, and the longest one in bytes.
pub const MAX_ADDRS: usize = 8;
/// Longest address, bytes.
pub const MAX_ADDR_BYTES: usize = 256;
/// Longest description in an entry, bytes: the first bytes of the declaration's (cut at a
/// character boundary); the whole one is read in the space after joining.
pub const MAX_SUMMARY_BYTES: usize = 256;
/// Longest time a record may live, from its publication (ms).
pub const MAX_TTL_MS: u64 = 3600 * 1000;
/// How far in the future a record's publication time may be before it is dropped (ms).
pub const MAX_CLOCK_SKEW_MS: u64 = 60_000;
/// Shortest time between two publications of a node (ms).
pub const MIN_PUBLISH_MS: u64 = 1_000;
/// Default time between two publications of unchanged entries (ms); a record lives three of
/// them.
pub const DEFAULT_REFRESH_MS: u64 = 120_000;
/// Most records (publishing nodes) a cache keeps.
pub const MAX_RECORDS: usize = 1024;
/// Most entries a cache keeps, over all records.
pub const MAX_CACHED_ENTRIES: usize = 50_000;

const RECORD_TAG: &[u8] = b"tim-ability-index/1 record";
const ENTRY_TAG: &[u8] = b"tim-ability-index/1 entry";

/// What a provider vouches for: one declaration, in one public space, published by one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryBody {
    /// The space it is declared in.
    pub space: SpaceId,
    /// The space's name.
    pub space_name: String,
    /// Who declared it (and signs the entry).
    pub provider: Did,
    /// The ability's name.
    pub name: String,
    /// Its description, at most [`MAX_SUMMARY_BYTES`].
    pub summary: String,
    /// SHA-256 of the input schema's JSON, a zero byte and the output schema's JSON.
    #[serde(with = "serde_bytes")]
    pub schemas: Vec<u8>,
    /// The space shows the declaration attested by an unrevoked ability credential.
    pub attested: bool,
    /// Its price, in tokens.
    pub price: Option<u64>,
    /// When it was declared, ms since the Unix epoch.
    pub declared_at: u64,
}

/// An entry and its provider's signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// What is signed.
    pub body: EntryBody,
    /// The provider's Ed25519 signature over [`ENTRY_TAG`], the node's key and the body.
    #[serde(with = "serde_bytes")]
    pub sig: Vec<u8>,
}

/// A node's index: its entries and where to reach it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordBody {
    /// [`INDEX_VERSION`].
    pub v: u8,
    /// The publishing node (its key is its PeerId's).
    pub node: Did,
    /// Increases with every publication of the node. Tim nodes use the publication time (at
    /// least [`MIN_PUBLISH_MS`] apart, and it survives restarts).
    pub seq: u64,
    /// When it was published, ms since the Unix epoch.
    pub published_at: u64,
    /// When receivers drop it.
    pub expires_at: u64,
    /// Listen addresses, without `/p2p/`.
    pub addrs: Vec<String>,
    /// The entries.
    pub entries: Vec<Entry>,
}

/// A record and the node's signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// What is signed.
    pub body: RecordBody,
    /// The node's Ed25519 signature over [`RECORD_TAG`] and the body.
    #[serde(with = "serde_bytes")]
    pub sig: Vec<u8>,
}

fn entry_message(node: &Did, body: &EntryBody) -> Vec<u8> {
    let mut m = ENTRY_TAG.to_vec();
    m.extend_from_slice(node.public_bytes());
    m.extend_from_slice(&codec::encode(body));
    m
}

fn record_message(body: &RecordBody) -> Vec<u8> {
    let mut m = RECORD_TAG.to_vec();
    m.extend_from_slice(&codec::encode(body));
    m
}

impl Entry {
    /// Signs `body` as its provider, for publication by `node`.
    pub fn sign(provider: &Identity, node: &Did, body: EntryBody) -> Self {
        use ed25519_dalek::Signer;
        let sig = provider.signing_key().sign(&entry_message(node, &body));
        Self {
            body,
            sig: sig.to_bytes().to_vec(),
        }
    }
}

impl Record {
    /// Signs a record of `entries` and `addrs` as `node`, encoded, leaving out the last
    /// entries beyond [`MAX_ENTRIES`] or [`MAX_RECORD_BYTES`]. Returns the bytes and how many
    /// entries were left out.
    pub fn sign(
        node: &Identity,
        seq: u64,
        published_at: u64,
        expires_at: u64,
        addrs: Vec<String>,
        mut entries: Vec<Entry>,
    ) -> (Vec<u8>, usize) {
        use ed25519_dalek::Signer;
        let all = entries.len();
        entries.truncate(MAX_ENTRIES);
        loop {
            let body = RecordBody {
                v: INDEX_VERSION,
                node: node.did(),
                seq,
                published_at,
                expires_at,
                addrs: addrs.clone(),
                entries,
            };
            let sig = node.signing_key().sign(&record_message(&body));
            let record = Record {
                body,
                sig: sig.to_bytes().to_vec(),
            };
            let bytes = codec::encode(&record);
            if bytes.len() <= MAX_RECORD_BYTES {
                return (bytes, all - record.body.entries.len());
            }
            // Too large: keep the share of entries that fits, and try again.
            entries = record.body.entries;
            let keep = entries.len() * MAX_RECORD_BYTES / bytes.len();
            entries.truncate(keep.min(entries.len().saturating_sub(1)));
        }
    }
}

/// Why a received record was dropped: a reason of each kind, with gossipsub's verdict.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// Not a record: bad CBOR, too large, trailing bytes.
    #[error("not an index record: {0}")]
    Malformed(String),
    /// A field is over its bound or of the wrong shape.
    #[error("the record breaks a bound: {0}")]
    Bounds(String),
    /// The node's signature does not verify.
    #[error("the node's signature over the record does not verify")]
    BadSignature,
    /// An entry's signature is not its provider's for this node.
    #[error("entry {index} ({name} by {provider}) is not signed by its provider for this node")]
    BadEntry {
        /// Its place in the record.
        index: usize,
        /// The ability.
        name: String,
        /// The DID it names.
        provider: Did,
    },
    /// The record claims to live longer than [`MAX_TTL_MS`].
    #[error("the record lives {0} ms, over the limit of {MAX_TTL_MS} ms")]
    TooLong(u64),
    /// The record expired (an honest delay or clock: no blame).
    #[error("the record expired")]
    Expired,
    /// Published more than [`MAX_CLOCK_SKEW_MS`] in the future (no blame: a clock).
    #[error("the record was published in the future")]
    Future,
    /// A record of the node with this sequence number or a later one is held already.
    #[error("sequence {got} is not after the held {held}: a replay or a late copy")]
    Stale {
        /// The record's.
        got: u64,
        /// The cached one's.
        held: u64,
    },
}

impl Refusal {
    /// The code logged.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed_record",
            Self::Bounds(_) => "record_over_bounds",
            Self::BadSignature => "bad_record_signature",
            Self::BadEntry { .. } => "bad_entry_signature",
            Self::TooLong(_) => "record_ttl_too_long",
            Self::Expired => "record_expired",
            Self::Future => "record_from_the_future",
            Self::Stale { .. } => "stale_record_sequence",
        }
    }

    /// What gossipsub does with the message: invalid ones count against the peer that
    /// delivered it; late or early ones (clocks, paths) are dropped without blame.
    pub fn verdict(&self) -> MessageAcceptance {
        match self {
            Self::Expired | Self::Future | Self::Stale { .. } => MessageAcceptance::Ignore,
            _ => MessageAcceptance::Reject,
        }
    }
}

impl From<CodecError> for Refusal {
    fn from(e: CodecError) -> Self {
        Self::Malformed(e.to_string())
    }
}

fn signature(bytes: &[u8]) -> Option<[u8; 64]> {
    bytes.try_into().ok()
}

/// The PeerId of a node DID (the same Ed25519 key).
fn peer_of(node: &Did) -> Option<PeerId> {
    let key = identity::ed25519::PublicKey::try_from_bytes(node.public_bytes()).ok()?;
    Some(identity::PublicKey::from(key).to_peer_id())
}

fn check_bounds(body: &RecordBody) -> Result<Vec<Multiaddr>, Refusal> {
    let bound = |what: String| Err(Refusal::Bounds(what));
    if body.v != INDEX_VERSION {
        return bound(format!(
            "version {} (this node reads {INDEX_VERSION})",
            body.v
        ));
    }
    if body.entries.len() > MAX_ENTRIES {
        return bound(format!(
            "{} entries (at most {MAX_ENTRIES})",
            body.entries.len()
        ));
    }
    if body.addrs.len() > MAX_ADDRS {
        return bound(format!(
            "{} addresses (at most {MAX_ADDRS})",
            body.addrs.len()
        ));
    }
    let mut addrs = Vec::with_capacity(body.addrs.len());
    for a in &body.addrs {
        let parsed: Option<Multiaddr> = (a.len() <= MAX_ADDR_BYTES)
            .then(|| a.parse().ok())
            .flatten()
            .filter(|m: &Multiaddr| !m.iter().any(|p| matches!(p, Protocol::P2p(_))));
        match parsed {
            Some(m) => addrs.push(m),
            None => return bound(format!("address `{a}` (a multiaddr without /p2p/)")),
        }
    }
    for e in &body.entries {
        let b = &e.body;
        if let Err(why) = abilities::check_name(&b.name) {
            return bound(why);
        }
        if b.summary.len() > MAX_SUMMARY_BYTES
            || b.space_name.len() > tim_protocol::wire::MAX_NAME_BYTES
            || b.schemas.len() != 32
        {
            return bound(format!("entry {} has a field over its bound", b.name));
        }
    }
    Ok(addrs)
}

/// A verified record, as a cache keeps it.
#[derive(Debug, Clone)]
struct Held {
    peer: PeerId,
    body: RecordBody,
    /// Its addresses, each ending in `/p2p/<peer>`.
    addrs: Vec<Multiaddr>,
}

/// Checks a decoded record: bounds, its times, its sequence against the one `held` for its
/// node, then the node's and every provider's signature (the costly part last).
fn verify(record: Record, now: u64, held: impl Fn(&Did) -> Option<u64>) -> Result<Held, Refusal> {
    let addrs = check_bounds(&record.body)?;
    let body = record.body;
    let ttl = body.expires_at.saturating_sub(body.published_at);
    if ttl > MAX_TTL_MS {
        return Err(Refusal::TooLong(ttl));
    }
    if body.expires_at <= now {
        return Err(Refusal::Expired);
    }
    if body.published_at > now + MAX_CLOCK_SKEW_MS {
        return Err(Refusal::Future);
    }
    if let Some(held) = held(&body.node).filter(|h| body.seq <= *h) {
        return Err(Refusal::Stale {
            got: body.seq,
            held,
        });
    }
    let peer = peer_of(&body.node).ok_or(Refusal::BadSignature)?;
    let node_key = body.node.verifying_key();
    let sig = signature(&record.sig).ok_or(Refusal::BadSignature)?;
    if !verify_strict(&node_key, &record_message(&body), &sig) {
        return Err(Refusal::BadSignature);
    }
    for (index, e) in body.entries.iter().enumerate() {
        let ok = signature(&e.sig).is_some_and(|sig| {
            verify_strict(
                &e.body.provider.verifying_key(),
                &entry_message(&body.node, &e.body),
                &sig,
            )
        });
        if !ok {
            return Err(Refusal::BadEntry {
                index,
                name: e.body.name.clone(),
                provider: e.body.provider,
            });
        }
    }
    let addrs = addrs
        .into_iter()
        .map(|a| a.with(Protocol::P2p(peer)))
        .collect();
    Ok(Held { peer, body, addrs })
}

/// One provider found by a network search.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkHit {
    /// Who declared it.
    pub provider: Did,
    /// The ability's name.
    pub ability: String,
    /// Its description (the first [`MAX_SUMMARY_BYTES`]).
    pub description: String,
    /// The space it is declared in.
    pub space: SpaceId,
    /// The space's name.
    pub space_name: String,
    /// Whether the space shows it attested (the publishing node's word, signed by the
    /// provider: checked by joining).
    pub attested: bool,
    /// Its price, in tokens.
    pub price: Option<u64>,
    /// How well the query matched, per mille.
    pub text: u64,
    /// The rank score, per mille (docs/abilities.md §6).
    pub score: u64,
    /// The node that hosts the provider (and the space): join through it.
    pub node: PeerId,
    /// Its addresses, each ending in `/p2p/<node>`.
    pub addrs: Vec<Multiaddr>,
    /// When it was declared, ms since the Unix epoch.
    pub declared_at: u64,
    /// When the node published the record that carries it.
    pub published_at: u64,
}

/// The verified records of the network, one per node, bounded by [`MAX_RECORDS`] and
/// [`MAX_CACHED_ENTRIES`].
#[derive(Debug, Default)]
pub struct Cache {
    records: HashMap<Did, Held>,
    entries: usize,
}

impl Cache {
    /// Checks a received record and keeps it in place of the node's older one. Returns the
    /// node and its entry count.
    pub fn receive(&mut self, data: &[u8], now: u64) -> Result<(Did, usize), Refusal> {
        let record = codec::decode(data, MAX_RECORD_BYTES)?;
        let record = verify(record, now, |node| {
            self.records.get(node).map(|h| h.body.seq)
        })?;
        let node = record.body.node;
        let count = record.body.entries.len();
        self.insert(record, now);
        Ok((node, count))
    }

    fn insert(&mut self, record: Held, now: u64) {
        if let Some(old) = self.records.remove(&record.body.node) {
            self.entries -= old.body.entries.len();
        }
        self.expire(now);
        let count = record.body.entries.len();
        // Full: the records that expire first make room.
        while self.records.len() >= MAX_RECORDS || self.entries + count > MAX_CACHED_ENTRIES {
            let Some(first) = self
                .records
                .iter()
                .min_by_key(|(d, h)| (h.body.expires_at, **d))
                .map(|(d, _)| *d)
            else {
                break;
            };
            if let Some(h) = self.records.remove(&first) {
                self.entries -= h.body.entries.len();
            }
        }
        self.entries += count;
        self.records.insert(record.body.node, record);
    }

    /// Drops expired records.
    pub fn expire(&mut self, now: u64) {
        let entries = &mut self.entries;
        self.records.retain(|_, h| {
            let keep = h.body.expires_at > now;
            if !keep {
                *entries -= h.body.entries.len();
            }
            keep
        });
    }

    /// Entries held, over every record.
    pub fn entries(&self) -> usize {
        self.entries
    }

    /// The peers whose unexpired records list a declaration of `provider`: the nodes that say
    /// they host it.
    pub fn hosts_of(&self, provider: &Did, now: u64) -> Vec<PeerId> {
        self.records
            .values()
            .filter(|h| h.body.expires_at > now)
            .filter(|h| h.body.entries.iter().any(|e| e.body.provider == *provider))
            .map(|h| h.peer)
            .collect()
    }

    /// The entries matching `query`, best first, at most `limit`: ranked like a space's
    /// local search (text, attestation) with the reputation terms at their priors, since
    /// reputation is known only inside a space; then by name, provider and space.
    pub fn search(&self, query: &str, limit: usize, now: u64) -> Vec<NetworkHit> {
        let neutral = AbilityReputation::default();
        let mut hits: Vec<(u64, &Held, &EntryBody, u64)> = Vec::new();
        for h in self.records.values().filter(|h| h.body.expires_at > now) {
            for e in &h.body.entries {
                let b = &e.body;
                let text = abilities::text_match(query, &b.name, &b.summary);
                if text > 0 {
                    hits.push((abilities::score(text, b.attested, &neutral), h, b, text));
                }
            }
        }
        fn key(e: &EntryBody) -> (&str, Did, SpaceId) {
            (&e.name, e.provider, e.space)
        }
        let order = |a: &(u64, &Held, &EntryBody, u64), b: &(u64, &Held, &EntryBody, u64)| {
            b.0.cmp(&a.0).then_with(|| key(a.2).cmp(&key(b.2)))
        };
        // Only the first `limit` are sorted: a short query over a large cache matches many.
        if limit == 0 {
            return Vec::new();
        }
        if hits.len() > limit {
            hits.select_nth_unstable_by(limit - 1, order);
            hits.truncate(limit);
        }
        hits.sort_unstable_by(order);
        hits.into_iter()
            .map(|(score, h, b, text)| NetworkHit {
                provider: b.provider,
                ability: b.name.clone(),
                description: b.summary.clone(),
                space: b.space,
                space_name: b.space_name.clone(),
                attested: b.attested,
                price: b.price,
                text,
                score,
                node: h.peer,
                addrs: h.addrs.clone(),
                declared_at: b.declared_at,
                published_at: h.body.published_at,
            })
            .collect()
    }
}

fn summary_of(description: &str) -> String {
    let mut end = description.len().min(MAX_SUMMARY_BYTES);
    while !description.is_char_boundary(end) {
        end -= 1;
    }
    description[..end].to_string()
}

fn schemas_hash(hit: &SearchHit) -> Vec<u8> {
    let spec = &hit.declaration.spec;
    let mut h = Sha256::new();
    h.update(spec.input_schema.to_string());
    h.update([0]);
    h.update(spec.output_schema.to_string());
    h.finalize().to_vec()
}

/// The entries a node publishes for one space: none unless the space is public; else the
/// declarations of hosted timites that search lists (active members), signed by each. A
/// declaration naming a credential the space does not show attesting it (revoked, or not
/// recorded there) is left out, so the index carries no claim the space would not show.
fn entries_of(space: &Space, hosted: &HashMap<Did, Identity>, node: &Did) -> Vec<Entry> {
    let Some(meta) = space.meta() else {
        return Vec::new();
    };
    if meta.visibility != Visibility::Public || space.is_private() || !space.is_ready() {
        return Vec::new();
    }
    space
        .search("")
        .into_iter()
        .filter(|hit| hit.declaration.spec.credential.is_none() || hit.attested)
        .filter_map(|hit| {
            let provider = hosted.get(&hit.declaration.provider)?;
            let d = &hit.declaration;
            let body = EntryBody {
                space: space.id(),
                space_name: meta.name.clone(),
                provider: d.provider,
                name: d.spec.name.clone(),
                summary: summary_of(&d.spec.description),
                schemas: schemas_hash(&hit),
                attested: hit.attested,
                price: d.spec.price,
                declared_at: d.at,
            };
            Some(Entry::sign(provider, node, body))
        })
        .collect()
}

/// A node's own side of the index: its entries, kept per space and rebuilt when a space's
/// heads move, and when to publish them.
#[derive(Debug)]
pub(crate) struct Publisher {
    refresh_ms: u64,
    spaces: HashMap<SpaceId, (Vec<ChangeHash>, Vec<Entry>)>,
    /// The entries and addresses published last, and when.
    published: Option<(Vec<Entry>, Vec<String>, u64)>,
    /// A peer subscribed to the index since the last publication.
    newcomer: bool,
}

impl Publisher {
    pub(crate) fn new(refresh_ms: u64) -> Self {
        Self {
            refresh_ms: refresh_ms.max(MIN_PUBLISH_MS),
            spaces: HashMap::new(),
            published: None,
            newcomer: false,
        }
    }

    /// A peer subscribed to the index topic: publish again soon, so that it learns this
    /// node's entries without waiting for the refresh.
    pub(crate) fn newcomer(&mut self) {
        self.newcomer = true;
    }

    /// The entries of `spaces` now, rebuilding those whose heads moved.
    fn update<'a>(
        &mut self,
        spaces: impl Iterator<Item = &'a Space>,
        hosted: &HashMap<Did, Identity>,
        node: &Did,
    ) -> Vec<Entry> {
        let mut seen = HashSet::new();
        for space in spaces {
            let id = space.id();
            let heads = space.heads();
            seen.insert(id);
            if self.spaces.get(&id).is_some_and(|(h, _)| *h == heads) {
                continue;
            }
            let entries = entries_of(space, hosted, node);
            self.spaces.insert(id, (heads, entries));
        }
        self.spaces.retain(|id, _| seen.contains(id));
        let mut ids: Vec<&SpaceId> = self.spaces.keys().collect();
        ids.sort();
        ids.into_iter()
            .flat_map(|id| self.spaces[id].1.iter().cloned())
            .collect()
    }

    /// The record to publish now, signed and encoded, if one is due: entries or addresses
    /// changed, a peer subscribed, or the refresh interval passed; never sooner than
    /// [`MIN_PUBLISH_MS`] after the last, and nothing while this node has never had an entry
    /// (a node whose entries all went publishes one empty record, so receivers drop them).
    pub(crate) fn due<'a>(
        &mut self,
        spaces: impl Iterator<Item = &'a Space>,
        hosted: &HashMap<Did, Identity>,
        node: &Identity,
        addrs: Vec<String>,
        now: u64,
    ) -> Option<Vec<u8>> {
        if self
            .published
            .as_ref()
            .is_some_and(|(_, _, at)| now < at + MIN_PUBLISH_MS)
        {
            return None; // Not even looked at: rebuilding reads the spaces.
        }
        let entries = self.update(spaces, hosted, &node.did());
        let due = match &self.published {
            None => !entries.is_empty(),
            Some((e, a, at)) => {
                let changed = *e != entries || *a != addrs;
                changed || (!e.is_empty() && (self.newcomer || now >= at + self.refresh_ms))
            }
        };
        if !due {
            return None;
        }
        let expires = now + (3 * self.refresh_ms).min(MAX_TTL_MS);
        let (bytes, left_out) =
            Record::sign(node, now, now, expires, addrs.clone(), entries.clone());
        if left_out > 0 {
            warn!(
                left_out,
                "the ability index record is full; the last entries are left out"
            );
        }
        debug!(entries = entries.len(), "publishing the ability index");
        self.published = Some((entries, addrs, now));
        self.newcomer = false;
        Some(bytes)
    }
}

#[cfg(test)]
mod tests;
