//! MCP tools as abilities with the `tim` binary on two real nodes (docs/mcp.md, "MCP tools as
//! abilities"): node 1 runs `tim ability serve-mcp SPACE -- node …server-everything… stdio`,
//! node 2 finds the imported `mcp.echo`, invokes it and gets the echo back; a bad input gets
//! the tool's reason as the failure; SIGTERM stops it cleanly; a request made while nobody
//! serves is served when it starts again; a server that dies ends `serve-mcp` with a clear
//! error.
//!
//! The MCP servers are the npm packages of node/tests/mcp-tools (installed by scripts/test);
//! without them the test says so and skips.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{ok, tim, tim_command, Lines};
use serde_json::{json, Value};
use tim_testnet::Cluster;

/// How long a condition may take to hold across nodes.
const WAIT: Duration = Duration::from_secs(30);

/// node/tests/mcp-tools, if its npm packages are installed.
fn mcp_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../node/tests/mcp-tools");
    if dir
        .join("node_modules/@modelcontextprotocol/server-everything")
        .exists()
    {
        return Some(dir);
    }
    eprintln!(
        "SKIPPED: the npm packages of {} are not installed (scripts/test installs them: npm ci \
         --prefix node/tests/mcp-tools)",
        dir.display()
    );
    None
}

/// The DID of the timite `tim` acts as on `home`.
fn did_of(home: &Path) -> String {
    ok(home, &["whoami"]).lines().next().unwrap().to_string()
}

/// The hit of `name` by `provider` in `tim ability search QUERY --json` on `home`.
fn hit(home: &Path, query: &str, name: &str, provider: &str) -> Option<Value> {
    let out = ok(home, &["ability", "search", query, "--json"]);
    let hits: Value = serde_json::from_str(&out).unwrap();
    hits.as_array()?
        .iter()
        .find(|h| h["name"] == name && h["provider"] == provider)
        .cloned()
}

