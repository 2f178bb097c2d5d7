//! The HTTP API (axum): JSON in and out, errors as RFC 9457 problem documents, a bearer token
//! on every route but `/v1/health`, and server-sent events for live space changes.
//!
//! | method | path | body | answer |
//! |---|---|---|---|
//! | GET | `/v1/health` | | `ok` (no token needed) |
//! | GET | `/v1/status` | | [`NodeStatus`] |
//! | GET | `/v1/spaces` | | `[SpaceSummary]` |
//! | POST | `/v1/spaces` | [`CreateSpace`] (name, purpose, visibility, ttl_secs) | 201 [`SpaceSummary`] |
//! | GET | `/v1/spaces/{id}` | | [`SpaceSummary`] |
//! | POST | `/v1/spaces/{id}/join` | [`JoinSpace`] | [`SpaceSummary`] once synced and joined |
//! | GET | `/v1/spaces/{id}/messages` | | [`Timeline`] |
//! | POST | `/v1/spaces/{id}/messages` | [`PostMessage`] | 201 [`Posted`] once durable |
//! | DELETE | `/v1/spaces/{id}/messages/{message}` | | [`Done`] (author or moderator) |
//! | GET | `/v1/spaces/{id}/members` | | `[MemberView]` |
//! | DELETE | `/v1/spaces/{id}/members/{did}` | | [`Done`]: kick (admin) |
//! | PUT | `/v1/spaces/{id}/members/{did}/role` | [`SetRole`] | [`Done`]; `banned` bans (admin) |
//! | POST | `/v1/spaces/{id}/invites` | [`InviteRequest`] | [`Done`] (admin) |
//! | POST | `/v1/spaces/{id}/ratings` | [`RateRequest`] | [`Done`] (members) |
//! | PUT | `/v1/spaces/{id}/requirements` | `[Requirement]` | [`Done`] (admin) |
//! | POST | `/v1/spaces/{id}/credentials` | [`IssueRequest`] | 201 the credential (admin) |
//! | GET, POST | `/v1/passport` | (POST: a credential) | credentials held; POST keeps one after verifying it |
//! | GET | `/v1/passport/{cid}` | | one credential |
//! | GET | `/v1/passport/{cid}/jwt` | | its VC-JOSE JWT form (issuer's node only) |
//! | POST | `/v1/passport/{cid}/revoke` | | [`Done`] (admin of the issuing space) |
//! | POST | `/v1/passport/verify` | a credential or presentation | [`VerifyReport`] |
//! | GET, PUT | `/v1/trust` | PUT: [`TrustEntry`] (weight 0 removes) | the trust policy |
//! | GET | `/v1/spaces/{id}/events` | | `text/event-stream` of [`SpaceEvent`] |
//! | GET | `/v1/spaces/{id}/export/document` | | the Automerge document |
//! | GET | `/v1/spaces/{id}/export/signatures` | | the signature bundle (CBOR) |
//! | POST | `/v1/import` | signature bundle (CBOR) | [`Imported`] |
//! | POST | `/v1/peers` | `{"addr": multiaddr}` | 202 |
//! | POST | `/v1/faults/disconnect` | | `{"disconnected": n}` (testnet fault injection) |

use std::convert::Infallible;
use std::time::Duration;

use crate::{Act, CredentialKind, Role, Visibility};
use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Path, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::Stream;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tim_protocol::api::{
    CheckView, CreateSpace, Done, InviteRequest, IssueRequest, JoinSpace, PostMessage, Problem,
    RateRequest, SetRole, TrustEntry, VerifyReport,
};
use tim_protocol::wire::ExportBundle;
use tim_protocol::Did;
use tim_protocol::SpaceId;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::StreamExt as _;

use crate::{Handle, NodeError};

/// How long an invite stays valid unless the request says otherwise.
pub const DEFAULT_INVITE_VALIDITY: Duration = Duration::from_secs(7 * 24 * 3600);

/// Largest request body: an import of a big space.
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
/// How long a join may wait for a host to answer.
pub const JOIN_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone)]
struct AppState {
    node: Handle,
    token: String,
}

/// An API error: a problem document with a status.
#[derive(Debug)]
pub struct ApiError(Problem);

impl ApiError {
    fn new(status: StatusCode, kind: &str, title: &str, detail: impl Into<String>) -> Self {
        Self(Problem {
            kind: format!("tim:problem/{kind}"),
            title: title.to_string(),
            status: status.as_u16(),
            detail: detail.into(),
        })
    }
}

