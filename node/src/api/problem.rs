//! Errors as RFC 9457 problem documents (`application/problem+json`): one `tim:problem/<kind>`
//! per reason, with the status each error of the node, of a token check or of a use case maps
//! to.

use std::collections::BTreeMap;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tim_protocol::api::Problem;
use utoipa::openapi::{ContentBuilder, RefOr, ResponseBuilder};
use utoipa::PartialSchema;

use crate::auth::AuthError;
use crate::service::ServiceError;
use crate::NodeError;

/// An API error: a problem document with a status.
#[derive(Debug)]
pub struct ApiError {
    problem: Problem,
    retry_after_ms: Option<u64>,
}

/// The result of a handler.
pub(super) type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub(super) fn new(
        status: StatusCode,
        kind: &str,
        title: &str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            problem: Problem {
                kind: format!("tim:problem/{kind}"),
                title: title.to_string(),
                status: status.as_u16(),
                detail: detail.into(),
            },
            retry_after_ms: None,
        }
    }

    /// A route for the operator only, asked for without the admin token.
    pub(super) fn admin_only(what: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "admin-only",
            "Operator only",
            format!("{what} needs the operator's admin token (api.token in the node's home)"),
        )
    }

    fn not_yours(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "not-yours",
            "Another timite's resource",
            detail,
        )
    }

    /// The problem document it answers with.
    pub(super) fn problem(&self) -> &Problem {
        &self.problem
    }

    /// A malformed request value (`kind` names which, as `invalid-<what>`).
    pub(super) fn bad_value(kind: &str, title: &str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, kind, title, detail)
    }
}

impl From<NodeError> for ApiError {
    fn from(e: NodeError) -> Self {
        let detail = match &e {
            // The title says it is refused; the detail says why.
            NodeError::Refused(reason) => reason.clone(),
            e => e.to_string(),
        };
        let (status, kind, title) = match e {
            NodeError::UnknownSpace(_) => (StatusCode::NOT_FOUND, "unknown-space", "Unknown space"),
            NodeError::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            NodeError::UnknownMessage(_) => {
                (StatusCode::NOT_FOUND, "unknown-message", "Unknown message")
            }
            NodeError::Forbidden(_) => (StatusCode::FORBIDDEN, "not-yours", "Not allowed"),
            NodeError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid", "Invalid request"),
            NodeError::Refused(_) => (StatusCode::FORBIDDEN, "refused", "Refused by the rules"),
            NodeError::NotReady(_) => (StatusCode::CONFLICT, "not-ready", "Space still syncing"),
            NodeError::KeysPending(_) => (
                StatusCode::CONFLICT,
                "keys-pending",
                "Encryption keys not here yet",
            ),
            NodeError::Expired(_) => (StatusCode::GONE, "expired", "Space expired"),
            NodeError::Timeout(_) => (StatusCode::NOT_FOUND, "no-host", "No host answered"),
            NodeError::Storage(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "storage",
                "Storage failure",
            ),
            _ => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Node shutting down",
            ),
        };
        Self::new(status, kind, title, detail)
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        let detail = e.to_string();
        let (status, kind, title) = match e {
            AuthError::NoToken => (StatusCode::UNAUTHORIZED, "no-token", "Token required"),
            AuthError::BadToken => (StatusCode::UNAUTHORIZED, "bad-token", "Wrong token"),
            AuthError::Expired => (StatusCode::UNAUTHORIZED, "token-expired", "Token expired"),
            AuthError::BadChallenge => (
                StatusCode::UNAUTHORIZED,
                "bad-challenge",
                "Unknown challenge",
            ),
            AuthError::BadSignature(_) => {
                (StatusCode::UNAUTHORIZED, "bad-signature", "Bad signature")
            }
            AuthError::NotASignInKey { .. } => (
                StatusCode::UNAUTHORIZED,
                "not-a-sign-in-key",
                "Not a sign-in key",
            ),
            AuthError::TooManyStreams => (
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-streams",
                "Too many event streams",
            ),
            AuthError::RateLimited(ms) => {
                let mut err = Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate-limited",
                    "Too many requests",
                    detail,
                );
                err.retry_after_ms = Some(ms);
                return err;
            }
            AuthError::Node(n) => return n.into(),
        };
        Self::new(status, kind, title, detail)
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        let detail = e.to_string();
        match e {
            ServiceError::Node(n) => n.into(),
            ServiceError::Auth(a) => a.into(),
            ServiceError::OperatorOnly(_) => {
                Self::new(StatusCode::FORBIDDEN, "admin-only", "Operator only", detail)
            }
            ServiceError::NotYours(_) => Self::not_yours(detail),
            ServiceError::UnknownTimite(_) => Self::new(
                StatusCode::NOT_FOUND,
                "unknown-timite",
                "Not hosted here",
                detail,
            ),
            ServiceError::InvalidVisibility(_) => {
                Self::bad_value("invalid-visibility", "Invalid visibility", detail)
            }
            ServiceError::InvalidAddress { .. } => {
                Self::bad_value("invalid-multiaddr", "Invalid address", detail)
            }
            ServiceError::CredentialRefused { .. } => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "credential-refused",
                "Credential does not verify",
                detail,
            ),
            ServiceError::MalformedBundle(_) => {
                Self::bad_value("malformed-bundle", "Not a signature bundle", detail)
            }
            ServiceError::InvalidPage(_) => Self::bad_value("invalid-page", "Invalid page", detail),
            ServiceError::HandleTaken { .. } => {
                Self::new(StatusCode::CONFLICT, "handle-taken", "Handle taken", detail)
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.problem.status).unwrap_or(StatusCode::BAD_REQUEST);
        let body = serde_json::to_vec(&self.problem).unwrap_or_default();
        let mut resp = (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response();
        if let Some(ms) = self.retry_after_ms {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(ms.div_ceil(1000)));
        }
        resp
    }
}

/// The error responses every route may give, for the OpenAPI description.
pub(super) struct Problems;

impl utoipa::IntoResponses for Problems {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::response::Response>> {
        let problem = |what: &str| {
            ResponseBuilder::new()
                .description(what)
                .content(
                    "application/problem+json",
                    ContentBuilder::new()
                        .schema(Some(Problem::schema()))
                        .build(),
                )
                .build()
                .into()
        };
        BTreeMap::from([
            (
                "4XX".to_string(),
                problem("Refused: bad input, no or wrong token, not allowed, unknown, too large, rate limited"),
            ),
            (
                "5XX".to_string(),
                problem("The node failed (storage) or is shutting down"),
            ),
        ])
    }
}
