//! Agents' memory (docs/agents.md "Memory"): what a hosted agent keeps of the spaces it takes
//! part in, in four bounded layers, stored by its node in sled and nowhere else.
//!
//! * **session**: the current exchange, the last [`SESSION_BOUND`] messages the agent saw or
//!   said in a space;
//! * **space**: every [`SUMMARY_EVERY`] messages of a space, a rolling extractive summary of
//!   them (who spoke, and the [`SUMMARY_SENTENCES`] distinct sentences whose words are most
//!   frequent in the window, in their order), [`SPACE_BOUND`] per space;
//! * **personal**: per agent, across spaces, who it met, what they asked it and the outcomes
//!   of requests it made or served, [`PERSONAL_BOUND`] in all;
//! * **meta**: with each summary, a snapshot of the window's tone and timeline (message rate,
//!   active members, share of questions), [`META_BOUND`] in all.
//!
//! In each bound the oldest entry goes first. Summaries and snapshots are pure functions of
//! the messages they cover, so they are the same whenever they are made again.
//!
//! **Store.** One sled tree, `memory`; an entry's key is the agent's public key (32 bytes),
//! its layer (1 byte), its scope (the space's 32 bytes for `session` and `space`, zeros for the
//! per-agent layers) and a sequence number (8 bytes, big-endian, from a counter in the same
//! tree), so a prefix scan shows or erases one agent, one layer or one space's slice, oldest
//! first. The value is the [`MemoryEntry`] as JSON. [`Memory::forget`] removes the entries
//! and flushes before it answers: a forgotten entry is gone from the tree, on disk.
//!
//! Memory never leaves the node: no peer asks for it, it is never written into a space
//! document, and only the operator's token reads or erases it through the API.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use tim_protocol::api::{MemoryQuery, SpaceEvent};
use tim_protocol::{Did, SpaceId};

pub use tim_protocol::api::{MemoryEntry, MemoryLayer as Layer};

use crate::service::{Caller, Service, ServiceError, ServiceResult};
use crate::store::Store;
use crate::NodeError;

/// Most session entries kept per agent and space.
pub const SESSION_BOUND: usize = 50;
/// Most summaries kept per agent and space.
pub const SPACE_BOUND: usize = 20;
/// Most personal entries kept per agent, across spaces.
pub const PERSONAL_BOUND: usize = 500;
/// Most meta snapshots kept per agent, across spaces.
pub const META_BOUND: usize = 100;
/// A summary (and a snapshot) is made every this many session entries of a space.
pub const SUMMARY_EVERY: usize = 10;
/// Sentences in a summary.
pub const SUMMARY_SENTENCES: usize = 3;
/// Longest text of an entry, in bytes; longer texts are cut at a character boundary.
pub const MAX_ENTRY_BYTES: usize = 2000;
/// Most entries a read of the API returns.
pub const MAX_RECALL: usize = 1000;
/// Entries a read of the API returns unless it asks otherwise.
pub const DEFAULT_RECALL: usize = 100;

/// A key and its value, raw, as the tree holds them.
#[cfg(feature = "test-utils")]
pub type RawEntry = (Vec<u8>, Vec<u8>);

/// The key of the sequence counter (shorter than any entry key, so no prefix scan meets it).
const SEQ_KEY: &[u8] = b"seq";

/// Why a memory operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MemoryError {
    /// sled failed (I/O, corruption).
    #[error("memory storage: {0}")]
    Store(#[from] sled::Error),
    /// A stored entry does not decode.
    #[error("a stored memory entry is corrupt: {0}")]
    Corrupt(String),
    /// The layer keeps entries per space, and none was given.
    #[error("the {0} layer keeps entries per space: name the space")]
    NeedsSpace(Layer),
}

impl From<MemoryError> for NodeError {
    fn from(e: MemoryError) -> Self {
        match e {
            MemoryError::NeedsSpace(_) => Self::Invalid(e.to_string()),
            e => Self::Storage(e.to_string()),
        }
    }
}

/// The memory of every agent of a node: a cheap handle on its sled tree.
#[derive(Debug, Clone)]
pub struct Memory {
    tree: sled::Tree,
}

fn layer_byte(l: Layer) -> u8 {
    match l {
        Layer::Session => 0,
        Layer::Space => 1,
        Layer::Personal => 2,
        Layer::Meta => 3,
    }
}

