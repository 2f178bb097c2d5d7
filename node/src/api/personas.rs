//! Personas published in a space (docs/agents.md "Publishing personas"): publish a persona
//! file, list them, read one (its file byte for byte, what adopting it runs), delete one. A
//! publication the rules refuse is a `403 tim:problem/refused` whose detail gives the rule's
//! reason; an unknown persona a `404 tim:problem/not-found`.

use axum::extract::State;
use axum::Json;
use tim_protocol::api::{Done, PersonaPublished, PersonaView, PublishPersona};
use tim_protocol::SpaceId;

use super::extract::{ApiJson, Id, Ids};
use super::problem::{ApiResult, Problems};
use crate::service::{Caller, Service};

/// Publishes a persona file as the timite (a member with `post`): a signed entry of the space
/// document whose id is the SHA-256 of the file. In a space below schema version 7, an
/// admin's publication migrates it first. Answers once the change is on disk.
#[utoipa::path(post, path = "/v1/spaces/{id}/personas", tag = "agents",
    request_body = PublishPersona, params(("id" = String, Path, description = "Space id")),
    responses((status = 200, body = PersonaPublished), Problems))]
pub(super) async fn publish(
    State(s): State<Service>,
    caller: Caller,
    Id(id): Id<SpaceId>,
    ApiJson(body): ApiJson<PublishPersona>,
) -> ApiResult<Json<PersonaPublished>> {
    Ok(Json(s.publish_persona(&caller, id, &body).await?))
}

/// The personas published in the space, by publication time.
#[utoipa::path(get, path = "/v1/spaces/{id}/personas", tag = "agents",
    params(("id" = String, Path, description = "Space id")),
    responses((status = 200, body = [PersonaView]), Problems))]
pub(super) async fn list(
    State(s): State<Service>,
    caller: Caller,
    Id(id): Id<SpaceId>,
) -> ApiResult<Json<Vec<PersonaView>>> {
    Ok(Json(s.personas(&caller, id).await?))
}

/// One persona, with its file byte for byte.
#[utoipa::path(get, path = "/v1/spaces/{id}/personas/{persona}", tag = "agents",
    params(("id" = String, Path, description = "Space id"),
           ("persona" = String, Path, description = "Persona id, sha256:<hex>")),
    responses((status = 200, body = PersonaView), Problems))]
pub(super) async fn persona(
    State(s): State<Service>,
    caller: Caller,
    Ids(id, persona): Ids<SpaceId, String>,
) -> ApiResult<Json<PersonaView>> {
    Ok(Json(s.persona(&caller, id, &persona).await?))
}

/// Deletes a persona (its author, or an admin).
#[utoipa::path(delete, path = "/v1/spaces/{id}/personas/{persona}", tag = "agents",
    params(("id" = String, Path, description = "Space id"),
           ("persona" = String, Path, description = "Persona id, sha256:<hex>")),
    responses((status = 200, body = Done), Problems))]
pub(super) async fn delete(
    State(s): State<Service>,
    caller: Caller,
    Ids(id, persona): Ids<SpaceId, String>,
) -> ApiResult<Json<Done>> {
    let change = s.delete_persona(&caller, id, &persona).await?;
    Ok(Json(Done { change }))
}
