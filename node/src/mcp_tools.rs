//! MCP tools as abilities (docs/mcp.md, "MCP tools as abilities"): a client of an external MCP
//! server, over stdio (a child process) or streamable HTTP, whose tools a timite declares as
//! abilities and calls to answer the requests routed to it.
//!
//! [`McpTools::connect`] starts (or reaches) the server, initializes the session and lists its
//! tools, following the list's pages; [`McpTools::call`] calls one tool, bounded by a timeout,
//! and turns its result into JSON; [`McpTools::answer`] does the same for a request of the
//! ability, checking the output as the space's rules will. [`declaration`] is the pure mapping
//! of a tool onto an ability declaration: `PREFIX.TOOL` (the tool's name normalised to the
//! ability-name rules), its description, its input schema and its output schema (`{}`, any
//! value, when the tool declares none).
//!
//! The server is a process this node trusts as much as its own code (the operator chose it);
//! what reaches it from the space is the request's input, already judged against the input
//! schema by the rules. A server that crashes, closes the connection or does not answer in
//! time gives an error, never a panic or a hang; dropping [`McpTools`] ends the session and
//! kills the child process.

use std::collections::BTreeMap;
use std::fmt;
use std::process::Stdio;
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, Implementation,
    PaginatedRequestParams,
};
use rmcp::service::{
    ClientInitializeError, QuitReason, RoleClient, RunningServiceCancellationToken,
};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{Peer, ServiceError, ServiceExt};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tim_crdt::abilities::{check_name, MAX_DESCRIPTION_BYTES};
use tim_crdt::json_schema;
use tim_protocol::api::DeclareAbility;
use tokio::io::AsyncBufReadExt;
use tokio::sync::watch;

/// How long the server has to start and answer the initialization and the tool list.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one tool call may take unless [`McpTools::with_call_timeout`] says otherwise.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Most pages of the tool list followed (a server that pages forever is cut off here).
pub const MAX_TOOL_PAGES: usize = 64;
/// Most tools kept from one server.
pub const MAX_TOOLS: usize = 1024;
/// The prefix of the imported abilities' names unless told otherwise (`mcp.echo`).
pub const DEFAULT_PREFIX: &str = "mcp";
/// Longest line of the server's standard error kept to explain its end, in bytes.
const MAX_LAST_WORDS: usize = 512;
/// How long a server's standard error may stay open after its connection ended.
const LAST_WORDS_WAIT: Duration = Duration::from_secs(2);

/// Why an MCP server could not be used, or a tool call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum McpToolError {
    /// The server spec is unusable (no command, a URL that is not HTTP).
    #[error("{0}")]
    Spec(String),
    /// The environment variable that holds the HTTP server's bearer token is not set.
    #[error("the environment variable {0} (the MCP server's bearer token) is not set")]
    BearerMissing(String),
    /// The server's command could not be started.
    #[error("cannot start the MCP server `{command}`: {error}")]
    Spawn {
        /// The command.
        command: String,
        /// Why.
        error: std::io::Error,
    },
    /// The server did not complete the initialization or the tool list.
    #[error("the MCP server {server} did not start: {reason}")]
    Connect {
        /// The server ([`McpServerSpec`]'s display).
        server: String,
        /// Why.
        reason: String,
    },
    /// The server lists no tool of this name.
    #[error("the MCP server has no tool `{0}`")]
    UnknownTool(String),
    /// The input is not a JSON object (a tool's arguments are one).
    #[error("the input of tool `{0}` must be a JSON object (the tool's arguments)")]
    Arguments(String),
    /// The tool ran and reported an error (`isError: true`): its text.
    #[error("{0}")]
    Tool(String),
    /// The server answered the call with a protocol error (unknown tool, invalid arguments).
    #[error("the MCP server refused the call: {0}")]
    Refused(String),
    /// The call had no answer in time.
    #[error("tool `{tool}` did not answer within {} s", after.as_secs())]
    Timeout {
        /// The tool.
        tool: String,
        /// The timeout.
        after: Duration,
    },
    /// The server's connection ended (its process exited, the HTTP session closed).
    #[error("the MCP server is gone: {0}")]
    Closed(String),
    /// A tool that cannot be declared as an ability (its name or schemas do not fit).
    #[error("tool `{tool}` cannot be an ability: {reason}")]
    Unmappable {
        /// The tool's name.
        tool: String,
        /// Why.
        reason: String,
    },
}

