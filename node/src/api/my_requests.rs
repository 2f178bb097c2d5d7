//! The requests that concern the token's timite across the spaces it reads
//! (docs/abilities.md §15); their live stream is in `events`.

use axum::extract::State;
use axum::Json;
use tim_protocol::api::{MyRequestsQuery, SpaceRequest};

use super::extract::ApiQuery;
use super::problem::{ApiResult, Problems};
use crate::service::{Caller, Service};

/// The requests the timite is asked to do (its target, an `auto` candidate, a claimant) or
/// asked for, in every space it reads, newest first.
#[utoipa::path(get, path = "/v1/requests", tag = "abilities",
    params(MyRequestsQuery),
    responses((status = 200, body = [SpaceRequest]), Problems))]
pub(super) async fn list(
    State(s): State<Service>,
    caller: Caller,
    ApiQuery(query): ApiQuery<MyRequestsQuery>,
) -> ApiResult<Json<Vec<SpaceRequest>>> {
    Ok(Json(s.my_requests(&caller, query).await?))
}
