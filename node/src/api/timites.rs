//! The timites a node hosts (operator).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use tim_protocol::api::TimiteView;

use super::extract::Admin;
use super::problem::{ApiResult, Problems};
use crate::service::{Caller, Service};

/// The timites this node hosts (operator).
#[utoipa::path(get, path = "/v1/timites", tag = "auth",
    responses((status = 200, body = [TimiteView]), Problems))]
pub(super) async fn list_timites(
    _: Admin,
    State(s): State<Service>,
    caller: Caller,
) -> ApiResult<Json<Vec<TimiteView>>> {
    Ok(Json(s.timites(&caller).await?))
}

/// Makes a new hosted timite with a fresh key (operator).
#[utoipa::path(post, path = "/v1/timites", tag = "auth",
    responses((status = 201, body = TimiteView), Problems))]
pub(super) async fn add_timite(
    _: Admin,
    State(s): State<Service>,
    caller: Caller,
) -> ApiResult<impl IntoResponse> {
    Ok((StatusCode::CREATED, Json(s.add_timite(&caller).await?)))
}
