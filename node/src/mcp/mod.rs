//! The node's MCP server (Model Context Protocol, through rmcp, the official Rust SDK): LLM
//! clients act as a timite through it (docs/mcp.md).
//!
//! **One server, every transport.** [`http_service`] is the streamable HTTP transport as a
//! tower service, which the API serves at `/mcp` behind the same bearer token as every other
//! route (`crate::api`); `tim mcp` on stdio forwards each JSON-RPC message to it with the
//! home's token rather than running a second server, so tools, resources and prompts exist
//! once.
//!
//! **Who acts.** Every tool, resource and prompt acts as the request's token: the token's
//! timite is the [`Caller`] of the same [`Service`] use cases the HTTP API calls, so every
//! write goes through the same gate and the space's rules judge it under that timite's key
//! (the operator's token acts as the node's first timite, without any rights of the operator
//! here: no tool manages the node).
//!
//! **Stateless.** The server keeps no session: each POST is answered on its own (JSON, or an
//! event stream when a handler sends a notification first), so the node holds nothing per MCP
//! client between requests. Browsers' requests from an origin other than a loopback one are
//! refused (DNS rebinding); other clients send no `Origin` and are judged by their token.
//!
//! **Errors.** A refusal (the space's rules, an unknown space or request, another timite's
//! resource) is a tool result with `isError: true` and the reason as text, which the model
//! reads; arguments that parse but name nothing or are out of bounds (a space no id, prefix
//! or name matches, a bad cursor, a limit or wait too large) are JSON-RPC `invalid params`
//! errors; arguments that do not fit a tool's input schema are a tool error, as rmcp answers
//! them (the model can correct itself); a failing store is an internal error.

mod prompts;
mod resources;
mod server;
mod tools;

use std::sync::Arc;
use std::time::Duration;

use axum::http::request::Parts;
use rmcp::model::{CallToolResult, ContentBlock};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::ErrorData as McpError;
use serde::Serialize;
use tim_protocol::SpaceId;

use crate::auth::Principal;
use crate::service::{Caller, Service, ServiceError};
use crate::NodeError;
pub(crate) use server::TimMcp;

/// Longest a tool call may wait for a request's outcome (`wait_seconds`).
const MAX_WAIT: Duration = Duration::from_secs(120);

/// Fewest hex digits of a space id that name it by prefix.
const MIN_SHORT_ID: usize = 8;

/// Browser origins allowed to call `/mcp` (any port): loopback pages only.
const LOOPBACK_ORIGINS: [&str; 3] = ["http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*"];

/// The streamable HTTP transport of the MCP server over `service`, stateless, answering in
/// JSON when it can, with bodies of at most `max_body` bytes. It expects each request to carry
/// the [`Principal`] its token authenticated (the API's token check puts it there).
pub(crate) fn http_service(
    service: Service,
    max_body: usize,
) -> StreamableHttpService<TimMcp, NeverSessionManager> {
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_max_request_body_bytes(max_body)
        // The bearer token, which a rebinding page cannot attach, guards every host name the
        // node is reached by; the Origin check refuses other sites' pages outright.
        .disable_allowed_hosts()
        .with_allowed_origins(LOOPBACK_ORIGINS);
    let server = TimMcp::new(service);
    StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(NeverSessionManager::default()),
        config,
    )
}

/// Who a request's token acts as (the API's token check put it in the request).
fn principal(parts: &Parts) -> Result<Principal, McpError> {
    parts
        .extensions
        .get::<Principal>()
        .cloned()
        // Only reachable if the route lost its token check: refuse rather than act as anyone.
        .ok_or_else(|| {
            McpError::invalid_request("the request carries no authenticated token", None)
        })
}

/// The caller a request's token acts as.
fn caller(parts: &Parts) -> Result<Caller, McpError> {
    principal(parts).map(|p| Caller::from(&p))
}

/// A use case's answer as a tool result: its JSON as structured content (and as text), or
/// its refusal as an error result the model reads.
fn outcome<T: Serialize>(answer: Result<T, ServiceError>) -> Result<CallToolResult, McpError> {
    match answer {
        Ok(value) => serde_json::to_value(value)
            .map(CallToolResult::structured)
            .map_err(|e| McpError::internal_error(format!("cannot encode the answer: {e}"), None)),
        Err(e) => refusal(e),
    }
}

/// A failed use case: a tool error result for a refusal, a protocol error for bad arguments
/// or a failing node.
fn refusal(e: ServiceError) -> Result<CallToolResult, McpError> {
    match protocol_error(&e) {
        Some(err) => Err(err),
        None => Ok(CallToolResult::error(vec![ContentBlock::text(
            e.to_string(),
        )])),
    }
}

/// The protocol error a failed use case is, if it is one: bad arguments (`invalid params`) or
/// a failing node (`internal error`). Anything else is a refusal.
fn protocol_error(e: &ServiceError) -> Option<McpError> {
    let text = e.to_string();
    match e {
        ServiceError::Node(NodeError::Invalid(_) | NodeError::UnknownMessage(_))
        | ServiceError::InvalidPage(_)
        | ServiceError::InvalidVisibility(_)
        | ServiceError::InvalidAddress { .. }
        | ServiceError::MalformedBundle(_) => Some(McpError::invalid_params(text, None)),
        ServiceError::Node(NodeError::Storage(_) | NodeError::Gone) => {
            Some(McpError::internal_error(text, None))
        }
        _ => None,
    }
}

/// The error of a resource or prompt that cannot be given: not found, bad arguments, or the
/// refusal's text.
fn read_error(e: ServiceError) -> McpError {
    match &e {
        ServiceError::Node(
            NodeError::UnknownSpace(_) | NodeError::NotFound(_) | NodeError::Expired(_),
        ) => McpError::resource_not_found(e.to_string(), None),
        _ => protocol_error(&e).unwrap_or_else(|| McpError::invalid_request(e.to_string(), None)),
    }
}

/// The space `name` names for `caller`: a space id, a unique prefix of one (at least
/// [`MIN_SHORT_ID`] hex digits), or the exact name of exactly one space it reads.
async fn resolve_space(
    service: &Service,
    caller: &Caller,
    name: &str,
) -> Result<SpaceId, McpError> {
    let name = name.trim();
    if let Ok(id) = name.parse() {
        return Ok(id);
    }
    let spaces = service.spaces(caller).await.map_err(read_error)?;
    let short = name.len() >= MIN_SHORT_ID && name.bytes().all(|b| b.is_ascii_hexdigit());
    let found: Vec<_> = spaces
        .iter()
        .filter(|s| s.name == name || (short && s.id.to_string().starts_with(name)))
        .collect();
    match found.as_slice() {
        [one] => Ok(one.id),
        [] => Err(McpError::invalid_params(
            format!(
                "`{name}` names no space this timite reads: give a space id, at least \
                 {MIN_SHORT_ID} of its first hex digits, or its exact name (list_spaces lists them)"
            ),
            None,
        )),
        many => Err(McpError::invalid_params(
            format!(
                "`{name}` names {} spaces ({}): give the id",
                many.len(),
                many.iter()
                    .map(|s| s.id.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None,
        )),
    }
}

/// Parses an argument (`what` names it in the error).
fn parse_arg<T: std::str::FromStr>(raw: &str, what: &str) -> Result<T, McpError>
where
    T::Err: std::fmt::Display,
{
    raw.trim()
        .parse()
        .map_err(|e| McpError::invalid_params(format!("`{raw}` is not {what}: {e}"), None))
}
