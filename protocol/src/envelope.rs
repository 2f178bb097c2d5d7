//! [`Envelope`]: one Automerge change, signed by its author, bound to one space.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::codec::{self, CodecError};
use crate::wire::{ENVELOPE_VERSION, MAX_CHANGE_BYTES, MAX_ENVELOPE_BYTES};
use crate::{ChangeHash, Did, SpaceId};

/// Domain separator of the signed message, so a change signature can never be mistaken for any
/// other Tim signature.
const SIGNING_DOMAIN: &[u8] = b"tim/change/v1\0";

/// The one Ed25519 verification every Tim node applies to a change signature
/// (`docs/protocol.md`, section 4.2): ed25519-dalek 2's `verify_strict`, that is RFC 8032
/// verification with the cofactorless equation `[S]B = R + [k]A`, checked by comparing the
/// encoding of `[S]B - [k]A` with the signature's `R` bytes, where `S` must be canonical
/// (`S < L`) and neither `R` nor `A` may be a point of small order.
///
/// Plain `verify` would also accept signatures under small-order keys (one signature then
/// verifies for every message) and small-order `R`; cofactored (batch) verification accepts
/// still more. Nodes that disagree on a signature disagree on the document, so there is exactly
/// one rule.
pub fn verify_strict(key: &VerifyingKey, message: &[u8], signature: &[u8; 64]) -> bool {
    key.verify_strict(message, &Signature::from_bytes(signature))
        .is_ok()
}

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

    /// Checks the signature against the hash of the change, which the caller computed from
    /// [`Envelope::change`], with [`verify_strict`].
    pub fn verify_signature(&self, hash: &ChangeHash) -> Result<(), EnvelopeError> {
        if verify_strict(
            &self.author.verifying_key(),
            &Self::signing_bytes(&self.space, hash),
            &self.signature,
        ) {
            Ok(())
        } else {
            Err(EnvelopeError::BadSignature(self.author))
        }
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

    fn unhex<const N: usize>(s: &str) -> [u8; N] {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    /// Whether a (key, message, signature) passes: the key must decompress (as [`Did`] requires)
    /// and then `verify`.
    fn passes(key: &[u8; 32], msg: &[u8], sig: &[u8; 64], strict: bool) -> bool {
        use ed25519_dalek::Verifier;
        let Ok(key) = VerifyingKey::from_bytes(key) else {
            return false;
        };
        if strict {
            verify_strict(&key, msg, sig)
        } else {
            key.verify(msg, &Signature::from_bytes(sig)).is_ok()
        }
    }

    /// The twelve edge cases of Chalkias, Garillot and Nikolaenko, "Taming the many EdDSAs"
    /// (SSR 2020), from github.com/novifinancial/ed25519-speccheck `cases.txt`: small-order and
    /// mixed-order `A` and `R`, cofactored-only equations, non-canonical `S`, `R` and `A`. The
    /// rule of docs/protocol.md section 4.2 accepts only case 3, like libsodium; plain
    /// ed25519-dalek `verify` (like Go's crypto/ed25519) also accepts cases 0, 1, 2 and 11.
    const SPECCHECK: [(&str, &str, &str); 12] = [
        ("8c93255d71dcab10e8f379c26200f3c7bd5f09d9bc3068d3ef4edeb4853022b6", "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa", "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a0000000000000000000000000000000000000000000000000000000000000000"),
        ("9bd9f44f4dcc75bd531b56b2cd280b0bb38fc1cd6d1230e14861d861de092e79", "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa", "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43a5bb704786be79fc476f91d3f3f89b03984d8068dcf1bb7dfc6637b45450ac04"),
        ("aebf3f2601a0c8c5d39cc7d8911642f740b78168218da8471772b35f9d35b9ab", "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43", "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa8c4bd45aecaca5b24fb97bc10ac27ac8751a7dfe1baff8b953ec9f5833ca260e"),
        ("9bd9f44f4dcc75bd531b56b2cd280b0bb38fc1cd6d1230e14861d861de092e79", "cdb267ce40c5cd45306fa5d2f29731459387dbf9eb933b7bd5aed9a765b88d4d", "9046a64750444938de19f227bb80485e92b83fdb4b6506c160484c016cc1852f87909e14428a7a1d62e9f22f3d3ad7802db02eb2e688b6c52fcd6648a98bd009"),
        ("e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec4011eaccd55b53f56c", "cdb267ce40c5cd45306fa5d2f29731459387dbf9eb933b7bd5aed9a765b88d4d", "160a1cb0dc9c0258cd0a7d23e94d8fa878bcb1925f2c64246b2dee1796bed5125ec6bc982a269b723e0668e540911a9a6a58921d6925e434ab10aa7940551a09"),
        ("e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec4011eaccd55b53f56c", "cdb267ce40c5cd45306fa5d2f29731459387dbf9eb933b7bd5aed9a765b88d4d", "21122a84e0b5fca4052f5b1235c80a537878b38f3142356b2c2384ebad4668b7e40bc836dac0f71076f9abe3a53f9c03c1ceeeddb658d0030494ace586687405"),
        ("85e241a07d148b41e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec40", "442aad9f089ad9e14647b1ef9099a1ff4798d78589e66f28eca69c11f582a623", "e96f66be976d82e60150baecff9906684aebb1ef181f67a7189ac78ea23b6c0e547f7690a0e2ddcd04d87dbc3490dc19b3b3052f7ff0538cb68afb369ba3a514"),
        ("85e241a07d148b41e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec40", "442aad9f089ad9e14647b1ef9099a1ff4798d78589e66f28eca69c11f582a623", "8ce5b96c8f26d0ab6c47958c9e68b937104cd36e13c33566acd2fe8d38aa19427e71f98a473474f2f13f06f97c20d58cc3f54b8bd0d272f42b695dd7e89a8c22"),
        ("9bedc267423725d473888631ebf45988bad3db83851ee85c85e241a07d148b41", "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43", "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff03be9678ac102edcd92b0210bb34d7428d12ffc5df5f37e359941266a4e35f0f"),
        ("9bedc267423725d473888631ebf45988bad3db83851ee85c85e241a07d148b41", "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43", "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffca8c5b64cd208982aa38d4936621a4775aa233aa0505711d8fdcfdaa943d4908"),
        ("e96b7021eb39c1a163b6da4e3093dcd3f21387da4cc4572be588fafae23c155b", "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", "a9d55260f765261eb9b84e106f665e00b867287a761990d7135963ee0a7d59dca5bb704786be79fc476f91d3f3f89b03984d8068dcf1bb7dfc6637b45450ac04"),
        ("39a591f5321bbe07fd5a23dc2f39d025d74526615746727ceefd6e82ae65c06f", "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", "a9d55260f765261eb9b84e106f665e00b867287a761990d7135963ee0a7d59dca5bb704786be79fc476f91d3f3f89b03984d8068dcf1bb7dfc6637b45450ac04"),
    ];

    #[test]
    fn strict_verification_accepts_only_the_canonical_cofactorless_case() {
        let mut strict = Vec::new();
        let mut plain = Vec::new();
        for (i, (msg, key, sig)) in SPECCHECK.iter().enumerate() {
            let (msg, key, sig) = (hex::decode(msg).unwrap(), unhex(key), unhex(sig));
            if passes(&key, &msg, &sig, true) {
                strict.push(i);
            }
            if passes(&key, &msg, &sig, false) {
                plain.push(i);
            }
        }
        assert_eq!(strict, [3]);
        assert_eq!(plain, [0, 1, 2, 3, 11]);
    }

    /// The identity point `01 00…00` is a valid encoding (so it passes [`Did`] parsing and
    /// envelope decoding), and with it the signature `R = identity, S = 0` satisfies the
    /// cofactorless equation for every message. The envelope check refuses it.
    #[test]
    fn a_small_order_author_key_is_refused() {
        use ed25519_dalek::Verifier;
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let mut signature = [0u8; 64];
        signature[0] = 1;
        let env = Envelope {
            space: SpaceId::from([7; 32]),
            author: Did::from_public_bytes(&identity).unwrap(),
            change: b"change".to_vec(),
            signature,
        };
        let env = Envelope::decode(&env.encode()).unwrap();
        let hash = ChangeHash::from([9; 32]);
        let msg = Envelope::signing_bytes(&env.space, &hash);
        assert!(env
            .author
            .verifying_key()
            .verify(&msg, &Signature::from_bytes(&signature))
            .is_ok());
        assert!(matches!(
            env.verify_signature(&hash),
            Err(EnvelopeError::BadSignature(_))
        ));
    }

    /// `S + L` in place of `S` (a malleated copy of a valid signature) is refused.
    #[test]
    fn a_non_canonical_s_is_refused() {
        // L, the order of the base point, little-endian.
        let l: [u8; 32] = unhex("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");
        let hash = ChangeHash::from([9; 32]);
        let mut env = Envelope::sign(SpaceId::from([7; 32]), b"c".to_vec(), &hash, &key(1));
        env.verify_signature(&hash).unwrap();
        let mut carry = 0u16;
        for (s, l) in env.signature[32..].iter_mut().zip(l) {
            let sum = u16::from(*s) + u16::from(l) + carry;
            *s = sum as u8;
            carry = sum >> 8;
        }
        assert_eq!(carry, 0);
        assert!(env.verify_signature(&hash).is_err());
    }

    /// docs/protocol.md section 4.1: what the decoder accepts beyond the canonical form. If a
    /// stricter codec changes this, the document must change with it.
    #[test]
    fn decoder_leniency_is_as_documented() {
        let env = Envelope::sign([7; 32].into(), vec![0xaa], &[9; 32].into(), &key(1));
        let canonical = env.encode();
        // The change field (one byte, `41 aa`) starts after 85, 01 and two 34-byte fields.
        let at = 2 + 34 + 34;
        assert_eq!(canonical[at..at + 2], [0x41, 0xaa]);
        let with_change = |head: &[u8]| {
            let mut b = canonical[..at].to_vec();
            b.extend_from_slice(head);
            b.extend_from_slice(&canonical[at + 2..]);
            b
        };
        let prefixed = |prefix: &[u8], rest: &[u8]| [prefix, rest].concat();
        let accepted = [
            (
                "non-shortest head",
                prefixed(&[0x85, 0x18, 0x01], &canonical[2..]),
            ),
            (
                "non-shortest byte string head",
                with_change(&[0x59, 0x00, 0x01, 0xaa]),
            ),
            (
                "indefinite-length byte string",
                with_change(&[0x5f, 0x41, 0xaa, 0xff]),
            ),
            ("array of integers", with_change(&[0x81, 0x18, 0xaa])),
            ("tag", prefixed(&[0xd8, 0x18], &canonical)),
        ];
        for (what, bytes) in accepted {
            let back = Envelope::decode(&bytes).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(back, env, "{what}");
            assert_eq!(back.encode(), canonical, "{what}: re-encodes canonically");
        }
        let mut indefinite = prefixed(&[0x9f], &canonical[1..]);
        indefinite.push(0xff);
        assert!(Envelope::decode(&indefinite).is_err());
    }

    proptest::proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(0u8..=255, 0..512)) {
            let _ = Envelope::decode(&bytes);
        }
    }
}
