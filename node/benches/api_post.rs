//! Latency of posting through the HTTP API on one node: a real node (sled on disk, signing,
//! rules, flush before the answer) and its API on 127.0.0.1, driven by a keep-alive HTTP
//! client. Prints p50, p90, p99 and max per setting.
//!
//! `cargo bench -p tim-node --bench api_post` (release build; `POSTS=n` changes the count).

use std::time::{Duration, Instant};

use tim_node::api::{ApiConfig, RateLimit};

mod common;
use common::percentile;

const ADMIN: &str = "bench-admin-token";

fn report(what: &str, mut lat: Vec<Duration>, wall: Duration) {
    lat.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{what:<34} n={:<5} p50 {:>6.2} ms  p90 {:>6.2} ms  p99 {:>6.2} ms  max {:>6.2} ms  {:>6.0} posts/s",
        lat.len(),
        ms(percentile(&lat, 0.5)),
        ms(percentile(&lat, 0.9)),
        ms(percentile(&lat, 0.99)),
        ms(*lat.last().unwrap()),
        lat.len() as f64 / wall.as_secs_f64()
    );
}

/// Posts `n` messages from each of `clients` concurrent clients; the latency of each post.
async fn run(
    base: &str,
    token: &str,
    space: &str,
    clients: usize,
    n: usize,
) -> (Vec<Duration>, Duration) {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let url = format!("{base}/v1/spaces/{space}/messages");
        let token = token.to_string();
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::builder().no_proxy().build().unwrap();
            let mut lat = Vec::with_capacity(n);
            for i in 0..n {
                let t = Instant::now();
                let resp = http
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&serde_json::json!({"text": format!("client {c} message {i}")}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 201);
                resp.bytes().await.unwrap();
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    (all, start.elapsed())
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("POSTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let tmp = tempfile::tempdir().unwrap();
    let handle = common::one_node(tmp.path()).await;
    let app = tim_node::api::router_with(
        handle.clone(),
        ADMIN.into(),
        ApiConfig {
            rate_limit: RateLimit {
                per_sec: 0,
                burst: 0,
            },
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    let space = handle
        .create_space("bench", "")
        .await
        .unwrap()
        .id
        .to_string();
    // A timite token, as an agent would use (the admin token takes the same path).
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let issued: serde_json::Value = http
        .post(format!("{base}/v1/tokens"))
        .bearer_auth(ADMIN)
        .json(&serde_json::json!({"did": handle.timite(), "label": "bench"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = issued["token"].as_str().unwrap().to_string();
    println!("posting through the API of one node on 127.0.0.1 (sled flush before each answer)");
    let (warm, w) = run(&base, &token, &space, 1, n / 10).await;
    report("warm-up, 1 client", warm, w);
    for clients in [1, 4, 16] {
        let (lat, wall) = run(&base, &token, &space, clients, n / clients).await;
        report(&format!("{clients} client(s), sequential each"), lat, wall);
    }
    handle.shutdown().await.unwrap();
}
