//! A space's members and moderation: the member list, kicks, roles, declared abilities,
//! invites and ratings.

use axum::extract::State;
use axum::response::Response;
use axum::Json;
use tim_protocol::api::{
    DeclareAbilities, Done, InviteRequest, MemberView, MembersQuery, RateRequest, SetRole,
};
use tim_protocol::{Did, SpaceId};

use super::extract::{ApiJson, ApiQuery, Id, Ids};
use super::listed;
use super::problem::{ApiResult, Problems};
use crate::service::{Caller, Service};

/// Members with role, reputation, declared abilities and (weighted by this node's trust
/// policy) imported reputation, sorted by DID, a page at a time.
#[utoipa::path(get, path = "/v1/spaces/{id}/members", tag = "members",
    params(("id" = String, Path, description = "Space id"), MembersQuery),
    responses((status = 200, body = [MemberView], headers(("Link" = String,
        description = "`<…?after=…>; rel=\"next\"`: the next page, absent on the last"))),
        Problems))]
pub(super) async fn members(
    State(s): State<Service>,
    caller: Caller,
    Id(id): Id<SpaceId>,
    ApiQuery(query): ApiQuery<MembersQuery>,
) -> ApiResult<Response> {
    let page = s.members(&caller, id, &query).await?;
    Ok(listed(
        page,
        &format!("/v1/spaces/{id}/members"),
        query.limit,
    ))
}

/// Removes a member (admins, outranking it).
#[utoipa::path(delete, path = "/v1/spaces/{id}/members/{did}", tag = "members",
    params(("id" = String, Path, description = "Space id"),
           ("did" = String, Path, description = "The member's DID")),
    responses((status = 200, body = Done), Problems))]
pub(super) async fn kick(
    State(s): State<Service>,
    caller: Caller,
    Ids(id, did): Ids<SpaceId, Did>,
) -> ApiResult<Json<Done>> {
    let change = s.kick(&caller, id, did).await?;
    Ok(Json(Done { change }))
}

/// Sets a member's role; `banned` bans (admins).
#[utoipa::path(put, path = "/v1/spaces/{id}/members/{did}/role", tag = "members",
    request_body = SetRole,
    params(("id" = String, Path, description = "Space id"),
           ("did" = String, Path, description = "The member's DID")),
    responses((status = 200, body = Done), Problems))]
pub(super) async fn set_role(
    State(s): State<Service>,
    caller: Caller,
    Ids(id, did): Ids<SpaceId, Did>,
    ApiJson(body): ApiJson<SetRole>,
) -> ApiResult<Json<Done>> {
    let change = s.set_role(&caller, id, did, &body.role).await?;
    Ok(Json(Done { change }))
}

/// Declares what the timite can do in this space (replaces its list).
#[utoipa::path(put, path = "/v1/spaces/{id}/abilities", tag = "members",
    request_body = DeclareAbilities, params(("id" = String, Path, description = "Space id")),
    responses((status = 200, body = Done), Problems))]
pub(super) async fn declare_abilities(
    State(s): State<Service>,
    caller: Caller,
    Id(id): Id<SpaceId>,
    ApiJson(body): ApiJson<DeclareAbilities>,
) -> ApiResult<Json<Done>> {
    let change = s.declare_abilities(&caller, id, body.abilities).await?;
    Ok(Json(Done { change }))
}

/// Invites a timite to an invite-only space (admins).
#[utoipa::path(post, path = "/v1/spaces/{id}/invites", tag = "members",
    request_body = InviteRequest, params(("id" = String, Path, description = "Space id")),
    responses((status = 200, body = Done), Problems))]
pub(super) async fn invite(
    State(s): State<Service>,
    caller: Caller,
    Id(id): Id<SpaceId>,
    ApiJson(body): ApiJson<InviteRequest>,
) -> ApiResult<Json<Done>> {
    let change = s.invite(&caller, id, &body).await?;
    Ok(Json(Done { change }))
}

/// Rates a member from 1 to 5 (members).
#[utoipa::path(post, path = "/v1/spaces/{id}/ratings", tag = "members",
    request_body = RateRequest, params(("id" = String, Path, description = "Space id")),
    responses((status = 200, body = Done), Problems))]
pub(super) async fn rate(
    State(s): State<Service>,
    caller: Caller,
    Id(id): Id<SpaceId>,
    ApiJson(body): ApiJson<RateRequest>,
) -> ApiResult<Json<Done>> {
    let change = s.rate(&caller, id, body.did, body.score).await?;
    Ok(Json(Done { change }))
}
