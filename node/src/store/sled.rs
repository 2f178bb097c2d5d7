//! Durable storage on sled.
//!
//! Trees:
//! * `envelopes`: `space id (32) || change hash (32)` → encoded [`Envelope`];
//! * `spaces`: `space id` → `1` for every hosted space;
//! * `snapshots`: `space id` → the space's judged-heads record (`Space::judged_heads`; a saved
//!   Automerge document in older stores), to load big spaces fast;
//! * `peers`: PeerId bytes → a multiaddr the peer listened on (the peer book);
//! * `credentials`: credential id → its JSON (credentials this node issued or holds);
//! * `trust`: issuer (`urn:tim:space:<id>` or a DID) → weight (f64, big-endian bytes);
//! * `tokens`: SHA-256 of an API token → its [`TokenInfo`] (JSON); the secret is never stored;
//! * `penalties`: PeerId bytes → the peer's strikes and the end of its ban
//!   ([`Penalty`](super::Penalty), 12 bytes), so a restart does not forgive a peer.
//! * `e2ee`: sealed end-to-end encryption records (`crate::e2ee::Sealed`): `k` ‖ timite
//!   key → its encryption keys; space id ‖ timite key → its group state of the space.
//! * `payloads`: space id (32) ‖ payload hash (32) → the bytes of a request's input or
//!   result held out of band (docs/abilities.md §14), stored only once they match the hash.
//! * `memory`: agents' memory entries (`crate::memory`): agent key ‖ layer ‖ scope ‖
//!   sequence → the entry (JSON), and the sequence counter.
//! * `agents`: the agents this node runs, their budget counters and bounded logs
//!   (`super::agents` has the layout).
//! * `sign_in_keys`: the keys each hosted timite allows to sign in as it
//!   (`super::sign_in_keys` has the layout).
//! * `people`: hosted timites' profiles and handles (`super::people` has the layout).
//! * `read_markers`: timite DID ‖ `0` ‖ space id (32) → the id of the last message the
//!   timite read in the space (`super::markers`): private to the reader, never in a document.
//!
//! Writes go to sled's log at once; [`Store::flush`] makes them durable (an fsync). The API
//! acknowledges a write only after a flush, so it survives `kill -9`; reads of a space's
//! content also answer only once what they show is durable. Changes from peers that nobody
//! has read yet reach the disk with sled's own flush, every 500 ms. The narrow method set is
//! the seam behind which the engine could change.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tim_protocol::api::TokenInfo;
use tim_protocol::payload::PayloadHash;
use tim_protocol::{ChangeHash, Envelope, SpaceId};
use tokio::sync::{mpsc, oneshot};

/// A storage error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// sled failed (I/O, corruption).
    #[error("storage: {0}")]
    Sled(#[from] sled::Error),
    /// A stored record does not decode.
    #[error("stored record is corrupt: {0}")]
    Corrupt(String),
    /// Making writes durable failed, or the flusher is gone.
    #[error("flushing to disk failed: {0}")]
    Flush(String),
    /// A write failure injected by a test (`test-utils`).
    #[error("write refused: {0}")]
    Injected(&'static str),
}

/// The node's database.
#[derive(Clone, Debug)]
pub struct Store {
    envelopes: sled::Tree,
    spaces: sled::Tree,
    snapshots: sled::Tree,
    peers: sled::Tree,
    /// Hosts of private spaces: space id (32 bytes) ++ PeerId bytes → nothing.
    private_hosts: sled::Tree,
    credentials: sled::Tree,
    trust: sled::Tree,
    tokens: sled::Tree,
    penalties: sled::Tree,
    e2ee: sled::Tree,
    payloads: sled::Tree,
    memory: sled::Tree,
    pub(super) agents: sled::Tree,
    pub(super) sign_in_keys: sled::Tree,
    pub(super) people: sled::Tree,
    pub(super) read_markers: sled::Tree,
    /// Set by tests (`test-utils`) to make change writes fail, as a full disk would.
    failing: Arc<AtomicBool>,
    /// Set by tests (`test-utils`) to make credential writes fail, as a crash between a
    /// change and the credential it delivers would leave them.
    failing_credentials: Arc<AtomicBool>,
    /// Flush requests, served by one thread that coalesces them (group commit).
    flusher: mpsc::Sender<Waiter>,
}

/// Someone waiting for a flush: called on the flush thread with its result.
type Waiter = Box<dyn FnOnce(Result<(), String>) + Send>;

/// How acknowledged writes reach the disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FlushMode {
    /// One `fsync` answers every flush request queued meanwhile (group commit).
    #[default]
    Group,
    /// One `fsync` per request (for comparison; slower under concurrency).
    Each,
}

