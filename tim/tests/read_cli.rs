//! `tim read` prints a page of the timeline, oldest first, and names the cursor of the next page
//! on standard error; `--before` and `--since` page from a message; `--follow` prints live
//! messages and profile changes. `tim space members` pages the same way by DID.

mod common;

use std::path::Path;

use common::{one_node, tim, tim_command, Lines};

use tim_client::Client;
use tim_protocol::api::NewToken;

/// The texts `tim read` printed (`[time] author: text` lines), and its standard error.
fn read(home: &Path, space: &str, args: &[&str]) -> (Vec<String>, String) {
    let out = tim(home, &[&["read", space], args].concat());
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "tim read {args:?}: {stderr}");
    let texts = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            l.split_once(": ")
                .expect("[time] author: text")
                .1
                .to_string()
        })
        .collect();
    (texts, stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tim_read_prints_the_latest_page_and_pages_from_a_message() {
    let mut cluster = one_node(&[]).await;
    let node = &cluster.nodes[0];
    let home = node.home.as_path();
    let space = node.client.create_space("pages", "").await.unwrap().id;
    let mut ids = Vec::new();
    for i in 0..7 {
        let posted = node.client.post_message(space, &format!("m{i}")).await;
        ids.push(posted.unwrap().id);
    }
    let space = space.to_string();
    let texts = |r: std::ops::Range<usize>| r.map(|i| format!("m{i}")).collect::<Vec<_>>();

    // By default the latest page (all seven fit), oldest first, and no hint.
    let (all, hint) = read(home, &space, &[]);
    assert_eq!(all, texts(0..7));
    assert!(!hint.contains("tim read"), "{hint}");

    // The latest three, then back page by page with the command the hint names.
    let (page, hint) = read(home, &space, &["--limit", "3"]);
    assert_eq!(page, texts(4..7));
    let older = format!("tim read {space} --before {}", ids[4]);
    assert!(hint.contains(&older), "{hint}");
    let (page, hint) = read(home, &space, &["--limit", "3", "--before", &ids[4]]);
    assert_eq!(page, texts(1..4));
    assert!(hint.contains(&format!("--before {}", ids[1])), "{hint}");
    assert!(hint.contains(&format!("--since {}", ids[3])), "{hint}");
    let (page, _) = read(home, &space, &["--before", &ids[1]]);
    assert_eq!(page, texts(0..1));

    // Forward from a message: the ones just after it, oldest first.
    let (page, hint) = read(home, &space, &["--since", &ids[1], "--limit", "2"]);
    assert_eq!(page, texts(2..4));
    assert!(hint.contains(&format!("--since {}", ids[3])), "{hint}");
    let (page, _) = read(home, &space, &["--since", &ids[6]]);
    assert!(page.is_empty(), "{page:?}");

    // --json: the page oldest first, with the cursors.
    let out = tim(home, &["--json", "read", &space, "--limit", "2"]);
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["messages"][0]["text"], "m5");
    assert_eq!(json["messages"][1]["text"], "m6");
    assert_eq!(json["next_before"], ids[5].as_str());
    assert_eq!(json["next_after"], serde_json::Value::Null);

    // A cursor that is no message of the space: one error line, exit code 1.
    let stranger = format!("1@{}", "ab".repeat(32));
    let out = tim(home, &["read", &space, "--before", &stranger]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Unknown message") && err.contains(&stranger),
        "{err}"
    );
    // --before and --since together are a usage error.
    let out = tim(
        home,
        &["read", &space, "--before", &ids[3], "--since", &ids[1]],
    );
    assert_eq!(out.status.code(), Some(2));

    // --follow from a message: every newer page first (pages of 2 here), then live messages.
    let mut command = tim_command(home);
    command.args([
        "read", &space, "--since", &ids[1], "--limit", "2", "--follow",
    ]);
    let follow = Lines::spawn(command);
    let next_text = || {
        follow
            .next()
            .split_once(": ")
            .expect("[time] author: text")
            .1
            .to_string()
    };
    let followed: Vec<String> = (0..5).map(|_| next_text()).collect();
    assert_eq!(followed, texts(2..7));
    node.client
        .post_message(space.parse().unwrap(), "live")
        .await
        .unwrap();
    assert_eq!(next_text(), "live");
    // A profile written into the space (schema version 11) is a line of its own.
    node.client
        .migrate(space.parse().unwrap(), Some(11))
        .await
        .unwrap();
    common::ok(home, &["profile", "set", "--name", "Reader"]);
    let line = follow.next();
    assert!(line.contains("changed its profile: Reader"), "{line}");
    drop(follow);

    // Members by DID, one at a time.
    let second = node.client.new_timite().await.unwrap().did;
    let token = node
        .client
        .new_token(&NewToken {
            did: second,
            label: "second".into(),
            ttl_secs: None,
        })
        .await
        .unwrap()
        .token;
    Client::new(node.client.base(), &token)
        .join(space.parse().unwrap(), Vec::new(), Vec::new())
        .await
        .unwrap();
    let out = tim(home, &["space", "members", &space, "--limit", "1"]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let hint = String::from_utf8_lossy(&out.stderr);
    assert!(hint.contains("--after did:key:"), "{hint}");
    cluster.stop().await;
}
