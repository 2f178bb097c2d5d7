//! Errors of the node handle, each mapping to one HTTP status.

use tim_protocol::SpaceId;

/// Why a node operation failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// The node does not host this space.
    #[error("this node does not host space {0}; join it first (tim space join {0})")]
    UnknownSpace(SpaceId),
    /// The request is malformed or out of bounds.
    #[error("{0}")]
    Invalid(String),
    /// The acting timite may not do or see this (another timite's resource, a timite the
    /// node does not host).
    #[error("{0}")]
    Forbidden(String),
    /// No such thing (credential, token).
    #[error("{0}")]
    NotFound(String),
    /// A timeline cursor names no message of the space's timeline.
    #[error("{0}")]
    UnknownMessage(String),
    /// The space's rules refuse it.
    #[error("refused: {0}")]
    Refused(String),
    /// The space was ephemeral and has expired: it is deleted.
    #[error("space {0} was ephemeral and has expired: its messages are deleted and it cannot be joined again")]
    Expired(SpaceId),
    /// The space is known but its history has not arrived yet.
    #[error("space {0} is still syncing; its history has not arrived from any peer yet")]
    NotReady(SpaceId),
    /// The acting timite is a member of an end-to-end encrypted space, but the group's keys
    /// have not reached it yet.
    #[error(
        "the keys of end-to-end encrypted space {0} have not reached this timite yet: a \
         member's node adds it to the encryption group once it sees the join and the published \
         keys (docs/privacy.md §4.4); try again in a moment"
    )]
    KeysPending(SpaceId),
    /// Nothing answered in time.
    #[error("{0}")]
    Timeout(String),
    /// Storage failed.
    #[error("storage failed: {0}")]
    Storage(String),
    /// The node is shutting down.
    #[error("the node is shutting down")]
    Gone,
}

impl From<crate::store::StoreError> for NodeError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Storage(e.to_string())
    }
}

impl From<tim_crdt::SpaceError> for NodeError {
    fn from(e: tim_crdt::SpaceError) -> Self {
        use tim_crdt::SpaceError as E;
        match e {
            E::Invalid(m) => Self::Invalid(m),
            E::NotReady(id) => Self::NotReady(id),
            E::Refused(r) => Self::Refused(r.to_string()),
            other => Self::Invalid(other.to_string()),
        }
    }
}
