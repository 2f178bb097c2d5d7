//! Memory of a 100k-message space in process (RSS from /proc/self/statm, Linux), in two
//! processes because the allocator keeps what a process frees:
//!
//! * `cargo bench -p tim-crdt --bench memory -- build`: builds the space by local posts, saves
//!   its document to the temporary directory, then has a fresh replica take in every envelope
//!   (a follower's or joiner's way) and prints what that added;
//! * `cargo bench -p tim-crdt --bench memory -- load`: loads the saved document alone (a
//!   restart's way), then copies it (a snapshot's way) and prints both.

use tim_crdt::{Space, Writer};

const MESSAGES: usize = 100_000;

fn rss_mb() -> i64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: i64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096 / 1_000_000
}

fn main() {
    let saved = std::env::temp_dir().join("tim-memory-bench.automerge");
    let mode = std::env::args()
        .skip(1)
        .find(|a| a == "build" || a == "load")
        .unwrap_or_else(|| "build".into());
    if mode == "load" {
        let bytes = std::fs::read(&saved).expect("run with `build` first");
        let base = rss_mb();
        let doc = automerge::Automerge::load(&bytes).unwrap();
        println!("load of the saved document: +{} MB", rss_mb() - base);
        let copy = doc.clone();
        println!("and a copy of it: +{} MB", rss_mb() - base);
        drop(copy);
        return;
    }
    let owner = tim_crdt::test_utils::writer(1);
    let members: Vec<Writer> = (2..6).map(tim_crdt::test_utils::writer).collect();
    let (mut space, _) = Space::create(&owner, "bench", "", 0).unwrap();
    for m in &members {
        space.join(m, 1).unwrap();
    }
    for i in 0..MESSAGES {
        let who = &members[i % members.len()];
        space
            .post(who, &format!("message number {i}"), 10 + i as u64)
            .unwrap();
    }
    std::fs::write(&saved, space.save()).unwrap();
    let envelopes = space.envelopes_in_order();
    let bytes: usize = envelopes.iter().map(|e| e.change.len()).sum();
    let id = space.id();
    drop(space);
    println!(
        "{} changes, {} MB of change bytes; saved to {}",
        envelopes.len(),
        bytes / 1_000_000,
        saved.display()
    );
    let checked: Vec<_> = tim_crdt::check_envelopes(envelopes)
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    let mut replica = Space::empty(id);
    let base = rss_mb();
    let out = replica.ingest_checked(checked);
    assert_eq!(out.applied.len(), MESSAGES + 5);
    println!(
        "a replica that took in every envelope: +{} MB",
        rss_mb() - base
    );
}