/// An MCP server to import tools from: a command speaking MCP on its standard input and
/// output, or a streamable HTTP endpoint. In TOML, `{ command = "…", args = […], env = {…} }`
/// or `{ url = "…", bearer_env = "VAR" }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum McpServerSpec {
    /// A child process over stdio.
    Stdio {
        /// The program.
        command: String,
        /// Its arguments.
        #[serde(default)]
        args: Vec<String>,
        /// Environment variables set for it (on top of the node's; never logged).
        #[serde(default)]
        env: BTreeMap<String, String>,
    },
    /// Streamable HTTP.
    Http {
        /// The endpoint, `http://…` or `https://…`.
        url: String,
        /// The environment variable holding a bearer token to send (never logged).
        #[serde(default)]
        bearer_env: Option<String>,
    },
}

impl fmt::Display for McpServerSpec {
    /// The command line or the URL, never the environment or the token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Stdio { command, args, .. } => {
                write!(f, "`{command}")?;
                args.iter().try_for_each(|a| write!(f, " {a}"))?;
                write!(f, "`")
            }
            Self::Http { url, .. } => write!(f, "at {url}"),
        }
    }
}

/// A tool of an MCP server, as it lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct McpTool {
    /// Its name on the server.
    pub name: String,
    /// Its human-readable title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// What it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The JSON Schema of its arguments (an object).
    pub input_schema: Value,
    /// The JSON Schema of its structured result, if it declares one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Value>,
}

impl From<rmcp::model::Tool> for McpTool {
    fn from(t: rmcp::model::Tool) -> Self {
        Self {
            name: t.name.into_owned(),
            title: t.title,
            description: t.description.map(|d| d.into_owned()),
            input_schema: Value::Object((*t.input_schema).clone()),
            output_schema: t.output_schema.map(|s| Value::Object((*s).clone())),
        }
    }
}

/// A session with an MCP server and the tools it listed. Dropping it ends the session (a
/// child process is killed).
pub struct McpTools {
    peer: Peer<RoleClient>,
    tools: Vec<McpTool>,
    call_timeout: Duration,
    /// Becomes `Some(why)` when the session ends.
    gone: watch::Receiver<Option<String>>,
    cancel: Option<RunningServiceCancellationToken>,
}

impl fmt::Debug for McpTools {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("McpTools")
            .field("tools", &self.tools)
            .field("call_timeout", &self.call_timeout)
            .field("gone", &*self.gone.borrow())
            .finish_non_exhaustive()
    }
}

impl Drop for McpTools {
    fn drop(&mut self) {
        if let Some(cancel) = self.cancel.take() {
            cancel.cancel();
        }
    }
}

