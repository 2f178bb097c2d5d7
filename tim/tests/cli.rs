//! The `tim` command line as a user meets it: completions, `--json` anywhere on the line, and
//! one `error:` line with exit code 1 on failure.

mod common;

use std::process::Output;

use common::tim;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts that `out` failed with code 1 and exactly one stderr line `error: …`; returns it.
fn one_error_line(out: &Output) -> String {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "want one stderr line, got: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    lines[0].to_string()
}

#[test]
fn completions_bash_prints_a_script_with_every_subcommand() {
    let home = tempfile::tempdir().unwrap();
    let out = tim(home.path(), &["completions", "bash"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let script = text(&out.stdout);
    assert!(script.contains("_tim()"), "{script}");
    for sub in ["passport", "whoami", "token", "timite", "abilities"] {
        assert!(script.contains(sub), "no `{sub}` in the script");
    }
}

#[test]
fn no_running_node_is_one_error_line_and_exit_code_1() {
    let home = tempfile::tempdir().unwrap();
    let out = tim(home.path(), &["space", "list"]);
    let line = one_error_line(&out);
    assert!(line.contains("no running node found"), "{line}");
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    // The same with --json: the error stays one text line on stderr.
    let out = tim(home.path(), &["--json", "whoami"]);
    one_error_line(&out);
}

#[test]
fn unreachable_node_is_one_error_line_with_the_cause() {
    let home = tempfile::tempdir().unwrap();
    // Nothing listens on port 1 of the loopback: the connection is refused at once.
    let out = tim(
        home.path(),
        &[
            "--node",
            "http://127.0.0.1:1",
            "--token",
            "x",
            "token",
            "list",
        ],
    );
    let line = one_error_line(&out);
    assert!(
        line.contains("cannot reach the node at http://127.0.0.1:1"),
        "{line}"
    );
    assert!(line.to_lowercase().contains("refused"), "{line}");
}

#[test]
fn usage_errors_exit_with_2() {
    let home = tempfile::tempdir().unwrap();
    let out = tim(home.path(), &["space", "frobnicate"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

#[test]
fn json_is_global_and_accepted_after_the_command() {
    let home = tempfile::tempdir().unwrap();
    let out = tim(home.path(), &["--json", "init"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let init: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let timite = init["timite"].as_str().unwrap().to_string();
    assert!(timite.starts_with("did:key:"), "{init}");

    let human = tim(home.path(), &["id", "show"]);
    assert!(text(&human.stdout).contains(&timite));
    assert!(serde_json::from_slice::<serde_json::Value>(&human.stdout).is_err());

    for args in [["--json", "id", "show"], ["id", "show", "--json"]] {
        let out = tim(home.path(), &args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["timite"], timite.as_str(), "{v}");
        assert!(v["peer_id"].is_string(), "{v}");
    }
}

#[test]
fn a_failed_offline_verification_says_why_on_one_line() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("vc.json");
    std::fs::write(
        &file,
        r#"{"@context": [], "type": ["VerifiableCredential"]}"#,
    )
    .unwrap();
    let out = tim(
        home.path(),
        &["--json", "passport", "verify", file.to_str().unwrap()],
    );
    let line = one_error_line(&out);
    assert!(line.contains("does not verify"), "{line}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["verified"], false, "{report}");
    assert!(report["checks"].as_array().is_some_and(|c| !c.is_empty()));
}
