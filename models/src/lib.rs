//! Language-model clients for Tim's agents (docs/agents.md, "Models"): one for OpenAI-compatible
//! chat completions (OpenAI, Ollama, llama.cpp's server, vLLM, LM Studio) and one for Anthropic's
//! Messages API, behind one [`ModelClient`]. Each agent names its provider, model, endpoint and
//! where its key is read from ([`ModelSpec`]); the key is read when the client is made and is
//! never logged, printed or sent anywhere but the endpoint.
//!
//! A call has a timeout and retries with backoff on transport errors, timeouts, 429 and 5xx;
//! every failure is a typed [`ModelError`], so a crashed, slow or refusing model never panics
//! its caller. A streamed call is retried only until its first text has reached the caller, so
//! no text is told twice. Answers are bounded (16 MiB, 1 MiB per streamed event, 128 tool calls).
//!
//! ```no_run
//! # async fn ask() -> Result<(), tim_models::ModelError> {
//! use tim_models::{KeySource, Message, ModelClient, ModelSpec, Prompt, Role};
//!
//! let mut spec: ModelSpec = "ollama:llama3.2".parse()?;
//! spec.key = KeySource::None;
//! let model = ModelClient::new(spec)?;
//! let prompt = Prompt {
//!     system: "You are a mediator.".into(),
//!     messages: vec![Message {
//!         role: Role::User,
//!         content: "Summarise the thread.".into(),
//!         tool_calls: vec![],
//!         tool_call_id: None,
//!     }],
//!     tools: vec![],
//!     temperature: 0.7,
//!     max_tokens: 512,
//! };
//! let reply = model.stream(&prompt, &mut |text| print!("{text}")).await?;
//! println!("\n({} tokens in, {} out)", reply.usage.input_tokens, reply.usage.output_tokens);
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

mod anthropic;
mod client;
mod key;
mod openai;
mod retry;
mod spec;
mod sse;

use key::Secret;
pub use retry::RetryPolicy;
pub use spec::{
    ANTHROPIC_ENDPOINT, ANTHROPIC_VERSION, DEFAULT_RETRIES, DEFAULT_TIMEOUT, OLLAMA_ENDPOINT,
    OPENAI_ENDPOINT,
};

/// The wire protocol a model speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// OpenAI-compatible chat completions (`POST {endpoint}/chat/completions`).
    OpenAi,
    /// Anthropic's Messages API (`POST {endpoint}/v1/messages`).
    Anthropic,
}

/// Where a model's API key is read from. The key itself is never stored with the spec.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeySource {
    /// No key (a local model: Ollama, llama.cpp).
    #[default]
    None,
    /// An environment variable of the process that makes the client.
    Env(String),
    /// A file holding the key (trailing whitespace trimmed).
    File(PathBuf),
}

/// Which model an agent uses and how to reach it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    /// The protocol.
    pub provider: Provider,
    /// The model's name at the endpoint, e.g. `llama3.2` or `claude-sonnet-4-5`.
    pub model: String,
    /// The base URL; `None` for the provider's default (OpenAI's, Anthropic's, or Ollama's
    /// `http://127.0.0.1:11434/v1` for the `ollama:` shorthand).
    pub endpoint: Option<String>,
    /// Where the key is read from.
    pub key: KeySource,
    /// How long one attempt may take, streaming included.
    pub timeout: Duration,
    /// How many times a failed attempt is retried (transport errors, timeouts, 429, 5xx).
    pub retries: u32,
}

/// Who said a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The person or space the agent answers.
    User,
    /// The model itself (earlier turns).
    Assistant,
    /// The result of a tool call the model asked for.
    Tool,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Who said it.
    pub role: Role,
    /// Its text (for [`Role::Tool`], the tool's result).
    pub content: String,
    /// The tool calls an assistant message made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// For [`Role::Tool`]: the id of the call this answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    /// Its name.
    pub name: String,
    /// What it does, for the model.
    pub description: String,
    /// JSON Schema of its arguments (an object schema).
    pub parameters: serde_json::Value,
}

