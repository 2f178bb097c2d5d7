//! Abilities and requests (docs/abilities.md): declarations, search, requests and their steps.
//! A step the rules refuse is a `403 tim:problem/refused` whose detail gives the rule's
//! reason; an unknown request a `404 tim:problem/not-found`.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::Json;
use tim_protocol::api::{
    AbilityHit, AbilityRequest, AbilitySearchQuery, AbilityView, BadgeThreshold, DeclareAbility,
    Done, NewRequest, ProgressNote, RequestFailure, RequestMade, RequestRating, RequestResult,
    RequestsQuery,
};
use tim_protocol::SpaceId;

use super::extract::{ApiJson, ApiQuery, Id, Ids};
use super::problem::{ApiResult, Problems};
use crate::service::{Caller, Service};

/// Declares (or redeclares) an ability as the timite, in the shape of an MCP tool. In a space
/// below schema version 4, an admin's declaration migrates it first.
#[utoipa::path(put, path = "/v1/spaces/{id}/abilities/{name}", tag = "abilities",
    request_body = DeclareAbility,
    params(("id" = String, Path, description = "Space id"),
           ("name" = String, Path, description = "Namespaced ability name, e.g. text.summarize")),
    responses((status = 200, body = Done), Problems))]
pub(super) async fn declare(
    State(s): State<Service>,
    caller: Caller,
    Ids(id, name): Ids<SpaceId, String>,
    ApiJson(body): ApiJson<DeclareAbility>,
) -> ApiResult<Json<Done>> {
    let change = s.declare_ability(&caller, id, &name, &body).await?;
    Ok(Json(Done { change }))
}

/// Withdraws the timite's declaration of an ability.
#[utoipa::path(delete, path = "/v1/spaces/{id}/abilities/{name}", tag = "abilities",
    params(("id" = String, Path, description = "Space id"),
           ("name" = String, Path, description = "The ability's name")),
    responses((status = 200, body = Done), Problems))]
pub(super) async fn withdraw(
    State(s): State<Service>,
    caller: Caller,
    Ids(id, name): Ids<SpaceId, String>,
) -> ApiResult<Json<Done>> {
    let change = s.withdraw_ability(&caller, id, &name).await?;
    Ok(Json(Done { change }))
}

/// Every ability declared in the space, by name then provider, with the provider's record.
#[utoipa::path(get, path = "/v1/spaces/{id}/abilities", tag = "abilities",
    params(("id" = String, Path, description = "Space id")),
    responses((status = 200, body = [AbilityView]), Problems))]
pub(super) async fn list(
    State(s): State<Service>,
    caller: Caller,
    Id(id): Id<SpaceId>,
) -> ApiResult<Json<Vec<AbilityView>>> {
    Ok(Json(s.abilities(&caller, id).await?))
}

/// Who can do it: the abilities of active members in the spaces this node hosts that the
/// timite may read, ranked (docs/abilities.md §6), each with the addresses to join through.
#[utoipa::path(get, path = "/v1/abilities/search", tag = "abilities",
    params(AbilitySearchQuery),
    responses((status = 200, body = [AbilityHit]), Problems))]
pub(super) async fn search(
    State(s): State<Service>,
    caller: Caller,
    ApiQuery(query): ApiQuery<AbilitySearchQuery>,
) -> ApiResult<Json<Vec<AbilityHit>>> {
    Ok(Json(s.search_abilities(&caller, &query).await?))
}

/// Asks for an ability, of one provider or `auto`; answers the request's id (the same on
/// every node) once the change is on disk.
#[utoipa::path(post, path = "/v1/spaces/{id}/requests", tag = "abilities",
    request_body = NewRequest, params(("id" = String, Path, description = "Space id")),
    responses((status = 200, body = RequestMade), Problems))]
pub(super) async fn create(
    State(s): State<Service>,
    caller: Caller,
    Id(id): Id<SpaceId>,
    ApiJson(body): ApiJson<NewRequest>,
) -> ApiResult<Json<RequestMade>> {
    Ok(Json(s.request_ability(&caller, id, &body).await?))
}

/// The space's requests, in its order: all, those addressed to the timite, or the open ones.
#[utoipa::path(get, path = "/v1/spaces/{id}/requests", tag = "abilities",
    params(("id" = String, Path, description = "Space id"), RequestsQuery),
    responses((status = 200, body = [AbilityRequest]), Problems))]
pub(super) async fn requests(
    State(s): State<Service>,
    caller: Caller,
    Id(id): Id<SpaceId>,
    ApiQuery(query): ApiQuery<RequestsQuery>,
) -> ApiResult<Json<Vec<AbilityRequest>>> {
    Ok(Json(s.requests(&caller, id, query).await?))
}

/// One request and where it is.
#[utoipa::path(get, path = "/v1/spaces/{id}/requests/{rid}", tag = "abilities",
    params(("id" = String, Path, description = "Space id"),
           ("rid" = String, Path, description = "Request id")),
    responses((status = 200, body = AbilityRequest), Problems))]
pub(super) async fn request(
    State(s): State<Service>,
    caller: Caller,
    Ids(id, rid): Ids<SpaceId, String>,
) -> ApiResult<Json<AbilityRequest>> {
    Ok(Json(s.request(&caller, id, &rid).await?))
}

/// Claims a request (its target, or an `auto` candidate whose turn came).
#[utoipa::path(post, path = "/v1/spaces/{id}/requests/{rid}/claim", tag = "abilities",
    params(("id" = String, Path, description = "Space id"),
           ("rid" = String, Path, description = "Request id")),
    responses((status = 200, body = Done), Problems))]
