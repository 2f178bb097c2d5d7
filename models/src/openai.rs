//! OpenAI-compatible chat completions (`POST {endpoint}/chat/completions`): the request body,
//! the answer, and the streamed answer (`chat.completion.chunk` events ending in `[DONE]`).
//! OpenAI's API reference, "Chat Completions", is the source of every field here.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::sse::SseEvent;
use crate::{ModelError, Prompt, Reply, Role, Stop, ToolCall, Usage};

/// The most tool calls one answer may make.
pub(crate) const MAX_TOOL_CALLS: usize = 128;

/// The request body for `prompt`.
pub(crate) fn request(model: &str, prompt: &Prompt, stream: bool) -> Result<Value, ModelError> {
    let mut messages = Vec::with_capacity(prompt.messages.len() + 1);
    if !prompt.system.is_empty() {
        messages.push(json!({"role": "system", "content": prompt.system}));
    }
    for message in &prompt.messages {
        messages.push(match message.role {
            Role::User => json!({"role": "user", "content": message.content}),
            Role::Assistant => {
                // With tool calls and no text, the content is null, as the API sends it.
                let content = if message.content.is_empty() && !message.tool_calls.is_empty() {
                    Value::Null
                } else {
                    Value::String(message.content.clone())
                };
                let mut m = json!({"role": "assistant", "content": content});
                if !message.tool_calls.is_empty() {
                    let calls: Vec<Value> = message
                        .tool_calls
                        .iter()
                        .map(|call| {
                            json!({
                                "id": call.id,
                                "type": "function",
                                "function": {
                                    "name": call.name,
                                    "arguments": call.arguments.to_string(),
                                },
                            })
                        })
                        .collect();
                    m["tool_calls"] = Value::Array(calls);
                }
                m
            }
            Role::Tool => {
                let id = message.tool_call_id.as_deref().ok_or_else(|| {
                    ModelError::Config("a tool message needs the id of the call it answers".into())
                })?;
                json!({"role": "tool", "tool_call_id": id, "content": message.content})
            }
        });
    }
    let mut body = json!({
        "model": model,
        "messages": messages,
        "temperature": crate::temperature(prompt.temperature),
        "max_tokens": prompt.max_tokens,
    });
    if !prompt.tools.is_empty() {
        let tools: Vec<Value> = prompt
            .tools
            .iter()
            .map(|tool| {
                json!({
                    "type": "function",
                    "function": {
                        "name": tool.name,
                        "description": tool.description,
                        "parameters": tool.parameters,
                    },
                })
            })
            .collect();
        body["tools"] = Value::Array(tools);
    }
    if stream {
        body["stream"] = Value::Bool(true);
        body["stream_options"] = json!({"include_usage": true});
    }
    Ok(body)
}

