//! The HTTP API over real sockets: every route's success path and its refusals (no token,
//! wrong token, another timite's resource, operator-only, malformed JSON, oversized body, rate
//! limits), each with its status and problem type.

mod common;

use std::time::Duration;

use ed25519_dalek::Signer;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tim_node::api::{ApiConfig, RateLimit, MAX_JSON_BODY};

const ADMIN: &str = "admin-secret-token";

/// A raw HTTP client of one node's API.
struct Api {
    http: reqwest::Client,
    base: String,
}

/// An answer: status, content type, `Link` header and body.
struct Answer {
    status: StatusCode,
    content_type: String,
    link: Option<String>,
    body: Vec<u8>,
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let body = String::from_utf8_lossy(&self.body);
        let cut = body.char_indices().nth(2000).map_or(body.len(), |(i, _)| i);
        f.debug_struct("Answer")
            .field("status", &self.status)
            .field("content_type", &self.content_type)
            .field("link", &self.link)
            .field("body", &&body[..cut])
            .finish()
    }
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// Asserts a problem document with this status and `tim:problem/<kind>`.
    #[track_caller]
    fn problem(&self, status: u16, kind: &str) -> Value {
        assert_eq!(self.status.as_u16(), status, "{self:?}");
        assert_eq!(self.content_type, "application/problem+json", "{self:?}");
        let p = self.json();
        assert_eq!(p["type"], format!("tim:problem/{kind}"), "{p}");
        assert_eq!(p["status"], status, "{p}");
        assert!(!p["detail"].as_str().unwrap_or_default().is_empty(), "{p}");
        p
    }

    #[track_caller]
    fn ok(&self, status: u16) -> Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "{}",
            String::from_utf8_lossy(&self.body)
        );
        if self.body.is_empty() {
            Value::Null
        } else if self.content_type.starts_with("application/json") {
            self.json()
        } else {
            Value::String(String::from_utf8_lossy(&self.body).into_owned())
        }
    }
}

impl Api {
    fn new(base: String) -> Self {
        Self {
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
            base,
        }
    }

    async fn raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
    ) -> Answer {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .timeout(Duration::from_secs(30));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some((ct, bytes)) = body {
            req = req.header("content-type", ct).body(bytes);
        }
        let resp = req.send().await.unwrap();
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        Answer {
            status: resp.status(),
            link: header("link"),
            content_type: header("content-type").unwrap_or_default(),
            body: resp.bytes().await.unwrap().to_vec(),
        }
    }

    async fn call(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> Answer {
        let body = body.map(|b| ("application/json", serde_json::to_vec(&b).unwrap()));
        self.raw(method, path, Some(token), body).await
    }

    async fn get(&self, path: &str, token: &str) -> Answer {
        self.call(Method::GET, path, token, None).await
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(Method::POST, path, token, Some(body)).await
    }

    async fn put(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(Method::PUT, path, token, Some(body)).await
    }

    async fn delete(&self, path: &str, token: &str) -> Answer {
        self.call(Method::DELETE, path, token, None).await
    }

    /// A token for `did` made with the admin token.
    async fn token_for(&self, did: &str) -> String {
        let t = self
            .post("/v1/tokens", ADMIN, json!({"did": did, "label": "test"}))
            .await
            .ok(201);
        t["token"].as_str().unwrap().to_string()
    }
}

fn enc(s: &str) -> String {
    s.replace(':', "%3A")
}

/// The routes of the OpenAPI description: (method, path template, needs a token, JSON body).
fn routes(doc: &Value) -> Vec<(Method, String, bool, bool)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let public = op["security"].as_array().is_some_and(|s| {
                s.iter()
                    .all(|r| r.as_object().is_some_and(|o| o.is_empty()))
            });
            let json_body = op["requestBody"]["content"]
                .as_object()
                .is_some_and(|c| c.contains_key("application/json"));
            out.push((
                method.to_uppercase().parse().unwrap(),
                path.clone(),
                !public,
                json_body,
            ));
        }
    }
    out
}

/// A path template with every `{param}` filled in.
fn fill(template: &str, space: &str, did: &str) -> String {
    template
        .replace("{id}", space)
        .replace("{did}", &enc(did))
        .replace("{message}", "1@00")
        .replace("{cid}", "urn%3Auuid%3Anone")
}

