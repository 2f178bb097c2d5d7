//! Signing in and tokens: a challenge to sign, the login that answers a token, who a token
//! acts as, and the tokens of the node (the operator's) or of one timite.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::{Deserialize, Serialize};
use tim_protocol::api::{Challenge, ChallengeRequest, Login, Me, NewToken, TokenInfo, TokenIssued};
use utoipa::ToSchema;

use super::extract::{ApiJson, Id};
use super::problem::{ApiResult, Problems};
use crate::auth::Principal;
use crate::service::{Caller, Service};

/// A sign-in challenge for a hosted timite: sign `tim/auth/v1\0` + node DID + `\0` +
/// challenge with its key, then `POST /v1/auth/login`.
#[utoipa::path(post, path = "/v1/auth/challenge", tag = "auth", security(()),
    request_body = ChallengeRequest,
    responses((status = 201, body = Challenge), Problems))]
pub(super) async fn challenge(
    State(s): State<Service>,
    ApiJson(body): ApiJson<ChallengeRequest>,
) -> ApiResult<impl IntoResponse> {
    Ok((StatusCode::CREATED, Json(s.challenge(body.did).await?)))
}

/// Signs in with a signed challenge; answers a token valid for 24 hours.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", security(()),
    request_body = Login,
    responses((status = 201, body = TokenIssued), Problems))]
pub(super) async fn login(
    State(s): State<Service>,
    ApiJson(body): ApiJson<Login>,
) -> ApiResult<impl IntoResponse> {
    Ok((StatusCode::CREATED, Json(s.login(&body).await?)))
}

/// Who the token acts as.
#[utoipa::path(get, path = "/v1/me", tag = "auth", responses((status = 200, body = Me), Problems))]
pub(super) async fn me(axum::Extension(p): axum::Extension<Principal>) -> Json<Me> {
    Json(Me {
        did: p.did,
        admin: p.admin,
        token_id: p.token_id,
    })
}

/// Live tokens: all of them for the operator, one's own otherwise.
#[utoipa::path(get, path = "/v1/tokens", tag = "auth",
    responses((status = 200, body = [TokenInfo]), Problems))]
pub(super) async fn list_tokens(
    State(s): State<Service>,
    caller: Caller,
) -> ApiResult<Json<Vec<TokenInfo>>> {
    Ok(Json(s.tokens(&caller)?))
}

/// Makes a token for a hosted timite (the operator for anyone; a timite for itself). The
/// secret is in this answer only.
#[utoipa::path(post, path = "/v1/tokens", tag = "auth", request_body = NewToken,
    responses((status = 201, body = TokenIssued), Problems))]
pub(super) async fn new_token(
    State(s): State<Service>,
    caller: Caller,
    ApiJson(body): ApiJson<NewToken>,
) -> ApiResult<impl IntoResponse> {
    Ok((
        StatusCode::CREATED,
        Json(s.new_token(&caller, &body).await?),
    ))
}

/// Answer of a revocation.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(super) struct Revoked {
    /// The revoked token's id.
    revoked: String,
}

/// Revokes a token (the operator any; a timite its own).
#[utoipa::path(delete, path = "/v1/tokens/{id}", tag = "auth",
    params(("id" = String, Path, description = "Token id")),
    responses((status = 200, body = Revoked), Problems))]
pub(super) async fn revoke_token(
    State(s): State<Service>,
    caller: Caller,
    Id(id): Id<String>,
) -> ApiResult<Json<Revoked>> {
    s.revoke_token(&caller, &id).await?;
    Ok(Json(Revoked { revoked: id }))
}
