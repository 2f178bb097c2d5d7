//! Anthropic's Messages API (`POST {endpoint}/v1/messages`): the request body with content
//! blocks, the answer, and the streamed answer (`message_start`, `content_block_*`,
//! `message_delta`, `message_stop`, `error` events). Anthropic's API reference, "Messages" and
//! "Streaming Messages", is the source of every field here.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::openai::MAX_TOOL_CALLS;
use crate::sse::SseEvent;
use crate::{ModelError, Prompt, Reply, Role, Stop, ToolCall, Usage};

/// The most content blocks one streamed answer may have.
const MAX_BLOCKS: usize = 2 * MAX_TOOL_CALLS;

/// The request body for `prompt`. Consecutive messages that map to the same role (a tool's
/// results are the user's) are merged into one, as the API wants turns to alternate.
pub(crate) fn request(model: &str, prompt: &Prompt, stream: bool) -> Result<Value, ModelError> {
    let mut messages: Vec<(&str, Vec<Value>)> = Vec::with_capacity(prompt.messages.len());
    for message in &prompt.messages {
        let mut blocks = Vec::new();
        let role = match message.role {
            Role::User => {
                blocks.push(json!({"type": "text", "text": message.content}));
                "user"
            }
            Role::Assistant => {
                if !message.content.is_empty() {
                    blocks.push(json!({"type": "text", "text": message.content}));
                }
                for call in &message.tool_calls {
                    blocks.push(json!({
                        "type": "tool_use",
                        "id": call.id,
                        "name": call.name,
                        "input": call.arguments,
                    }));
                }
                "assistant"
            }
            Role::Tool => {
                let id = message.tool_call_id.as_deref().ok_or_else(|| {
                    ModelError::Config("a tool message needs the id of the call it answers".into())
                })?;
                blocks.push(json!({
                    "type": "tool_result",
                    "tool_use_id": id,
                    "content": message.content,
                }));
                "user"
            }
        };
        match messages.last_mut() {
            Some((last, content)) if *last == role => content.extend(blocks),
            _ => messages.push((role, blocks)),
        }
    }
    let messages: Vec<Value> = messages
        .into_iter()
        .map(|(role, content)| json!({"role": role, "content": content}))
        .collect();
    let mut body = json!({
        "model": model,
        "max_tokens": prompt.max_tokens,
        "messages": messages,
        "temperature": crate::temperature(prompt.temperature),
    });
    if !prompt.system.is_empty() {
        body["system"] = Value::String(prompt.system.clone());
    }
    if !prompt.tools.is_empty() {
        let tools: Vec<Value> = prompt
            .tools
            .iter()
            .map(|tool| {
                json!({
                    "name": tool.name,
                    "description": tool.description,
                    "input_schema": tool.parameters,
                })
            })
            .collect();
        body["tools"] = Value::Array(tools);
    }
    if stream {
        body["stream"] = Value::Bool(true);
    }
    Ok(body)
}