#[derive(Deserialize)]
struct Completion {
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct Choice {
    message: WireMessage,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct WireMessage {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<WireToolCall>>,
}

#[derive(Deserialize)]
struct WireToolCall {
    id: String,
    function: WireFunction,
}

#[derive(Deserialize)]
struct WireFunction {
    name: String,
    #[serde(default)]
    arguments: Value,
}

#[derive(Deserialize, Clone, Copy)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

impl From<WireUsage> for Usage {
    fn from(usage: WireUsage) -> Self {
        Self {
            input_tokens: usage.prompt_tokens,
            output_tokens: usage.completion_tokens,
        }
    }
}

/// The whole answer.
pub(crate) fn parse(body: &[u8]) -> Result<Reply, ModelError> {
    let completion: Completion = serde_json::from_slice(body)
        .map_err(|e| ModelError::Malformed(format!("not a chat completion: {e}")))?;
    let choice = completion
        .choices
        .into_iter()
        .next()
        .ok_or_else(|| ModelError::Malformed("a chat completion with no choices".into()))?;
    if let Some(refusal) = choice.message.refusal.filter(|r| !r.is_empty()) {
        return Err(ModelError::Refused(refusal));
    }
    let tool_calls = choice
        .message
        .tool_calls
        .unwrap_or_default()
        .into_iter()
        .take(MAX_TOOL_CALLS + 1)
        .map(|call| {
            Ok(ToolCall {
                arguments: arguments(call.function.arguments, &call.function.name)?,
                id: call.id,
                name: call.function.name,
            })
        })
        .collect::<Result<Vec<_>, ModelError>>()?;
    if tool_calls.len() > MAX_TOOL_CALLS {
        return Err(too_many_calls());
    }
    let stop = stop(choice.finish_reason.as_deref(), !tool_calls.is_empty())?;
    Ok(Reply {
        text: choice.message.content.unwrap_or_default(),
        tool_calls,
        usage: completion.usage.map(Usage::from).unwrap_or_default(),
        stop,
    })
}

fn too_many_calls() -> ModelError {
    ModelError::Malformed(format!(
        "more than {MAX_TOOL_CALLS} tool calls in one answer"
    ))
}

/// A call's arguments: a JSON object, sent as a string of JSON (an object as such, as some
/// compatible servers send, and an empty string or null for no arguments, are taken too).
fn arguments(arguments: Value, tool: &str) -> Result<Value, ModelError> {
    let value = match arguments {
        Value::String(text) if text.trim().is_empty() => json!({}),
        Value::String(text) => serde_json::from_str(&text).map_err(|e| {
            ModelError::Malformed(format!(
                "the arguments of the call of {tool} are not JSON: {e}"
            ))
        })?,
        Value::Null => json!({}),
        other => other,
    };
    if !value.is_object() {
        return Err(ModelError::Malformed(format!(
            "the arguments of the call of {tool} are not a JSON object"
        )));
    }
    Ok(value)
}

/// Why it stopped, from `finish_reason` (some compatible servers say `stop` for tool calls).
fn stop(finish_reason: Option<&str>, calls_tools: bool) -> Result<Stop, ModelError> {
    match finish_reason {
        Some("length") => Ok(Stop::MaxTokens),
        Some("content_filter") => Err(ModelError::Refused(
            "the provider's content filter stopped the answer".into(),
        )),
        _ if calls_tools => Ok(Stop::ToolUse),
        Some("tool_calls" | "function_call") => Err(ModelError::Malformed(
            "the answer stopped for tool calls but made none".into(),
        )),
        _ => Ok(Stop::End),
    }
}

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<ChunkChoice>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct ChunkChoice {
    #[serde(default)]
    index: u32,
    #[serde(default)]
    delta: Delta,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize, Default)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<DeltaToolCall>>,
}

#[derive(Deserialize)]
struct DeltaToolCall {
    index: usize,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<DeltaFunction>,
}

#[derive(Deserialize)]
struct DeltaFunction {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
}

/// A tool call being streamed: its argument fragments so far.
#[derive(Default)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
}

/// A streamed answer so far.
#[derive(Default)]
pub(crate) struct StreamState {
    text: String,
    refusal: String,
    calls: BTreeMap<usize, PartialCall>,
    finish_reason: Option<String>,
    usage: Usage,
}

impl StreamState {
    /// Feeds one event: text deltas go to `on_text`; true at `[DONE]`.
    pub(crate) fn feed(
        &mut self,
        event: &SseEvent,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<bool, ModelError> {
        if event.data.trim() == "[DONE]" {
            return Ok(true);
        }
        let chunk: Chunk = serde_json::from_str(&event.data)
            .map_err(|e| ModelError::Malformed(format!("not a chat completion chunk: {e}")))?;
        if let Some(error) = chunk.error {
            return Err(stream_error(&error));
        }
        if let Some(usage) = chunk.usage {
            self.usage = usage.into();
        }
        for choice in chunk.choices.into_iter().filter(|c| c.index == 0) {
            if let Some(text) = choice.delta.content {
                on_text(&text);
                self.text.push_str(&text);
            }
            if let Some(refusal) = choice.delta.refusal {
                self.refusal.push_str(&refusal);
            }
            for fragment in choice.delta.tool_calls.unwrap_or_default() {
                if fragment.index >= MAX_TOOL_CALLS {
                    return Err(too_many_calls());
                }
                let call = self.calls.entry(fragment.index).or_default();
                if let Some(id) = fragment.id {
                    call.id = id;
                }
                if let Some(function) = fragment.function {
                    if let Some(name) = function.name {
                        call.name.push_str(&name);
                    }
                    if let Some(arguments) = function.arguments {
                        call.arguments.push_str(&arguments);
                    }
                }
            }
            if choice.finish_reason.is_some() {
                self.finish_reason = choice.finish_reason;
            }
        }
        Ok(false)
    }

    /// The answer; `ended` says whether `[DONE]` came (without it, an answer whose
    /// `finish_reason` came is taken, as some compatible servers end so).
    pub(crate) fn finish(self, ended: bool) -> Result<Reply, ModelError> {
        if !ended && self.finish_reason.is_none() {
            return Err(ModelError::Transport(
                "the stream ended before the answer did".into(),
            ));
        }
        if !self.refusal.is_empty() {
            return Err(ModelError::Refused(self.refusal));
        }
        let tool_calls = self
            .calls
            .into_values()
            .map(|call| {
                if call.id.is_empty() || call.name.is_empty() {
                    return Err(ModelError::Malformed(
                        "a streamed tool call without an id or a name".into(),
                    ));
                }
                Ok(ToolCall {
                    arguments: arguments(Value::String(call.arguments), &call.name)?,
                    id: call.id,
                    name: call.name,
                })
            })
            .collect::<Result<Vec<_>, ModelError>>()?;
        let stop = stop(self.finish_reason.as_deref(), !tool_calls.is_empty())?;
        Ok(Reply {
            text: self.text,
            tool_calls,
            usage: self.usage,
            stop,
        })
    }
}

/// An error sent inside a stream (`{"error": {"message", "code"}}`): its code when it is an
/// HTTP status, else 500, so that it is retried like the status would be.
fn stream_error(error: &Value) -> ModelError {
    let status = error
        .get("code")
        .and_then(|c| c.as_u64().or_else(|| c.as_str()?.parse().ok()))
        .and_then(|c| u16::try_from(c).ok())
        .filter(|c| (400..600).contains(c))
        .unwrap_or(500);
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .or_else(|| error.as_str())
        .unwrap_or("an error in the stream")
        .to_owned();
    ModelError::Status { status, message }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Message, Tool};

