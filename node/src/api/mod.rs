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

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection};
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use futures::Stream;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tim_crdt::admission::Requirement;
use tim_protocol::api::{
    Challenge, ChallengeRequest, CheckView, CreateSpace, DeclareAbilities, Done, Imported,
    InviteRequest, IssueRequest, JoinSpace, Login, Me, MemberView, NewToken, NodeStatus,
    PostMessage, Posted, Problem, RateRequest, SetRole, SpaceEvent, SpaceSummary, Timeline,
    TimiteView, TokenInfo, TokenIssued, TrustEntry, VerifyReport,
};
use tim_protocol::wire::ExportBundle;
use tim_protocol::{Did, SpaceId};
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::StreamExt as _;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, RefOr, ResponseBuilder};
use utoipa::{OpenApi, PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use crate::auth::RateLimit;
use crate::auth::{Auth, AuthError, Principal, MAX_LABEL_LEN};
use crate::{Act, CredentialKind, Handle, NodeError, Role, Visibility};

/// How long an invite stays valid unless the request says otherwise.
pub const DEFAULT_INVITE_VALIDITY: Duration = Duration::from_secs(7 * 24 * 3600);
/// Largest JSON request body.
pub const MAX_JSON_BODY: usize = 1024 * 1024;
/// Largest import (a signature bundle of a big space).
pub const MAX_IMPORT_BODY: usize = 64 * 1024 * 1024;
/// How long a join waits for a host to answer unless the request says otherwise.
pub const JOIN_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest join wait a request may ask for.
pub const MAX_JOIN_TIMEOUT: Duration = Duration::from_secs(300);

/// Settings of the API.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ApiConfig {
    /// Requests per token.
    pub rate_limit: RateLimit,
}

#[derive(Clone)]
struct AppState {
    node: Handle,
    auth: Arc<Auth>,
}

/// An API error: a problem document with a status.
#[derive(Debug)]
pub struct ApiError {
    problem: Problem,
    retry_after_ms: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, kind: &str, title: &str, detail: impl Into<String>) -> Self {
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

    fn admin_only(what: &str) -> Self {
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
}

impl From<NodeError> for ApiError {
    fn from(e: NodeError) -> Self {
        let detail = e.to_string();
        let (status, kind, title) = match e {
            NodeError::UnknownSpace(_) => (StatusCode::NOT_FOUND, "unknown-space", "Unknown space"),
            NodeError::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            NodeError::Forbidden(_) => (StatusCode::FORBIDDEN, "not-yours", "Not allowed"),
            NodeError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid", "Invalid request"),
            NodeError::Refused(_) => (StatusCode::FORBIDDEN, "refused", "Refused by the rules"),
            NodeError::NotReady(_) => (StatusCode::CONFLICT, "not-ready", "Space still syncing"),
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

type ApiResult<T> = Result<T, ApiError>;

/// The error responses every route may give, for the OpenAPI description.
struct Problems;

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

/// JSON body extractor whose refusals are problem documents.
struct ApiJson<T>(T);

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

/// Raw body extractor whose refusals are problem documents.
struct ApiBytes(Bytes);

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

/// The node handle acting as the request's timite.
struct Acting(Handle);

impl FromRequestParts<AppState> for Acting {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Self(s.node.acting_as(principal(parts)?.did)))
    }
}

/// Present only on requests with the operator's admin token.
struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
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

fn principal(parts: &Parts) -> ApiResult<Principal> {
    parts
        .extensions
        .get::<Principal>()
        .cloned()
        .ok_or_else(|| AuthError::NoToken.into())
}

fn space_id(raw: &str) -> ApiResult<SpaceId> {
    raw.parse().map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid-space-id",
            "Invalid space id",
            format!("`{raw}` is not a space id: {e}"),
        )
    })
}

fn multiaddr(raw: &str) -> ApiResult<libp2p::Multiaddr> {
    raw.parse().map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid-multiaddr",
            "Invalid address",
            format!("`{raw}` is not a multiaddr: {e}"),
        )
    })
}

