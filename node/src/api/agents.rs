//! Agents (docs/agents.md), all for the operator: make, list, show, pause, resume, tune,
//! remove, and read an agent's log, at once or live. `{agent}` is the agent's name or DID.

use std::convert::Infallible;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use axum::Json;
use futures::Stream;
use tim_protocol::api::{AgentLogEntry, AgentLogsQuery, AgentView, NewAgent, TuneAgent};
use tokio_stream::StreamExt as _;

use super::events::frame;
use super::extract::{Admin, ApiJson, ApiQuery, Id};
use super::problem::{ApiResult, Problems};
use crate::auth::Principal;
use crate::service::{Caller, Service};

/// Makes an agent: a new hosted timite that joins the given spaces as itself and runs its
/// persona (a shipped template's name, or a persona's TOML text). Answers its own DID.
#[utoipa::path(post, path = "/v1/agents", tag = "agents", request_body = NewAgent,
    responses((status = 201, body = AgentView), Problems))]
pub(super) async fn create(
    _: Admin,
    State(s): State<Service>,
    caller: Caller,
    ApiJson(body): ApiJson<NewAgent>,
) -> ApiResult<impl IntoResponse> {
    Ok((
        StatusCode::CREATED,
        Json(s.create_agent(&caller, &body).await?),
    ))
}

/// The agents this node runs.
#[utoipa::path(get, path = "/v1/agents", tag = "agents",
    responses((status = 200, body = [AgentView]), Problems))]
pub(super) async fn list(
    _: Admin,
    State(s): State<Service>,
    caller: Caller,
) -> ApiResult<Json<Vec<AgentView>>> {
    Ok(Json(s.list_agents(&caller).await?))
}

/// One agent: persona, tuning, spaces, budget use and status.
#[utoipa::path(get, path = "/v1/agents/{agent}", tag = "agents",
    params(("agent" = String, Path, description = "The agent's name or DID")),
    responses((status = 200, body = AgentView), Problems))]
pub(super) async fn show(
    _: Admin,
    State(s): State<Service>,
    caller: Caller,
    Id(agent): Id<String>,
) -> ApiResult<Json<AgentView>> {
    Ok(Json(s.agent(&caller, &agent).await?))
}

/// Changes an agent's tuning (the fields given); a running agent restarts with it.
#[utoipa::path(patch, path = "/v1/agents/{agent}", tag = "agents", request_body = TuneAgent,
    params(("agent" = String, Path, description = "The agent's name or DID")),
    responses((status = 200, body = AgentView), Problems))]
pub(super) async fn tune(
    _: Admin,
    State(s): State<Service>,
    caller: Caller,
    Id(agent): Id<String>,
    ApiJson(body): ApiJson<TuneAgent>,
) -> ApiResult<Json<AgentView>> {
    Ok(Json(s.tune_agent(&caller, &agent, &body).await?))
}

/// Removes an agent: it stops; its record, budget and log are deleted (its timite stays).
#[utoipa::path(delete, path = "/v1/agents/{agent}", tag = "agents",
    params(("agent" = String, Path, description = "The agent's name or DID")),
    responses((status = 200, body = AgentView), Problems))]
pub(super) async fn remove(
    _: Admin,
    State(s): State<Service>,
    caller: Caller,
    Id(agent): Id<String>,
) -> ApiResult<Json<AgentView>> {
    Ok(Json(s.remove_agent(&caller, &agent).await?))
}

/// Pauses an agent: once this answers, it writes nothing until resumed.
#[utoipa::path(post, path = "/v1/agents/{agent}/pause", tag = "agents",
    params(("agent" = String, Path, description = "The agent's name or DID")),
    responses((status = 200, body = AgentView), Problems))]
pub(super) async fn pause(
    _: Admin,
    State(s): State<Service>,
    caller: Caller,
    Id(agent): Id<String>,
) -> ApiResult<Json<AgentView>> {
    Ok(Json(s.pause_agent(&caller, &agent).await?))
}

/// Resumes a paused agent.
#[utoipa::path(post, path = "/v1/agents/{agent}/resume", tag = "agents",
    params(("agent" = String, Path, description = "The agent's name or DID")),
    responses((status = 200, body = AgentView), Problems))]
pub(super) async fn resume(
    _: Admin,
    State(s): State<Service>,
    caller: Caller,
    Id(agent): Id<String>,
) -> ApiResult<Json<AgentView>> {
    Ok(Json(s.resume_agent(&caller, &agent).await?))
}

/// An agent's log, oldest first: what it did or refused, and when (the newest 500 are kept).
#[utoipa::path(get, path = "/v1/agents/{agent}/logs", tag = "agents",
    params(("agent" = String, Path, description = "The agent's name or DID"), AgentLogsQuery),
    responses((status = 200, body = [AgentLogEntry]), Problems))]
pub(super) async fn logs(
    _: Admin,
    State(s): State<Service>,
    caller: Caller,
    Id(agent): Id<String>,
    ApiQuery(query): ApiQuery<AgentLogsQuery>,
) -> ApiResult<Json<Vec<AgentLogEntry>>> {
    Ok(Json(s.agent_logs(&caller, &agent, query).await?))
}

/// An agent's log entries as they come (server-sent events; `data` is a JSON
/// [`AgentLogEntry`]; `event: lagged` says how many were missed). Counts towards the 16 open
/// streams per token.
#[utoipa::path(get, path = "/v1/agents/{agent}/logs/events", tag = "agents",
    params(("agent" = String, Path, description = "The agent's name or DID")),
    responses((status = 200, description = "An endless event stream", body = AgentLogEntry,
               content_type = "text/event-stream"), Problems))]
pub(super) async fn log_events(
    _: Admin,
    State(s): State<Service>,
    axum::Extension(p): axum::Extension<Principal>,
    Id(agent): Id<String>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let events = s.agent_log_events(&Caller::from(&p), &agent).await?;
    let slot = s.auth().open_stream(&p)?;
    let stream = events.map(move |e| {
        let _open = &slot;
        Ok(frame(e))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
