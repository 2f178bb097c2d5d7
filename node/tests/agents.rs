//! Agents on real nodes (docs/agents.md): each test makes agents through the service, as the
//! API does, and watches what they write in real spaces on sled stores, waiting on conditions.
//! A model-backed agent talks to a server on 127.0.0.1 that replays recorded exchanges (the
//! machine has no model); an ability may be served by a published MCP server's tool.

mod common;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode;
use common::{node, node_in, poll, restart, JOIN};
use serde_json::{json, Value};
use tim_node::api::RateLimit;
use tim_node::memory::Layer;
use tim_node::service::{Caller, Service};
use tim_node::Handle;
use tim_protocol::api::{
    AgentView, CreateSpace, DeclareAbility, JoinSpace, MessageView, NewAgent, NewRequest,
    SetProfile, TimelineQuery, TuneAgent,
};
use tim_protocol::{Did, SpaceId};

fn service(h: &Handle) -> (Service, Caller) {
    (
        Service::new(h.clone(), "admin", RateLimit::default()),
        Caller::operator(h.timite()),
    )
}

fn agent(name: &str, persona: &str, spaces: Vec<SpaceId>) -> NewAgent {
    NewAgent {
        name: name.into(),
        persona: persona.into(),
        model: None,
        endpoint: None,
        key_env: None,
        key_file: None,
        spaces,
        via: Vec::new(),
    }
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

async fn messages(s: &Service, caller: &Caller, space: SpaceId) -> Vec<MessageView> {
    let query = TimelineQuery {
        limit: Some(500),
        ..TimelineQuery::default()
    };
    let mut m = s.timeline(caller, space, &query).await.unwrap().messages;
    m.reverse();
    m
}

/// A new hosted timite that joins `space`.
async fn newcomer(s: &Service, operator: &Caller, space: SpaceId) -> Did {
    let did = s.add_timite(operator).await.unwrap().did;
    s.join_space(&Caller::timite(did), space, &JoinSpace::default())
        .await
        .unwrap();
    did
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

/// Waits until a message by `author` containing `text` is in the space.
async fn said(s: &Service, operator: &Caller, space: SpaceId, author: Did, text: &str) {
    poll(
        20,
        &format!("a message by the agent with `{text}`"),
        || async {
            messages(s, operator, space)
                .await
                .iter()
                .any(|m| m.author == author && m.text.contains(text))
                .then_some(())
        },
    )
    .await
}

/// Brings `space` to the abilities' schema: its owner's first declaration migrates it (an
/// agent's own would be refused there).
async fn abilities_schema(s: &Service, owner: &Caller, space: SpaceId) {
    let own = DeclareAbility {
        description: "Reads aloud".into(),
        input_schema: json!({"type": "object"}),
        output_schema: json!({"type": "object"}),
        credential: None,
        attestation: None,
        price: None,
    };
    s.declare_ability(owner, space, "text.read", &own)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_greeter_welcomes_a_new_member_as_itself() {
    let tmp = tempfile::tempdir().unwrap();
    let n = node(&tmp, 1).await;
    let (s, op) = service(&n.handle);
    let garden = space(&s, &op, "garden", "The community garden. Plots and seeds.").await;
    let greeter = s
        .create_agent(&op, &agent("greeter", "greeter", vec![garden]))
        .await
        .unwrap();
    assert_ne!(greeter.did, n.handle.timite(), "an agent is its own timite");
    let members = s
        .members(&op, garden, &Default::default())
        .await
        .unwrap()
        .items;
    assert!(members.iter().any(|m| m.did == greeter.did));

    let bob = newcomer(&s, &op, garden).await;
    let short = tim_node::agents::builtins::short_did(&bob);
    said(&s, &op, garden, greeter.did, &short).await;
    let welcome = messages(&s, &op, garden)
        .await
        .into_iter()
        .find(|m| m.author == greeter.did)
        .unwrap();
    assert_eq!(
        welcome.text,
        format!("Welcome, {short}! This space is for community garden. (greeter, an agent)")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_over_budget_stops_acting_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let n = node(&tmp, 2).await;
    let (s, op) = service(&n.handle);
    let lobby = space(&s, &op, "lobby", "Meeting people").await;
    s.create_agent(&op, &agent("doorman", "greeter", vec![lobby]))
        .await
        .unwrap();
    let one = TuneAgent {
        actions_per_hour: Some(1),
        ..TuneAgent::default()
    };
    let tuned = s.tune_agent(&op, "doorman", &one).await.unwrap();
    assert_eq!(tuned.tuning.actions_per_hour, 1);

    let first = newcomer(&s, &op, lobby).await;
    said(
        &s,
        &op,
        lobby,
        tuned.did,
        &tim_node::agents::builtins::short_did(&first),
    )
    .await;
    newcomer(&s, &op, lobby).await;
    logged(
        &s,
        &op,
        "doorman",
        "budget",
        "over budget: 1 actions this hour",
    )
    .await;
    let shown: AgentView = s.agent(&op, "doorman").await.unwrap();
    assert!(
        shown.status.starts_with("over budget until "),
        "{}",
        shown.status
    );
    assert_eq!(shown.budget.actions_this_hour, 1);
    let by_agent = messages(&s, &op, lobby)
        .await
        .into_iter()
        .filter(|m| m.author == tuned.did)
        .count();
    assert_eq!(by_agent, 1, "the second newcomer is not greeted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_agent_writes_nothing_and_a_resumed_one_acts_again() {
    let tmp = tempfile::tempdir().unwrap();
    let n = node(&tmp, 3).await;
    let (s, op) = service(&n.handle);
    let hall = space(&s, &op, "hall", "Town hall").await;
    let g = s
        .create_agent(&op, &agent("usher", "greeter", vec![hall]))
        .await
        .unwrap();
    // A second greeter that keeps running: its welcome is the later change by someone else,
    // made by the same path the paused one would take.
    let paused = s.pause_agent(&op, "usher").await.unwrap();
    assert_eq!(paused.status, "paused");
    let witness = s
        .create_agent(&op, &agent("witness", "greeter", vec![hall]))
        .await
        .unwrap();

    let bob = newcomer(&s, &op, hall).await;
    let short = tim_node::agents::builtins::short_did(&bob);
    said(&s, &op, hall, witness.did, &short).await;
    assert!(
        messages(&s, &op, hall)
            .await
            .iter()
            .all(|m| m.author != g.did),
        "a paused agent wrote"
    );

    let resumed = s.resume_agent(&op, "usher").await.unwrap();
    assert_eq!(resumed.status, "running");
    let carol = newcomer(&s, &op, hall).await;
    said(
        &s,
        &op,
        hall,
        g.did,
        &tim_node::agents::builtins::short_did(&carol),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_removed_from_its_space_is_refused_by_the_gate() {
    let tmp = tempfile::tempdir().unwrap();
    let n = node(&tmp, 4).await;
    let (s, op) = service(&n.handle);
    let club = space(&s, &op, "club", "Chess").await;
    let g = s
        .create_agent(&op, &agent("host", "greeter", vec![club]))
        .await
        .unwrap();
    let first = newcomer(&s, &op, club).await;
    let short = tim_node::agents::builtins::short_did(&first);
    said(&s, &op, club, g.did, &short).await;

    // Banned: the agent still sees the public space's events, tries to greet, and the space's
    // rules refuse its write.
    s.set_role(&op, club, g.did, "banned").await.unwrap();
    let second = newcomer(&s, &op, club).await;
    logged(&s, &op, "host", "refused", "refused").await;
    let short2 = tim_node::agents::builtins::short_did(&second);
    let all = messages(&s, &op, club).await;
    assert!(all.iter().all(|m| !m.text.contains(&short2)));
    // Everything it wrote is signed as itself, never as another timite of the node.
    let by_agent: Vec<_> = all.iter().filter(|m| m.text.contains("Welcome")).collect();
    assert!(!by_agent.is_empty() && by_agent.iter().all(|m| m.author == g.did));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalyst_wakes_a_quiet_space_with_a_question_from_its_purpose() {
    let tmp = tempfile::tempdir().unwrap();
    let n = node(&tmp, 5).await;
    let (s, op) = service(&n.handle);
    let bees = space(&s, &op, "bees", "Urban beekeeping. Hives on roofs.").await;
    s.post(&op, bees, "anyone here?").await.unwrap();
    let persona = tim_node::agents::persona::SHIPPED
        .iter()
        .find(|(n, _)| *n == "catalyst")
        .unwrap()
        .1
        .replace("after_secs = 3600", "after_secs = 1");
    let c = s
        .create_agent(&op, &agent("spark", &persona, vec![bees]))
        .await
        .unwrap();
    said(&s, &op, bees, c.did, "urban beekeeping").await;
    let all = messages(&s, &op, bees).await;
    let question = all.iter().find(|m| m.author == c.did).unwrap();
    // Deterministic: the question is a function of the space and its message count (1).
    assert_eq!(
        question.text,
        tim_node::agents::builtins::signed(
            &tim_node::agents::builtins::catalyst_question(
                &bees,
                1,
                "bees",
                "Urban beekeeping. Hives on roofs.",
                tim_protocol::api::AgentStyle::Casual
            ),
            "spark"
        )
    );
    // Its own question does not count as activity to answer: it waits for someone else.
    logged(&s, &op, "spark", "acted", "posted").await;
    let log = s
        .agent_logs(&op, "spark", Default::default())
        .await
        .unwrap();
    assert_eq!(log.iter().filter(|e| e.kind == "acted").count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_summarizer_serves_text_summarize_across_two_nodes() {
    let tmp = tempfile::tempdir().unwrap();
    let (n1, n2) = (node(&tmp, 6).await, node(&tmp, 7).await);
    let (s1, op1) = service(&n1.handle);
    let (s2, op2) = service(&n2.handle);
    let work = space(&s1, &op1, "work", "Reading group").await;
    abilities_schema(&s1, &op1, work).await;
    let mut req = agent("digest", "summarizer", vec![work]);
    req.via = vec![n1.addr.to_string()];
    let a = s2.create_agent(&op2, &req).await.unwrap();
    assert_eq!(a.abilities, vec!["text.summarize".to_string()]);
    poll(JOIN.as_secs(), "the declaration on node 1", || async {
        let all = s1.abilities(&op1, work).await.unwrap();
        all.iter()
            .any(|d| d.provider == a.did && d.name == "text.summarize")
            .then_some(())
    })
    .await;

    let text = "Gardens need water. Water keeps gardens alive in summer. Cats sleep a lot. \
                Summer gardens need water every day.";
    let made = s1
        .request_ability(
            &op1,
            work,
            &NewRequest {
                ability: "text.summarize".into(),
                input: json!({ "text": text }),
                to: Some(a.did),
                timeout_secs: Some(60),
                reward: None,
            },
        )
        .await
        .unwrap();
    let done = poll(JOIN.as_secs(), "the summary on node 1", || async {
        let r = s1.request(&op1, work, &made.id).await.unwrap();
        (r.state == "completed").then_some(r)
    })
    .await;
    assert_eq!(done.claimant, Some(a.did));
    assert_eq!(
        done.output,
        Some(json!({ "summary": "Gardens need water. Water keeps gardens alive in summer." }))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_restart_with_the_node() {
    let tmp = tempfile::tempdir().unwrap();
    // Keys on disk, as in a home: the agent's key is saved with the node's.
    let keys = tim_did::Keystore::init(&tmp.path().join("keys")).unwrap();
    let n = node_in(tmp.path().join("n8"), keys, vec![]).await;
    let (s, op) = service(&n.handle);
    let yard = space(&s, &op, "yard", "Neighbours").await;
    let made = s
        .create_agent(&op, &agent("porter", "greeter", vec![yard]))
        .await
        .unwrap();
    let tuned = TuneAgent {
        style: Some(tim_protocol::api::AgentStyle::Formal),
        ..TuneAgent::default()
    };
    s.tune_agent(&op, "porter", &tuned).await.unwrap();
    let starts = |log: Vec<tim_protocol::api::AgentLogEntry>| {
        log.iter().filter(|e| e.kind == "started").count()
    };
    let before = starts(
        s.agent_logs(&op, "porter", Default::default())
            .await
            .unwrap(),
    );
    let dir = n.dir.clone();
    drop((s, n));

    let n = restart(
        dir,
        tim_did::Keystore::open(&tmp.path().join("keys")).unwrap(),
    )
    .await;
    let (s, op) = service(&n.handle);
    let listed = s.list_agents(&op).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].did, made.did);
    assert_eq!(listed[0].status, "running");
    assert_eq!(
        listed[0].tuning.style,
        tim_protocol::api::AgentStyle::Formal
    );
    // The node starts its agents itself; once this one follows its space, a newcomer comes.
    poll(20, "the agent to start again", || async {
        let log = s
            .agent_logs(&op, "porter", Default::default())
            .await
            .unwrap();
        (starts(log) > before).then_some(())
    })
    .await;
    let dana = newcomer(&s, &op, yard).await;
    let short = tim_node::agents::builtins::short_did(&dana);
    said(&s, &op, yard, made.did, &format!("Welcome, {short}.")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_observer_reports_activity_when_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let n = node(&tmp, 9).await;
    let (s, op) = service(&n.handle);
    let forum = space(&s, &op, "forum", "Talk").await;
    abilities_schema(&s, &op, forum).await;
    for text in ["one", "two"] {
        s.post(&op, forum, text).await.unwrap();
    }
    let o = s
        .create_agent(&op, &agent("watcher", "observer", vec![forum]))
        .await
        .unwrap();
    logged(&s, &op, "watcher", "acted", "declared space.activity").await;
    let made = s
        .request_ability(
            &op,
            forum,
            &NewRequest {
                ability: "space.activity".into(),
                input: json!({ "window_secs": 3600 }),
                to: Some(o.did),
                timeout_secs: Some(60),
                reward: None,
            },
        )
        .await
        .unwrap();
    let done = poll(20, "the report", || async {
        let r = s.request(&op, forum, &made.id).await.unwrap();
        (r.state == "completed").then_some(r)
    })
    .await;
    let short = tim_node::agents::builtins::short_did;
    // The members page is sorted by DID, and so are the new members of the report.
    let mut joined = [n.handle.timite(), o.did];
    joined.sort();
    let joined: Vec<String> = joined.iter().map(short).collect();
    assert_eq!(
        done.output.unwrap()["report"],
        format!(
            "Activity over the last 1 h: 2 messages ({} 2); 2 new members ({}).",
            short(&n.handle.timite()),
            joined.join(", ")
        )
    );
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

fn model_agent(name: &str, persona: &str, endpoint: &str, space: SpaceId) -> NewAgent {
    NewAgent {
        model: Some("openai:gpt-4o-mini".into()),
        endpoint: Some(endpoint.into()),
        ..agent(name, persona, vec![space])
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_agent_answers_a_mention_from_what_it_remembers_and_forgets_on_removal() {
    let tmp = tempfile::tempdir().unwrap();
    let n = node(&tmp, 10).await;
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
    let n = node(&tmp, 11).await;
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
    let greeter = agent("doorman", "greeter", vec![lobby]);
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
    let n = node(&tmp, 12).await;
    let (s, op) = service(&n.handle);
    let work = space(&s, &op, "work", "Tools").await;
    abilities_schema(&s, &op, work).await;
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
        .create_agent(&op, &agent("toolsmith", &persona, vec![work]))
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
                reward: None,
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

/// Brings `space` to schema version 9 and sets its profile (as its owner, the operator's
/// timite).
async fn profiled(s: &Service, op: &Caller, space: SpaceId, profile: SetProfile) {
    s.migrate(op, space, None).await.unwrap();
    s.set_profile(op, space, profile).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_greeter_stays_quiet_in_a_reactive_space_and_greets_once_it_is_proactive() {
    let tmp = tempfile::tempdir().unwrap();
    let n = node(&tmp, 13).await;
    let (s, op) = service(&n.handle);
    let garden = space(&s, &op, "garden", "The community garden").await;
    let reactive = SetProfile {
        initiative: Some("reactive".into()),
        ..SetProfile::default()
    };
    profiled(&s, &op, garden, reactive).await;
    let greeter = s
        .create_agent(&op, &agent("greeter", "greeter", vec![garden]))
        .await
        .unwrap();

    let bob = newcomer(&s, &op, garden).await;
    logged(&s, &op, "greeter", "reactive", "left out a greeting in").await;
    let by_greeter = |m: &Vec<MessageView>| m.iter().filter(|m| m.author == greeter.did).count();
    assert_eq!(by_greeter(&messages(&s, &op, garden).await), 0);

    let proactive = SetProfile {
        initiative: Some("proactive".into()),
        ..SetProfile::default()
    };
    s.set_profile(&op, garden, proactive).await.unwrap();
    let carol = newcomer(&s, &op, garden).await;
    let short = tim_node::agents::builtins::short_did(&carol);
    said(&s, &op, garden, greeter.did, &short).await;
    let all = messages(&s, &op, garden).await;
    assert_eq!(by_greeter(&all), 1, "bob was never greeted afterwards");
    let bob_short = tim_node::agents::builtins::short_did(&bob);
    assert!(!all.iter().any(|m| m.text.contains(&bob_short)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_agent_reads_the_space_profile_and_still_answers_a_mention_in_a_reactive_space() {
    let tmp = tempfile::tempdir().unwrap();
    let n = node(&tmp, 14).await;
    let (s, op) = service(&n.handle);
    let studio = space(&s, &op, "studio", "Drawings").await;
    let profile = SetProfile {
        kind: Some("creative".into()),
        style: Some("casual".into()),
        initiative: Some("reactive".into()),
    };
    profiled(&s, &op, studio, profile).await;
    let model = replay(vec![(StatusCode::OK, recorded("openai_text"))]).await;
    // The mediator's own style is formal; the space asks for casual.
    let sage = s
        .create_agent(
            &op,
            &model_agent("sage", "mediator", &model.endpoint, studio),
        )
        .await
        .unwrap();

    s.post(&op, studio, "What does sage think?").await.unwrap();
    said(&s, &op, studio, sage.did, "(sage, an agent)").await;
    let seen = model.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    let system = seen[0]["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(system.contains("This is a creative space."), "{system}");
    assert!(system.contains("asks agents to be reactive"), "{system}");
    assert!(system.contains("Write casually and briefly."), "{system}");
    assert!(!system.contains("Write formally"), "{system}");
}
