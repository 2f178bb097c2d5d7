//! What `tim` says when it refuses or fails (issue 17): a banned timite's re-join, a refused
//! act with its reason once, an expired ephemeral space, an unknown trust entry, a second node
//! on a home, and node logs without colour codes when they go to a file; a join refused by
//! requirements until `space require --clear` lifts them.

mod common;

use std::time::Duration;

use common::{
    ok, one_error_line, one_json_error, one_node, tim, tim_command, timite_with_token, wait_for,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_banned_timite_rejoining_is_refused_with_the_reason() {
    let mut cluster = one_node(&[]).await;
    let home = cluster.nodes[0].home.clone();
    let space = ok(&home, &["space", "create", "garden"]).trim().to_string();
    let (did, token) = timite_with_token(&home);
    let as_other = |args: &[&str]| tim(&home, &[&["--token", token.as_str()], args].concat());
    assert!(as_other(&["space", "join", &space]).status.success());
    ok(&home, &["space", "ban", &space, &did]);

    let line = one_error_line(&as_other(&["space", "join", &space]));
    assert!(
        line.contains(&format!("{did} is banned from space {space}")),
        "{line}"
    );
    assert!(!line.contains("joined"), "{line}");
    // With --json, the node's problem document and the line.
    let error = one_json_error(&as_other(&["--json", "space", "join", &space]), 1);
    assert_eq!(error["status"], 403, "{error}");
    assert!(
        error["detail"].as_str().unwrap().contains("banned"),
        "{error}"
    );
    assert!(
        error["error"].as_str().unwrap().contains("banned"),
        "{error}"
    );

    // Its writes are refused by the rules, which say so once.
    let line = one_error_line(&as_other(&["post", &space, "still here?"]));
    assert!(line.starts_with("error: Refused by the rules: "), "{line}");
    assert!(!line.contains("rules: refused"), "{line}");
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_ephemeral_space_says_it_expired() {
    let mut cluster = one_node(&[]).await;
    let home = cluster.nodes[0].home.clone();
    let created = ok(
        &home,
        &[
            "space",
            "create",
            "brief",
            "--visibility",
            "ephemeral",
            "--ttl",
            "1s",
        ],
    );
    let space = created.trim().to_string();
    // The node checks expiries every second.
    let out = wait_for("the space to expire", Duration::from_secs(30), || {
        let out = tim(&home, &["read", &space]);
        (!out.status.success()).then_some(out)
    });
    let line = one_error_line(&out);
    assert!(
        line.contains(&format!("space {space} was ephemeral and has expired")),
        "{line}"
    );
    assert!(!line.contains("join it first"), "{line}");
    let line = one_error_line(&tim(&home, &["space", "join", &space]));
    assert!(line.contains("has expired"), "{line}");
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_an_unknown_trust_entry_is_an_error() {
    let mut cluster = one_node(&[]).await;
    let home = cluster.nodes[0].home.clone();
    let issuer = ok(&home, &["whoami"]).lines().next().unwrap().to_string();
    let line = one_error_line(&tim(&home, &["trust", "remove", &issuer]));
    assert!(line.contains(&format!("no entry for {issuer}")), "{line}");
    ok(&home, &["trust", "set", &issuer, "0.5"]);
    let removed = ok(&home, &["trust", "remove", &issuer]);
    assert!(removed.contains("removed from the policy"), "{removed}");
    assert!(ok(&home, &["trust", "list"]).starts_with("no entries"));
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_node_on_a_home_is_refused_and_logs_to_a_file_are_not_coloured() {
    let mut cluster = one_node(&[]).await;
    let node = &cluster.nodes[0];
    let pid = node.pid().unwrap();
    let out = tim_command(&node.home)
        .env("RUST_LOG", "info")
        .args(["node", "run", "--api", "127.0.0.1:0"])
        .args(["--listen", "/ip4/127.0.0.1/tcp/0"])
        .output()
        .unwrap();
    let line = one_error_line(&out);
    assert!(
        line.starts_with(&format!(
            "error: a node is already running on this home (pid {pid})"
        )),
        "{line}"
    );
    // The running node was not disturbed.
    assert!(ok(&node.home, &["space", "list"]).contains("no spaces yet"));

    // The cluster's node logs to node.log (info by default): plain text.
    let log = node.home.join("node.log");
    let text = wait_for("a line logged at info", Duration::from_secs(30), || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        text.contains("INFO").then_some(text)
    });
    assert!(
        !text.contains('\u{1b}'),
        "colour codes in a log file: {text:?}"
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requirements_refuse_a_join_until_they_are_cleared() {
    let cluster = one_node(&[]).await;
    let home = cluster.nodes[0].home.clone();
    let space = ok(&home, &["space", "create", "guild"]).trim().to_string();
    let other = ok(&home, &["space", "create", "elsewhere"])
        .trim()
        .to_string();
    ok(&home, &["space", "require", &space, "--from", &other]);
    let (_, token) = timite_with_token(&home);
    let join = || tim(&home, &["--token", token.as_str(), "space", "join", &space]);
    let line = one_error_line(&join());
    assert!(line.contains("requires"), "{line}");
    let cleared = ok(&home, &["space", "require", &space, "--clear"]);
    assert!(cleared.starts_with("requirements cleared"), "{cleared}");
    let joined = join();
    assert!(joined.status.success(), "{}", common::text(&joined.stderr));
}
