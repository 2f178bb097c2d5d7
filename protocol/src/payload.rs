//! Large request payloads (docs/abilities.md §14, docs/protocol.md §15): a request's input or
//! a result too large for the space document travels out of band, named in the document by
//! its [`PayloadHash`] and size, and moves between nodes on the `/tim/payload/1`
//! request-response protocol ([`PayloadRequest`], [`PayloadResponse`]).
//!
//! On the wire a request is the CBOR array `[1, space: bytes(32), hash: bytes(32), access:
//! [timite: bytes(32), signature: bytes(64)] / null]`; a response is `[1, status, bytes /
//! null]`, status 0 = found (the bytes), 1 = unavailable (null).

use std::fmt;
use std::str::FromStr;

use serde_bytes::ByteBuf;
use sha2::{Digest, Sha256};

use crate::wire::SyncDecodeError;
use crate::{codec, Did, SpaceId, SyncAccess};

/// The payload protocol's id.
pub const PAYLOAD_PROTOCOL: &str = "/tim/payload/1";
/// The version of its messages.
pub const PAYLOAD_VERSION: u64 = 1;
/// The largest out-of-band payload, in bytes (8 MiB).
pub const MAX_PAYLOAD_BYTES: u64 = 8 * 1024 * 1024;
/// The largest payload response on the wire: a payload plus its framing.
pub const MAX_PAYLOAD_MESSAGE_BYTES: usize = MAX_PAYLOAD_BYTES as usize + 4096;
/// The largest payload request on the wire.
pub const MAX_PAYLOAD_REQUEST_BYTES: usize = 1024;
/// The prefix of a payload hash's text form.
pub const HASH_PREFIX: &str = "sha256:";

/// The SHA-256 hash of a payload's bytes; its text form is `sha256:<64 lowercase hex>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PayloadHash(pub [u8; 32]);

impl PayloadHash {
    /// The hash of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    /// Whether `bytes` are the payload this hash names.
    pub fn matches(&self, bytes: &[u8]) -> bool {
        Self::of(bytes) == *self
    }
}

impl fmt::Display for PayloadHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{HASH_PREFIX}{}", hex::encode(self.0))
    }
}

impl FromStr for PayloadHash {
    type Err = String;

    /// Parses exactly `sha256:` and 64 lowercase hex digits, so that one hash has one text
    /// form and every node judges a document's hash field alike.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad =
            || format!("`{s}` is not a payload hash: `{HASH_PREFIX}` and 64 lowercase hex digits");
        let hex_part = s.strip_prefix(HASH_PREFIX).ok_or_else(bad)?;
        if hex_part.len() != 64
            || !hex_part
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(bad());
        }
        let bytes = hex::decode(hex_part).map_err(|_| bad())?;
        Ok(Self(
            <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| bad())?,
        ))
    }
}

/// A request on `/tim/payload/1`: send me the payload `hash` of the space `space`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadRequest {
    /// The space whose document names the payload.
    pub space: SpaceId,
    /// The payload.
    pub hash: PayloadHash,
    /// For a private space, the asking node's access ([`SyncAccess`]), as in a sync request.
    pub access: Option<SyncAccess>,
}

/// The answer to a [`PayloadRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadResponse {
    /// The payload's bytes (the asker checks them against the hash before keeping them).
    Found(Vec<u8>),
    /// The responder does not have it, does not host the space, or does not serve this peer
    /// (the three look alike, so a private space's existence does not leak).
    Unavailable,
}

type AccessWire = (ByteBuf, ByteBuf);
type RequestWire = (u64, ByteBuf, ByteBuf, Option<AccessWire>);
type ResponseWire = (u64, u8, Option<ByteBuf>);

fn invalid(what: impl Into<String>) -> SyncDecodeError {
    SyncDecodeError::Invalid(what.into())
}

fn access_to_wire(a: &SyncAccess) -> AccessWire {
    (
        ByteBuf::from(a.timite.public_bytes().to_vec()),
        ByteBuf::from(a.signature.to_vec()),
    )
}

fn access_from_wire((timite, signature): AccessWire) -> Result<SyncAccess, SyncDecodeError> {
    let timite =
        Did::from_public_bytes(&timite).map_err(|e| invalid(format!("access timite: {e}")))?;
    let signature = <[u8; 64]>::try_from(signature.as_slice())
        .map_err(|_| invalid("access signature: expected 64 bytes"))?;
    Ok(SyncAccess { timite, signature })
}

fn check_len(bytes: &[u8]) -> Result<(), SyncDecodeError> {
    if bytes.len() as u64 > MAX_PAYLOAD_BYTES {
        return Err(invalid(format!(
            "a payload of {} bytes is over the limit of {MAX_PAYLOAD_BYTES}",
            bytes.len()
        )));
    }
    Ok(())
}