impl From<NodeError> for ApiError {
    fn from(e: NodeError) -> Self {
        let detail = e.to_string();
        let (status, kind, title) = match e {
            NodeError::UnknownSpace(_) => (StatusCode::NOT_FOUND, "unknown-space", "Unknown space"),
            NodeError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid", "Invalid request"),
            NodeError::Refused(_) => (StatusCode::FORBIDDEN, "refused", "Refused by the rules"),
            NodeError::NotReady(_) => (StatusCode::CONFLICT, "not-ready", "Space still syncing"),
            NodeError::Timeout(_) => (StatusCode::GATEWAY_TIMEOUT, "timeout", "Timed out"),
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

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::BAD_REQUEST);
        let body = serde_json::to_vec(&self.0).unwrap_or_default();
        (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response()
    }
}

type ApiResult<T> = Result<T, ApiError>;

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

async fn require_token(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(t) if constant_time_eq(t.as_bytes(), state.token.as_bytes()) => next.run(req).await,
        Some(_) => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad-token",
            "Wrong token",
            "the bearer token is not this node's API token (see api.token in the node's home)",
        )
        .into_response(),
        None => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "no-token",
            "Token required",
            "send `Authorization: Bearer <token>`; the token is in api.token in the node's home",
        )
        .into_response(),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The API router for a node, requiring `token` as bearer token.
pub fn router(node: Handle, token: String) -> Router {
    let state = AppState { node, token };
    let authed = Router::new()
        .route("/v1/status", get(status))
        .route("/v1/spaces", get(list_spaces).post(create_space))
        .route("/v1/spaces/{id}", get(get_space))
        .route("/v1/spaces/{id}/join", post(join_space))
        .route("/v1/spaces/{id}/messages", get(timeline).post(post_message))
        .route(
            "/v1/spaces/{id}/messages/{message}",
            axum::routing::delete(delete_message),
        )
        .route("/v1/spaces/{id}/members", get(members))
        .route("/v1/spaces/{id}/members/{did}", axum::routing::delete(kick))
        .route(
            "/v1/spaces/{id}/members/{did}/role",
            axum::routing::put(set_role),
        )
        .route("/v1/spaces/{id}/invites", post(invite))
        .route("/v1/spaces/{id}/ratings", post(rate))
        .route(
            "/v1/spaces/{id}/requirements",
            axum::routing::put(set_requirements),
        )
        .route("/v1/spaces/{id}/credentials", post(issue_credential))
        .route("/v1/passport", get(list_credentials).post(hold_credential))
        .route("/v1/passport/verify", post(verify_any))
        .route("/v1/trust", get(trust).put(set_trust))
        .route("/v1/passport/{cid}", get(show_credential))
        .route("/v1/passport/{cid}/revoke", post(revoke_credential))
        .route("/v1/passport/{cid}/jwt", get(credential_jwt))
        .route("/v1/spaces/{id}/events", get(events))
        .route("/v1/spaces/{id}/export/document", get(export_document))
        .route("/v1/spaces/{id}/export/signatures", get(export_signatures))
        .route("/v1/import", post(import))
        .route("/v1/peers", post(add_peer))
        .route("/v1/faults/disconnect", post(disconnect))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .route("/v1/health", get(|| async { "ok" }))
        .merge(authed)
        .fallback(|| async {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "no-route",
                "No such endpoint",
                "see the API table in docs/operator.md",
            )
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

async fn status(State(s): State<AppState>) -> ApiResult<impl IntoResponse> {
    Ok(Json(s.node.status().await?))
}

async fn list_spaces(State(s): State<AppState>) -> ApiResult<impl IntoResponse> {
    Ok(Json(s.node.spaces().await?))
}

async fn create_space(
    State(s): State<AppState>,
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
    let space = s
        .node
        .create_space_with(&body.name, &body.purpose, visibility, ttl)
        .await?;
    Ok((StatusCode::CREATED, Json(space)))
}

fn invalid(detail: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid",
        "Invalid request",
        detail,
    )
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

async fn moderate(s: &AppState, id: &str, act: Act) -> ApiResult<Json<Done>> {
    let change = s.node.moderate(space_id(id)?, act).await?;
    Ok(Json(Done { change }))
}

async fn invite(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<InviteRequest>,
) -> ApiResult<Json<Done>> {
    let valid = body
        .expires_in_secs
        .map_or(DEFAULT_INVITE_VALIDITY, Duration::from_secs);
    moderate(&s, &id, Act::Invite(body.did, valid)).await
}

async fn set_role(
    State(s): State<AppState>,
    Path((id, did)): Path<(String, String)>,
    ApiJson(body): ApiJson<SetRole>,
) -> ApiResult<Json<Done>> {
    let role = Role::parse(&body.role)
        .ok_or_else(|| invalid("role must be one of admin, moderator, member, guest, banned"))?;
    moderate(&s, &id, Act::SetRole(did_param(&did)?, role)).await
}

async fn set_requirements(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Vec<tim_crdt::admission::Requirement>>,
) -> ApiResult<Json<Done>> {
    moderate(&s, &id, Act::SetRequirements(body)).await
}

async fn rate(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RateRequest>,
) -> ApiResult<Json<Done>> {
    moderate(&s, &id, Act::Rate(body.did, body.score)).await
}

async fn issue_credential(
    State(s): State<AppState>,
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
    let vc = s
        .node
        .issue_credential(
            space_id(&id)?,
            body.subject,
            kind,
            body.valid_for_secs.map(Duration::from_secs),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(vc)))
}

async fn list_credentials(State(s): State<AppState>) -> ApiResult<impl IntoResponse> {
    Ok(Json(s.node.credentials().await?))
}

async fn show_credential(
    State(s): State<AppState>,
    Path(cid): Path<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(s.node.credential(&cid).await?))
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

async fn verify_any(
    State(s): State<AppState>,
    ApiJson(doc): ApiJson<serde_json::Value>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(verify_report(&s.node, &doc, true).await?))
}