/// `tim ability invoke SPACE NAME --input INPUT --to TO --follow --json` on `home`: the request
/// as it ended.
fn invoke(home: &Path, space: &str, name: &str, input: &Value, to: &str) -> Value {
    let input = input.to_string();
    let args = [
        "ability",
        "invoke",
        space,
        name,
        "--input",
        &input,
        "--to",
        to,
        "--timeout",
        "60s",
        "--follow",
        "--json",
    ];
    let out = ok(home, &args);
    let last = out
        .lines()
        .last()
        .expect("invoke --follow prints the request");
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// The line `serve-mcp` prints for request `id`, skipping the declarations before it.
fn served_line(lines: &Lines, id: &str) -> String {
    loop {
        let line = lines.next();
        if line.starts_with(id) {
            return line;
        }
        assert!(line.starts_with("declared "), "unexpected: {line}");
    }
}

/// Stops a running `serve-mcp` with SIGTERM (as Ctrl-C); it must end well.
fn stop(mut serving: Lines) {
    let term = Command::new("kill")
        .args(["-TERM", &serving.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    assert!(
        serving.status().success(),
        "serve-mcp ends well on a signal"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_mcp_tool_is_offered_found_and_invoked_across_two_nodes() {
    let Some(dir) = mcp_dir() else { return };
    let exe = Path::new(env!("CARGO_BIN_EXE_tim"));
    let cluster = Cluster::start(exe, 2, None, None).await.unwrap();
    let (home1, home2) = (&cluster.nodes[0].home, &cluster.nodes[1].home);
    let provider = did_of(home1);
    let space = ok(home1, &["space", "create", "tools"]).trim().to_string();
    ok(
        home2,
        &[
            "space",
            "join",
            &space,
            "--via",
            &cluster.nodes[0].listen[0],
        ],
    );

    // Node 1 offers server-everything's tools: each declared, one line each.
    let everything = dir.join("node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    let mut serve = tim_command(home1);
    serve
        .args(["ability", "serve-mcp", &space, "--", "node"])
        .arg(&everything)
        .arg("stdio");
    let serving = Lines::spawn(serve);
    let declared = serving.next();
    assert!(declared.starts_with("declared mcp."), "{declared}");

    // Node 2 finds the imported echo, with the tool's description, and invokes it.
    let found = common::wait_for("mcp.echo on node 2", WAIT, || {
        hit(home2, "echo", "mcp.echo", &provider)
    });
    assert!(
        found["description"].as_str().unwrap().contains("Echo"),
        "{found}"
    );
    let message = "hello across two nodes";
    let done = invoke(
        home2,
        &space,
        "mcp.echo",
        &json!({ "message": message }),
        &provider,
    );
    assert_eq!(done["state"], "completed", "{done}");
    let echoed = done["output"].as_str().expect("the echo is text");
    assert!(echoed.ends_with(message), "{done}");
    let id = done["id"].as_str().unwrap();
    let line = served_line(&serving, id);
    assert!(
        line.contains("mcp.echo") && line.contains("answered") && line.contains(message),
        "{line}"
    );

    // An input the schema accepts but the tool refuses: a failure with the tool's reason.
    let failed = invoke(
        home2,
        &space,
        "mcp.get-resource-reference",
        &json!({ "resourceId": 0 }),
        &provider,
    );
    assert_eq!(failed["state"], "failed", "{failed}");
    let reason = failed["failure"].as_str().unwrap();
    assert!(reason.contains("resourceId"), "{failed}");
    let line = served_line(&serving, failed["id"].as_str().unwrap());
    assert!(line.contains("failed: "), "{line}");

    // SIGTERM (as Ctrl-C) stops it cleanly; the declarations stay.
    stop(serving);

    // A request made while nobody serves is served when serve-mcp starts again.
    let input = json!({ "message": "while you were away" }).to_string();
    let asked = ok(
        home2,
        &[
            "ability", "invoke", &space, "mcp.echo", "--input", &input, "--to", &provider,
        ],
    );
    let id = asked.trim();
    let mut serve = tim_command(home1);
    serve
        .args([
            "ability",
            "serve-mcp",
            &space,
            "--tool",
            "echo",
            "--",
            "node",
        ])
        .arg(&everything)
        .arg("stdio");
    let serving = Lines::spawn(serve);
    let line = served_line(&serving, id);
    assert!(line.contains("while you were away"), "{line}");
    common::wait_for("the late echo's outcome on node 2", WAIT, || {
        let out = ok(home2, &["ability", "requests", &space, "--json"]);
        let list: Value = serde_json::from_str(&out).unwrap();
        list.as_array()?
            .iter()
            .find(|r| r["id"] == id && r["state"] == "completed")
            .cloned()
    });
    stop(serving);

    // A server that dies mid-call ends serve-mcp with an error naming it; the request fails.
    let paged = dir.join("paged-server.mjs").display().to_string();
    let args = [
        "ability",
        "serve-mcp",
        &space,
        "--prefix",
        "paged",
        "--tool",
        "crash",
        "--",
        "node",
        &paged,
        "stdio",
    ]
    .map(String::from);
    let home = home1.clone();
    let crashing = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        tim(&home, &args)
    });
    common::wait_for("paged.crash on node 2", WAIT, || {
        hit(home2, "crash", "paged.crash", &provider)
    });
    let crashed = invoke(home2, &space, "paged.crash", &json!({}), &provider);
    assert_eq!(crashed["state"], "failed", "{crashed}");
    let ended = tokio::time::timeout(WAIT, crashing)
        .await
        .expect("serve-mcp ends when its server dies")
        .unwrap();
    assert!(!ended.status.success());
    let stderr = common::text(&ended.stderr);
    assert!(
        stderr.contains("the MCP server is gone") && stderr.contains("crashing on purpose"),
        "{stderr}"
    );
}
