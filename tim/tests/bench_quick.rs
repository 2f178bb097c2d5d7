//! Process level: `tim testnet bench --quick --only b9,b1m` on real node processes. B9's quick
//! sizes (0 and 1,000 messages) each give a row, every probe and fill message reaches both
//! followers; B1m's quick run (4 spaces on 3 nodes, 20 messages) gives its row with every
//! delivery seen; the other scenarios are skipped, and the report has both tables and charts.
//! The figures are printed, not asserted: timing goals belong to the bench.

use std::process::Command;

use serde_json::Value;

/// `tim --json testnet bench --quick ARGS…` on real node processes; its JSON results.
fn quick_bench(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_tim"))
        .args(["--json", "testnet", "bench", "--quick"])
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run tim");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "bench failed:\n{stdout}\n{stderr}");
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("no JSON results ({e}):\n{stdout}\n{stderr}"))
}

#[test]
fn quick_b9_and_b1m_measure_and_write_their_report() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let out = dir.path().to_str().expect("a UTF-8 path");
    let r = quick_bench(&["--only", "b9,b1m", "--out", out]);
    let report = std::fs::read_to_string(dir.path().join("report.md")).expect("report.md");
    eprintln!("{report}");

    assert_eq!(r["errors"], Value::Array(vec![]), "{report}");
    for skipped in ["propagation", "late_join", "durability", "scale"] {
        assert_eq!(r[skipped], Value::Array(vec![]), "{skipped} ran:\n{report}");
    }
    assert!(
        r["saturation"].is_null() && r["crypto"].is_null(),
        "{report}"
    );

    let rows = r["live_path"].as_array().expect("live_path rows");
    let sizes: Vec<u64> = rows.iter().filter_map(|l| l["messages"].as_u64()).collect();
    assert_eq!(sizes, [0, 1000], "{report}");
    for l in rows {
        // 80 probes, each seen by nodes 2 and 3.
        assert_eq!(l["propagation"]["n"], 160, "{l}");
        assert_eq!(l["ack"]["n"], 80, "{l}");
        assert_eq!(l["probe_lost"], 0, "{l}");
        let posted = l["fill_posted"].as_u64().expect("fill_posted");
        assert!(posted > 0, "{l}");
        assert_eq!(l["fill_lag"]["n"].as_u64(), Some(2 * posted), "{l}");
        assert_eq!(l["fill_lost"], 0, "{l}");
        assert_eq!(l["missing"], 0, "{l}");
        assert_eq!(l["join_ms"].as_array().map(Vec::len), Some(2), "{l}");
        let rss = l["rss_mb"].as_array().expect("rss_mb");
        assert!(
            rss.len() == 3 && rss.iter().all(|m| m.as_f64() > Some(0.0)),
            "{l}"
        );
    }
    assert!(report.contains("B9 live path"), "{report}");
    assert!(dir.path().join("b9-live-path.svg").exists());

    // B1m: 4 spaces on 3 nodes, each on all 3; 20 messages, each seen by 2 other hosts.
    let b = &r["many_spaces"];
    assert_eq!(b["nodes"], 3, "{b}");
    assert_eq!(b["spaces"], 4, "{b}");
    assert_eq!(b["hosts_per_space"], 3, "{b}");
    assert_eq!(b["spaces_per_node"], serde_json::json!([4, 4, 4]), "{b}");
    assert_eq!(b["messages"], 20, "{b}");
    assert_eq!(b["deliveries"], 40, "{b}");
    assert_eq!(b["latency"]["n"], 40, "{b}");
    assert_eq!(b["lost"], 0, "{b}");
    let rss = b["rss_mb"].as_array().expect("rss_mb");
    assert!(
        rss.len() == 3 && rss.iter().all(|m| m.as_f64() > Some(0.0)),
        "{b}"
    );
    assert!(b["bytes_per_delivery"].as_f64() > Some(0.0), "{b}");
    assert!(report.contains("B1m many spaces"), "{report}");
    assert!(dir.path().join("b1m-latency-cdf.svg").exists());
}

/// `tim testnet bench --quick --only b1 --private`: B1 in an invite-only space on 3 nodes.
/// Every post reaches both other members, and none of it travels by gossip (a private space
/// has no topic): its live path is pushes by sync.
#[test]
fn quick_private_b1_delivers_every_post_without_gossip() {
    let r = quick_bench(&["--only", "b1", "--private"]);
    assert_eq!(r["errors"], Value::Array(vec![]), "{r}");
    let b1 = &r["propagation"][0];
    eprintln!("{b1}");
    assert_eq!(b1["nodes"], 3, "{b1}");
    assert_eq!(b1["lost"], 0, "{b1}");
    // 50 posts (quick), each seen by the 2 other members.
    assert_eq!(b1["runs"][0]["n"], 100, "{b1}");
    assert_eq!(b1["gossip_per_delivery"]["median"], 0.0, "{b1}");
}

/// `tim testnet bench --quick --only b11`: B11 on 3 nodes. Every request (50, one at a time)
/// reaches the provider on node 1 and its result reaches the requester on node 3, each leg
/// measured once per request.
#[test]
fn quick_b11_completes_every_request_across_nodes() {
    let r = quick_bench(&["--only", "b11"]);
    assert_eq!(r["errors"], Value::Array(vec![]), "{r}");
    let b = &r["invocation"];
    eprintln!("{b}");
    assert_eq!(b["nodes"], 3, "{b}");
    assert_eq!(b["requests"], 50, "{b}");
    assert_eq!(b["lost"], 0, "{b}");
    for leg in ["total", "to_provider", "provider", "to_requester", "search"] {
        let p50 = b[leg]["p50"]["median"].as_f64().expect("a p50");
        assert!(p50 > 0.0, "{leg}: {b}");
    }
    assert!(r["propagation"] == Value::Array(vec![]), "{r}");
}
