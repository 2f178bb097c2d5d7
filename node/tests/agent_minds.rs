//! Agents whose behaviour is not built in (docs/agents.md): one backed by a language model,
//! reached over HTTP on loopback where a server replays recorded exchanges (the machine has no
//! model), and one whose ability is served by an MCP server's tool; and the memory both keep.

mod common;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode;
use common::{node, poll, JOIN};
use serde_json::{json, Value};
use tim_node::api::RateLimit;
use tim_node::memory::Layer;
use tim_node::service::{Caller, Service};
use tim_node::Handle;
use tim_protocol::api::{
    CreateSpace, DeclareAbility, JoinSpace, NewAgent, NewRequest, TimelineQuery,
};
use tim_protocol::{Did, SpaceId};

fn service(h: &Handle) -> (Service, Caller) {
    (
        Service::new(h.clone(), "admin", RateLimit::default()),
        Caller::operator(h.timite()),
    )
}

async fn space(s: &Service, caller: &Caller, name: &str, purpose: &str) -> SpaceId {
    let req = CreateSpace {
        name: name.into(),
        purpose: purpose.into(),
        visibility: None,
        ttl_secs: None,
        encrypted: None,
    };
    s.create_space(caller, &req).await.unwrap().id
}

/// Waits until a message by `author` containing `text` is in the space.
async fn said(s: &Service, caller: &Caller, space: SpaceId, author: Did, text: &str) {
    poll(
        20,
        &format!("a message by {author} with `{text}`"),
        || async {
            let query = TimelineQuery {
                limit: Some(200),
                ..TimelineQuery::default()
            };
            let page = s.timeline(caller, space, &query).await.unwrap();
            page.messages
                .iter()
                .any(|m| m.author == author && m.text.contains(text))
                .then_some(())
        },
    )
    .await
}

/// Waits until the agent's log has an entry of `kind` containing `text`.
async fn logged(s: &Service, operator: &Caller, agent: &str, kind: &str, text: &str) {
    poll(
        20,
        &format!("a `{kind}` log entry with `{text}`"),
        || async {
            let log = s
                .agent_logs(operator, agent, Default::default())
                .await
                .unwrap();
            log.iter()
                .any(|e| e.kind == kind && e.text.contains(text))
                .then_some(())
        },
    )
    .await
}

/// A model provider's stand-in on 127.0.0.1: answers `POST /v1/chat/completions` with the
/// recorded answers given, in order, and keeps the bodies it was sent.
struct Replay {
    endpoint: String,
    seen: Arc<Mutex<Vec<Value>>>,
}

#[derive(Clone)]
struct Recorded {
    answers: Arc<Mutex<VecDeque<(StatusCode, String)>>>,
    seen: Arc<Mutex<Vec<Value>>>,
}

async fn replay(answers: Vec<(StatusCode, String)>) -> Replay {
    let state = Recorded {
        answers: Arc::new(Mutex::new(answers.into())),
        seen: Arc::default(),
    };
    let seen = state.seen.clone();
    let app = axum::Router::new()
        .route(
            "/v1/chat/completions",
            axum::routing::post(
                |State(r): State<Recorded>, body: axum::body::Bytes| async move {
                    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    r.seen.lock().unwrap().push(body);
                    let next = r.answers.lock().unwrap().pop_front();
                    let (status, text) = next.unwrap_or((
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "no more recorded answers".into(),
                    ));
                    let json = [("content-type", "application/json")];
                    (status, json, text)
                },
            ),
        )
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Replay {
        endpoint: format!("http://{addr}/v1"),
        seen,
    }
}

/// The provider's answer recorded in models/tests/fixtures/`name`.json.
fn recorded(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../models/tests/fixtures")
        .join(format!("{name}.json"));
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    fixture["responses"][0]["json"].to_string()
}

fn offline_agent(name: &str, persona: &str, space: SpaceId) -> NewAgent {
    NewAgent {
        name: name.into(),
        persona: persona.into(),
        model: None,
        endpoint: None,
        key_env: None,
        key_file: None,
        spaces: vec![space],
        via: Vec::new(),
    }
}

