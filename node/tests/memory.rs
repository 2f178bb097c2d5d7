//! Agents' memory (docs/agents.md "Memory") on a real sled store: forgetting through the API
//! leaves nothing of that agent's slice in the store (read raw from disk after the node
//! stopped) and keeps everything else; each layer's bound holds, oldest first; summaries and
//! snapshots are the same whenever they are made again; a prompt's context holds at most
//! `depth` entries per layer; an end-to-end encrypted message is not kept; only the operator
//! reads or erases memory.

mod common;

use common::poll;
use reqwest::StatusCode;
use serde_json::Value;
use tim_did::Identity;
use tim_node::memory::{
    Layer, Memory, MemoryError, META_BOUND, PERSONAL_BOUND, SESSION_BOUND, SPACE_BOUND,
    SUMMARY_EVERY,
};
use tim_node::Store;
use tim_protocol::api::{AbilityRequest, MemberView, MessageView, SpaceEvent};
use tim_protocol::{Did, SpaceId};

const ADMIN: &str = "memory-admin-token";

fn did(seed: u8) -> Did {
    Identity::from_seed([seed; 32]).did()
}

fn space(seed: u8) -> SpaceId {
    SpaceId::from([seed; 32])
}

fn message(space: SpaceId, author: Did, i: u64, text: &str) -> SpaceEvent {
    SpaceEvent::Message {
        space,
        message: MessageView {
            id: format!("{i}@m"),
            author,
            text: text.to_string(),
            at: 1_000_000 + i * 6_000,
            encrypted: false,
            unreadable: None,
            reply_to: None,
            edits: 0,
            edited_at: None,
            reactions: Vec::new(),
            author_name: None,
            mentions: Vec::new(),
            attachment: None,
        },
    }
}

fn joined(space: SpaceId, member: Did, at: u64) -> SpaceEvent {
    SpaceEvent::Joined {
        space,
        member: MemberView {
            did: member,
            role: "member".into(),
            joined_at: at,
            imported_reputation: None,
            reputation: 0,
            abilities: vec![],
            no_longer_admitted: None,
            held: tim_protocol::api::RoleHeld::Assigned,
            assigned_role: None,
            earned_by: None,
            name: None,
        },
    }
}

/// A conversation of `n` messages by three members, every third one a question.
fn talk(memory: &Memory, agent: &Did, space: SpaceId, n: u64, secret: &str) {
    let members = [did(11), did(12), did(13)];
    for i in 0..n {
        let text = if i % 3 == 0 {
            format!("Should we plant tomatoes near the {secret} fence this spring?")
        } else {
            format!("Tomatoes need sun. The fence shades the beds in message {i}.")
        };
        let author = members[(i % 3) as usize];
        memory
            .observe(agent, &message(space, author, i, &text))
            .unwrap();
    }
}

