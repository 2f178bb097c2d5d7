//! The Automerge sync protocol, with changes carried as signed envelopes.
//!
//! Automerge's sync messages exchange heads, needs and a Bloom filter of what each side has,
//! then the changes the other side lacks. Tim keeps the first part as is and moves the changes
//! out: each is sent as its [`Envelope`], and the Automerge message travels with an empty change
//! list. The receiver passes every envelope through [`Space::ingest`] (so a synced change is
//! checked exactly like a gossiped one) and then feeds the stripped message to its sync state.
//!
//! Both sides always send format-v1 messages without capability flags, so the peer never
//! switches to v2 "whole document" messages, which would carry unsigned changes.

use automerge::sync::{ChunkList, Message, MessageVersion, SyncDoc};
use automerge::Change;
use tim_protocol::wire::{SyncMessage, SYNC_ENVELOPE_BUDGET_BYTES};
use tim_protocol::Did;

use crate::space::Applied;
use crate::{Rejection, Space, SpaceError, SyncState};

/// What one received sync message did.
#[derive(Debug, Default)]
pub struct SyncReceived {
    /// Changes applied, in order.
    pub applied: Vec<Applied>,
    /// Envelopes refused, with their authors.
    pub rejected: Vec<(Did, Rejection)>,
    /// Envelopes that were already here.
    pub duplicates: usize,
}

impl Space {
    /// The next sync message for a peer, or `None` if there is nothing to say. Envelopes beyond
    /// [`SYNC_ENVELOPE_BUDGET_BYTES`] are left for the next round.
    pub fn generate_sync(&self, state: &mut SyncState) -> Option<SyncMessage> {
        let mut msg = self.doc().generate_sync_message(state)?;
        let chunks = std::mem::replace(&mut msg.changes, ChunkList::empty());
        let mut envelopes = Vec::new();
        let mut bytes = 0;
        for chunk in chunks.iter() {
            let Ok(change) = Change::from_bytes(chunk.to_vec()) else {
                continue;
            };
            let envelope = (bytes < SYNC_ENVELOPE_BUDGET_BYTES)
                .then(|| self.envelope_of(&change))
                .flatten();
            match envelope {
                Some(env) => {
                    bytes += env.change.len();
                    envelopes.push(env);
                }
                // Over budget (or unknown): not sent, so forget having sent it.
                None => {
                    state.sent_hashes.remove(&change.hash());
                }
            }
        }
        let missing = self.pending_missing();
        if !missing.is_empty() {
            msg.need.extend(missing);
            // Automerge's encoder requires sorted, unique hashes.
            msg.need.sort();
            msg.need.dedup();
        }
        msg.supported_capabilities = None;
        msg.version = MessageVersion::V1;
        Some(SyncMessage {
            space: self.id(),
            automerge: Some(msg.encode()),
            envelopes,
            access: None,
        })
    }

    /// Takes in a peer's sync message: every envelope goes through [`Space::ingest`], then the
    /// stripped Automerge message updates `state`.
    pub fn receive_sync(
        &mut self,
        state: &mut SyncState,
        msg: SyncMessage,
    ) -> Result<SyncReceived, SpaceError> {
        if msg.space != self.id() {
            return Err(SpaceError::Refused(Rejection::WrongSpace {
                expected: self.id(),
                got: msg.space,
            }));
        }
        let am = match &msg.automerge {
            Some(bytes) => {
                let mut m = Message::decode(bytes)
                    .map_err(|e| SpaceError::Invalid(format!("automerge sync message: {e}")))?;
                if m.version != MessageVersion::V1 {
                    return Err(SpaceError::Invalid(
                        "automerge sync messages must be format v1".into(),
                    ));
                }
                if !m.changes.is_empty() {
                    return Err(SpaceError::Invalid(
                        "an automerge sync message must not carry changes; send envelopes".into(),
                    ));
                }
                m.supported_capabilities = None;
                Some(m)
            }
            None => None,
        };
        let batch = self.ingest_batch(msg.envelopes);
        let out = SyncReceived {
            applied: batch.applied,
            rejected: batch.rejected,
            duplicates: batch.duplicates,
        };
        if let Some(m) = am {
            self.doc_mut().receive_sync_message(state, m)?;
        }
        Ok(out)
    }
}
