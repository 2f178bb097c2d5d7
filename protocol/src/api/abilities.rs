//! JSON types of abilities and requests (docs/abilities.md): declarations, search hits,
//! requests and their steps.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::{ChangeHash, Did, SpaceId};

/// How long a request stays open unless it says otherwise, in seconds.
pub const DEFAULT_REQUEST_TIMEOUT_SECS: u64 = 600;

/// The empty JSON Schema: any value.
fn any_value() -> Value {
    Value::Object(serde_json::Map::new())
}

/// `PUT /v1/spaces/{id}/abilities/{name}`: declare (or redeclare) an ability, in the shape of
/// an MCP tool definition.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct DeclareAbility {
    /// What it does, 1 to 1024 bytes.
    pub description: String,
    /// JSON Schema of the input (the subset `tim-json-schema/1`, docs/abilities.md §5);
    /// default `{}`, any value.
    #[serde(default = "any_value")]
    pub input_schema: Value,
    /// JSON Schema of the output; default `{}`, any value.
    #[serde(default = "any_value")]
    pub output_schema: Value,
    /// The id of an ability credential that attests it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
    /// The attesting credential itself (a VC as JSON text, or a JWT; at most 16 KiB), for a
    /// credential of another space (schema version 6, docs/abilities.md §13).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation: Option<String>,
    /// Its price, in tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<u64>,
}

/// When a provider earns the badge of an ability (`meta.badges`, docs/abilities.md §13): the
/// body of `PUT /v1/spaces/{id}/badges` is a map from ability name to this.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BadgeThreshold {
    /// Least number of rated outcomes (at least 1).
    pub min_rated: u64,
    /// Least mean rating, 1.0 to 5.0.
    pub min_mean_rating: f64,
}

/// A provider's record for one ability, from the requests it won, and the terms of the rank
/// score it gives (per mille, docs/abilities.md §6).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct AbilityReputationView {
    /// Requests it completed.
    pub completed: u64,
    /// Requests it failed.
    pub failed: u64,
    /// Ratings its outcomes received.
    pub ratings: u64,
    /// Their sum.
    pub rating_sum: u64,
    /// Requests it is working on now.
    pub in_flight: u64,
    /// Mean time from request to its claim, in ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_response_ms: Option<u64>,
    /// The rating term, per mille (500 with no rating).
    pub rating_score: u64,
    /// The success term, per mille.
    pub success_score: u64,
    /// The speed term, per mille.
    pub speed_score: u64,
}

/// An ability declared in a space: `GET /v1/spaces/{id}/abilities`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct AbilityView {
    /// Who declares it.
    pub provider: Did,
    /// Its namespaced name (`text.summarize`).
    pub name: String,
    /// What it does.
    pub description: String,
    /// JSON Schema of the input.
    pub input_schema: Value,
    /// JSON Schema of the output.
    pub output_schema: Value,
    /// The id of the ability credential that attests it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
    /// Its price, in tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<u64>,
    /// When it was declared, ms since the Unix epoch.
    pub at: u64,
    /// The provider is a member of the space, not banned: it shows in search.
    pub active: bool,
    /// How its attestation stands: `unattested`, `attested`, or `refused` (then it does not
    /// show in search, and `refused` says why; docs/abilities.md §13).
    #[serde(default)]
    pub attestation: String,
    /// Why its attesting credential no longer attests it (revoked, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// The provider's record for it.
    pub reputation: AbilityReputationView,
}

/// `GET /v1/abilities/search`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AbilitySearchQuery {
    /// Words to look for in names and descriptions; empty lists every ability.
    #[serde(default)]
    pub q: String,
    /// Only this space.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub space: Option<SpaceId>,
    /// Also the network index: providers in public spaces this node does not host, with the
    /// address of a node to join through (docs/abilities.md §11). They score as providers
    /// with no history: reputation is known only inside the space.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub network: bool,
}

/// A provider found by a search: who can do it, where, how well, and how to join.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct AbilityHit {
    /// The provider.
    pub provider: Did,
    /// The ability's name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// The space it is declared in.
    pub space: SpaceId,
    /// The space's name.
    pub space_name: String,
    /// The rank score, per mille: `(400·text + 150·attestation + 200·rating + 150·success +
    /// 100·speed) / 1000`.
    pub score: u64,
    /// How well the query matched its name and description, per mille.
    pub text: u64,
    /// Attested by an unrevoked ability credential this space issued to the provider.
    pub attested: bool,
    /// Its price, in tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<u64>,
    /// The provider's record for it, with the other terms of the score.
    pub reputation: AbilityReputationView,
    /// Addresses of a node hosting the space, to join it through
    /// (`tim space join SPACE --via ADDR`).
    pub via: Vec<String>,
    /// Whether the provider's node is reachable from the answering node: hosted there, or
    /// listed in the ability index record of a node it is connected to; absent: unknown (no
    /// index record lists it). An unreachable provider's `score` is lowered by 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available: Option<bool>,
}

