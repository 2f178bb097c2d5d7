//! Agents' memory (docs/agents.md "Memory"), for the operator only: read an agent's entries,
//! or erase them for real (gone from the node's store, on disk, before the answer).
//! `{agent}` is the agent's name or DID.

use axum::extract::State;
use axum::Json;
use tim_protocol::api::{Forgotten, MemoryEntry, MemoryQuery};

use super::extract::{Admin, ApiQuery, Id};
use super::problem::{ApiResult, Problems};
use crate::service::{Caller, Service};

/// An agent's memory entries (of one space, one layer), the newest `limit`, oldest first.
#[utoipa::path(get, path = "/v1/agents/{agent}/memory", tag = "agents",
    params(("agent" = String, Path, description = "The agent's name or DID"), MemoryQuery),
    responses((status = 200, body = [MemoryEntry]), Problems))]
pub(super) async fn show(
    State(s): State<Service>,
    _: Admin,
    caller: Caller,
    Id(agent): Id<String>,
    ApiQuery(query): ApiQuery<MemoryQuery>,
) -> ApiResult<Json<Vec<MemoryEntry>>> {
    Ok(Json(s.memory(&caller, &agent, query).await?))
}

/// Erases an agent's memory (of one space, one layer; `limit` is ignored): answers how many
/// entries went, once they are gone from the store on disk.
#[utoipa::path(delete, path = "/v1/agents/{agent}/memory", tag = "agents",
    params(("agent" = String, Path, description = "The agent's name or DID"), MemoryQuery),
    responses((status = 200, body = Forgotten), Problems))]
pub(super) async fn forget(
    State(s): State<Service>,
    _: Admin,
    caller: Caller,
    Id(agent): Id<String>,
    ApiQuery(query): ApiQuery<MemoryQuery>,
) -> ApiResult<Json<Forgotten>> {
    let erased = s
        .forget_memory(&caller, &agent, query.space, query.layer)
        .await?;
    Ok(Json(Forgotten { erased }))
}
