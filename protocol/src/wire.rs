//! Protocol ids, topic names, size bounds and the sync messages.
//!
//! Byte-level layouts are in `docs/protocol.md`; this module is the source of truth for every
//! constant there.

use serde::{Deserialize, Serialize};

use crate::codec::{self, CodecError};
use crate::envelope::EnvelopeWire;
use crate::{Envelope, EnvelopeError, SpaceId};

/// Version of the envelope layout, its first CBOR element.
pub const ENVELOPE_VERSION: u64 = 1;
/// Version of the sync message layout, its first CBOR element.
pub const SYNC_VERSION: u64 = 1;

/// Largest Automerge change a node accepts, in bytes.
pub const MAX_CHANGE_BYTES: usize = 128 * 1024;
/// Largest encoded envelope: the change plus keys, signature and CBOR framing.
pub const MAX_ENVELOPE_BYTES: usize = MAX_CHANGE_BYTES + 256;
/// Largest gossipsub message (one envelope) and RPC frame.
pub const MAX_GOSSIP_BYTES: usize = MAX_ENVELOPE_BYTES + 1024;
/// Largest encoded sync request or response.
pub const MAX_SYNC_MESSAGE_BYTES: usize = 16 * 1024 * 1024;
/// A sender stops adding envelopes to a sync message once they total this many bytes; the rest
/// go in the next round.
pub const SYNC_ENVELOPE_BUDGET_BYTES: usize = 8 * 1024 * 1024;
/// Largest Automerge sync message (heads, needs and bloom filter, changes stripped).
pub const MAX_AUTOMERGE_SYNC_BYTES: usize = 4 * 1024 * 1024;
/// Longest message text, in bytes of UTF-8.
pub const MAX_TEXT_BYTES: usize = 16 * 1024;
/// Longest space name, in bytes of UTF-8.
pub const MAX_NAME_BYTES: usize = 200;
/// Longest space purpose, in bytes of UTF-8.
pub const MAX_PURPOSE_BYTES: usize = 2000;

/// The document-sync request-response protocol.
pub const SYNC_PROTOCOL: &str = "/tim/sync/1";
/// Tim's Kademlia protocol name (a private DHT of Tim nodes).
pub const KAD_PROTOCOL: &str = "/tim/kad/1";
/// The identify protocol version string.
pub const IDENTIFY_PROTOCOL: &str = "/tim/id/1";

/// One step of the Automerge sync protocol for one space, with the changes it carries as signed
/// envelopes.
///
/// `automerge` is an Automerge sync message (format v1) whose `changes` list is empty: the
/// changes travel instead as [`Envelope`]s so the receiver can check every signature. It is
/// absent in a response when the responder has nothing more to say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncMessage {
    /// The space being synced.
    pub space: SpaceId,
    /// The Automerge sync message with its changes stripped, if any.
    pub automerge: Option<Vec<u8>>,
    /// The changes the sender believes the receiver lacks.
    pub envelopes: Vec<Envelope>,
}

/// A response to a [`SyncMessage`] request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncResponse {
    /// The next step of the sync.
    Sync(SyncMessage),
    /// The responder does not host this space.
    UnknownSpace(SpaceId),
}

#[derive(Serialize, Deserialize)]
struct SyncWire(
    u64,
    #[serde(with = "serde_bytes")] Vec<u8>,
    Option<serde_bytes::ByteBuf>,
    Vec<EnvelopeWire>,
);

#[derive(Serialize, Deserialize)]
struct ResponseWire(u64, u8, SyncWire);

/// Why a sync message could not be decoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncDecodeError {
    /// Not CBOR of the right shape, or too large.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// A version this node does not speak.
    #[error("sync message version {0} is not supported (this node speaks {SYNC_VERSION})")]
    Version(u64),
    /// A field is malformed.
    #[error("invalid sync message: {0}")]
    Invalid(String),
    /// An envelope inside is malformed.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
}

