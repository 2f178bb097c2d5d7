//! A model provider's stand-in: an HTTP server on 127.0.0.1 that replays a recorded exchange
//! (tests/fixtures/*.json, see the README there) and keeps every request it was sent, and the
//! prompts and clients the tests share.

#![allow(dead_code)] // each test file uses a part

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{json, Value};
use tim_models::{
    KeySource, Message, ModelClient, ModelSpec, Prompt, Provider, RetryPolicy, Role, Tool, ToolCall,
};

/// The key the tests give their clients, and that fixtures expect in the request's header.
pub(crate) const KEY: &str = "sk-test-tim-7f3a9c2e41d86b05";

/// One recorded exchange.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Fixture {
    /// Where the answers come from (the provider's documentation).
    pub(crate) source: String,
    /// What every request must be.
    pub(crate) request: Expect,
    /// The answer to the first request, the second, ...
    pub(crate) responses: Vec<Answer>,
}

/// What a request must be.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Expect {
    /// Its path.
    pub(crate) path: String,
    /// Headers it must carry, with these values.
    #[serde(default)]
    pub(crate) headers: BTreeMap<String, String>,
    /// The JSON body it must have: every field given here with this value (objects may have
    /// more fields; arrays must match element by element).
    pub(crate) body: Value,
}

/// One answer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Answer {
    /// Its status (200 if absent).
    #[serde(default = "ok")]
    pub(crate) status: u16,
    /// Its headers.
    #[serde(default)]
    pub(crate) headers: BTreeMap<String, String>,
    /// A JSON body.
    #[serde(default)]
    pub(crate) json: Option<Value>,
    /// A body as it is.
    #[serde(default)]
    pub(crate) raw: Option<String>,
    /// A body sent as these pieces, one after another (server-sent events).
    #[serde(default)]
    pub(crate) sse: Vec<String>,
    /// Never answer (no `sse`), or never end the stream after the pieces.
    #[serde(default)]
    pub(crate) hang: bool,
}

fn ok() -> u16 {
    200
}

impl Fixture {
    /// Reads tests/fixtures/`name`.json.
    pub(crate) fn load(name: &str) -> Self {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(format!("{name}.json"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"))
    }
}

/// A request the server was sent.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) path: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Value,
}

struct Inner {
    fixture: Fixture,
    seen: Mutex<Vec<Seen>>,
}

/// A replaying server, running until the test's runtime ends.
pub(crate) struct Replay {
    pub(crate) addr: SocketAddr,
    inner: Arc<Inner>,
}

/// Serves `fixture` on a free port of 127.0.0.1.
pub(crate) async fn serve(fixture: Fixture) -> Replay {
    let inner = Arc::new(Inner {
        fixture,
        seen: Mutex::new(Vec::new()),
    });
    let app = axum::Router::new()
        .fallback(answer)
        .with_state(inner.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Replay { addr, inner }
}

/// Serves tests/fixtures/`name`.json.
pub(crate) async fn replay(name: &str) -> Replay {
    serve(Fixture::load(name)).await
}

async fn answer(
    State(inner): State<Arc<Inner>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = serde_json::from_slice(&body)
        .unwrap_or(Value::String(String::from_utf8_lossy(&body).into_owned()));
    let n = {
        let mut seen = inner.seen.lock().unwrap();
        seen.push(Seen {
            path: uri.path().to_owned(),
            headers,
            body,
        });
        seen.len() - 1
    };
    let Some(answer) = inner.fixture.responses.get(n).cloned() else {
        // Not retried by the client, and no fixture expects it: the test sees it.
        return Response::builder()
            .status(418)
            .body(Body::from("the fixture has no answer for this request"))
            .unwrap();
    };
    if answer.hang && answer.sse.is_empty() {
        let never: Infallible = std::future::pending().await;
        match never {}
    }
    let mut response = Response::builder().status(answer.status);
    for (name, value) in &answer.headers {
        response = response.header(name, value);
    }
    let body = if let Some(json) = answer.json {
        response = response.header("content-type", "application/json");
        Body::from(json.to_string())
    } else if let Some(raw) = answer.raw {
        Body::from(raw)
    } else {
        response = response.header("content-type", "text/event-stream");
        let pieces = futures::stream::iter(answer.sse).map(Ok::<_, Infallible>);
        if answer.hang {
            Body::from_stream(pieces.chain(futures::stream::pending()))
        } else {
            Body::from_stream(pieces)
        }
    };
    response.body(body).unwrap()
}

impl Replay {
    /// The endpoint a spec names to reach it (the protocol's path is added by the client).
    pub(crate) fn endpoint(&self, provider: Provider) -> String {
        match provider {
            Provider::OpenAi => format!("http://{}/v1", self.addr),
            Provider::Anthropic => format!("http://{}", self.addr),
        }
    }

    /// The requests it was sent so far.
    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.inner.seen.lock().unwrap().clone()
    }

    /// Asserts it was sent `n` requests, each the fixture's expected request.
    pub(crate) fn assert_asked(&self, n: usize) -> Vec<Seen> {
        let seen = self.seen();
        assert_eq!(seen.len(), n, "requests: {seen:#?}");
        let expect = &self.inner.fixture.request;
        for request in &seen {
            assert_eq!(request.path, expect.path);
            for (name, value) in &expect.headers {
                assert_eq!(
                    request.headers.get(name).and_then(|v| v.to_str().ok()),
                    Some(value.as_str()),
                    "header {name}"
                );
            }
            if let Err(at) = contains(&request.body, &expect.body, "") {
                panic!(
                    "the request's body differs at `{at}`:\n{:#}\nexpected:\n{:#}",
                    request.body, expect.body
                );
            }
        }
        seen
    }
}

/// Whether `actual` has every field of `expected` (`Err` names the first that differs).
fn contains(actual: &Value, expected: &Value, at: &str) -> Result<(), String> {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => e.iter().try_for_each(|(k, v)| {
            let at = format!("{at}/{k}");
            contains(a.get(k).ok_or_else(|| at.clone())?, v, &at)
        }),
        (Value::Array(a), Value::Array(e)) if a.len() == e.len() => a
            .iter()
            .zip(e)
            .enumerate()
            .try_for_each(|(i, (a, e))| contains(a, e, &format!("{at}/{i}"))),
        _ if actual == expected => Ok(()),
        _ => Err(at.to_owned()),
    }
}

