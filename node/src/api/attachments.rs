//! A message's attachment (schema version 11, docs/protocol.md §9.13.3): its bytes, served as
//! a download that browsers never sniff or render in place.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use tim_protocol::{MessageId, SpaceId};

use super::extract::Ids;
use super::problem::{ApiResult, Problems};
use crate::service::{Caller, Service};

/// The bytes of the file a message carries, with its media type as `Content-Type`,
/// `Content-Disposition: attachment` (with its name) and `X-Content-Type-Options: nosniff`.
/// `404 not-found` when the message carries none.
#[utoipa::path(get, path = "/v1/spaces/{id}/messages/{message}/attachment", tag = "messages",
    params(("id" = String, Path, description = "Space id"),
           ("message" = String, Path, description = "Message id")),
    responses((status = 200, description = "The file's bytes",
               content_type = "application/octet-stream"), Problems))]
pub(super) async fn attachment(
    State(s): State<Service>,
    caller: Caller,
    Ids(id, message): Ids<SpaceId, MessageId>,
) -> ApiResult<impl IntoResponse> {
    let a = s.attachment(&caller, id, &message).await?;
    // The name is the sender's: quoted, with anything that could end the quote replaced.
    let name: String = a
        .name
        .chars()
        .map(|c| if c == '"' || !c.is_ascii() { '_' } else { c })
        .collect();
    Ok((
        [
            (header::CONTENT_TYPE, a.mime),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
        ],
        a.data,
    ))
}
