//! Protocol ids, topic names, size bounds and the sync messages.
//!
//! Byte-level layouts are in `docs/protocol.md`; this module is the source of truth for every
//! constant there.

use serde::{Deserialize, Serialize};

use crate::codec::{self, CodecError};
use crate::envelope::EnvelopeWire;
use crate::{Did, Envelope, EnvelopeError, SpaceId, SyncAccess};

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
    /// For a private space, a timite's word that the sending node may sync it
    /// ([`SyncAccess`]); `None` for a public one.
    pub access: Option<SyncAccess>,
}

impl SyncMessage {
    /// A message with nothing to say about `space`.
    pub fn empty(space: SpaceId) -> Self {
        Self {
            space,
            automerge: None,
            envelopes: vec![],
            access: None,
        }
    }
}

/// A response to a [`SyncMessage`] request.
///
/// On the wire (`docs/protocol.md`, section 7.3) a response is `[1, status, sync message]`, with
/// a fourth element, the reason code, when the status is [`SyncResponse::STATUS_REFUSED`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncResponse {
    /// The next step of the sync (its message is empty when the responder has nothing to say).
    Sync(SyncMessage),
    /// The responder does not host this space.
    UnknownSpace(SpaceId),
    /// The responder hosts the space but could not process the request (see
    /// [`RefusalReason`]). The requester ends its session.
    Refused {
        /// The space named by the request.
        space: SpaceId,
        /// Why.
        reason: RefusalReason,
    },
}

/// Why a responder refused a sync request: the fourth element of a refused [`SyncResponse`],
/// an unsigned CBOR integer.
///
/// Codes this node does not know decode as [`RefusalReason::Other`], so new codes can be added
/// without breaking older decoders; a receiver treats every refusal alike (it ends the session).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefusalReason {
    /// Code 0: no reason given.
    Unspecified,
    /// Code 1: the request decoded but its content is refused: its `automerge` part does not
    /// decode as an Automerge sync message, is not format v1, or carries changes. Nothing in
    /// it was applied and the responder's sync state did not move.
    Malformed,
    /// Code 2: the request is well formed but the responder failed while processing it (its
    /// Automerge sync state refused the message, after the envelopes were ingested).
    Internal,
    /// Any other code, kept as received.
    Other(u64),
}

impl RefusalReason {
    /// The reason's code on the wire.
    pub fn code(self) -> u64 {
        match self {
            Self::Unspecified => 0,
            Self::Malformed => 1,
            Self::Internal => 2,
            Self::Other(c) => c,
        }
    }

    /// The reason with this code on the wire.
    pub fn from_code(code: u64) -> Self {
        match code {
            0 => Self::Unspecified,
            1 => Self::Malformed,
            2 => Self::Internal,
            c => Self::Other(c),
        }
    }
}

impl std::fmt::Display for RefusalReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unspecified => f.write_str("unspecified"),
            Self::Malformed => f.write_str("malformed request"),
            Self::Internal => f.write_str("responder failed to process the request"),
            Self::Other(c) => write!(f, "reason code {c}"),
        }
    }
}

/// `[version, space, automerge, envelopes]`, plus `access` as a fifth element when present
/// (a private space's sync; `docs/protocol.md` section 7.2). Older nodes know only the
/// 4-element form.
struct SyncWire {
    version: u64,
    space: serde_bytes::ByteBuf,
    automerge: Option<serde_bytes::ByteBuf>,
    envelopes: Vec<EnvelopeWire>,
    access: Option<(serde_bytes::ByteBuf, serde_bytes::ByteBuf)>,
}

impl Serialize for SyncWire {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let mut t = s.serialize_tuple(if self.access.is_some() { 5 } else { 4 })?;
        t.serialize_element(&self.version)?;
        t.serialize_element(&self.space)?;
        t.serialize_element(&self.automerge)?;
        t.serialize_element(&self.envelopes)?;
        if let Some(access) = &self.access {
            t.serialize_element(access)?;
        }
        t.end()
    }
}

impl<'de> Deserialize<'de> for SyncWire {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = SyncWire;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a sync message: an array of 4 or 5 elements")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<SyncWire, A::Error> {
                use serde::de::Error;
                let version = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::invalid_length(0, &self))?;
                let space = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::invalid_length(1, &self))?;
                let automerge = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::invalid_length(2, &self))?;
                let envelopes = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::invalid_length(3, &self))?;
                let access = seq.next_element()?;
                if seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    return Err(A::Error::invalid_length(6, &self));
                }
                Ok(SyncWire {
                    version,
                    space,
                    automerge,
                    envelopes,
                    access,
                })
            }
        }
        d.deserialize_seq(Visitor)
    }
}

