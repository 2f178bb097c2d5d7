//! The HTTP API (axum): JSON in and out, errors as RFC 9457 problem documents, server-sent
//! events for live space changes, and an OpenAPI 3.1 description at `/openapi.json` generated
//! from the handlers' annotations (so it cannot drift from them: [`utoipa_axum::routes!`]
//! registers each handler at the path its annotation names).
//!
//! Every `/v1` route but `/v1/health` and the sign-in pair needs `Authorization: Bearer
//! <token>` (see [`crate::auth`]): writes are signed as the token's timite. Routes that change
//! the node itself (timites, peers, trust, imports, fault injection) need the operator's admin
//! token. Request bodies are limited to [`MAX_JSON_BODY`] ([`MAX_IMPORT_BODY`] for imports);
//! each token is rate limited ([`RateLimit`]). The route table is in docs/operator.md.
//!
//! Handlers are thin: they take typed inputs from the request (`extract`), call one use case
//! of the [`Service`] with the token's [`Caller`](crate::service::Caller), and turn its answer
//! into a response, or its error into a problem document ([`ApiError`]). One module per
//! resource: `tokens` (sign-in, tokens, who am I), `timites`, `spaces`, `messages`, `members`
//! (moderation), `abilities` (declarations, search, requests), `passports` (credentials,
//! presentations, trust), `events` (live streams), `ws` (a space's events and writes over a
//! WebSocket), `graphql` (read-only GraphQL queries), `peers` and `status` (health, status,
//! metrics, the OpenAPI document and the web page).

use std::fmt::Display;
use std::future::Future;
use std::io;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::Serialize;
use tokio::net::TcpListener;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

mod abilities;
mod agents;
mod attachments;
mod balances;
mod chains;
mod earned_roles;
mod events;
mod extract;
pub mod graphql;
mod mcp;
mod members;
mod memory;
mod messages;
mod my_requests;
mod notifications;
mod passports;
mod peers;
mod people;
mod personas;
mod problem;
mod profiles;
mod proposals;
mod sign_in_keys;
mod spaces;
mod status;
mod status_lists;
mod timites;
mod tokens;
mod ws;

pub use crate::auth::RateLimit;
use crate::service::{ListPage, Service};
pub use crate::service::{DEFAULT_INVITE_VALIDITY, JOIN_TIMEOUT, MAX_JOIN_TIMEOUT};
use crate::Handle;
pub use problem::ApiError;
pub use ws::MAX_WS_MESSAGE;

/// Largest JSON request body.
pub const MAX_JSON_BODY: usize = 1024 * 1024;
/// Largest import (a signature bundle of a big space).
pub const MAX_IMPORT_BODY: usize = 64 * 1024 * 1024;

/// Settings of the API.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ApiConfig {
    /// Requests per token.
    pub rate_limit: RateLimit,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tim node API",
        description = "A Tim node's HTTP API: spaces, members, messages, ratings, passports, \
                       tokens. Errors are RFC 9457 problem documents.",
        license(name = "MIT OR Apache-2.0")
    ),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
    }
}

