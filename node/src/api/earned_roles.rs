//! A space's earned roles (docs/governance.md "Earned roles"): the thresholds of reputation
//! at which members hold a role with no admin writing it.

use axum::extract::State;
use axum::Json;
use tim_protocol::api::{Done, SetEarnedRoles};
use tim_protocol::SpaceId;

use super::extract::{ApiJson, Id};
use super::problem::{ApiResult, Problems};
use crate::service::{Caller, Service};

/// The space's earned roles (empty when it sets none).
#[utoipa::path(get, path = "/v1/spaces/{id}/earned-roles", tag = "members",
    params(("id" = String, Path, description = "Space id")),
    responses((status = 200, body = SetEarnedRoles), Problems))]
pub(super) async fn earned_roles(
    State(s): State<Service>,
    caller: Caller,
    Id(id): Id<SpaceId>,
) -> ApiResult<Json<SetEarnedRoles>> {
    Ok(Json(s.earned_roles(&caller, id).await?))
}

/// Sets the space's earned roles, replacing the list (admins and the owner; schema version 9;
/// an empty list earns nothing). A member whose reputation meets a threshold holds its role,
/// and loses it when it no longer does, with no further admin act.
#[utoipa::path(put, path = "/v1/spaces/{id}/earned-roles", tag = "members",
    request_body = SetEarnedRoles,
    params(("id" = String, Path, description = "Space id")),
    responses((status = 200, body = Done), Problems))]
pub(super) async fn set_earned_roles(
    State(s): State<Service>,
    caller: Caller,
    Id(id): Id<SpaceId>,
    ApiJson(body): ApiJson<SetEarnedRoles>,
) -> ApiResult<Json<Done>> {
    let change = s.set_earned_roles(&caller, id, body.earned_roles).await?;
    Ok(Json(Done { change }))
}
