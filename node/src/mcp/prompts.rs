//! The MCP prompts: common tasks of a timite, as a first user message that names the tools to
//! use. `catch_up` carries the space's latest messages, read as the token's timite.

use axum::http::request::Parts;
use rmcp::handler::server::tool::Extension;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{PromptMessage, Role};
use rmcp::{prompt, prompt_router, ErrorData as McpError};
use schemars::JsonSchema;
use serde::Deserialize;
use tim_protocol::api::{SpaceSummary, TimelineQuery};
use tim_protocol::SpaceId;

use super::resources::as_text;
use super::{caller, read_error, resolve_space, TimMcp};
use crate::service::Caller;

/// `catch_up`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(super) struct CatchUpArgs {
    /// The space: its id, at least 8 of its first hex digits, or its exact name.
    space: String,
}

/// `ask_for_help`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(super) struct AskArgs {
    /// What you need done, in words.
    task: String,
    /// Only look in this space (id, short id or name); absent: every space you read.
    #[serde(default)]
    space: Option<String>,
}

/// `introduce_yourself`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(super) struct IntroduceArgs {
    /// The space: its id, at least 8 of its first hex digits, or its exact name.
    space: String,
    /// What to say about yourself (what you do, what you can help with).
    #[serde(default)]
    about: Option<String>,
}

#[prompt_router(router = "prompt_router", vis = "pub(super)")]
impl TimMcp {
    #[prompt(
        name = "catch_up",
        description = "Catch up on a space: its latest messages, to summarize and act on."
    )]
    async fn catch_up(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(args): Parameters<CatchUpArgs>,
    ) -> Result<Vec<PromptMessage>, McpError> {
        let (caller, space, summary) = self.space_of(&parts, &args.space).await?;
        let page = self
            .service
            .timeline(&caller, space, &TimelineQuery::default())
            .await
            .map_err(read_error)?;
        Ok(vec![PromptMessage::new_text(
            Role::User,
            format!(
                "Catch me up on the Tim space \"{}\" (id {space}; purpose: {}). {}I am {}. Its \
                 latest messages, oldest first:\n\n{}\n\nSummarize what happened: the topics, \
                 the decisions, the open questions, and anything addressed to me. Older \
                 messages are there with the `read` tool (`before`); answer in the space with \
                 `post` if something waits for me.",
                summary.name,
                or_none(&summary.purpose),
                crate::profiles::expectations(&summary.profile),
                caller.timite,
                as_text(&page)
            ),
        )])
    }

    #[prompt(
        name = "ask_for_help",
        description = "Find a member who can do a task (an ability), ask them, and wait for \
                       the result."
    )]
    async fn ask_for_help(
        &self,
        Parameters(args): Parameters<AskArgs>,
    ) -> Result<Vec<PromptMessage>, McpError> {
        let scope = match &args.space {
            Some(space) => format!("in the space `{space}`"),
            None => "in the spaces I read".to_string(),
        };
        Ok(vec![PromptMessage::new_text(
            Role::User,
            format!(
                "I need this done: {}\n\nFind who can do it {scope} with `search_abilities` (a \
                 few words of the task as the query). Pick the best hit (score, attestation, \
                 availability), read its input schema with the hit's ability, and ask for it \
                 with `invoke` (its space and name, an input valid against its schema, \
                 `wait_seconds: 60`). If it is not done yet, follow it with `request`. Report \
                 the result to me, then rate the outcome with `rate` (1 to 5).",
                args.task
            ),
        )])
    }

    #[prompt(
        name = "introduce_yourself",
        description = "Write and post a short introduction of yourself to a space's members."
    )]
    async fn introduce_yourself(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(args): Parameters<IntroduceArgs>,
    ) -> Result<Vec<PromptMessage>, McpError> {
        let (caller, space, summary) = self.space_of(&parts, &args.space).await?;
        let about = args
            .about
            .map(|a| format!(" About me: {a}"))
            .unwrap_or_default();
        Ok(vec![PromptMessage::new_text(
            Role::User,
            format!(
                "Introduce me to the members of the Tim space \"{}\" (id {space}; purpose: {}; \
                 {} members). {}I am {}.{about} Write two or three friendly sentences that fit \
                 the space's purpose and say what I can help with, show them to me, and post \
                 them with `post` once I agree.",
                summary.name,
                or_none(&summary.purpose),
                summary.members,
                crate::profiles::expectations(&summary.profile),
                caller.timite,
            ),
        )])
    }
}

impl TimMcp {
    /// The request's caller, the space it names (by id, short id or name) and its summary.
    async fn space_of(
        &self,
        parts: &Parts,
        named: &str,
    ) -> Result<(Caller, SpaceId, SpaceSummary), McpError> {
        let caller = caller(parts)?;
        let space = resolve_space(&self.service, &caller, named).await?;
        let summary = self
            .service
            .space(&caller, space)
            .await
            .map_err(read_error)?;
        Ok((caller, space, summary))
    }
}

fn or_none(text: &str) -> &str {
    if text.is_empty() {
        "none given"
    } else {
        text
    }
}
