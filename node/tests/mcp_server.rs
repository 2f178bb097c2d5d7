//! The MCP server at `/mcp` over real sockets: plain JSON-RPC over HTTP (initialize, the tools,
//! a post read back, a refusal that writes nothing, resources and prompts, an invocation that
//! waits on the request's events, 401s with a bearer challenge); then from outside, the
//! official conformance suite (`@modelcontextprotocol/conformance`, through a loopback proxy
//! that adds the token, which the suite does not send) and the official TypeScript SDK's client
//! (`node/tests/mcp/sdk-client.mjs`). The npm packages are installed from
//! `node/tests/mcp/package-lock.json` on first use (`scripts/test` does it too).

mod common;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use reqwest::StatusCode;
use serde_json::{json, Value};

const ADMIN: &str = "mcp-admin-token";
/// The protocol version the tests speak after `initialize`.
const VERSION: &str = "2025-06-18";
/// How long an outside script (the conformance suite, the SDK client) may run.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

/// The tools the server must offer.
const TOOLS: [&str; 11] = [
    "list_spaces",
    "read",
    "post",
    "members",
    "search_abilities",
    "invoke",
    "request",
    "my_requests",
    "claim",
    "answer",
    "rate",
];

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// A JSON-RPC client of one node's `/mcp` with one token.
struct Mcp {
    http: reqwest::Client,
    url: String,
    token: String,
}

impl Mcp {
    fn new(base: &str, token: &str) -> Self {
        Self {
            http: http(),
            url: format!("{base}/mcp"),
            token: token.to_string(),
        }
    }

    /// Sends one JSON-RPC request; answers its response (`result` or `error`).
    async fn rpc(&self, method: &str, params: Value) -> Value {
        let resp = self
            .http
            .post(&self.url)
            .bearer_auth(&self.token)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", VERSION)
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
            .timeout(Duration::from_secs(60))
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let kind = resp.headers()["content-type"].to_str().unwrap().to_string();
        let body = resp.text().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{method}: {body}");
        assert!(kind.starts_with("application/json"), "{method}: {kind}");
        let answer: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(answer["id"], 1, "{answer}");
        answer
    }

    /// Calls a tool; answers its result (`isError` false or true).
    async fn tool(&self, name: &str, args: Value) -> Value {
        let answer = self
            .rpc("tools/call", json!({"name": name, "arguments": args}))
            .await;
        assert!(answer["error"].is_null(), "{name}: {answer}");
        answer["result"].clone()
    }

    /// Calls a tool that must succeed; answers its structured content.
    async fn ok(&self, name: &str, args: Value) -> Value {
        let result = self.tool(name, args).await;
        assert_eq!(result["isError"], false, "{name}: {result}");
        result["structuredContent"].clone()
    }
}

/// A node with its API (and `/mcp`), and the base URL.
async fn node(tmp: &tempfile::TempDir) -> (common::TestNode, String) {
    common::node_with_api(tmp, 1, ADMIN).await
}

