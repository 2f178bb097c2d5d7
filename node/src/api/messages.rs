//! A space's timeline: reading it, posting, deleting a message.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use tim_protocol::api::{
    DirectMessage, DirectMessageRequest, Done, PostMessage, Posted, TimelinePage, TimelineQuery,
};
use tim_protocol::{MessageId, SpaceId};

use super::extract::{ApiJson, ApiQuery, Id, Ids};
use super::problem::{ApiResult, Problems};
use crate::service::{Caller, Service};

/// A page of a space's timeline, newest first: the latest messages, or those just before or
/// just after a message, with the cursors of the pages on either side (`next_before`,
/// `next_after`). A cursor that is not a message of the space is `404 unknown-message`.
#[utoipa::path(get, path = "/v1/spaces/{id}/messages", tag = "messages",
    params(("id" = String, Path, description = "Space id"), TimelineQuery),
    responses((status = 200, body = TimelinePage), Problems))]
pub(super) async fn timeline(
    State(s): State<Service>,
    caller: Caller,
    Id(id): Id<SpaceId>,
    ApiQuery(query): ApiQuery<TimelineQuery>,
) -> ApiResult<Json<TimelinePage>> {
    Ok(Json(s.timeline(&caller, id, &query).await?))
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

/// Sends a direct message: posts it in the caller's end-to-end encrypted space with the
/// other timite, made (and the other invited) if there is none yet. The other reads it once
/// it joins that space.
#[utoipa::path(post, path = "/v1/dms", tag = "messages",
    request_body = DirectMessageRequest,
    responses((status = 201, body = DirectMessage), Problems))]
pub(super) async fn direct_message(
    State(s): State<Service>,
    caller: Caller,
    ApiJson(body): ApiJson<DirectMessageRequest>,
) -> ApiResult<impl IntoResponse> {
    let sent = s.direct_message(&caller, &body).await?;
    Ok((StatusCode::CREATED, Json(sent)))
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