fn did_param(raw: &str) -> ApiResult<Did> {
    raw.parse().map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid-did",
            "Invalid DID",
            format!("{e}"),
        )
    })
}

fn invalid(detail: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid",
        "Invalid request",
        detail,
    )
}

async fn require_token(
    axum::Extension(auth): axum::Extension<Arc<Auth>>,
    mut req: Request,
    next: Next,
) -> Response {
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match auth.authenticate(bearer) {
        Ok(p) => {
            req.extensions_mut().insert(p);
            next.run(req).await
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

async fn throttle_anonymous(
    axum::Extension(auth): axum::Extension<Arc<Auth>>,
    req: Request,
    next: Next,
) -> Response {
    match auth.throttle_anonymous() {
        Ok(()) => next.run(req).await,
        Err(e) => ApiError::from(e).into_response(),
    }
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
fn routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let authed = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(me))
        .routes(routes!(list_timites, add_timite))
        .routes(routes!(list_tokens, new_token))
        .routes(routes!(revoke_token))
        .routes(routes!(status))
        .routes(routes!(metrics))
        .routes(routes!(list_spaces, create_space))
        .routes(routes!(get_space))
        .routes(routes!(join_space))
        .routes(routes!(timeline, post_message))
        .routes(routes!(delete_message))
        .routes(routes!(members))
        .routes(routes!(kick))
        .routes(routes!(set_role))
        .routes(routes!(declare_abilities))
        .routes(routes!(invite))
        .routes(routes!(rate))
        .routes(routes!(set_requirements))
        .routes(routes!(issue_credential))
        .routes(routes!(list_credentials, hold_credential))
        .routes(routes!(verify_any))
        .routes(routes!(show_credential))
        .routes(routes!(revoke_credential))
        .routes(routes!(credential_jwt))
        .routes(routes!(trust, set_trust))
        .routes(routes!(events))
        .routes(routes!(export_document))
        .routes(routes!(export_signatures))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(import))
                .layer(DefaultBodyLimit::max(MAX_IMPORT_BODY)),
        )
        .routes(routes!(add_peer))
        .routes(routes!(disconnect))
        .route_layer(middleware::from_fn(require_token));
    let public = OpenApiRouter::new()
        .routes(routes!(challenge))
        .routes(routes!(login))
        .route_layer(middleware::from_fn(throttle_anonymous))
        .routes(routes!(health));
    authed.merge(public).split_for_parts()
}

/// The API router for a node whose operator token is `token`.
pub fn router(node: Handle, token: String) -> Router {
    router_with(node, token, ApiConfig::default())
}

/// The API router with explicit settings.
pub fn router_with(node: Handle, token: String, cfg: ApiConfig) -> Router {
    let auth = Auth::new(
        node.store().clone(),
        &token,
        node.timite(),
        node.node_did(),
        cfg.rate_limit,
    );
    let auth = Arc::new(auth);
    let state = AppState {
        node,
        auth: auth.clone(),
    };
    let (api, doc) = routes();
    let doc = Arc::new(doc.to_pretty_json().unwrap_or_default());
    api.route(
        "/openapi.json",
        axum::routing::get(move || {
            let doc = doc.clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], (*doc).clone()) }
        }),
    )
    .merge(crate::web::routes())
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
    .with_state(state)
}

/// Always `ok`: the node's API is up.
#[utoipa::path(get, path = "/v1/health", tag = "node", security(()),
    responses((status = 200, description = "The API is up", body = String, content_type = "text/plain")))]
async fn health() -> &'static str {
    "ok"
}

/// A sign-in challenge for a hosted timite: sign `tim/auth/v1\0` + node DID + `\0` +
/// challenge with its key, then `POST /v1/auth/login`.
#[utoipa::path(post, path = "/v1/auth/challenge", tag = "auth", security(()),
    request_body = ChallengeRequest,
    responses((status = 201, body = Challenge), Problems))]
