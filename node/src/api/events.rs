//! Live events as server-sent events: of a space, and of the requests that concern a timite.

use std::convert::Infallible;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use tim_protocol::api::SpaceEvent;
use tim_protocol::SpaceId;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::StreamExt as _;

use super::extract::Id;
use super::problem::{ApiResult, Problems};
use crate::auth::Principal;
use crate::service::{Caller, Service};

/// Live events of a space (server-sent events; `data` is a JSON [`SpaceEvent`]), including
/// changes that arrive from other nodes. At most 16 open streams per token. A reader that falls
/// more than 1,024 events behind the node gets an `event: lagged` frame whose `data` is the
/// number of events it missed; it should read the timeline again from its newest message.
#[utoipa::path(get, path = "/v1/spaces/{id}/events", tag = "spaces",
    params(("id" = String, Path, description = "Space id"),
           ("token" = Option<String>, Query,
            description = "The bearer token, for clients that cannot set the Authorization header")),
    responses((status = 200, description = "An endless event stream", body = SpaceEvent,
               content_type = "text/event-stream"), Problems))]
pub(super) async fn events(
    State(s): State<Service>,
    axum::Extension(p): axum::Extension<Principal>,
    Id(id): Id<SpaceId>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let events = s.events(&Caller::from(&p), id).await?;
    // Held by the stream: the slot frees when the client goes away.
    let slot = s.auth().open_stream(&p)?;
    let stream = events.map(move |e| {
        let _open = &slot;
        Ok(frame(e))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// Live events of the requests that concern the timite in every space it reads: asked to do
/// (its target, an `auto` candidate, a claimant) or asked for (server-sent events; `data` is
/// a JSON [`SpaceEvent`] of a `request_*` kind). Counts towards the 16 open streams per
/// token; a reader that falls behind gets `event: lagged`, as on a space's stream, and should
/// read `GET /v1/requests` again. No event marks an `auto` candidate's turn: it begins at
/// `at + i × 10 s` (docs/abilities.md §7), computed from the request.
#[utoipa::path(get, path = "/v1/requests/events", tag = "abilities",
    responses((status = 200, description = "An endless event stream", body = SpaceEvent,
               content_type = "text/event-stream"), Problems))]
pub(super) async fn request_events(
    State(s): State<Service>,
    axum::Extension(p): axum::Extension<Principal>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let events = s.request_events(&Caller::from(&p));
    let slot = s.auth().open_stream(&p)?;
    let stream = futures::StreamExt::map(events, move |e| {
        let _open = &slot;
        Ok(frame(e))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// One event as an SSE frame: the JSON event, or `event: lagged` with the number missed.
pub(super) fn frame<T: serde::Serialize>(e: Result<T, BroadcastStreamRecvError>) -> Event {
    match e {
        Ok(event) => Event::default().json_data(&event).unwrap_or_default(),
        Err(BroadcastStreamRecvError::Lagged(missed)) => {
            Event::default().event("lagged").data(missed.to_string())
        }
    }
}