impl SyncMessage {
    fn to_wire(&self) -> SyncWire {
        SyncWire(
            SYNC_VERSION,
            self.space.as_bytes().to_vec(),
            self.automerge.clone().map(serde_bytes::ByteBuf::from),
            self.envelopes.iter().map(Envelope::to_wire).collect(),
        )
    }

    fn from_wire(w: SyncWire) -> Result<Self, SyncDecodeError> {
        let SyncWire(version, space, automerge, envelopes) = w;
        if version != SYNC_VERSION {
            return Err(SyncDecodeError::Version(version));
        }
        let space = SpaceId::try_from(space.as_slice())
            .map_err(|e| SyncDecodeError::Invalid(format!("space: {e}")))?;
        let automerge = automerge.map(serde_bytes::ByteBuf::into_vec);
        if automerge
            .as_ref()
            .is_some_and(|a| a.len() > MAX_AUTOMERGE_SYNC_BYTES)
        {
            return Err(SyncDecodeError::Invalid(
                "automerge sync message too large".into(),
            ));
        }
        let envelopes = envelopes
            .into_iter()
            .map(Envelope::from_wire)
            .collect::<Result<_, _>>()?;
        Ok(Self {
            space,
            automerge,
            envelopes,
        })
    }

    /// Encodes as CBOR: `[1, space: bytes(32), automerge: bytes / null, [envelope…]]`.
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(&self.to_wire())
    }

    /// Decodes from untrusted bytes (at most [`MAX_SYNC_MESSAGE_BYTES`]).
    pub fn decode(bytes: &[u8]) -> Result<Self, SyncDecodeError> {
        Self::from_wire(codec::decode(bytes, MAX_SYNC_MESSAGE_BYTES)?)
    }
}

impl SyncResponse {
    /// Encodes as CBOR: `[1, status, sync message]`, status 0 = sync, 1 = unknown space (then
    /// the sync message is empty but names the space).
    pub fn encode(&self) -> Vec<u8> {
        let (status, msg) = match self {
            Self::Sync(m) => (0, m.to_wire()),
            Self::UnknownSpace(space) => (
                1,
                SyncMessage {
                    space: *space,
                    automerge: None,
                    envelopes: vec![],
                }
                .to_wire(),
            ),
        };
        codec::encode(&ResponseWire(SYNC_VERSION, status, msg))
    }

    /// Decodes from untrusted bytes (at most [`MAX_SYNC_MESSAGE_BYTES`]).
    pub fn decode(bytes: &[u8]) -> Result<Self, SyncDecodeError> {
        let ResponseWire(version, status, msg) = codec::decode(bytes, MAX_SYNC_MESSAGE_BYTES)?;
        if version != SYNC_VERSION {
            return Err(SyncDecodeError::Version(version));
        }
        let msg = SyncMessage::from_wire(msg)?;
        match status {
            0 => Ok(Self::Sync(msg)),
            1 => Ok(Self::UnknownSpace(msg.space)),
            other => Err(SyncDecodeError::Invalid(format!("unknown status {other}"))),
        }
    }
}

/// Version of the export signature bundle.
pub const EXPORT_VERSION: u64 = 1;
/// Largest export bundle accepted for import.
pub const MAX_EXPORT_BYTES: usize = 64 * 1024 * 1024;

/// The signature bundle written beside an exported Automerge document (`FILE.sigs`): every
/// change of the space as its signed envelope. CBOR: `[1, space: bytes(32), [envelope…]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportBundle {
    /// The space.
    pub space: SpaceId,
    /// Every change, signed.
    pub envelopes: Vec<Envelope>,
}

#[derive(Serialize, Deserialize)]
struct ExportWire(
    u64,
    #[serde(with = "serde_bytes")] Vec<u8>,
    Vec<EnvelopeWire>,
);