/// A new hosted timite and a token acting as it.
async fn timite(base: &str) -> (String, String) {
    let api = http();
    let did: Value = api
        .post(format!("{base}/v1/timites"))
        .bearer_auth(ADMIN)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let did = did["did"].as_str().unwrap().to_string();
    let token: Value = api
        .post(format!("{base}/v1/tokens"))
        .bearer_auth(ADMIN)
        .json(&json!({"did": did, "label": "mcp"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (did, token["token"].as_str().unwrap().to_string())
}

/// Makes `token`'s timite a member of the space (`POST /v1/spaces/{id}/join`).
async fn join(base: &str, token: &str, space: &str) {
    let resp = http()
        .post(format!("{base}/v1/spaces/{space}/join"))
        .bearer_auth(token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "{}",
        resp.text().await.unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initialize_list_the_tools_post_and_read_it_back() {
    let tmp = tempfile::tempdir().unwrap();
    let (n, base) = node(&tmp).await;
    let space = n
        .handle
        .create_space("lobby", "say hello")
        .await
        .unwrap()
        .id;
    let mcp = Mcp::new(&base, ADMIN);

    let init = mcp
        .rpc(
            "initialize",
            json!({"protocolVersion": VERSION, "capabilities": {},
                   "clientInfo": {"name": "test", "version": "1"}}),
        )
        .await;
    let result = &init["result"];
    assert_eq!(result["serverInfo"]["name"], "tim", "{init}");
    assert_eq!(result["protocolVersion"], VERSION, "{init}");
    for capability in ["tools", "resources", "prompts"] {
        assert!(result["capabilities"][capability].is_object(), "{init}");
    }
    assert!(result["instructions"].as_str().unwrap().contains("post"));

    let tools = mcp.rpc("tools/list", json!({})).await;
    let listed: Vec<&str> = tools["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(listed.len(), TOOLS.len(), "{listed:?}");
    for name in TOOLS {
        assert!(listed.contains(&name), "{name} missing from {listed:?}");
    }
    let post = tools["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "post")
        .unwrap();
    assert_eq!(post["inputSchema"]["type"], "object", "{post}");
    for arg in ["space", "text"] {
        assert!(
            post["inputSchema"]["properties"][arg]["description"].is_string(),
            "{post}"
        );
    }

    // Post by name, read by id: the message is in the node's timeline, as the home's timite.
    let posted = mcp
        .ok(
            "post",
            json!({"space": "lobby", "text": "hello from an LLM"}),
        )
        .await;
    let id = posted["id"].as_str().unwrap();
    let page = mcp
        .ok("read", json!({"space": space.to_string(), "limit": 5}))
        .await;
    assert_eq!(page["messages"][0]["id"], id, "{page}");
    assert_eq!(page["messages"][0]["text"], "hello from an LLM");
    assert_eq!(page["messages"][0]["author"], n.handle.timite().to_string());
    let timeline = n.handle.timeline(space).await.unwrap();
    assert_eq!(timeline.messages.len(), 1);
    assert_eq!(timeline.messages[0].text, "hello from an LLM");
    let spaces = mcp.ok("list_spaces", json!({})).await;
    assert_eq!(spaces["spaces"][0]["messages"], 1, "{spaces}");
    // Two spaces of one name: the name is ambiguous, the id is not.
    let twin = n.handle.create_space("lobby", "again").await.unwrap().id;
    let answer = mcp
        .rpc(
            "tools/call",
            json!({"name": "read", "arguments": {"space": "lobby"}}),
        )
        .await;
    assert_eq!(answer["error"]["code"], -32602, "{answer}");
    assert!(answer.to_string().contains(&twin.to_string()), "{answer}");
    let short = &space.to_string()[..8];
    let members = mcp.ok("members", json!({"space": short})).await;
    assert_eq!(members["members"].as_array().unwrap().len(), 1, "{members}");

    // Arguments that fail the input schema are a tool error the model reads (as rmcp answers
    // them, SEP-1303); arguments that parse but name nothing are protocol errors: a space that
    // names no space, a cursor that is no message id.
    let missing = mcp.tool("post", json!({"space": "lobby"})).await;
    assert_eq!(missing["isError"], true, "{missing}");
    assert!(
        missing.to_string().contains("missing field `text`"),
        "{missing}"
    );
    let answer = mcp
        .rpc(
            "tools/call",
            json!({"name": "post", "arguments": {"space": "no such space", "text": "x"}}),
        )
        .await;
    assert_eq!(answer["error"]["code"], -32602, "{answer}");
    assert!(answer["error"]["message"]
        .as_str()
        .unwrap()
        .contains("names no space"));
    let answer = mcp
        .rpc(
            "tools/call",
            json!({"name": "read", "arguments": {"space": space.to_string(), "before": "nonsense"}}),
        )
        .await;
    assert_eq!(answer["error"]["code"], -32602, "{answer}");
    assert_eq!(n.handle.timeline(space).await.unwrap().messages.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_where_the_tokens_timite_is_not_a_member_is_refused_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (n, base) = node(&tmp).await;
    let space = n.handle.create_space("club", "members only").await.unwrap();
    n.handle.post(space.id, "first").await.unwrap();
    let (_outsider, token) = timite(&base).await;
    let mcp = Mcp::new(&base, &token);
    let before = n.handle.timeline(space.id).await.unwrap();

    // The outsider reads the public space, but may not post, rate or ask in it.
    let page = mcp.ok("read", json!({"space": space.id.to_string()})).await;
    assert_eq!(page["messages"][0]["text"], "first");
    let owner = n.handle.timite().to_string();
    for (tool, args) in [
        (
            "post",
            json!({"space": space.id.to_string(), "text": "let me in"}),
        ),
        (
            "rate",
            json!({"space": space.id.to_string(), "member": owner, "score": 5}),
        ),
    ] {
        let result = mcp.tool(tool, args).await;
        assert_eq!(result["isError"], true, "{tool}: {result}");
        let text = result["content"][0]["text"].as_str().unwrap();
        assert!(text.starts_with("refused: "), "{tool}: {text}");
        assert!(text.contains("member"), "{tool}: the rules' reason: {text}");
    }
    let after = n.handle.timeline(space.id).await.unwrap();
    assert_eq!(
        after.heads, before.heads,
        "a refused write changed the space"
    );
    assert_eq!(after.messages.len(), 1);

    // A private space does not exist for it: a refusal too, and nothing written.
    let private = n
        .handle
        .create_private_space("secret", "", None)
        .await
        .unwrap();
    let result = mcp
        .tool(
            "post",
            json!({"space": private.id.to_string(), "text": "hello?"}),
        )
        .await;
    assert_eq!(result["isError"], true, "{result}");
    assert!(n
        .handle
        .timeline(private.id)
        .await
        .unwrap()
        .messages
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_or_a_bad_token_is_401_with_a_bearer_challenge() {
    let tmp = tempfile::tempdir().unwrap();
    let (_n, base) = node(&tmp).await;
    let ping = json!({"jsonrpc": "2.0", "id": 1, "method": "ping"});
    for (token, error) in [(None, None), (Some("not-a-token"), Some("invalid_token"))] {
        let mut req = http()
            .post(format!("{base}/mcp"))
            .header("accept", "application/json, text/event-stream")
            .json(&ping);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        let challenge = resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(challenge.starts_with("Bearer "), "{challenge}");
        assert_eq!(
            challenge.contains("error=\"invalid_token\""),
            error.is_some(),
            "{challenge}"
        );
        let problem: Value = resp.json().await.unwrap();
        assert_eq!(problem["status"], 401, "{problem}");
    }
    // With the token, the same ping answers.
    let pong = Mcp::new(&base, ADMIN).rpc("ping", json!({})).await;
    assert_eq!(pong["result"], json!({}), "{pong}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resources_and_prompts_are_the_tokens_timites() {
    let tmp = tempfile::tempdir().unwrap();
    let (n, base) = node(&tmp).await;
    let space = n.handle.create_space("garden", "plants").await.unwrap().id;
    n.handle.post(space, "the tomatoes are ripe").await.unwrap();
    let me = n.handle.timite().to_string();
    let mcp = Mcp::new(&base, ADMIN);

    let listed = mcp.rpc("resources/list", json!({})).await;
    let uris: Vec<&str> = listed["result"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["uri"].as_str().unwrap())
        .collect();
    let timeline = format!("tim://spaces/{space}/timeline");
    let passport = format!("tim://timites/{me}/passport");
    assert!(uris.contains(&timeline.as_str()), "{uris:?}");
    assert!(uris.contains(&passport.as_str()), "{uris:?}");
    let templates = mcp.rpc("resources/templates/list", json!({})).await;
    assert_eq!(
        templates["result"]["resourceTemplates"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "{templates}"
    );

    let read = mcp.rpc("resources/read", json!({"uri": timeline})).await;
    let contents = read["result"]["contents"].as_array().unwrap();
    let page: Value = serde_json::from_str(contents[0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(page["messages"][0]["text"], "the tomatoes are ripe");
    assert_eq!(contents[1]["mimeType"], "text/plain");
    assert!(contents[1]["text"]
        .as_str()
        .unwrap()
        .ends_with(": the tomatoes are ripe"));
    let read = mcp.rpc("resources/read", json!({"uri": passport})).await;
    let body: Value =
        serde_json::from_str(read["result"]["contents"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(body["did"], me.as_str(), "{body}");
    assert!(body["credentials"].is_array(), "{body}");

    // Another timite's passport, or an unknown resource: not found.
    let (other, other_token) = timite(&base).await;
    for uri in [
        format!("tim://timites/{other}/passport"),
        "tim://nothing".into(),
    ] {
        let answer = mcp.rpc("resources/read", json!({"uri": uri})).await;
        assert_eq!(answer["error"]["code"], -32002, "{answer}");
    }
    // The other timite's list names its own passport, not this one.
    let theirs = Mcp::new(&base, &other_token)
        .rpc("resources/list", json!({}))
        .await;
    let text = theirs.to_string();
    assert!(text.contains(&format!("tim://timites/{other}/passport")));
    assert!(!text.contains(&passport), "{text}");

    let prompts = mcp.rpc("prompts/list", json!({})).await;
    let names: Vec<&str> = prompts["result"]["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for name in ["catch_up", "ask_for_help", "introduce_yourself"] {
        assert!(names.contains(&name), "{names:?}");
    }
    let got = mcp
        .rpc(
            "prompts/get",
            json!({"name": "catch_up", "arguments": {"space": "garden"}}),
        )
        .await;
    let text = got["result"]["messages"][0]["content"]["text"]
        .as_str()
        .unwrap();
    assert!(text.contains("the tomatoes are ripe"), "{text}");
    assert!(text.contains("\"garden\""), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoke_waits_for_the_answer_another_timite_gives_through_mcp() {
    let tmp = tempfile::tempdir().unwrap();
    let (n, base) = node(&tmp).await;
    let space = n.handle.create_space("help desk", "").await.unwrap().id;
    let provider = n.handle.timite().to_string();
    let (_asker, asker_token) = timite(&base).await;
    join(&base, &asker_token, &space.to_string()).await;
    // The owner declares an ability (its first declaration migrates the space).
    let schema = json!({"type": "object", "properties": {"text": {"type": "string"}},
                        "required": ["text"]});
    let resp = http()
        .put(format!("{base}/v1/spaces/{space}/abilities/text.echo"))
        .bearer_auth(ADMIN)
        .json(&json!({"description": "Echoes a text", "input_schema": schema}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    let asker = Mcp::new(&base, &asker_token);
    let found = asker.ok("search_abilities", json!({"query": "echo"})).await;
    assert_eq!(found["hits"][0]["provider"], provider.as_str(), "{found}");

    // A wait over the bound is a bad argument, refused before anything is asked.
    let answer = asker
        .rpc(
            "tools/call",
            json!({"name": "invoke", "arguments": {"space": space.to_string(),
                   "ability": "text.echo", "input": {"text": "hi"}, "wait_seconds": 500}}),
        )
        .await;
    assert_eq!(answer["error"]["code"], -32602, "{answer}");
    let mine = asker.ok("my_requests", json!({})).await;
    assert_eq!(mine["requests"], json!([]), "{mine}");

    // The provider answers over MCP once the request shows among its requests.
    let answering = tokio::spawn({
        let base = base.clone();
        async move {
            let me = Mcp::new(&base, ADMIN);
            let request = common::poll(30, "the request to reach the provider", || async {
                let mine = me
                    .ok("my_requests", json!({"role": "provider", "state": "open"}))
                    .await;
                mine["requests"][0]["request"]["id"]
                    .as_str()
                    .map(str::to_string)
            })
            .await;
            let space = space.to_string();
            me.ok("claim", json!({"space": space, "request": request}))
                .await;
            me.ok(
                "answer",
                json!({"space": space, "request": request, "result": {"text": "hi"}}),
            )
            .await;
        }
    });
    let done = asker
        .ok(
            "invoke",
            json!({"space": space.to_string(), "ability": "text.echo",
                   "input": {"text": "hi"}, "wait_seconds": 60}),
        )
        .await;
    answering.await.unwrap();
    assert_eq!(done["state"], "completed", "{done}");
    assert_eq!(done["output"], json!({"text": "hi"}), "{done}");
    let id = done["id"].as_str().unwrap();

    // Rated by the asker; a rating out of bounds or a second answer: refused or bad.
    let rated = asker
        .ok(
            "rate",
            json!({"space": space.to_string(), "request": id, "score": 5}),
        )
        .await;
    assert!(rated["change"].is_string(), "{rated}");
    let seen = asker
        .ok(
            "request",
            json!({"space": space.to_string(), "request": id}),
        )
        .await;
    assert_eq!(seen["rating"], 5, "{seen}");
    let answer = asker
        .rpc(
            "tools/call",
            json!({"name": "rate", "arguments":
                   {"space": space.to_string(), "request": id, "score": 9}}),
        )
        .await;
    assert_eq!(answer["error"]["code"], -32602, "{answer}");
    let again = Mcp::new(&base, ADMIN)
        .tool(
            "answer",
            json!({"space": space.to_string(), "request": id, "failure": "too late"}),
        )
        .await;
    assert_eq!(again["isError"], true, "{again}");
}

fn mcp_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/mcp")
}

/// Installs the npm packages of `node/tests/mcp` from the lock file unless they are there.
fn ensure_installed() {
    let dir = mcp_dir();
    let installed = [
        "@modelcontextprotocol/conformance",
        "@modelcontextprotocol/sdk",
    ]
    .iter()
    .all(|p| dir.join("node_modules").join(p).exists());
    if installed {
        return;
    }
    let status = std::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&dir)
        .status()
        .expect("npm (Node.js) is needed for the MCP outside checks");
    assert!(status.success(), "npm ci failed in {}", dir.display());
}

/// Runs `node ARGS…` in `node/tests/mcp`; answers whether it succeeded, and its output.
async fn node_script(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = tokio::process::Command::new("node");
    cmd.args(args)
        .current_dir(mcp_dir())
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(SCRIPT_TIMEOUT, cmd.output())
        .await
        .expect("the script took too long")
        .expect("node (Node.js) is needed for the MCP outside checks");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Forwards a request to the node's API with the bearer token added, as it came otherwise
/// (its `Host` and `Origin` too), and streams the answer back.
async fn forward(State((target, token)): State<(String, String)>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 4 * 1024 * 1024).await.unwrap();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut headers = parts.headers;
    headers.remove("content-length");
    let resp = http()
        .request(parts.method, format!("{target}{path}"))
        .headers(headers)
        .bearer_auth(token)
        .body(body)
        .send()
        .await
        .unwrap();
    let mut out = Response::builder().status(resp.status());
    for (name, value) in resp.headers() {
        if name != "transfer-encoding" && name != "content-length" && name != "connection" {
            out = out.header(name, value);
        }
    }
    out.body(Body::from_stream(resp.bytes_stream())).unwrap()
}

/// A loopback proxy that adds `token` to every request to `target`; answers its base URL.
async fn token_proxy(target: &str, token: &str) -> String {
    let app = axum::Router::new()
        .fallback(forward)
        .with_state((target.to_string(), token.to_string()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://localhost:{}", addr.port())
}

/// The server scenarios of the conformance suite that apply to a server with its own tools,
/// resources and prompts (the others call test tools, resources and prompts of the suite's
/// reference server by name, or logging and completion, which Tim does not offer).
const SCENARIOS: [&str; 6] = [
    "server-initialize",
    "ping",
    "tools-list",
    "resources-list",
    "prompts-list",
    "dns-rebinding-protection",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_conformance_suite_passes_its_server_scenarios() {
    ensure_installed();
    let tmp = tempfile::tempdir().unwrap();
    let (n, base) = node(&tmp).await;
    n.handle.create_space("lobby", "").await.unwrap();
    let proxy = token_proxy(&base, ADMIN).await;
    let url = format!("{proxy}/mcp");
    let suite = "node_modules/@modelcontextprotocol/conformance/dist/index.js";
    for scenario in SCENARIOS {
        let (ok, output) = node_script(
            &[
                "--import",
                "./shim.mjs",
                suite,
                "server",
                "--url",
                &url,
                "--scenario",
                scenario,
            ],
            &[],
        )
        .await;
        println!("== {scenario}\n{output}");
        assert!(ok, "conformance scenario {scenario} failed:\n{output}");
        assert!(!output.contains("FAILURE"), "{scenario}:\n{output}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_typescript_sdk_client_posts_and_reads_back() {
    ensure_installed();
    let tmp = tempfile::tempdir().unwrap();
    let (n, base) = node(&tmp).await;
    let space = n.handle.create_space("sdk", "").await.unwrap().id;
    let (did, token) = timite(&base).await;
    join(&base, &token, &space.to_string()).await;
    let url = format!("{base}/mcp");
    let space = space.to_string();
    let (ok, output) = node_script(
        &["sdk-client.mjs"],
        &[
            ("TIM_MCP_URL", &url),
            ("TIM_TOKEN", &token),
            ("TIM_SPACE", &space),
            ("TIM_DID", &did),
        ],
    )
    .await;
    println!("{output}");
    assert!(ok, "the SDK client failed:\n{output}");
    let timeline = n.handle.timeline(space.parse().unwrap()).await.unwrap();
    assert_eq!(timeline.messages.len(), 1);
    assert_eq!(timeline.messages[0].author.to_string(), did);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_profile_and_budgets_set_through_the_api_reach_summaries_and_prompts() {
    let tmp = tempfile::tempdir().unwrap();
    let (n, base) = node(&tmp).await;
    let space = n.handle.create_space("workshop", "Bikes").await.unwrap().id;
    let api = http();
    let url = |path: &str| format!("{base}/v1/spaces/{space}{path}");
    let put = |path: &str, body: Value| api.put(url(path)).bearer_auth(ADMIN).json(&body).send();
    let get = |path: &str| {
        let request = api.get(url(path)).bearer_auth(ADMIN).send();
        async move {
            let resp = request.await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            resp.json::<Value>().await.unwrap()
        }
    };

    // Below schema version 9 there is no profile: a bad request that says why.
    let resp = put("/profile", json!({"kind": "goal"})).await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().await.unwrap().contains("needs version 9"));
    let resp = api
        .post(url("/migrate"))
        .bearer_auth(ADMIN)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    let resp = put("/profile", json!({"kind": "goal", "style": "formal"}))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = put("/profile", json!({"kind": "chaotic"})).await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        get("/profile").await,
        json!({"kind": "goal", "style": "formal"})
    );
    assert_eq!(get("").await["profile"]["kind"], "goal");

    assert_eq!(get("/budgets").await, Value::Null);
    let budgets = json!({"period": 5, "roles": {"member": {"posts": 1}}});
    let resp = put("/budgets", budgets.clone()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(get("/budgets").await, budgets);
    let resp = put("/budgets", json!({"period": 0, "roles": {}}))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(get("/budgets").await, budgets);

    // An outside agent's prompts say what the space expects.
    let got = Mcp::new(&base, ADMIN)
        .rpc(
            "prompts/get",
            json!({"name": "introduce_yourself", "arguments": {"space": space.to_string()}}),
        )
        .await;
    let text = got["result"]["messages"][0]["content"]["text"]
        .as_str()
        .unwrap();
    assert!(
        text.contains("This is a goal-oriented space. It asks for a formal style."),
        "{text}"
    );
}
