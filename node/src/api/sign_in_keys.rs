//! Sign-in keys: the did:key keys a hosted timite allows to sign in as it (the operator for
//! any hosted timite, a token for its own timite).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use tim_protocol::api::{NewSignInKey, SignInKey, SignInKeyRemoved};
use tim_protocol::Did;

use super::extract::{ApiJson, Id, Ids};
use super::problem::{ApiResult, Problems};
use crate::service::{Caller, Service};

/// The keys allowed to sign in as a timite, oldest first.
#[utoipa::path(get, path = "/v1/timites/{did}/keys", tag = "auth",
    params(("did" = String, Path, description = "A hosted timite's DID")),
    responses((status = 200, body = [SignInKey]), Problems))]
pub(super) async fn list(
    State(s): State<Service>,
    caller: Caller,
    Id(did): Id<Did>,
) -> ApiResult<Json<Vec<SignInKey>>> {
    Ok(Json(s.sign_in_keys(&caller, did).await?))
}

/// Allows a did:key to sign in as the timite (`POST /v1/auth/login` with `key`).
#[utoipa::path(post, path = "/v1/timites/{did}/keys", tag = "auth",
    request_body = NewSignInKey,
    params(("did" = String, Path, description = "A hosted timite's DID")),
    responses((status = 201, body = SignInKey), Problems))]
pub(super) async fn add(
    State(s): State<Service>,
    caller: Caller,
    Id(did): Id<Did>,
    ApiJson(body): ApiJson<NewSignInKey>,
) -> ApiResult<impl IntoResponse> {
    Ok((
        StatusCode::CREATED,
        Json(s.add_sign_in_key(&caller, did, &body).await?),
    ))
}

/// Stops a key signing in as the timite and revokes the tokens it signed in for.
#[utoipa::path(delete, path = "/v1/timites/{did}/keys/{key}", tag = "auth",
    params(("did" = String, Path, description = "A hosted timite's DID"),
           ("key" = String, Path, description = "The sign-in key (did:key)")),
    responses((status = 200, body = SignInKeyRemoved), Problems))]
pub(super) async fn remove(
    State(s): State<Service>,
    caller: Caller,
    Ids(did, key): Ids<Did, Did>,
) -> ApiResult<Json<SignInKeyRemoved>> {
    let revoked_tokens = s.remove_sign_in_key(&caller, did, key).await?;
    Ok(Json(SignInKeyRemoved {
        removed: key,
        revoked_tokens,
    }))
}
