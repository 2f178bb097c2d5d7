//! The WebSocket and GraphQL endpoints with real clients (`node/tests/clients/clients.mjs`:
//! the `ws` package and graphql-js): a node on loopback serves its API; over a WebSocket a
//! client sees a post made over HTTP, posts, replies, reacts and edits (each seen over HTTP or
//! GraphQL), gets problem frames for a malformed frame and a refused op, and is refused a
//! space it cannot read; over GraphQL it validates its queries against the served SDL and
//! reads members, messages, proposals and its passport, and a space it cannot read is an
//! error.
//!
//! Needs Node.js; the npm packages are installed from the lock file on first use.

mod common;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use common::{node, serve_api};
use serde_json::{json, Value};
use tim_node::api::ApiConfig;

/// How long the client script may run.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);
const ADMIN: &str = "admin-token-of-the-clients-test";

fn clients_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
}

fn ensure_installed() {
    let dir = clients_dir();
    if dir.join("node_modules/ws").exists() && dir.join("node_modules/graphql").exists() {
        return;
    }
    let status = std::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&dir)
        .status()
        .expect("npm (Node.js) is needed for the clients test");
    assert!(status.success(), "npm ci failed in {}", dir.display());
}

/// The node's API, as one bearer token.
struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    /// `method path` with `body` as `token`; the answer's JSON, after checking its status.
    async fn call(&self, method: &str, path: &str, token: &str, body: Value, want: u16) -> Value {
        let req = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.base))
            .bearer_auth(token)
            .json(&body);
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let answer: Value = resp.json().await.unwrap_or(Value::Null);
        assert_eq!(status, want, "{method} {path}: {answer}");
        answer
    }

    /// A token for the hosted timite `did`.
    async fn token(&self, did: &str) -> String {
        let issued = self
            .call(
                "POST",
                "/v1/tokens",
                ADMIN,
                json!({"did": did, "label": "clients"}),
                201,
            )
            .await;
        issued["token"].as_str().unwrap().to_string()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_and_graphql_clients() {
    ensure_installed();
    let tmp = tempfile::tempdir().unwrap();
    let n = node(&tmp, 1).await;
    let api = Api {
        base: serve_api(&n.handle, ADMIN, ApiConfig::default()).await,
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
    };

    // Ann: a public space at the newest schema, a credential about her in its name, and a
    // proposal.
    let ann = n.handle.status().await.unwrap().timite.to_string();
    let ann_token = api.token(&ann).await;
    let space = api
        .call(
            "POST",
            "/v1/spaces",
            &ann_token,
            json!({"name": "clients", "purpose": "ws and graphql"}),
            201,
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    api.call(
        "POST",
        &format!("/v1/spaces/{space}/migrate"),
        &ann_token,
        json!({}),
        200,
    )
    .await;
    api.call(
        "POST",
        &format!("/v1/spaces/{space}/credentials"),
        &ann_token,
        json!({"subject": ann, "kind": "membership"}),
        201,
    )
    .await;

    api.call(
        "POST",
        &format!("/v1/spaces/{space}/proposals"),
        &ann_token,
        json!({"action": {"kind": "meta", "key": "purpose", "value": "proposed purpose"}}),
        200,
    )
    .await;

    // Bob, on the same node: an invite-only space Ann cannot read.
    let bob = api.call("POST", "/v1/timites", ADMIN, json!({}), 201).await["did"]
        .as_str()
        .unwrap()
        .to_string();
    let bob_token = api.token(&bob).await;
    let hidden = api
        .call(
            "POST",
            "/v1/spaces",
            &bob_token,
            json!({"name": "bob's", "visibility": "invite-only"}),
            201,
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();

    let mut script = tokio::process::Command::new("node");
    script
        .arg(clients_dir().join("clients.mjs"))
        .current_dir(clients_dir())
        .env("TIM_URL", &api.base)
        .env("TIM_TOKEN", &ann_token)
        .env("TIM_DID", &ann)
        .env("TIM_SPACE", &space)
        .env("TIM_HIDDEN", &hidden)
        // Its steps and failures go straight to the test's output, also if it hangs.
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    let mut child = script
        .spawn()
        .expect("node (Node.js) is needed for the clients test");
    let status = tokio::time::timeout(SCRIPT_TIMEOUT, child.wait())
        .await
        .expect("the clients script took too long (its last step is in the output)")
        .unwrap();
    assert!(
        status.success(),
        "the clients script failed ({status}): see its output"
    );
}