async fn challenge(
    State(s): State<AppState>,
    ApiJson(body): ApiJson<ChallengeRequest>,
) -> ApiResult<impl IntoResponse> {
    hosted(&s.node, &body.did).await?;
    Ok((StatusCode::CREATED, Json(s.auth.challenge(body.did)?)))
}

/// Signs in with a signed challenge; answers a token valid for 24 hours.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", security(()),
    request_body = Login,
    responses((status = 201, body = TokenIssued), Problems))]
async fn login(
    State(s): State<AppState>,
    ApiJson(body): ApiJson<Login>,
) -> ApiResult<impl IntoResponse> {
    Ok((StatusCode::CREATED, Json(s.auth.login(&body).await?)))
}

/// Refuses a DID this node does not host.
async fn hosted(node: &Handle, did: &Did) -> ApiResult<()> {
    if node.timites().await?.iter().any(|t| t.did == *did) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown-timite",
            "Not hosted here",
            format!("{did} is not a timite hosted on this node (see GET /v1/timites)"),
        ))
    }
}

/// Who the token acts as.
#[utoipa::path(get, path = "/v1/me", tag = "auth", responses((status = 200, body = Me), Problems))]
async fn me(axum::Extension(p): axum::Extension<Principal>) -> Json<Me> {
    Json(Me {
        did: p.did,
        admin: p.admin,
        token_id: p.token_id,
    })
}

/// The timites this node hosts (operator).
#[utoipa::path(get, path = "/v1/timites", tag = "auth",
    responses((status = 200, body = [TimiteView]), Problems))]
async fn list_timites(_: Admin, State(s): State<AppState>) -> ApiResult<Json<Vec<TimiteView>>> {
    Ok(Json(s.node.timites().await?))
}

/// Makes a new hosted timite with a fresh key (operator).
#[utoipa::path(post, path = "/v1/timites", tag = "auth",
    responses((status = 201, body = TimiteView), Problems))]
async fn add_timite(_: Admin, State(s): State<AppState>) -> ApiResult<impl IntoResponse> {
    Ok((StatusCode::CREATED, Json(s.node.add_timite().await?)))
}

/// Live tokens: all of them for the operator, one's own otherwise.
#[utoipa::path(get, path = "/v1/tokens", tag = "auth",
    responses((status = 200, body = [TokenInfo]), Problems))]
async fn list_tokens(
    State(s): State<AppState>,
    axum::Extension(p): axum::Extension<Principal>,
) -> ApiResult<Json<Vec<TokenInfo>>> {
    let of = (!p.admin).then_some(&p.did);
    Ok(Json(s.auth.list(of)?))
}

/// Makes a token for a hosted timite (the operator for anyone; a timite for itself). The
/// secret is in this answer only.
#[utoipa::path(post, path = "/v1/tokens", tag = "auth", request_body = NewToken,
    responses((status = 201, body = TokenIssued), Problems))]
async fn new_token(
    State(s): State<AppState>,
    axum::Extension(p): axum::Extension<Principal>,
    ApiJson(body): ApiJson<NewToken>,
) -> ApiResult<impl IntoResponse> {
    if !p.admin && body.did != p.did {
        return Err(ApiError::not_yours(format!(
            "a timite makes tokens for itself only; {} is not {}",
            body.did, p.did
        )));
    }
    if body.label.chars().count() > MAX_LABEL_LEN {
        return Err(invalid(&format!(
            "a label is at most {MAX_LABEL_LEN} characters"
        )));
    }
    if body.ttl_secs == Some(0) {
        return Err(invalid("ttl_secs must be at least 1"));
    }
    hosted(&s.node, &body.did).await?;
    let ttl = body.ttl_secs.map(Duration::from_secs);
    Ok((
        StatusCode::CREATED,
        Json(s.auth.issue(body.did, &body.label, ttl).await?),
    ))
}

/// Answer of a revocation.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
struct Revoked {
    /// The revoked token's id.
    revoked: String,
}

/// Revokes a token (the operator any; a timite its own).
#[utoipa::path(delete, path = "/v1/tokens/{id}", tag = "auth",
    params(("id" = String, Path, description = "Token id")),
    responses((status = 200, body = Revoked), Problems))]