/// Whether a layer keeps its entries per space (else per agent, across spaces).
fn per_space(l: Layer) -> bool {
    matches!(l, Layer::Session | Layer::Space)
}

fn bound(l: Layer) -> usize {
    match l {
        Layer::Session => SESSION_BOUND,
        Layer::Space => SPACE_BOUND,
        Layer::Personal => PERSONAL_BOUND,
        Layer::Meta => META_BOUND,
    }
}

/// The key prefix of `agent`'s `layer`, and of one space's scope of it if given (for the
/// layers kept per space).
fn prefix(agent: &Did, layer: Layer, space: Option<&SpaceId>) -> Vec<u8> {
    let mut k = Vec::with_capacity(73);
    k.extend_from_slice(agent.public_bytes());
    k.push(layer_byte(layer));
    if let Some(s) = space.filter(|_| per_space(layer)) {
        k.extend_from_slice(s.as_bytes());
    }
    k
}

/// The key prefix of the scope an entry of `layer` about `space` is kept in: the space's
/// for the layers kept per space, zeros for the others.
fn scope(agent: &Did, layer: Layer, space: Option<&SpaceId>) -> Vec<u8> {
    let mut k = prefix(agent, layer, space);
    if k.len() == 33 {
        k.extend_from_slice(&[0; 32]);
    }
    k
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// `text` cut to [`MAX_ENTRY_BYTES`] at a character boundary.
fn bounded(text: &str) -> String {
    if text.len() <= MAX_ENTRY_BYTES {
        return text.to_string();
    }
    let mut end = MAX_ENTRY_BYTES - '…'.len_utf8();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

impl Memory {
    /// The memory kept in `store`.
    pub fn open(store: &Store) -> Result<Self, MemoryError> {
        Ok(Self {
            tree: store.memory_tree().clone(),
        })
    }

    /// Remembers what `agent` saw in a space, in the layers it belongs to: another's message
    /// (not end-to-end encrypted) in `session` (and, every [`SUMMARY_EVERY`] of them, a
    /// summary in `space` and a snapshot in `meta`); a new member in `personal` (met); a
    /// request it is asked, and the outcome of one it made or served, in `personal`. Its own
    /// messages are for [`Memory::note`].
    pub fn observe(&self, agent: &Did, event: &SpaceEvent) -> Result<(), MemoryError> {
        let space = event.space();
        match event {
            SpaceEvent::Message { message, .. } => {
                // An end-to-end encrypted message is not kept: its clear text would sit
                // unsealed in the store (docs/agents.md "Privacy of memory").
                if message.author == *agent || message.encrypted || message.text.is_empty() {
                    return Ok(());
                }
                let about = Some(message.author);
                let at = message.at;
                self.put(agent, Layer::Session, Some(space), about, at, &message.text)?;
                self.roll(agent, space)
            }
            SpaceEvent::Joined { member, .. } if member.did != *agent => {
                let text = format!("met {} when they joined the space", member.did);
                let about = Some(member.did);
                self.put(
                    agent,
                    Layer::Personal,
                    Some(space),
                    about,
                    member.joined_at,
                    &text,
                )
            }
            _ => {
                let Some(r) = event.request() else {
                    return Ok(());
                };
                let asked = r.candidates.contains(agent) || r.target == agent.to_string();
                let text = match event {
                    SpaceEvent::RequestCreated { .. } if asked => {
                        format!("{} asked for {}: {}", r.requester, r.ability, r.input)
                    }
                    SpaceEvent::RequestCompleted { .. }
                    | SpaceEvent::RequestFailed { .. }
                    | SpaceEvent::RequestCancelled { .. }
                    | SpaceEvent::RequestRated { .. }
                        if r.requester == *agent || r.claimant == Some(*agent) =>
                    {
                        let by = r.claimant.map(|c| format!(" by {c}")).unwrap_or_default();
                        let how = match (&r.failure, r.rating) {
                            (Some(why), _) => format!(": {why}"),
                            (None, Some(score)) => format!(", rated {score}/5"),
                            (None, None) => String::new(),
                        };
                        format!(
                            "request {} for {} from {}: {}{by}{how}",
                            r.id, r.ability, r.requester, r.state
                        )
                    }
                    _ => return Ok(()),
                };
                let about = Some(if r.requester == *agent {
                    r.claimant.unwrap_or(r.requester)
                } else {
                    r.requester
                });
                self.put(agent, Layer::Personal, Some(space), about, now_ms(), &text)
            }
        }
    }

    /// Remembers what `agent` said or did itself, in `layer` (`session` and `space` need the
    /// space).
    pub fn note(
        &self,
        agent: &Did,
        space: Option<SpaceId>,
        layer: Layer,
        text: &str,
    ) -> Result<(), MemoryError> {
        if per_space(layer) && space.is_none() {
            return Err(MemoryError::NeedsSpace(layer));
        }
        self.put(agent, layer, space, Some(*agent), now_ms(), text)?;
        match (layer, space) {
            (Layer::Session, Some(s)) => self.roll(agent, s),
            _ => Ok(()),
        }
    }

    /// The newest `limit` entries of `agent` (of one space and one layer, if given), oldest
    /// first.
    pub fn recall(
        &self,
        agent: &Did,
        space: Option<SpaceId>,
        layer: Option<Layer>,
        limit: usize,
    ) -> Result<Vec<MemoryEntry>, MemoryError> {
        let mut all: Vec<MemoryEntry> = self
            .slice(agent, space, layer)?
            .into_iter()
            .map(|(_, e)| e)
            .collect();
        all.sort_by_key(|e| e.seq);
        let skip = all.len().saturating_sub(limit);
        Ok(all.split_off(skip))
    }

    /// The context a prompt is built from, as text: for each layer (session and space
    /// summaries of `space`, personal across spaces, meta of `space`), its newest `depth`
    /// entries, oldest first. Empty when there is nothing to say.
    pub fn context(
        &self,
        agent: &Did,
        space: SpaceId,
        depth: usize,
    ) -> Result<String, MemoryError> {
        let mut out = String::new();
        if depth == 0 {
            return Ok(out);
        }
        for layer in Layer::ALL {
            let scope = (layer != Layer::Personal).then_some(space);
            let entries = self.recall(agent, scope, Some(layer), depth)?;
            if entries.is_empty() {
                continue;
            }
            out.push_str(match layer {
                Layer::Session => "Recent messages in this space:\n",
                Layer::Space => "What happened in this space:\n",
                Layer::Personal => "Who you met and what they asked:\n",
                Layer::Meta => "How this space has been going:\n",
            });
            for e in entries {
                match (layer, e.about) {
                    (Layer::Session, Some(who)) if who == *agent => {
                        out.push_str(&format!("- you: {}\n", e.text));
                    }
                    (Layer::Session, Some(who)) => {
                        out.push_str(&format!("- {}: {}\n", who.short(), e.text));
                    }
                    _ => out.push_str(&format!("- {}\n", e.text)),
                }
            }
        }
        Ok(out)
    }

    /// Erases `agent`'s entries (of one space and one layer, if given) and flushes the store;
    /// returns how many went.
    pub fn forget(
        &self,
        agent: &Did,
        space: Option<SpaceId>,
        layer: Option<Layer>,
    ) -> Result<usize, MemoryError> {
        let keys: Vec<Vec<u8>> = self
            .slice(agent, space, layer)?
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        let mut batch = sled::Batch::default();
        for k in &keys {
            batch.remove(k.as_slice());
        }
        self.tree.apply_batch(batch)?;
        self.tree.flush()?;
        Ok(keys.len())
    }

    /// Every key and value of the tree, raw (tests look for what should be gone).
    #[cfg(feature = "test-utils")]
    pub fn raw(&self) -> Result<Vec<RawEntry>, MemoryError> {
        self.tree
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                Ok((k.to_vec(), v.to_vec()))
            })
            .collect()
    }

    /// The entries of `agent` (of one space and one layer, if given), with their keys, in key
    /// order.
    fn slice(
        &self,
        agent: &Did,
        space: Option<SpaceId>,
        layer: Option<Layer>,
    ) -> Result<Vec<(Vec<u8>, MemoryEntry)>, MemoryError> {
        let layers = layer.map_or(Layer::ALL.to_vec(), |l| vec![l]);
        let mut out = Vec::new();
        for l in layers {
            for kv in self.tree.scan_prefix(prefix(agent, l, space.as_ref())) {
                let (k, v) = kv?;
                let e: MemoryEntry =
                    serde_json::from_slice(&v).map_err(|e| MemoryError::Corrupt(e.to_string()))?;
                if space.is_none() || e.space == space {
                    out.push((k.to_vec(), e));
                }
            }
        }
        Ok(out)
    }

    /// Stores an entry, then drops the oldest of its scope beyond the layer's bound.
    fn put(
        &self,
        agent: &Did,
        layer: Layer,
        space: Option<SpaceId>,
        about: Option<Did>,
        at: u64,
        text: &str,
    ) -> Result<(), MemoryError> {
        let seq = self
            .tree
            .update_and_fetch(SEQ_KEY, |old| {
                let n = old
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map_or(0, u64::from_be_bytes);
                Some(n.wrapping_add(1).to_be_bytes().to_vec())
            })?
            .and_then(|b| <[u8; 8]>::try_from(b.as_ref()).ok())
            .map_or(0, u64::from_be_bytes);
        let entry = MemoryEntry {
            seq,
            at,
            layer,
            space,
            about,
            text: bounded(text),
        };
        let scope = scope(agent, layer, space.as_ref());
        let mut key = scope.clone();
        key.extend_from_slice(&seq.to_be_bytes());
        let value = serde_json::to_vec(&entry).map_err(|e| MemoryError::Corrupt(e.to_string()))?;
        self.tree.insert(key, value)?;
        let keys: Vec<sled::IVec> = self
            .tree
            .scan_prefix(&scope)
            .keys()
            .collect::<Result<_, _>>()?;
        let mut batch = sled::Batch::default();
        for k in keys.iter().take(keys.len().saturating_sub(bound(layer))) {
            batch.remove(k);
        }
        self.tree.apply_batch(batch)?;
        Ok(())
    }

    /// After a session entry in `space`: once [`SUMMARY_EVERY`] entries followed the last
    /// summary, summarizes them (in `space`) and takes a snapshot of them (in `meta`).
    fn roll(&self, agent: &Did, space: SpaceId) -> Result<(), MemoryError> {
        let last = self
            .recall(agent, Some(space), Some(Layer::Space), 1)?
            .first()
            .map_or(0, |s| s.seq);
        let window: Vec<MemoryEntry> = self
            .recall(agent, Some(space), Some(Layer::Session), SESSION_BOUND)?
            .into_iter()
            .filter(|e| e.seq > last)
            .collect();
        if window.len() < SUMMARY_EVERY {
            return Ok(());
        }
        let at = window.last().map_or(0, |e| e.at);
        self.put(
            agent,
            Layer::Space,
            Some(space),
            None,
            at,
            &summarize(&window),
        )?;
        self.put(
            agent,
            Layer::Meta,
            Some(space),
            None,
            at,
            &snapshot(&window),
        )
    }
}

