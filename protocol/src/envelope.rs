//! [`Envelope`]: one Automerge change, signed by its author, bound to one space.

use ed25519_dalek::{Signature, Signer, SigningKey};
use serde::{Deserialize, Serialize};

use crate::codec::{self, CodecError};
use crate::wire::{ENVELOPE_VERSION, MAX_CHANGE_BYTES, MAX_ENVELOPE_BYTES};
use crate::{ChangeHash, Did, SpaceId};

/// Domain separator of the signed message, so a change signature can never be mistaken for any
/// other Tim signature.
const SIGNING_DOMAIN: &[u8] = b"tim/change/v1\0";

/// Why an envelope was refused before its change was even looked at.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// The bytes are not a CBOR envelope.
    #[error("malformed envelope: {0}")]
    Malformed(#[from] CodecError),
    /// The envelope is of a version this node does not speak.
    #[error("envelope version {0} is not supported (this node speaks version {ENVELOPE_VERSION})")]
    Version(u64),
    /// The change is larger than [`MAX_CHANGE_BYTES`].
    #[error("change of {0} bytes is over the limit of {MAX_CHANGE_BYTES} bytes")]
    TooLarge(usize),
    /// A field has the wrong length or is not a valid key.
    #[error("invalid field `{field}`: {reason}")]
    Field {
        /// The field's name.
        field: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// The signature does not verify under the author's key for this space and change hash.
    #[error("signature by {0} does not verify for this space and change")]
    BadSignature(Did),
}

/// A signed change.
///
/// The author signs `"tim/change/v1\0" || space id (32 bytes) || change hash (32 bytes)` with
/// Ed25519. Binding the space id into the signature stops a valid change from being replayed
/// into another space; binding the change hash commits to the change's bytes and, through its
/// deps, to its whole causal past.
///
/// On the wire an envelope is the CBOR array `[1, space: bytes(32), author: bytes(32),
/// change: bytes, signature: bytes(64)]` (see `docs/protocol.md`).
#[derive(Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The space the change belongs to.
    pub space: SpaceId,
    /// The author; the change's Automerge actor id must be this key's 32 bytes.
    pub author: Did,
    /// The Automerge change, in its binary chunk form.
    pub change: Vec<u8>,
    /// Ed25519 signature, see [`Envelope::signing_bytes`].
    pub signature: [u8; 64],
}

impl std::fmt::Debug for Envelope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Envelope")
            .field("space", &self.space)
            .field("author", &self.author)
            .field("change_len", &self.change.len())
            .finish_non_exhaustive()
    }
}

/// The wire form: a CBOR array.
#[derive(Serialize, Deserialize)]
pub(crate) struct EnvelopeWire(
    pub(crate) u64,
    #[serde(with = "serde_bytes")] pub(crate) Vec<u8>,
    #[serde(with = "serde_bytes")] pub(crate) Vec<u8>,
    #[serde(with = "serde_bytes")] pub(crate) Vec<u8>,
    #[serde(with = "serde_bytes")] pub(crate) Vec<u8>,
);

impl Envelope {
    /// The bytes the author signs for a change with this hash in this space.
    pub fn signing_bytes(space: &SpaceId, hash: &ChangeHash) -> [u8; 78] {
        let mut out = [0u8; 78];
        out[..14].copy_from_slice(SIGNING_DOMAIN);
        out[14..46].copy_from_slice(space.as_bytes());
        out[46..].copy_from_slice(hash.as_bytes());
        out
    }

    /// Signs a change whose hash the caller computed from `change`.
    pub fn sign(space: SpaceId, change: Vec<u8>, hash: &ChangeHash, key: &SigningKey) -> Self {
        let signature = key.sign(&Self::signing_bytes(&space, hash)).to_bytes();
        Self {
            space,
            author: Did::from_key(&key.verifying_key()),
            change,
            signature,
        }
    }

