//! One model call: the attempts, each bounded by the spec's timeout, the retries between them,
//! reading the answer (whole or streamed) within bounds, and keeping the key out of errors.

use futures::StreamExt;
use reqwest::header::HeaderValue;
use serde_json::Value;

use crate::retry::{retry_after, Failure};
use crate::sse::{SseEvent, SseParser};
use crate::{anthropic, openai, spec, ModelClient, ModelError, Prompt, Provider, Reply};

/// The most bytes of a whole (non-streamed) answer, or of a whole stream.
pub(crate) const MAX_ANSWER_BYTES: usize = 16 << 20;
/// The most bytes of an error answer read for its message.
const MAX_ERROR_BYTES: usize = 64 << 10;
/// The most characters of an error answer quoted when it is not the provider's JSON.
const MAX_ERROR_CHARS: usize = 300;

/// Where a call sends the text it streams.
type OnText<'a> = &'a mut (dyn FnMut(&str) + Send);

/// What an answer's stream has told so far, by protocol.
enum Assembler {
    OpenAi(openai::StreamState),
    Anthropic(anthropic::StreamState),
}

impl Assembler {
    /// Feeds one event; returns whether it ended the answer.
    fn feed(
        &mut self,
        event: &SseEvent,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<bool, ModelError> {
        match self {
            Self::OpenAi(state) => state.feed(event, on_text),
            Self::Anthropic(state) => state.feed(event, on_text),
        }
    }

    /// The answer, once the stream ended.
    fn finish(self, ended: bool) -> Result<Reply, ModelError> {
        match self {
            Self::OpenAi(state) => state.finish(ended),
            Self::Anthropic(state) => state.finish(ended),
        }
    }
}

impl ModelClient {
    /// Makes attempts until one succeeds, one fails for good, or the retries are spent.
    pub(crate) async fn call(
        &self,
        prompt: &Prompt,
        mut on_text: Option<OnText<'_>>,
    ) -> Result<Reply, ModelError> {
        let streaming = on_text.is_some();
        let body = match self.spec.provider {
            Provider::OpenAi => openai::request(&self.spec.model, prompt, streaming)?,
            Provider::Anthropic => anthropic::request(&self.spec.model, prompt, streaming)?,
        };
        let mut retry = 0;
        loop {
            // Once text has gone to the caller, a new attempt would tell it twice.
            let mut told = false;
            let on_text = on_text
                .as_mut()
                .map(|f| &mut **f as &mut (dyn FnMut(&str) + Send));
            let attempt = self.attempt(&body, on_text, &mut told);
            let failure = match tokio::time::timeout(self.spec.timeout, attempt).await {
                Ok(Ok(reply)) => return Ok(reply),
                Ok(Err(failure)) => failure,
                Err(_) => ModelError::Timeout(self.spec.timeout).into(),
            };
            let error = self.redact(failure.error.clone());
            if !failure.retryable() || told || retry >= self.spec.retries {
                tracing::debug!(model = %self.spec.model, %error, "model call failed");
                return Err(error);
            }
            let delay = self.retry.delay(retry, failure.retry_after);
            tracing::debug!(model = %self.spec.model, %error, ?delay, retry, "model call failed, retrying");
            tokio::time::sleep(delay).await;
            retry += 1;
        }
    }

