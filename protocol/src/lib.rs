//! Tim's wire and document types.
//!
//! Everything two Tim nodes (or a node and its clients) must agree on lives here: identifiers
//! ([`Did`], [`SpaceId`], [`ChangeHash`], [`MessageId`], [`CredentialId`]), the signed change [`Envelope`], the sync messages,
//! protocol ids, topic names and size bounds ([`wire`]), and the JSON types of the HTTP API
//! ([`api`]). There is no I/O here: decoding untrusted bytes returns typed errors and never
//! panics.
#![deny(missing_docs)]

mod access;
pub mod api;
mod change_hash;
pub mod codec;
mod credential_id;
mod did;
mod envelope;
mod message_id;
pub mod payload;
mod space_id;
pub mod wire;

pub use access::SyncAccess;
pub use change_hash::ChangeHash;
pub use credential_id::{CredentialId, CredentialIdError};
pub use did::{Did, DidError};
pub use envelope::{verify_strict, Envelope, EnvelopeError};
pub use message_id::{MessageId, MessageIdError, MAX_ACTOR_BYTES};
pub use space_id::SpaceId;

/// An error parsing a textual identifier (space id, change hash).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// The text is not lowercase or uppercase hexadecimal.
    #[error("`{0}` is not hexadecimal")]
    NotHex(String),
    /// The text decodes to the wrong number of bytes.
    #[error("expected {expected} bytes ({} hex digits), got {got}", expected * 2)]
    WrongLength {
        /// Bytes expected.
        expected: usize,
        /// Bytes found.
        got: usize,
    },
}

pub(crate) fn parse_hex32(s: &str) -> Result<[u8; 32], IdError> {
    let bytes = hex::decode(s.trim()).map_err(|_| IdError::NotHex(s.to_string()))?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| IdError::WrongLength {
        expected: 32,
        got: bytes.len(),
    })
}

/// Implements `Display`, `FromStr`, `Debug`, serde (as a hex string) and `TryFrom<&[u8]>` for a
/// 32-byte identifier newtype.
macro_rules! hex_id {
    ($name:ident) => {
        impl $name {
            /// The identifier's 32 bytes.
            pub fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }
        }
        impl From<[u8; 32]> for $name {
            fn from(bytes: [u8; 32]) -> Self {
                Self(bytes)
            }
        }
        impl TryFrom<&[u8]> for $name {
            type Error = $crate::IdError;
            fn try_from(bytes: &[u8]) -> Result<Self, Self::Error> {
                <[u8; 32]>::try_from(bytes)
                    .map(Self)
                    .map_err(|_| $crate::IdError::WrongLength {
                        expected: 32,
                        got: bytes.len(),
                    })
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&hex::encode(self.0))
            }
        }
        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({})", stringify!($name), self)
            }
        }
        impl std::str::FromStr for $name {
            type Err = $crate::IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $crate::parse_hex32(s).map(Self)
            }
        }
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use hex_id;

/// A string schema with a pattern, for identifiers that serialize as strings.
fn string_schema(
    pattern: &str,
    description: &str,
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .pattern(Some(pattern))
        .description(Some(description))
        .into()
}

macro_rules! string_schema {
    ($ty:ty, $pattern:expr, $description:expr) => {
        impl utoipa::PartialSchema for $ty {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                crate::string_schema($pattern, $description)
            }
        }
        impl utoipa::ToSchema for $ty {}
    };
}

string_schema!(
    Did,
    "^did:key:z[1-9A-HJ-NP-Za-km-z]+$",
    "A did:key DID naming an Ed25519 key"
);
string_schema!(SpaceId, "^[0-9a-f]{64}$", "A space id: 64 hex digits");
string_schema!(
    ChangeHash,
    "^[0-9a-f]{64}$",
    "An Automerge change hash: 64 hex digits"
);
string_schema!(
    MessageId,
    "^[1-9][0-9]*@([0-9a-f]{2})+$",
    "A message id: the Automerge object id of the message, <counter>@<actor hex>"
);
string_schema!(
    CredentialId,
    "^urn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
    "A credential id: urn:uuid: and a UUID"
);
