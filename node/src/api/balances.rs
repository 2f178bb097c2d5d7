//! Contribution tokens of a space (docs/governance.md "Tokens"): its balances and one
//! timite's ledger. Tokens are spent as a request's `reward` (`POST
//! /v1/spaces/{id}/requests`); nothing here writes.

use axum::extract::State;
use axum::Json;
use tim_protocol::api::{Done, TokenBalances, TokenPolicyView, TokensQuery};
use tim_protocol::SpaceId;

use super::extract::{ApiJson, ApiQuery, Id};
use super::problem::{ApiResult, Problems};
use crate::service::{Caller, Service};

/// The space's token balances, folded from its document (the same on every node at the same
/// heads), with the policy that folded them; with `?did=`, that timite's ledger lines.
#[utoipa::path(get, path = "/v1/spaces/{id}/tokens", tag = "abilities",
    params(("id" = String, Path, description = "Space id"), TokensQuery),
    responses((status = 200, body = TokenBalances), Problems))]
pub(super) async fn tokens(
    State(s): State<Service>,
    caller: Caller,
    Id(id): Id<SpaceId>,
    ApiQuery(query): ApiQuery<TokensQuery>,
) -> ApiResult<Json<TokenBalances>> {
    Ok(Json(s.token_balances(&caller, id, query).await?))
}

/// Sets the space's token policy (`meta.tokens`) as the timite: an admin or the owner, in a
/// space at schema version 9 (members change it by a passed proposal). Every balance is
/// folded again with it.
#[utoipa::path(put, path = "/v1/spaces/{id}/tokens/policy", tag = "abilities",
    request_body = TokenPolicyView, params(("id" = String, Path, description = "Space id")),
    responses((status = 200, body = Done), Problems))]
pub(super) async fn set_policy(
    State(s): State<Service>,
    caller: Caller,
    Id(id): Id<SpaceId>,
    ApiJson(body): ApiJson<TokenPolicyView>,
) -> ApiResult<Json<Done>> {
    let change = s.set_token_policy(&caller, id, body).await?;
    Ok(Json(Done { change }))
}