/// Words of `text` that carry meaning: lowercase, letters and digits, three or more.
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    const STOP: &[&str] = &[
        "the", "and", "for", "are", "but", "not", "you", "all", "any", "can", "had", "her", "was",
        "one", "our", "out", "has", "his", "how", "its", "who", "did", "yes", "get", "may", "him",
        "that", "this", "with", "have", "from", "they", "will", "would", "there", "their", "what",
        "about", "which", "when", "your", "were", "been", "than", "then", "them",
    ];
    text.split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .filter(|w| w.chars().count() >= 3 && !STOP.contains(&w.as_str()))
}

/// The sentences of `text`, each with its end mark.
fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in text.chars() {
        if c != '\n' {
            cur.push(c);
        }
        if matches!(c, '.' | '!' | '?' | '\n') {
            let s = cur.trim();
            if !s.is_empty() {
                out.push(s.to_string());
            }
            cur.clear();
        }
    }
    let s = cur.trim();
    if !s.is_empty() {
        out.push(s.to_string());
    }
    out
}

/// An extractive summary of `window`: who spoke, and the [`SUMMARY_SENTENCES`] sentences
/// whose words are most frequent in the window (mean frequency; the earlier on a tie), in
/// their order.
fn summarize(window: &[MemoryEntry]) -> String {
    let mut freq: BTreeMap<String, usize> = BTreeMap::new();
    for e in window {
        for w in words(&e.text) {
            *freq.entry(w).or_default() += 1;
        }
    }
    let all: Vec<(Option<Did>, String)> = window
        .iter()
        .flat_map(|e| sentences(&e.text).into_iter().map(|s| (e.about, s)))
        .collect();
    let score = |s: &str| {
        let ws: Vec<String> = words(s).collect();
        let total: usize = ws.iter().map(|w| freq.get(w).copied().unwrap_or(0)).sum();
        // Mean frequency, in thousandths, so that scores compare exactly.
        (total * 1000).checked_div(ws.len()).unwrap_or(0)
    };
    let mut ranked: Vec<usize> = (0..all.len()).collect();
    ranked.sort_by_key(|&i| (std::cmp::Reverse(score(&all[i].1)), i));
    // The best sentences, each text once.
    let mut chosen: Vec<usize> = Vec::new();
    for i in ranked {
        if chosen.len() == SUMMARY_SENTENCES {
            break;
        }
        if !chosen.iter().any(|&c| all[c].1 == all[i].1) {
            chosen.push(i);
        }
    }
    chosen.sort_unstable();
    let picked: Vec<String> = chosen
        .into_iter()
        .map(|i| match all[i].0 {
            Some(who) => format!("{}: {}", who.short(), all[i].1),
            None => all[i].1.clone(),
        })
        .collect();
    format!(
        "{} messages by {}. {}",
        window.len(),
        speakers(window).join(", "),
        picked.join(" / ")
    )
}

