//! [`SpaceId`]: a space's identifier, derived from its signed genesis change.

use sha2::{Digest, Sha256};

use crate::ChangeHash;

/// How a space is named in credentials.
const SPACE_IRI_PREFIX: &str = "urn:tim:space:";

/// Domain separator mixed into a space id, so that it cannot collide with other hashes.
const SPACE_ID_DOMAIN: &[u8] = b"tim/space-id/v1\0";

/// Domain separator of a credential's status list index.
const STATUS_INDEX_DOMAIN: &[u8] = b"tim/status-index/v1\0";

/// Bits of a status list index: small enough to be an exact number in JSON everywhere.
const STATUS_INDEX_BITS: u32 = 53;

/// A space's identifier: `SHA-256("tim/space-id/v1\0" || genesis change hash)`, shown as 64 hex
/// digits.
///
/// The genesis change names the creator as its author and is signed by the creator's key, so
/// nobody can make another space with the same id or claim to have created this one.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpaceId(pub(crate) [u8; 32]);

crate::hex_id!(SpaceId);

impl SpaceId {
    /// The id of the space whose genesis change has this hash.
    pub fn from_genesis(genesis: &ChangeHash) -> Self {
        let mut h = Sha256::new();
        h.update(SPACE_ID_DOMAIN);
        h.update(genesis.as_bytes());
        Self(h.finalize().into())
    }

    /// The status list index of the credential `credential_id` issued in this space's name:
    /// the first 53 bits of `SHA-256("tim/status-index/v1\0" || space id || credential id)`.
    /// Derived from the credential, not allocated, so two admins issuing at once (even on
    /// partitioned nodes) never share an index, and revoking one never revokes another.
    pub fn status_index(&self, credential_id: &str) -> u64 {
        let mut h = Sha256::new();
        h.update(STATUS_INDEX_DOMAIN);
        h.update(self.0);
        h.update(credential_id.as_bytes());
        let d = h.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&d[..8]);
        u64::from_be_bytes(first) >> (64 - STATUS_INDEX_BITS)
    }

    /// The IRI naming the space in credentials and presentations: `urn:tim:space:<id>`.
    pub fn iri(&self) -> String {
        format!("{SPACE_IRI_PREFIX}{self}")
    }

    /// The space named by an IRI of [`SpaceId::iri`]'s form.
    pub fn from_iri(iri: &str) -> Option<Self> {
        iri.strip_prefix(SPACE_IRI_PREFIX)?.parse().ok()
    }

    /// The gossipsub topic carrying this space's live changes: `tim/space/<id>/1`.
    pub fn topic(&self) -> String {
        format!("tim/space/{self}/1")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_round_trips_through_text_and_differs_per_genesis() {
        let a = SpaceId::from_genesis(&ChangeHash([1; 32]));
        let b = SpaceId::from_genesis(&ChangeHash([2; 32]));
        assert_ne!(a, b);
        assert_eq!(a.to_string().parse::<SpaceId>().unwrap(), a);
        assert_eq!(a.topic(), format!("tim/space/{a}/1"));
        assert_eq!(SpaceId::from_iri(&a.iri()), Some(a));
        assert_eq!(SpaceId::from_iri("urn:tim:space:zz"), None);
        assert!("zz".parse::<SpaceId>().is_err());
        assert!("abcd".parse::<SpaceId>().is_err());
    }

    #[test]
    fn status_indices_are_53_bit_and_differ_per_credential_and_space() {
        let a = SpaceId::from_genesis(&ChangeHash([1; 32]));
        let b = SpaceId::from_genesis(&ChangeHash([2; 32]));
        let i = a.status_index("urn:uuid:1");
        assert!(i < 1 << 53);
        assert_eq!(i, a.status_index("urn:uuid:1"));
        assert_ne!(i, a.status_index("urn:uuid:2"));
        assert_ne!(i, b.status_index("urn:uuid:1"));
    }
}
