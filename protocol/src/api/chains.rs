//! JSON types of chains of ability requests (docs/abilities.md §12): a plan of steps, each
//! step's output the next one's input, and where a chain is.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::AbilityRequest;
use crate::{ChangeHash, Did};

/// One step of a chain's plan.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct ChainStep {
    /// The ability asked for.
    pub ability: String,
    /// Whom to ask; absent: `auto` (docs/abilities.md §7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Did>,
    /// How to build this step's input from the previous step's output: each field of the
    /// input object is the value at a JSON pointer into that output (`{"words": "/loud"}`).
    /// Absent: the output itself. The first step has none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub map: BTreeMap<String, String>,
}

/// `POST /v1/spaces/{id}/chains`: make a chain; the caller's node asks each step when due.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct NewChain {
    /// The plan: 2 to 8 steps, in order.
    pub steps: Vec<ChainStep>,
    /// The first step's input.
    pub input: Value,
    /// How long the chain runs, in seconds (default 600, at most 30 days); each step's
    /// request is open until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
}

/// The answer to a new chain.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct ChainMade {
    /// The chain's id, the same on every node.
    pub id: String,
    /// The change that made it.
    pub change: ChangeHash,
}

/// A chain, where it is and its linked trace (the same on every node that holds the same
/// changes).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct ChainView {
    /// Its id.
    pub id: String,
    /// Who made it, and asks each step.
    pub author: Did,
    /// The plan.
    pub steps: Vec<ChainStep>,
    /// The first step's input.
    pub input: Value,
    /// When it was made, ms since the Unix epoch.
    pub at: u64,
    /// No step is asked after this time, ms since the Unix epoch.
    pub deadline: u64,
    /// `running`, `completed`, `failed` or `cancelled`.
    pub state: String,
    /// The step it is at (running) or stopped at (failed, cancelled), from 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<usize>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The last step's output, once completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    /// For each step, its request once asked (`null` before).
    pub requests: Vec<Option<AbilityRequest>>,
}
