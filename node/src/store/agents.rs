//! The `agents` tree: the agents a node runs (docs/agents.md, "Runtime").
//!
//! Keys, each after a one-byte kind and the agent's DID (its `did:key:` text):
//! * `r` ‖ DID → the [`AgentRecord`] (JSON): name, persona TOML, tuning, spaces, paused, the
//!   model's spec without any key (only where the key is read from), created;
//! * `c` ‖ DID → its budget [`Counters`] (JSON);
//! * `l` ‖ DID ‖ `0` ‖ sequence number (u64, big-endian) → an [`AgentLogEntry`] (JSON), the
//!   newest [`MAX_AGENT_LOG`] kept.

use serde::{Deserialize, Serialize};
use tim_models::KeySource;
use tim_protocol::api::{AgentLogEntry, AgentTuning};
use tim_protocol::{Did, SpaceId};

use super::{Store, StoreError};

/// Log entries kept per agent; older ones are deleted as new ones come.
pub(crate) const MAX_AGENT_LOG: usize = 500;

/// An agent as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct AgentRecord {
    /// Its name on this node.
    pub(crate) name: String,
    /// Its timite.
    pub(crate) did: Did,
    /// Its persona's TOML text.
    pub(crate) persona: String,
    /// Its tuning.
    pub(crate) tuning: AgentTuning,
    /// The spaces it acts in.
    pub(crate) spaces: Vec<SpaceId>,
    /// Paused by the operator.
    pub(crate) paused: bool,
    /// `PROVIDER:MODEL`, if any.
    pub(crate) model: Option<String>,
    /// The model's base URL, if not the provider's.
    pub(crate) endpoint: Option<String>,
    /// Where the model's key is read from (never the key).
    pub(crate) key: KeySource,
    /// When it was made (ms).
    pub(crate) created_at: u64,
}

/// An agent's use of its budget, in fixed windows that start at its first use after the
/// previous window ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Counters {
    /// Start of the hour window (ms).
    pub(crate) hour_start: u64,
    /// Writes in it.
    pub(crate) actions: u32,
    /// Start of the day window (ms).
    pub(crate) day_start: u64,
    /// Model tokens in it.
    pub(crate) tokens: u64,
}

const RECORD: u8 = b'r';
const COUNTERS: u8 = b'c';
const LOG: u8 = b'l';

fn key(kind: u8, did: &Did) -> Vec<u8> {
    let mut k = vec![kind];
    k.extend_from_slice(did.to_string().as_bytes());
    k
}

fn log_prefix(did: &Did) -> Vec<u8> {
    let mut k = key(LOG, did);
    k.push(0);
    k
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl Store {
    /// Records (or replaces) an agent; durable at the next flush.
    pub(crate) fn put_agent(&self, record: &AgentRecord) -> Result<(), StoreError> {
        self.agents
            .insert(key(RECORD, &record.did), encode(record)?)?;
        Ok(())
    }

    /// Every agent, by DID.
    pub(crate) fn agents(&self) -> Result<Vec<AgentRecord>, StoreError> {
        self.agents
            .scan_prefix([RECORD])
            .values()
            .map(|v| decode(&v?, "an agent record"))
            .collect()
    }

    /// Deletes an agent, its counters and its log.
    pub(crate) fn remove_agent(&self, did: &Did) -> Result<(), StoreError> {
        self.agents.remove(key(RECORD, did))?;
        self.agents.remove(key(COUNTERS, did))?;
        for k in self.agents.scan_prefix(log_prefix(did)).keys() {
            self.agents.remove(k?)?;
        }
        Ok(())
    }

    /// Replaces an agent's budget counters.
    pub(crate) fn put_counters(&self, did: &Did, c: &Counters) -> Result<(), StoreError> {
        self.agents.insert(key(COUNTERS, did), encode(c)?)?;
        Ok(())
    }

    /// An agent's budget counters (zero if it has none yet).
    pub(crate) fn counters(&self, did: &Did) -> Result<Counters, StoreError> {
        self.agents
            .get(key(COUNTERS, did))?
            .map_or(Ok(Counters::default()), |v| decode(&v, "agent counters"))
    }

    /// Appends to an agent's log, deleting the oldest entries over [`MAX_AGENT_LOG`].
    pub(crate) fn push_agent_log(&self, entry: &AgentLogEntry) -> Result<(), StoreError> {
        let prefix = log_prefix(&entry.agent);
        let next = match self.agents.scan_prefix(&prefix).keys().next_back() {
            Some(k) => {
                let k = k?;
                let seq: [u8; 8] = k[prefix.len()..]
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("an agent log key".into()))?;
                u64::from_be_bytes(seq) + 1
            }
            None => 0,
        };
        let mut k = prefix.clone();
        k.extend_from_slice(&next.to_be_bytes());
        self.agents.insert(k, encode(entry)?)?;
        let kept = self.agents.scan_prefix(&prefix).keys().count();
        for old in self
            .agents
            .scan_prefix(&prefix)
            .keys()
            .take(kept.saturating_sub(MAX_AGENT_LOG))
        {
            self.agents.remove(old?)?;
        }
        Ok(())
    }

    /// An agent's newest `limit` log entries, oldest first.
    pub(crate) fn agent_log(
        &self,
        did: &Did,
        limit: usize,
    ) -> Result<Vec<AgentLogEntry>, StoreError> {
        let mut newest: Vec<AgentLogEntry> = self
            .agents
            .scan_prefix(log_prefix(did))
            .values()
            .rev()
            .take(limit)
            .map(|v| decode(&v?, "an agent log entry"))
            .collect::<Result<_, _>>()?;
        newest.reverse();
        Ok(newest)
    }
}