/// Writes [`KEY`] to a file in `dir` and names it.
pub(crate) fn key_file(dir: &tempfile::TempDir) -> KeySource {
    let path = dir.path().join("model.key");
    std::fs::write(&path, format!("{KEY}\n")).unwrap();
    KeySource::File(path)
}

/// A spec for the replaying server: `key`, a 5 s timeout, 2 retries.
pub(crate) fn spec(replay: &Replay, provider: Provider, model: &str, key: KeySource) -> ModelSpec {
    ModelSpec {
        provider,
        model: model.into(),
        endpoint: Some(replay.endpoint(provider)),
        key,
        timeout: Duration::from_secs(5),
        retries: 2,
    }
}

/// A client of `spec` that backs off for milliseconds, not seconds.
pub(crate) fn client(spec: ModelSpec) -> ModelClient {
    ModelClient::new(spec)
        .unwrap()
        .with_retry_policy(RetryPolicy {
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            max_retry_after: Duration::from_secs(5),
        })
}

/// A one-question prompt, no tools.
pub(crate) fn hello() -> Prompt {
    Prompt {
        system: "You are Tim's helper.".into(),
        messages: vec![Message {
            role: Role::User,
            content: "Say hello to the space.".into(),
            tool_calls: vec![],
            tool_call_id: None,
        }],
        tools: vec![],
        temperature: 0.5,
        max_tokens: 256,
    }
}

/// The weather tool.
pub(crate) fn weather_tool() -> Tool {
    Tool {
        name: "get_weather".into(),
        description: "The current weather in a city.".into(),
        parameters: json!({
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "City and country, e.g. Paris, France"}
            },
            "required": ["location"]
        }),
    }
}

/// A conversation with a tool call answered (its id `call_id`), and the weather tool.
pub(crate) fn weather(call_id: &str) -> Prompt {
    Prompt {
        system: "You are Tim's helper.".into(),
        messages: vec![
            Message {
                role: Role::User,
                content: "What is the weather in Paris and in Lyon?".into(),
                tool_calls: vec![],
                tool_call_id: None,
            },
            Message {
                role: Role::Assistant,
                content: String::new(),
                tool_calls: vec![ToolCall {
                    id: call_id.into(),
                    name: "get_weather".into(),
                    arguments: json!({"location": "Lyon, France"}),
                }],
                tool_call_id: None,
            },
            Message {
                role: Role::Tool,
                content: "12°C, cloudy".into(),
                tool_calls: vec![],
                tool_call_id: Some(call_id.into()),
            },
        ],
        tools: vec![weather_tool()],
        temperature: 0.0,
        max_tokens: 512,
    }
}

/// Waits until `check` holds, or panics after 10 s with `what`.
pub(crate) async fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
