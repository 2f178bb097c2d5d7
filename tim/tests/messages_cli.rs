//! Replies, edits, reactions, threads and search with the `tim` binary across two nodes
//! (docs/protocol.md §9.12): the owner on one node posts in a space at schema version 10, a
//! member on the other replies and reacts, the owner edits, and each node shows the other's
//! acts (the edit's history too, `tim message history`); a member's edit of another's message
//! is refused with the rules' reason.

mod common;

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use tim_testnet::Cluster;

use common::{ok, one_error_line, tim, wait_for};

/// How long a change may take to reach the other node.
const SYNC: Duration = Duration::from_secs(30);

/// The message `id` as `tim read --json` on `home` shows it, once `ready` holds for it.
fn message_on(home: &Path, space: &str, id: &str, ready: impl Fn(&Value) -> bool) -> Value {
    wait_for(&format!("message {id} as expected"), SYNC, || {
        let out = tim(home, &["--json", "read", space]);
        let page: Value = serde_json::from_slice(&out.stdout).ok()?;
        let m = page["messages"]
            .as_array()?
            .iter()
            .find(|m| m["id"] == id)?;
        ready(m).then(|| m.clone())
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn replies_edits_and_reactions_cross_nodes_and_are_found_by_search() {
    let exe = Path::new(env!("CARGO_BIN_EXE_tim"));
    let cluster = Cluster::start(exe, 2, None, None).await.unwrap();
    let (owner, guest) = (cluster.nodes[0].home.clone(), cluster.nodes[1].home.clone());
    let space = ok(&owner, &["space", "create", "talk"]).trim().to_string();
    ok(&owner, &["space", "migrate", &space, "--to", "10"]);
    let via = cluster.nodes[0].client.status().await.unwrap().listen[0].clone();
    ok(&guest, &["space", "join", &space, "--via", &via]);
    let posted: Value =
        serde_json::from_str(&ok(&owner, &["--json", "post", &space, "Hello World"])).unwrap();
    let id = posted["id"].as_str().unwrap().to_string();

    // The guest replies and reacts on its node.
    message_on(&guest, &space, &id, |_| true);
    let reply: Value = serde_json::from_str(&ok(
        &guest,
        &["--json", "post", &space, "hi back", "--reply-to", &id],
    ))
    .unwrap();
    let reply = reply["id"].as_str().unwrap().to_string();
    ok(&guest, &["react", &space, &id, "👍"]);

    // The owner sees both, edits its message; the guest's edit of it is refused.
    message_on(&owner, &space, &reply, |m| m["reply_to"] == id.as_str());
    message_on(&owner, &space, &id, |m| m["reactions"][0]["count"] == 1);
    ok(&owner, &["edit", &space, &id, "Hello, world"]);
    let refused = one_error_line(&tim(&guest, &["edit", &space, &id, "mine"]));
    assert!(refused.contains("only its author"), "{refused}");

    let m = message_on(&guest, &space, &id, |m| m["edits"] == 1);
    assert_eq!(m["text"], "Hello, world", "{m}");
    // Its history, on the other node: the original, then the edit's text, now.
    let history = ok(&guest, &["message", "history", &space, &id]);
    let lines: Vec<&str> = history.lines().collect();
    assert_eq!(lines.len(), 2, "{history}");
    assert!(lines[0].ends_with("] Hello World"), "{history}");
    assert!(lines[1].ends_with("] Hello, world (now)"), "{history}");
    let history: Value =
        serde_json::from_str(&ok(&guest, &["--json", "message", "history", &space, &id])).unwrap();
    assert_eq!(history["edits"][0]["text"], "Hello World", "{history}");
    assert_eq!(history["edits"][1]["text"], "Hello, world", "{history}");
    assert_eq!(m["reactions"][0]["emoji"], "👍", "{m}");
    let guest_did = ok(&guest, &["whoami"]).lines().next().unwrap().to_string();
    assert_eq!(m["reactions"][0]["by"][0], guest_did.as_str(), "{m}");
    // The human view names ids, the reply's parent, the edit and the reaction.
    let read = ok(&guest, &["read", &space]);
    assert!(read.contains(&format!("{id} ")), "{read}");
    assert!(read.contains(&format!("↪ {id}: hi back")), "{read}");
    assert!(read.contains("Hello, world (edited 1×) [👍 1]"), "{read}");

    let thread: Value =
        serde_json::from_str(&ok(&owner, &["--json", "thread", &space, &id])).unwrap();
    assert_eq!(thread["root"]["id"], id.as_str(), "{thread}");
    assert_eq!(thread["replies"][0]["id"], reply.as_str(), "{thread}");

    let found: Value =
        serde_json::from_str(&ok(&guest, &["--json", "search", &space, "WORLD"])).unwrap();
    let texts: Vec<_> = found["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["Hello, world"], "{found}");
    let none = ok(&guest, &["search", &space, "nothing like this"]);
    assert!(none.is_empty(), "{none}");
}