/// Most envelopes in one sled batch (bounds the memory a batch holds; 100k envelopes stored
/// in ~0.9 s, ~9 µs each, the same rate as batches of 26k).
const PUT_BATCH: usize = 4096;

/// Most flush requests queued before callers wait for room.
const FLUSH_QUEUE: usize = 4096;

/// Serves flush requests until every [`Store`] clone is gone: each round takes every request
/// queued so far and answers them all with one `fsync`. (Concurrent `sled::Db::flush_async`
/// calls can exhaust sled's I/O threads and never finish: seen with 16 concurrent posters.)
fn flush_loop(db: sled::Db, mut requests: mpsc::Receiver<Waiter>, mode: FlushMode) {
    while let Some(first) = requests.blocking_recv() {
        let mut waiters = vec![first];
        if mode == FlushMode::Group {
            while let Ok(w) = requests.try_recv() {
                waiters.push(w);
            }
        }
        let result = db.flush().map(drop).map_err(|e| e.to_string());
        for w in waiters {
            w(result.clone());
        }
    }
}

fn envelope_key(space: &SpaceId, hash: &ChangeHash) -> [u8; 64] {
    let mut k = [0u8; 64];
    k[..32].copy_from_slice(space.as_bytes());
    k[32..].copy_from_slice(hash.as_bytes());
    k
}

