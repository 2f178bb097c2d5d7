//! A space's profile and action budgets (schema version 9; docs/governance.md "Budgets" and
//! "Space profiles"): read them, and set them as an admin. A write the rules refuse (not an
//! admin, a space below version 9) is a `403 tim:problem/refused` whose detail gives the
//! rule's reason; a value out of format a `400`.

use axum::extract::State;
use axum::Json;
use tim_protocol::api::{Budgets, Done, SetProfile, SpaceProfile};
use tim_protocol::SpaceId;

use super::extract::{ApiJson, Id};
use super::problem::{ApiResult, Problems};
use crate::service::{Caller, Service};

/// The space's profile: kind, style, initiative (each if set) and join requirements.
#[utoipa::path(get, path = "/v1/spaces/{id}/profile", tag = "spaces",
    params(("id" = String, Path, description = "Space id")),
    responses((status = 200, body = SpaceProfile), Problems))]
pub(super) async fn profile(
    State(s): State<Service>,
    caller: Caller,
    Id(id): Id<SpaceId>,
) -> ApiResult<Json<SpaceProfile>> {
    Ok(Json(s.profile(&caller, id).await?))
}

/// Sets fields of the space's profile (admins; schema version 9), in one change; fields left
/// out stay as they are.
#[utoipa::path(put, path = "/v1/spaces/{id}/profile", tag = "spaces",
    request_body = SetProfile, params(("id" = String, Path, description = "Space id")),
    responses((status = 200, body = Done), Problems))]
pub(super) async fn set_profile(
    State(s): State<Service>,
    caller: Caller,
    Id(id): Id<SpaceId>,
    ApiJson(body): ApiJson<SetProfile>,
) -> ApiResult<Json<Done>> {
    let change = s.set_profile(&caller, id, body).await?;
    Ok(Json(Done { change }))
}

/// The space's action budgets, `null` when none is set (nobody is held back).
#[utoipa::path(get, path = "/v1/spaces/{id}/budgets", tag = "spaces",
    params(("id" = String, Path, description = "Space id")),
    responses((status = 200, body = Option<Budgets>), Problems))]
pub(super) async fn budgets(
    State(s): State<Service>,
    caller: Caller,
    Id(id): Id<SpaceId>,
) -> ApiResult<Json<Option<Budgets>>> {
    Ok(Json(s.budgets(&caller, id).await?))
}

/// Sets the space's action budgets (admins; schema version 9); the body replaces them whole.
#[utoipa::path(put, path = "/v1/spaces/{id}/budgets", tag = "spaces",
    request_body = Budgets, params(("id" = String, Path, description = "Space id")),
    responses((status = 200, body = Done), Problems))]
pub(super) async fn set_budgets(
    State(s): State<Service>,
    caller: Caller,
    Id(id): Id<SpaceId>,
    ApiJson(body): ApiJson<Budgets>,
) -> ApiResult<Json<Done>> {
    let change = s.set_budgets(&caller, id, body).await?;
    Ok(Json(Done { change }))
}