/// A call of a tool the model asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The provider's id of the call.
    pub id: String,
    /// The tool's name.
    pub name: String,
    /// Its arguments.
    pub arguments: serde_json::Value,
}

/// What is asked of the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prompt {
    /// The system prompt (persona, space, memory).
    pub system: String,
    /// The conversation so far, oldest first.
    pub messages: Vec<Message>,
    /// The tools it may call.
    pub tools: Vec<Tool>,
    /// Sampling temperature.
    pub temperature: f32,
    /// Most tokens to generate.
    pub max_tokens: u32,
}

/// Tokens a call used, as the provider counted them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Generated tokens.
    pub output_tokens: u64,
}

/// Why the model stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stop {
    /// It finished its answer.
    End,
    /// It reached `max_tokens`.
    MaxTokens,
    /// It asks for tool calls.
    ToolUse,
}

/// The model's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    /// Its text (may be empty when it only calls tools).
    pub text: String,
    /// The tools it asks to call.
    pub tool_calls: Vec<ToolCall>,
    /// Tokens used.
    pub usage: Usage,
    /// Why it stopped.
    pub stop: Stop,
}

/// Why a model call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// No answer within the timeout, after every retry.
    #[error("the model did not answer within {0:?}")]
    Timeout(Duration),
    /// The endpoint answered with an error status (the message is the provider's, without
    /// the key).
    #[error("the model's endpoint answered {status}: {message}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The provider's error message.
        message: String,
    },
    /// The model refused to answer.
    #[error("the model refused: {0}")]
    Refused(String),
    /// The answer is not the provider's protocol.
    #[error("the model's answer is malformed: {0}")]
    Malformed(String),
    /// The endpoint could not be reached.
    #[error("cannot reach the model: {0}")]
    Transport(String),
    /// The key could not be read, or the spec is unusable.
    #[error("{0}")]
    Config(String),
}

/// A client for one model ([`ModelSpec`]).
///
/// Cheap to clone (the HTTP connection pool is shared). Its `Debug` shows the spec, never the
/// key.
#[derive(Debug, Clone)]
pub struct ModelClient {
    spec: ModelSpec,
    key: Option<Secret>,
    url: reqwest::Url,
    http: reqwest::Client,
    retry: RetryPolicy,
}

impl ModelClient {
    /// A client for `spec`: reads its key now (a missing key is [`ModelError::Config`]).
    pub fn new(spec: ModelSpec) -> Result<Self, ModelError> {
        let key = key::read(&spec.key)?;
        let url = spec::request_url(&spec)?;
        let http = reqwest::Client::builder()
            .connect_timeout(spec.timeout)
            .build()
            .map_err(|e| ModelError::Config(format!("cannot make an HTTP client: {e}")))?;
        Ok(Self {
            spec,
            key,
            url,
            http,
            retry: RetryPolicy::default(),
        })
    }

    /// The same client with another backoff between retries (the number of retries stays
    /// `spec.retries`).
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The spec it was made from.
    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// Asks the model, waiting for the whole answer.
    pub async fn complete(&self, prompt: &Prompt) -> Result<Reply, ModelError> {
        self.call(prompt, None).await
    }

    /// Asks the model with streaming, telling `on_text` each piece of text as it arrives, and
    /// returns the whole answer.
    pub async fn stream(
        &self,
        prompt: &Prompt,
        on_text: &mut (dyn FnMut(&str) + Send),
    ) -> Result<Reply, ModelError> {
        self.call(prompt, Some(on_text)).await
    }
}

/// A temperature as JSON: the `f32`'s shortest decimal form, so that 0.7 is sent as 0.7 and not
/// as 0.699999988079071.
pub(crate) fn temperature(t: f32) -> serde_json::Value {
    t.to_string()
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or(serde_json::Value::Null, serde_json::Value::Number)
}
