//! `tim post` taking its text from standard input (`-`) or a file (`--file PATH`), against a
//! real node: multi-line text arrives whole (its final line break dropped); text over 16 KiB,
//! text that is not UTF-8, an empty input, a missing file, and both a text and a file are
//! refused with one clear line. Also `tim api graphql-sdl` prints the checked-in schema.

mod common;

use std::io::Write;
use std::process::Stdio;

use serde_json::Value;
use tim_protocol::wire::MAX_TEXT_BYTES;

use common::{ok, one_error_line, one_node, text, tim, tim_command};

/// `tim post SPACE -` with `input` on standard input (and `--json` if `json`).
fn post_stdin(
    home: &std::path::Path,
    space: &str,
    input: &[u8],
    json: bool,
) -> std::process::Output {
    let mut child = tim_command(home)
        .args(json.then_some("--json"))
        .args(["post", space, "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tim");
    let mut stdin = child.stdin.take().unwrap();
    // The node may refuse before reading it all: a closed pipe is not the test's failure.
    let _ = stdin.write_all(input);
    drop(stdin);
    child.wait_with_output().expect("wait for tim")
}

/// The text of message `id` as `tim read --json` shows it.
fn text_of(home: &std::path::Path, space: &str, id: &str) -> String {
    let page: Value = serde_json::from_str(&ok(home, &["--json", "read", space])).unwrap();
    page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == id)
        .unwrap_or_else(|| panic!("message {id} not in {page}"))["text"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn post_reads_its_text_from_stdin_or_a_file_within_bounds() {
    let cluster = one_node(&[]).await;
    let home = cluster.nodes[0].home.clone();
    let space = ok(&home, &["space", "create", "input"]).trim().to_string();

    let out = post_stdin(&home, &space, b"first line\nsecond line\n", true);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let posted: Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = posted["id"].as_str().unwrap();
    assert_eq!(text_of(&home, &space, id), "first line\nsecond line");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("note.txt");
    std::fs::write(&file, "from a file ✓\r\n").unwrap();
    let file_arg = file.to_str().unwrap();
    let posted: Value =
        serde_json::from_str(&ok(&home, &["--json", "post", &space, "--file", file_arg])).unwrap();
    let id = posted["id"].as_str().unwrap();
    assert_eq!(text_of(&home, &space, id), "from a file ✓");

    // Refusals: one line each, and nothing posted.
    let before = text_of_count(&home, &space);
    let too_big = vec![b'a'; MAX_TEXT_BYTES + 1];
    let line = one_error_line(&post_stdin(&home, &space, &too_big, false));
    assert!(
        line.contains("standard input holds more than 16384 bytes"),
        "{line}"
    );
    let line = one_error_line(&post_stdin(&home, &space, b"ok then \xff\xfe", false));
    assert!(line.contains("standard input is not UTF-8 text"), "{line}");
    assert!(line.contains("offset 8"), "{line}");
    let line = one_error_line(&post_stdin(&home, &space, b"\n", false));
    assert!(
        line.contains("nothing to post: standard input is empty"),
        "{line}"
    );
    std::fs::write(&file, vec![b'b'; MAX_TEXT_BYTES + 1]).unwrap();
    let line = one_error_line(&tim(&home, &["post", &space, "--file", file_arg]));
    assert!(line.contains("holds more than 16384 bytes"), "{line}");
    let missing = dir.path().join("missing.txt");
    let line = one_error_line(&tim(
        &home,
        &["post", &space, "--file", missing.to_str().unwrap()],
    ));
    assert!(line.contains("cannot read"), "{line}");
    assert!(line.contains("missing.txt"), "{line}");
    // Both a text and a file: a usage error.
    let out = tim(&home, &["post", &space, "hello", "--file", file_arg]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("cannot be used with"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(text_of_count(&home, &space), before);
}

/// How many messages `tim read --json` shows.
fn text_of_count(home: &std::path::Path, space: &str) -> usize {
    let page: Value = serde_json::from_str(&ok(home, &["--json", "read", space])).unwrap();
    page["messages"].as_array().unwrap().len()
}

#[test]
fn api_graphql_sdl_prints_the_checked_in_schema() {
    let home = tempfile::tempdir().unwrap();
    let out = tim(home.path(), &["api", "graphql-sdl"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let checked_in = include_str!("../../docs/graphql.sdl");
    assert!(text(&out.stdout) == checked_in, "docs/graphql.sdl differs");
    assert!(checked_in.contains("space(id: String!): Space!"));
}
