//! JSON types of timites' profiles and handles (schema version 11; docs/protocol.md §9.13.1,
//! docs/operator.md "Profiles and handles"): what `PUT /v1/profile` takes, what
//! `GET /v1/profiles/{did}` answers, and the WebFinger answer (RFC 7033) that resolves a handle.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{CredentialId, Did, SpaceId};

/// A timite's profile as a node shows it (`GET /v1/profiles/{did}`): the newest by its `at`
/// among the spaces the asking timite shares with it (and, for a timite hosted on the node,
/// the profile it set there).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct ProfileView {
    /// The timite.
    pub did: Did,
    /// Its display name (1 to 64 characters; names are not unique).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its short bio (at most 280 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bio: Option<String>,
    /// Its avatar's type and size; the bytes are at `GET /v1/profiles/{did}/avatar`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<AvatarView>,
    /// Its handle on the node that hosts it (`name@host:port`), when that node is this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handle: Option<String>,
}

/// An avatar's media type and size.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct AvatarView {
    /// `image/png`, `image/jpeg`, `image/webp` or `image/gif`.
    pub mime: String,
    /// Its size in bytes (at most 32 KiB).
    pub size: u64,
}

/// An avatar to set: its media type and its bytes in base64 (standard alphabet, padded).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AvatarUpload {
    /// `image/png`, `image/jpeg`, `image/webp` or `image/gif`; the bytes must start with that
    /// format's magic number.
    pub mime: String,
    /// The image, base64; at most 32 KiB decoded.
    pub data: String,
}

/// Body of `PUT /v1/profile`: the acting timite's profile, written whole into every space it
/// is a member of at schema version 11 or later, and kept by its node for spaces it joins
/// later; and/or the handle it claims on its node. At least one of `name` and `handle`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetTimiteProfile {
    /// The display name, 1 to 64 characters after trimming, no control characters. A field
    /// left out keeps the value of the profile the node keeps (a first profile needs a name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A short bio, at most 280 characters; empty clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bio: Option<String>,
    /// An avatar, at most 32 KiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<AvatarUpload>,
    /// A handle to claim on this node: 1 to 32 of `a-z`, `0-9`, `.`, `_` and `-`, starting
    /// with a letter or digit; refused if another timite of the node holds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handle: Option<String>,
}

/// What `PUT /v1/profile` did.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct ProfileSet {
    /// The profile as it is now kept.
    pub profile: ProfileView,
    /// The spaces the profile was written into.
    #[serde(default)]
    pub written: Vec<SpaceId>,
    /// The spaces it was not written into, with why (below schema version 11, or refused).
    #[serde(default)]
    pub skipped: Vec<SkippedSpace>,
    /// The self-issued profile credential issued for it, now in the passport in place of the
    /// older one (docs/passports.md, "The profile credential"); absent when only the handle
    /// was set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<CredentialId>,
}

/// A space a profile was not written into.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct SkippedSpace {
    /// The space.
    pub space: SpaceId,
    /// Why: e.g. its schema version is below 11 (`tim space migrate` raises it).
    pub reason: String,
}

/// A WebFinger answer (a JSON Resource Descriptor, RFC 7033 §4.4) for `acct:NAME@HOST:PORT`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct Jrd {
    /// The resource: the timite's DID.
    pub subject: String,
    /// Other names of it: its DID, its did:web and its `acct:` URI.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Links: its did:web document, and its profile on the node.
    #[serde(default)]
    pub links: Vec<JrdLink>,
}

/// A link of a [`Jrd`].
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct JrdLink {
    /// The relation (`self` for the did:web document).
    pub rel: String,
    /// The media type of the target.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The target.
    pub href: String,
}
