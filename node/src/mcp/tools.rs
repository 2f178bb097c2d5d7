//! The MCP tools: each takes its arguments (with a JSON schema, from the types below), resolves
//! the space they name, and calls one [`Service`] use case as the token's timite.

use std::time::Duration;

use axum::http::request::Parts;
use futures::StreamExt as _;
use rmcp::handler::server::tool::Extension;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router, ErrorData as McpError};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};
use tim_protocol::api::{
    AbilityRequest, AbilitySearchQuery, MembersQuery, MyRequestsQuery, NewRequest, RequestRole,
    RequestStateName, TimelineQuery,
};
use tim_protocol::{Did, MessageId, SpaceId};
use tokio::time::Instant;

use super::{caller, outcome, parse_arg, principal, refusal, resolve_space, TimMcp, MAX_WAIT};
use crate::auth::Principal;
use crate::service::{Caller, Service, ServiceResult};

/// `read`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(super) struct ReadArgs {
    /// The space: its id, at least 8 of its first hex digits, or its exact name.
    space: String,
    /// How many messages, 1 to 500 (default 50).
    #[serde(default)]
    limit: Option<usize>,
    /// The messages just older than this message id (a page's `next_before`).
    #[serde(default)]
    before: Option<String>,
    /// The messages just newer than this message id (a page's `next_after`, or the newest
    /// message already read).
    #[serde(default)]
    after: Option<String>,
}

/// `post`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(super) struct PostArgs {
    /// The space: its id, at least 8 of its first hex digits, or its exact name.
    space: String,
    /// The message.
    text: String,
}

/// `members`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(super) struct MembersArgs {
    /// The space: its id, at least 8 of its first hex digits, or its exact name.
    space: String,
    /// How many members, 1 to 1000 (default 1000).
    #[serde(default)]
    limit: Option<usize>,
    /// The members whose DIDs sort after this one (the previous page's `next_after`).
    #[serde(default)]
    after: Option<String>,
}

/// `search_abilities`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(super) struct SearchArgs {
    /// Words to look for in abilities' names and descriptions; empty lists every ability.
    #[serde(default)]
    query: String,
    /// Only this space (its id, short id or name); absent: every space the timite reads.
    #[serde(default)]
    space: Option<String>,
    /// Also search the network: providers in public spaces this node does not host, with the
    /// address of a node to join through.
    #[serde(default)]
    network: bool,
}

/// `invoke`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(super) struct InvokeArgs {
    /// The space the ability is declared in: its id, short id or exact name.
    space: String,
    /// The ability's name, e.g. `text.summarize`.
    ability: String,
    /// The input, valid against the ability's input schema (default `{}`).
    #[serde(default = "empty_object")]
    input: Value,
    /// The provider's DID; absent: the providers the space ranks first, in turn.
    #[serde(default)]
    provider: Option<String>,
    /// How long the request stays open, in seconds (default 600, at most 30 days).
    #[serde(default)]
    timeout_secs: Option<u64>,
    /// Tokens held from the caller's balance and paid to whoever completes it (at least the
    /// provider's price; schema version 9).
    #[serde(default)]
    reward: Option<u64>,
    /// Wait up to this many seconds (at most 120) for the outcome before answering.
    #[serde(default)]
    wait_seconds: Option<u64>,
}

fn empty_object() -> Value {
    json!({})
}

/// `request`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(super) struct RequestArgs {
    /// The space of the request: its id, short id or exact name.
    space: String,
    /// The request's id.
    request: String,
    /// Wait up to this many seconds (at most 120) for its outcome before answering.
    #[serde(default)]
    wait_seconds: Option<u64>,
}

/// Whose side of a request.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(super) enum Side {
    /// Asked to do it: its target, an `auto` candidate, or a claimant.
    Provider,
    /// Asked for it.
    Requester,
}

/// Where a request is.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(super) enum State {
    /// Nobody claimed it yet.
    Open,
    /// A provider is working on it.
    Claimed,
    /// Its provider posted a result.
    Completed,
    /// Its provider posted a failure.
    Failed,
    /// Its requester cancelled it.
    Cancelled,
}