/// `POST /v1/spaces/{id}/requests`: ask for an ability.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct NewRequest {
    /// The ability's name.
    pub ability: String,
    /// The input, valid against the provider's input schema.
    pub input: Value,
    /// Whom to ask; absent: `auto`, the providers the space ranks first, in turn
    /// (docs/abilities.md §7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Did>,
    /// How long the request stays open, in seconds (default 600, at most 30 days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
    /// Tokens held from the requester and paid to the winning claimant on completion
    /// (schema version 9, docs/governance.md "Tokens"); with no `to`, a bounty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reward: Option<u64>,
}

/// The answer to a new request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct RequestMade {
    /// The request's id, the same on every node.
    pub id: String,
    /// The change that made it.
    pub change: ChangeHash,
}

/// `GET /v1/spaces/{id}/requests`: which requests.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RequestsQuery {
    /// Only requests addressed to the caller (it is their target, or an `auto` candidate).
    #[serde(default)]
    pub mine: bool,
    /// Only open requests (nobody claimed them).
    #[serde(default)]
    pub open: bool,
}

/// A payload held out of band, as the space records it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct PayloadInfo {
    /// `sha256:` and the 64 lowercase hex digits of the SHA-256 of its bytes.
    pub hash: String,
    /// Its size in bytes.
    pub size: u64,
}

/// A request, and where it is (the same on every node that holds the same changes).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct AbilityRequest {
    /// Its id.
    pub id: String,
    /// The ability asked for.
    pub ability: String,
    /// Who asked.
    pub requester: Did,
    /// Whom it asked: a DID, or `auto`.
    pub target: String,
    /// Who may claim, in turn.
    pub candidates: Vec<Did>,
    /// The input.
    pub input: Value,
    /// When it was made, ms since the Unix epoch.
    pub at: u64,
    /// No claim or outcome is accepted after this time, ms since the Unix epoch.
    pub deadline: u64,
    /// `open`, `claimed`, `completed`, `failed` or `cancelled`.
    pub state: String,
    /// The winning claimant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimant: Option<Did>,
    /// Every claimant (concurrent claims: one wins).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub claims: Vec<Did>,
    /// The winning claimant's latest progress note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
    /// The result, once completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    /// The reason, once failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// Claimants whose results lost to a concurrent claim: never accepted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub superseded: Vec<Did>,
    /// The requester's rating of the outcome, 1 to 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<u8>,
    /// The chain it is a step of (docs/abilities.md §12).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<String>,
    /// Its step in that chain, from 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<usize>,
    /// The input, if held out of band (docs/abilities.md §14); `input` is then `null` in
    /// lists, and the bytes' JSON when one request is read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_payload: Option<Box<PayloadInfo>>,
    /// The accepted result, if held out of band; `output` is then absent in lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_payload: Option<Box<PayloadInfo>>,
    /// Why the requester's node holds the result held out of band invalid (it fails the
    /// provider's output schema, or is not JSON): the rules never saw its bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_invalid: Option<String>,
    /// Its reward in tokens (schema version 9).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reward: Option<u64>,
    /// Whether the requester's balance covered the reward (absent without a reward): an
    /// unfunded request pays nothing, so providers skip it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub funded: Option<bool>,
}

/// `POST /v1/spaces/{id}/requests/{rid}/progress`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct ProgressNote {
    /// How far it is.
    pub note: String,
}

/// `POST /v1/spaces/{id}/requests/{rid}/result`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct RequestResult {
    /// The output, valid against the claimant's output schema.
    pub output: Value,
}

/// `POST /v1/spaces/{id}/requests/{rid}/failure`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct RequestFailure {
    /// Why it failed (not blank).
    pub reason: String,
}

/// `POST /v1/spaces/{id}/requests/{rid}/rating`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct RequestRating {
    /// 1 to 5.
    pub score: u8,
}

/// Whose side of a request a timite is on, in `GET /v1/requests?role=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RequestRole {
    /// Asked to do it: its target, an `auto` candidate, or a claimant.
    Provider,
    /// Asked for it.
    Requester,
}

/// Where a request is (`AbilityRequest::state`), in `GET /v1/requests?state=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RequestStateName {
    /// Nobody claimed it yet.
    Open,
    /// A provider is working on it.
    Claimed,
    /// Its winning claimant posted a result.
    Completed,
    /// Its winning claimant posted a failure.
    Failed,
    /// Its requester cancelled it.
    Cancelled,
}

impl RequestStateName {
    /// The name, as in `AbilityRequest::state`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Claimed => "claimed",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }
}

/// `GET /v1/requests`: the requests that concern the caller, across the spaces it reads.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MyRequestsQuery {
    /// Only those it is asked to do (`provider`) or asked for (`requester`); absent: both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(inline)]
    pub role: Option<RequestRole>,
    /// Only those in this state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(inline)]
    pub state: Option<RequestStateName>,
}

/// A request, with the space it is in: `GET /v1/requests`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct SpaceRequest {
    /// The space.
    pub space: SpaceId,
    /// The space's name.
    pub space_name: String,
    /// The request, as it is now.
    pub request: AbilityRequest,
}
