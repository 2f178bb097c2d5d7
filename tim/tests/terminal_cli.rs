//! What `tim` writes to its reader's terminal or pipe (issue 17): other timites' text with its
//! control characters escaped, a quiet end when the reader closes the pipe, and `read
//! --follow` showing every event of a space on one line each.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use common::{ok, one_node, text, tim_command, timite_with_token, Lines};

/// Text a hostile timite writes: it would clear the screen, recolour it, rewrite the line,
/// reorder it and add a line of its own, were it printed raw.
const HOSTILE: &str =
    "\u{1b}[2J\u{1b}[31mred\u{1b}[0m\rover\u{7f}\u{9b}31m\u{202e}desrever\nsecond line";
/// How `tim` shows [`HOSTILE`].
const ESCAPED: &str =
    "\\x1b[2J\\x1b[31mred\\x1b[0m\\rover\\x7f\\x9b31m\\u{202e}desrever\\nsecond line";

/// Whether `s` holds a character that could control a terminal (C0 but the line break, DEL,
/// C1, a bidirectional override).
fn raw_control(s: &str) -> bool {
    s.chars()
        .any(|c| (c.is_control() && c != '\n') || ('\u{202a}'..='\u{202e}').contains(&c))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_through_a_pipe_closed_after_one_line_ends_quietly() {
    // Posting as fast as it can: no rate limit.
    let mut cluster = one_node(&["--rate-limit", "0"]).await;
    let node = &cluster.nodes[0];
    let space = node.client.create_space("long", "").await.unwrap().id;
    // More than a pipe holds (64 KiB), so that tim is still writing when the reader leaves.
    let filler = "x".repeat(400);
    for i in 0..400 {
        let text = format!("{i} {filler}");
        node.client.post_message(space, &text).await.unwrap();
    }
    let space = space.to_string();
    let mut read = tim_command(&node.home)
        .args(["read", &space, "--limit", "400"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(read.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // `| head -1`: one line read, then the pipe is closed (the reader was dropped).
    assert!(first.contains(": 0 xxx"), "{first}");
    let out = read.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    // `tim whoami | head -0`: the reader is gone before anything is written.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = tim_command(&node.home)
        .arg("whoami")
        .stdout(writer)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_timites_text_reaches_the_reader_escaped() {
    let mut cluster = one_node(&[]).await;
    let home = cluster.nodes[0].home.clone();
    // Another timite of the node names a space, posts and declares abilities, all hostile.
    let (_, token) = timite_with_token(&home);
    let as_other = |args: &[&str]| ok(&home, &[&["--token", token.as_str()], args].concat());
    let space = as_other(&["space", "create", HOSTILE]).trim().to_string();
    as_other(&["post", &space, HOSTILE]);
    as_other(&["space", "abilities", &space, HOSTILE]);

    // The reader joins, lists, reads: each shows the text escaped, on one line.
    let joined = ok(&home, &["space", "join", &space]);
    assert!(
        joined.contains(&format!("joined \"{ESCAPED}\"")),
        "{joined}"
    );
    for (args, lines) in [
        (&["space", "list"][..], 1),
        (&["read", &space], 1),
        (&["space", "members", &space], 2),
    ] {
        let shown = ok(&home, args);
        assert!(!raw_control(&shown), "tim {args:?} printed raw: {shown:?}");
        assert!(shown.contains(ESCAPED), "tim {args:?}: {shown}");
        assert_eq!(shown.lines().count(), lines, "tim {args:?}: {shown}");
    }

    // JSON keeps the exact text, with every control character escaped the JSON way.
    let json = ok(&home, &["--json", "read", &space]);
    assert!(!raw_control(&json), "{json:?}");
    let page: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(page["messages"][0]["text"], HOSTILE);
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_follow_shows_joins_role_changes_requests_deletions_and_removals() {
    let mut cluster = one_node(&[]).await;
    let home = cluster.nodes[0].home.clone();
    let space = ok(&home, &["space", "create", "events"]).trim().to_string();
    ok(&home, &["post", &space, "first"]);
    let mut command = tim_command(&home);
    command.args(["read", &space, "--follow"]);
    let follow = Lines::spawn(command);
    // The stream is followed before the page is read: what comes next is live.
    assert!(follow.next().ends_with(": first"));

    let (did, token) = timite_with_token(&home);
    let short = format!("…{}", &did[did.len() - 8..]);
    let as_other = |args: &[&str]| ok(&home, &[&["--token", token.as_str()], args].concat());
    let said = |what: &str| {
        let line = follow.next();
        assert!(line.ends_with(what), "want `{what}`, got `{line}`");
        assert!(line.starts_with('['), "{line}");
    };
    as_other(&["space", "join", &space]);
    said(&format!("* {short} joined as member"));
    ok(&home, &["space", "role", &space, &did, "moderator"]);
    said(&format!("* {short} is now moderator"));
    // A request for an ability (the owner's declaration migrates the space first).
    let owner = ok(&home, &["whoami"]).lines().next().unwrap().to_string();
    ok(
        &home,
        &[
            "ability",
            "declare",
            &space,
            "text.echo",
            "--description",
            "says it back",
        ],
    );
    as_other(&[
        "ability",
        "invoke",
        &space,
        "text.echo",
        "--input",
        "{}",
        "--to",
        &owner,
    ]);
    said(&format!("for text.echo by {short}: open"));
    let posted = as_other(&["--json", "post", &space, HOSTILE]);
    said(&format!("{short}: {ESCAPED}"));
    let id = serde_json::from_str::<serde_json::Value>(&posted).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    ok(&home, &["message", "delete", &space, &id]);
    said("* a message was deleted");
    ok(&home, &["space", "kick", &space, &did]);
    said(&format!("* {short} left or was removed"));
    cluster.stop().await;
}
