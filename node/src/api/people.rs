//! Timites' profiles and handles (schema version 11; docs/protocol.md §9.13.1, docs/operator.md
//! "Profiles and handles"): setting the caller's profile and handle, reading anyone's profile
//! and avatar as the caller sees them, and, without a token, resolving a handle by WebFinger
//! (RFC 7033) and serving its did:web document.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use tim_protocol::api::{Jrd, ProfileSet, ProfileView, SetTimiteProfile};
use tim_protocol::Did;
use utoipa::IntoParams;

use super::extract::{ApiJson, ApiQuery, Id};
use super::problem::{ApiError, ApiResult, Problems};
use crate::people::{check_handle, did_web_document, webfinger as jrd};
use crate::service::{Caller, Service};

/// The host (`host:port`) the asker reached this node at, from its `Host` header.
fn host_of(headers: &HeaderMap) -> ApiResult<String> {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| h.to_ascii_lowercase())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "no-host",
                "No Host header",
                "handles are resolved for the host the request names in `Host`",
            )
        })
}

/// The caller's profile as it is shown with its handle, `name@host:port`.
fn with_host(mut view: ProfileView, host: &str) -> ProfileView {
    view.handle = view.handle.map(|h| format!("{h}@{host}"));
    view
}

fn no_handle(handle: &str, host: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "unknown-handle",
        "No such handle",
        format!("no timite holds the handle {handle}@{host} on this node"),
    )
}

/// Sets the caller's profile (written whole into every space it is a member of at schema
/// version 11 or later; the others are listed as skipped) and/or claims its handle on this
/// node (`409 handle-taken` if another timite holds it).
#[utoipa::path(put, path = "/v1/profile", tag = "timites",
    request_body = SetTimiteProfile,
    responses((status = 200, body = ProfileSet), Problems))]
pub(super) async fn set_profile(
    State(s): State<Service>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SetTimiteProfile>,
) -> ApiResult<Json<ProfileSet>> {
    let mut set = s.set_timite_profile(&caller, body).await?;
    set.profile = with_host(set.profile, &host_of(&headers)?);
    Ok(Json(set))
}

/// A timite's profile as the caller sees it: the newest by its `at` among the spaces the
/// caller may read (and the one this node keeps, for a timite it hosts).
#[utoipa::path(get, path = "/v1/profiles/{did}", tag = "timites",
    params(("did" = String, Path, description = "The timite's DID")),
    responses((status = 200, body = ProfileView), Problems))]
pub(super) async fn profile(
    State(s): State<Service>,
    caller: Caller,
    headers: HeaderMap,
    Id(did): Id<Did>,
) -> ApiResult<Json<ProfileView>> {
    let view = s.timite_profile(&caller, did).await?;
    Ok(Json(with_host(view, &host_of(&headers)?)))
}

/// The avatar of a timite's profile (as `GET /v1/profiles/{did}` finds it): the image bytes
/// with their media type.
#[utoipa::path(get, path = "/v1/profiles/{did}/avatar", tag = "timites",
    params(("did" = String, Path, description = "The timite's DID")),
    responses((status = 200, description = "The image", content_type = "image/*"), Problems))]
pub(super) async fn avatar(
    State(s): State<Service>,
    caller: Caller,
    Id(did): Id<Did>,
) -> ApiResult<Response> {
    let a = s.timite_avatar(&caller, did).await?;
    let mime = HeaderValue::from_str(&a.mime)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    Ok((
        [
            (header::CONTENT_TYPE, mime),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        a.data,
    )
        .into_response())
}

/// The query of a WebFinger request.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct WebfingerQuery {
    /// `acct:HANDLE@HOST:PORT`, the host as the request reaches this node.
    resource: String,
}

/// WebFinger (RFC 7033): the DID of the timite that holds a handle on this node, with its
/// did:web document and profile as links. No token.
#[utoipa::path(get, path = "/.well-known/webfinger", tag = "timites", security(()),
    params(WebfingerQuery),
    responses((status = 200, body = Jrd, content_type = "application/jrd+json"), Problems))]
pub(super) async fn webfinger(
    State(s): State<Service>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<WebfingerQuery>,
) -> ApiResult<Response> {
    let host = host_of(&headers)?;
    let Some((handle, at)) = q
        .resource
        .strip_prefix("acct:")
        .and_then(|r| r.rsplit_once('@'))
    else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid-resource",
            "Not an acct: resource",
            format!("`{}` is not acct:HANDLE@HOST:PORT", q.resource),
        ));
    };
    let handle = handle.to_ascii_lowercase();
    if !at.eq_ignore_ascii_case(&host) || check_handle(&handle).is_err() {
        return Err(no_handle(&handle, at));
    }
    let did = s
        .resolve_handle(&handle)?
        .ok_or_else(|| no_handle(&handle, &host))?;
    let body = jrd(&did, &handle, &host, &format!("http://{host}"));
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/jrd+json"),
            ),
            (
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            ),
        ],
        Json(body),
    )
        .into_response())
}

/// The did:web document of a handle on this node (`did:web:HOST%3APORT:u:HANDLE`): the
/// holder's Ed25519 key, also known as its did:key. No token.
#[utoipa::path(get, path = "/u/{handle}/did.json", tag = "timites", security(()),
    params(("handle" = String, Path, description = "A handle on this node")),
    responses((status = 200, description = "A DID document", body = Object), Problems))]
pub(super) async fn did_json(
    State(s): State<Service>,
    headers: HeaderMap,
    Id(handle): Id<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let host = host_of(&headers)?;
    let did = match check_handle(&handle) {
        Ok(()) => s.resolve_handle(&handle)?,
        Err(_) => None,
    }
    .ok_or_else(|| no_handle(&handle, &host))?;
    Ok(Json(did_web_document(&did, &handle, &host)))
}