impl McpTools {
    /// Starts or reaches the server, initializes the session and lists its tools (every
    /// page, up to [`MAX_TOOL_PAGES`] and [`MAX_TOOLS`]), within [`CONNECT_TIMEOUT`].
    pub async fn connect(spec: &McpServerSpec) -> Result<Self, McpToolError> {
        let server = spec.to_string();
        let failed = |reason: String| McpToolError::Connect {
            server: server.clone(),
            reason,
        };
        let me = ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("tim", env!("CARGO_PKG_VERSION")),
        );
        let mut last_words = None;
        let starting = async {
            match spec {
                McpServerSpec::Stdio { command, args, env } => {
                    if command.trim().is_empty() {
                        return Err(McpToolError::Spec(
                            "the MCP server's command is empty".into(),
                        ));
                    }
                    let mut cmd = tokio::process::Command::new(command);
                    cmd.args(args).envs(env).kill_on_drop(true);
                    let (child, stderr) = TokioChildProcess::builder(cmd)
                        .stderr(Stdio::piped())
                        .spawn()
                        .map_err(|error| McpToolError::Spawn {
                            command: command.clone(),
                            error,
                        })?;
                    last_words = stderr.map(|e| tokio::spawn(log_stderr(e)));
                    match me.serve(child).await {
                        Ok(service) => Ok(service),
                        Err(e) => {
                            let words = match last_words.take() {
                                Some(task) => last_line(task).await,
                                None => None,
                            };
                            let why = init_error(e);
                            Err(failed(match words {
                                Some(words) => format!("{why}; its last words: {words}"),
                                None => why,
                            }))
                        }
                    }
                }
                McpServerSpec::Http { url, bearer_env } => {
                    if !(url.starts_with("http://") || url.starts_with("https://")) {
                        return Err(McpToolError::Spec(format!(
                            "the MCP server's URL must be http:// or https://, not `{url}`"
                        )));
                    }
                    let mut config = StreamableHttpClientTransportConfig::with_uri(url.as_str());
                    if let Some(var) = bearer_env {
                        let token = std::env::var(var)
                            .map_err(|_| McpToolError::BearerMissing(var.clone()))?;
                        config = config.auth_header(token);
                    }
                    let transport = StreamableHttpClientTransport::from_config(config);
                    me.serve(transport).await.map_err(|e| failed(init_error(e)))
                }
            }
        };
        let service = tokio::time::timeout(CONNECT_TIMEOUT, starting)
            .await
            .map_err(|_| failed(format!("no answer within {} s", CONNECT_TIMEOUT.as_secs())))??;
        let peer = service.peer().clone();
        let cancel = service.cancellation_token();
        let (gone_tx, gone) = watch::channel(None);
        let server_name = server.clone();
        tokio::spawn(async move {
            let quit = service.waiting().await;
            let words = match (&quit, last_words) {
                (Ok(QuitReason::Cancelled), _) | (_, None) => None,
                (_, Some(task)) => last_line(task).await,
            };
            let why = match (quit, words) {
                (Ok(QuitReason::Cancelled), _) => "the session was closed".into(),
                (_, Some(words)) => format!("{server_name} ended; its last words: {words}"),
                (_, None) => format!("{server_name} closed the connection"),
            };
            tracing::debug!(%why, "MCP session ended");
            gone_tx.send_replace(Some(why));
        });
        let mut tools = Self {
            peer,
            tools: Vec::new(),
            call_timeout: DEFAULT_CALL_TIMEOUT,
            gone,
            cancel: Some(cancel),
        };
        tools.tools = tokio::time::timeout(CONNECT_TIMEOUT, tools.list())
            .await
            .map_err(|_| failed("the tool list did not come in time".into()))??;
        Ok(tools)
    }

    /// Sets how long one tool call may take (default [`DEFAULT_CALL_TIMEOUT`]).
    pub fn with_call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// The tools the server listed when the session began.
    pub fn tools(&self) -> &[McpTool] {
        &self.tools
    }

    /// The tool named `name`.
    pub fn tool(&self, name: &str) -> Result<&McpTool, McpToolError> {
        self.tools
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| McpToolError::UnknownTool(name.to_string()))
    }

    /// Every page of the tool list.
    async fn list(&self) -> Result<Vec<McpTool>, McpToolError> {
        let mut tools = Vec::new();
        let mut cursor = None;
        for _ in 0..MAX_TOOL_PAGES {
            let params = PaginatedRequestParams::default().with_cursor(cursor);
            let page = self
                .peer
                .list_tools(Some(params))
                .await
                .map_err(|e| self.service_error(e, "the tool list"))?;
            tools.extend(page.tools.into_iter().map(McpTool::from));
            if tools.len() > MAX_TOOLS {
                return Err(McpToolError::Spec(format!(
                    "the MCP server lists more than {MAX_TOOLS} tools"
                )));
            }
            cursor = page.next_cursor;
            if cursor.is_none() {
                return Ok(tools);
            }
        }
        Err(McpToolError::Spec(format!(
            "the MCP server's tool list goes on past {MAX_TOOL_PAGES} pages"
        )))
    }

    /// Calls tool `name` with `arguments` (a JSON object, or `null` for none), within the call
    /// timeout. Its value: the result's `structuredContent` if present; else its text (the
    /// text blocks joined by newlines), parsed if it is a JSON object or array, else as a JSON
    /// string; a result with no text is its content blocks as JSON. A result with `isError`
    /// is [`McpToolError::Tool`] carrying its text.
    pub async fn call(&self, name: &str, arguments: Value) -> Result<Value, McpToolError> {
        let mut params = CallToolRequestParams::new(name.to_string());
        match arguments {
            Value::Object(args) => params = params.with_arguments(args),
            Value::Null => {}
            _ => return Err(McpToolError::Arguments(name.to_string())),
        }
        let call = self.peer.call_tool(params);
        let result = tokio::select! {
            biased;
            result = tokio::time::timeout(self.call_timeout, call) => result,
            why = self.closed() => return Err(why),
        };
        let result = result
            .map_err(|_| McpToolError::Timeout {
                tool: name.to_string(),
                after: self.call_timeout,
            })?
            .map_err(|e| self.service_error(e, name))?;
        tool_value(result)
    }

    /// Answers a request for the ability that imports tool `name`: calls it with `input` and
    /// checks the value against the tool's output schema, as the space's rules will check the
    /// result. The error is the failure's reason, to post as the request's failure.
    pub async fn answer(&self, name: &str, input: Value) -> Result<Value, String> {
        let output = self.call(name, input).await.map_err(|e| e.to_string())?;
        if let Some(schema) = self.tool(name).ok().and_then(|t| t.output_schema.as_ref()) {
            json_schema::validate(schema, &output)
                .map_err(|why| format!("the tool's output fails its output schema: {why}"))?;
        }
        Ok(output)
    }

    /// Resolves when the session ends (the server exited or closed the connection), with why.
    pub async fn closed(&self) -> McpToolError {
        let mut gone = self.gone.clone();
        let why = match gone.wait_for(Option::is_some).await {
            Ok(why) => why.clone().unwrap_or_default(),
            Err(_) => "the session's task ended".into(),
        };
        McpToolError::Closed(why)
    }

    /// An error of the session, for `what` (a tool's name, the tool list).
    fn service_error(&self, e: ServiceError, what: &str) -> McpToolError {
        match e {
            ServiceError::McpError(data) => McpToolError::Refused(data.message.into_owned()),
            ServiceError::Timeout { timeout } => McpToolError::Timeout {
                tool: what.to_string(),
                after: timeout,
            },
            ServiceError::TransportClosed | ServiceError::TransportSend(_) => {
                let why = self.gone.borrow().clone();
                McpToolError::Closed(why.unwrap_or_else(|| e.to_string()))
            }
            other => McpToolError::Refused(other.to_string()),
        }
    }
}