/// `[version, status, sync message]`, plus `reason` as a fourth element when present (status
/// 2 only). Older nodes know only the 3-element form.
struct ResponseWire {
    version: u64,
    status: u8,
    msg: SyncWire,
    reason: Option<u64>,
}

impl Serialize for ResponseWire {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let mut t = s.serialize_tuple(if self.reason.is_some() { 4 } else { 3 })?;
        t.serialize_element(&self.version)?;
        t.serialize_element(&self.status)?;
        t.serialize_element(&self.msg)?;
        if let Some(reason) = &self.reason {
            t.serialize_element(reason)?;
        }
        t.end()
    }
}

impl<'de> Deserialize<'de> for ResponseWire {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = ResponseWire;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a sync response: an array of 3 or 4 elements")
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                use serde::de::Error;
                let version = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::invalid_length(0, &self))?;
                let status = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::invalid_length(1, &self))?;
                let msg = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::invalid_length(2, &self))?;
                let reason = seq.next_element()?;
                if seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    return Err(A::Error::invalid_length(5, &self));
                }
                Ok(ResponseWire {
                    version,
                    status,
                    msg,
                    reason,
                })
            }
        }
        d.deserialize_seq(Visitor)
    }
}

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
        SyncWire {
            version: SYNC_VERSION,
            space: serde_bytes::ByteBuf::from(self.space.as_bytes().to_vec()),
            automerge: self.automerge.clone().map(serde_bytes::ByteBuf::from),
            envelopes: self.envelopes.iter().map(Envelope::to_wire).collect(),
            access: self.access.as_ref().map(|a| {
                (
                    serde_bytes::ByteBuf::from(a.timite.public_bytes().to_vec()),
                    serde_bytes::ByteBuf::from(a.signature.to_vec()),
                )
            }),
        }
    }

    fn from_wire(w: SyncWire) -> Result<Self, SyncDecodeError> {
        let SyncWire {
            version,
            space,
            automerge,
            envelopes,
            access,
        } = w;
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
        let access = access
            .map(|(timite, signature)| {
                let timite = Did::from_public_bytes(&timite)
                    .map_err(|e| SyncDecodeError::Invalid(format!("access timite: {e}")))?;
                let signature = <[u8; 64]>::try_from(signature.as_slice()).map_err(|_| {
                    SyncDecodeError::Invalid(format!(
                        "access signature: expected 64 bytes, got {}",
                        signature.len()
                    ))
                })?;
                Ok::<_, SyncDecodeError>(SyncAccess { timite, signature })
            })
            .transpose()?;
        Ok(Self {
            space,
            automerge,
            envelopes,
            access,
        })
    }

    /// Encodes as CBOR: `[1, space: bytes(32), automerge: bytes / null, [envelope…]]`, with
    /// `[timite: bytes(32), signature: bytes(64)]` as a fifth element when it carries an access.
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(&self.to_wire())
    }

    /// Decodes from untrusted bytes (at most [`MAX_SYNC_MESSAGE_BYTES`]).
    pub fn decode(bytes: &[u8]) -> Result<Self, SyncDecodeError> {
        Self::from_wire(codec::decode(bytes, MAX_SYNC_MESSAGE_BYTES)?)
    }
}

impl SyncResponse {
    /// Status 0: the third element is the next step of the sync.
    pub const STATUS_SYNC: u8 = 0;
    /// Status 1: the responder does not host the space.
    pub const STATUS_UNKNOWN_SPACE: u8 = 1;
    /// Status 2: the responder refused the request; a fourth element gives the reason code.
    pub const STATUS_REFUSED: u8 = 2;

    /// The space the response is about.
    pub fn space(&self) -> SpaceId {
        match self {
            Self::Sync(m) => m.space,
            Self::UnknownSpace(space) | Self::Refused { space, .. } => *space,
        }
    }

    /// Encodes as CBOR: `[1, status, sync message]`, status 0 = sync, 1 = unknown space (the
    /// sync message is then empty but names the space), or `[1, 2, sync message, reason]` for
    /// a refusal (the sync message again empty, naming the space).
    pub fn encode(&self) -> Vec<u8> {
        let empty = |space: SpaceId| SyncMessage::empty(space).to_wire();
        let (status, msg, reason) = match self {
            Self::Sync(m) => (Self::STATUS_SYNC, m.to_wire(), None),
            Self::UnknownSpace(space) => (Self::STATUS_UNKNOWN_SPACE, empty(*space), None),
            Self::Refused { space, reason } => {
                (Self::STATUS_REFUSED, empty(*space), Some(reason.code()))
            }
        };
        codec::encode(&ResponseWire {
            version: SYNC_VERSION,
            status,
            msg,
            reason,
        })
    }

