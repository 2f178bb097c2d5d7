//! Typed errors: why a change was refused, and why a local write failed.

use tim_protocol::{ChangeHash, Did, EnvelopeError, SpaceId};

/// Why an incoming change was refused. A refused change is never applied, stored or forwarded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// The envelope is for another space.
    #[error("envelope is for space {got}, not {expected}")]
    WrongSpace {
        /// This space.
        expected: SpaceId,
        /// The envelope's space.
        got: SpaceId,
    },
    /// The change bytes are not an Automerge change.
    #[error("change bytes are not an Automerge change: {0}")]
    MalformedChange(String),
    /// The envelope itself is invalid (bad signature, wrong field).
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// The change's actor id is not the author's key.
    #[error("change actor {actor} is not the author {author}'s key")]
    ActorMismatch {
        /// The actor id, hex.
        actor: String,
        /// The envelope's author.
        author: Did,
    },
    /// A change without dependencies that is not this space's genesis.
    #[error("change {0} has no dependencies but is not this space's genesis")]
    NotGenesis(ChangeHash),
    /// The genesis change does not set up the space correctly.
    #[error("invalid genesis: {0}")]
    BadGenesis(String),
    /// The rules do not allow the change.
    #[error("{0}")]
    Unauthorized(String),
    /// The change writes at the document root outside a valid migration, or is a migration
    /// that does not make exactly the containers of the versions it migrates to (empty, of
    /// their types) or does not raise the schema version (docs/rules.md §4.1).
    #[error("invalid migration: {0}")]
    BadMigration(String),
    /// The change (a migration, or a genesis) brings the space to a schema version this node
    /// does not know: a newer node made it. It is refused here, not judged; upgrading this
    /// node lets it in.
    #[error(
        "schema version {version} is newer than this node knows ({}); upgrade to take it in",
        crate::schema::LATEST_VERSION
    )]
    UnknownSchema {
        /// The version the change brings.
        version: u64,
    },
    /// The change makes or writes a root container that the schema versions this node knows
    /// do not have.
    #[error("`{0}` is not a container of any schema version this node knows")]
    UnknownContainer(String),
    /// A second, different change at an actor and sequence number the space already holds:
    /// the key holder signed two changes as one (an honest node never does: each session has
    /// its own actor). The first one a node received stays; honest relays of the other are
    /// not at fault.
    #[error("a different change at sequence number {seq} of actor {actor} is already here")]
    DuplicateSeq {
        /// The actor id, hex.
        actor: String,
        /// The sequence number.
        seq: u64,
    },
    /// Automerge refused to apply the change.
    #[error("automerge refused the change: {0}")]
    Apply(String),
}

impl Rejection {
    /// A short machine-readable name of the reason, for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Self::WrongSpace { .. } => "wrong_space",
            Self::MalformedChange(_) => "malformed_change",
            Self::Envelope(EnvelopeError::BadSignature(_)) => "bad_signature",
            Self::Envelope(_) => "malformed_envelope",
            Self::ActorMismatch { .. } => "actor_mismatch",
            Self::NotGenesis(_) => "not_genesis",
            Self::BadGenesis(_) => "bad_genesis",
            Self::Unauthorized(_) => "unauthorized",
            Self::BadMigration(_) => "bad_migration",
            Self::UnknownSchema { .. } => "unknown_schema",
            Self::UnknownContainer(_) => "unknown_container",
            Self::DuplicateSeq { .. } => "duplicate_seq",
            Self::Apply(_) => "apply_failed",
        }
    }

    /// Whether the peer that served this change is at fault: an honest node never keeps, so
    /// never serves, a change its own checks refuse. A change at an already used sequence
    /// number is the exception: honest nodes may hold either of the two. So is a change at a
    /// schema version this node does not know: an honest, newer node keeps it.
    pub fn blames_sender(&self) -> bool {
        !matches!(self, Self::DuplicateSeq { .. } | Self::UnknownSchema { .. })
    }

    /// Automerge's refusal of a change, typed.
    pub(crate) fn from_automerge(e: automerge::AutomergeError) -> Self {
        match e {
            automerge::AutomergeError::DuplicateSeqNumber(seq, actor) => Self::DuplicateSeq {
                actor: actor.to_hex_string(),
                seq,
            },
            e => Self::Apply(e.to_string()),
        }
    }
}

/// Why a local write (create, join, post) could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpaceError {
    /// The input is not acceptable (empty or too long text, …).
    #[error("invalid input: {0}")]
    Invalid(String),
    /// The space has no genesis yet (still syncing).
    #[error("space {0} has not been received yet; wait for sync to bring its history")]
    NotReady(SpaceId),
    /// The rules refuse the write.
    #[error(transparent)]
    Refused(#[from] Rejection),
    /// Automerge failed.
    #[error("automerge: {0}")]
    Automerge(#[from] automerge::AutomergeError),
    /// The write changes nothing: the space already holds exactly this (e.g. the same rating
    /// or reaction written again), so no change is made, signed or sent.
    #[error("nothing to change: the space already holds this")]
    Unchanged,
}