/// `my_requests`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(super) struct MyRequestsArgs {
    /// Only those the timite is asked to do (`provider`) or asked for (`requester`); absent:
    /// both.
    #[serde(default)]
    role: Option<Side>,
    /// Only those in this state; absent: all.
    #[serde(default)]
    state: Option<State>,
}

/// `claim`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(super) struct ClaimArgs {
    /// The space of the request: its id, short id or exact name.
    space: String,
    /// The request's id.
    request: String,
}

/// `answer`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(super) struct AnswerArgs {
    /// The space of the request: its id, short id or exact name.
    space: String,
    /// The request's id.
    request: String,
    /// The result, valid against the ability's output schema (give this or `failure`).
    #[serde(default)]
    result: Option<Value>,
    /// Why it cannot be done (give this or `result`).
    #[serde(default)]
    failure: Option<String>,
}

/// `rate`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(super) struct RateArgs {
    /// The space: its id, short id or exact name.
    space: String,
    /// 1 (poor) to 5 (excellent).
    score: u8,
    /// Rate this member (a DID; give this or `request`).
    #[serde(default)]
    member: Option<String>,
    /// Rate the outcome of this request the timite made (give this or `member`).
    #[serde(default)]
    request: Option<String>,
}

/// Whether a request has its outcome: nothing more will happen to it but a rating.
fn settled(r: &AbilityRequest) -> bool {
    [
        RequestStateName::Completed,
        RequestStateName::Failed,
        RequestStateName::Cancelled,
    ]
    .iter()
    .any(|s| s.as_str() == r.state)
}

/// How long `wait_seconds` asks to wait: none is no wait; more than [`MAX_WAIT`] is refused.
fn wait_for(wait_seconds: Option<u64>) -> Result<Duration, McpError> {
    let wait = Duration::from_secs(wait_seconds.unwrap_or(0));
    if wait > MAX_WAIT {
        return Err(McpError::invalid_params(
            format!(
                "wait_seconds is at most {}; {} was asked for",
                MAX_WAIT.as_secs(),
                wait.as_secs()
            ),
            None,
        ));
    }
    Ok(wait)
}

/// The request `id` once it has its outcome, or as it is after `wait` (zero: at once), read as
/// `principal`'s timite. Waits on the space's events, subscribed to before the request is
/// read so that no step is missed between the two; the subscription takes one of the token's
/// event stream slots (at most 16, with its open `/events` streams), so waits are bounded too.
async fn follow(
    service: &Service,
    principal: &Principal,
    space: SpaceId,
    id: &str,
    wait: Duration,
) -> ServiceResult<AbilityRequest> {
    let caller = Caller::from(principal);
    if wait.is_zero() {
        return service.request(&caller, space, id).await;
    }
    let _slot = service.auth().open_stream(principal)?;
    let deadline = Instant::now() + wait;
    let events = service.events(&caller, space).await?;
    let mut events = std::pin::pin!(events);
    loop {
        let view = service.request(&caller, space, id).await?;
        if settled(&view) || Instant::now() >= deadline {
            return Ok(view);
        }
        // Until an event about the request (or a gap in the stream: read it again).
        loop {
            match tokio::time::timeout_at(deadline, events.next()).await {
                Ok(Some(Ok(e))) if e.request().is_some_and(|r| r.id == id) => break,
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(_lagged))) => break,
                // The stream ended (the timite left the space) or the wait did.
                Ok(None) | Err(_) => return service.request(&caller, space, id).await,
            }
        }
    }
}

