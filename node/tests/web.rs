//! The node's web page end to end, in real headless Chromium: two nodes on loopback, each
//! serving its API and page; a person signs in on node 1's page, posts, and sees a reply posted
//! on node 2 arrive without a reload (`node/tests/web/e2e.mjs`, driven by playwright-core);
//! on its page it replies, reacts and edits its own message, and node 2 holds each. Node 2's
//! page signs in by challenge with the browser's own key once the operator allowed it (through
//! the API with the admin token, as `tim timite keys add` does); an unallowed key is refused.
//! Then abilities across the two pages: node 1's timite declares one, node 2's finds it, asks,
//! sees the result node 1's page sends arrive live, and rates it (docs/abilities.md §15).
//! Last, governance: a role proposal made and voted on node 1's page passes with node 2's vote,
//! and node 1's page shows the outcome and the role it gave (docs/governance.md); and the
//! operator's agents panel makes, pauses, tunes an agent and erases its memory.
//!
//! Needs Node.js and Debian's `chromium` (`apt-get install chromium`, or `TIM_CHROMIUM=<path>`);
//! the npm packages are installed from the lock file on first use. The screenshot is saved to
//! `target/e2e/web.png` (and `web-passport.png`, `web-abilities.png`, `web-governance.png`,
//! `web-agents.png`, `web-messages.png`, `web-signin.png`, `web-people.png`) for CI to keep.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{eventually, node, serve_api, JOIN};
use serde_json::{json, Value};
use tim_node::api::ApiConfig;

/// How long the browser script may run.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(180);

fn web_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/web")
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("node/ is inside the workspace")
        .to_path_buf()
}

fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if Path::new(&dir).is_absolute() => PathBuf::from(dir),
        Some(dir) => workspace_root().join(dir),
        None => workspace_root().join("target"),
    }
}

fn chromium() -> PathBuf {
    let path = std::env::var_os("TIM_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        path.exists(),
        "Chromium not found at {}: run `apt-get install -y chromium` (Debian's package), \
         or set TIM_CHROMIUM to a Chromium binary",
        path.display()
    );
    path
}

fn ensure_installed() {
    let dir = web_dir();
    if dir.join("node_modules/playwright-core").exists() {
        return;
    }
    let status = std::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&dir)
        .status()
        .expect("npm (Node.js) is needed for the web test");
    assert!(status.success(), "npm ci failed in {}", dir.display());
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// A token for the node's hosted timite, made with the operator token.
async fn timite_token(base: &str, admin_token: &str, did: &str) -> String {
    let resp = http()
        .post(format!("{base}/v1/tokens"))
        .bearer_auth(admin_token)
        .json(&json!({"did": did, "label": "web"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201, "POST /v1/tokens");
    let issued: Value = resp.json().await.unwrap();
    issued["token"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_from_another_node_appears_live_on_the_page() {
    let chromium = chromium();
    ensure_installed();
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (node(&tmp, 1).await, node(&tmp, 2).await);
    let space = a
        .handle
        .create_space("web e2e", "the page, in a real browser")
        .await
        .unwrap();
    b.handle
        .join(space.id, vec![a.addr.clone()], JOIN)
        .await
        .unwrap();
    eventually(20, "node 1 to see node 2 join", || async {
        a.handle.members(space.id).await.unwrap().len() == 2
    })
    .await;

    let (admin1, admin2) = ("admin-token-of-node-1", "admin-token-of-node-2");
    let (url1, url2) = (
        serve_api(&a.handle, admin1, ApiConfig::default()).await,
        serve_api(&b.handle, admin2, ApiConfig::default()).await,
    );
    let timite1 = a.handle.status().await.unwrap().timite.to_string();
    let timite2 = b.handle.status().await.unwrap().timite.to_string();
    let token1 = timite_token(&url1, admin1, &timite1).await;
    let token2 = timite_token(&url2, admin2, &timite2).await;

    // The page itself: embedded, with its security headers.
    let page = http().get(format!("{url1}/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let header = |name: &str| page.headers()[name].to_str().unwrap().to_string();
    assert!(header("content-type").starts_with("text/html"));
    assert!(header("content-security-policy").starts_with("default-src 'self'"));
    assert!(page.text().await.unwrap().contains("/assets/app.js"));

    let shots = target_dir().join("e2e");
    std::fs::create_dir_all(&shots).unwrap();
    let screenshot = shots.join("web.png");
    let _ = std::fs::remove_file(&screenshot);
    let extra = [
        "web-abilities.png",
        "web-governance.png",
        "web-agents.png",
        "web-messages.png",
        "web-signin.png",
        "web-people.png",
    ]
    .map(|f| shots.join(f));
    for shot in &extra {
        let _ = std::fs::remove_file(shot);
    }

    let mut script = tokio::process::Command::new("node");
    script
        .arg(web_dir().join("e2e.mjs"))
        .current_dir(web_dir())
        .env("TIM_URL1", &url1)
        .env("TIM_TOKEN1", &token1)
        .env("TIM_ADMIN1", admin1)
        .env("TIM_URL2", &url2)
        .env("TIM_TOKEN2", &token2)
        .env("TIM_ADMIN2", admin2)
        .env("TIM_SPACE", space.id.to_string())
        .env("TIM_SCREENSHOT", &screenshot)
        .env("TIM_CHROMIUM", &chromium)
        .kill_on_drop(true);
    let out = tokio::time::timeout(SCRIPT_TIMEOUT, script.output())
        .await
        .expect("the browser test took too long")
        .expect("node (Node.js) is needed for the web test");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the browser test failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    for shot in std::iter::once(&screenshot).chain(&extra) {
        let size = std::fs::metadata(shot)
            .unwrap_or_else(|e| panic!("no screenshot at {}: {e}", shot.display()))
            .len();
        assert!(size > 10_000, "screenshot of {size} bytes is too small");
    }
}
