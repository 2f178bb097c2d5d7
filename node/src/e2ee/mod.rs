//! End-to-end encryption of a space's messages: p2panda-encryption 0.7.1's "data scheme"
//! (DCGKA) for one group, in Tim's terms. docs/privacy.md is the design.
//!
//! The space document carries the clear structure (crdt's `encryption` module: `keys`,
//! `group`, messages' `ct`); the engine's duties (node/src/engine/e2ee.rs) call this module:
//!
//! * [`Keys`]: a timite's long-term key material (an X25519 encryption identity and a signed
//!   pre-key), and the public [`Bundle`] it publishes (privacy.md §3.1);
//! * [`Group`]: one member's state of one space's group: create, add (a welcome), remove (a
//!   rotation), update (a rotation), encrypt, decrypt, and process the control messages of the
//!   others. Control messages and ciphertexts are opaque bytes that Tim will carry in changes;
//!   the state round-trips through CBOR ([`Group::to_bytes`], [`Group::from_bytes`]) for sled;
//! * the two concurrency rules of privacy.md §3.3: [`update_issuer`] (a) and
//!   [`Group::retire_concurrent_secrets`] with the automatic retirement in
//!   [`Group::process_control`] (b);
//! * [`MemberState`]: what a node keeps per hosted member and space, and [`Body`], a
//!   message's plaintext bound to its clear fields;
//! * [`seal`] and [`open`]: the state at rest, under a key the timite's identity derives.
//!
//! Member ids are the 32-byte Ed25519 keys of did:keys ([`Did`](tim_protocol::Did)); operation
//! ids are the hashes of the changes that carry control messages
//! ([`ChangeHash`](tim_protocol::ChangeHash)). The library expects causal delivery (each
//! control message after the ones in its causal past), which Tim's gate gives; this module
//! trusts its caller for it.
//!
//! No input makes it panic: bytes are decoded with bounds, a bundle whose identity key differs
//! from the one already known for the member is refused before the library (which asserts it)
//! sees it, and a library error leaves the group as it was before the call.

mod group;
mod keys;
mod member;
mod rules;
mod seal;

pub use group::{
    ControlKind, Group, Processed, SecretId, MAX_CIPHERTEXT_BYTES, MAX_CONTROL_BYTES,
    MAX_STATE_BYTES,
};
pub use keys::{Bundle, Keys, MAX_BUNDLE_BYTES, PREKEY_LIFETIME_SECS};
pub use member::{op_id, Body, MemberState};
pub use p2panda_encryption::Rng;
pub use rules::update_issuer;
pub use seal::{open, seal};

use tim_protocol::codec::CodecError;
use tim_protocol::Did;

/// Why an encryption operation failed. The group is unchanged after any of them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum E2eeError {
    /// Bytes (a control message, a ciphertext, a bundle, a stored state) do not decode.
    #[error("malformed {what}: {source}")]
    Malformed {
        /// What was being decoded.
        what: &'static str,
        /// The decoder's complaint.
        source: CodecError,
    },
    /// A version this code does not know (a newer Tim wrote it).
    #[error("unsupported {what} version {version}")]
    UnsupportedVersion {
        /// What carried the version.
        what: &'static str,
        /// The version found.
        version: u8,
    },
    /// A bundle names another identity key than the one already known for the member: an
    /// encryption identity never changes (privacy.md §4.2).
    #[error("the bundle of {member} changes its encryption identity key, which never changes")]
    IdentityKeyChanged {
        /// The member whose bundle it is.
        member: Did,
    },
    /// A bundle's pre-key signature does not verify, or its lifetime is over.
    #[error("invalid key bundle of {member}: {reason}")]
    InvalidBundle {
        /// The member whose bundle it is.
        member: Did,
        /// What is wrong with it.
        reason: String,
    },
    /// An operation needs the public bundle of a member that was never added with
    /// [`Group::add_bundle`].
    #[error("no key bundle known for {0}: add the member's published bundle first")]
    MissingBundle(Did),
    /// The group is not created or joined yet (no welcome processed).
    #[error("the group is not established yet: create it or process the welcome first")]
    NotEstablished,
    /// The group is already created or joined: a second `create` is refused.
    #[error("the group is already established")]
    AlreadyEstablished,
    /// The local member was removed from the group: it can no longer encrypt or rotate.
    #[error("the local member is no longer in the group")]
    NotAMember,
    /// A ciphertext names a group secret this member does not hold (written after its removal,
    /// or before its join with history withheld).
    #[error("no group secret {0} here: the message was not encrypted for this member")]
    UnknownSecret(String),
    /// A ciphertext does not authenticate under the secret it names.
    #[error("the ciphertext does not decrypt: it was altered or forged")]
    Decrypt,
    /// The library refused a control message or operation.
    #[error("key agreement refused the operation: {0}")]
    Protocol(String),
    /// A previous failure could not restore the state: reload it from storage.
    #[error("the group state was lost by a failed operation: reload it from storage")]
    Poisoned,
}

#[cfg(test)]
mod tests;
