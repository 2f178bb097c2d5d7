//! A timite's long-term key material for encrypted spaces (docs/privacy.md §3.1).

use p2panda_encryption::crypto::x25519::SecretKey;
use p2panda_encryption::key_bundle::{Lifetime, LongTermKeyBundle};
use p2panda_encryption::key_manager::{KeyManager, KeyManagerState};
use p2panda_encryption::traits::{KeyBundle, PreKeyManager};
use p2panda_encryption::Rng;
use serde::{Deserialize, Serialize};
use tim_protocol::codec;
use tim_protocol::Did;

use super::E2eeError;

/// How long a signed pre-key is valid: 90 days (privacy.md §3.1).
pub const PREKEY_LIFETIME_SECS: u64 = 90 * 24 * 3600;

/// Bound on an encoded [`Bundle`] (it is about 150 bytes).
pub const MAX_BUNDLE_BYTES: usize = 1024;

/// Bound on encoded [`Keys`] (the identity and a few pre-keys).
const MAX_KEYS_BYTES: usize = 64 * 1024;

/// Version of the encoded [`Keys`].
const KEYS_VERSION: u8 = 1;

/// A timite's secret key material: an X25519 encryption identity, separate from its Ed25519
/// did:key (no key does two jobs), and a signed pre-key for X3DH. Sealed in sled once wired.
#[derive(Clone, Debug)]
pub struct Keys {
    pub(super) state: KeyManagerState,
}

#[derive(Serialize, Deserialize)]
struct StoredKeys {
    v: u8,
    state: KeyManagerState,
}

impl Keys {
    /// Fresh key material: a random encryption identity and a pre-key valid for
    /// [`PREKEY_LIFETIME_SECS`] from now (the clock is read here, on the member's side only).
    pub fn generate(rng: &Rng) -> Result<Self, E2eeError> {
        let identity = SecretKey::from_rng(rng).map_err(|e| E2eeError::Protocol(e.to_string()))?;
        let state = KeyManager::init(&identity).map_err(|e| E2eeError::Protocol(e.to_string()))?;
        let state = KeyManager::rotate_prekey(state, Lifetime::new(PREKEY_LIFETIME_SECS), rng)
            .map_err(|e| E2eeError::Protocol(e.to_string()))?;
        Ok(Self { state })
    }

    /// The public bundle to publish: identity key, signed pre-key, its lifetime and signature.
    pub fn bundle(&self) -> Result<Bundle, E2eeError> {
        KeyManager::prekey_bundle(&self.state)
            .map(Bundle)
            .map_err(|e| E2eeError::Protocol(e.to_string()))
    }

    /// The key material as bytes, for sealed storage.
    pub fn to_bytes(&self) -> Vec<u8> {
        codec::encode(&StoredKeys {
            v: KEYS_VERSION,
            state: self.state.clone(),
        })
    }

    /// Key material from [`Keys::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, E2eeError> {
        let stored: StoredKeys =
            codec::decode(bytes, MAX_KEYS_BYTES).map_err(|source| E2eeError::Malformed {
                what: "key material",
                source,
            })?;
        if stored.v != KEYS_VERSION {
            return Err(E2eeError::UnsupportedVersion {
                what: "key material",
                version: stored.v,
            });
        }
        Ok(Self {
            state: stored.state,
        })
    }
}

/// A member's public key bundle, as published in the space (privacy.md §4.2 `keys[A].bundle`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bundle(pub(super) LongTermKeyBundle);

impl Bundle {
    /// The X25519 encryption identity key the bundle names.
    pub fn identity_key(&self) -> [u8; 32] {
        *self.0.identity_key().as_bytes()
    }

    /// Checks the pre-key's XEdDSA signature under the identity key and its lifetime (against
    /// this machine's clock: a member-side check, never a rule).
    pub fn verify(&self, member: Did) -> Result<(), E2eeError> {
        self.0.verify().map_err(|e| E2eeError::InvalidBundle {
            member,
            reason: e.to_string(),
        })
    }

    /// The bundle as CBOR, to publish.
    pub fn to_bytes(&self) -> Vec<u8> {
        codec::encode(&self.0)
    }

    /// A bundle from untrusted bytes (not verified: see [`Bundle::verify`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, E2eeError> {
        codec::decode(bytes, MAX_BUNDLE_BYTES)
            .map(Self)
            .map_err(|source| E2eeError::Malformed {
                what: "key bundle",
                source,
            })
    }
}
