//! The OpenAI-compatible client against recorded chat-completion exchanges.

mod common;

use common::{client, hello, key_file, replay, spec, weather};
use serde_json::json;
use tim_models::{KeySource, ModelError, ModelSpec, Provider, Stop, ToolCall, Usage};

#[tokio::test]
async fn openai_plain_completion() {
    let server = replay("openai_text").await;
    let dir = tempfile::tempdir().unwrap();
    let model = client(spec(
        &server,
        Provider::OpenAi,
        "gpt-4o-mini",
        key_file(&dir),
    ));
    let reply = model.complete(&hello()).await.unwrap();
    assert_eq!(reply.text, "Hello, everyone! How can I help today?");
    assert_eq!(reply.stop, Stop::End);
    assert!(reply.tool_calls.is_empty());
    assert_eq!(
        reply.usage,
        Usage {
            input_tokens: 19,
            output_tokens: 10
        }
    );
    let seen = server.assert_asked(1);
    assert!(seen[0].body.get("tools").is_none(), "no tools, no `tools`");
    assert!(seen[0].body.get("stream").is_none());
}

#[tokio::test]
async fn openai_tool_calling() {
    let server = replay("openai_tools").await;
    let dir = tempfile::tempdir().unwrap();
    let model = client(spec(
        &server,
        Provider::OpenAi,
        "gpt-4o-mini",
        key_file(&dir),
    ));
    let reply = model.complete(&weather("call_lyon")).await.unwrap();
    assert_eq!(reply.stop, Stop::ToolUse);
    assert_eq!(reply.text, "");
    assert_eq!(
        reply.tool_calls,
        vec![ToolCall {
            id: "call_abc123".into(),
            name: "get_weather".into(),
            arguments: json!({"location": "Paris, France"}),
        }]
    );
    server.assert_asked(1);
}

#[tokio::test]
async fn openai_streams_text() {
    let server = replay("openai_stream_text").await;
    let dir = tempfile::tempdir().unwrap();
    let model = client(spec(
        &server,
        Provider::OpenAi,
        "gpt-4o-mini",
        key_file(&dir),
    ));
    let mut pieces = Vec::new();
    let reply = model
        .stream(&hello(), &mut |text| pieces.push(text.to_owned()))
        .await
        .unwrap();
    assert_eq!(pieces, ["Hello", ", everyone", "!"]);
    assert_eq!(reply.text, "Hello, everyone!");
    assert_eq!(reply.stop, Stop::End);
    assert_eq!(
        reply.usage,
        Usage {
            input_tokens: 19,
            output_tokens: 4
        }
    );
    server.assert_asked(1);
}

#[tokio::test]
async fn openai_streams_tool_calls() {
    let server = replay("openai_stream_tools").await;
    let dir = tempfile::tempdir().unwrap();
    let model = client(spec(
        &server,
        Provider::OpenAi,
        "gpt-4o-mini",
        key_file(&dir),
    ));
    let mut pieces = Vec::new();
    let reply = model
        .stream(&weather("call_lyon"), &mut |text| {
            pieces.push(text.to_owned())
        })
        .await
        .unwrap();
    assert!(pieces.is_empty(), "{pieces:?}");
    assert_eq!(reply.stop, Stop::ToolUse);
    assert_eq!(
        reply.tool_calls,
        vec![
            ToolCall {
                id: "call_paris".into(),
                name: "get_weather".into(),
                arguments: json!({"location": "Paris, France"}),
            },
            ToolCall {
                id: "call_nice".into(),
                name: "get_weather".into(),
                arguments: json!({"location": "Nice, France"}),
            },
        ]
    );
    assert_eq!(reply.usage.output_tokens, 36);
    server.assert_asked(1);
}

#[tokio::test]
async fn openai_refusal_is_refused() {
    let server = replay("openai_refusal").await;
    let dir = tempfile::tempdir().unwrap();
    let model = client(spec(
        &server,
        Provider::OpenAi,
        "gpt-4o-mini",
        key_file(&dir),
    ));
    let err = model.complete(&hello()).await.unwrap_err();
    assert_eq!(
        err,
        ModelError::Refused("I'm sorry, I cannot assist with that request.".into())
    );
    server.assert_asked(1);
}

#[tokio::test]
async fn openai_arguments_that_are_not_json_are_malformed() {
    let server = replay("openai_bad_arguments").await;
    let dir = tempfile::tempdir().unwrap();
    let model = client(spec(
        &server,
        Provider::OpenAi,
        "gpt-4o-mini",
        key_file(&dir),
    ));
    let err = model.complete(&weather("call_lyon")).await.unwrap_err();
    assert!(
        matches!(&err, ModelError::Malformed(m) if m.contains("get_weather")),
        "{err:?}"
    );
    server.assert_asked(1);
}

#[tokio::test]
async fn ollama_needs_no_key() {
    let server = replay("ollama_text").await;
    let mut spec: ModelSpec = "ollama:llama3.2".parse().unwrap();
    assert_eq!(spec.endpoint.as_deref(), Some(tim_models::OLLAMA_ENDPOINT));
    assert_eq!(spec.key, KeySource::None);
    spec.endpoint = Some(server.endpoint(Provider::OpenAi));
    let reply = client(spec).complete(&hello()).await.unwrap();
    assert_eq!(reply.text, "Hello, everyone!");
    let seen = server.assert_asked(1);
    assert!(seen[0].headers.get("authorization").is_none());
}

#[tokio::test]
async fn a_server_that_does_not_stream_is_told_whole() {
    // A JSON answer to a streamed request (servers that ignore `stream`).
    let server = replay("openai_text").await;
    let dir = tempfile::tempdir().unwrap();
    let model = client(spec(
        &server,
        Provider::OpenAi,
        "gpt-4o-mini",
        key_file(&dir),
    ));
    let mut pieces = Vec::new();
    let reply = model
        .stream(&hello(), &mut |text| pieces.push(text.to_owned()))
        .await
        .unwrap();
    assert_eq!(pieces, ["Hello, everyone! How can I help today?"]);
    assert_eq!(reply.stop, Stop::End);
    let seen = server.assert_asked(1);
    assert_eq!(seen[0].body["stream"], json!(true));
}