impl PayloadRequest {
    /// Encodes as CBOR (module documentation).
    pub fn encode(&self) -> Vec<u8> {
        let wire: RequestWire = (
            PAYLOAD_VERSION,
            ByteBuf::from(self.space.as_bytes().to_vec()),
            ByteBuf::from(self.hash.0.to_vec()),
            self.access.as_ref().map(access_to_wire),
        );
        codec::encode(&wire)
    }

    /// Decodes from untrusted bytes (at most [`MAX_PAYLOAD_REQUEST_BYTES`]).
    pub fn decode(bytes: &[u8]) -> Result<Self, SyncDecodeError> {
        let (version, space, hash, access): RequestWire =
            codec::decode(bytes, MAX_PAYLOAD_REQUEST_BYTES)?;
        if version != PAYLOAD_VERSION {
            return Err(SyncDecodeError::Version(version));
        }
        let space =
            SpaceId::try_from(space.as_slice()).map_err(|e| invalid(format!("space: {e}")))?;
        let hash = PayloadHash(
            <[u8; 32]>::try_from(hash.as_slice())
                .map_err(|_| invalid("hash: expected 32 bytes"))?,
        );
        let access = access.map(access_from_wire).transpose()?;
        Ok(Self {
            space,
            hash,
            access,
        })
    }
}

impl PayloadResponse {
    /// Encodes as CBOR (module documentation).
    pub fn encode(&self) -> Vec<u8> {
        let wire: ResponseWire = match self {
            Self::Found(b) => (PAYLOAD_VERSION, 0, Some(ByteBuf::from(b.clone()))),
            Self::Unavailable => (PAYLOAD_VERSION, 1, None),
        };
        codec::encode(&wire)
    }

    /// Decodes from untrusted bytes (at most [`MAX_PAYLOAD_MESSAGE_BYTES`]).
    pub fn decode(bytes: &[u8]) -> Result<Self, SyncDecodeError> {
        let (version, status, payload): ResponseWire =
            codec::decode(bytes, MAX_PAYLOAD_MESSAGE_BYTES)?;
        if version != PAYLOAD_VERSION {
            return Err(SyncDecodeError::Version(version));
        }
        match (status, payload) {
            (0, Some(b)) => {
                check_len(&b)?;
                Ok(Self::Found(b.into_vec()))
            }
            (1, None) => Ok(Self::Unavailable),
            (s, _) => Err(invalid(format!("payload response status {s} is malformed"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_text_has_one_form() {
        let h = PayloadHash::of(b"hello");
        let text = h.to_string();
        assert!(text.starts_with("sha256:2cf24dba"));
        assert_eq!(text.parse::<PayloadHash>(), Ok(h));
        for bad in [
            text.to_uppercase(),
            text.replace("sha256:", "sha-256:"),
            text[..text.len() - 1].to_string(),
            format!("{text}0"),
            format!(" {text}"),
        ] {
            assert!(bad.parse::<PayloadHash>().is_err(), "{bad}");
        }
        assert!(h.matches(b"hello") && !h.matches(b"hellO"));
    }

    #[test]
    fn messages_round_trip_and_refuse_bad_shapes() {
        let space = SpaceId([7; 32]);
        let hash = PayloadHash::of(b"x");
        let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
        let access = Some(SyncAccess::sign(&key, &space, b"peer"));
        let req = PayloadRequest {
            space,
            hash,
            access,
        };
        assert_eq!(PayloadRequest::decode(&req.encode()).unwrap(), req);
        for res in [
            PayloadResponse::Found(vec![1, 2, 3]),
            PayloadResponse::Unavailable,
        ] {
            assert_eq!(PayloadResponse::decode(&res.encode()).unwrap(), res);
        }
        // A short hash, a found without bytes, an unknown status, a wrong version.
        let short_hash: RequestWire = (
            1,
            ByteBuf::from(vec![7; 32]),
            ByteBuf::from(vec![0; 31]),
            None,
        );
        assert!(PayloadRequest::decode(&codec::encode(&short_hash)).is_err());
        let found_nothing: ResponseWire = (1, 0, None);
        assert!(PayloadResponse::decode(&codec::encode(&found_nothing)).is_err());
        let status: ResponseWire = (1, 9, None);
        assert!(PayloadResponse::decode(&codec::encode(&status)).is_err());
        let version: ResponseWire = (2, 1, None);
        assert!(PayloadResponse::decode(&codec::encode(&(1u64, 1u8, None::<ByteBuf>))).is_ok());
        assert!(PayloadResponse::decode(&codec::encode(&version)).is_err());
        assert!(PayloadResponse::decode(&[0xff; 10]).is_err());
    }
}
