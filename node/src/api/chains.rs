//! Chains of ability requests (docs/abilities.md §12): make one, list them, read one with its
//! linked trace, cancel one. A chain the rules refuse is a `403 tim:problem/refused` whose
//! detail gives the rule's reason; an unknown chain a `404 tim:problem/not-found`.

use axum::extract::State;
use axum::Json;
use tim_protocol::api::{ChainMade, ChainView, Done, NewChain};
use tim_protocol::SpaceId;

use super::extract::{ApiJson, Id, Ids};
use super::problem::{ApiResult, Problems};
use crate::service::{Caller, Service};

/// Makes a chain as the timite: each step's output is the next step's input (mapped where
/// the plan says); this node asks each step when it is due. In a space below schema version
/// 6, an admin's chain migrates it first. Answers the chain's id once the change is on disk.
#[utoipa::path(post, path = "/v1/spaces/{id}/chains", tag = "abilities",
    request_body = NewChain, params(("id" = String, Path, description = "Space id")),
    responses((status = 200, body = ChainMade), Problems))]
pub(super) async fn create(
    State(s): State<Service>,
    caller: Caller,
    Id(id): Id<SpaceId>,
    ApiJson(body): ApiJson<NewChain>,
) -> ApiResult<Json<ChainMade>> {
    Ok(Json(s.make_chain(&caller, id, &body).await?))
}

/// The space's chains, in its order, each with its state and the requests of its steps.
#[utoipa::path(get, path = "/v1/spaces/{id}/chains", tag = "abilities",
    params(("id" = String, Path, description = "Space id")),
    responses((status = 200, body = [ChainView]), Problems))]
pub(super) async fn list(
    State(s): State<Service>,
    caller: Caller,
    Id(id): Id<SpaceId>,
) -> ApiResult<Json<Vec<ChainView>>> {
    Ok(Json(s.chains(&caller, id).await?))
}

/// One chain: its plan, state (the current or failing step, the reason, the output) and the
/// requests of its steps.
#[utoipa::path(get, path = "/v1/spaces/{id}/chains/{chain}", tag = "abilities",
    params(("id" = String, Path, description = "Space id"),
           ("chain" = String, Path, description = "Chain id")),
    responses((status = 200, body = ChainView), Problems))]
pub(super) async fn chain(
    State(s): State<Service>,
    caller: Caller,
    Ids(id, chain): Ids<SpaceId, String>,
) -> ApiResult<Json<ChainView>> {
    Ok(Json(s.chain(&caller, id, &chain).await?))
}

/// Cancels the timite's own chain while it runs: no further step is asked.
#[utoipa::path(post, path = "/v1/spaces/{id}/chains/{chain}/cancel", tag = "abilities",
    params(("id" = String, Path, description = "Space id"),
           ("chain" = String, Path, description = "Chain id")),
    responses((status = 200, body = Done), Problems))]
pub(super) async fn cancel(
    State(s): State<Service>,
    caller: Caller,
    Ids(id, chain): Ids<SpaceId, String>,
) -> ApiResult<Json<Done>> {
    let change = s.cancel_chain(&caller, id, &chain).await?;
    Ok(Json(Done { change }))
}
