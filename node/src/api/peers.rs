//! The node's peers (operator): dialling one, and closing every connection (testnet fault
//! injection).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{Admin, ApiJson};
use super::problem::{ApiResult, Problems};
use crate::service::{Caller, Service};

/// Body of `POST /v1/peers`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(super) struct AddPeer {
    /// A multiaddr ending in `/p2p/<peer id>`.
    addr: String,
}

/// Dials a peer (operator).
#[utoipa::path(post, path = "/v1/peers", tag = "node", request_body = AddPeer,
    responses((status = 202, description = "Dialling"), Problems))]
pub(super) async fn add_peer(
    _: Admin,
    State(s): State<Service>,
    caller: Caller,
    ApiJson(body): ApiJson<AddPeer>,
) -> ApiResult<StatusCode> {
    s.dial(&caller, &body.addr).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Answer of a fault injection.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(super) struct Disconnected {
    /// Connections closed.
    disconnected: usize,
}

/// Closes every connection; remembered peers are redialled later (testnet fault injection,
/// operator).
#[utoipa::path(post, path = "/v1/faults/disconnect", tag = "node",
    responses((status = 200, body = Disconnected), Problems))]
pub(super) async fn disconnect(
    _: Admin,
    State(s): State<Service>,
    caller: Caller,
) -> ApiResult<Json<Disconnected>> {
    Ok(Json(Disconnected {
        disconnected: s.disconnect_all(&caller).await?,
    }))
}