/// Logs the server's standard error (debug level) until it ends; returns its last line, to
/// explain the server's end.
async fn log_stderr(stderr: tokio::process::ChildStderr) -> Option<String> {
    let mut lines = tokio::io::BufReader::new(stderr).lines();
    let mut last = None;
    while let Ok(Some(line)) = lines.next_line().await {
        tracing::debug!(target: "tim_node::mcp_tools::server", "{line}");
        if !line.trim().is_empty() {
            last = Some(truncate(line.trim(), MAX_LAST_WORDS).to_string());
        }
    }
    last
}

/// The last line the server wrote on its standard error, once that ends (it ends with the
/// server, unless a process the server started holds it: then none, after a short wait).
async fn last_line(task: tokio::task::JoinHandle<Option<String>>) -> Option<String> {
    let ended = tokio::time::timeout(LAST_WORDS_WAIT, task).await;
    ended.ok().and_then(Result::ok).flatten()
}

/// Why the session could not begin: a transport's error with its causes, without the
/// transport's type name; others as they say.
fn init_error(e: ClientInitializeError) -> String {
    let ClientInitializeError::TransportError { error, .. } = e else {
        return e.to_string();
    };
    let mut why = error.error.to_string();
    let mut cause = error.error.source();
    while let Some(c) = cause {
        why = format!("{why}: {c}");
        cause = c.source();
    }
    why
}

