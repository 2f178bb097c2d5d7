//! JSON types of personas published in a space (docs/agents.md "Publishing personas"): a
//! persona file shared as a signed, content-addressed entry of the space document.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{ChangeHash, Did};

/// `POST /v1/spaces/{id}/personas`: publish a persona file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct PublishPersona {
    /// The persona file (TOML, at most 16 KiB), published byte for byte. Its top-level `name`
    /// and `description` name it in the space.
    pub toml: String,
}

/// The answer to a publication.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct PersonaPublished {
    /// The persona's id: `sha256:` and the hex SHA-256 of its TOML, the same on every node.
    pub id: String,
    /// The change that published it.
    pub change: ChangeHash,
}

/// A persona published in a space.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct PersonaView {
    /// Its id, `sha256:<hex>`.
    pub id: String,
    /// Who published it.
    pub author: Did,
    /// Its name.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// When its author says it published it, ms since the Unix epoch (informational).
    pub published: u64,
    /// The persona file, byte for byte (what adopting it runs).
    pub toml: String,
}
