//! `tim mcp`: an MCP server on stdio acting as the home's timite, through the running node's
//! `/mcp` (a real node process): initialize, a post over `tools/call` that lands in the node's
//! timeline, a malformed line answered with a parse error; and a clear error when no node runs.

mod common;

use std::process::Stdio;

use common::{one_error_line, one_node, tim, tim_command, Lines};
use serde_json::{json, Value};

/// The next JSON-RPC message `tim mcp` writes.
fn answer(lines: &Lines) -> Value {
    let line = lines.next();
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tim_mcp_serves_the_nodes_tools_on_stdio_as_the_homes_timite() {
    let cluster = one_node(&[]).await;
    let node = &cluster.nodes[0];
    let space = node.client.create_space("desk", "").await.unwrap().id;
    let me = node.client.me().await.unwrap().did;

    let mut command = tim_command(&node.home);
    command.arg("mcp").stdin(Stdio::piped());
    let mut mcp = Lines::spawn(command);
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "stdio-test", "version": "1"}}});
    mcp.send(&init.to_string());
    let init = answer(&mcp);
    assert_eq!(init["id"], 1, "{init}");
    assert_eq!(init["result"]["serverInfo"]["name"], "tim", "{init}");
    assert_eq!(init["result"]["protocolVersion"], "2025-06-18", "{init}");
    mcp.send(r#"{"jsonrpc": "2.0", "method": "notifications/initialized"}"#);

    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
        "name": "post", "arguments": {"space": space.to_string(), "text": "hello over stdio"}}});
    mcp.send(&call.to_string());
    let posted = answer(&mcp);
    assert_eq!(posted["id"], 2, "{posted}");
    assert_eq!(posted["result"]["isError"], false, "{posted}");
    let id = posted["result"]["structuredContent"]["id"]
        .as_str()
        .unwrap();
    let timeline = node.client.timeline(space).await.unwrap();
    let message = timeline.messages.iter().find(|m| m.id == id).unwrap();
    assert_eq!(message.text, "hello over stdio");
    assert_eq!(message.author, me, "acts as the home's timite");

    // A line that is no JSON: a parse error, and the bridge goes on.
    mcp.send("{not json");
    let bad = answer(&mcp);
    assert_eq!(bad["error"]["code"], -32700, "{bad}");
    mcp.send(r#"{"jsonrpc": "2.0", "id": 3, "method": "ping"}"#);
    assert_eq!(
        answer(&mcp),
        json!({"jsonrpc": "2.0", "id": 3, "result": {}})
    );

    mcp.close_stdin();
    assert!(mcp.status().success(), "tim mcp ends when its input does");
}

#[test]
fn tim_mcp_without_a_running_node_says_so() {
    let home = tempfile::tempdir().unwrap();
    let out = tim(home.path(), &["mcp"]);
    let line = one_error_line(&out);
    assert!(line.contains("no running node"), "{line}");
    assert!(line.contains("tim node run"), "{line}");
}
