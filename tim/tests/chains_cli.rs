//! Chains with the `tim` binary (issue 14): on one node, the owner makes a chain of two steps
//! across two providers (other timites of the node, acting with their tokens) and follows it
//! until the last output; `tim ability chains` lists it completed; a second chain, whose step
//! 2 fails, is reported failed at that step with its reason, and `--follow` exits non-zero.
//! A member who may not migrate the space, and a one-step plan, are told why not.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{ok, tim_command, timite_with_token, Lines};
use serde_json::{json, Value};

/// How long a condition may take to hold.
const WAIT: Duration = Duration::from_secs(30);

/// Runs `tim [--token TOKEN] ARGS… --json` on `home` and parses its output.
fn json_as(home: &Path, token: Option<&str>, args: &[&str]) -> Value {
    let token: Vec<&str> = token.map(|t| vec!["--token", t]).unwrap_or_default();
    let out = ok(home, &[&token[..], args, &["--json"]].concat());
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("tim {args:?}: {e}: {out}"))
}

/// The provider with `token` claims the request addressed to it that is open, and answers
/// it with `output` or fails it with `reason`.
fn serve(home: &Path, space: &str, token: &str, answer: Result<Value, &str>) {
    let rid = common::wait_for("a request for the provider", WAIT, || {
        let mine = json_as(home, Some(token), &["ability", "requests", space, "--mine"]);
        mine.as_array()?
            .iter()
            .find(|r| r["state"] == "open")
            .map(|r| r["id"].as_str().unwrap().to_string())
    });
    let as_provider = |args: &[&str]| ok(home, &[&["--token", token], args].concat());
    as_provider(&["ability", "claim", space, &rid]);
    match answer {
        Ok(output) => as_provider(&[
            "ability",
            "result",
            space,
            &rid,
            "--output",
            &output.to_string(),
        ]),
        Err(reason) => as_provider(&["ability", "fail", space, &rid, "--reason", reason]),
    };
}

/// Reads `follow`'s lines until one that does not report a step's progress.
fn last_line(follow: &Lines) -> String {
    loop {
        let line = follow.next();
        if !line.starts_with("step ") {
            return line;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_is_made_followed_and_listed_and_a_failed_step_fails_it() {
    let mut cluster = common::one_node(&[]).await;
    let home = cluster.nodes[0].home.clone();
    let space = ok(&home, &["space", "create", "workshop"])
        .trim()
        .to_string();
    let (alice, alice_token) = timite_with_token(&home);
    let (bob, bob_token) = timite_with_token(&home);
    for token in [&alice_token, &bob_token] {
        ok(&home, &["--token", token, "space", "join", &space]);
    }

    // A member who may not migrate the space cannot make the first chain; a one-step plan
    // is no chain.
    let one_step = [
        "ability",
        "chain",
        &space,
        "--step",
        "text.clean",
        "--input",
        "{}",
    ];
    let two_steps = [&one_step[..], &["--step", "text.shout"]].concat();
    let line = common::one_error_line(&common::tim(
        &home,
        &[&["--token", alice_token.as_str()], &two_steps[..]].concat(),
    ));
    assert!(line.contains("`migrate` permission"), "{line}");
    let line = common::one_error_line(&common::tim(&home, &one_step));
    assert!(line.contains("2 to 8 steps"), "{line}");

    // The owner's chain migrates the space (schema version 6); it waits for its providers.
    let clean = format!("text.clean:{alice}");
    let shout = format!("text.shout:{bob}");
    let chain = |input: &str| {
        let mut c = tim_command(&home);
        c.args([
            "ability", "chain", &space, "--step", &clean, "--step", &shout,
        ])
        .args(["--input", input, "--timeout", "5m", "--follow"]);
        Lines::spawn(c)
    };
    let mut follow = chain(r#"{"text": "  hello  "}"#);
    let id = follow.next();
    for (token, name) in [(&alice_token, "text.clean"), (&bob_token, "text.shout")] {
        let args = [
            "ability",
            "declare",
            &space,
            name,
            "--description",
            "a test",
        ];
        ok(&home, &[&["--token", token.as_str()], &args[..]].concat());
    }
    serve(&home, &space, &alice_token, Ok(json!({"text": "hello"})));
    serve(&home, &space, &bob_token, Ok(json!({"loud": "HELLO"})));
    assert_eq!(last_line(&follow), r#"completed: {"loud":"HELLO"}"#);
    assert!(follow.status().success());

    let chains = json_as(&home, None, &["ability", "chains", &space]);
    let listed = &chains[0];
    assert_eq!(listed["id"], id.as_str(), "{chains}");
    assert_eq!(listed["state"], "completed", "{listed}");
    assert_eq!(listed["output"], json!({"loud": "HELLO"}), "{listed}");
    assert_eq!(listed["requests"][1]["input"], json!({"text": "hello"}));
    let step = &listed["requests"][1];
    assert_eq!((&step["chain"], &step["step"]), (&json!(id), &json!(1)));

    // Step 2 fails: the chain fails there, with the provider's reason.
    let mut follow = chain(r#"{"text": "again"}"#);
    let second = follow.next();
    serve(&home, &space, &alice_token, Ok(json!({"text": "again"})));
    serve(&home, &space, &bob_token, Err("hoarse"));
    assert_eq!(last_line(&follow), "failed at step 1: hoarse");
    assert!(!follow.status().success(), "--follow exits non-zero");
    let failed = json_as(&home, None, &["ability", "chains", &space]);
    let failed = failed
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == second.as_str())
        .unwrap();
    assert_eq!(
        (&failed["state"], &failed["step"], &failed["reason"]),
        (&json!("failed"), &json!(1), &json!("hoarse")),
        "{failed}"
    );
    cluster.stop().await;
}