#[tool_router(router = tool_router, vis = "pub(super)")]
impl TimMcp {
    #[tool(
        description = "List the spaces this node hosts that you can read: id, name, purpose, \
                       visibility, members and messages.",
        annotations(read_only_hint = true)
    )]
    async fn list_spaces(
        &self,
        Extension(parts): Extension<Parts>,
    ) -> Result<CallToolResult, McpError> {
        let caller = caller(&parts)?;
        let spaces = self.service.spaces(&caller).await;
        outcome(spaces.map(|s| json!({ "spaces": s })))
    }

    #[tool(
        description = "Read a page of a space's timeline, newest first: the latest messages, or \
                       those just before (`before`) or after (`after`) a message. The answer \
                       names the cursors of the pages on either side (`next_before`, \
                       `next_after`).",
        annotations(read_only_hint = true)
    )]
    async fn read(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(args): Parameters<ReadArgs>,
    ) -> Result<CallToolResult, McpError> {
        let caller = caller(&parts)?;
        let space = resolve_space(&self.service, &caller, &args.space).await?;
        let cursor = |raw: &Option<String>| -> Result<Option<MessageId>, McpError> {
            raw.as_deref()
                .map(|m| parse_arg(m, "a message id"))
                .transpose()
        };
        let query = TimelineQuery {
            limit: args.limit,
            before: cursor(&args.before)?,
            after: cursor(&args.after)?,
        };
        outcome(self.service.timeline(&caller, space, &query).await)
    }

    #[tool(
        description = "Post a message to a space as yourself; answers once it is on disk, with \
                       its id. The space's rules decide whether you may (you must be a member).",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false
        )
    )]
    async fn post(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(args): Parameters<PostArgs>,
    ) -> Result<CallToolResult, McpError> {
        let caller = caller(&parts)?;
        let space = resolve_space(&self.service, &caller, &args.space).await?;
        outcome(self.service.post(&caller, space, &args.text).await)
    }

    #[tool(
        description = "List a space's members, sorted by DID: role, reputation, declared \
                       abilities. Pages with `after` (the previous page's `next_after`).",
        annotations(read_only_hint = true)
    )]
    async fn members(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(args): Parameters<MembersArgs>,
    ) -> Result<CallToolResult, McpError> {
        let caller = caller(&parts)?;
        let space = resolve_space(&self.service, &caller, &args.space).await?;
        let after = args
            .after
            .as_deref()
            .map(|d| parse_arg::<Did>(d, "a DID"))
            .transpose()?;
        let query = MembersQuery {
            limit: args.limit,
            after,
        };
        let page = self.service.members(&caller, space, &query).await;
        outcome(page.map(|p| json!({ "members": p.items, "next_after": p.next_after })))
    }

    #[tool(
        description = "Find who can do something: the abilities members declared, ranked by \
                       how well they match the query, attestation, ratings, success and speed. \
                       In one space or every space you read; `network` also asks the network's \
                       index.",
        annotations(read_only_hint = true)
    )]
    async fn search_abilities(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(args): Parameters<SearchArgs>,
    ) -> Result<CallToolResult, McpError> {
        let caller = caller(&parts)?;
        let space = match &args.space {
            Some(s) => Some(resolve_space(&self.service, &caller, s).await?),
            None => None,
        };
        let query = AbilitySearchQuery {
            q: args.query,
            space,
            network: args.network,
        };
        let hits = self.service.search_abilities(&caller, &query).await;
        outcome(hits.map(|h| json!({ "hits": h })))
    }

    #[tool(
        description = "Ask for an ability in a space: of one provider, or of the best ranked \
                       in turn. Answers the request (its `id` and `state`); with \
                       `wait_seconds`, once it has its outcome (`output` or `failure`) or the \
                       wait is over. Follow it later with the `request` tool.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false
        )
    )]
    async fn invoke(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(args): Parameters<InvokeArgs>,
    ) -> Result<CallToolResult, McpError> {
        let principal = principal(&parts)?;
        let caller = Caller::from(&principal);
        let wait = wait_for(args.wait_seconds)?;
        let space = resolve_space(&self.service, &caller, &args.space).await?;
        let to = args
            .provider
            .as_deref()
            .map(|d| parse_arg::<Did>(d, "a DID"))
            .transpose()?;
        let req = NewRequest {
            ability: args.ability,
            input: args.input,
            to,
            timeout_secs: args.timeout_secs,
            reward: args.reward,
        };
        let made = match self.service.request_ability(&caller, space, &req).await {
            Ok(made) => made,
            Err(e) => return refusal(e),
        };
        outcome(follow(&self.service, &principal, space, &made.id, wait).await)
    }

    #[tool(
        description = "Follow a request: its state (`open`, `claimed`, `completed`, `failed`, \
                       `cancelled`), progress, and result or failure. With `wait_seconds`, \
                       answers once it has its outcome or the wait is over.",
        annotations(read_only_hint = true)
    )]
    async fn request(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(args): Parameters<RequestArgs>,
    ) -> Result<CallToolResult, McpError> {
        let principal = principal(&parts)?;
        let wait = wait_for(args.wait_seconds)?;
        let space = resolve_space(&self.service, &Caller::from(&principal), &args.space).await?;
        outcome(follow(&self.service, &principal, space, &args.request, wait).await)
    }

    #[tool(
        description = "The requests that concern you in every space you read, newest first: \
                       those you are asked to do (`role: provider`) and those you asked for \
                       (`role: requester`), in one state or all.",
        annotations(read_only_hint = true)
    )]
    async fn my_requests(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(args): Parameters<MyRequestsArgs>,
    ) -> Result<CallToolResult, McpError> {
        let caller = caller(&parts)?;
        let query = MyRequestsQuery {
            role: args.role.map(|r| match r {
                Side::Provider => RequestRole::Provider,
                Side::Requester => RequestRole::Requester,
            }),
            state: args.state.map(|s| match s {
                State::Open => RequestStateName::Open,
                State::Claimed => RequestStateName::Claimed,
                State::Completed => RequestStateName::Completed,
                State::Failed => RequestStateName::Failed,
                State::Cancelled => RequestStateName::Cancelled,
            }),
        };
        let requests = self.service.my_requests(&caller, query).await;
        outcome(requests.map(|r| json!({ "requests": r })))
    }

    #[tool(
        description = "Claim a request addressed to you (you are its target, or an `auto` \
                       candidate whose turn came), before answering it.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true
        )
    )]
    async fn claim(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(args): Parameters<ClaimArgs>,
    ) -> Result<CallToolResult, McpError> {
        let caller = caller(&parts)?;
        let space = resolve_space(&self.service, &caller, &args.space).await?;
        let change = self
            .service
            .claim_request(&caller, space, &args.request)
            .await;
        outcome(change.map(|c| json!({ "change": c })))
    }

    #[tool(
        description = "Answer a request you claimed (or may claim): its `result`, valid against \
                       the ability's output schema, or a `failure` saying why not.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false
        )
    )]
    async fn answer(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(args): Parameters<AnswerArgs>,
    ) -> Result<CallToolResult, McpError> {
        let caller = caller(&parts)?;
        let space = resolve_space(&self.service, &caller, &args.space).await?;
        let (s, id) = (&self.service, args.request.as_str());
        let change = match (args.result, args.failure) {
            (Some(output), None) => s.request_result(&caller, space, id, output).await,
            (None, Some(reason)) => s.request_failure(&caller, space, id, &reason).await,
            _ => {
                return Err(McpError::invalid_params(
                    "give either `result` or `failure`",
                    None,
                ))
            }
        };
        outcome(change.map(|c| json!({ "change": c })))
    }

    #[tool(
        description = "Rate from 1 to 5 a member of a space (`member`) or the outcome of a \
                       request you made (`request`). Rating again replaces your rating.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true
        )
    )]
    async fn rate(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(args): Parameters<RateArgs>,
    ) -> Result<CallToolResult, McpError> {
        let caller = caller(&parts)?;
        if !(1..=5).contains(&args.score) {
            return Err(McpError::invalid_params(
                format!("a score is 1 to 5, not {}", args.score),
                None,
            ));
        }
        let space = resolve_space(&self.service, &caller, &args.space).await?;
        let s = &self.service;
        let change = match (args.member, args.request) {
            (Some(member), None) => {
                let did = parse_arg::<Did>(&member, "a DID")?;
                s.rate(&caller, space, did, args.score).await
            }
            (None, Some(id)) => s.rate_request(&caller, space, &id, args.score).await,
            _ => {
                return Err(McpError::invalid_params(
                    "give either `member` or `request`",
                    None,
                ))
            }
        };
        outcome(change.map(|c| json!({ "change": c })))
    }
}
