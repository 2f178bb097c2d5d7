//! What a node keeps for one hosted timite in one encrypted space (docs/privacy.md §4.3,
//! §4.7): its [`Group`], which control messages of the space it has taken in, those that
//! wait for its welcome, and the key bundles it gave the group; and the plaintext layout of
//! a message.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;
use sha2::{Digest, Sha256};
use tim_protocol::codec;
use tim_protocol::{ChangeHash, Did, SpaceId};

use super::{E2eeError, Group, MAX_STATE_BYTES};

const VERSION: u8 = 1;

/// One hosted timite's encryption state of one space.
#[derive(Debug)]
pub struct MemberState {
    /// The group.
    pub group: Group,
    /// Control messages (by id) taken in: processed, made here, waiting, or refused.
    pub processed: BTreeSet<String>,
    /// Control messages that came before this member's welcome, to process after it if they
    /// are concurrent with it.
    pub waiting: Vec<String>,
    /// The bundle bytes given to the group for each member.
    pub bundles: BTreeMap<Did, Vec<u8>>,
    /// Concurrent membership operations were seen (rule (a) of docs/privacy.md §3.3): an
    /// update is due from the member [`super::update_issuer`] names.
    pub update_due: Option<Vec<Did>>,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    v: u8,
    group: ByteBuf,
    processed: Vec<String>,
    waiting: Vec<String>,
    bundles: Vec<(Did, ByteBuf)>,
    update_due: Option<Vec<Did>>,
}

impl MemberState {
    /// A state around a fresh group.
    pub fn new(group: Group) -> Self {
        Self {
            group,
            processed: BTreeSet::new(),
            waiting: Vec::new(),
            bundles: BTreeMap::new(),
            update_due: None,
        }
    }

    /// The state as bytes (to be sealed before it is stored).
    pub fn to_bytes(&self) -> Result<Vec<u8>, E2eeError> {
        Ok(codec::encode(&Stored {
            v: VERSION,
            group: ByteBuf::from(self.group.to_bytes()?),
            processed: self.processed.iter().cloned().collect(),
            waiting: self.waiting.clone(),
            bundles: self
                .bundles
                .iter()
                .map(|(d, b)| (*d, ByteBuf::from(b.clone())))
                .collect(),
            update_due: self.update_due.clone(),
        }))
    }

    /// Reads [`MemberState::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, E2eeError> {
        let s: Stored =
            codec::decode(bytes, MAX_STATE_BYTES).map_err(|source| E2eeError::Malformed {
                what: "member state",
                source,
            })?;
        if s.v != VERSION {
            return Err(E2eeError::UnsupportedVersion {
                what: "member state",
                version: s.v,
            });
        }
        Ok(Self {
            group: Group::from_bytes(&s.group)?,
            processed: s.processed.into_iter().collect(),
            waiting: s.waiting,
            bundles: s
                .bundles
                .into_iter()
                .map(|(d, b)| (d, b.into_vec()))
                .collect(),
            update_due: s.update_due,
        })
    }
}

/// The operation id the key agreement knows a control message by: a hash of its id (the
/// object id of its `group` element, the same on every node).
pub fn op_id(control: &str) -> ChangeHash {
    let mut h = Sha256::new();
    h.update(b"tim/e2ee/op/v1\0");
    h.update(control.as_bytes());
    ChangeHash::from(<[u8; 32]>::from(h.finalize()))
}

/// The plaintext of an encrypted message (docs/privacy.md §4.1): its text and the clear
/// fields it is bound to, since the cipher takes no associated data. A reader refuses a
/// plaintext whose author, space or time differ from the message's clear fields, so nobody
/// re-posts another's ciphertext as their own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Body {
    /// The text.
    pub text: String,
    /// The author.
    pub author: Did,
    /// The space.
    pub space: SpaceId,
    /// The time on the message, milliseconds since the Unix epoch.
    pub at: u64,
}

impl Body {
    /// CBOR bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Reads a decrypted plaintext and checks it against the message's clear fields.
    pub fn open(bytes: &[u8], author: &Did, space: &SpaceId, at: u64) -> Result<String, String> {
        let body: Body = codec::decode(bytes, super::MAX_CIPHERTEXT_BYTES)
            .map_err(|e| format!("the decrypted message does not decode: {e}"))?;
        if body.author != *author || body.space != *space || body.at != at {
            return Err(
                "the decrypted message names another author, space or time: it was re-posted"
                    .into(),
            );
        }
        Ok(body.text)
    }
}
