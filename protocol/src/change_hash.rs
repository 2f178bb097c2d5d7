//! [`ChangeHash`]: the SHA-256 hash Automerge gives a change.

/// The 32-byte hash of an Automerge change, shown as 64 hex digits (Automerge's own form).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChangeHash(pub(crate) [u8; 32]);

crate::hex_id!(ChangeHash);