#[derive(Deserialize)]
struct Message {
    content: Vec<Block>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: WireUsage,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block {
    Text {
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
        #[serde(default)]
        input: Value,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize, Default)]
struct WireUsage {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
}

impl WireUsage {
    /// `usage` with the counts this one has.
    fn apply(&self, usage: &mut Usage) {
        if let Some(input) = self.input_tokens {
            usage.input_tokens = input;
        }
        if let Some(output) = self.output_tokens {
            usage.output_tokens = output;
        }
    }
}

/// The whole answer.
pub(crate) fn parse(body: &[u8]) -> Result<Reply, ModelError> {
    let message: Message = serde_json::from_slice(body)
        .map_err(|e| ModelError::Malformed(format!("not a Messages answer: {e}")))?;
    let mut usage = Usage::default();
    message.usage.apply(&mut usage);
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    for block in message.content {
        match block {
            Block::Text { text: piece } => text.push_str(&piece),
            Block::ToolUse { id, name, input } => {
                tool_calls.push(tool_call(id, name, input)?);
                if tool_calls.len() > MAX_TOOL_CALLS {
                    return Err(too_many_calls());
                }
            }
            Block::Other => {}
        }
    }
    reply(text, tool_calls, usage, message.stop_reason.as_deref())
}

fn too_many_calls() -> ModelError {
    ModelError::Malformed(format!(
        "more than {MAX_TOOL_CALLS} tool calls in one answer"
    ))
}

fn tool_call(id: String, name: String, input: Value) -> Result<ToolCall, ModelError> {
    let arguments = match input {
        Value::Null => json!({}),
        Value::Object(_) => input,
        _ => {
            return Err(ModelError::Malformed(format!(
                "the input of the call of {name} is not a JSON object"
            )))
        }
    };
    Ok(ToolCall {
        id,
        name,
        arguments,
    })
}

/// The reply, by `stop_reason`.
fn reply(
    text: String,
    tool_calls: Vec<ToolCall>,
    usage: Usage,
    stop_reason: Option<&str>,
) -> Result<Reply, ModelError> {
    let stop = match stop_reason {
        Some("refusal") => {
            let reason = if text.is_empty() {
                "the model declined to answer".to_owned()
            } else {
                text
            };
            return Err(ModelError::Refused(reason));
        }
        Some("max_tokens" | "model_context_window_exceeded") => Stop::MaxTokens,
        Some("tool_use") if tool_calls.is_empty() => {
            return Err(ModelError::Malformed(
                "the answer stopped for tool use but made no tool call".into(),
            ))
        }
        _ if !tool_calls.is_empty() => Stop::ToolUse,
        // `end_turn`, `stop_sequence`, `pause_turn`, and reasons added later.
        _ => Stop::End,
    };
    Ok(Reply {
        text,
        tool_calls,
        usage,
        stop,
    })
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Event {
    MessageStart {
        message: StartedMessage,
    },
    ContentBlockStart {
        index: usize,
        content_block: Block,
    },
    ContentBlockDelta {
        index: usize,
        delta: BlockDelta,
    },
    MessageDelta {
        delta: MessageDelta,
        #[serde(default)]
        usage: WireUsage,
    },
    MessageStop,
    Error {
        error: ApiError,
    },
    /// `ping`, `content_block_stop`, and events added later.
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct StartedMessage {
    #[serde(default)]
    usage: WireUsage,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum BlockDelta {
    TextDelta {
        text: String,
    },
    InputJsonDelta {
        partial_json: String,
    },
    /// Thinking, signatures, citations.
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct MessageDelta {
    #[serde(default)]
    stop_reason: Option<String>,
}

#[derive(Deserialize)]
struct ApiError {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    message: String,
}

/// A content block being streamed.
enum PartialBlock {
    Text(String),
    ToolUse {
        id: String,
        name: String,
        input: Value,
        json: String,
    },
    Other,
}

/// A streamed answer so far.
#[derive(Default)]
pub(crate) struct StreamState {
    blocks: BTreeMap<usize, PartialBlock>,
    stop_reason: Option<String>,
    usage: Usage,
}

impl StreamState {
    /// Feeds one event: text deltas go to `on_text`; true at `message_stop`.
    pub(crate) fn feed(
        &mut self,
        event: &SseEvent,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<bool, ModelError> {
        let parsed: Event = serde_json::from_str(&event.data)
            .map_err(|e| ModelError::Malformed(format!("not a Messages stream event: {e}")))?;
        match parsed {
            Event::MessageStart { message } => message.usage.apply(&mut self.usage),
            Event::ContentBlockStart {
                index,
                content_block,
            } => {
                if index >= MAX_BLOCKS {
                    return Err(ModelError::Malformed(format!(
                        "more than {MAX_BLOCKS} content blocks in one answer"
                    )));
                }
                let block = match content_block {
                    Block::Text { text } => {
                        on_text(&text);
                        PartialBlock::Text(text)
                    }
                    Block::ToolUse { id, name, input } => PartialBlock::ToolUse {
                        id,
                        name,
                        input,
                        json: String::new(),
                    },
                    Block::Other => PartialBlock::Other,
                };
                self.blocks.insert(index, block);
            }
            Event::ContentBlockDelta { index, delta } => {
                let block = self.blocks.get_mut(&index).ok_or_else(|| {
                    ModelError::Malformed(format!("a delta for block {index}, which never started"))
                })?;
                match (block, delta) {
                    (PartialBlock::Text(text), BlockDelta::TextDelta { text: piece }) => {
                        on_text(&piece);
                        text.push_str(&piece);
                    }
                    (
                        PartialBlock::ToolUse { json, .. },
                        BlockDelta::InputJsonDelta { partial_json },
                    ) => {
                        json.push_str(&partial_json);
                    }
                    (_, BlockDelta::Other) | (PartialBlock::Other, _) => {}
                    _ => {
                        return Err(ModelError::Malformed(format!(
                            "a delta that does not fit block {index}"
                        )))
                    }
                }
            }
            Event::MessageDelta { delta, usage } => {
                usage.apply(&mut self.usage);
                if delta.stop_reason.is_some() {
                    self.stop_reason = delta.stop_reason;
                }
            }
            Event::MessageStop => return Ok(true),
            Event::Error { error } => {
                return Err(ModelError::Status {
                    status: error_status(&error.kind),
                    message: error.message,
                })
            }
            Event::Other => {}
        }
        Ok(false)
    }

    /// The answer; `ended` says whether `message_stop` came.
    pub(crate) fn finish(self, ended: bool) -> Result<Reply, ModelError> {
        if !ended {
            return Err(ModelError::Transport(
                "the stream ended before the answer did".into(),
            ));
        }
        let mut text = String::new();
        let mut tool_calls = Vec::new();
        for block in self.blocks.into_values() {
            match block {
                PartialBlock::Text(piece) => text.push_str(&piece),
                PartialBlock::ToolUse {
                    id,
                    name,
                    input,
                    json,
                } => {
                    let input = if json.trim().is_empty() {
                        input
                    } else {
                        serde_json::from_str(&json).map_err(|e| {
                            ModelError::Malformed(format!(
                                "the input of the call of {name} is not JSON: {e}"
                            ))
                        })?
                    };
                    tool_calls.push(tool_call(id, name, input)?);
                }
                PartialBlock::Other => {}
            }
        }
        reply(text, tool_calls, self.usage, self.stop_reason.as_deref())
    }
}

/// The HTTP status an error event stands for (Anthropic's "Errors" page), so that it is
/// retried like the status would be.
fn error_status(kind: &str) -> u16 {
    match kind {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "billing_error" => 402,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        "timeout_error" => 504,
        "overloaded_error" => 529,
        _ => 500,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Message;

    fn feed(state: &mut StreamState, data: &str) -> Result<bool, ModelError> {
        let event = SseEvent {
            event: None,
            data: data.to_owned(),
        };
        state.feed(&event, &mut |_| {})
    }

    fn message(role: Role, content: &str, id: Option<&str>) -> Message {
        Message {
            role,
            content: content.into(),
            tool_calls: vec![],
            tool_call_id: id.map(str::to_owned),
        }
    }

    #[test]
    fn tool_results_and_the_next_question_are_one_user_turn() {
        let prompt = Prompt {
            system: String::new(),
            messages: vec![
                message(Role::Tool, "12°C", Some("toolu_1")),
                message(Role::Tool, "15°C", Some("toolu_2")),
                message(Role::User, "And tomorrow?", None),
            ],
            tools: vec![],
            temperature: 0.7,
            max_tokens: 64,
        };
        let body = request("claude", &prompt, false).unwrap();
        assert!(body.get("system").is_none());
        assert_eq!(body["temperature"], json!(0.7));
        assert_eq!(
            body["messages"],
            json!([{"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "12°C"},
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": "15°C"},
                {"type": "text", "text": "And tomorrow?"},
            ]}])
        );
    }

    #[test]
    fn a_broken_stream_is_an_error() {
        let mut state = StreamState::default();
        let err = feed(
            &mut state,
            r#"{"type":"content_block_delta","index":3,"delta":{"type":"text_delta","text":"x"}}"#,
        )
        .unwrap_err();
        assert!(matches!(err, ModelError::Malformed(_)), "{err:?}");

        let err = feed(
            &mut state,
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        )
        .unwrap_err();
        assert_eq!(
            err,
            ModelError::Status {
                status: 529,
                message: "Overloaded".into()
            }
        );

        let mut state = StreamState::default();
        feed(
            &mut state,
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"t","name":"n","input":{}}}"#,
        )
        .unwrap();
        feed(
            &mut state,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"a\": "}}"#,
        )
        .unwrap();
        assert!(matches!(state.finish(false), Err(ModelError::Transport(_))));
    }

    #[test]
    fn input_cut_short_is_malformed() {
        let mut state = StreamState::default();
        for data in [
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"t","name":"n","input":{}}}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"a\": "}}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":3}}"#,
        ] {
            assert!(!feed(&mut state, data).unwrap());
        }
        assert!(feed(&mut state, r#"{"type":"message_stop"}"#).unwrap());
        assert!(matches!(state.finish(true), Err(ModelError::Malformed(_))));
    }
}