impl Store {
    /// Opens (or creates) the database in `dir`, with group commit.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_with(dir, FlushMode::Group)
    }

    /// Opens (or creates) the database in `dir`.
    pub fn open_with(dir: &Path, mode: FlushMode) -> Result<Self, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            .flush_every_ms(Some(500))
            .open()?;
        let (flusher, requests) = mpsc::channel(FLUSH_QUEUE);
        let flushed = db.clone();
        std::thread::Builder::new()
            .name("tim-flush".into())
            .spawn(move || flush_loop(flushed, requests, mode))
            .map_err(|e| StoreError::Flush(format!("cannot start the flush thread: {e}")))?;
        Ok(Self {
            flusher,
            failing: Arc::default(),
            failing_credentials: Arc::default(),
            envelopes: db.open_tree("envelopes")?,
            spaces: db.open_tree("spaces")?,
            snapshots: db.open_tree("snapshots")?,
            peers: db.open_tree("peers")?,
            private_hosts: db.open_tree("private_hosts")?,
            credentials: db.open_tree("credentials")?,
            trust: db.open_tree("trust")?,
            tokens: db.open_tree("tokens")?,
            penalties: db.open_tree("penalties")?,
            e2ee: db.open_tree("e2ee")?,
            payloads: db.open_tree("payloads")?,
            memory: db.open_tree("memory")?,
            agents: db.open_tree("agents")?,
            sign_in_keys: db.open_tree("sign_in_keys")?,
            people: db.open_tree("people")?,
            read_markers: db.open_tree("read_markers")?,
        })
    }

    /// The tree of agents' memory (`crate::memory`).
    pub(crate) fn memory_tree(&self) -> &sled::Tree {
        &self.memory
    }

    /// Stores a payload of `space` held out of band, under its hash: the caller checked that
    /// `bytes` match it. Durable at the next flush.
    pub fn put_payload(
        &self,
        space: &SpaceId,
        hash: &PayloadHash,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        self.payloads
            .insert([space.as_bytes().as_slice(), &hash.0].concat(), bytes)?;
        Ok(())
    }

    /// The payload of `space` stored under `hash`, if any.
    pub fn payload(
        &self,
        space: &SpaceId,
        hash: &PayloadHash,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let key = [space.as_bytes().as_slice(), &hash.0].concat();
        Ok(self.payloads.get(key)?.map(|v| v.to_vec()))
    }

    /// Remembers an address of a peer.
    pub fn put_peer(&self, peer: &[u8], addr: &str) -> Result<(), StoreError> {
        self.peers.insert(peer, addr.as_bytes())?;
        Ok(())
    }

    /// Every remembered peer address.
    pub fn peers(&self) -> Result<Vec<String>, StoreError> {
        self.peers
            .iter()
            .values()
            .map(|v| Ok(String::from_utf8_lossy(&v?).into_owned()))
            .collect()
    }

    /// Stores a credential (JSON) under its id.
    pub fn put_credential(&self, id: &str, json: &[u8]) -> Result<(), StoreError> {
        if self.failing_credentials.load(Ordering::Relaxed) {
            return Err(StoreError::Injected(
                "credential writes fail (injected by a test)",
            ));
        }
        self.credentials.insert(id.as_bytes(), json)?;
        Ok(())
    }

    /// One stored credential.
    pub fn credential(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.credentials.get(id.as_bytes())?.map(|v| v.to_vec()))
    }

    /// Deletes a stored credential (a profile credential replaced by a newer one).
    pub fn remove_credential(&self, id: &str) -> Result<(), StoreError> {
        self.credentials.remove(id.as_bytes())?;
        Ok(())
    }

    /// Every stored credential.
    pub fn credentials(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        self.credentials
            .iter()
            .values()
            .map(|v| Ok(v?.to_vec()))
            .collect()
    }

    /// Sets (or, with `None`, removes) the weight given to an issuer.
    pub fn set_trust(&self, issuer: &str, weight: Option<f64>) -> Result<(), StoreError> {
        match weight {
            Some(w) => self.trust.insert(issuer.as_bytes(), &w.to_be_bytes())?,
            None => self.trust.remove(issuer.as_bytes())?,
        };
        Ok(())
    }

    /// The trust policy: every issuer with its weight.
    pub fn trust(&self) -> Result<Vec<(String, f64)>, StoreError> {
        self.trust
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                let bytes: [u8; 8] = v
                    .as_ref()
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("trust weight".into()))?;
                Ok((
                    String::from_utf8_lossy(&k).into_owned(),
                    f64::from_be_bytes(bytes),
                ))
            })
            .collect()
    }

    /// Records a token by the hash of its secret.
    pub fn put_token(&self, hash: &[u8; 32], info: &TokenInfo) -> Result<(), StoreError> {
        let json = serde_json::to_vec(info).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.tokens.insert(hash, json)?;
        Ok(())
    }

    /// The token whose secret has this hash.
    pub fn token(&self, hash: &[u8; 32]) -> Result<Option<TokenInfo>, StoreError> {
        self.tokens
            .get(hash)?
            .map(|v| serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt(e.to_string())))
            .transpose()
    }

    /// Every token, with the hash it is stored under.
    pub fn tokens(&self) -> Result<Vec<([u8; 32], TokenInfo)>, StoreError> {
        self.tokens
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                let hash = k
                    .as_ref()
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("token hash".into()))?;
                let info =
                    serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                Ok((hash, info))
            })
            .collect()
    }

    /// Forgets a token.
    pub fn remove_token(&self, hash: &[u8; 32]) -> Result<(), StoreError> {
        self.tokens.remove(hash)?;
        Ok(())
    }

    /// Makes writes of changes fail (or work again), as a full disk would: fault injection
    /// for tests.
    #[cfg(feature = "test-utils")]
    pub fn fail_writes(&self, on: bool) {
        self.failing.store(on, Ordering::Relaxed);
    }

    /// Makes writes of credentials fail (or work again), while changes are still written:
    /// fault injection for tests of delivery after a crash.
    #[cfg(feature = "test-utils")]
    pub fn fail_credential_writes(&self, on: bool) {
        self.failing_credentials.store(on, Ordering::Relaxed);
    }

    /// Makes every write so far durable. Concurrent callers share one `fsync`.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let gone = || StoreError::Flush("the store is closed".into());
        let (tx, rx) = oneshot::channel();
        let waiter: Waiter = Box::new(move |r| drop(tx.send(r)));
        self.flusher.send(waiter).await.map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?.map_err(StoreError::Flush)
    }

    /// Asks for a flush without waiting for it: `then` runs on the flush thread with the
    /// result, as soon as the flush is done (one thread hop fewer than awaiting [`Store::flush`]
    /// in a task). `then` must be quick; it may block briefly (e.g. on a bounded channel).
    pub fn flush_then(&self, then: impl FnOnce(Result<(), StoreError>) + Send + 'static) {
        let waiter: Waiter = Box::new(move |r| then(r.map_err(StoreError::Flush)));
        match self.flusher.try_send(waiter) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(waiter)) => {
                let flusher = self.flusher.clone();
                tokio::spawn(async move {
                    if let Err(mpsc::error::SendError(waiter)) = flusher.send(waiter).await {
                        // Detached: the waiter reports the closed store itself.
                        drop(tokio::task::spawn_blocking(move || {
                            waiter(Err("the store is closed".into()))
                        }));
                    }
                });
            }
            Err(mpsc::error::TrySendError::Closed(waiter)) => {
                // Detached: the waiter reports the closed store itself.
                drop(tokio::task::spawn_blocking(move || {
                    waiter(Err("the store is closed".into()))
                }));
            }
        }
    }
}

impl super::SpaceStore for Store {
    /// Records that this node hosts `space`.
    fn add_space(&self, space: &SpaceId) -> Result<(), StoreError> {
        self.spaces.insert(space.as_bytes(), &[1u8])?;
        Ok(())
    }

    /// Every hosted space.
    fn spaces(&self) -> Result<Vec<SpaceId>, StoreError> {
        self.spaces
            .iter()
            .keys()
            .map(|k| {
                let k = k?;
                SpaceId::try_from(k.as_ref()).map_err(|e| StoreError::Corrupt(e.to_string()))
            })
            .collect()
    }