pub(super) async fn claim(
    State(s): State<Service>,
    caller: Caller,
    Ids(id, rid): Ids<SpaceId, String>,
) -> ApiResult<Json<Done>> {
    let change = s.claim_request(&caller, id, &rid).await?;
    Ok(Json(Done { change }))
}

/// Posts progress on a request the timite claimed (and won).
#[utoipa::path(post, path = "/v1/spaces/{id}/requests/{rid}/progress", tag = "abilities",
    request_body = ProgressNote,
    params(("id" = String, Path, description = "Space id"),
           ("rid" = String, Path, description = "Request id")),
    responses((status = 200, body = Done), Problems))]
pub(super) async fn progress(
    State(s): State<Service>,
    caller: Caller,
    Ids(id, rid): Ids<SpaceId, String>,
    ApiJson(body): ApiJson<ProgressNote>,
) -> ApiResult<Json<Done>> {
    let change = s.request_progress(&caller, id, &rid, &body.note).await?;
    Ok(Json(Done { change }))
}

/// Posts the result of a request the timite claimed (and won), valid against its output
/// schema.
#[utoipa::path(post, path = "/v1/spaces/{id}/requests/{rid}/result", tag = "abilities",
    request_body = RequestResult,
    params(("id" = String, Path, description = "Space id"),
           ("rid" = String, Path, description = "Request id")),
    responses((status = 200, body = Done), Problems))]
pub(super) async fn result(
    State(s): State<Service>,
    caller: Caller,
    Ids(id, rid): Ids<SpaceId, String>,
    ApiJson(body): ApiJson<RequestResult>,
) -> ApiResult<Json<Done>> {
    let change = s.request_result(&caller, id, &rid, body.output).await?;
    Ok(Json(Done { change }))
}

/// Posts that a request the timite claimed (and won) failed, and why.
#[utoipa::path(post, path = "/v1/spaces/{id}/requests/{rid}/failure", tag = "abilities",
    request_body = RequestFailure,
    params(("id" = String, Path, description = "Space id"),
           ("rid" = String, Path, description = "Request id")),
    responses((status = 200, body = Done), Problems))]
pub(super) async fn failure(
    State(s): State<Service>,
    caller: Caller,
    Ids(id, rid): Ids<SpaceId, String>,
    ApiJson(body): ApiJson<RequestFailure>,
) -> ApiResult<Json<Done>> {
    let change = s.request_failure(&caller, id, &rid, &body.reason).await?;
    Ok(Json(Done { change }))
}

/// Cancels the timite's own request while it is open or claimed.
#[utoipa::path(post, path = "/v1/spaces/{id}/requests/{rid}/cancel", tag = "abilities",
    params(("id" = String, Path, description = "Space id"),
           ("rid" = String, Path, description = "Request id")),
    responses((status = 200, body = Done), Problems))]
pub(super) async fn cancel(
    State(s): State<Service>,
    caller: Caller,
    Ids(id, rid): Ids<SpaceId, String>,
) -> ApiResult<Json<Done>> {
    let change = s.cancel_request(&caller, id, &rid).await?;
    Ok(Json(Done { change }))
}

/// Rates the outcome of the timite's own request, 1 to 5.
#[utoipa::path(post, path = "/v1/spaces/{id}/requests/{rid}/rating", tag = "abilities",
    request_body = RequestRating,
    params(("id" = String, Path, description = "Space id"),
           ("rid" = String, Path, description = "Request id")),
    responses((status = 200, body = Done), Problems))]
pub(super) async fn rate(
    State(s): State<Service>,
    caller: Caller,
    Ids(id, rid): Ids<SpaceId, String>,
    ApiJson(body): ApiJson<RequestRating>,
) -> ApiResult<Json<Done>> {
    let change = s.rate_request(&caller, id, &rid, body.score).await?;
    Ok(Json(Done { change }))
}

/// The space's badge thresholds (`meta.badges`, docs/abilities.md §13), by ability name.
#[utoipa::path(get, path = "/v1/spaces/{id}/badges", tag = "abilities",
    params(("id" = String, Path, description = "Space id")),
    responses((status = 200, body = BTreeMap<String, BadgeThreshold>), Problems))]
pub(super) async fn badges(
    State(s): State<Service>,
    caller: Caller,
    Id(id): Id<SpaceId>,
) -> ApiResult<Json<BTreeMap<String, BadgeThreshold>>> {
    Ok(Json(s.badges(&caller, id).await?))
}

/// Sets the space's badge thresholds (admins; schema version 6): a provider whose rated
/// outcomes for an ability reach its threshold gets an ability credential from a node hosting
/// an admin, once (docs/abilities.md §13). The body replaces every threshold.
#[utoipa::path(put, path = "/v1/spaces/{id}/badges", tag = "abilities",
    request_body = BTreeMap<String, BadgeThreshold>,
    params(("id" = String, Path, description = "Space id")),
    responses((status = 200, body = Done), Problems))]
pub(super) async fn set_badges(
    State(s): State<Service>,
    caller: Caller,
    Id(id): Id<SpaceId>,
    ApiJson(body): ApiJson<BTreeMap<String, BadgeThreshold>>,
) -> ApiResult<Json<Done>> {
    let change = s.set_badges(&caller, id, body).await?;
    Ok(Json(Done { change }))
}
