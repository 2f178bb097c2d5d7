//! A space's timeline: reading it, posting, deleting a message.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use tim_protocol::api::{Done, PostMessage, Posted, Timeline};
use tim_protocol::{MessageId, SpaceId};

use super::extract::{ApiJson, Id, Ids};
use super::problem::{ApiResult, Problems};
use crate::service::{Caller, Service};

/// A space's timeline.
#[utoipa::path(get, path = "/v1/spaces/{id}/messages", tag = "messages",
    params(("id" = String, Path, description = "Space id")),
    responses((status = 200, body = Timeline), Problems))]
pub(super) async fn timeline(
    State(s): State<Service>,
    caller: Caller,
    Id(id): Id<SpaceId>,
) -> ApiResult<Json<Timeline>> {
    Ok(Json(s.timeline(&caller, id).await?))
}

/// Posts a message; answers once it is on disk.
#[utoipa::path(post, path = "/v1/spaces/{id}/messages", tag = "messages",
    request_body = PostMessage, params(("id" = String, Path, description = "Space id")),
    responses((status = 201, body = Posted), Problems))]
pub(super) async fn post_message(
    State(s): State<Service>,
    caller: Caller,
    Id(id): Id<SpaceId>,
    ApiJson(body): ApiJson<PostMessage>,
) -> ApiResult<impl IntoResponse> {
    let posted = s.post(&caller, id, &body.text).await?;
    Ok((StatusCode::CREATED, Json(posted)))
}

/// Deletes a message (its author, or a moderator).
#[utoipa::path(delete, path = "/v1/spaces/{id}/messages/{message}", tag = "messages",
    params(("id" = String, Path, description = "Space id"),
           ("message" = String, Path, description = "Message id")),
    responses((status = 200, body = Done), Problems))]
pub(super) async fn delete_message(
    State(s): State<Service>,
    caller: Caller,
    Ids(id, message): Ids<SpaceId, MessageId>,
) -> ApiResult<Json<Done>> {
    let change = s.delete_message(&caller, id, &message).await?;
    Ok(Json(Done { change }))
}
