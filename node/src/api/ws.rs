//! A space's live events over a WebSocket (`GET /v1/spaces/{id}/ws`), and writes over the same
//! socket.
//!
//! The server sends the space's events as on `GET /v1/spaces/{id}/events`, from the same
//! source ([`Service::events`]) and under the same access checks: each a text frame holding one
//! JSON [`SpaceEvent`](tim_protocol::api::SpaceEvent), and `{"kind":"lagged","missed":N}` when
//! the reader fell more than 1,024 events behind. A client sends op frames (JSON text,
//! [`MAX_WS_MESSAGE`] bytes at most):
//! `{"op":"post","text":…,"reply_to"?:…}`, `{"op":"react","message":…,"emoji":…}`,
//! `{"op":"edit","message":…,"text":…}`, each with an optional `ref` echoed in its answer. Each
//! is answered, in order, by `{"ok":true,"id":MESSAGE_ID,"change":HASH}` or by the problem
//! document the HTTP route would answer with `"ok":false` added; a malformed frame gets a
//! problem (`tim:problem/malformed-json`, 400) and the socket stays open. Ops count against
//! the token's rate limit like requests; the socket takes one of its 16 stream slots.

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt as _};
use serde::Deserialize;
use serde_json::{json, Value};
use tim_protocol::api::SpaceEvent;
use tim_protocol::{MessageId, SpaceId};
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use super::extract::{Id, Segment};
use super::problem::{ApiError, ApiResult, Problems};
use crate::auth::Principal;
use crate::service::{Caller, Service};

/// Largest frame, and largest message, a client may send; a larger one closes the socket
/// (close code 1009, "message too big").
pub const MAX_WS_MESSAGE: usize = 64 * 1024;

/// What a client asks over the socket.
#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Op {
    /// Post a message, or a reply (`POST /v1/spaces/{id}/messages`).
    Post {
        text: String,
        #[serde(default)]
        reply_to: Option<String>,
    },
    /// React to a message (`POST /v1/spaces/{id}/messages/{message}/reactions`).
    React { message: String, emoji: String },
    /// Edit one of the timite's messages (`PUT /v1/spaces/{id}/messages/{message}`).
    Edit { message: String, text: String },
}

/// A client's frame: an op, and a value to echo in its answer.
#[derive(Debug, Deserialize)]
struct Frame {
    #[serde(default, rename = "ref")]
    reference: Option<Value>,
    #[serde(flatten)]
    op: Op,
}

/// Live events of a space over a WebSocket, and posts, reactions and edits sent back over it
/// (the frames are in docs/operator.md). The token comes as `Authorization: Bearer`, or as
/// the `token` query parameter (a browser's WebSocket cannot set headers). A space the
/// timite cannot read is refused before the upgrade, as `GET /v1/spaces/{id}/events` refuses
/// it.
#[utoipa::path(get, path = "/v1/spaces/{id}/ws", tag = "spaces",
    params(("id" = String, Path, description = "Space id"),
           ("token" = Option<String>, Query,
            description = "The bearer token, for clients that cannot set the Authorization header")),
    responses((status = 101, description = "Switching to the WebSocket protocol: the space's \
        events as JSON text frames, answers to the client's op frames"), Problems))]
pub(super) async fn ws(
    State(s): State<Service>,
    axum::Extension(p): axum::Extension<Principal>,
    Id(id): Id<SpaceId>,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    let upgrade = upgrade.map_err(|r| {
        ApiError::new(
            StatusCode::UPGRADE_REQUIRED,
            "not-websocket",
            "WebSocket upgrade required",
            r.body_text(),
        )
    })?;
    let events = s.events(&Caller::from(&p), id).await?;
    // Held by the socket's task: the slot frees when the client goes away.
    let slot = s.auth().open_stream(&p)?;
    Ok(upgrade
        .max_message_size(MAX_WS_MESSAGE)
        .max_frame_size(MAX_WS_MESSAGE)
        .on_upgrade(move |socket| async move {
            let _open = slot;
            serve(socket, s, p, id, events).await;
        })
        .into_response())
}

/// Relays events to the socket and answers its op frames, until either side ends.
async fn serve(
    mut socket: WebSocket,
    s: Service,
    p: Principal,
    space: SpaceId,
    events: impl Stream<Item = Result<SpaceEvent, BroadcastStreamRecvError>>,
) {
    let mut events = std::pin::pin!(events);
    loop {
        let out = tokio::select! {
            biased;
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) => answer(&s, &p, space, text.as_str()).await,
                Some(Ok(Message::Binary(_))) => problem(None, ApiError::bad_value(
                    "malformed-json",
                    "Bad frame",
                    "send op frames as JSON text, not binary",
                )),
                // Pings are answered by the socket itself.
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
            },
            event = events.next() => match event {
                Some(Ok(event)) => serde_json::to_value(&event).unwrap_or_default(),
                Some(Err(BroadcastStreamRecvError::Lagged(missed))) => {
                    json!({"kind": "lagged", "missed": missed})
                }
                // The stream ended (the timite was removed from a private space).
                None => {
                    let _ = socket.send(Message::Close(None)).await;
                    return;
                }
            },
        };
        if socket
            .send(Message::Text(out.to_string().into()))
            .await
            .is_err()
        {
            return;
        }
    }
}

/// The answer to one client frame.
async fn answer(s: &Service, p: &Principal, space: SpaceId, text: &str) -> Value {
    let frame: Frame = match serde_json::from_str(text) {
        Ok(f) => f,
        Err(e) => {
            return problem(
                None,
                ApiError::bad_value("malformed-json", "Bad frame", e.to_string()),
            )
        }
    };
    match run(s, p, space, frame.op).await {
        Ok((id, change)) => json!({"ok": true, "id": id, "change": change, "ref": frame.reference}),
        Err(e) => problem(frame.reference, e),
    }
}

/// Runs an op through the use case its HTTP route calls: the message's id and the change.
async fn run(
    s: &Service,
    p: &Principal,
    space: SpaceId,
    op: Op,
) -> ApiResult<(String, tim_protocol::ChangeHash)> {
    s.auth().throttle(p)?;
    let caller = Caller::from(p);
    Ok(match op {
        Op::Post { text, reply_to } => {
            let posted = match reply_to {
                Some(parent) => s.reply(&caller, space, &parent, &text).await?,
                None => s.post(&caller, space, &text).await?,
            };
            (posted.id, posted.change)
        }
        Op::React { message, emoji } => {
            let id = MessageId::parse(&message)?;
            let change = s.react(&caller, space, &id, &emoji).await?;
            (message, change)
        }
        Op::Edit { message, text } => {
            let id = MessageId::parse(&message)?;
            let change = s.edit_message(&caller, space, &id, &text).await?;
            (message, change)
        }
    })
}

/// A problem as an answer frame: the problem document, `"ok": false`, and the frame's `ref`.
fn problem(reference: Option<Value>, e: ApiError) -> Value {
    let mut v = serde_json::to_value(e.problem()).unwrap_or_default();
    v["ok"] = false.into();
    v["ref"] = reference.unwrap_or(Value::Null);
    v
}