/// The JSON value of a tool's result (see [`McpTools::call`]).
fn tool_value(result: CallToolResult) -> Result<Value, McpToolError> {
    let texts: Vec<&str> = result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.as_str()))
        .collect();
    let text = texts.join("\n");
    if result.is_error == Some(true) {
        return Err(McpToolError::Tool(if text.trim().is_empty() {
            "the tool reported an error and gave no reason".into()
        } else {
            text
        }));
    }
    if let Some(structured) = result.structured_content {
        return Ok(structured);
    }
    if texts.is_empty() {
        return serde_json::to_value(&result.content)
            .map_err(|e| McpToolError::Tool(format!("the tool's content is not JSON: {e}")));
    }
    Ok(match serde_json::from_str::<Value>(&text) {
        Ok(v @ (Value::Object(_) | Value::Array(_))) => v,
        _ => Value::String(text),
    })
}

/// The longest prefix of `s` within `max` bytes, cut at a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The ability that imports `tool`: its name, `PREFIX.TOOL` with the tool's name lowercased
/// and every character outside `a-z 0-9 - _ .` made `_` (a `.` in the tool's name starts a
/// segment); its description (the tool's, else its title, else "MCP tool NAME", cut to 1024
/// bytes); the tool's input schema; and its output schema (`{}`, any value, if it has none).
/// A tool whose name does not make a valid ability name (a segment not starting with a
/// letter, over 64 bytes) or whose schemas use JSON Schema beyond the subset the rules judge
/// (docs/abilities.md §5) cannot be one.
pub fn declaration(prefix: &str, tool: &McpTool) -> Result<(String, DeclareAbility), McpToolError> {
    let unmappable = |reason: String| McpToolError::Unmappable {
        tool: tool.name.clone(),
        reason,
    };
    let normalised: String = tool
        .name
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '-' | '_' | '.') => c,
            _ => '_',
        })
        .collect();
    let name = format!("{prefix}.{normalised}");
    check_name(&name).map_err(unmappable)?;
    let description = match (&tool.description, &tool.title) {
        (Some(d), _) if !d.trim().is_empty() => d.trim(),
        (_, Some(t)) if !t.trim().is_empty() => t.trim(),
        _ => "",
    };
    let description = if description.is_empty() {
        format!("MCP tool {}", tool.name)
    } else {
        truncate(description, MAX_DESCRIPTION_BYTES).to_string()
    };
    json_schema::check(&tool.input_schema)
        .map_err(|why| unmappable(format!("its input schema: {why}")))?;
    let output_schema = match &tool.output_schema {
        Some(schema) => {
            json_schema::check(schema)
                .map_err(|why| unmappable(format!("its output schema: {why}")))?;
            schema.clone()
        }
        None => Value::Object(serde_json::Map::new()),
    };
    let declaration = DeclareAbility {
        description,
        input_schema: tool.input_schema.clone(),
        output_schema,
        credential: None,
        attestation: None,
        price: None,
    };
    Ok((name, declaration))
}

#[cfg(test)]
mod tests {
    use rmcp::model::ContentBlock;
    use serde_json::json;

    use super::*;