async fn revoke_token(
    State(s): State<AppState>,
    axum::Extension(p): axum::Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<Revoked>> {
    match s.auth.revoke(&id, |t| p.admin || t.did == p.did).await? {
        Some(Ok(_)) => Ok(Json(Revoked { revoked: id })),
        Some(Err(_)) => Err(ApiError::not_yours(format!(
            "token {id} belongs to another timite"
        ))),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            format!("no token {id} on this node"),
        )),
    }
}

/// Who and where this node is.
#[utoipa::path(get, path = "/v1/status", tag = "node",
    responses((status = 200, body = NodeStatus), Problems))]
async fn status(Acting(node): Acting) -> ApiResult<Json<NodeStatus>> {
    Ok(Json(node.status().await?))
}

/// The node's metrics (OpenMetrics text): its own counters, bytes on the wire, gossipsub
/// message counts including duplicates.
#[utoipa::path(get, path = "/metrics", tag = "node",
    responses((status = 200, body = String,
               content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8"),
              Problems))]
async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.node.metrics(),
    )
}

/// Spaces this node hosts.
#[utoipa::path(get, path = "/v1/spaces", tag = "spaces",
    responses((status = 200, body = [SpaceSummary]), Problems))]
async fn list_spaces(State(s): State<AppState>) -> ApiResult<Json<Vec<SpaceSummary>>> {
    Ok(Json(s.node.spaces().await?))
}

/// Creates a space with the timite as owner.
#[utoipa::path(post, path = "/v1/spaces", tag = "spaces", request_body = CreateSpace,
    responses((status = 201, body = SpaceSummary), Problems))]
async fn create_space(
    Acting(node): Acting,
    ApiJson(body): ApiJson<CreateSpace>,
) -> ApiResult<impl IntoResponse> {
    let visibility = match body.visibility.as_deref() {
        None => Visibility::Public,
        Some(v) => Visibility::parse(v).ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid-visibility",
                "Invalid visibility",
                format!("`{v}` is not a visibility; use public, invite-only or ephemeral"),
            )
        })?,
    };
    let ttl = body.ttl_secs.map(Duration::from_secs);
    match (visibility, ttl) {
        (Visibility::Ephemeral, None) => {
            return Err(invalid(
                "an ephemeral space needs a time to live (ttl_secs; --ttl on the command line)",
            ));
        }
        (Visibility::Public | Visibility::InviteOnly, Some(_)) => {
            return Err(invalid("only an ephemeral space has a ttl"));
        }
        _ => {}
    }
    let space = node
        .create_space_with(&body.name, &body.purpose, visibility, ttl)
        .await?;
    Ok((StatusCode::CREATED, Json(space)))
}

/// One hosted space.
#[utoipa::path(get, path = "/v1/spaces/{id}", tag = "spaces",
    params(("id" = String, Path, description = "Space id")),
    responses((status = 200, body = SpaceSummary), Problems))]
async fn get_space(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<SpaceSummary>> {
    Ok(Json(s.node.space(space_id(&id)?).await?))
}

/// Joins a space: finds hosts, syncs its history, adds the timite as a member. Answers once
/// joined, or 404 `no-host` when no host answered in time.
#[utoipa::path(post, path = "/v1/spaces/{id}/join", tag = "spaces", request_body = JoinSpace,
    params(("id" = String, Path, description = "Space id")),
    responses((status = 200, body = SpaceSummary), Problems))]
async fn join_space(
    Acting(node): Acting,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<JoinSpace>,
) -> ApiResult<Json<SpaceSummary>> {
    let id = space_id(&id)?;
    let via = body
        .via
        .iter()
        .map(|a| multiaddr(a))
        .collect::<ApiResult<Vec<_>>>()?;
    let timeout = body.timeout_secs.map_or(JOIN_TIMEOUT, Duration::from_secs);
    if timeout > MAX_JOIN_TIMEOUT || timeout.is_zero() {
        return Err(invalid(&format!(
            "timeout_secs is from 1 to {}",
            MAX_JOIN_TIMEOUT.as_secs()
        )));
    }
    Ok(Json(
        node.join_presenting(id, via, body.present, timeout).await?,
    ))
}

