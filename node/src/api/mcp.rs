//! `/mcp`: the node's MCP server (`crate::mcp`) over streamable HTTP, behind the API's bearer
//! token. A request without a valid token is refused with `401` and a `WWW-Authenticate:
//! Bearer` challenge (RFC 6750), before the MCP server sees it.

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;

use super::{extract, MAX_JSON_BODY};
use crate::service::Service;

/// The path of the MCP endpoint.
const MCP_PATH: &str = "/mcp";

/// The `/mcp` route over `service`.
pub(super) fn routes(service: Service) -> Router<Service> {
    Router::new()
        .route_service(MCP_PATH, crate::mcp::http_service(service, MAX_JSON_BODY))
        .route_layer(middleware::from_fn(extract::require_token))
        .route_layer(middleware::from_fn(challenge))
}

/// Adds the bearer challenge to a refused token's `401`: `error="invalid_token"` when a token
/// was sent (unknown, revoked or expired), none when it was missing.
async fn challenge(req: Request, next: Next) -> Response {
    let sent = req.headers().contains_key(header::AUTHORIZATION);
    let mut resp = next.run(req).await;
    if resp.status() == StatusCode::UNAUTHORIZED {
        let value = if sent {
            "Bearer realm=\"tim\", error=\"invalid_token\""
        } else {
            "Bearer realm=\"tim\""
        };
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(value));
    }
    resp
}