fn model_agent(name: &str, persona: &str, endpoint: &str, space: SpaceId) -> NewAgent {
    NewAgent {
        model: Some("openai:gpt-4o-mini".into()),
        endpoint: Some(endpoint.into()),
        ..offline_agent(name, persona, space)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_agent_answers_a_mention_from_what_it_remembers_and_forgets_on_removal() {
    let tmp = tempfile::tempdir().unwrap();
    let n = node(&tmp, 1).await;
    let (s, op) = service(&n.handle);
    let garden = space(&s, &op, "garden", "The community garden").await;
    let model = replay(vec![(StatusCode::OK, recorded("openai_text"))]).await;
    let sage = s
        .create_agent(
            &op,
            &model_agent("sage", "mediator", &model.endpoint, garden),
        )
        .await
        .unwrap();

    s.post(&op, garden, "The plots need watering on Monday.")
        .await
        .unwrap();
    s.post(&op, garden, "What does sage think?").await.unwrap();
    said(
        &s,
        &op,
        garden,
        sage.did,
        "How can I help today? (sage, an agent)",
    )
    .await;

    // One call, built from the persona and what the agent remembered of the space.
    let seen = model.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "one mention, one call: {seen:?}");
    assert_eq!(seen[0]["model"], "gpt-4o-mini");
    let prompt = seen[0]["messages"].to_string();
    assert!(prompt.contains("You are sage"), "{prompt}");
    assert!(
        prompt.contains("The plots need watering on Monday."),
        "the earlier message is in the prompt's memory: {prompt}"
    );

    // Its memory holds what it saw and what it said; removing it erases that.
    let memory = n.handle.memory().unwrap();
    let session = memory
        .recall(&sage.did, Some(garden), Some(Layer::Session), 50)
        .unwrap();
    assert!(session.iter().any(|e| e.text.contains("watering")));
    assert!(session.iter().any(|e| e.text.contains("How can I help")));
    s.remove_agent(&op, "sage").await.unwrap();
    for layer in [Layer::Session, Layer::Space, Layer::Personal, Layer::Meta] {
        let scope = (layer != Layer::Personal && layer != Layer::Meta).then_some(garden);
        let left = memory.recall(&sage.did, scope, Some(layer), 500).unwrap();
        assert!(left.is_empty(), "{layer:?} left: {left:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusing_or_broken_model_stops_neither_the_node_nor_other_agents() {
    let tmp = tempfile::tempdir().unwrap();
    let n = node(&tmp, 2).await;
    let (s, op) = service(&n.handle);
    let lobby = space(&s, &op, "lobby", "Meeting people").await;
    let model = replay(vec![
        (StatusCode::OK, recorded("openai_refusal")),
        (StatusCode::OK, "{\"choices\": 7}".into()),
    ])
    .await;
    s.create_agent(
        &op,
        &model_agent("sage", "mediator", &model.endpoint, lobby),
    )
    .await
    .unwrap();
    let greeter = offline_agent("doorman", "greeter", lobby);
    let doorman = s.create_agent(&op, &greeter).await.unwrap();

    s.post(&op, lobby, "sage, help?").await.unwrap();
    logged(&s, &op, "sage", "model", "the model refused").await;
    s.post(&op, lobby, "sage, again?").await.unwrap();
    logged(&s, &op, "sage", "model", "malformed").await;

    // The node and the other agent go on.
    let bob = s.add_timite(&op).await.unwrap().did;
    s.join_space(&Caller::timite(bob), lobby, &JoinSpace::default())
        .await
        .unwrap();
    let short = tim_node::agents::builtins::short_did(&bob);
    said(&s, &op, lobby, doorman.did, &short).await;
    let sage = s.agent(&op, "sage").await.unwrap();
    assert_eq!(sage.status, "running", "{sage:?}");
}

/// node/tests/mcp-tools, if its npm packages are installed (scripts/test installs them).
fn mcp_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/mcp-tools");
    if dir
        .join("node_modules/@modelcontextprotocol/server-everything")
        .exists()
    {
        return Some(dir);
    }
    eprintln!("SKIPPED: npm ci --prefix node/tests/mcp-tools (scripts/test does)");
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agents_ability_served_by_an_mcp_tool_answers_a_request() {
    let Some(dir) = mcp_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let n = node(&tmp, 3).await;
    let (s, op) = service(&n.handle);
    let work = space(&s, &op, "work", "Tools").await;
    // The owner's first declaration brings the space to the abilities' schema.
    let own = DeclareAbility {
        description: "Reads aloud".into(),
        input_schema: json!({"type": "object"}),
        output_schema: json!({"type": "object"}),
        credential: None,
        attestation: None,
        price: None,
    };
    s.declare_ability(&op, work, "text.read", &own)
        .await
        .unwrap();
    let main = dir.join("node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    let persona = format!(
        r#"name = "toolsmith"
description = "Offers an MCP server's echo tool."
template = "specialist"
proactivity = 0.0

[[abilities]]
name = "tools.echo"
description = "Says back what it is given."
serve = {{ mcp = {{ tool = "echo", server = {{ command = "node", args = [{main:?}, "stdio"] }} }} }}
"#
    );
    let smith = s
        .create_agent(&op, &offline_agent("toolsmith", &persona, work))
        .await
        .unwrap();
    let declared = poll(JOIN.as_secs(), "the tool's declaration", || async {
        let all = s.abilities(&op, work).await.unwrap();
        all.into_iter()
            .find(|d| d.provider == smith.did && d.name == "tools.echo")
    })
    .await;
    assert_eq!(
        declared.input_schema["properties"]["message"]["type"], "string",
        "declared with the tool's own input schema: {:?}",
        declared.input_schema
    );

    let made = s
        .request_ability(
            &op,
            work,
            &NewRequest {
                ability: "tools.echo".into(),
                input: json!({ "message": "hello from a human" }),
                to: Some(smith.did),
                timeout_secs: Some(60),
            },
        )
        .await
        .unwrap();
    let done = poll(JOIN.as_secs(), "the tool's answer", || async {
        let r = s.request(&op, work, &made.id).await.unwrap();
        (r.state == "completed" || r.state == "failed").then_some(r)
    })
    .await;
    assert_eq!(done.state, "completed", "{done:?}");
    assert!(
        done.output
            .unwrap()
            .to_string()
            .contains("hello from a human"),
        "the echo carries the input"
    );
}