/// A space's timeline.
#[utoipa::path(get, path = "/v1/spaces/{id}/messages", tag = "messages",
    params(("id" = String, Path, description = "Space id")),
    responses((status = 200, body = Timeline), Problems))]
async fn timeline(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Timeline>> {
    Ok(Json(s.node.timeline(space_id(&id)?).await?))
}

/// Posts a message; answers once it is on disk.
#[utoipa::path(post, path = "/v1/spaces/{id}/messages", tag = "messages",
    request_body = PostMessage, params(("id" = String, Path, description = "Space id")),
    responses((status = 201, body = Posted), Problems))]
async fn post_message(
    Acting(node): Acting,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PostMessage>,
) -> ApiResult<impl IntoResponse> {
    let posted = node.post(space_id(&id)?, &body.text).await?;
    Ok((StatusCode::CREATED, Json(posted)))
}

async fn moderate(node: &Handle, id: &str, act: Act) -> ApiResult<Json<Done>> {
    let change = node.moderate(space_id(id)?, act).await?;
    Ok(Json(Done { change }))
}

/// Deletes a message (its author, or a moderator).
#[utoipa::path(delete, path = "/v1/spaces/{id}/messages/{message}", tag = "messages",
    params(("id" = String, Path, description = "Space id"),
           ("message" = String, Path, description = "Message id")),
    responses((status = 200, body = Done), Problems))]
async fn delete_message(
    Acting(node): Acting,
    Path((id, message)): Path<(String, String)>,
) -> ApiResult<Json<Done>> {
    moderate(&node, &id, Act::DeleteMessage(message)).await
}

/// Members with role, reputation, declared abilities and (weighted by this node's trust
/// policy) imported reputation.
#[utoipa::path(get, path = "/v1/spaces/{id}/members", tag = "members",
    params(("id" = String, Path, description = "Space id")),
    responses((status = 200, body = [MemberView]), Problems))]
async fn members(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<MemberView>>> {
    Ok(Json(s.node.members(space_id(&id)?).await?))
}

/// Removes a member (admins, outranking it).
#[utoipa::path(delete, path = "/v1/spaces/{id}/members/{did}", tag = "members",
    params(("id" = String, Path, description = "Space id"),
           ("did" = String, Path, description = "The member's DID")),
    responses((status = 200, body = Done), Problems))]
async fn kick(
    Acting(node): Acting,
    Path((id, did)): Path<(String, String)>,
) -> ApiResult<Json<Done>> {
    moderate(&node, &id, Act::Kick(did_param(&did)?)).await
}

/// Sets a member's role; `banned` bans (admins).
#[utoipa::path(put, path = "/v1/spaces/{id}/members/{did}/role", tag = "members",
    request_body = SetRole,
    params(("id" = String, Path, description = "Space id"),
           ("did" = String, Path, description = "The member's DID")),
    responses((status = 200, body = Done), Problems))]
async fn set_role(
    Acting(node): Acting,
    Path((id, did)): Path<(String, String)>,
    ApiJson(body): ApiJson<SetRole>,
) -> ApiResult<Json<Done>> {
    let role = Role::parse(&body.role)
        .ok_or_else(|| invalid("role must be one of admin, moderator, member, guest, banned"))?;
    moderate(&node, &id, Act::SetRole(did_param(&did)?, role)).await
}

/// Declares what the timite can do in this space (replaces its list).
#[utoipa::path(put, path = "/v1/spaces/{id}/abilities", tag = "members",
    request_body = DeclareAbilities, params(("id" = String, Path, description = "Space id")),
    responses((status = 200, body = Done), Problems))]
async fn declare_abilities(
    Acting(node): Acting,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DeclareAbilities>,
) -> ApiResult<Json<Done>> {
    moderate(&node, &id, Act::DeclareAbilities(body.abilities)).await
}

