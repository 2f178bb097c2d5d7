//! [`SyncAccess`]: a timite's signed word that a node syncs a private space on its behalf.
//!
//! A node serves a private (invite-only) space by sync only to a peer that shows one
//! (`docs/privacy.md`, `docs/protocol.md` section 7.2): the signature binds the space and the
//! peer's libp2p identity, which Noise authenticated, so a copied access is worth nothing to any
//! other peer. The serving node then checks that the timite may read the space now (a member
//! who is not banned, or the holder of an open invite).

use ed25519_dalek::{Signer, SigningKey};

use crate::{verify_strict, Did, SpaceId};

/// Domain separator of the signed message, so an access signature can never be mistaken for
/// any other Tim signature.
const ACCESS_DOMAIN: &[u8] = b"tim/sync-access/v1\0";

/// A timite's Ed25519 signature over `"tim/sync-access/v1\0" || space id (32 bytes) || the
/// sending node's PeerId (its multihash bytes)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncAccess {
    /// The timite vouching for the node.
    pub timite: Did,
    /// Its signature.
    pub signature: [u8; 64],
}

impl SyncAccess {
    /// The bytes signed for `space` and the sending node `peer` (PeerId bytes).
    pub fn signing_bytes(space: &SpaceId, peer: &[u8]) -> Vec<u8> {
        [ACCESS_DOMAIN, space.as_bytes(), peer].concat()
    }

    /// `key`'s access for the node `peer` (PeerId bytes) to `space`.
    pub fn sign(key: &SigningKey, space: &SpaceId, peer: &[u8]) -> Self {
        Self {
            timite: Did::from_key(&key.verifying_key()),
            signature: key.sign(&Self::signing_bytes(space, peer)).to_bytes(),
        }
    }

    /// Whether the signature verifies for `space` and the sending node `peer` (strict
    /// verification, as for changes).
    pub fn verifies(&self, space: &SpaceId, peer: &[u8]) -> bool {
        verify_strict(
            &self.timite.verifying_key(),
            &Self::signing_bytes(space, peer),
            &self.signature,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_access_verifies_only_for_its_space_and_peer() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let space = SpaceId([1; 32]);
        let access = SyncAccess::sign(&key, &space, b"peer a");
        assert!(access.verifies(&space, b"peer a"));
        assert!(!access.verifies(&space, b"peer b"));
        assert!(!access.verifies(&SpaceId([2; 32]), b"peer a"));
        let mut forged = access.clone();
        forged.signature[0] ^= 1;
        assert!(!forged.verifies(&space, b"peer a"));
        let other = SigningKey::from_bytes(&[8; 32]);
        let claimed = SyncAccess {
            timite: Did::from_key(&other.verifying_key()),
            ..access
        };
        assert!(!claimed.verifies(&space, b"peer a"));
    }
}