    /// Checks the signature (strict Ed25519, no malleable signatures or weak keys) against the
    /// hash of the change, which the caller computed from [`Envelope::change`].
    pub fn verify_signature(&self, hash: &ChangeHash) -> Result<(), EnvelopeError> {
        let sig = Signature::from_bytes(&self.signature);
        let key = self.author.verifying_key();
        key.verify_strict(&Self::signing_bytes(&self.space, hash), &sig)
            .map_err(|_| EnvelopeError::BadSignature(self.author))
    }

    pub(crate) fn to_wire(&self) -> EnvelopeWire {
        EnvelopeWire(
            ENVELOPE_VERSION,
            self.space.as_bytes().to_vec(),
            self.author.public_bytes().to_vec(),
            self.change.clone(),
            self.signature.to_vec(),
        )
    }

    pub(crate) fn from_wire(w: EnvelopeWire) -> Result<Self, EnvelopeError> {
        let EnvelopeWire(version, space, author, change, signature) = w;
        if version != ENVELOPE_VERSION {
            return Err(EnvelopeError::Version(version));
        }
        if change.len() > MAX_CHANGE_BYTES {
            return Err(EnvelopeError::TooLarge(change.len()));
        }
        let field = |field, reason: String| EnvelopeError::Field { field, reason };
        let space =
            SpaceId::try_from(space.as_slice()).map_err(|e| field("space", e.to_string()))?;
        let author = Did::from_public_bytes(&author).map_err(|e| field("author", e.to_string()))?;
        let signature: [u8; 64] = signature.as_slice().try_into().map_err(|_| {
            field(
                "signature",
                format!("{} bytes, expected 64", signature.len()),
            )
        })?;
        Ok(Self {
            space,
            author,
            change,
            signature,
        })
    }

    /// Encodes the envelope as CBOR.
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(&self.to_wire())
    }

    /// Decodes an envelope from untrusted bytes (at most [`MAX_ENVELOPE_BYTES`]). The signature
    /// is not checked here: that needs the change's hash, see [`Envelope::verify_signature`].
    pub fn decode(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        let wire: EnvelopeWire = codec::decode(bytes, MAX_ENVELOPE_BYTES)?;
        Self::from_wire(wire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    #[test]
    fn sign_encode_decode_verify() {
        let space = SpaceId::from([7; 32]);
        let hash = ChangeHash::from([9; 32]);
        let env = Envelope::sign(space, b"change".to_vec(), &hash, &key(1));
        let back = Envelope::decode(&env.encode()).unwrap();
        assert_eq!(back, env);
        back.verify_signature(&hash).unwrap();
        // Another hash, another space, another author: all fail.
        assert!(back.verify_signature(&ChangeHash::from([8; 32])).is_err());
        let mut other_space = back.clone();
        other_space.space = SpaceId::from([6; 32]);
        assert!(other_space.verify_signature(&hash).is_err());
        let mut other_author = back.clone();
        other_author.author = Did::from_key(&key(2).verifying_key());
        assert!(matches!(
            other_author.verify_signature(&hash),
            Err(EnvelopeError::BadSignature(_))
        ));
    }

    #[test]
    fn decode_refuses_garbage_wrong_lengths_and_versions() {
        assert!(matches!(
            Envelope::decode(b"\xff\x00garbage"),
            Err(EnvelopeError::Malformed(_))
        ));
        let env = Envelope::sign([1; 32].into(), vec![1], &[2; 32].into(), &key(1));
        let mut w = env.to_wire();
        w.0 = 2;
        assert!(matches!(
            Envelope::decode(&codec::encode(&w)),
            Err(EnvelopeError::Version(2))
        ));
        let mut w = env.to_wire();
        w.4.pop();
        assert!(matches!(
            Envelope::decode(&codec::encode(&w)),
            Err(EnvelopeError::Field {
                field: "signature",
                ..
            })
        ));
        let mut w = env.to_wire();
        w.3 = vec![0; MAX_CHANGE_BYTES + 1];
        assert!(matches!(
            Envelope::decode(&codec::encode(&w)),
            Err(EnvelopeError::Malformed(CodecError::TooLarge { .. }) | EnvelopeError::TooLarge(_))
        ));
    }

    proptest::proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(0u8..=255, 0..512)) {
            let _ = Envelope::decode(&bytes);
        }
    }
}
