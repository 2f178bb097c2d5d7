//! `tim agent …` end to end against a node process: an agent made with `--space` is a member
//! there under its own DID; show, tune, pause, logs (and `--follow`), resume and remove.

mod common;

use common::{ok, one_error_line, one_node, tim, tim_command, timite_with_token, Lines};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_new_with_a_space_prints_a_did_that_the_space_lists() {
    let mut cluster = one_node(&[]).await;
    let node = &cluster.nodes[0];
    let home = node.home.as_path();
    let space = node
        .client
        .create_space("garden", "The community garden")
        .await
        .unwrap()
        .id
        .to_string();

    let did = ok(
        home,
        &[
            "agent",
            "new",
            "host",
            "--persona",
            "greeter",
            "--space",
            &space,
        ],
    )
    .trim()
    .to_string();
    assert!(did.starts_with("did:key:z6Mk"), "{did}");
    let members = ok(home, &["space", "members", &space]);
    assert!(members.contains(&did), "{members}");

    let shown: serde_json::Value =
        serde_json::from_str(&ok(home, &["agent", "show", "host", "--json"])).unwrap();
    assert_eq!(shown["did"], did);
    assert_eq!(shown["template"], "greeter");
    assert_eq!(shown["status"], "running");
    assert_eq!(shown["spaces"], serde_json::json!([space]));
    let listed = ok(home, &["agent", "list"]);
    assert!(listed.contains("host") && listed.contains(&did), "{listed}");

    let tuned = ok(
        home,
        &[
            "agent",
            "tune",
            &did,
            "--actions-per-hour",
            "5",
            "--style",
            "formal",
        ],
    );
    assert!(tuned.contains("0/5 actions this hour"), "{tuned}");
    assert!(tuned.contains("style formal"), "{tuned}");

    // Its log, then live: a resume after a pause shows up in the follower.
    assert!(ok(home, &["agent", "pause", "host"]).contains("host paused"));
    let shown = ok(home, &["agent", "show", "host"]);
    assert!(shown.contains("status      paused"), "{shown}");
    let log = ok(home, &["agent", "logs", "host"]);
    assert!(log.contains("started") && log.contains("stopped"), "{log}");
    let mut follow = tim_command(home);
    follow.args(["agent", "logs", "host", "--follow", "--json"]);
    let follow = Lines::spawn(follow);
    let entries = log.lines().count();
    for _ in 0..entries {
        follow.next();
    }
    assert!(ok(home, &["agent", "resume", "host"]).contains("running"));
    let live: serde_json::Value = serde_json::from_str(&follow.next()).unwrap();
    assert_eq!(live["kind"], "started");
    assert_eq!(live["agent"], did);
    drop(follow);

    // A template that needs a model is refused without one, and nothing is made.
    let refused = one_error_line(&tim(
        home,
        &["agent", "new", "judge", "--persona", "mediator"],
    ));
    assert!(refused.contains("needs a language model"), "{refused}");

    // A timite's own token manages no agent.
    let (_, token) = timite_with_token(home);
    let refused = one_error_line(&tim(home, &["--token", &token, "agent", "list"]));
    assert!(refused.contains("operator"), "{refused}");

    let removed = ok(home, &["agent", "remove", "host"]);
    assert!(removed.contains(&did), "{removed}");
    assert!(ok(home, &["agent", "list"]).contains("no agents yet"));
    cluster.stop().await;
}

#[test]
fn the_agents_demo_wakes_a_space_serves_a_request_and_moves_reputation_everywhere() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tim"))
        .args(["testnet", "demo", "--agents"])
        .env("RUST_LOG", "warn")
        .output()
        .expect("run tim");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("(spark, an agent)"), "{stdout}");
    assert!(stdout.contains("the request is completed"), "{stdout}");
    for node in 1..=3 {
        assert!(
            stdout.contains(&format!(
                "node {node}: rating score 500‰ (0 ratings) → 666‰ (1 ratings)"
            )),
            "{stdout}"
        );
    }
    assert!(
        stdout.contains("says in its messages that it is an agent"),
        "{stdout}"
    );
    assert!(stdout.contains("RESULT: the agents took part"), "{stdout}");
}