    fn tool(name: &str, input_schema: Value) -> McpTool {
        McpTool {
            name: name.into(),
            title: None,
            description: Some("Does it".into()),
            input_schema,
            output_schema: None,
        }
    }

    #[test]
    fn a_tool_maps_onto_a_declaration_with_a_normalised_name() {
        let schema = json!({"type": "object", "properties": {"q": {"type": "string"}}});
        let (name, d) = declaration("mcp", &tool("Get Forecast", schema.clone())).unwrap();
        assert_eq!(name, "mcp.get_forecast");
        assert_eq!(d.description, "Does it");
        assert_eq!(d.input_schema, schema);
        assert_eq!(d.output_schema, json!({}));
        let (name, _) = declaration("weather", &tool("files.read-v2", json!({}))).unwrap();
        assert_eq!(name, "weather.files.read-v2");
    }

    #[test]
    fn a_tool_that_cannot_map_is_a_clear_error() {
        for (name, schema, why) in [
            ("2fa", json!({}), "ability name"),
            ("a..b", json!({}), "ability name"),
            (&"x".repeat(80)[..], json!({}), "ability name"),
            (
                "ok",
                json!({"type": "string", "pattern": "^a"}),
                "input schema",
            ),
        ] {
            let e = declaration("mcp", &tool(name, schema)).unwrap_err();
            assert!(
                matches!(&e, McpToolError::Unmappable { tool, reason } if tool == name && reason.contains(why)),
                "{name}: {e}"
            );
        }
    }

    #[test]
    fn a_description_falls_back_to_the_title_and_is_cut_to_the_bound() {
        let mut t = tool("echo", json!({}));
        t.description = None;
        t.title = Some("Echo Tool".into());
        assert_eq!(declaration("mcp", &t).unwrap().1.description, "Echo Tool");
        t.title = None;
        assert_eq!(
            declaration("mcp", &t).unwrap().1.description,
            "MCP tool echo"
        );
        t.description = Some("é".repeat(MAX_DESCRIPTION_BYTES));
        let d = declaration("mcp", &t).unwrap().1.description;
        assert_eq!(d.len(), MAX_DESCRIPTION_BYTES);
    }

    #[test]
    fn a_result_is_its_structured_content_else_its_text() {
        let mut r = CallToolResult::success(vec![ContentBlock::text("Echo: hi")]);
        assert_eq!(tool_value(r.clone()).unwrap(), json!("Echo: hi"));
        r.content = vec![ContentBlock::text(r#"{"a": 1}"#)];
        assert_eq!(tool_value(r.clone()).unwrap(), json!({"a": 1}));
        r.content = vec![ContentBlock::text("42")];
        assert_eq!(tool_value(r.clone()).unwrap(), json!("42"));
        r.structured_content = Some(json!({"t": 20}));
        assert_eq!(tool_value(r.clone()).unwrap(), json!({"t": 20}));
        let mut failed = CallToolResult::error(vec![ContentBlock::text("no such city")]);
        failed.structured_content = Some(json!({}));
        let e = tool_value(failed).unwrap_err();
        assert!(
            matches!(&e, McpToolError::Tool(why) if why == "no such city"),
            "{e}"
        );
    }

    #[test]
    fn a_spec_reads_from_toml_shaped_json_and_shows_no_secret() {
        let stdio: McpServerSpec = serde_json::from_value(
            json!({"command": "node", "args": ["s.js"], "env": {"KEY": "secret"}}),
        )
        .unwrap();
        assert_eq!(stdio.to_string(), "`node s.js`");
        let http: McpServerSpec = serde_json::from_value(
            json!({"url": "https://mcp.example/mcp", "bearer_env": "MCP_TOKEN"}),
        )
        .unwrap();
        assert!(
            matches!(&http, McpServerSpec::Http { bearer_env: Some(v), .. } if v == "MCP_TOKEN")
        );
        assert_eq!(http.to_string(), "at https://mcp.example/mcp");
    }
}