/// Invites a timite to an invite-only space (admins).
#[utoipa::path(post, path = "/v1/spaces/{id}/invites", tag = "members",
    request_body = InviteRequest, params(("id" = String, Path, description = "Space id")),
    responses((status = 200, body = Done), Problems))]
async fn invite(
    Acting(node): Acting,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<InviteRequest>,
) -> ApiResult<Json<Done>> {
    let valid = body
        .expires_in_secs
        .map_or(DEFAULT_INVITE_VALIDITY, Duration::from_secs);
    moderate(&node, &id, Act::Invite(body.did, valid)).await
}

/// Rates a member from 1 to 5 (members).
#[utoipa::path(post, path = "/v1/spaces/{id}/ratings", tag = "members",
    request_body = RateRequest, params(("id" = String, Path, description = "Space id")),
    responses((status = 200, body = Done), Problems))]
async fn rate(
    Acting(node): Acting,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RateRequest>,
) -> ApiResult<Json<Done>> {
    moderate(&node, &id, Act::Rate(body.did, body.score)).await
}

/// Sets what joiners must present (admins).
#[utoipa::path(put, path = "/v1/spaces/{id}/requirements", tag = "spaces",
    request_body = [Requirement], params(("id" = String, Path, description = "Space id")),
    responses((status = 200, body = Done), Problems))]
async fn set_requirements(
    Acting(node): Acting,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Vec<Requirement>>,
) -> ApiResult<Json<Done>> {
    moderate(&node, &id, Act::SetRequirements(body)).await
}

/// Issues a credential in the space's name (admins): membership, reputation or ability.
#[utoipa::path(post, path = "/v1/spaces/{id}/credentials", tag = "passport",
    request_body = IssueRequest, params(("id" = String, Path, description = "Space id")),
    responses((status = 201, description = "The W3C verifiable credential", body = Object), Problems))]
async fn issue_credential(
    Acting(node): Acting,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<IssueRequest>,
) -> ApiResult<impl IntoResponse> {
    let kind = match body.kind.as_str() {
        "membership" => CredentialKind::Membership,
        "reputation" => CredentialKind::Reputation,
        "ability" => match (body.ability, body.level) {
            (Some(ability), Some(level)) => CredentialKind::Ability { ability, level },
            _ => return Err(invalid("an ability credential needs `ability` and `level`")),
        },
        other => {
            return Err(invalid(&format!(
                "`{other}` is not a credential kind; use membership, reputation or ability"
            )))
        }
    };
    let vc = node
        .issue_credential(
            space_id(&id)?,
            body.subject,
            kind,
            body.valid_for_secs.map(Duration::from_secs),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(vc)))
}

/// The timite's passport: credentials about it, and those it issued.
#[utoipa::path(get, path = "/v1/passport", tag = "passport",
    responses((status = 200, description = "W3C verifiable credentials", body = [Object]), Problems))]
async fn list_credentials(Acting(node): Acting) -> ApiResult<Json<Vec<serde_json::Value>>> {
    Ok(Json(node.credentials().await?))
}

/// One credential of the timite's passport.
#[utoipa::path(get, path = "/v1/passport/{cid}", tag = "passport",
    params(("cid" = String, Path, description = "Credential id")),
    responses((status = 200, description = "The credential", body = Object), Problems))]
async fn show_credential(
    Acting(node): Acting,
    Path(cid): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(node.credential(&cid).await?))
}

/// Verifies any credential or presentation: offline checks, then what the issuing space (if
/// hosted here) says about its issuer and revocation.
async fn verify_report(
    node: &Handle,
    doc: &serde_json::Value,
    trust: bool,
) -> ApiResult<VerifyReport> {
    use tim_did::credential::{credentials_in, is_presentation, verify_document};
    let now = crate::node::now_ms() as i64 / 1000;
    let mut report = verify_document(doc, None, None, now).await;
    let credentials = if is_presentation(doc) {
        credentials_in(doc)
    } else {
        vec![doc.clone()]
    };
    for vc in credentials {
        report.checks.extend(node.space_checks(vc, trust).await?);
    }
    let verified = report.ok();
    Ok(VerifyReport {
        verified,
        checks: report
            .checks
            .into_iter()
            .map(|c| {
                let (ok, detail) = match c.outcome {
                    Ok(d) => (true, d),
                    Err(e) => (false, e),
                };
                CheckView {
                    name: c.name,
                    ok,
                    detail,
                }
            })
            .collect(),
    })
}

