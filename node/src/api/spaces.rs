//! Spaces: listing, creating, joining, join requirements, export and import.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use tim_crdt::admission::Requirement;
use tim_protocol::api::{
    CreateSpace, Done, Imported, JoinSpace, Migrate, Migrated, SpaceLeft, SpaceSummary,
};
use tim_protocol::SpaceId;

use super::extract::{Admin, ApiBytes, ApiJson, Id};
use super::problem::{ApiResult, Problems};
use crate::service::{Caller, Service};

/// Spaces this node hosts.
#[utoipa::path(get, path = "/v1/spaces", tag = "spaces",
    responses((status = 200, body = [SpaceSummary]), Problems))]
pub(super) async fn list_spaces(
    State(s): State<Service>,
    caller: Caller,
) -> ApiResult<Json<Vec<SpaceSummary>>> {
    Ok(Json(s.spaces(&caller).await?))
}

/// Creates a space with the timite as owner.
#[utoipa::path(post, path = "/v1/spaces", tag = "spaces", request_body = CreateSpace,
    responses((status = 201, body = SpaceSummary), Problems))]
pub(super) async fn create_space(
    State(s): State<Service>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateSpace>,
) -> ApiResult<impl IntoResponse> {
    Ok((
        StatusCode::CREATED,
        Json(s.create_space(&caller, &body).await?),
    ))
}

/// One hosted space.
#[utoipa::path(get, path = "/v1/spaces/{id}", tag = "spaces",
    params(("id" = String, Path, description = "Space id")),
    responses((status = 200, body = SpaceSummary), Problems))]
pub(super) async fn get_space(
    State(s): State<Service>,
    caller: Caller,
    Id(id): Id<SpaceId>,
) -> ApiResult<Json<SpaceSummary>> {
    Ok(Json(s.space(&caller, id).await?))
}

/// Joins a space: finds hosts, syncs its history, adds the timite as a member. Answers once
/// joined, or 404 `no-host` when no host answered in time.
#[utoipa::path(post, path = "/v1/spaces/{id}/join", tag = "spaces", request_body = JoinSpace,
    params(("id" = String, Path, description = "Space id")),
    responses((status = 200, body = SpaceSummary), Problems))]
pub(super) async fn join_space(
    State(s): State<Service>,
    caller: Caller,
    Id(id): Id<SpaceId>,
    ApiJson(body): ApiJson<JoinSpace>,
) -> ApiResult<Json<SpaceSummary>> {
    Ok(Json(s.join_space(&caller, id, &body).await?))
}

/// Leaves a space: removes the timite's own member entry (the owner is refused, 403 with
/// the reason) or gives up its unfinished join; the node stops hosting the space and deletes
/// its copy once no timite it hosts is a member.
#[utoipa::path(post, path = "/v1/spaces/{id}/leave", tag = "spaces",
    params(("id" = String, Path, description = "Space id")),
    responses((status = 200, body = SpaceLeft), Problems))]
pub(super) async fn leave_space(
    State(s): State<Service>,
    caller: Caller,
    Id(id): Id<SpaceId>,
) -> ApiResult<Json<SpaceLeft>> {
    Ok(Json(s.leave_space(&caller, id).await?))
}

/// Sets what joiners must present (admins).
#[utoipa::path(put, path = "/v1/spaces/{id}/requirements", tag = "spaces",
    request_body = [Requirement], params(("id" = String, Path, description = "Space id")),
    responses((status = 200, body = Done), Problems))]
pub(super) async fn set_requirements(
    State(s): State<Service>,
    caller: Caller,
    Id(id): Id<SpaceId>,
    ApiJson(body): ApiJson<Vec<Requirement>>,
) -> ApiResult<Json<Done>> {
    let change = s.set_requirements(&caller, id, body).await?;
    Ok(Json(Done { change }))
}

/// Migrates the space to a newer schema version (`to`, default the newest this node knows):
/// admins and the owner (docs/rules.md §4.1).
#[utoipa::path(post, path = "/v1/spaces/{id}/migrate", tag = "spaces",
    request_body = Migrate, params(("id" = String, Path, description = "Space id")),
    responses((status = 200, body = Migrated), Problems))]
pub(super) async fn migrate(
    State(s): State<Service>,
    caller: Caller,
    Id(id): Id<SpaceId>,
    ApiJson(body): ApiJson<Migrate>,
) -> ApiResult<Json<Migrated>> {
    Ok(Json(s.migrate(&caller, id, body.to).await?))
}

/// The space's Automerge document.
#[utoipa::path(get, path = "/v1/spaces/{id}/export/document", tag = "spaces",
    params(("id" = String, Path, description = "Space id")),
    responses((status = 200, description = "Automerge document bytes", body = Vec<u8>,
               content_type = "application/octet-stream"), Problems))]
pub(super) async fn export_document(
    State(s): State<Service>,
    caller: Caller,
    Id(id): Id<SpaceId>,
) -> ApiResult<impl IntoResponse> {
    let doc = s.export_document(&caller, id).await?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], doc))
}

/// The signature bundle of every change of the space (CBOR).
#[utoipa::path(get, path = "/v1/spaces/{id}/export/signatures", tag = "spaces",
    params(("id" = String, Path, description = "Space id")),
    responses((status = 200, description = "CBOR signature bundle", body = Vec<u8>,
               content_type = "application/cbor"), Problems))]
pub(super) async fn export_signatures(
    State(s): State<Service>,
    caller: Caller,
    Id(id): Id<SpaceId>,
) -> ApiResult<impl IntoResponse> {
    let bundle = s.export_signatures(&caller, id).await?;
    Ok((
        [(header::CONTENT_TYPE, "application/cbor")],
        bundle.encode(),
    ))
}

/// Imports a signature bundle, all or nothing; each change is checked like any other
/// (operator).
#[utoipa::path(post, path = "/v1/import", tag = "spaces",
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
                 description = "A signature bundle from export/signatures (CBOR bytes; \
                                any content type is read as bytes)"),
    responses((status = 200, body = Imported), Problems))]
pub(super) async fn import(
    _: Admin,
    State(s): State<Service>,
    caller: Caller,
    ApiBytes(body): ApiBytes,
) -> ApiResult<Json<Imported>> {
    Ok(Json(s.import(&caller, &body).await?))
}