impl ExportBundle {
    /// Encodes as CBOR.
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(&ExportWire(
            EXPORT_VERSION,
            self.space.as_bytes().to_vec(),
            self.envelopes.iter().map(Envelope::to_wire).collect(),
        ))
    }

    /// Decodes from untrusted bytes (at most [`MAX_EXPORT_BYTES`]).
    pub fn decode(bytes: &[u8]) -> Result<Self, SyncDecodeError> {
        let ExportWire(version, space, envelopes) = codec::decode(bytes, MAX_EXPORT_BYTES)?;
        if version != EXPORT_VERSION {
            return Err(SyncDecodeError::Version(version));
        }
        let space = SpaceId::try_from(space.as_slice())
            .map_err(|e| SyncDecodeError::Invalid(format!("space: {e}")))?;
        let envelopes = envelopes
            .into_iter()
            .map(Envelope::from_wire)
            .collect::<Result<_, _>>()?;
        Ok(Self { space, envelopes })
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;

    use super::*;
    use crate::ChangeHash;

    #[test]
    fn sync_messages_round_trip() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let space = SpaceId::from([1; 32]);
        let env = Envelope::sign(space, vec![1, 2, 3], &ChangeHash::from([2; 32]), &key);
        let msg = SyncMessage {
            space,
            automerge: Some(vec![0x42, 1]),
            envelopes: vec![env],
        };
        assert_eq!(SyncMessage::decode(&msg.encode()).unwrap(), msg);
        let resp = SyncResponse::Sync(msg);
        assert_eq!(SyncResponse::decode(&resp.encode()).unwrap(), resp);
        let unknown = SyncResponse::UnknownSpace(space);
        assert_eq!(SyncResponse::decode(&unknown.encode()).unwrap(), unknown);
        assert!(SyncMessage::decode(&[0xa0]).is_err());
        let mut trailing = unknown.encode();
        trailing.push(0);
        assert!(matches!(
            SyncResponse::decode(&trailing),
            Err(SyncDecodeError::Codec(CodecError::TrailingBytes(1)))
        ));
    }

    fn sample() -> SyncMessage {
        let key = SigningKey::from_bytes(&[3; 32]);
        let space = SpaceId::from([1; 32]);
        SyncMessage {
            space,
            automerge: Some(vec![0x42, 0, 1, 2]),
            envelopes: vec![Envelope::sign(
                space,
                vec![9; 40],
                &ChangeHash::from([2; 32]),
                &key,
            )],
        }
    }

    proptest::proptest! {
        /// Flipping any byte of valid messages, or feeding random bytes, never panics a decoder.
        #[test]
        fn decoders_never_panic_on_mutated_or_random_input(
            pos in 0usize..4096,
            bit in 0u8..8,
            random in proptest::collection::vec(0u8..=255, 0..256),
        ) {
            let msg = sample();
            let bundle = ExportBundle { space: msg.space, envelopes: msg.envelopes.clone() };
            for valid in [
                msg.encode(),
                SyncResponse::Sync(msg.clone()).encode(),
                bundle.encode(),
            ] {
                let mut bytes = valid.clone();
                let i = pos % bytes.len();
                bytes[i] ^= 1 << bit;
                let _ = SyncMessage::decode(&bytes);
                let _ = SyncResponse::decode(&bytes);
                let _ = ExportBundle::decode(&bytes);
                let _ = Envelope::decode(&bytes[..i]);
            }
            let _ = SyncMessage::decode(&random);
            let _ = SyncResponse::decode(&random);
            let _ = ExportBundle::decode(&random);
        }
    }

    #[test]
    fn export_bundle_round_trips_and_refuses_other_versions() {
        let msg = sample();
        let bundle = ExportBundle {
            space: msg.space,
            envelopes: msg.envelopes,
        };
        assert_eq!(ExportBundle::decode(&bundle.encode()).unwrap(), bundle);
        let wire = ExportWire(2, bundle.space.as_bytes().to_vec(), vec![]);
        assert!(matches!(
            ExportBundle::decode(&codec::encode(&wire)),
            Err(SyncDecodeError::Version(2))
        ));
    }
}