/// Verifies a credential or presentation and reports each check.
#[utoipa::path(post, path = "/v1/passport/verify", tag = "passport",
    request_body(content = Object, description = "A credential or presentation (JSON-LD)"),
    responses((status = 200, body = VerifyReport), Problems))]
async fn verify_any(
    State(s): State<AppState>,
    ApiJson(doc): ApiJson<serde_json::Value>,
) -> ApiResult<Json<VerifyReport>> {
    Ok(Json(verify_report(&s.node, &doc, true).await?))
}

/// Answer of keeping a credential.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
struct Held {
    /// The credential's id.
    id: String,
}

/// Keeps a credential about the timite after verifying it; refuses one that fails a check.
#[utoipa::path(post, path = "/v1/passport", tag = "passport",
    request_body(content = Object, description = "A credential (JSON-LD)"),
    responses((status = 201, body = Held), Problems))]
async fn hold_credential(
    Acting(node): Acting,
    ApiJson(doc): ApiJson<serde_json::Value>,
) -> ApiResult<impl IntoResponse> {
    // Keeping a credential in one's own passport does not need this node to trust its issuer.
    let report = verify_report(&node, &doc, false).await?;
    if let Some(c) = report.checks.iter().find(|c| !c.ok) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "credential-refused",
            "Credential does not verify",
            format!("{}: {}", c.name, c.detail),
        ));
    }
    let id = node.hold_credential(doc).await?;
    Ok((StatusCode::CREATED, Json(Held { id })))
}

/// The VC-JOSE JWT form of a credential the timite issued.
#[utoipa::path(get, path = "/v1/passport/{cid}/jwt", tag = "passport",
    params(("cid" = String, Path, description = "Credential id")),
    responses((status = 200, body = String, content_type = "application/vc-ld+jwt"), Problems))]
async fn credential_jwt(
    Acting(node): Acting,
    Path(cid): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let jwt = node.credential_jwt(&cid).await?;
    Ok(([(header::CONTENT_TYPE, "application/vc-ld+jwt")], jwt))
}

/// Revokes a credential (an admin of the issuing space).
#[utoipa::path(post, path = "/v1/passport/{cid}/revoke", tag = "passport",
    params(("cid" = String, Path, description = "Credential id")),
    responses((status = 200, body = Done), Problems))]
async fn revoke_credential(Acting(node): Acting, Path(cid): Path<String>) -> ApiResult<Json<Done>> {
    let change = node.revoke_credential(&cid).await?;
    Ok(Json(Done { change }))
}

/// The node's trust policy.
#[utoipa::path(get, path = "/v1/trust", tag = "passport",
    responses((status = 200, body = [TrustEntry]), Problems))]
async fn trust(State(s): State<AppState>) -> ApiResult<Json<Vec<TrustEntry>>> {
    Ok(Json(s.node.trust().await?))
}

/// Sets an entry of the trust policy; a weight of 0 removes it (operator).
#[utoipa::path(put, path = "/v1/trust", tag = "passport", request_body = TrustEntry,
    responses((status = 204, description = "Set"), Problems))]
async fn set_trust(
    _: Admin,
    State(s): State<AppState>,
    ApiJson(body): ApiJson<TrustEntry>,
) -> ApiResult<StatusCode> {
    let weight = (body.weight != 0.0).then_some(body.weight);
    s.node.set_trust(&body.issuer, weight).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Live events of a space (server-sent events; `data` is a JSON [`SpaceEvent`]), including
/// changes that arrive from other nodes. At most 16 open streams per token.
#[utoipa::path(get, path = "/v1/spaces/{id}/events", tag = "spaces",
    params(("id" = String, Path, description = "Space id")),
    responses((status = 200, description = "An endless event stream", body = SpaceEvent,
               content_type = "text/event-stream"), Problems))]
