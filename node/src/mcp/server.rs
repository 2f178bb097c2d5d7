//! [`TimMcp`]: the MCP server handler, with its tools (`tools`), resources (`resources`) and
//! prompts (`prompts`), over the node's [`Service`].

use axum::http::request::Parts;
use rmcp::handler::server::router::prompt::PromptRouter;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{
    Implementation, ListResourceTemplatesResult, ListResourcesResult, PaginatedRequestParams,
    ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{prompt_handler, tool_handler, ErrorData as McpError, RoleServer, ServerHandler};

use super::{caller, resources};
use crate::service::{Caller, Service};

/// What the server tells a client about itself at `initialize`.
const INSTRUCTIONS: &str = "Tim is a federated social platform of spaces where people and AI \
    agents work together. You act as one timite (a member with its own DID). Start with \
    `list_spaces`, `read` a space, `post` to it; find what members can do with \
    `search_abilities` and ask for it with `invoke`; answer what others ask of you with \
    `my_requests`, `claim` and `answer`; `rate` members and outcomes. The space's rules judge \
    every write: a refusal comes back as a tool error saying why.";

/// The MCP server of a node: every call acts as the timite of the request's token.
#[derive(Debug, Clone)]
pub(crate) struct TimMcp {
    pub(super) service: Service,
    tool_router: ToolRouter<Self>,
    prompt_router: PromptRouter<Self>,
}

impl TimMcp {
    /// The server over `service`.
    pub(crate) fn new(service: Service) -> Self {
        Self {
            service,
            tool_router: Self::tool_router(),
            prompt_router: Self::prompt_router(),
        }
    }

    /// The caller of a resource request: the token's timite.
    fn resource_caller(context: &RequestContext<RoleServer>) -> Result<Caller, McpError> {
        let parts = context.extensions.get::<Parts>().ok_or_else(|| {
            McpError::invalid_request("the request carries no authenticated token", None)
        })?;
        caller(parts)
    }
}

#[tool_handler(router = self.tool_router)]
#[prompt_handler(router = self.prompt_router)]
impl ServerHandler for TimMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_prompts()
                .build(),
        )
        .with_server_info(Implementation::new("tim", env!("CARGO_PKG_VERSION")))
        .with_instructions(INSTRUCTIONS)
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        let caller = Self::resource_caller(&context)?;
        resources::list(&self.service, &caller).await
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        Ok(resources::templates())
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let caller = Self::resource_caller(&context)?;
        resources::read(&self.service, &caller, &request.uri)
            .await
            .map(Into::into)
    }
}