/// The routes and their OpenAPI description.
fn routes() -> (Router<Service>, utoipa::openapi::OpenApi) {
    let authed = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(tokens::me))
        .routes(routes!(timites::list_timites, timites::add_timite))
        .routes(routes!(tokens::list_tokens, tokens::new_token))
        .routes(routes!(tokens::revoke_token))
        .routes(routes!(sign_in_keys::list, sign_in_keys::add))
        .routes(routes!(sign_in_keys::remove))
        .routes(routes!(status::status))
        .routes(routes!(status::metrics))
        .routes(routes!(spaces::list_spaces, spaces::create_space))
        .routes(routes!(spaces::get_space))
        .routes(routes!(spaces::join_space))
        .routes(routes!(spaces::leave_space))
        .routes(routes!(messages::timeline, messages::post_message))
        .routes(routes!(messages::delete_message, messages::edit_message))
        .routes(routes!(messages::react))
        .routes(routes!(messages::thread))
        .routes(routes!(messages::edit_history))
        .routes(routes!(messages::search))
        .routes(routes!(messages::direct_message))
        .routes(routes!(members::members))
        .routes(routes!(members::kick))
        .routes(routes!(members::set_role))
        .routes(routes!(members::declare_abilities, abilities::list))
        .routes(routes!(abilities::declare, abilities::withdraw))
        .routes(routes!(abilities::search))
        .routes(routes!(abilities::requests, abilities::create))
        .routes(routes!(abilities::request))
        .routes(routes!(abilities::claim))
        .routes(routes!(abilities::progress))
        .routes(routes!(abilities::result))
        .routes(routes!(abilities::failure))
        .routes(routes!(abilities::cancel))
        .routes(routes!(abilities::rate))
        .routes(routes!(my_requests::list))
        .routes(routes!(events::request_events))
        .routes(routes!(abilities::badges, abilities::set_badges))
        .routes(routes!(balances::tokens))
        .routes(routes!(balances::set_policy))
        .routes(routes!(chains::list, chains::create))
        .routes(routes!(chains::chain))
        .routes(routes!(chains::cancel))
        .routes(routes!(personas::list, personas::publish))
        .routes(routes!(personas::persona, personas::delete))
        .routes(routes!(proposals::list, proposals::propose))
        .routes(routes!(proposals::proposal))
        .routes(routes!(proposals::vote))
        .routes(routes!(proposals::close))
        .routes(routes!(proposals::meta_value))
        .routes(routes!(memory::show, memory::forget))
        .routes(routes!(members::invite))
        .routes(routes!(members::rate))
        .routes(routes!(spaces::set_requirements))
        .routes(routes!(spaces::migrate))
        .routes(routes!(
            earned_roles::earned_roles,
            earned_roles::set_earned_roles
        ))
        .routes(routes!(profiles::profile, profiles::set_profile))
        .routes(routes!(profiles::budgets, profiles::set_budgets))
        .routes(routes!(passports::issue_credential))
        .routes(routes!(
            passports::list_credentials,
            passports::hold_credential
        ))
        .routes(routes!(passports::verify_any))
        .routes(routes!(passports::show_credential))
        .routes(routes!(passports::revoke_credential))
        .routes(routes!(passports::credential_jwt))
        .routes(routes!(passports::trust, passports::set_trust))
        .routes(routes!(notifications::notifications))
        .routes(routes!(notifications::notification_events))
        .routes(routes!(notifications::mark_read))
        .routes(routes!(attachments::attachment))
        .routes(routes!(spaces::export_document))
        .routes(routes!(spaces::export_signatures))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(spaces::import))
                .layer(DefaultBodyLimit::max(MAX_IMPORT_BODY)),
        )
        .routes(routes!(peers::add_peer))
        .routes(routes!(peers::disconnect))
        .routes(routes!(peers::gossip_peers))
        .routes(routes!(peers::flood))
        .routes(routes!(agents::list, agents::create))
        .routes(routes!(agents::show, agents::tune, agents::remove))
        .routes(routes!(agents::pause))
        .routes(routes!(agents::resume))
        .routes(routes!(agents::logs))
        .routes(routes!(agents::log_events))
        .routes(routes!(graphql::get, graphql::post))
        .routes(routes!(people::set_profile))
        .routes(routes!(people::profile))
        .routes(routes!(people::avatar))
        .route_layer(middleware::from_fn(extract::require_token));
    // Live streams also take the token as `?token=` (browsers' WebSocket cannot set headers).
    let streams = OpenApiRouter::new()
        .routes(routes!(events::events))
        .routes(routes!(ws::ws))
        .route_layer(middleware::from_fn(extract::require_token_or_query));
    let public = OpenApiRouter::new()
        .routes(routes!(tokens::challenge))
        .routes(routes!(tokens::login))
        .routes(routes!(status_lists::status_list))
        .routes(routes!(graphql::sdl_route))
        .routes(routes!(people::webfinger))
        .routes(routes!(people::did_json))
        .route_layer(middleware::from_fn(extract::throttle_anonymous))
        .routes(routes!(status::health));
    authed.merge(streams).merge(public).split_for_parts()
}

/// The API router for a node whose operator token is `token`.
pub fn router(node: Handle, token: String) -> Router {
    router_with(node, token, ApiConfig::default())
}

/// The API router with explicit settings.
pub fn router_with(node: Handle, token: String, cfg: ApiConfig) -> Router {
    router_for(Service::new(node, &token, cfg.rate_limit))
}

/// The API router over a [`Service`] (which holds the tokens and rate limits).
pub fn router_for(service: Service) -> Router {
    let auth = service.auth().clone();
    let (api, doc) = routes();
    api.merge(status::openapi_route(&doc))
        .merge(crate::web::routes())
        .merge(mcp::routes(service.clone()))
        .fallback(|| async {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "no-route",
                "No such endpoint",
                "see /openapi.json or the API table in docs/operator.md",
            )
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
                "this path does not take that method; see /openapi.json",
            )
        })
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
        .layer(axum::Extension(auth))
        .with_state(service)
}

/// A page of a list as a JSON array, with a `Link` header (RFC 8288) to the next page, if
/// any: `path` with `after` the page's last key and the `limit` the request gave.
fn listed<T: Serialize, K: Display>(
    page: ListPage<T, K>,
    path: &str,
    limit: Option<usize>,
) -> Response {
    let mut resp = Json(page.items).into_response();
    if let Some(after) = page.next_after {
        let limit = limit.map(|l| format!("&limit={l}")).unwrap_or_default();
        let link = format!(
            "<{path}?after={}{limit}>; rel=\"next\"",
            query_value(&after.to_string())
        );
        if let Ok(v) = HeaderValue::from_str(&link) {
            resp.headers_mut().insert(header::LINK, v);
        }
    }
    resp
}

/// `s` percent-encoded for a query string: everything but RFC 3986's unreserved characters.
fn query_value(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Serves `app` (a [`router`]) on `listener` until `shutdown` completes, then lets open
/// requests finish. Answers go out without waiting for Nagle's algorithm (event streams send
/// small messages).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("cannot set TCP_NODELAY on an API connection: {e}");
        }
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
