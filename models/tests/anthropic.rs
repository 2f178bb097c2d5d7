//! The Anthropic Messages client against recorded exchanges.

mod common;

use common::{client, hello, key_file, replay, spec, weather};
use serde_json::json;
use tim_models::{ModelError, Provider, Stop, ToolCall, Usage};

const MODEL: &str = "claude-sonnet-4-5";

#[tokio::test]
async fn anthropic_plain_completion() {
    let server = replay("anthropic_text").await;
    let dir = tempfile::tempdir().unwrap();
    let model = client(spec(&server, Provider::Anthropic, MODEL, key_file(&dir)));
    let reply = model.complete(&hello()).await.unwrap();
    assert_eq!(reply.text, "Hello, everyone! How can I help today?");
    assert_eq!(reply.stop, Stop::End);
    assert_eq!(
        reply.usage,
        Usage {
            input_tokens: 21,
            output_tokens: 13
        }
    );
    let seen = server.assert_asked(1);
    assert!(seen[0].headers.get("authorization").is_none());
    assert!(seen[0].body.get("tools").is_none());
}

#[tokio::test]
async fn anthropic_tool_calling() {
    let server = replay("anthropic_tools").await;
    let dir = tempfile::tempdir().unwrap();
    let model = client(spec(&server, Provider::Anthropic, MODEL, key_file(&dir)));
    let reply = model.complete(&weather("toolu_lyon")).await.unwrap();
    assert_eq!(reply.stop, Stop::ToolUse);
    assert_eq!(reply.text, "I'll check the weather in Paris too.");
    assert_eq!(
        reply.tool_calls,
        vec![ToolCall {
            id: "toolu_01A09q90qw90lq917835lq9".into(),
            name: "get_weather".into(),
            arguments: json!({"location": "Paris, France"}),
        }]
    );
    server.assert_asked(1);
}

#[tokio::test]
async fn anthropic_streams_text() {
    let server = replay("anthropic_stream_text").await;
    let dir = tempfile::tempdir().unwrap();
    let model = client(spec(&server, Provider::Anthropic, MODEL, key_file(&dir)));
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
            input_tokens: 21,
            output_tokens: 15
        }
    );
    server.assert_asked(1);
}

#[tokio::test]
async fn anthropic_streams_tool_calls() {
    let server = replay("anthropic_stream_tools").await;
    let dir = tempfile::tempdir().unwrap();
    let model = client(spec(&server, Provider::Anthropic, MODEL, key_file(&dir)));
    let mut pieces = Vec::new();
    let reply = model
        .stream(&weather("toolu_lyon"), &mut |text| {
            pieces.push(text.to_owned())
        })
        .await
        .unwrap();
    assert_eq!(pieces, ["Checking Paris"]);
    assert_eq!(reply.stop, Stop::ToolUse);
    assert_eq!(
        reply.tool_calls,
        vec![ToolCall {
            id: "toolu_01T1x1fJ34qAmk2tNTrN7Up6".into(),
            name: "get_weather".into(),
            arguments: json!({"location": "Paris, France"}),
        }]
    );
    assert_eq!(reply.usage.output_tokens, 89);
    server.assert_asked(1);
}

#[tokio::test]
async fn anthropic_refusal_is_refused() {
    let server = replay("anthropic_refusal").await;
    let dir = tempfile::tempdir().unwrap();
    let model = client(spec(&server, Provider::Anthropic, MODEL, key_file(&dir)));
    let err = model.complete(&hello()).await.unwrap_err();
    assert_eq!(err, ModelError::Refused("I can't help with that.".into()));
    server.assert_asked(1);
}

#[tokio::test]
async fn anthropic_overloaded_stream_is_retried() {
    let server = replay("anthropic_overloaded_stream").await;
    let dir = tempfile::tempdir().unwrap();
    let model = client(spec(&server, Provider::Anthropic, MODEL, key_file(&dir)));
    let mut pieces = Vec::new();
    let reply = model
        .stream(&hello(), &mut |text| pieces.push(text.to_owned()))
        .await
        .unwrap();
    assert_eq!(pieces, ["Hello", ", everyone", "!"], "told once");
    assert_eq!(reply.text, "Hello, everyone!");
    server.assert_asked(2);
}
