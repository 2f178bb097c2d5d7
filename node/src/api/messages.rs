//! A space's timeline: reading it, posting, deleting a message; replies, edits and their
//! history, reactions, threads and search (schema version 10, docs/protocol.md §9.12).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use tim_protocol::api::{
    DirectMessage, DirectMessageRequest, Done, EditHistory, EditMessage, PostMessage, Posted,
    React, SearchPage, SearchQuery, Thread, TimelinePage, TimelineQuery,
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

/// Posts a message, or with `reply_to` a reply (schema version 10), naming `mentions`
/// (schema version 11); answers once it is on disk.
#[utoipa::path(post, path = "/v1/spaces/{id}/messages", tag = "messages",
    request_body = PostMessage, params(("id" = String, Path, description = "Space id")),
    responses((status = 201, body = Posted), Problems))]
pub(super) async fn post_message(
    State(s): State<Service>,
    caller: Caller,
    Id(id): Id<SpaceId>,
    ApiJson(body): ApiJson<PostMessage>,
) -> ApiResult<impl IntoResponse> {
    let posted = s.post_message(&caller, id, &body).await?;
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

/// Edits one of the caller's own messages (schema version 10): the new text replaces it and
/// the previous one is kept in its edit history.
#[utoipa::path(put, path = "/v1/spaces/{id}/messages/{message}", tag = "messages",
    request_body = EditMessage,
    params(("id" = String, Path, description = "Space id"),
           ("message" = String, Path, description = "Message id")),
    responses((status = 200, body = Done), Problems))]
pub(super) async fn edit_message(
    State(s): State<Service>,
    caller: Caller,
    Ids(id, message): Ids<SpaceId, MessageId>,
    ApiJson(body): ApiJson<EditMessage>,
) -> ApiResult<Json<Done>> {
    let change = s.edit_message(&caller, id, &message, &body.text).await?;
    Ok(Json(Done { change }))
}

/// Every version of a message's text, oldest first: the original with the message's time,
/// then what each edit wrote with the edit's time (schema version 10). Read as the message is
/// (a private space's members only); in an end-to-end encrypted space a version the caller's
/// keys do not open says why in `unreadable`. A message not in the space, or deleted (its
/// history goes with it), is `404 unknown-message`.
#[utoipa::path(get, path = "/v1/spaces/{id}/messages/{message}/edits", tag = "messages",
    params(("id" = String, Path, description = "Space id"),
           ("message" = String, Path, description = "Message id")),
    responses((status = 200, body = EditHistory), Problems))]
pub(super) async fn edit_history(
    State(s): State<Service>,
    caller: Caller,
    Ids(id, message): Ids<SpaceId, MessageId>,
) -> ApiResult<Json<EditHistory>> {
    Ok(Json(s.edit_history(&caller, id, &message).await?))
}

/// Puts the caller's reaction to a message (schema version 10), replacing its earlier one.
#[utoipa::path(post, path = "/v1/spaces/{id}/messages/{message}/reactions", tag = "messages",
    request_body = React,
    params(("id" = String, Path, description = "Space id"),
           ("message" = String, Path, description = "Message id")),
    responses((status = 200, body = Done), Problems))]
pub(super) async fn react(
    State(s): State<Service>,
    caller: Caller,
    Ids(id, message): Ids<SpaceId, MessageId>,
    ApiJson(body): ApiJson<React>,
) -> ApiResult<Json<Done>> {
    let change = s.react(&caller, id, &message, &body.emoji).await?;
    Ok(Json(Done { change }))
}

/// A message and its replies, direct and indirect, in timeline order. A message that is not
/// in the space is `404 unknown-message`.
#[utoipa::path(get, path = "/v1/spaces/{id}/messages/{message}/thread", tag = "messages",
    params(("id" = String, Path, description = "Space id"),
           ("message" = String, Path, description = "Message id")),
    responses((status = 200, body = Thread), Problems))]
pub(super) async fn thread(
    State(s): State<Service>,
    caller: Caller,
    Ids(id, message): Ids<SpaceId, MessageId>,
) -> ApiResult<Json<Thread>> {
    Ok(Json(s.thread(&caller, id, &message).await?))
}

/// The messages whose text contains `q`, ignoring case, newest first, a page at a time
/// (`next_before` names where the next page starts). An end-to-end encrypted space is not
/// searched (`400`): its node holds only ciphertext.
#[utoipa::path(get, path = "/v1/spaces/{id}/search", tag = "messages",
    params(("id" = String, Path, description = "Space id"), SearchQuery),
    responses((status = 200, body = SearchPage), Problems))]
pub(super) async fn search(
    State(s): State<Service>,
    caller: Caller,
    Id(id): Id<SpaceId>,
    ApiQuery(query): ApiQuery<SearchQuery>,
) -> ApiResult<Json<SearchPage>> {
    Ok(Json(s.search(&caller, id, query).await?))
}
