//! How long a network search of abilities takes (`tim_node::index::Cache::search`, what
//! `Handle::network_search` runs on the node's loop): a cache holding `DECLARATIONS`
//! verified declarations (default 10,000) from records of `PER_NODE` entries each (default
//! 200, under the record's byte bound), queried with one-word, two-word, name, missing and
//! empty queries. Prints p50 and p99 per kind of query, and the time to verify and cache one
//! full record (what a node pays per record received).
//!
//! `cargo bench -p tim-node --bench network_search` (release build).

use std::time::{Duration, Instant};

#[allow(dead_code)] // Only the percentiles: this bench starts no node.
mod common;
use common::percentile;
use tim_did::Identity;
use tim_node::index::{Cache, Entry, EntryBody, Record};
use tim_protocol::SpaceId;

const WORDS: &[&str] = &[
    "text",
    "image",
    "audio",
    "summarize",
    "translate",
    "resize",
    "transcribe",
    "classify",
    "extract",
    "search",
    "weather",
    "forecast",
    "code",
    "review",
    "plan",
    "schedule",
    "invoice",
    "chart",
    "render",
    "index",
];

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn seeded(i: usize, salt: u8) -> Identity {
    let mut seed = [salt; 32];
    seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
    Identity::from_seed(seed)
}

/// One node's record of `per_node` entries by 8 providers, in 4 spaces.
fn record(n: usize, per_node: usize, now: u64) -> Vec<u8> {
    let node = seeded(n, 1);
    let providers: Vec<Identity> = (0..8).map(|p| seeded(n * 8 + p, 2)).collect();
    let entries = (0..per_node)
        .map(|i| {
            let k = n * per_node + i;
            let w = |j: usize| WORDS[(k * 7 + j * 13) % WORDS.len()];
            let provider = &providers[i % providers.len()];
            let body = EntryBody {
                space: SpaceId::from([(n * 4 + i % 4) as u8; 32]),
                space_name: format!("space {n}-{}", i % 4),
                provider: provider.did(),
                name: format!("{}.{}{k}", w(0), w(1)),
                summary: format!(
                    "{} {} and {} for {} in {} steps",
                    w(2),
                    w(3),
                    w(4),
                    w(5),
                    k % 10
                ),
                schemas: vec![0; 32],
                attested: k.is_multiple_of(5),
                price: None,
                declared_at: now - 1000,
            };
            Entry::sign(provider, &node.did(), body)
        })
        .collect();
    let addrs = vec![format!("/ip4/127.0.0.1/tcp/{}", 4000 + n)];
    let (bytes, left_out) = Record::sign(&node, now, now, now + 600_000, addrs, entries);
    assert_eq!(left_out, 0, "a record of {per_node} entries must fit");
    bytes
}

fn main() {
    let total = env("DECLARATIONS", 10_000);
    let per_node = env("PER_NODE", 200);
    let now = 1_700_000_000_000;
    let records: Vec<Vec<u8>> = (0..total.div_ceil(per_node))
        .map(|n| record(n, per_node, now))
        .collect();
    let mut cache = Cache::default();
    let mut ingest = Vec::new();
    for r in &records {
        let t = Instant::now();
        cache.receive(r, now).unwrap();
        ingest.push(t.elapsed());
    }
    ingest.sort();
    println!(
        "cache: {} records, {} declarations; record of {per_node} entries: {} bytes, verify and \
         cache p50 {:?}, p99 {:?}",
        records.len(),
        cache.entries(),
        records[0].len(),
        percentile(&ingest, 0.5),
        percentile(&ingest, 0.99)
    );
    let queries: &[(&str, &str)] = &[
        ("one word", "summarize"),
        ("two words", "translate text"),
        ("a name", "text.review0"),
        ("no match", "zzz"),
        ("empty (everything)", ""),
    ];
    for (kind, q) in queries {
        let mut times: Vec<Duration> = Vec::new();
        let mut found = 0;
        for _ in 0..200 {
            let t = Instant::now();
            found = std::hint::black_box(cache.search(q, 20, now)).len();
            times.push(t.elapsed());
        }
        times.sort();
        println!(
            "network_search {kind:<20} `{q}`: {found} hits (limit 20), p50 {:?}, p99 {:?}",
            percentile(&times, 0.5),
            percentile(&times, 0.99)
        );
    }
}
