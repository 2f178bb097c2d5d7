//! The Tim space: one Automerge document per space, behind a typed API, where every change is
//! signed by its author and judged by the space's rules before it is applied.
//!
//! The only way into a [`Space`]'s state is [`Space::ingest`] (and the local writes, which build
//! a change and then pass it through the same checks):
//!
//! 1. the envelope names this space;
//! 2. its bytes decode as an Automerge change of bounded size;
//! 3. the Ed25519 signature verifies over the space id and the change hash;
//! 4. the change's actor id is the author's public key;
//! 5. every dependency is present (otherwise the change waits in a bounded buffer);
//! 6. the rules ([`rules`]) allow every operation, judged against the document *at the change's
//!    dependencies*, so every honest node reaches the same verdict; which rule judges a write
//!    follows from the [`schema`] table, and roles are data ([`roles`]);
//! 7. only then is it applied, and its envelope kept for sync and storage.
//!
//! The crate is pure: no clocks (times come in as data), no sockets, no files.
#![deny(missing_docs)]

pub mod abilities;
pub mod admission;
pub mod attestation;
pub mod budgets;
mod doc;
pub mod earned;
pub mod encryption;
mod error;
pub mod inbox;
pub mod issuance;
pub mod json_schema;
pub mod messages;
pub mod notices;
mod page;
pub mod personas;
pub mod profile;
pub mod profiles;
mod proposals;
pub mod reputation;
pub mod roles;
pub mod rules;
pub mod schema;
mod space;
mod sync;
#[cfg(feature = "test-utils")]
pub mod test_utils;
mod timeline_index;
pub mod tokens;
mod writer;

pub use automerge::sync::State as SyncState;
pub use error::{Rejection, SpaceError};
pub use page::{MemberPage, MessagePage, PageError, PageFrom};
pub use roles::{Permission, Permissions, Role, RoleDef, RoleName};
pub use rules::Visibility;
pub use space::{
    check_envelopes, verify_envelope, Applied, BatchIngested, Checked, Effect, Ingested, Restored,
    Space, SpaceMeta, MAX_PENDING,
};
pub use sync::SyncReceived;
pub use writer::{actor_is_author, Writer, SESSION_BYTES};