#[tokio::test(flavor = "multi_thread")]
async fn every_route_refuses_missing_and_wrong_tokens_malformed_json_and_oversized_bodies() {
    let tmp = tempfile::tempdir().unwrap();
    let n = common::node(&tmp, 1).await;
    let api = Api::new(common::serve_api(&n.handle, ADMIN, ApiConfig::default()).await);
    let doc = api
        .raw(Method::GET, "/openapi.json", None, None)
        .await
        .ok(200);
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let routes = routes(&doc);
    assert!(routes.len() >= 39, "{routes:?}");
    let space = n.handle.create_space("s", "").await.unwrap().id.to_string();
    let did = n.handle.timite().to_string();
    for (method, template, authed, json_body) in &routes {
        let path = fill(template, &space, &did);
        if *authed {
            api.raw(method.clone(), &path, None, None)
                .await
                .problem(401, "no-token");
            api.raw(method.clone(), &path, Some("nope"), None)
                .await
                .problem(401, "bad-token");
        }
        if *json_body {
            let token = Some(ADMIN);
            let bad = ("application/json", b"][".to_vec());
            api.raw(method.clone(), &path, token, Some(bad))
                .await
                .problem(400, "malformed-json");
            let wrong_type = ("text/plain", b"{}".to_vec());
            api.raw(method.clone(), &path, token, Some(wrong_type))
                .await
                .problem(415, "unsupported-media-type");
            let big = ("application/json", vec![b' '; MAX_JSON_BODY + 1]);
            api.raw(method.clone(), &path, token, Some(big))
                .await
                .problem(413, "too-large");
        }
    }
    // A body of the wrong shape names the field.
    let p = api
        .post("/v1/spaces", ADMIN, json!({"purpose": 3}))
        .await
        .problem(422, "malformed-json");
    assert!(p["detail"].as_str().unwrap().contains("purpose"), "{p}");
    api.get("/v1/nowhere", ADMIN).await.problem(404, "no-route");
    api.call(Method::PATCH, "/v1/spaces", ADMIN, None)
        .await
        .problem(405, "method-not-allowed");
    api.get("/v1/spaces/xyz", ADMIN)
        .await
        .problem(400, "invalid-space-id");
    api.get(&format!("/v1/spaces/{}", "ab".repeat(32)), ADMIN)
        .await
        .problem(404, "unknown-space");
    n.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn every_route_succeeds_for_the_timite_allowed_to_use_it() {
    let tmp = tempfile::tempdir().unwrap();
    let n1 = common::node(&tmp, 1).await;
    let n2 = common::node(&tmp, 2).await;
    let api = Api::new(common::serve_api(&n1.handle, ADMIN, ApiConfig::default()).await);
    let api2 = Api::new(common::serve_api(&n2.handle, ADMIN, ApiConfig::default()).await);

    // Node and identities.
    assert_eq!(
        api.raw(Method::GET, "/v1/health", None, None).await.ok(200),
        "ok"
    );
    let ann = n1.handle.timite().to_string();
    let me = api.get("/v1/me", ADMIN).await.ok(200);
    assert_eq!(
        (me["did"].as_str(), me["admin"].as_bool()),
        (Some(&*ann), Some(true))
    );
    let bob = api.post("/v1/timites", ADMIN, json!({})).await.ok(201)["did"]
        .as_str()
        .unwrap()
        .to_string();
    let timites = api.get("/v1/timites", ADMIN).await.ok(200);
    assert_eq!(timites.as_array().unwrap().len(), 2, "{timites}");
    let ann_t = api.token_for(&ann).await;
    let bob_t = api.token_for(&bob).await;
    let me = api.get("/v1/me", &bob_t).await.ok(200);
    assert_eq!(
        (me["did"].as_str(), me["admin"].as_bool()),
        (Some(&*bob), Some(false))
    );
    // Metrics are the operator's.
    api.get("/metrics", &bob_t).await.problem(403, "admin-only");
    let metrics = api.get("/metrics", ADMIN).await;
    assert!(metrics
        .content_type
        .starts_with("application/openmetrics-text"));
    let text = metrics.ok(200);
    for name in ["tim_changes_stored_total", "gossipsub_"] {
        assert!(text.as_str().unwrap().contains(name), "{name} missing");
    }
    let status = api.get("/v1/status", &bob_t).await.ok(200);
    assert_eq!(status["timite"], bob.as_str());
    assert_eq!(status["node_did"], n1.handle.node_did().to_string());

    // Spaces, joins, messages.
    let s = api
        .post(
            "/v1/spaces",
            &ann_t,
            json!({"name": "guild", "purpose": "p"}),
        )
        .await
        .ok(201);
    let sid = s["id"].as_str().unwrap().to_string();
    assert_eq!(s["created_by"], ann.as_str());
    let listed = api.get("/v1/spaces", &bob_t).await.ok(200);
    assert!(listed.as_array().unwrap().iter().any(|x| x["id"] == sid));
    api.get(&format!("/v1/spaces/{sid}"), &bob_t).await.ok(200);
    let joined = api
        .post(&format!("/v1/spaces/{sid}/join"), &bob_t, json!({}))
        .await
        .ok(200);
    assert_eq!(joined["members"], 2);
    let posted = api
        .post(
            &format!("/v1/spaces/{sid}/messages"),
            &bob_t,
            json!({"text": "hi from bob"}),
        )
        .await
        .ok(201);
    let tl = api
        .get(&format!("/v1/spaces/{sid}/messages"), &ann_t)
        .await
        .ok(200);
    assert_eq!(tl["messages"][0]["author"], bob.as_str());
    assert_eq!(tl["messages"][0]["text"], "hi from bob");

    // Members: abilities, ratings, roles, invites, requirements.
    api.put(
        &format!("/v1/spaces/{sid}/abilities"),
        &bob_t,
        json!({"abilities": ["rust", "review"]}),
    )
    .await
    .ok(200);
    api.post(
        &format!("/v1/spaces/{sid}/ratings"),
        &ann_t,
        json!({"did": bob, "score": 5}),
    )
    .await
    .ok(200);
    let members = api
        .get(&format!("/v1/spaces/{sid}/members"), &ann_t)
        .await
        .ok(200);
    let b = members
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["did"] == bob.as_str())
        .unwrap()
        .clone();
    assert_eq!(b["abilities"], json!(["rust", "review"]));
    assert_eq!(b["reputation"], 1 + 5 * 2, "{b}");
    api.put(
        &format!("/v1/spaces/{sid}/members/{}/role", enc(&bob)),
        &ann_t,
        json!({"role": "moderator"}),
    )
    .await
    .ok(200);
    api.put(&format!("/v1/spaces/{sid}/requirements"), &ann_t, json!([]))
        .await
        .ok(200);
    let private = api
        .post(
            "/v1/spaces",
            &ann_t,
            json!({"name": "inner", "visibility": "invite-only"}),
        )
        .await
        .ok(201);
    api.post(
        &format!("/v1/spaces/{}/invites", private["id"].as_str().unwrap()),
        &ann_t,
        json!({"did": bob}),
    )
    .await
    .ok(200);

    // Live events: a post shows up on an open stream.
    let mut events = api
        .http
        .get(format!("{}/v1/spaces/{sid}/events", api.base))
        .bearer_auth(&bob_t)
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    assert_eq!(
        events.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    api.post(
        &format!("/v1/spaces/{sid}/messages"),
        &ann_t,
        json!({"text": "live"}),
    )
    .await
    .ok(201);
    let mut seen = String::new();
    while !seen.contains("\"live\"") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), events.chunk())
            .await
            .expect("an event within 10 s")
            .unwrap()
            .expect("the stream stays open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(seen.contains("\"kind\":\"message\""), "{seen}");
    drop(events);

    // Passports: issue, list, show, JWT, verify, hold, revoke, trust.
    let vc = api
        .post(
            &format!("/v1/spaces/{sid}/credentials"),
            &ann_t,
            json!({"subject": bob, "kind": "reputation"}),
        )
        .await
        .ok(201);
    let cid = vc["id"].as_str().unwrap().to_string();
    let held = api.get("/v1/passport", &bob_t).await.ok(200);
    assert_eq!(held.as_array().unwrap().len(), 1);
    assert_eq!(
        api.get(&format!("/v1/passport/{}", enc(&cid)), &bob_t)
            .await
            .ok(200)["id"],
        cid.as_str()
    );
    let jwt = api
        .get(&format!("/v1/passport/{}/jwt", enc(&cid)), &ann_t)
        .await;
    assert_eq!(jwt.content_type, "application/vc-ld+jwt");
    assert_eq!(jwt.ok(200).as_str().unwrap().split('.').count(), 3);
    let report = api
        .post("/v1/passport/verify", &bob_t, vc.clone())
        .await
        .ok(200);
    assert!(report["checks"].as_array().unwrap().len() > 3, "{report}");
    api.post("/v1/passport", &bob_t, vc.clone()).await.ok(201);
    api.put(
        "/v1/trust",
        ADMIN,
        json!({"issuer": format!("urn:tim:space:{sid}"), "weight": 0.5}),
    )
    .await
    .ok(204);
    let trust = api.get("/v1/trust", &bob_t).await.ok(200);
    assert_eq!(trust[0]["weight"], 0.5);
    api.post(
        &format!("/v1/passport/{}/revoke", enc(&cid)),
        &ann_t,
        json!({}),
    )
    .await
    .ok(200);
    let report = api.post("/v1/passport/verify", &bob_t, vc).await.ok(200);
    assert_eq!(report["verified"], false, "{report}");

    // Moderation: delete a message, kick.
    api.delete(
        &format!(
            "/v1/spaces/{sid}/messages/{}",
            posted["id"].as_str().unwrap()
        ),
        &bob_t,
    )
    .await
    .ok(200);
    api.delete(&format!("/v1/spaces/{sid}/members/{}", enc(&bob)), &ann_t)
        .await
        .ok(200);

    // Export from node 1, import on node 2 (operator), peers and faults.
    let doc = api
        .get(&format!("/v1/spaces/{sid}/export/document"), &ann_t)
        .await;
    assert_eq!(doc.content_type, "application/octet-stream");
    assert!(automerge::Automerge::load(&doc.body).is_ok());
    let sigs = api
        .get(&format!("/v1/spaces/{sid}/export/signatures"), &ann_t)
        .await;
    assert_eq!(sigs.content_type, "application/cbor");
    let imported = api2
        .raw(
            Method::POST,
            "/v1/import",
            Some(ADMIN),
            Some(("application/cbor", sigs.body)),
        )
        .await
        .ok(200);
    assert!(imported["applied"].as_u64().unwrap() > 5, "{imported}");
    let addr = format!("{}", n2.addr);
    api.post("/v1/peers", ADMIN, json!({"addr": addr}))
        .await
        .ok(202);
    common::eventually(10, "a connection", || async {
        n1.handle.status().await.unwrap().connected_peers > 0
    })
    .await;
    // Bytes on the wire are counted once there is a connection.
    let text = api.get("/metrics", ADMIN).await.ok(200);
    let text = text.as_str().unwrap();
    assert!(text.contains("libp2p_bandwidth_bytes_total{"), "{text}");
    let cut = api
        .post("/v1/faults/disconnect", ADMIN, json!({}))
        .await
        .ok(200);
    assert!(cut["disconnected"].as_u64().unwrap() >= 1);

    // Tokens: list, revoke; a revoked token stops working at once.
    let mine = api.get("/v1/tokens", &bob_t).await.ok(200);
    assert_eq!(mine.as_array().unwrap().len(), 1);
    let all = api.get("/v1/tokens", ADMIN).await.ok(200);
    assert_eq!(all.as_array().unwrap().len(), 2);
    let extra = api
        .post("/v1/tokens", &bob_t, json!({"did": bob, "label": "agent"}))
        .await
        .ok(201);
    let id = extra["id"].as_str().unwrap();
    assert_eq!(
        api.delete(&format!("/v1/tokens/{id}"), &bob_t)
            .await
            .ok(200)["revoked"],
        id
    );
    api.get("/v1/me", extra["token"].as_str().unwrap())
        .await
        .problem(401, "bad-token");
    api.get("/v1/me", &bob_t).await.ok(200);
    n1.handle.shutdown().await.unwrap();
    n2.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_timite_cannot_touch_another_timites_resources_or_the_operators() {
    let tmp = tempfile::tempdir().unwrap();
    let n = common::node(&tmp, 1).await;
    let api = Api::new(common::serve_api(&n.handle, ADMIN, ApiConfig::default()).await);
    let ann = n.handle.timite().to_string();
    let bob = api.post("/v1/timites", ADMIN, json!({})).await.ok(201)["did"]
        .as_str()
        .unwrap()
        .to_string();
    let ann_t = api.token_for(&ann).await;
    let bob_t = api.token_for(&bob).await;
    let ann_token_id = api.get("/v1/me", &ann_t).await.ok(200)["token_id"]
        .as_str()
        .unwrap()
        .to_string();

    // Operator routes.
    for (method, path, body) in [
        (Method::GET, "/v1/timites", None),
        (Method::POST, "/v1/timites", Some(json!({}))),
        (
            Method::PUT,
            "/v1/trust",
            Some(json!({"issuer": ann, "weight": 1.0})),
        ),
        (
            Method::POST,
            "/v1/peers",
            Some(json!({"addr": "/ip4/127.0.0.1/tcp/1"})),
        ),
        (Method::POST, "/v1/faults/disconnect", Some(json!({}))),
    ] {
        api.call(method, path, &bob_t, body)
            .await
            .problem(403, "admin-only");
    }
    api.raw(
        Method::POST,
        "/v1/import",
        Some(&bob_t),
        Some(("application/cbor", vec![1, 2, 3])),
    )
    .await
    .problem(403, "admin-only");

    // Tokens of others.
    api.post("/v1/tokens", &bob_t, json!({"did": ann}))
        .await
        .problem(403, "not-yours");
    api.delete(&format!("/v1/tokens/{ann_token_id}"), &bob_t)
        .await
        .problem(403, "not-yours");
    api.delete("/v1/tokens/0000000000000000", &bob_t)
        .await
        .problem(404, "not-found");
    let stranger = tim_did::Identity::from_seed([9; 32]).did().to_string();
    api.post("/v1/tokens", ADMIN, json!({"did": stranger}))
        .await
        .problem(404, "unknown-timite");
    assert_eq!(
        api.get("/v1/tokens", &bob_t)
            .await
            .ok(200)
            .as_array()
            .unwrap()
            .len(),
        1,
        "bob sees only his own token"
    );

    // Credentials of others: ann's membership credential is hers.
    let sid = api
        .post("/v1/spaces", &ann_t, json!({"name": "s"}))
        .await
        .ok(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let vc = api
        .post(
            &format!("/v1/spaces/{sid}/credentials"),
            &ann_t,
            json!({"subject": ann, "kind": "membership"}),
        )
        .await
        .ok(201);
    let cid = enc(vc["id"].as_str().unwrap());
    api.get(&format!("/v1/passport/{cid}"), &bob_t)
        .await
        .problem(403, "not-yours");
    api.get(&format!("/v1/passport/{cid}/jwt"), &bob_t)
        .await
        .problem(403, "not-yours");
    api.post(&format!("/v1/passport/{cid}/revoke"), &bob_t, json!({}))
        .await
        .problem(403, "not-yours");
    api.post("/v1/passport", &bob_t, vc.clone())
        .await
        .problem(403, "not-yours");
    assert!(api
        .get("/v1/passport", &bob_t)
        .await
        .ok(200)
        .as_array()
        .unwrap()
        .is_empty());
    // A credential id is a urn:uuid: anything else is refused before any lookup.
    api.get(
        "/v1/passport/urn%3Auuid%3A00000000-0000-4000-8000-000000000000",
        &ann_t,
    )
    .await
    .problem(404, "not-found");
    for path in [
        "/v1/passport/urn%3Auuid%3Anone",
        "/v1/passport/none/jwt",
        "/v1/passport/urn%3Auuid%3A0000/revoke",
    ] {
        let method = if path.ends_with("/revoke") {
            Method::POST
        } else {
            Method::GET
        };
        api.call(method, path, &ann_t, None)
            .await
            .problem(400, "invalid-credential-id");
    }

    // The space's rules: bob is no member, then a member who is no admin.
    let msg = api
        .post(
            &format!("/v1/spaces/{sid}/messages"),
            &ann_t,
            json!({"text": "mine"}),
        )
        .await
        .ok(201);
    api.post(
        &format!("/v1/spaces/{sid}/messages"),
        &bob_t,
        json!({"text": "x"}),
    )
    .await
    .problem(403, "refused");
    api.post(&format!("/v1/spaces/{sid}/join"), &bob_t, json!({}))
        .await
        .ok(200);
    api.delete(
        &format!("/v1/spaces/{sid}/messages/{}", msg["id"].as_str().unwrap()),
        &bob_t,
    )
    .await
    .problem(403, "refused");
    api.delete(&format!("/v1/spaces/{sid}/members/{}", enc(&ann)), &bob_t)
        .await
        .problem(403, "refused");
    // A message id is an Automerge object id (<counter>@<actor hex>).
    for bad in ["nope", "0@ab", "1@xyz"] {
        api.delete(&format!("/v1/spaces/{sid}/messages/{bad}"), &bob_t)
            .await
            .problem(400, "invalid-message-id");
    }
    api.delete(&format!("/v1/spaces/{sid}/members/not-a-did"), &ann_t)
        .await
        .problem(400, "invalid-did");
    api.post(
        &format!("/v1/spaces/{sid}/credentials"),
        &bob_t,
        json!({"subject": bob, "kind": "membership"}),
    )
    .await
    .problem(403, "refused");

    // Bad values.
    api.post(
        "/v1/spaces",
        &ann_t,
        json!({"name": "e", "visibility": "ephemeral"}),
    )
    .await
    .problem(400, "invalid");
    api.post(
        "/v1/spaces",
        &ann_t,
        json!({"name": "e", "visibility": "secret"}),
    )
    .await
    .problem(400, "invalid-visibility");
    api.put(
        &format!("/v1/spaces/{sid}/abilities"),
        &bob_t,
        json!({"abilities": [""]}),
    )
    .await
    .problem(400, "invalid");
    api.post(
        &format!("/v1/spaces/{sid}/join"),
        &bob_t,
        json!({"via": ["not an address"]}),
    )
    .await
    .problem(400, "invalid-multiaddr");
    let unknown = "cd".repeat(32);
    let p = api
        .post(
            &format!("/v1/spaces/{unknown}/join"),
            &bob_t,
            json!({"timeout_secs": 1}),
        )
        .await
        .problem(404, "no-host");
    assert!(p["detail"].as_str().unwrap().contains("--via"), "{p}");
    n.handle.shutdown().await.unwrap();
}

/// A JSON POST without a token.
async fn anonymous(api: &Api, path: &str, body: Value) -> Answer {
    let bytes = body.to_string().into_bytes();
    api.raw(Method::POST, path, None, Some(("application/json", bytes)))
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn signing_a_challenge_gives_a_token_and_forgeries_and_replays_do_not() {
    let tmp = tempfile::tempdir().unwrap();
    let n = common::node(&tmp, 1).await;
    let api = Api::new(common::serve_api(&n.handle, ADMIN, ApiConfig::default()).await);
    let key = n.keys.timite.signing_key().clone();
    let did = n.handle.timite();
    let sign = |c: &Value| {
        let msg = tim_protocol::api::login_message(
            &c["node_did"].as_str().unwrap().parse().unwrap(),
            c["challenge"].as_str().unwrap(),
        );
        hex::encode(key.sign(&msg).to_bytes())
    };
    let ask = || anonymous(&api, "/v1/auth/challenge", json!({"did": did}));
    let login = |body: Value| anonymous(&api, "/v1/auth/login", body);

    let c = ask().await.ok(201);
    assert_eq!(c["node_did"], n.handle.node_did().to_string());
    let signed = json!({"did": did, "challenge": c["challenge"], "signature": sign(&c)});
    let issued = login(signed.clone()).await.ok(201);
    assert_eq!(issued["did"], did.to_string());
    assert!(issued["expires_at"].as_u64().is_some());
    let me = api
        .get("/v1/me", issued["token"].as_str().unwrap())
        .await
        .ok(200);
    assert_eq!(me["did"], did.to_string());
    // A challenge is used once.
    login(signed).await.problem(401, "bad-challenge");
    // Another key's signature.
    let c = ask().await.ok(201);
    let forger = tim_did::Identity::from_seed([7; 32]);
    let msg =
        tim_protocol::api::login_message(&n.handle.node_did(), c["challenge"].as_str().unwrap());
    let forged = hex::encode(forger.signing_key().sign(&msg).to_bytes());
    login(json!({"did": did, "challenge": c["challenge"], "signature": forged}))
        .await
        .problem(401, "bad-signature");
    // The failed attempt used the challenge up.
    login(json!({"did": did, "challenge": c["challenge"], "signature": sign(&c)}))
        .await
        .problem(401, "bad-challenge");
    // Garbage signature, unknown challenge, a timite this node does not host.
    let c = ask().await.ok(201);
    login(json!({"did": did, "challenge": c["challenge"], "signature": "zz"}))
        .await
        .problem(401, "bad-signature");
    login(json!({"did": did, "challenge": "00", "signature": sign(&c)}))
        .await
        .problem(401, "bad-challenge");
    anonymous(&api, "/v1/auth/challenge", json!({"did": forger.did()}))
        .await
        .problem(404, "unknown-timite");
    n.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sign_in_key_signs_in_as_its_timite_until_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let n = common::node(&tmp, 1).await;
    let api = Api::new(common::serve_api(&n.handle, ADMIN, ApiConfig::default()).await);
    let ann = n.handle.timite().to_string();
    let bob = api.post("/v1/timites", ADMIN, json!({})).await.ok(201)["did"]
        .as_str()
        .unwrap()
        .to_string();
    let browser = tim_did::Identity::from_seed([21; 32]);
    let stranger = tim_did::Identity::from_seed([22; 32]);
    let keys = format!("/v1/timites/{}/keys", enc(&ann));
    let node_did = n.handle.node_did();
    // Signs in as `did` with `key`'s signature, naming it as the signer.
    // A login as `did`, with a challenge asked for `asked`, signed by `signer`, naming `key`.
    let login = |asked: String, did: String, signer: &tim_did::Identity, key: tim_protocol::Did| {
        let (api, signer) = (&api, signer.clone());
        async move {
            let c = anonymous(api, "/v1/auth/challenge", json!({"did": asked}))
                .await
                .ok(201);
            let msg = tim_protocol::api::login_message(&node_did, c["challenge"].as_str().unwrap());
            let signature = hex::encode(signer.signing_key().sign(&msg).to_bytes());
            let body = json!({"did": did, "challenge": c["challenge"], "signature": signature,
                              "key": key});
            anonymous(api, "/v1/auth/login", body).await
        }
    };
    let sign_in = |did: String, key: &tim_did::Identity| login(did.clone(), did, key, key.did());

    // Not yet allowed: 401, whoever's key it is.
    sign_in(ann.clone(), &browser)
        .await
        .problem(401, "not-a-sign-in-key");
    // The operator allows the browser's key for Ann; Ann lists it.
    let added = api
        .post(
            &keys,
            ADMIN,
            json!({"key": browser.did(), "label": "laptop"}),
        )
        .await
        .ok(201);
    assert_eq!(added["key"], browser.did().to_string());
    assert_eq!(added["label"], "laptop");
    let ann_t = api.token_for(&ann).await;
    let listed = api.get(&keys, &ann_t).await.ok(200);
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["key"], browser.did().to_string());

    // The allowed key signs in as Ann; the token acts as Ann and records the key.
    let issued = sign_in(ann.clone(), &browser).await.ok(201);
    assert_eq!(issued["did"], ann);
    assert_eq!(issued["key"], browser.did().to_string());
    let browser_t = issued["token"].as_str().unwrap().to_string();
    assert_eq!(api.get("/v1/me", &browser_t).await.ok(200)["did"], ann);
    // An unlinked key gets 401, and so does the allowed key for another timite.
    sign_in(ann.clone(), &stranger)
        .await
        .problem(401, "not-a-sign-in-key");
    sign_in(bob.clone(), &browser)
        .await
        .problem(401, "not-a-sign-in-key");
    // A challenge asked for Bob does not sign Ann in.
    login(bob.clone(), ann.clone(), &browser, browser.did())
        .await
        .problem(401, "bad-challenge");
    // Naming the key but signing with another is a bad signature.
    login(ann.clone(), ann.clone(), &stranger, browser.did())
        .await
        .problem(401, "bad-signature");

    // Bob may not see or change Ann's keys; nor add his own DID as a key.
    let bob_t = api.token_for(&bob).await;
    api.get(&keys, &bob_t).await.problem(403, "not-yours");
    api.post(&keys, &bob_t, json!({"key": stranger.did()}))
        .await
        .problem(403, "not-yours");
    api.post(
        &format!("/v1/timites/{}/keys", enc(&bob)),
        &bob_t,
        json!({"key": bob}),
    )
    .await
    .problem(400, "invalid");
    api.get(
        &format!("/v1/timites/{}/keys", enc(&stranger.did().to_string())),
        ADMIN,
    )
    .await
    .problem(404, "unknown-timite");

    // Removing the key (Ann's own token may) revokes the token it made, not Ann's others.
    let one_key = format!("{keys}/{}", enc(&browser.did().to_string()));
    let removed = api.delete(&one_key, &ann_t).await.ok(200);
    assert_eq!(
        removed["revoked_tokens"],
        json!([issued["id"]]),
        "{removed}"
    );
    api.get("/v1/me", &browser_t)
        .await
        .problem(401, "bad-token");
    api.get("/v1/me", &ann_t).await.ok(200);
    sign_in(ann.clone(), &browser)
        .await
        .problem(401, "not-a-sign-in-key");
    api.delete(&one_key, ADMIN).await.problem(404, "not-found");
    assert_eq!(api.get(&keys, ADMIN).await.ok(200), json!([]));
    n.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_are_rate_limited_each_on_its_own_and_expire() {
    let tmp = tempfile::tempdir().unwrap();
    let n = common::node(&tmp, 1).await;
    let cfg = ApiConfig {
        rate_limit: RateLimit {
            per_sec: 1,
            burst: 3,
        },
    };
    let api = Api::new(common::serve_api(&n.handle, ADMIN, cfg).await);
    let did = n.handle.timite().to_string();
    let short = api
        .post("/v1/tokens", ADMIN, json!({"did": did, "ttl_secs": 1}))
        .await
        .ok(201);
    let short = short["token"].as_str().unwrap().to_string();
    // The admin token used 1 of its 3; 2 more pass, the next is refused.
    api.get("/v1/me", ADMIN).await.ok(200);
    api.get("/v1/me", ADMIN).await.ok(200);
    let limited = api.get("/v1/me", ADMIN).await;
    limited.problem(429, "rate-limited");
    // Another token has its own bucket.
    api.get("/v1/me", &short).await.ok(200);
    // Buckets refill at 1 per second, and the short token expires after its second.
    common::eventually(5, "the admin bucket to refill", || async {
        api.get("/v1/me", ADMIN).await.status.as_u16() == 200
    })
    .await;
    let refused = common::poll(5, "the short token to expire", || async {
        let answer = api.get("/v1/me", &short).await;
        (answer.status.as_u16() == 401).then_some(answer)
    })
    .await;
    refused.problem(401, "token-expired");
    n.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_retry_after_header_says_when_to_come_back() {
    let tmp = tempfile::tempdir().unwrap();
    let n = common::node(&tmp, 1).await;
    let cfg = ApiConfig {
        rate_limit: RateLimit {
            per_sec: 1,
            burst: 1,
        },
    };
    let base = common::serve_api(&n.handle, ADMIN, cfg).await;
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let get = || http.get(format!("{base}/v1/me")).bearer_auth(ADMIN).send();
    assert_eq!(get().await.unwrap().status(), 200);
    let refused = get().await.unwrap();
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "1");
    n.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_holds_at_most_sixteen_event_streams() {
    let tmp = tempfile::tempdir().unwrap();
    let n = common::node(&tmp, 1).await;
    let api = Api::new(common::serve_api(&n.handle, ADMIN, ApiConfig::default()).await);
    let sid = n.handle.create_space("s", "").await.unwrap().id;
    let other = api.token_for(&n.handle.timite().to_string()).await;
    let open = |token: String| {
        let req = api
            .http
            .get(format!("{}/v1/spaces/{sid}/events", api.base))
            .bearer_auth(token);
        async move { req.send().await.unwrap() }
    };
    let mut streams = Vec::new();
    for _ in 0..16 {
        let s = open(ADMIN.to_string()).await;
        assert_eq!(s.status(), 200);
        streams.push(s);
    }
    let refused = open(ADMIN.to_string()).await;
    assert_eq!(refused.status(), 429);
    let p: Value = refused.json().await.unwrap();
    assert_eq!(p["type"], "tim:problem/too-many-streams");
    assert_eq!(
        open(other).await.status(),
        200,
        "another token has its own slots"
    );
    drop(streams);
    n.handle.shutdown().await.unwrap();
}

/// The texts of a timeline page's messages.
fn texts(page: &Value) -> Vec<&str> {
    page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect()
}

/// The path of a `Link: <path>; rel="next"` header.
fn next_link(a: &Answer) -> Option<String> {
    let link = a.link.as_deref()?;
    assert!(link.ends_with("; rel=\"next\""), "{link}");
    Some(link.strip_prefix('<')?.split('>').next()?.to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_timeline_pages_newest_first_by_cursor_both_ways() {
    let tmp = tempfile::tempdir().unwrap();
    let n = common::node(&tmp, 1).await;
    let api = Api::new(common::serve_api(&n.handle, ADMIN, ApiConfig::default()).await);
    let space = n.handle.create_space("long", "").await.unwrap().id;
    let path = format!("/v1/spaces/{space}/messages");
    let empty = api.get(&path, ADMIN).await.ok(200);
    assert_eq!(empty["messages"], json!([]));
    assert_eq!(
        (&empty["next_before"], &empty["next_after"]),
        (&Value::Null, &Value::Null)
    );
    let mut ids = Vec::new();
    for i in 0..55 {
        ids.push(n.handle.post(space, &format!("m{i}")).await.unwrap().id);
    }
    let want = |range: std::ops::Range<usize>| -> Vec<String> {
        range.rev().map(|i| format!("m{i}")).collect()
    };

    // The default page: the 50 newest, newest first.
    let latest = api.get(&path, ADMIN).await.ok(200);
    assert_eq!(texts(&latest), want(5..55));
    assert_eq!(latest["space"], space.to_string());
    assert_eq!(latest["heads"].as_array().unwrap().len(), 1);
    assert_eq!(latest["next_before"], ids[5].as_str());
    assert_eq!(latest["next_after"], Value::Null);

    // Older, page by page, to the start.
    let page = api.get(&format!("{path}?limit=20"), ADMIN).await.ok(200);
    assert_eq!(texts(&page), want(35..55));
    let before = page["next_before"].as_str().unwrap();
    let page = api
        .get(&format!("{path}?limit=20&before={before}"), ADMIN)
        .await
        .ok(200);
    assert_eq!(texts(&page), want(15..35));
    assert_eq!(page["next_after"], ids[34].as_str());
    let before = page["next_before"].as_str().unwrap();
    let oldest = api
        .get(&format!("{path}?limit=20&before={before}"), ADMIN)
        .await
        .ok(200);
    assert_eq!(texts(&oldest), want(0..15));
    assert_eq!(oldest["next_before"], Value::Null);
    assert_eq!(oldest["next_after"], ids[14].as_str());

    // Newer: the messages just after the cursor, listed newest first; forward to the end.
    let page = api
        .get(&format!("{path}?limit=3&after={}", ids[10]), ADMIN)
        .await
        .ok(200);
    assert_eq!(texts(&page), want(11..14));
    assert_eq!(page["next_before"], ids[11].as_str());
    assert_eq!(page["next_after"], ids[13].as_str());
    let page = api
        .get(&format!("{path}?limit=500&after={}", ids[13]), ADMIN)
        .await
        .ok(200);
    assert_eq!(texts(&page), want(14..55));
    assert_eq!(page["next_after"], Value::Null);
    let caught_up = api
        .get(&format!("{path}?after={}", ids[54]), ADMIN)
        .await
        .ok(200);
    assert_eq!(caught_up["messages"], json!([]));

    // A message posted meanwhile is the newer page of the reader who had the newest.
    n.handle.post(space, "m55").await.unwrap();
    let page = api
        .get(&format!("{path}?after={}", ids[54]), ADMIN)
        .await
        .ok(200);
    assert_eq!(texts(&page), ["m55"]);

    // Refusals: an unknown cursor, a malformed one, both ways at once, limits out of bounds.
    let stranger = format!("1@{}", "ab".repeat(32));
    let p = api
        .get(&format!("{path}?before={stranger}"), ADMIN)
        .await
        .problem(404, "unknown-message");
    assert!(p["detail"].as_str().unwrap().contains(&stranger), "{p}");
    // (A message id is an Automerge object id, unique within its space only: one from another
    // space may name a message here too.)
    let p = api
        .get(&format!("{path}?before=nope"), ADMIN)
        .await
        .problem(400, "invalid-query");
    assert!(p["detail"].as_str().unwrap().contains("before"), "{p}");
    api.get(&format!("{path}?limit=many"), ADMIN)
        .await
        .problem(400, "invalid-query");
    api.get(&format!("{path}?before={}&after={}", ids[3], ids[1]), ADMIN)
        .await
        .problem(400, "invalid-page");
    for limit in [0, 501] {
        let p = api
            .get(&format!("{path}?limit={limit}"), ADMIN)
            .await
            .problem(400, "invalid-page");
        assert!(p["detail"].as_str().unwrap().contains("1 to 500"), "{p}");
    }
    api.get(&format!("{path}?limit=500"), ADMIN).await.ok(200);
    n.handle.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn members_and_passports_page_by_key_with_a_link_to_the_next_page() {
    let tmp = tempfile::tempdir().unwrap();
    let n = common::node(&tmp, 1).await;
    let api = Api::new(common::serve_api(&n.handle, ADMIN, ApiConfig::default()).await);
    let ann = n.handle.timite().to_string();
    let ann_t = api.token_for(&ann).await;
    let sid = api
        .post("/v1/spaces", &ann_t, json!({"name": "crowd"}))
        .await
        .ok(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut dids = vec![ann.clone()];
    for _ in 0..4 {
        let did = api.post("/v1/timites", ADMIN, json!({})).await.ok(201)["did"]
            .as_str()
            .unwrap()
            .to_string();
        let token = api.token_for(&did).await;
        api.post(&format!("/v1/spaces/{sid}/join"), &token, json!({}))
            .await
            .ok(200);
        dids.push(did);
    }
    dids.sort();

    // Members, sorted by DID, two at a time: the Link header leads to the next page.
    let everyone = api.get(&format!("/v1/spaces/{sid}/members"), &ann_t).await;
    assert_eq!(everyone.link, None, "one page holds five members");
    let listed: Vec<_> = everyone
        .ok(200)
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["did"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed, dids);
    let mut paged = Vec::new();
    let mut next = Some(format!("/v1/spaces/{sid}/members?limit=2"));
    while let Some(path) = next {
        let a = api.get(&path, &ann_t).await;
        next = next_link(&a);
        let page = a.ok(200);
        let page = page.as_array().unwrap();
        assert!(page.len() <= 2 && !page.is_empty(), "{page:?}");
        if let Some(n) = &next {
            assert!(n.contains("limit=2"), "{n}");
            assert!(
                n.contains(&format!(
                    "after={}",
                    enc(page.last().unwrap()["did"].as_str().unwrap())
                )),
                "{n}"
            );
        }
        paged.extend(page.iter().map(|m| m["did"].as_str().unwrap().to_string()));
    }
    assert_eq!(paged, dids);
    // After any DID, member or not.
    let after_first = api
        .get(
            &format!("/v1/spaces/{sid}/members?after={}", enc(&dids[0])),
            &ann_t,
        )
        .await
        .ok(200);
    assert_eq!(after_first.as_array().unwrap().len(), 4);
    api.get(&format!("/v1/spaces/{sid}/members?after=did:web:x"), &ann_t)
        .await
        .problem(400, "invalid-query");
    api.get(&format!("/v1/spaces/{sid}/members?limit=1001"), &ann_t)
        .await
        .problem(400, "invalid-page");

    // The passport: credentials this timite issued, sorted by id, two at a time.
    let mut cids = Vec::new();
    for did in dids.iter().filter(|d| **d != ann) {
        let vc = api
            .post(
                &format!("/v1/spaces/{sid}/credentials"),
                &ann_t,
                json!({"subject": did, "kind": "membership"}),
            )
            .await
            .ok(201);
        cids.push(vc["id"].as_str().unwrap().to_string());
    }
    cids.sort();
    let mut paged = Vec::new();
    let mut next = Some("/v1/passport?limit=2".to_string());
    while let Some(path) = next {
        let a = api.get(&path, &ann_t).await;
        next = next_link(&a);
        paged.extend(
            a.ok(200)
                .as_array()
                .unwrap()
                .iter()
                .map(|vc| vc["id"].as_str().unwrap().to_string()),
        );
    }
    assert_eq!(paged, cids);
    let all = api.get("/v1/passport", &ann_t).await;
    assert_eq!(all.link, None);
    assert_eq!(all.ok(200).as_array().unwrap().len(), 4);
    let rest = api
        .get(&format!("/v1/passport?after={}", enc(&cids[1])), &ann_t)
        .await
        .ok(200);
    assert_eq!(rest.as_array().unwrap().len(), 2);
    api.get("/v1/passport?after=nope", &ann_t)
        .await
        .problem(400, "invalid-query");
    n.handle.shutdown().await.unwrap();
}

/// The series of a metrics text (sample lines without their values).
fn series(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| Some(l.rsplit_once(' ')?.0.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_are_the_operators_and_name_no_space_or_timite_whatever_the_number_of_spaces() {
    let tmp = tempfile::tempdir().unwrap();
    let (n1, n2) = (common::node(&tmp, 1).await, common::node(&tmp, 2).await);
    let api = Api::new(common::serve_api(&n1.handle, ADMIN, ApiConfig::default()).await);
    let first = n1.handle.create_space("one", "").await.unwrap();
    n2.handle
        .join(first.id, vec![n1.addr.clone()], common::JOIN)
        .await
        .unwrap();
    n2.handle.post(first.id, "hello").await.unwrap();
    common::converged(&[&n1.handle, &n2.handle], first.id, 1).await;
    let before = api.get("/metrics", ADMIN).await.ok(200);
    let before = before.as_str().unwrap().to_string();
    assert!(
        before.contains("\ngossipsub_topic_msg_recv_counts_total "),
        "gossip counts, summed over spaces: {before}"
    );

    let mut spaces = vec![first.id];
    for i in 0..5 {
        let s = n1.handle.create_space(&format!("s{i}"), "").await.unwrap();
        n2.handle
            .join(s.id, vec![n1.addr.clone()], common::JOIN)
            .await
            .unwrap();
        n2.handle.post(s.id, "hi").await.unwrap();
        common::converged(&[&n1.handle, &n2.handle], s.id, 1).await;
        spaces.push(s.id);
    }
    let text = api.get("/metrics", ADMIN).await.ok(200);
    let text = text.as_str().unwrap();
    for id in &spaces {
        assert!(!text.contains(&id.to_string()), "space {id} named: {text}");
    }
    for did in [n1.handle.timite(), n2.handle.timite(), n1.handle.node_did()] {
        assert!(!text.contains(&did.to_string()), "{did} named: {text}");
    }
    assert!(!text.contains("tim/space/"), "a topic named: {text}");
    // A counter's series appears once it is first counted (an ignored gossip message, say),
    // so a family may gain its one unlabelled series; what must not happen is a labelled
    // series per space.
    let (one, six) = (series(&before), series(text));
    let new: Vec<&String> = six
        .iter()
        .filter(|s| !one.contains(s) && s.contains('{'))
        .collect();
    assert!(new.is_empty(), "series that came with more spaces: {new:?}");

    // A timite's token is refused; so is no token.
    let bob = n1.handle.timite().to_string();
    let bob_t = api.token_for(&bob).await;
    api.get("/metrics", &bob_t).await.problem(403, "admin-only");
    let anon = api.raw(Method::GET, "/metrics", None, None).await;
    assert_eq!(anon.status.as_u16(), 401, "{anon:?}");
}

/// An open event stream and what it has received that is not yet read.
struct Events {
    resp: reqwest::Response,
    buf: String,
}

impl Events {
    /// Opens `path` as `token`'s event stream.
    async fn open(api: &Api, path: &str, token: &str) -> Self {
        let resp = api
            .http
            .get(format!("{}{path}", api.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        assert_eq!(
            resp.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        Self {
            resp,
            buf: String::new(),
        }
    }

    /// The next event's JSON `data` (keep-alive comments skipped), within 10 s.
    async fn next(&mut self) -> Value {
        loop {
            if let Some(cut) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..cut + 2).collect();
                let data: Vec<&str> = block
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:"))
                    .map(str::trim_start)
                    .collect();
                if !data.is_empty() {
                    return serde_json::from_str(&data.join("\n")).unwrap();
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.resp.chunk())
                .await
                .expect("an event within 10 s")
                .unwrap()
                .expect("the stream stays open");
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// The next event, asserting its kind and request id.
    async fn expect(&mut self, kind: &str, request: &str) -> Value {
        let e = self.next().await;
        assert_eq!(
            (e["kind"].as_str(), e["request"]["id"].as_str()),
            (Some(kind), Some(request)),
            "{e}"
        );
        e
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_list_and_stream_of_a_timite_carry_the_requests_that_concern_it() {
    let tmp = tempfile::tempdir().unwrap();
    let n = common::node(&tmp, 1).await;
    let api = Api::new(common::serve_api(&n.handle, ADMIN, ApiConfig::default()).await);
    let ann = n.handle.timite().to_string();
    let mut others = Vec::new();
    for _ in 0..2 {
        let did = api.post("/v1/timites", ADMIN, json!({})).await.ok(201)["did"]
            .as_str()
            .unwrap()
            .to_string();
        others.push(did);
    }
    let (bob, carol) = (others[0].clone(), others[1].clone());
    let (ann_t, bob_t, carol_t) = (
        api.token_for(&ann).await,
        api.token_for(&bob).await,
        api.token_for(&carol).await,
    );
    let sid = api
        .post(
            "/v1/spaces",
            &ann_t,
            json!({"name": "help desk", "purpose": ""}),
        )
        .await
        .ok(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    for t in [&bob_t, &carol_t] {
        api.post(&format!("/v1/spaces/{sid}/join"), t, json!({}))
            .await
            .ok(200);
    }
    // Ann (the owner: her first declaration migrates the space) can echo.
    let schema = json!({"type": "object", "properties": {"text": {"type": "string"}},
                        "required": ["text"]});
    api.put(
        &format!("/v1/spaces/{sid}/abilities/text.echo"),
        &ann_t,
        json!({"description": "Echoes a text", "input_schema": schema}),
    )
    .await
    .ok(200);

    let mut ann_events = Events::open(&api, "/v1/requests/events", &ann_t).await;
    let mut bob_events = Events::open(&api, "/v1/requests/events", &bob_t).await;
    let mut carol_events = Events::open(&api, "/v1/requests/events", &carol_t).await;

    // Bob asks Ann: both streams carry it, Carol's does not.
    let rid = api
        .post(
            &format!("/v1/spaces/{sid}/requests"),
            &bob_t,
            json!({"ability": "text.echo", "input": {"text": "hi"}, "to": ann}),
        )
        .await
        .ok(200)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let made = ann_events.expect("request_created", &rid).await;
    assert_eq!(made["space"], sid.as_str());
    bob_events.expect("request_created", &rid).await;

    // The lists, by role and state, across spaces.
    let list = |token: &str, query: &str| {
        let path = format!("/v1/requests{query}");
        let token = token.to_string();
        let api = &api;
        async move { api.get(&path, &token).await.ok(200) }
    };
    let ids = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r["request"]["id"].as_str().unwrap().to_string())
            .collect()
    };
    let provider = list(&ann_t, "?role=provider").await;
    assert_eq!(ids(&provider), [rid.as_str()]);
    assert_eq!(provider[0]["space"], sid.as_str());
    assert_eq!(provider[0]["space_name"], "help desk");
    assert_eq!(provider[0]["request"]["state"], "open");
    assert_eq!(ids(&list(&ann_t, "").await), [rid.as_str()]);
    assert_eq!(
        ids(&list(&ann_t, "?role=provider&state=open").await),
        [rid.as_str()]
    );
    assert!(ids(&list(&ann_t, "?role=provider&state=completed").await).is_empty());
    assert!(ids(&list(&ann_t, "?role=requester").await).is_empty());
    assert_eq!(ids(&list(&bob_t, "?role=requester").await), [rid.as_str()]);
    assert!(ids(&list(&bob_t, "?role=provider").await).is_empty());
    assert!(ids(&list(&carol_t, "").await).is_empty());
    api.get("/v1/requests?role=bystander", &ann_t)
        .await
        .problem(400, "invalid-query");
    api.get("/v1/requests?state=lost", &ann_t)
        .await
        .problem(400, "invalid-query");

    // Ann claims and answers; Bob sees the result arrive and rates it.
    let path = format!("/v1/spaces/{sid}/requests/{rid}");
    api.post(&format!("{path}/claim"), &ann_t, json!({}))
        .await
        .ok(200);
    api.post(
        &format!("{path}/result"),
        &ann_t,
        json!({"output": {"text": "hi"}}),
    )
    .await
    .ok(200);
    ann_events.expect("request_claimed", &rid).await;
    ann_events.expect("request_completed", &rid).await;
    bob_events.expect("request_claimed", &rid).await;
    let done = bob_events.expect("request_completed", &rid).await;
    assert_eq!(done["request"]["output"], json!({"text": "hi"}));
    api.post(&format!("{path}/rating"), &bob_t, json!({"score": 5}))
        .await
        .ok(200);
    let rated = ann_events.expect("request_rated", &rid).await;
    assert_eq!(rated["request"]["rating"], 5);
    assert_eq!(
        ids(&list(&bob_t, "?role=requester&state=completed").await),
        [rid.as_str()]
    );

    // A request of Carol's is the first event her stream carries: none of the others
    // concerned her.
    let mine = api
        .post(
            &format!("/v1/spaces/{sid}/requests"),
            &carol_t,
            json!({"ability": "text.echo", "input": {"text": "me"}}),
        )
        .await
        .ok(200)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let first = carol_events.expect("request_created", &mine).await;
    assert_eq!(first["request"]["target"], "auto");
    // Ann is its `auto` candidate: her stream carries it; Bob's next event is not about it.
    ann_events.expect("request_created", &mine).await;
    assert_eq!(ids(&list(&ann_t, "?state=open").await), [mine.as_str()]);
    n.handle.shutdown().await.unwrap();
}
