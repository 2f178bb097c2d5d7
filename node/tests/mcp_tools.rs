//! MCP tools as abilities (docs/mcp.md, "MCP tools as abilities"): the client against real MCP
//! servers run by Node.js: the published `@modelcontextprotocol/server-everything`, and
//! `mcp-tools/paged-server.mjs` (on the official TypeScript SDK) for paging, tool errors, a
//! result breaking its output schema, a crash, a hang and HTTP with a bearer token.
//!
//! The npm packages are in node/tests/mcp-tools (installed by scripts/test); without them the
//! tests say so and skip.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};
use tim_crdt::abilities::check_name;
use tim_crdt::json_schema;
use tim_node::mcp_tools::{declaration, McpServerSpec, McpToolError, McpTools, DEFAULT_PREFIX};
use tokio::io::AsyncBufReadExt;

/// node/tests/mcp-tools, if its npm packages are installed.
fn mcp_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/mcp-tools");
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

fn stdio(args: Vec<String>, env: BTreeMap<String, String>) -> McpServerSpec {
    McpServerSpec::Stdio {
        command: "node".into(),
        args,
        env,
    }
}

fn everything(dir: &std::path::Path) -> McpServerSpec {
    let main = dir.join("node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    stdio(
        vec![main.display().to_string(), "stdio".into()],
        BTreeMap::new(),
    )
}

fn paged(dir: &std::path::Path, env: BTreeMap<String, String>) -> McpServerSpec {
    let script = dir.join("paged-server.mjs").display().to_string();
    stdio(vec![script, "stdio".into()], env)
}

#[tokio::test]
async fn server_everything_tools_are_listed_mapped_and_called() {
    let Some(dir) = mcp_dir() else { return };
    let tools = McpTools::connect(&everything(&dir)).await.unwrap();
    let names: Vec<&str> = tools.tools().iter().map(|t| t.name.as_str()).collect();
    assert!(names.contains(&"echo"), "no echo among {names:?}");
    // Every tool the package lists maps onto a declaration the rules accept.
    for tool in tools.tools() {
        let (name, d) =
            declaration(DEFAULT_PREFIX, tool).unwrap_or_else(|e| panic!("{}: {e}", tool.name));
        check_name(&name).unwrap();
        assert!(name.starts_with("mcp."), "{name}");
        assert!(!d.description.is_empty() && d.description.len() <= 1024);
        json_schema::check(&d.input_schema).unwrap();
        json_schema::check(&d.output_schema).unwrap();
        assert_eq!(d.input_schema, tool.input_schema);
    }

    let message = "hello from tim \u{1F44B}";
    let echoed = tools
        .call("echo", json!({ "message": message }))
        .await
        .unwrap();
    let echoed = echoed.as_str().expect("echo answers with text");
    assert!(echoed.ends_with(message), "{echoed:?}");
    let answered = tools.answer("echo", json!({ "message": message })).await;
    assert_eq!(answered, Ok(json!(echoed)));

    // Arguments that the tool refuses: an error carrying the tool's reason, not a value.
    let e = tools.call("echo", json!({})).await.unwrap_err();
    assert!(
        matches!(&e, McpToolError::Tool(why) | McpToolError::Refused(why) if why.contains("message")),
        "{e:?}"
    );
    let e = tools
        .call("echo", json!("not an object"))
        .await
        .unwrap_err();
    assert!(matches!(e, McpToolError::Arguments(_)), "{e:?}");
    // The session is still usable after an error.
    assert!(tools
        .call("echo", json!({"message": "again"}))
        .await
        .is_ok());
}

#[tokio::test]
async fn a_paged_list_is_followed_and_each_kind_of_result_maps() {
    let Some(dir) = mcp_dir() else { return };
    let tools = McpTools::connect(&paged(&dir, BTreeMap::new()))
        .await
        .unwrap();
    let names: Vec<&str> = tools.tools().iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Shout",
            "json-report",
            "weather",
            "fail",
            "crash",
            "hang",
            "9lives"
        ],
        "every page, in order"
    );
    let mapped: Vec<_> = tools
        .tools()
        .iter()
        .map(|t| declaration("tools", t).map(|(n, _)| n))
        .collect();
    assert_eq!(mapped[0].as_deref().unwrap(), "tools.shout");
    let e = mapped[6].as_ref().unwrap_err();
    assert!(
        matches!(e, McpToolError::Unmappable { tool, .. } if tool == "9lives"),
        "{e:?}"
    );
    let weather = declaration("tools", tools.tool("weather").unwrap())
        .unwrap()
        .1;
    assert_eq!(
        weather.output_schema["required"],
        json!(["temperature"]),
        "the tool's output schema is the ability's"
    );

    assert_eq!(
        tools.call("Shout", json!({"text": "hi"})).await.unwrap(),
        json!("HI")
    );
    assert_eq!(
        tools.call("json-report", Value::Null).await.unwrap(),
        json!({"ok": true, "n": 3}),
        "a JSON object given as text is parsed"
    );
    assert_eq!(
        tools.answer("weather", json!({"city": "Paris"})).await,
        Ok(json!({"temperature": 21.5})),
        "structured content wins over text"
    );
    let why = tools
        .answer("weather", json!({"city": "Atlantis"}))
        .await
        .unwrap_err();
    assert!(why.contains("output schema"), "{why}");
    let e = tools.call("fail", json!({})).await.unwrap_err();
    assert!(
        matches!(&e, McpToolError::Tool(why) if why == "failed on purpose"),
        "{e:?}"
    );
    assert_eq!(
        tools.answer("fail", json!({})).await,
        Err("failed on purpose".to_string())
    );
}

