//! Notifications and read markers (docs/protocol.md §9.13.2): the acting timite's mentions and
//! replies to its messages, as a list and live; its read marker per space.

use std::convert::Infallible;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Json;
use futures::Stream;
use tim_protocol::api::{MarkRead, Notification, NotificationsQuery};
use tim_protocol::SpaceId;

use super::events::frame;
use super::extract::{ApiJson, ApiQuery, Id};
use super::problem::{ApiResult, Problems};
use crate::auth::Principal;
use crate::service::{Caller, Service};

/// The acting timite's notifications in every space it reads, newest first: messages by
/// others that mention it or reply to one of its messages, each `seen` if at or before its
/// read marker in the space.
#[utoipa::path(get, path = "/v1/notifications", tag = "messages",
    params(NotificationsQuery),
    responses((status = 200, body = Vec<Notification>), Problems))]
pub(super) async fn notifications(
    State(s): State<Service>,
    caller: Caller,
    ApiQuery(query): ApiQuery<NotificationsQuery>,
) -> ApiResult<Json<Vec<Notification>>> {
    Ok(Json(s.notifications(&caller, &query).await?))
}

/// The acting timite's notifications as they arrive (server-sent events; `data` is a JSON
/// [`Notification`]), including messages from other nodes. Counts towards the 16 open
/// streams per token; a reader that falls behind gets `event: lagged` and should read `GET
/// /v1/notifications` again.
#[utoipa::path(get, path = "/v1/notifications/events", tag = "messages",
    responses((status = 200, description = "An endless event stream", body = Notification,
               content_type = "text/event-stream"), Problems))]
pub(super) async fn notification_events(
    State(s): State<Service>,
    axum::Extension(p): axum::Extension<Principal>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let events = s.notification_events(&Caller::from(&p));
    let slot = s.auth().open_stream(&p)?;
    let stream = futures::StreamExt::map(events, move |e| {
        let _open = &slot;
        Ok(frame(e))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// Moves the acting timite's read marker in a space to a message of it (`204`): the messages
/// up to it count as read. The marker is kept on this node only, never in the document.
#[utoipa::path(post, path = "/v1/spaces/{id}/read", tag = "messages",
    request_body = MarkRead, params(("id" = String, Path, description = "Space id")),
    responses((status = 204, description = "Marked"), Problems))]
pub(super) async fn mark_read(
    State(s): State<Service>,
    caller: Caller,
    Id(id): Id<SpaceId>,
    ApiJson(body): ApiJson<MarkRead>,
) -> ApiResult<StatusCode> {
    s.mark_read(&caller, id, &body.up_to).await?;
    Ok(StatusCode::NO_CONTENT)
}