    /// One attempt: sends the request and reads the answer.
    async fn attempt(
        &self,
        body: &Value,
        on_text: Option<&mut (dyn FnMut(&str) + Send)>,
        told: &mut bool,
    ) -> Result<Reply, Failure> {
        let mut request = self.http.post(self.url.clone()).json(body);
        match self.spec.provider {
            Provider::OpenAi => {
                if let Some(key) = &self.key {
                    request = request.header(
                        reqwest::header::AUTHORIZATION,
                        sensitive(&format!("Bearer {}", key.expose()))?,
                    );
                }
            }
            Provider::Anthropic => {
                request = request.header("anthropic-version", spec::ANTHROPIC_VERSION);
                if let Some(key) = &self.key {
                    request = request.header("x-api-key", sensitive(key.expose())?);
                }
            }
        }
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        if !status.is_success() {
            let retry_after = retry_after(response.headers());
            let body = read_limited(response, MAX_ERROR_BYTES)
                .await
                .unwrap_or_default();
            let mut message = error_message(&body);
            if message.is_empty() {
                message = status.canonical_reason().unwrap_or("no message").to_owned();
            }
            return Err(Failure {
                error: ModelError::Status {
                    status: status.as_u16(),
                    message,
                },
                retry_after,
            });
        }
        // A server that does not stream answers with the whole answer, as JSON.
        let whole = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let on_text = match on_text {
            Some(on_text) if !whole => on_text,
            on_text => {
                let body = read_limited(response, MAX_ANSWER_BYTES).await?;
                let reply = match self.spec.provider {
                    Provider::OpenAi => openai::parse(&body)?,
                    Provider::Anthropic => anthropic::parse(&body)?,
                };
                if let Some(on_text) = on_text.filter(|_| !reply.text.is_empty()) {
                    on_text(&reply.text);
                }
                return Ok(reply);
            }
        };
        let mut assembler = match self.spec.provider {
            Provider::OpenAi => Assembler::OpenAi(openai::StreamState::default()),
            Provider::Anthropic => Assembler::Anthropic(anthropic::StreamState::default()),
        };
        let mut tell = |text: &str| {
            if !text.is_empty() {
                *told = true;
                on_text(text);
            }
        };
        let mut parser = SseParser::default();
        let mut chunks = response.bytes_stream();
        let mut read = 0;
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(transport)?;
            read += chunk.len();
            if read > MAX_ANSWER_BYTES {
                return Err(too_large().into());
            }
            for event in parser.push(&chunk)? {
                if assembler.feed(&event, &mut tell)? {
                    return Ok(assembler.finish(true)?);
                }
            }
        }
        if let Some(event) = parser.finish()? {
            if assembler.feed(&event, &mut tell)? {
                return Ok(assembler.finish(true)?);
            }
        }
        Ok(assembler.finish(false)?)
    }

    /// `error` with the key, wherever it appears, replaced.
    fn redact(&self, error: ModelError) -> ModelError {
        let Some(key) = &self.key else {
            return error;
        };
        match error {
            ModelError::Status { status, message } => ModelError::Status {
                status,
                message: key.redact(message),
            },
            ModelError::Refused(m) => ModelError::Refused(key.redact(m)),
            ModelError::Malformed(m) => ModelError::Malformed(key.redact(m)),
            ModelError::Transport(m) => ModelError::Transport(key.redact(m)),
            ModelError::Config(m) => ModelError::Config(key.redact(m)),
            other @ ModelError::Timeout(_) => other,
        }
    }
}

/// A header value that HTTP/2's header compression and reqwest's `Debug` keep secret.
fn sensitive(value: &str) -> Result<HeaderValue, ModelError> {
    let mut value = HeaderValue::from_str(value)
        .map_err(|_| ModelError::Config("the model's key cannot be sent in a header".into()))?;
    value.set_sensitive(true);
    Ok(value)
}

/// A reqwest error as a [`ModelError`], with its causes.
fn transport(error: reqwest::Error) -> ModelError {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    ModelError::Transport(text)
}

fn too_large() -> ModelError {
    ModelError::Malformed(format!(
        "the answer is larger than {MAX_ANSWER_BYTES} bytes"
    ))
}

/// The whole body, if it is at most `limit` bytes.
async fn read_limited(response: reqwest::Response, limit: usize) -> Result<Vec<u8>, ModelError> {
    let mut body = Vec::new();
    let mut chunks = response.bytes_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(transport)?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The provider's message in an error answer: `error.message` in both protocols' JSON, or the
/// start of the text.
fn error_message(body: &[u8]) -> String {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let message = json.as_ref().and_then(|json| {
        json.pointer("/error/message")
            .or_else(|| json.get("error"))
            .or_else(|| json.get("message"))
            .and_then(Value::as_str)
    });
    match message {
        Some(message) => message.to_owned(),
        None => String::from_utf8_lossy(body)
            .trim()
            .chars()
            .take(MAX_ERROR_CHARS)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_providers_error_message() {
        let openai = br#"{"error":{"message":"Invalid 'messages': empty.","type":"invalid_request_error","param":"messages","code":null}}"#;
        assert_eq!(error_message(openai), "Invalid 'messages': empty.");
        let anthropic =
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        assert_eq!(error_message(anthropic), "Overloaded");
        let ollama = br#"{"error":"model \"llama3.2\" not found, try pulling it first"}"#;
        assert_eq!(
            error_message(ollama),
            "model \"llama3.2\" not found, try pulling it first"
        );
        let html = "<html>".repeat(100);
        assert_eq!(
            error_message(html.as_bytes()).chars().count(),
            MAX_ERROR_CHARS
        );
    }
}