#[tokio::test]
async fn a_hung_tool_times_out_and_a_crashed_server_is_an_error() {
    let Some(dir) = mcp_dir() else { return };
    let tools = McpTools::connect(&paged(&dir, BTreeMap::new()))
        .await
        .unwrap()
        .with_call_timeout(Duration::from_millis(500));
    let e = tools.call("hang", json!({})).await.unwrap_err();
    assert!(
        matches!(&e, McpToolError::Timeout { tool, .. } if tool == "hang"),
        "{e:?}"
    );
    assert!(tools
        .call("Shout", json!({"text": "still here"}))
        .await
        .is_ok());

    let e = tools.call("crash", json!({})).await.unwrap_err();
    assert!(matches!(e, McpToolError::Closed(_)), "{e:?}");
    let gone = tokio::time::timeout(Duration::from_secs(10), tools.closed())
        .await
        .expect("the end of the session is noticed");
    assert!(
        gone.to_string().contains("crashing on purpose"),
        "the server's last words explain it: {gone}"
    );
    // Every later call fails at once, without a hang.
    let e = tools.call("Shout", json!({"text": "x"})).await.unwrap_err();
    assert!(matches!(e, McpToolError::Closed(_)), "{e:?}");
}

#[tokio::test]
async fn dropping_the_tools_kills_the_server() {
    let Some(dir) = mcp_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let pid_file = tmp.path().join("pid");
    let env = BTreeMap::from([(
        "MCP_TEST_PID_FILE".to_string(),
        pid_file.display().to_string(),
    )]);
    let tools = McpTools::connect(&paged(&dir, env)).await.unwrap();
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    let alive = || {
        // Gone, or a zombie not reaped yet: no longer running.
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|stat| !stat.contains(") Z "))
            .unwrap_or(false)
    };
    assert!(alive(), "the server runs while the tools are held");
    drop(tools);
    common::eventually(10, "the server to be killed", || async { !alive() }).await;
}

#[tokio::test]
async fn an_http_server_is_reached_with_its_bearer_token() {
    let Some(dir) = mcp_dir() else { return };
    let mut server = tokio::process::Command::new("node")
        .arg(dir.join("paged-server.mjs"))
        .arg("http")
        .env("MCP_TEST_TOKEN", "s3cret-token")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut out = tokio::io::BufReader::new(server.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), out.next_line())
        .await
        .expect("the server says where it listens")
        .unwrap()
        .unwrap();
    let port = line.strip_prefix("listening ").expect(&line);
    let url = format!("http://127.0.0.1:{port}/mcp");
    let spec = |var: &str| McpServerSpec::Http {
        url: url.clone(),
        bearer_env: Some(var.into()),
    };

    let e = McpTools::connect(&spec("TIM_TEST_MCP_UNSET"))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, McpToolError::BearerMissing(v) if v == "TIM_TEST_MCP_UNSET"),
        "{e:?}"
    );
    // nextest runs each test in a process of its own.
    std::env::set_var("TIM_TEST_MCP_WRONG", "wrong");
    let e = McpTools::connect(&spec("TIM_TEST_MCP_WRONG"))
        .await
        .unwrap_err();
    assert!(matches!(e, McpToolError::Connect { .. }), "{e:?}");
    assert!(!e.to_string().contains("wrong"), "no token in errors: {e}");

    std::env::set_var("TIM_TEST_MCP_TOKEN", "s3cret-token");
    let tools = McpTools::connect(&spec("TIM_TEST_MCP_TOKEN"))
        .await
        .unwrap();
    assert_eq!(tools.tools().len(), 7, "every page");
    assert_eq!(
        tools
            .call("Shout", json!({"text": "over http"}))
            .await
            .unwrap(),
        json!("OVER HTTP")
    );
    let e = tools.call("fail", json!({})).await.unwrap_err();
    assert!(
        matches!(&e, McpToolError::Tool(why) if why == "failed on purpose"),
        "{e:?}"
    );
}

#[tokio::test]
async fn a_server_that_cannot_start_is_an_error_that_says_why() {
    let missing = McpServerSpec::Stdio {
        command: "tim-no-such-mcp-server".into(),
        args: Vec::new(),
        env: BTreeMap::new(),
    };
    let e = McpTools::connect(&missing).await.unwrap_err();
    assert!(matches!(e, McpToolError::Spawn { .. }), "{e:?}");
    let dying = stdio(
        vec![
            "-e".into(),
            r#"process.stderr.write("bad config: no key\n"); process.exit(2)"#.into(),
        ],
        BTreeMap::new(),
    );
    let e = McpTools::connect(&dying).await.unwrap_err();
    assert!(
        matches!(&e, McpToolError::Connect { reason, .. } if reason.contains("bad config: no key")),
        "its last words explain it: {e}"
    );
}
