//! [`MemStore`]: the store of a simulated node. It keeps what was written and, apart, what
//! was flushed, so that a simulated crash loses exactly what a `kill -9` would.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use tim_protocol::{ChangeHash, Envelope, SpaceId};

use super::{Penalty, SpaceStore, StoreError};

#[derive(Debug, Clone, Default)]
struct Data {
    spaces: BTreeSet<SpaceId>,
    envelopes: BTreeMap<(SpaceId, ChangeHash), Envelope>,
    snapshots: BTreeMap<SpaceId, Vec<u8>>,
    private_hosts: BTreeSet<(SpaceId, Vec<u8>)>,
    penalties: BTreeMap<Vec<u8>, Penalty>,
    sealed: BTreeMap<Vec<u8>, Vec<u8>>,
}

#[derive(Debug, Default)]
struct Inner {
    written: Data,
    flushed: Data,
    failing: bool,
}

/// An in-memory store (cheap to clone: clones share it).
#[derive(Debug, Clone, Default)]
pub struct MemStore {
    inner: Arc<Mutex<Inner>>,
}

impl MemStore {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere while holding the lock leaves plain data behind: still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes every write so far durable.
    pub fn flush(&self) {
        let mut inner = self.lock();
        inner.flushed = inner.written.clone();
    }

    /// The store a node finds after a crash: what was flushed, nothing after it.
    pub fn after_crash(&self) -> Self {
        let flushed = self.lock().flushed.clone();
        Self {
            inner: Arc::new(Mutex::new(Inner {
                written: flushed.clone(),
                flushed,
                failing: false,
            })),
        }
    }

    /// Makes writes of changes fail (or work again), as a full disk would.
    pub fn fail_writes(&self, on: bool) {
        self.lock().failing = on;
    }
}

impl SpaceStore for MemStore {
    fn add_space(&self, space: &SpaceId) -> Result<(), StoreError> {
        self.lock().written.spaces.insert(*space);
        Ok(())
    }

    fn spaces(&self) -> Result<Vec<SpaceId>, StoreError> {
        Ok(self.lock().written.spaces.iter().copied().collect())
    }

    fn put_envelopes<'a>(
        &self,
        envelopes: &mut dyn Iterator<Item = (&'a ChangeHash, &'a Envelope)>,
    ) -> Result<(), StoreError> {
        let mut inner = self.lock();
        if inner.failing {
            return Err(StoreError::Injected("the disk is full (simulated)"));
        }
        for (hash, env) in envelopes {
            inner
                .written
                .envelopes
                .insert((env.space, *hash), env.clone());
        }
        Ok(())
    }

    fn remove_envelopes(&self, space: &SpaceId, hashes: &[ChangeHash]) -> Result<(), StoreError> {
        let mut inner = self.lock();
        for h in hashes {
            inner.written.envelopes.remove(&(*space, *h));
        }
        Ok(())
    }

    fn envelopes(&self, space: &SpaceId) -> Result<Vec<(ChangeHash, Envelope)>, StoreError> {
        Ok(self
            .lock()
            .written
            .envelopes
            .range((*space, ChangeHash::from([0; 32]))..=(*space, ChangeHash::from([0xff; 32])))
            .map(|((_, h), e)| (*h, e.clone()))
            .collect())
    }

    fn put_snapshot(&self, space: &SpaceId, bytes: &[u8]) -> Result<(), StoreError> {
        self.lock().written.snapshots.insert(*space, bytes.to_vec());
        Ok(())
    }

    fn snapshot(&self, space: &SpaceId) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.lock().written.snapshots.get(space).cloned())
    }

    fn put_private_host(&self, space: &SpaceId, peer: &[u8]) -> Result<(), StoreError> {
        self.lock()
            .written
            .private_hosts
            .insert((*space, peer.to_vec()));
        Ok(())
    }

    fn remove_private_host(&self, space: &SpaceId, peer: &[u8]) -> Result<(), StoreError> {
        self.lock()
            .written
            .private_hosts
            .remove(&(*space, peer.to_vec()));
        Ok(())
    }

    fn private_hosts(&self, space: &SpaceId) -> Result<Vec<Vec<u8>>, StoreError> {
        Ok(self
            .lock()
            .written
            .private_hosts
            .iter()
            .filter(|(s, _)| s == space)
            .map(|(_, p)| p.clone())
            .collect())
    }

    fn remove_space(&self, space: &SpaceId) -> Result<usize, StoreError> {
        let mut inner = self.lock();
        inner.written.private_hosts.retain(|(s, _)| s != space);
        let before = inner.written.envelopes.len();
        inner.written.envelopes.retain(|(s, _), _| s != space);
        inner.written.snapshots.remove(space);
        inner.written.spaces.remove(space);
        Ok(before - inner.written.envelopes.len())
    }

    fn put_penalty(&self, peer: &[u8], penalty: Option<Penalty>) -> Result<(), StoreError> {
        let mut inner = self.lock();
        match penalty {
            Some(p) => drop(inner.written.penalties.insert(peer.to_vec(), p)),
            None => drop(inner.written.penalties.remove(peer)),
        }
        Ok(())
    }

    fn put_sealed(&self, key: &[u8], sealed: &[u8]) -> Result<(), StoreError> {
        self.lock()
            .written
            .sealed
            .insert(key.to_vec(), sealed.to_vec());
        Ok(())
    }

    fn sealed(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.lock().written.sealed.get(key).cloned())
    }

    fn penalties(&self) -> Result<Vec<(Vec<u8>, Penalty)>, StoreError> {
        let inner = self.lock();
        Ok(inner
            .written
            .penalties
            .iter()
            .map(|(k, p)| (k.clone(), *p))
            .collect())
    }
}
