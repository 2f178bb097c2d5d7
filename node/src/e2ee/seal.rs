//! Sealing end-to-end encryption state at rest (docs/privacy.md §4.7): a timite's encryption
//! keys and its group state of each space are stored encrypted under a key only its identity
//! key derives, so an operator reading sled sees neither the secrets nor the plaintext they
//! open.
//!
//! The sealing key is HKDF-SHA256 of the timite's Ed25519 secret key, with the info
//! `"tim/e2ee/state/v1\0" ‖ slot` (the slot names the record: its store key); the record is
//! XChaCha20-Poly1305 with a random 24-byte nonce and the slot as associated data, stored as
//! `nonce ‖ ciphertext`. A record moved to another slot, or altered, does not open.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use ed25519_dalek::SigningKey;
use hkdf::Hkdf;
use rand::RngCore;
use sha2::Sha256;

const INFO: &[u8] = b"tim/e2ee/state/v1\0";
const NONCE_BYTES: usize = 24;

fn cipher(key: &SigningKey, slot: &[u8]) -> XChaCha20Poly1305 {
    let hk = Hkdf::<Sha256>::new(None, key.as_bytes());
    let mut okm = [0u8; 32];
    let info = [INFO, slot].concat();
    hk.expand(&info, &mut okm)
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    XChaCha20Poly1305::new(&okm.into())
}

/// Seals `plaintext` for `slot` under `key`'s sealing key.
pub fn seal(key: &SigningKey, slot: &[u8], plaintext: &[u8], rng: &mut impl RngCore) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_BYTES];
    rng.fill_bytes(&mut nonce);
    let sealed = cipher(key, slot)
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: slot,
            },
        )
        .expect("XChaCha20-Poly1305 encrypts any length this node stores");
    [&nonce[..], &sealed].concat()
}

/// Opens a record sealed for `slot` under `key`; `None` if it was altered, moved to another
/// slot, or sealed under another key.
pub fn open(key: &SigningKey, slot: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    if sealed.len() < NONCE_BYTES {
        return None;
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_BYTES);
    cipher(key, slot)
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad: slot,
            },
        )
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_record_opens_only_with_its_key_in_its_slot_and_unaltered() {
        let mut rng = rand::rngs::mock::StepRng::new(1, 1);
        let (key, other) = (
            SigningKey::from_bytes(&[1; 32]),
            SigningKey::from_bytes(&[2; 32]),
        );
        let sealed = seal(&key, b"slot a", b"group secret", &mut rng);
        assert!(!sealed.windows(12).any(|w| w == b"group secret"));
        assert_eq!(open(&key, b"slot a", &sealed).unwrap(), b"group secret");
        assert_eq!(open(&key, b"slot b", &sealed), None);
        assert_eq!(open(&other, b"slot a", &sealed), None);
        let mut altered = sealed.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert_eq!(open(&key, b"slot a", &altered), None);
        assert_eq!(open(&key, b"slot a", &sealed[..10]), None);
    }
}
