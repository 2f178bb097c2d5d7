//! JSON types of agents (docs/agents.md): hosted timites whose behaviour the node runs, made
//! from a persona, tuned, paused and resumed by the operator.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{Did, SpaceId};

/// `POST /v1/agents` (operator): a new agent, a new hosted timite with its own key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct NewAgent {
    /// Its name on this node (1 to 64 of `a-z 0-9 - _ .`), unique.
    pub name: String,
    /// A shipped template's name (`catalyst`, `greeter`, ...) or a persona's TOML text.
    pub persona: String,
    /// `PROVIDER:MODEL` (e.g. `ollama:llama3.2`), over the persona's own `model`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The model's base URL, over the provider's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// An environment variable of the node's process that holds the model's key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_env: Option<String>,
    /// A file, readable by the node's process, that holds the model's key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<String>,
    /// Spaces the agent joins (as itself) and acts in.
    #[serde(default)]
    pub spaces: Vec<SpaceId>,
    /// Multiaddrs of nodes to join the spaces through (each with `/p2p/<peer id>`).
    #[serde(default)]
    pub via: Vec<String>,
}

/// How an agent behaves and how much it may do; each field can be changed by `PATCH
/// /v1/agents/{agent}` ([`TuneAgent`]).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct AgentTuning {
    /// 0 to 1: 0 answers only what is asked of it (no trigger fires); above 0 its triggers act.
    pub proactivity: f64,
    /// The model's sampling temperature (0 to 2).
    pub temperature: f32,
    /// How many recent events of a space a prompt carries.
    pub memory_depth: u32,
    /// `formal` or `casual`.
    pub style: AgentStyle,
    /// Most writes (posts, results, declarations) per hour.
    pub actions_per_hour: u32,
    /// Most model tokens (prompt and answer) per day.
    pub tokens_per_day: u64,
}

/// The tone of an agent's messages.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AgentStyle {
    /// Full sentences, no exclamation marks.
    Formal,
    /// Short and friendly.
    Casual,
}

/// `PATCH /v1/agents/{agent}` (operator): the fields of [`AgentTuning`] to change.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct TuneAgent {
    /// 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proactivity: Option<f64>,
    /// 0 to 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Events per prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_depth: Option<u32>,
    /// `formal` or `casual`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub style: Option<AgentStyle>,
    /// Writes per hour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions_per_hour: Option<u32>,
    /// Model tokens per day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_per_day: Option<u64>,
}

/// What an agent has used of its budget in the current windows.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct BudgetUse {
    /// Writes in the current hour.
    pub actions_this_hour: u32,
    /// Model tokens in the current day.
    pub tokens_today: u64,
    /// While over budget: when it may act again (ms since the Unix epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub over_until: Option<u64>,
}

/// An agent, as `GET /v1/agents/{agent}` shows it (never its model's key).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct AgentView {
    /// Its name on this node.
    pub name: String,
    /// Its own DID (a timite hosted by this node).
    pub did: Did,
    /// The persona's name.
    pub persona: String,
    /// The persona's behaviour template.
    pub template: String,
    /// The persona's description.
    pub description: String,
    /// `PROVIDER:MODEL`, if it uses a model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// How it behaves and how much it may do.
    pub tuning: AgentTuning,
    /// The spaces it acts in.
    pub spaces: Vec<SpaceId>,
    /// The abilities it offers.
    pub abilities: Vec<String>,
    /// Its budget use.
    pub budget: BudgetUse,
    /// `running`, `paused` or `over budget until <time>`.
    pub status: String,
    /// When it was made (ms since the Unix epoch).
    pub created_at: u64,
}

/// One line of an agent's log: what it did or refused, and when.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct AgentLogEntry {
    /// The agent.
    pub agent: Did,
    /// When (ms since the Unix epoch).
    pub at: u64,
    /// `acted`, `refused`, `budget`, `model`, `started` or `stopped`.
    pub kind: String,
    /// What happened, in words.
    pub text: String,
}

/// The query of `GET /v1/agents/{agent}/logs`.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AgentLogsQuery {
    /// The newest this many entries (default all that are kept: 500).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}
