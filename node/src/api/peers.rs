//! The node's peers (operator): dialling one, the gossipsub mesh of a space, and two faults
//! for testnets: closing every connection, and flooding a space with invalid changes.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use tim_protocol::api::GossipPeers;
use tim_protocol::SpaceId;

use super::extract::{Admin, ApiJson, Id};
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

/// The node's gossipsub mesh and known subscribers for a space's topic (operator): what
/// `/metrics`, which names no space, does not break down.
#[utoipa::path(get, path = "/v1/peers/gossip/{id}", tag = "node",
    params(("id" = String, Path, description = "Space id")),
    responses((status = 200, body = GossipPeers), Problems))]
pub(super) async fn gossip_peers(
    _: Admin,
    State(s): State<Service>,
    Id(id): Id<SpaceId>,
) -> ApiResult<Json<GossipPeers>> {
    Ok(Json(s.node().gossip_peers(id).await?))
}

/// Body of `POST /v1/faults/flood`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub(super) struct Flood {
    /// The space whose topic is flooded.
    space: SpaceId,
    /// Invalid messages to publish.
    count: u32,
    /// Messages per second.
    per_sec: f64,
}

/// Most messages one flood publishes.
const MAX_FLOOD: u32 = 1_000_000;

/// Publishes `count` invalid changes (bytes that are no envelope, each different) on a space's
/// topic at `per_sec`, without any check: the node plays a flooding peer (testnet fault
/// injection, operator). Answers at once; the flood runs in the background and stops early if
/// the node stops.
#[utoipa::path(post, path = "/v1/faults/flood", tag = "node", request_body = Flood,
    responses((status = 202, description = "Flooding"), Problems))]
pub(super) async fn flood(
    _: Admin,
    State(s): State<Service>,
    ApiJson(body): ApiJson<Flood>,
) -> ApiResult<StatusCode> {
    if body.count > MAX_FLOOD || !(body.per_sec > 0.0 && body.per_sec <= 1e6) {
        return Err(crate::NodeError::Invalid(format!(
            "a flood is at most {MAX_FLOOD} messages at 0 to 1e6 per second"
        ))
        .into());
    }
    let node = s.node().clone();
    let nonce: u64 = rand::random();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs_f64(1.0 / body.per_sec));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        for i in 0..body.count {
            every.tick().await;
            // CBOR that is no envelope (a map where an envelope's array is expected).
            let mut junk = b"\xa1\x00".to_vec();
            junk.extend(format!("flood {nonce:x} {i}").bytes());
            // Other errors (peers that dropped the flooder: nobody to publish to) keep the pace.
            if let Err(crate::NodeError::Gone) = node.publish_raw(body.space, junk).await {
                return;
            }
        }
    });
    Ok(StatusCode::ACCEPTED)
}
