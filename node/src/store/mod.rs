//! Storage. The engine keeps spaces through the [`SpaceStore`] trait: the node runs it on sled
//! ([`Store`], which also keeps the peer book, credentials, trust and tokens), the simulator
//! on [`MemStore`], which can lose what was not flushed when a simulated node crashes.

mod agents;
mod markers;
mod mem;
mod people;
mod sign_in_keys;
mod sled;

pub(crate) use self::agents::{AgentRecord, Counters, MAX_AGENT_LOG};
pub use self::mem::MemStore;
pub(crate) use self::people::StoredProfile;
pub use self::sled::{FlushMode, Store, StoreError};

use tim_protocol::{ChangeHash, Envelope, SpaceId};

/// What the engine needs of a store: the changes and snapshots of hosted spaces. Writes go
/// to a log at once and become durable at the next flush, which the engine asks for as an
/// output (`Output::Flush`) and learns of as an input: flushing is the one slow part, done
/// off the engine.
pub trait SpaceStore {
    /// Records that this node hosts `space`.
    fn add_space(&self, space: &SpaceId) -> Result<(), StoreError>;
    /// Every hosted space.
    fn spaces(&self) -> Result<Vec<SpaceId>, StoreError>;
    /// Stores verified envelopes (not yet flushed).
    fn put_envelopes<'a>(
        &self,
        envelopes: &mut dyn Iterator<Item = (&'a ChangeHash, &'a Envelope)>,
    ) -> Result<(), StoreError>;
    /// Deletes stored envelopes of a space.
    fn remove_envelopes(&self, space: &SpaceId, hashes: &[ChangeHash]) -> Result<(), StoreError>;
    /// Every stored envelope of a space, with its change's hash.
    fn envelopes(&self, space: &SpaceId) -> Result<Vec<(ChangeHash, Envelope)>, StoreError>;
    /// Replaces a space's snapshot.
    fn put_snapshot(&self, space: &SpaceId, bytes: &[u8]) -> Result<(), StoreError>;
    /// A space's snapshot, if any.
    fn snapshot(&self, space: &SpaceId) -> Result<Option<Vec<u8>>, StoreError>;
    /// Records that the node `peer` (PeerId bytes) showed a valid access to the private space
    /// `space`, so that this node syncs it with that peer after a restart
    /// (`docs/privacy.md`).
    fn put_private_host(&self, space: &SpaceId, peer: &[u8]) -> Result<(), StoreError>;
    /// Forgets a private space's host (its access no longer holds).
    fn remove_private_host(&self, space: &SpaceId, peer: &[u8]) -> Result<(), StoreError>;
    /// The recorded hosts of a private space (PeerId bytes).
    fn private_hosts(&self, space: &SpaceId) -> Result<Vec<Vec<u8>>, StoreError>;
    /// Deletes everything stored about a space; returns how many changes were removed.
    fn remove_space(&self, space: &SpaceId) -> Result<usize, StoreError>;
    /// Records a peer's strikes and ban (by its PeerId bytes), or forgets them (`None`).
    fn put_penalty(&self, peer: &[u8], penalty: Option<Penalty>) -> Result<(), StoreError>;
    /// Every peer with strikes or a ban.
    fn penalties(&self) -> Result<Vec<(Vec<u8>, Penalty)>, StoreError>;
    /// Replaces a sealed end-to-end encryption record (a timite's keys, or its group state of
    /// a space: `crate::e2ee`), written like changes: durable at the next flush.
    fn put_sealed(&self, key: &[u8], sealed: &[u8]) -> Result<(), StoreError>;
    /// A sealed record, if any.
    fn sealed(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
}

/// What a peer has against it: invalid things it served by sync, and when its ban ends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Penalty {
    /// Strikes since its last ban.
    pub strikes: u32,
    /// End of its ban (milliseconds since the Unix epoch); 0 if not banned.
    pub banned_until: u64,
}

impl Penalty {
    /// Stored form: strikes (u32) then the ban's end (u64), big-endian.
    pub(crate) fn encode(&self) -> [u8; 12] {
        let mut b = [0u8; 12];
        b[..4].copy_from_slice(&self.strikes.to_be_bytes());
        b[4..].copy_from_slice(&self.banned_until.to_be_bytes());
        b
    }

    /// Reads the stored form.
    pub(crate) fn decode(b: &[u8]) -> Result<Self, StoreError> {
        let b: [u8; 12] = b
            .try_into()
            .map_err(|_| StoreError::Corrupt(format!("a peer penalty of {} bytes", b.len())))?;
        let (strikes, until) = b.split_at(4);
        Ok(Self {
            strikes: u32::from_be_bytes(strikes.try_into().expect("4 bytes")),
            banned_until: u64::from_be_bytes(until.try_into().expect("8 bytes")),
        })
    }
}
