//! [`Writer`]: a timite's key and the Automerge actor id its changes carry in one session.
//!
//! Automerge numbers each actor's changes 1, 2, 3, … and refuses a second change with a
//! sequence number it already holds for that actor. If an actor id were the bare key, a node
//! that crashed after a change had left it but before it reached the disk, or a second device
//! holding the same key, would sign a *different* change at the same actor and sequence
//! number, and the space would fork for good (honest nodes would each refuse one of the two).
//! So an actor id is the author's 32 key bytes followed by a random 16-byte session id, drawn
//! afresh each time a node starts: a new session starts at sequence 1 of a new actor, whatever
//! the node lost. The envelope signature binds the actor to the key (its first 32 bytes), so
//! nobody else can write as the author (docs/protocol.md §1.3).

use automerge::ActorId;
use ed25519_dalek::SigningKey;
use tim_protocol::Did;

/// Bytes of the session id that follows the key in a session actor id.
pub const SESSION_BYTES: usize = 16;

/// Bytes of an Ed25519 public key, the first part of every actor id.
const KEY_BYTES: usize = 32;

/// A hosted timite's signing key with the actor id of its current session.
#[derive(Clone)]
pub struct Writer {
    key: SigningKey,
    did: Did,
    actor: ActorId,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("did", &self.did)
            .field("actor", &self.actor.to_hex_string())
            .finish_non_exhaustive()
    }
}

impl Writer {
    /// A writer for `key` in the session `session` (random, drawn once per node start: two
    /// sessions of one key must never share it).
    pub fn new(key: SigningKey, session: [u8; SESSION_BYTES]) -> Self {
        let public = key.verifying_key();
        let mut actor = public.as_bytes().to_vec();
        actor.extend_from_slice(&session);
        Self {
            did: Did::from_key(&public),
            key,
            actor: ActorId::from(actor),
        }
    }

    /// The timite's DID.
    pub fn did(&self) -> Did {
        self.did
    }

    /// The public key.
    pub fn verifying_key(&self) -> ed25519_dalek::VerifyingKey {
        self.key.verifying_key()
    }

    /// The signing key.
    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    /// The actor id of this session.
    pub fn actor(&self) -> &ActorId {
        &self.actor
    }
}

/// Whether an actor id belongs to `author`: its 32 key bytes, followed by a
/// [`SESSION_BYTES`]-byte session id (or alone: actors of protocol version 1, which spaces made
/// before sessions still hold).
pub fn actor_is_author(actor: &[u8], author: &Did) -> bool {
    (actor.len() == KEY_BYTES || actor.len() == KEY_BYTES + SESSION_BYTES)
        && actor[..KEY_BYTES] == *author.public_bytes()
}

/// Whether two actor ids belong to the same key (the same timite, in any session).
pub(crate) fn same_author(a: &ActorId, b: &ActorId) -> bool {
    let (a, b) = (a.to_bytes(), b.to_bytes());
    a.len() >= KEY_BYTES && b.len() >= KEY_BYTES && a[..KEY_BYTES] == b[..KEY_BYTES]
}

/// Whether an actor id is of protocol version 1 (the bare key, no session).
pub(crate) fn is_v1_actor(actor: &ActorId) -> bool {
    actor.to_bytes().len() == KEY_BYTES
}
