//! The `tim` command line as a user meets it: completions, `--json` anywhere on the line, one
//! `error:` line with exit code 1 on failure (2 for a usage error; a JSON object with
//! `--json`), and a quiet end when its reader closes the pipe.

mod common;

use std::path::Path;
use std::process::Output;

use common::{one_error_line, one_json_error, text, tim, tim_command};

/// `tim ARGS…` talking to a URL where no node listens: port 1 of the loopback, where the
/// connection is refused at once.
fn at_no_node(home: &Path, args: &[&str]) -> Output {
    let node = ["--node", "http://127.0.0.1:1", "--token", "x"];
    tim(home, &[&node[..], args].concat())
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
    // The same with --json: one JSON object on stderr.
    let out = tim(home.path(), &["--json", "whoami"]);
    let error = one_json_error(&out, 1);
    let reason = error["error"].as_str().unwrap();
    assert!(reason.contains("no running node found"), "{error}");
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
}

#[test]
fn usage_errors_are_one_line_and_json_with_json() {
    let home = tempfile::tempdir().unwrap();
    for args in [
        &["space", "frobnicate"][..],
        &["space"],
        &["read", "not-a-space-id"],
    ] {
        let out = tim(home.path(), args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
        let out = tim(home.path(), &[&["--json"], args].concat());
        let error = one_json_error(&out, 2);
        assert!(!error["error"].as_str().unwrap().is_empty(), "{error}");
    }
    // A command without its subcommand names the ones it takes.
    let line = text(&tim(home.path(), &["space"]).stderr);
    assert!(
        line.contains("`tim space` needs a command: create,"),
        "{line}"
    );
    assert!(!line.contains("help,"), "{line}");
}

#[test]
fn printing_to_a_closed_pipe_ends_quietly_with_exit_code_0() {
    let home = tempfile::tempdir().unwrap();
    assert!(tim(home.path(), &["init"]).status.success());
    for args in [&["id", "show"][..], &["--json", "id", "show"]] {
        // The reader is gone before tim writes anything: every write finds the pipe closed.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = tim_command(home.path())
            .args(args)
            .stdout(writer)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(out.stderr.is_empty(), "{args:?}: {}", text(&out.stderr));
    }
}

#[test]
fn a_corrupt_import_file_is_named_as_not_a_tim_export() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("garden.automerge.sigs");
    // The start of a bundle (a CBOR array of three), cut short.
    std::fs::write(&file, [0x83, 0x01, 0x58, 0x20, 0xab]).unwrap();
    // Checked before the node is asked: no node needs to listen at the URL.
    let out = at_no_node(home.path(), &["space", "import", file.to_str().unwrap()]);
    let line = one_error_line(&out);
    assert!(
        line.contains(&format!(
            "{} is not a Tim export (truncated or corrupt)",
            file.display()
        )),
        "{line}"
    );
    assert!(line.contains("truncated?"), "{line}");
    assert!(!line.contains("Io(") && !line.contains("Error {"), "{line}");
}

#[test]
fn unreachable_node_is_one_error_line_with_the_cause() {
    let home = tempfile::tempdir().unwrap();
    let out = at_no_node(home.path(), &["token", "list"]);
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
    let error = one_json_error(&out, 1);
    assert!(
        error["error"].as_str().unwrap().contains("does not verify"),
        "{error}"
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["verified"], false, "{report}");
    assert!(report["checks"].as_array().is_some_and(|c| !c.is_empty()));
}
