//! How responsive a node's loop stays while it does heavy work: a real node imports a space
//! file of `CHANGES` signed changes (signatures checked off the loop, then applied and
//! stored), while another task asks the node for its status every millisecond. Prints the
//! status calls' latency (p50, p99, max) during the import, and the import's own time; then the
//! time to get the space's first timeline page over HTTP.
//!
//! `cargo bench -p tim-node --bench loop_latency` (release build; `CHANGES=n` changes the
//! size, default 20,000).

use std::time::{Duration, Instant};

mod common;
use common::percentile;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let changes: usize = std::env::var("CHANGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    // The file: a space of `changes` posts by one author, built in process.
    let author = tim_crdt::test_utils::writer(7);
    let (mut space, genesis) = tim_crdt::Space::create(&author, "big", "", 1_000).unwrap();
    let mut envelopes = vec![genesis.envelope];
    for i in 0..changes {
        let (applied, _) = space
            .post(&author, &format!("message {i}"), 2_000 + i as u64)
            .unwrap();
        envelopes.push(applied.envelope);
    }
    let id = space.id();

    let tmp = tempfile::tempdir().unwrap();
    let handle = common::one_node(tmp.path()).await;
    let probe = handle.clone();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop = done.clone();
    let prober = tokio::spawn(async move {
        let mut lat = Vec::new();
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            let t = Instant::now();
            probe.status().await.unwrap();
            lat.push(t.elapsed());
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        lat
    });
    let t = Instant::now();
    let imported = handle.import(id, envelopes).await.unwrap();
    let import = t.elapsed();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut lat = prober.await.unwrap();
    lat.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "import of {} changes: {:.0} ms; status during it: n={} p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        imported.applied,
        ms(import),
        lat.len(),
        ms(percentile(&lat, 0.5)),
        ms(percentile(&lat, 0.99)),
        ms(*lat.last().unwrap()),
    );

    // The imported space's first timeline page over HTTP, as a client or the web page asks.
    let app = tim_node::api::router(handle.clone(), "bench-admin-token".into());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/v1/spaces/{id}/messages",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut lat = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        let resp = http
            .get(&url)
            .bearer_auth("bench-admin-token")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let page: tim_protocol::api::TimelinePage = resp.json().await.unwrap();
        assert_eq!(page.messages.len(), 50.min(changes));
        lat.push(t.elapsed());
    }
    lat.sort();
    println!(
        "first timeline page (50 of {changes} messages) over HTTP: p50 {:.2} ms  max {:.2} ms",
        ms(percentile(&lat, 0.5)),
        ms(*lat.last().unwrap()),
    );
    handle.shutdown().await.unwrap();
}