async fn events(
    State(s): State<AppState>,
    axum::Extension(p): axum::Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let id = space_id(&id)?;
    match s.node.space(id).await {
        Ok(_) | Err(NodeError::NotReady(_)) => {}
        Err(e) => return Err(e.into()),
    }
    // Held by the stream: the slot frees when the client goes away.
    let slot = s.auth.open_stream(&p)?;
    let stream = BroadcastStream::new(s.node.subscribe()).filter_map(move |e| {
        let _open = &slot;
        match e {
            Ok(event) if event.space() == id => {
                Some(Ok(Event::default().json_data(&event).unwrap_or_default()))
            }
            Ok(_) => None,
            Err(lagged) => Some(Ok(Event::default()
                .event("lagged")
                .data(lagged.to_string()))),
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// The space's Automerge document.
#[utoipa::path(get, path = "/v1/spaces/{id}/export/document", tag = "spaces",
    params(("id" = String, Path, description = "Space id")),
    responses((status = 200, description = "Automerge document bytes", body = Vec<u8>,
               content_type = "application/octet-stream"), Problems))]
async fn export_document(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let (doc, _) = s.node.export(space_id(&id)?).await?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], doc))
}

/// The signature bundle of every change of the space (CBOR).
#[utoipa::path(get, path = "/v1/spaces/{id}/export/signatures", tag = "spaces",
    params(("id" = String, Path, description = "Space id")),
    responses((status = 200, description = "CBOR signature bundle", body = Vec<u8>,
               content_type = "application/cbor"), Problems))]
async fn export_signatures(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let id = space_id(&id)?;
    let (_, envelopes) = s.node.export(id).await?;
    let bundle = ExportBundle {
        space: id,
        envelopes,
    };
    Ok((
        [(header::CONTENT_TYPE, "application/cbor")],
        bundle.encode(),
    ))
}

/// Imports a signature bundle, all or nothing; each change is checked like any other
/// (operator).
#[utoipa::path(post, path = "/v1/import", tag = "spaces",
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
                 description = "A signature bundle from export/signatures (CBOR bytes; \
                                any content type is read as bytes)"),
    responses((status = 200, body = Imported), Problems))]
async fn import(
    _: Admin,
    State(s): State<AppState>,
    ApiBytes(body): ApiBytes,
) -> ApiResult<Json<Imported>> {
    let bundle = ExportBundle::decode(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed-bundle",
            "Not a signature bundle",
            format!("the body is not a Tim signature bundle: {e}"),
        )
    })?;
    Ok(Json(s.node.import(bundle.space, bundle.envelopes).await?))
}

/// Body of `POST /v1/peers`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
struct AddPeer {
    /// A multiaddr ending in `/p2p/<peer id>`.
    addr: String,
}

/// Dials a peer (operator).
#[utoipa::path(post, path = "/v1/peers", tag = "node", request_body = AddPeer,
    responses((status = 202, description = "Dialling"), Problems))]
async fn add_peer(
    _: Admin,
    State(s): State<AppState>,
    ApiJson(body): ApiJson<AddPeer>,
) -> ApiResult<StatusCode> {
    s.node.dial(multiaddr(&body.addr)?).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Answer of a fault injection.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
struct Disconnected {
    /// Connections closed.
    disconnected: usize,
}

/// Closes every connection; remembered peers are redialled later (testnet fault injection,
/// operator).
#[utoipa::path(post, path = "/v1/faults/disconnect", tag = "node",
    responses((status = 200, body = Disconnected), Problems))]
async fn disconnect(_: Admin, State(s): State<AppState>) -> ApiResult<Json<Disconnected>> {
    Ok(Json(Disconnected {
        disconnected: s.node.disconnect_all().await?,
    }))
}