    /// Stores verified envelopes, in sled batches of at most [`PUT_BATCH`] (not yet flushed).
    fn put_envelopes<'a>(
        &self,
        envelopes: &mut dyn Iterator<Item = (&'a ChangeHash, &'a Envelope)>,
    ) -> Result<(), StoreError> {
        if self.failing.load(Ordering::Relaxed) {
            return Err(StoreError::Injected(
                "the disk is full (injected by a test)",
            ));
        }
        let mut batch = sled::Batch::default();
        let mut queued = 0;
        for (hash, env) in envelopes {
            batch.insert(&envelope_key(&env.space, hash)[..], env.encode());
            queued += 1;
            if queued == PUT_BATCH {
                self.envelopes.apply_batch(std::mem::take(&mut batch))?;
                queued = 0;
            }
        }
        if queued > 0 {
            self.envelopes.apply_batch(batch)?;
        }
        Ok(())
    }

    /// Deletes stored envelopes of a space (changes found refused at restart).
    fn remove_envelopes(&self, space: &SpaceId, hashes: &[ChangeHash]) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for hash in hashes {
            batch.remove(&envelope_key(space, hash)[..]);
        }
        self.envelopes.apply_batch(batch)?;
        Ok(())
    }

    /// Every stored envelope of a space, with its change's hash (taken from the key).
    fn envelopes(&self, space: &SpaceId) -> Result<Vec<(ChangeHash, Envelope)>, StoreError> {
        self.envelopes
            .scan_prefix(space.as_bytes())
            .map(|kv| {
                let (k, v) = kv?;
                let hash: [u8; 32] = k[32..].try_into().map_err(|_| {
                    StoreError::Corrupt(format!("envelope key of {} bytes", k.len()))
                })?;
                let env = Envelope::decode(&v).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                Ok((ChangeHash::from(hash), env))
            })
            .collect()
    }

    /// Replaces a space's snapshot.
    fn put_snapshot(&self, space: &SpaceId, bytes: &[u8]) -> Result<(), StoreError> {
        self.snapshots.insert(space.as_bytes(), bytes)?;
        Ok(())
    }

    /// A space's snapshot, if any.
    fn snapshot(&self, space: &SpaceId) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.snapshots.get(space.as_bytes())?.map(|v| v.to_vec()))
    }

    /// Deletes everything stored about a space; returns how many changes were removed.
    fn put_private_host(&self, space: &SpaceId, peer: &[u8]) -> Result<(), StoreError> {
        self.private_hosts
            .insert([space.as_bytes(), peer].concat(), &[])?;
        Ok(())
    }

    fn remove_private_host(&self, space: &SpaceId, peer: &[u8]) -> Result<(), StoreError> {
        self.private_hosts
            .remove([space.as_bytes(), peer].concat())?;
        Ok(())
    }

    fn private_hosts(&self, space: &SpaceId) -> Result<Vec<Vec<u8>>, StoreError> {
        self.private_hosts
            .scan_prefix(space.as_bytes())
            .keys()
            .map(|k| Ok(k?[32..].to_vec()))
            .collect()
    }

    fn remove_space(&self, space: &SpaceId) -> Result<usize, StoreError> {
        for key in self.private_hosts.scan_prefix(space.as_bytes()).keys() {
            self.private_hosts.remove(key?)?;
        }
        let mut batch = sled::Batch::default();
        let mut n = 0;
        for key in self.envelopes.scan_prefix(space.as_bytes()).keys() {
            batch.remove(key?);
            n += 1;
        }
        self.envelopes.apply_batch(batch)?;
        self.snapshots.remove(space.as_bytes())?;
        self.spaces.remove(space.as_bytes())?;
        Ok(n)
    }

    fn put_penalty(&self, peer: &[u8], penalty: Option<super::Penalty>) -> Result<(), StoreError> {
        match penalty {
            Some(p) => drop(self.penalties.insert(peer, &p.encode())?),
            None => drop(self.penalties.remove(peer)?),
        }
        Ok(())
    }

    fn put_sealed(&self, key: &[u8], sealed: &[u8]) -> Result<(), StoreError> {
        self.e2ee.insert(key, sealed)?;
        Ok(())
    }

    fn sealed(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.e2ee.get(key)?.map(|v| v.to_vec()))
    }

    fn penalties(&self) -> Result<Vec<(Vec<u8>, super::Penalty)>, StoreError> {
        self.penalties
            .iter()
            .map(|r| {
                let (k, v) = r?;
                Ok((k.to_vec(), super::Penalty::decode(&v)?))
            })
            .collect()
    }
}