    fn event(data: &str) -> SseEvent {
        SseEvent {
            event: None,
            data: data.to_owned(),
        }
    }

    fn feed(state: &mut StreamState, data: &str) -> Result<bool, ModelError> {
        state.feed(&event(data), &mut |_| {})
    }

    #[test]
    fn a_stream_that_ends_early_is_cut() {
        let mut state = StreamState::default();
        feed(
            &mut state,
            r#"{"choices":[{"index":0,"delta":{"content":"Hel"}}]}"#,
        )
        .unwrap();
        assert!(matches!(state.finish(false), Err(ModelError::Transport(_))));

        // A finish_reason without [DONE] is a whole answer (llama.cpp's server ends so).
        let mut state = StreamState::default();
        feed(
            &mut state,
            r#"{"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"length"}]}"#,
        )
        .unwrap();
        let reply = state.finish(false).unwrap();
        assert_eq!((reply.text.as_str(), reply.stop), ("Hi", Stop::MaxTokens));
    }

    #[test]
    fn errors_in_a_stream_keep_their_status() {
        let mut state = StreamState::default();
        let err = feed(
            &mut state,
            r#"{"error":{"message":"Rate limit reached","type":"requests","code":"429"}}"#,
        )
        .unwrap_err();
        assert_eq!(
            err,
            ModelError::Status {
                status: 429,
                message: "Rate limit reached".into()
            }
        );
        let err = feed(&mut state, r#"{"error":{"message":"boom"}}"#).unwrap_err();
        assert!(matches!(err, ModelError::Status { status: 500, .. }));
        assert!(matches!(
            feed(&mut state, "not json"),
            Err(ModelError::Malformed(_))
        ));
    }

    #[test]
    fn a_content_filter_is_a_refusal_and_empty_arguments_are_none() {
        let filtered = br#"{"choices":[{"index":0,"message":{"content":""},"finish_reason":"content_filter"}]}"#;
        assert!(matches!(parse(filtered), Err(ModelError::Refused(_))));
        let no_arguments = br#"{"choices":[{"index":0,"message":{"content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"list_spaces","arguments":""}}]},"finish_reason":"tool_calls"}]}"#;
        let reply = parse(no_arguments).unwrap();
        assert_eq!(reply.tool_calls[0].arguments, json!({}));
        assert_eq!(reply.stop, Stop::ToolUse);
        let not_an_object = br#"{"choices":[{"index":0,"message":{"tool_calls":[{"id":"c1","type":"function","function":{"name":"x","arguments":"[1]"}}]},"finish_reason":"tool_calls"}]}"#;
        assert!(matches!(
            parse(not_an_object),
            Err(ModelError::Malformed(_))
        ));
        assert!(matches!(
            parse(br#"{"choices":[]}"#),
            Err(ModelError::Malformed(_))
        ));
    }

    #[test]
    fn a_tool_result_needs_its_call() {
        let prompt = Prompt {
            system: String::new(),
            messages: vec![Message {
                role: Role::Tool,
                content: "42".into(),
                tool_calls: vec![],
                tool_call_id: None,
            }],
            tools: vec![Tool {
                name: "t".into(),
                description: "d".into(),
                parameters: json!({"type": "object"}),
            }],
            temperature: 0.7,
            max_tokens: 1,
        };
        assert!(matches!(
            request("m", &prompt, false),
            Err(ModelError::Config(_))
        ));
    }
}
