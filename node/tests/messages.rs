//! Message features through the service of a real node (docs/protocol.md §9.12): the space's
//! event stream carries `message_edited` and `reacted` with the message as it is after the
//! change; replies make a thread; search pages; refusals come back typed.

mod common;

use std::time::Duration;

use tim_node::service::{Caller, ServiceError};
use tim_node::NodeError;
use tim_protocol::api::{JoinSpace, SearchQuery, SpaceEvent};
use tim_protocol::MessageId;
use tokio_stream::StreamExt as _;

/// The next edit or reaction event of `events`, within 10 s.
async fn next<E: std::fmt::Debug>(
    events: &mut (impl tokio_stream::Stream<Item = Result<SpaceEvent, E>> + Unpin),
) -> SpaceEvent {
    loop {
        let e = tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .expect("an event within 10 s")
            .expect("the stream stays open")
            .expect("no lag");
        if matches!(
            e,
            SpaceEvent::MessageEdited { .. } | SpaceEvent::Reacted { .. }
        ) {
            return e;
        }
    }
}

fn search(q: &str, limit: usize, before: Option<&str>) -> SearchQuery {
    SearchQuery {
        q: q.into(),
        limit: Some(limit),
        before: before.map(|b| b.parse().unwrap()),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn edits_and_reactions_reach_the_event_stream_and_threads_and_search_answer() {
    let tmp = tempfile::tempdir().unwrap();
    let (_node, service, owner, space) = common::service_space(&tmp, "talk", 10).await;
    let bob = Caller::timite(service.add_timite(&owner).await.unwrap().did);
    let join = JoinSpace {
        via: vec![],
        present: vec![],
        timeout_secs: None,
    };
    service.join_space(&bob, space, &join).await.unwrap();
    let mut events = Box::pin(service.events(&owner, space).await.unwrap());

    let first = service.post(&owner, space, "Apple pie").await.unwrap().id;
    let mid: MessageId = first.parse().unwrap();
    let reply = service
        .reply(&bob, space, &first, "apple crumble")
        .await
        .unwrap()
        .id;
    service.react(&bob, space, &mid, "🍎").await.unwrap();
    match next(&mut events).await {
        SpaceEvent::Reacted { message, .. } => {
            assert_eq!(message.id, first);
            assert_eq!(message.reactions[0].by, [bob.timite]);
        }
        other => panic!("{other:?}"),
    }
    service
        .edit_message(&owner, space, &mid, "Apple tart")
        .await
        .unwrap();
    match next(&mut events).await {
        SpaceEvent::MessageEdited { message, .. } => {
            assert_eq!((message.text.as_str(), message.edits), ("Apple tart", 1));
        }
        other => panic!("{other:?}"),
    }
    let refused = service.edit_message(&bob, space, &mid, "mine").await;
    assert!(
        matches!(&refused, Err(ServiceError::Node(NodeError::Invalid(e))) if e.contains("only its author")),
        "{refused:?}"
    );

    let thread = service.thread(&bob, space, &mid).await.unwrap();
    assert_eq!(thread.root.id, first);
    assert_eq!(thread.replies.len(), 1);
    assert_eq!(thread.replies[0].id, reply);
    let unknown = service.thread(&bob, space, &"99@00".parse().unwrap()).await;
    assert!(
        matches!(
            unknown,
            Err(ServiceError::Node(NodeError::UnknownMessage(_)))
        ),
        "{unknown:?}"
    );

    let page = service
        .search(&bob, space, search("APPLE", 1, None))
        .await
        .unwrap();
    assert_eq!(page.messages[0].id, reply, "newest first");
    assert_eq!(page.next_before.as_deref(), Some(reply.as_str()));
    let page = service
        .search(&bob, space, search("apple", 1, Some(&reply)))
        .await
        .unwrap();
    assert_eq!(page.messages[0].text, "Apple tart");
    assert_eq!(page.next_before, None);
    let bad = service.search(&bob, space, search("apple", 0, None)).await;
    assert!(matches!(bad, Err(ServiceError::InvalidPage(_))), "{bad:?}");
}

/// `GET path` on the API at `base` with `token`: the status and the JSON body.
async fn get(base: &str, token: &str, path: &str) -> (u16, serde_json::Value) {
    send(base, token, reqwest::Method::GET, path, None).await
}

/// A request to the API at `base` with `token` (and a JSON body): the status and the JSON body.
async fn send(
    base: &str,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut req = http
        .request(method, format!("{base}{path}"))
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or_default())
}

/// The texts of an edit history.
fn versions(history: &serde_json::Value) -> Vec<&str> {
    history["edits"]
        .as_array()
        .unwrap_or_else(|| panic!("no edits in {history}"))
        .iter()
        .map(|v| v["text"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_edit_history_lists_every_version_to_its_readers_and_goes_with_a_deleted_message() {
    use reqwest::Method;
    use serde_json::json;
    const ADMIN: &str = "admin-token";
    let tmp = tempfile::tempdir().unwrap();
    let n = common::node(&tmp, 1).await;
    let base = common::serve_api(&n.handle, ADMIN, tim_node::api::ApiConfig::default()).await;
    let ok = |(status, body): (u16, serde_json::Value), want: u16| {
        assert_eq!(status, want, "{body}");
        body
    };
    let space = |visibility: &'static str, encrypted: bool| {
        let base = base.clone();
        async move {
            let body = json!({"name": "talk", "visibility": visibility, "encrypted": encrypted});
            let made = send(&base, ADMIN, Method::POST, "/v1/spaces", Some(body)).await;
            assert_eq!(made.0, 201, "{}", made.1);
            let id = made.1["id"].as_str().unwrap().to_string();
            let path = format!("/v1/spaces/{id}");
            send(
                &base,
                ADMIN,
                Method::POST,
                &format!("{path}/migrate"),
                Some(json!({"to": 10})),
            )
            .await;
            path
        }
    };
    let post = |path: String, text: &'static str| {
        let base = base.clone();
        async move {
            let body = json!({"text": text});
            let posted = send(
                &base,
                ADMIN,
                Method::POST,
                &format!("{path}/messages"),
                Some(body),
            )
            .await;
            assert_eq!(posted.0, 201, "{}", posted.1);
            (
                posted.1["id"].as_str().unwrap().to_string(),
                posted.1["at"].as_u64().unwrap(),
            )
        }
    };
    let edit = |path: String, mid: String, text: &'static str| {
        let base = base.clone();
        async move {
            let body = json!({"text": text});
            let done = send(
                &base,
                ADMIN,
                Method::PUT,
                &format!("{path}/messages/{mid}"),
                Some(body),
            )
            .await;
            assert_eq!(done.0, 200, "{}", done.1);
        }
    };

    // A public space: the original, then each edit's text, oldest first, with their times.
    let public = space("public", false).await;
    let (mid, at) = post(public.clone(), "first").await;
    edit(public.clone(), mid.clone(), "second").await;
    edit(public.clone(), mid.clone(), "third").await;
    let history = ok(
        get(&base, ADMIN, &format!("{public}/messages/{mid}/edits")).await,
        200,
    );
    assert_eq!(
        versions(&history),
        ["first", "second", "third"],
        "{history}"
    );
    assert_eq!(history["message"], mid.as_str(), "{history}");
    let times: Vec<u64> = history["edits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["at"].as_u64().unwrap())
        .collect();
    assert_eq!(
        times[0], at,
        "the original is at the message's time: {history}"
    );
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{history}");
    let message = ok(get(&base, ADMIN, &format!("{public}/messages")).await, 200);
    let shown = &message["messages"][0];
    assert_eq!(
        (shown["edits"].as_u64(), shown["edited_at"].as_u64()),
        (Some(2), Some(times[2]))
    );
    let (plain, _) = post(public.clone(), "never edited").await;
    let history = ok(
        get(&base, ADMIN, &format!("{public}/messages/{plain}/edits")).await,
        200,
    );
    assert_eq!(versions(&history), ["never edited"], "{history}");

    // Another timite of the node reads a public space's history, not a private one's.
    let other = ok(
        send(&base, ADMIN, Method::POST, "/v1/timites", None).await,
        201,
    );
    let did = other["did"].as_str().unwrap();
    let token = ok(
        send(
            &base,
            ADMIN,
            Method::POST,
            "/v1/tokens",
            Some(json!({"did": did, "label": "t"})),
        )
        .await,
        201,
    )["token"]
        .as_str()
        .unwrap()
        .to_string();
    let history = ok(
        get(&base, &token, &format!("{public}/messages/{mid}/edits")).await,
        200,
    );
    assert_eq!(versions(&history).len(), 3, "{history}");
    let private = space("invite-only", false).await;
    let (secret, _) = post(private.clone(), "between us").await;
    edit(private.clone(), secret.clone(), "between us two").await;
    let history = ok(
        get(&base, ADMIN, &format!("{private}/messages/{secret}/edits")).await,
        200,
    );
    assert_eq!(
        versions(&history),
        ["between us", "between us two"],
        "{history}"
    );
    let refused = ok(
        get(&base, &token, &format!("{private}/messages/{secret}/edits")).await,
        404,
    );
    assert_eq!(refused["type"], "tim:problem/unknown-space", "{refused}");
    let anonymous = reqwest::Client::builder().no_proxy().build().unwrap();
    let no_token = anonymous
        .get(format!("{base}{public}/messages/{mid}/edits"))
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status().as_u16(), 401);

    // An end-to-end encrypted space: the version is what the reader's keys decrypt.
    let sealed = space("invite-only", true).await;
    let (ct, _) = post(sealed.clone(), "sealed words").await;
    let history = ok(
        get(&base, ADMIN, &format!("{sealed}/messages/{ct}/edits")).await,
        200,
    );
    assert_eq!(versions(&history), ["sealed words"], "{history}");
    assert!(history["edits"][0].get("unreadable").is_none(), "{history}");

    // A deleted message's history goes with it; an unknown message has none.
    let deleted = send(
        &base,
        ADMIN,
        Method::DELETE,
        &format!("{public}/messages/{mid}"),
        None,
    )
    .await;
    assert_eq!(deleted.0, 200, "{}", deleted.1);
    let gone = ok(
        get(&base, ADMIN, &format!("{public}/messages/{mid}/edits")).await,
        404,
    );
    assert_eq!(gone["type"], "tim:problem/unknown-message", "{gone}");
    let stranger = format!("1@{}", "ab".repeat(32));
    let unknown = ok(
        get(&base, ADMIN, &format!("{public}/messages/{stranger}/edits")).await,
        404,
    );
    assert_eq!(unknown["type"], "tim:problem/unknown-message", "{unknown}");
}
