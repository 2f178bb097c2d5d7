//! Passports: issuing credentials in a space's name, the timite's own credentials (keep,
//! show, JWT form, revoke), verifying any credential or presentation, and the node's trust
//! policy.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use tim_protocol::api::{CredentialsQuery, Done, IssueRequest, TrustEntry, VerifyReport};
use tim_protocol::{CredentialId, SpaceId};
use utoipa::ToSchema;

use super::extract::{Admin, ApiJson, ApiQuery, Id};
use super::listed;
use super::problem::{ApiResult, Problems};
use crate::service::{Caller, Service};

/// Issues a credential in the space's name (admins): membership, reputation or ability.
#[utoipa::path(post, path = "/v1/spaces/{id}/credentials", tag = "passport",
    request_body = IssueRequest, params(("id" = String, Path, description = "Space id")),
    responses((status = 201, description = "The W3C verifiable credential", body = Object), Problems))]
pub(super) async fn issue_credential(
    State(s): State<Service>,
    caller: Caller,
    Id(id): Id<SpaceId>,
    ApiJson(body): ApiJson<IssueRequest>,
) -> ApiResult<impl IntoResponse> {
    let vc = s.issue_credential(&caller, id, &body).await?;
    Ok((StatusCode::CREATED, Json(vc)))
}

/// The timite's passport: credentials about it, and those it issued, sorted by id, a page at
/// a time.
#[utoipa::path(get, path = "/v1/passport", tag = "passport", params(CredentialsQuery),
    responses((status = 200, description = "W3C verifiable credentials", body = [Object],
        headers(("Link" = String,
            description = "`<…?after=…>; rel=\"next\"`: the next page, absent on the last"))),
        Problems))]
pub(super) async fn list_credentials(
    State(s): State<Service>,
    caller: Caller,
    ApiQuery(query): ApiQuery<CredentialsQuery>,
) -> ApiResult<Response> {
    let page = s.credentials(&caller, &query).await?;
    Ok(listed(page, "/v1/passport", query.limit))
}

/// One credential of the timite's passport.
#[utoipa::path(get, path = "/v1/passport/{cid}", tag = "passport",
    params(("cid" = String, Path, description = "Credential id")),
    responses((status = 200, description = "The credential", body = Object), Problems))]
pub(super) async fn show_credential(
    State(s): State<Service>,
    caller: Caller,
    Id(cid): Id<CredentialId>,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(s.credential(&caller, &cid).await?))
}

/// Verifies a credential or presentation and reports each check.
#[utoipa::path(post, path = "/v1/passport/verify", tag = "passport",
    request_body(content = Object, description = "A credential or presentation (JSON-LD)"),
    responses((status = 200, body = VerifyReport), Problems))]
pub(super) async fn verify_any(
    State(s): State<Service>,
    ApiJson(doc): ApiJson<serde_json::Value>,
) -> ApiResult<Json<VerifyReport>> {
    Ok(Json(s.verify(&doc).await?))
}

/// Answer of keeping a credential.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(super) struct Held {
    /// The credential's id.
    id: String,
}

/// Keeps a credential about the timite after verifying it; refuses one that fails a check.
#[utoipa::path(post, path = "/v1/passport", tag = "passport",
    request_body(content = Object, description = "A credential (JSON-LD)"),
    responses((status = 201, body = Held), Problems))]
pub(super) async fn hold_credential(
    State(s): State<Service>,
    caller: Caller,
    ApiJson(doc): ApiJson<serde_json::Value>,
) -> ApiResult<impl IntoResponse> {
    let id = s.hold_credential(&caller, doc).await?;
    Ok((StatusCode::CREATED, Json(Held { id: id.to_string() })))
}

/// The VC-JOSE JWT form of a credential the timite issued.
#[utoipa::path(get, path = "/v1/passport/{cid}/jwt", tag = "passport",
    params(("cid" = String, Path, description = "Credential id")),
    responses((status = 200, body = String, content_type = "application/vc-ld+jwt"), Problems))]
pub(super) async fn credential_jwt(
    State(s): State<Service>,
    caller: Caller,
    Id(cid): Id<CredentialId>,
) -> ApiResult<impl IntoResponse> {
    let jwt = s.credential_jwt(&caller, &cid).await?;
    Ok(([(header::CONTENT_TYPE, "application/vc-ld+jwt")], jwt))
}

/// Revokes a credential (an admin of the issuing space).
#[utoipa::path(post, path = "/v1/passport/{cid}/revoke", tag = "passport",
    params(("cid" = String, Path, description = "Credential id")),
    responses((status = 200, body = Done), Problems))]
pub(super) async fn revoke_credential(
    State(s): State<Service>,
    caller: Caller,
    Id(cid): Id<CredentialId>,
) -> ApiResult<Json<Done>> {
    let change = s.revoke_credential(&caller, &cid).await?;
    Ok(Json(Done { change }))
}

/// The node's trust policy.
#[utoipa::path(get, path = "/v1/trust", tag = "passport",
    responses((status = 200, body = [TrustEntry]), Problems))]
pub(super) async fn trust(
    State(s): State<Service>,
    caller: Caller,
) -> ApiResult<Json<Vec<TrustEntry>>> {
    Ok(Json(s.trust(&caller).await?))
}

/// Sets an entry of the trust policy; a weight of 0 removes it (operator).
#[utoipa::path(put, path = "/v1/trust", tag = "passport", request_body = TrustEntry,
    responses((status = 204, description = "Set"), Problems))]
pub(super) async fn set_trust(
    _: Admin,
    State(s): State<Service>,
    caller: Caller,
    ApiJson(body): ApiJson<TrustEntry>,
) -> ApiResult<StatusCode> {
    s.set_trust(&caller, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}