    /// Decodes from untrusted bytes (at most [`MAX_SYNC_MESSAGE_BYTES`]).
    pub fn decode(bytes: &[u8]) -> Result<Self, SyncDecodeError> {
        let ResponseWire {
            version,
            status,
            msg,
            reason,
        } = codec::decode(bytes, MAX_SYNC_MESSAGE_BYTES)?;
        if version != SYNC_VERSION {
            return Err(SyncDecodeError::Version(version));
        }
        let msg = SyncMessage::from_wire(msg)?;
        match (status, reason) {
            (Self::STATUS_SYNC, None) => Ok(Self::Sync(msg)),
            (Self::STATUS_UNKNOWN_SPACE, None) => Ok(Self::UnknownSpace(msg.space)),
            (Self::STATUS_REFUSED, Some(code)) => Ok(Self::Refused {
                space: msg.space,
                reason: RefusalReason::from_code(code),
            }),
            (Self::STATUS_REFUSED, None) => Err(SyncDecodeError::Invalid(
                "a refusal (status 2) needs a reason code as its fourth element".into(),
            )),
            (Self::STATUS_SYNC | Self::STATUS_UNKNOWN_SPACE, Some(_)) => Err(
                SyncDecodeError::Invalid(format!("status {status} takes exactly 3 elements")),
            ),
            (other, _) => Err(SyncDecodeError::Invalid(format!("unknown status {other}"))),
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
            access: None,
        };
        assert_eq!(SyncMessage::decode(&msg.encode()).unwrap(), msg);
        // With an access: a fifth element, [timite key, signature].
        let with_access = SyncMessage {
            access: Some(SyncAccess::sign(&key, &space, b"a peer")),
            ..msg.clone()
        };
        let bytes = with_access.encode();
        assert_eq!(bytes[0], 0x85);
        assert_eq!(SyncMessage::decode(&bytes).unwrap(), with_access);
        // A signature of the wrong length, or a key that is not one, is refused.
        let mut wire = with_access.to_wire();
        wire.access.as_mut().unwrap().1.pop();
        assert!(SyncMessage::decode(&codec::encode(&wire)).is_err());
        let mut wire = with_access.to_wire();
        wire.access.as_mut().unwrap().0 = serde_bytes::ByteBuf::from(vec![0; 31]);
        assert!(SyncMessage::decode(&codec::encode(&wire)).is_err());
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

    /// The exact bytes of each response form (docs/protocol.md, section 7.3), decoded from
    /// literal hex so that responses written by older nodes keep decoding.
    #[test]
    fn response_forms_have_the_documented_bytes() {
        let space = SpaceId::from([0xab; 32]);
        // An empty SyncMessage naming the space: [1, bytes(32), null, []].
        let body = format!("84015820{}f680", "ab".repeat(32));
        let cases = [
            (
                SyncResponse::Sync(SyncMessage::empty(space)),
                format!("830100{body}"),
            ),
            (SyncResponse::UnknownSpace(space), format!("830101{body}")),
            (
                SyncResponse::Refused {
                    space,
                    reason: RefusalReason::Malformed,
                },
                format!("840102{body}01"),
            ),
            (
                SyncResponse::Refused {
                    space,
                    reason: RefusalReason::Other(300),
                },
                format!("840102{body}19012c"),
            ),
        ];
        for (resp, hex_bytes) in cases {
            assert_eq!(hex::encode(resp.encode()), hex_bytes, "{resp:?}");
            let bytes = hex::decode(&hex_bytes).unwrap();
            assert_eq!(SyncResponse::decode(&bytes).unwrap(), resp);
            assert_eq!(resp.space(), space);
        }
        for code in 0..5 {
            assert_eq!(RefusalReason::from_code(code).code(), code);
        }
        // A refusal needs its reason; the other statuses take none; 5 elements never.
        for bad in [
            format!("830102{body}"),
            format!("840100{body}01"),
            format!("840101{body}01"),
            format!("850102{body}0101"),
            format!("830103{body}"),
            "820102".to_string(),
        ] {
            let bytes = hex::decode(&bad).unwrap();
            assert!(SyncResponse::decode(&bytes).is_err(), "{bad} decoded");
        }
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
            access: Some(SyncAccess::sign(&key, &space, b"a peer")),
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
                SyncResponse::Refused { space: msg.space, reason: RefusalReason::Internal }.encode(),
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
