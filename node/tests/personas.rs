//! Personas published in a space, across two real nodes over the HTTP API (docs/agents.md
//! "Publishing personas"): the owner's first publication migrates the space to the newest
//! schema version (7 brought personas); the other node lists the persona with its file byte for byte under the id its
//! bytes hash to; a file that is not TOML, or has no name, is refused; another member may not
//! delete it, its author does, and the deletion reaches the other node.

mod common;

use common::{node_in, node_with_api, poll, serve_api, JOIN};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tim_node::api::ApiConfig;

const ADMIN: &str = "personas-admin-token";

const GRETA: &str = "# A greeter, shared with the garden.\nname = \"Greta\"\ndescription = \"Welcomes newcomers\"\ntemplate = \"greeter\"\nproactivity = 0.5\n\n[[abilities]]\nname = \"welcome\"\n";

async fn call(method: reqwest::Method, url: String, body: Option<Value>) -> (StatusCode, Value) {
    let mut req = reqwest::Client::new()
        .request(method, url)
        .bearer_auth(ADMIN);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persona_published_on_one_node_is_listed_byte_for_byte_on_another() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, a_api) = node_with_api(&tmp, 1, ADMIN).await;
    let b = node_in(tmp.path().join("b"), common::keys(2), vec![a.addr.clone()]).await;
    let b_api = serve_api(&b.handle, ADMIN, ApiConfig::default()).await;
    let space = a
        .handle
        .create_space("garden", "grow things")
        .await
        .unwrap();
    b.handle
        .join(space.id, vec![a.addr.clone()], JOIN)
        .await
        .unwrap();
    let personas = |base: &str| format!("{base}/v1/spaces/{}/personas", space.id);

    let (status, made) = call(
        reqwest::Method::POST,
        personas(&a_api),
        Some(json!({ "toml": GRETA })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{made}");
    let hex: String = Sha256::digest(GRETA.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let id = format!("sha256:{hex}");
    assert_eq!(made["id"], id);
    let version = a
        .handle
        .read_space(space.id, |s| s.schema_version())
        .await
        .unwrap();
    // The publication migrated the space to the newest version (at least the personas').
    assert_eq!(version, tim_crdt::schema::LATEST_VERSION);
    assert!(version >= tim_crdt::schema::AGENTS);

    // The other node lists it, with the file byte for byte.
    let listed = poll(20, "the persona to reach b", || async {
        let (_, list) = call(reqwest::Method::GET, personas(&b_api), None).await;
        list.as_array().filter(|l| !l.is_empty()).cloned()
    })
    .await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["toml"], GRETA);
    assert_eq!(listed[0]["name"], "Greta");
    assert_eq!(listed[0]["description"], "Welcomes newcomers");
    assert_eq!(listed[0]["author"], a.handle.timite().to_string());
    let (status, one) = call(
        reqwest::Method::GET,
        format!("{}/{id}", personas(&b_api)),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["toml"].as_str(), Some(GRETA));

    // Files that are not personas are refused before anything is written.
    for bad in ["name = \"unterminated", "description = \"no name\""] {
        let (status, problem) = call(
            reqwest::Method::POST,
            personas(&b_api),
            Some(json!({ "toml": bad })),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    }
    // A member on b publishes its own; it may not delete a's.
    let (status, theirs) = call(
        reqwest::Method::POST,
        personas(&b_api),
        Some(json!({ "toml": "name = \"Sum\"\ntemplate = \"summarizer\"\n" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{theirs}");
    let (status, problem) = call(
        reqwest::Method::DELETE,
        format!("{}/{id}", personas(&b_api)),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("meta"),
        "{problem}"
    );

    // Its author deletes it; b sees it gone and keeps its own.
    let (status, _) = call(
        reqwest::Method::DELETE,
        format!("{}/{id}", personas(&a_api)),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    poll(20, "the deletion to reach b", || async {
        let (_, list) = call(reqwest::Method::GET, personas(&b_api), None).await;
        let ids: Vec<Value> = list.as_array()?.iter().map(|p| p["id"].clone()).collect();
        (ids == [theirs["id"].clone()]).then_some(())
    })
    .await;
    let (status, _) = call(
        reqwest::Method::GET,
        format!("{}/{id}", personas(&b_api)),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
