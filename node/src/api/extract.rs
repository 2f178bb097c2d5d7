//! What handlers take from a request, each refusal a problem document: the bearer token (and
//! who it acts as), the operator's rights, JSON and raw bodies within their limits, and typed
//! ids from the path.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use tim_protocol::{CredentialId, Did, MessageId, SpaceId};

use super::problem::{ApiError, ApiResult};
use crate::auth::{Auth, AuthError, Principal};
use crate::service::Caller;

/// Authenticates the bearer token and records who it acts as ([`Principal`]) for the
/// handlers; refuses a missing, unknown or expired token, or one over its rate limit.
pub(super) async fn require_token(
    axum::Extension(auth): axum::Extension<Arc<Auth>>,
    req: Request,
    next: Next,
) -> Response {
    let bearer = bearer(&req).map(str::to_string);
    admit(&auth, bearer.as_deref(), req, next).await
}

/// The query of a live stream's route: its token, for clients that cannot set headers.
#[derive(serde::Deserialize)]
struct StreamToken {
    token: Option<String>,
}

/// [`require_token`] for the live streams (`/v1/spaces/{id}/events` and `/v1/spaces/{id}/ws`):
/// the token may also come as the `token` query parameter, since a browser's WebSocket and
/// EventSource cannot set headers. The header wins when both are there.
pub(super) async fn require_token_or_query(
    axum::Extension(auth): axum::Extension<Arc<Auth>>,
    req: Request,
    next: Next,
) -> Response {
    let bearer = bearer(&req).map(str::to_string).or_else(|| {
        Query::<StreamToken>::try_from_uri(req.uri())
            .ok()
            .and_then(|Query(q)| q.token)
    });
    admit(&auth, bearer.as_deref(), req, next).await
}

/// The bearer token of the `Authorization` header.
fn bearer(req: &Request) -> Option<&str> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// Runs the request as the token's [`Principal`], or refuses it.
async fn admit(auth: &Auth, bearer: Option<&str>, mut req: Request, next: Next) -> Response {
    match auth.authenticate(bearer) {
        Ok(p) => {
            req.extensions_mut().insert(p);
            next.run(req).await
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// Counts a request without a token (sign-in) against the shared anonymous rate limit.
pub(super) async fn throttle_anonymous(
    axum::Extension(auth): axum::Extension<Arc<Auth>>,
    req: Request,
    next: Next,
) -> Response {
    match auth.throttle_anonymous() {
        Ok(()) => next.run(req).await,
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// Who the request's token acts as (set by [`require_token`]).
pub(super) fn principal(parts: &Parts) -> ApiResult<Principal> {
    parts
        .extensions
        .get::<Principal>()
        .cloned()
        .ok_or_else(|| AuthError::NoToken.into())
}

/// The caller of a use case: the token's timite, and whether it is the operator's.
impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::from(&principal(parts)?))
    }
}

/// Present only on requests with the operator's admin token. Checked before the body is
/// read, so a timite's request to an operator route is refused whatever it carries.
pub(super) struct Admin;

impl<S: Send + Sync> FromRequestParts<S> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        if principal(parts)?.admin {
            Ok(Self)
        } else {
            Err(ApiError::admin_only(&format!(
                "{} {}",
                parts.method,
                parts.uri.path()
            )))
        }
    }
}

/// JSON body extractor whose refusals are problem documents.
pub(super) struct ApiJson<T>(pub(super) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Self(v)),
            Err(rejection) => {
                let status = rejection.status();
                let kind = match rejection {
                    JsonRejection::MissingJsonContentType(_) => "unsupported-media-type",
                    _ if status == StatusCode::PAYLOAD_TOO_LARGE => "too-large",
                    _ => "malformed-json",
                };
                Err(ApiError::new(
                    status,
                    kind,
                    "Bad request body",
                    rejection.body_text(),
                ))
            }
        }
    }
}

/// Query string extractor whose refusals are problem documents (`400 invalid-query`, naming
/// the parameter).
pub(super) struct ApiQuery<T>(pub(super) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| Self(v))
            .map_err(|r| ApiError::bad_value("invalid-query", "Bad query", r.body_text()))
    }
}

/// Raw body extractor whose refusals are problem documents.
pub(super) struct ApiBytes(pub(super) Bytes);

impl<S: Send + Sync> FromRequest<S> for ApiBytes {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(req, state)
            .await
            .map(Self)
            .map_err(|r: BytesRejection| {
                let status = r.status();
                let kind = if status == StatusCode::PAYLOAD_TOO_LARGE {
                    "too-large"
                } else {
                    "bad-body"
                };
                ApiError::new(status, kind, "Bad request body", r.body_text())
            })
    }
}

/// A value of one path segment, refused with a `400` problem naming what it should be.
pub(super) trait Segment: Sized {
    /// Parses the (percent-decoded) segment.
    fn parse(raw: &str) -> ApiResult<Self>;
}

impl Segment for SpaceId {
    fn parse(raw: &str) -> ApiResult<Self> {
        raw.parse().map_err(|e| {
            ApiError::bad_value(
                "invalid-space-id",
                "Invalid space id",
                format!("`{raw}` is not a space id: {e}"),
            )
        })
    }
}

impl Segment for Did {
    fn parse(raw: &str) -> ApiResult<Self> {
        raw.parse()
            .map_err(|e| ApiError::bad_value("invalid-did", "Invalid DID", format!("{e}")))
    }
}

impl Segment for MessageId {
    fn parse(raw: &str) -> ApiResult<Self> {
        raw.parse().map_err(|e| {
            ApiError::bad_value("invalid-message-id", "Invalid message id", format!("{e}"))
        })
    }
}

impl Segment for CredentialId {
    fn parse(raw: &str) -> ApiResult<Self> {
        raw.parse().map_err(|e| {
            ApiError::bad_value(
                "invalid-credential-id",
                "Invalid credential id",
                format!("{e}"),
            )
        })
    }
}

/// Any text (a token id).
impl Segment for String {
    fn parse(raw: &str) -> ApiResult<Self> {
        Ok(raw.to_string())
    }
}

fn bad_path(e: axum::extract::rejection::PathRejection) -> ApiError {
    ApiError::new(e.status(), "invalid-path", "Invalid path", e.body_text())
}

/// The one parameter of a path, typed.
pub(super) struct Id<T>(pub(super) T);

impl<S: Send + Sync, T: Segment> FromRequestParts<S> for Id<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(bad_path)?;
        T::parse(&raw).map(Self)
    }
}

/// The two parameters of a path, typed, in the order of the path.
pub(super) struct Ids<A, B>(pub(super) A, pub(super) B);

impl<S: Send + Sync, A: Segment, B: Segment> FromRequestParts<S> for Ids<A, B> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path((a, b)) = Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map_err(bad_path)?;
        Ok(Self(A::parse(&a)?, B::parse(&b)?))
    }
}