/// Keeps a credential after verifying it; refuses one that fails a check.
async fn hold_credential(
    State(s): State<AppState>,
    ApiJson(doc): ApiJson<serde_json::Value>,
) -> ApiResult<impl IntoResponse> {
    // Keeping a credential in one's own passport does not need this node to trust its issuer.
    let report = verify_report(&s.node, &doc, false).await?;
    if let Some(c) = report.checks.iter().find(|c| !c.ok) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "credential-refused",
            "Credential does not verify",
            format!("{}: {}", c.name, c.detail),
        ));
    }
    let id = s.node.hold_credential(doc).await?;
    Ok((StatusCode::CREATED, Json(serde_json::json!({ "id": id }))))
}

async fn credential_jwt(
    State(s): State<AppState>,
    Path(cid): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let jwt = s.node.credential_jwt(&cid).await?;
    Ok(([(header::CONTENT_TYPE, "application/vc-ld+jwt")], jwt))
}

async fn trust(State(s): State<AppState>) -> ApiResult<impl IntoResponse> {
    Ok(Json(s.node.trust().await?))
}

/// Sets an entry of the trust policy; a weight of 0 removes it.
async fn set_trust(
    State(s): State<AppState>,
    ApiJson(body): ApiJson<TrustEntry>,
) -> ApiResult<StatusCode> {
    let weight = (body.weight != 0.0).then_some(body.weight);
    s.node.set_trust(&body.issuer, weight).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn revoke_credential(
    State(s): State<AppState>,
    Path(cid): Path<String>,
) -> ApiResult<Json<Done>> {
    let change = s.node.revoke_credential(&cid).await?;
    Ok(Json(Done { change }))
}

async fn kick(
    State(s): State<AppState>,
    Path((id, did)): Path<(String, String)>,
) -> ApiResult<Json<Done>> {
    moderate(&s, &id, Act::Kick(did_param(&did)?)).await
}

async fn delete_message(
    State(s): State<AppState>,
    Path((id, message)): Path<(String, String)>,
) -> ApiResult<Json<Done>> {
    moderate(&s, &id, Act::DeleteMessage(message)).await
}

async fn get_space(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(s.node.space(space_id(&id)?).await?))
}

async fn join_space(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<JoinSpace>,
) -> ApiResult<impl IntoResponse> {
    let id = space_id(&id)?;
    let via = body
        .via
        .iter()
        .map(|a| multiaddr(a))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(Json(
        s.node
            .join_presenting(id, via, body.present, JOIN_TIMEOUT)
            .await?,
    ))
}

async fn timeline(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(s.node.timeline(space_id(&id)?).await?))
}

async fn post_message(
    State(s): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PostMessage>,
) -> ApiResult<impl IntoResponse> {
    let posted = s.node.post(space_id(&id)?, &body.text).await?;
    Ok((StatusCode::CREATED, Json(posted)))
}

async fn members(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(s.node.members(space_id(&id)?).await?))
}

async fn events(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let id = space_id(&id)?;
    match s.node.space(id).await {
        Ok(_) | Err(NodeError::NotReady(_)) => {}
        Err(e) => return Err(e.into()),
    }
    let stream = BroadcastStream::new(s.node.subscribe()).filter_map(move |e| match e {
        Ok(event) if event.space() == id => {
            Some(Ok(Event::default().json_data(&event).unwrap_or_default()))
        }
        Ok(_) => None,
        Err(lagged) => Some(Ok(Event::default()
            .event("lagged")
            .data(lagged.to_string()))),
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

async fn export_document(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let (doc, _) = s.node.export(space_id(&id)?).await?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], doc))
}

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

async fn import(State(s): State<AppState>, body: Bytes) -> ApiResult<impl IntoResponse> {
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

#[derive(Serialize, Deserialize)]
struct AddPeer {
    addr: String,
}

async fn add_peer(
    State(s): State<AppState>,
    ApiJson(body): ApiJson<AddPeer>,
) -> ApiResult<impl IntoResponse> {
    s.node.dial(multiaddr(&body.addr)?).await?;
    Ok(StatusCode::ACCEPTED)
}

async fn disconnect(State(s): State<AppState>) -> ApiResult<impl IntoResponse> {
    let n = s.node.disconnect_all().await?;
    Ok(Json(serde_json::json!({ "disconnected": n })))
}