fn memory_in(dir: &std::path::Path) -> (Store, Memory) {
    let store = Store::open(dir).unwrap();
    let memory = Memory::open(&store).unwrap();
    (store, memory)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forgetting_through_the_api_leaves_nothing_of_the_slice_on_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let node = common::node(&tmp, 1).await;
    // The API, served until the node is stopped (so that it lets the store go).
    let app = tim_node::api::router(node.handle.clone(), ADMIN.to_string());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let memory = node.handle.memory().unwrap();
    let http = reqwest::Client::new();
    // Alice is an agent of the node (following no space: the test writes her memory itself);
    // Bob is another DID whose memory must stay.
    let made: Value = http
        .post(format!("{base}/v1/agents"))
        .bearer_auth(ADMIN)
        .json(&serde_json::json!({ "name": "alice", "persona": "greeter" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let alice: Did = made["did"].as_str().unwrap().parse().unwrap();
    let bob = did(22);
    let (garden, kitchen) = (space(1), space(2));
    talk(&memory, &alice, garden, 25, "alice-garden-secret");
    talk(&memory, &alice, kitchen, 12, "alice-kitchen-note");
    talk(&memory, &bob, garden, 12, "bob-garden-note");
    memory.observe(&alice, &joined(garden, did(31), 5)).unwrap();
    memory
        .observe(&alice, &joined(kitchen, did(32), 6))
        .unwrap();
    memory
        .note(
            &alice,
            Some(garden),
            Layer::Session,
            "I said alice-garden-secret too",
        )
        .unwrap();
    let in_garden = memory.recall(&alice, Some(garden), None, 1000).unwrap();
    // 26 session entries, 2 summaries and 2 snapshots, one personal entry.
    assert_eq!(in_garden.len(), 26 + 2 + 2 + 1, "{in_garden:#?}");

    let url = format!("{base}/v1/agents/{alice}/memory");
    // Only the operator reads or erases memory.
    let token = http
        .post(format!("{base}/v1/tokens"))
        .bearer_auth(ADMIN)
        .json(&serde_json::json!({ "did": node.handle.timite(), "label": "timite" }))
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), StatusCode::CREATED);
    let token: Value = token.json().await.unwrap();
    let timite = token["token"].as_str().unwrap();
    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        let r = http
            .request(method, &url)
            .bearer_auth(timite)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }
    let shown: Vec<Value> = http
        .get(format!("{url}?space={garden}&layer=space"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown.len(), 2, "{shown:#?}");

    let r = http
        .delete(format!("{url}?space={garden}"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let erased: Value = r.json().await.unwrap();
    assert_eq!(erased["erased"], in_garden.len());
    let left: Vec<Value> = http
        .get(format!("{url}?space={garden}"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(left.is_empty(), "{left:#?}");

    // Read the store raw from disk once the node let it go.
    server.abort();
    assert!(server.await.unwrap_err().is_cancelled());
    node.handle.shutdown().await.unwrap();
    let dir = node.dir.clone();
    drop(node);
    drop(memory);
    let (_store, disk) = poll(10, "the store to be released", || async {
        Store::open(&dir).ok().map(|s| {
            let m = Memory::open(&s).unwrap();
            (s, m)
        })
    })
    .await;
    let raw = disk.raw().unwrap();
    let texts: Vec<String> = raw
        .iter()
        .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
        .collect();
    assert!(!texts.iter().any(|t| t.contains("alice-garden-secret")));
    let alice_key = alice.public_bytes();
    for (k, v) in &raw {
        if k.starts_with(alice_key) {
            assert_ne!(
                &k[33..65],
                garden.as_bytes(),
                "a garden key of alice is left"
            );
            let e: Value = serde_json::from_slice(v).unwrap();
            assert_ne!(e["space"], garden.to_string(), "{e}");
        }
    }
    // Everything else is intact.
    assert_eq!(
        disk.recall(&alice, Some(kitchen), None, 1000)
            .unwrap()
            .len(),
        12 + 1 + 1 + 1
    );
    assert_eq!(
        disk.recall(&bob, Some(garden), None, 1000).unwrap().len(),
        12 + 1 + 1
    );
    assert!(texts.iter().any(|t| t.contains("bob-garden-note")));
    // Forgetting the rest of alice leaves nothing of her.
    assert_eq!(disk.forget(&alice, None, None).unwrap(), 15);
    assert!(!disk
        .raw()
        .unwrap()
        .iter()
        .any(|(k, _)| k.starts_with(alice_key)));
}

#[test]
fn every_layer_keeps_its_bound_oldest_first() {
    let tmp = tempfile::tempdir().unwrap();
    let (_store, memory) = memory_in(tmp.path());
    let agent = did(21);
    let garden = space(1);
    let n = (META_BOUND * SUMMARY_EVERY + 10) as u64;
    let members = [did(11), did(12)];
    for i in 0..n {
        let text = format!("message number {i} about seeds");
        let m = message(garden, members[(i % 2) as usize], i, &text);
        memory.observe(&agent, &m).unwrap();
    }
    let count = |layer| {
        memory
            .recall(&agent, Some(garden), Some(layer), usize::MAX)
            .unwrap()
    };
    let session = count(Layer::Session);
    assert_eq!(session.len(), SESSION_BOUND);
    // The newest stay.
    assert!(session
        .last()
        .unwrap()
        .text
        .contains(&format!("number {}", n - 1)));
    assert!(session[0]
        .text
        .contains(&format!("number {}", n - SESSION_BOUND as u64)));
    assert_eq!(count(Layer::Space).len(), SPACE_BOUND);
    assert_eq!(count(Layer::Meta).len(), META_BOUND);
    for i in 0..PERSONAL_BOUND as u64 + 7 {
        let mut seed = [9u8; 32];
        seed[..8].copy_from_slice(&i.to_be_bytes());
        let who = Identity::from_seed(seed).did();
        memory.observe(&agent, &joined(garden, who, i)).unwrap();
    }
    let personal = memory
        .recall(&agent, None, Some(Layer::Personal), usize::MAX)
        .unwrap();
    assert_eq!(personal.len(), PERSONAL_BOUND);
    assert_eq!(personal[0].at, 7, "the 7 oldest went first");
    // A layer kept per space needs its space.
    assert!(matches!(
        memory.note(&agent, None, Layer::Session, "hello"),
        Err(MemoryError::NeedsSpace(Layer::Session))
    ));
}

#[test]
fn summaries_and_snapshots_are_the_same_when_made_again() {
    let made: Vec<Vec<String>> = (0..2)
        .map(|_| {
            let tmp = tempfile::tempdir().unwrap();
            let (_store, memory) = memory_in(tmp.path());
            talk(&memory, &did(21), space(1), 20, "north");
            [Layer::Space, Layer::Meta]
                .into_iter()
                .flat_map(|l| {
                    memory
                        .recall(&did(21), Some(space(1)), Some(l), 10)
                        .unwrap()
                })
                .map(|e| e.text)
                .collect()
        })
        .collect();
    assert_eq!(made[0], made[1]);
    let [first, _, snapshot, _] = made[0].as_slice() else {
        panic!("two summaries and two snapshots: {:#?}", made[0]);
    };
    // Who spoke, and the sentences whose words recur most, in their order.
    assert!(first.starts_with("10 messages by "), "{first}");
    assert!(first.contains("Tomatoes need sun."), "{first}");
    assert_eq!(
        snapshot,
        "10 messages over 54 s (11/min), 3 active members, 40% questions"
    );
}

#[test]
fn the_context_holds_at_most_depth_entries_per_layer() {
    let tmp = tempfile::tempdir().unwrap();
    let (_store, memory) = memory_in(tmp.path());
    let (agent, garden) = (did(21), space(1));
    talk(&memory, &agent, garden, 30, "west");
    memory
        .note(&agent, Some(garden), Layer::Session, "my own last word")
        .unwrap();
    memory.observe(&agent, &joined(garden, did(31), 1)).unwrap();
    memory
        .observe(&agent, &joined(space(2), did(32), 2))
        .unwrap();
    let context = memory.context(&agent, garden, 2).unwrap();
    let items = |header: &str| {
        context.split(header).nth(1).map_or(0, |rest| {
            rest.lines()
                .skip(1)
                .take_while(|l| l.starts_with("- "))
                .count()
        })
    };
    assert_eq!(items("Recent messages in this space:"), 2, "{context}");
    assert_eq!(items("What happened in this space:"), 2, "{context}");
    assert_eq!(items("Who you met and what they asked:"), 2, "{context}");
    assert_eq!(items("How this space has been going:"), 2, "{context}");
    assert!(context.contains("- you: my own last word"), "{context}");
    // The third newest message is beyond the depth.
    assert!(!context.contains("message 28."), "{context}");
    assert!(context.contains("message 29."), "{context}");
    assert!(memory.context(&agent, garden, 0).unwrap().is_empty());
    // An end-to-end encrypted message, even read, is not kept.
    let mut sealed = message(garden, did(11), 99, "sealed words");
    if let SpaceEvent::Message { message, .. } = &mut sealed {
        message.encrypted = true;
    }
    memory.observe(&agent, &sealed).unwrap();
    let session = memory
        .recall(&agent, Some(garden), Some(Layer::Session), 100)
        .unwrap();
    assert!(!session.iter().any(|e| e.text.contains("sealed")));
    // Another space's session is not in this one's context.
    assert!(memory
        .context(&agent, space(3), 5)
        .unwrap()
        .contains("met "));
    assert!(!memory
        .context(&agent, space(3), 5)
        .unwrap()
        .contains("Recent messages"));
}

/// A request for `ability` by `requester` of `target`, in `state`.
fn request(requester: Did, target: Did, state: &str, claimant: Option<Did>) -> AbilityRequest {
    AbilityRequest {
        id: "7@req".into(),
        ability: "text.summarize".into(),
        requester,
        target: target.to_string(),
        candidates: vec![target],
        input: serde_json::json!({ "text": "the minutes" }),
        at: 1,
        deadline: 2,
        state: state.into(),
        claimant,
        claims: claimant.into_iter().collect(),
        progress: None,
        output: None,
        failure: None,
        superseded: vec![],
        rating: (state == "completed").then_some(4),
        chain: None,
        step: None,
        input_payload: None,
        output_payload: None,
        output_invalid: None,
        reward: None,
        funded: None,
    }
}

#[test]
fn the_personal_layer_keeps_what_the_agent_was_asked_and_how_it_went() {
    let tmp = tempfile::tempdir().unwrap();
    let (_store, memory) = memory_in(tmp.path());
    let (agent, asker, other) = (did(21), did(11), did(12));
    let garden = space(1);
    let asked = request(asker, agent, "open", None);
    let done = request(asker, agent, "completed", Some(agent));
    let elsewhere = request(asker, other, "open", None);
    for event in [
        SpaceEvent::RequestCreated {
            space: garden,
            request: asked,
        },
        SpaceEvent::RequestCreated {
            space: garden,
            request: elsewhere,
        },
        SpaceEvent::RequestRated {
            space: garden,
            request: done,
        },
    ] {
        memory.observe(&agent, &event).unwrap();
    }
    let personal = memory
        .recall(&agent, Some(garden), Some(Layer::Personal), 10)
        .unwrap();
    let texts: Vec<&str> = personal.iter().map(|e| e.text.as_str()).collect();
    assert_eq!(texts.len(), 2, "{texts:#?}");
    assert!(texts[0].contains("asked for text.summarize") && texts[0].contains("the minutes"));
    assert!(
        texts[1].contains("completed") && texts[1].contains("rated 4/5"),
        "{texts:#?}"
    );
    assert!(personal.iter().all(|e| e.about == Some(asker)));
}
