//! The node's own routes: health, status, metrics and the OpenAPI document. (The web page's
//! routes are in `crate::web`.)

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::{Json, Router};
use tim_protocol::api::NodeStatus;

use super::extract::Admin;
use super::problem::{ApiResult, Problems};
use crate::service::{Caller, Service};

/// Always `ok`: the node's API is up.
#[utoipa::path(get, path = "/v1/health", tag = "node", security(()),
    responses((status = 200, description = "The API is up", body = String, content_type = "text/plain")))]
pub(super) async fn health() -> &'static str {
    "ok"
}

/// Who and where this node is.
#[utoipa::path(get, path = "/v1/status", tag = "node",
    responses((status = 200, body = NodeStatus), Problems))]
pub(super) async fn status(
    State(s): State<Service>,
    caller: Caller,
) -> ApiResult<Json<NodeStatus>> {
    Ok(Json(s.status(&caller).await?))
}

/// The node's metrics (OpenMetrics text; operator): its own counters, bytes on the wire,
/// gossipsub message counts including duplicates, mesh sizes and peer scores, summed over
/// spaces (no label names a space or a timite).
#[utoipa::path(get, path = "/metrics", tag = "node",
    responses((status = 200, body = String,
               content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8"),
              Problems))]
pub(super) async fn metrics(_: Admin, State(s): State<Service>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics(),
    )
}

/// `GET /openapi.json`: the description of every route above, rendered once.
pub(super) fn openapi_route(doc: &utoipa::openapi::OpenApi) -> Router<Service> {
    let doc = Arc::new(doc.to_pretty_json().unwrap_or_default());
    Router::new().route(
        "/openapi.json",
        axum::routing::get(move || {
            let doc = doc.clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], (*doc).clone()) }
        }),
    )
}
