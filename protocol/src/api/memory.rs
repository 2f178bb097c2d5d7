//! JSON types of agents' memory (docs/agents.md "Memory"): the layers, an entry, and the
//! queries of `GET`/`DELETE /v1/agents/{agent}/memory`. Memory stays on the agent's node: these
//! types travel between a node and its operator only, never between nodes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{Did, SpaceId};

/// A layer of an agent's memory.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum MemoryLayer {
    /// The current exchange: the last messages the agent saw or said in a space.
    Session,
    /// Rolling extractive summaries of what happened in a space.
    Space,
    /// Per agent, across spaces: who it met, what they asked, outcomes of requests.
    Personal,
    /// Tone and timeline snapshots: message rate, active members, share of questions.
    Meta,
}

impl MemoryLayer {
    /// Every layer, in the order a prompt's context lists them.
    pub const ALL: [Self; 4] = [Self::Session, Self::Space, Self::Personal, Self::Meta];

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Session => "session",
            Self::Space => "space",
            Self::Personal => "personal",
            Self::Meta => "meta",
        }
    }
}

impl fmt::Display for MemoryLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MemoryLayer {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| {
                format!("`{s}` is not a memory layer; use session, space, personal or meta")
            })
    }
}

/// One thing an agent remembers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MemoryEntry {
    /// Its sequence number on the node: later entries have greater ones.
    pub seq: u64,
    /// When it happened (or was remembered), ms since the Unix epoch.
    pub at: u64,
    /// Its layer.
    pub layer: MemoryLayer,
    /// The space it happened in (absent for what is not about one space).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub space: Option<SpaceId>,
    /// The timite it is about (a message's author, the agent itself for what it did).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub about: Option<Did>,
    /// What it remembers.
    pub text: String,
}

/// `GET /v1/agents/{agent}/memory`: which entries (newest `limit` of them, oldest first).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MemoryQuery {
    /// Only entries about this space.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<String>)]
    pub space: Option<SpaceId>,
    /// Only this layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<String>)]
    pub layer: Option<MemoryLayer>,
    /// At most this many (default 100, at most 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

/// The answer to `DELETE /v1/agents/{agent}/memory`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct Forgotten {
    /// How many entries were erased (gone from the node's store, on disk).
    pub erased: usize,
}
