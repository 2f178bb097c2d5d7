//! Mentions, notifications and unread counts with the `tim` binary across two nodes
//! (docs/protocol.md §9.13.2): the owner on one node mentions a member on the other with
//! `@did:key:…` in `tim post`; the member's `tim notifications` lists it (and `--follow` shows
//! the next one), `tim space list` counts it unread, `tim read` marks it read.

mod common;

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use tim_testnet::Cluster;

use common::{ok, one_error_line, tim, tim_command, wait_for, Lines};

/// How long a change may take to reach the other node.
const SYNC: Duration = Duration::from_secs(30);

/// The member's space line of `tim space list` on `home` once it contains `want`.
fn space_line(home: &Path, space: &str, want: &str) -> String {
    wait_for(&format!("`{want}` in tim space list"), SYNC, || {
        ok(home, &["space", "list"])
            .lines()
            .find(|l| l.starts_with(space) && l.contains(want))
            .map(String::from)
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mention_notifies_and_counts_unread_until_read() {
    let exe = Path::new(env!("CARGO_BIN_EXE_tim"));
    let cluster = Cluster::start(exe, 2, None, None).await.unwrap();
    let (owner, member) = (cluster.nodes[0].home.clone(), cluster.nodes[1].home.clone());
    let space = ok(&owner, &["space", "create", "talk"]).trim().to_string();
    ok(&owner, &["space", "migrate", &space, "--to", "11"]);
    let via = cluster.nodes[0].client.status().await.unwrap().listen[0].clone();
    ok(&member, &["space", "join", &space, "--via", &via]);
    let ann = ok(&member, &["whoami"]).lines().next().unwrap().to_string();
    wait_for("ann's join to reach the owner", SYNC, || {
        ok(&owner, &["space", "members", &space])
            .contains(&ann)
            .then_some(())
    });
    // The member's own message is never unread to it; reading marks what it printed.
    let own: Value =
        serde_json::from_str(&ok(&member, &["--json", "post", &space, "hello"])).unwrap();
    ok(&member, &["read", &space]);

    let posted: Value = serde_json::from_str(&ok(
        &owner,
        &["--json", "post", &space, &format!("welcome @{ann}!")],
    ))
    .unwrap();
    let id = posted["id"].as_str().unwrap().to_string();
    ok(&owner, &["post", &space, "no mention here"]);
    // A reply to the member's message notifies it too.
    ok(
        &owner,
        &[
            "post",
            &space,
            "answer",
            "--reply-to",
            own["id"].as_str().unwrap(),
        ],
    );

    let line = space_line(&member, &space, "3 unread (1 @you)");
    assert!(line.contains("talk"), "{line}");
    let list: Vec<Value> =
        serde_json::from_str(&ok(&member, &["--json", "notifications"])).unwrap();
    assert_eq!(list.len(), 2, "{list:?}");
    let mention = list.iter().find(|n| n["kind"] == "mention").unwrap();
    assert_eq!(mention["message"], id.as_str());
    assert_eq!(mention["seen"], false);
    assert!(list.iter().any(|n| n["kind"] == "reply"), "{list:?}");
    let human = ok(&member, &["notifications"]);
    assert!(human.contains("mentioned you: welcome @"), "{human}");

    // `tim read --no-mark` leaves the marker; `tim read` moves it past all three.
    ok(&member, &["read", &space, "--no-mark"]);
    space_line(&member, &space, "3 unread");
    ok(&member, &["read", &space]);
    let line = space_line(&member, &space, "talk");
    assert!(!line.contains("unread"), "{line}");
    let list: Vec<Value> =
        serde_json::from_str(&ok(&member, &["--json", "notifications"])).unwrap();
    assert!(list.iter().all(|n| n["seen"] == true), "{list:?}");
    let unseen = ok(&member, &["--json", "notifications", "--unseen"]);
    assert_eq!(unseen.trim(), "[]");

    // Followed: the next mention arrives as it is posted.
    let follow = Lines::spawn({
        let mut c = tim_command(&member);
        c.args(["--json", "notifications", "--follow", "--unseen"]);
        c
    });
    // It lists the unseen ones (none) once subscribed, then follows: the mention shows
    // whether it arrives before the list is read or after.
    let again = format!("still there, @{ann}?");
    ok(&owner, &["post", &space, &again]);
    let n: Value = serde_json::from_str(&follow.next()).unwrap();
    assert_eq!(n["kind"], "mention", "{n}");
    assert_eq!(n["text"], again.as_str(), "{n}");

    // Mentioning someone who is not a member is refused with the rules' reason.
    let stranger = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK";
    let refused = one_error_line(&tim(&owner, &["post", &space, &format!("hi @{stranger}")]));
    assert!(refused.contains("not a member"), "{refused}");
}