/// Who spoke in `window`, by first message.
fn speakers(window: &[MemoryEntry]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for who in window.iter().filter_map(|e| e.about) {
        let s = who.short();
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// A snapshot of `window`'s tone and timeline: its span, message rate, active members and
/// share of questions.
fn snapshot(window: &[MemoryEntry]) -> String {
    let first = window.first().map_or(0, |e| e.at);
    let last = window.last().map_or(0, |e| e.at);
    let span_s = last.saturating_sub(first) / 1000;
    let per_min = (window.len() as u64 * 60_000)
        .checked_div(last.saturating_sub(first))
        .map_or_else(|| "all at once".to_string(), |r| format!("{r}/min"));
    let questions = window.iter().filter(|e| e.text.contains('?')).count();
    format!(
        "{} messages over {span_s} s ({per_min}), {} active members, {}% questions",
        window.len(),
        speakers(window).len(),
        questions * 100 / window.len().max(1)
    )
}

impl crate::Handle {
    /// The memory of the node's agents ([`Memory`]).
    pub fn memory(&self) -> Result<Memory, MemoryError> {
        Memory::open(self.store())
    }
}

impl Service {
    /// The memory entries of `agent` (a name or DID of one of the node's agents), of one space
    /// and one layer if asked, newest `limit`, oldest first: the operator's only.
    pub async fn memory(
        &self,
        caller: &Caller,
        agent: &str,
        query: MemoryQuery,
    ) -> ServiceResult<Vec<MemoryEntry>> {
        if !caller.operator {
            return Err(ServiceError::OperatorOnly("reading an agent's memory"));
        }
        let limit = match query.limit.unwrap_or(DEFAULT_RECALL) {
            n @ 1..=MAX_RECALL => n,
            n => {
                return Err(ServiceError::InvalidPage(format!(
                    "limit must be 1 to {MAX_RECALL}; {n} was asked for"
                )))
            }
        };
        let agent = self.find_agent(agent)?.did;
        let memory = self.node().memory().map_err(NodeError::from)?;
        Ok(memory
            .recall(&agent, query.space, query.layer, limit)
            .map_err(NodeError::from)?)
    }

    /// Erases the memory of `agent` (a name or DID of one of the node's agents), of one space
    /// and one layer if asked: gone from the store, on disk, before it answers how many entries
    /// went. The operator's only.
    pub async fn forget_memory(
        &self,
        caller: &Caller,
        agent: &str,
        space: Option<SpaceId>,
        layer: Option<Layer>,
    ) -> ServiceResult<usize> {
        if !caller.operator {
            return Err(ServiceError::OperatorOnly("erasing an agent's memory"));
        }
        let agent = self.find_agent(agent)?.did;
        let memory = self.node().memory().map_err(NodeError::from)?;
        let erased = tokio::task::spawn_blocking(move || memory.forget(&agent, space, layer))
            .await
            .map_err(|e| NodeError::Storage(format!("the eraser stopped: {e}")))?
            .map_err(NodeError::from)?;
        Ok(erased)
    }
}
