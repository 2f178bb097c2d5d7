//! How the way in scales with a space's size: one space grows to 100k messages by local posts,
//! and at 0, 10k, 50k and 100k a replica times gossip arrivals (one change at a time, on top of
//! its heads and concurrent with another), a save and load of the document, and a restart from
//! the stored changes with either kind of snapshot: a saved document (older nodes) or the record
//! of judged heads (`Space::judged_heads`, what a node stores now). Prints figures (docs/benchmarks.md, B9's
//! in-process half).
//!
//! `cargo bench -p tim-crdt --bench size [-- MESSAGES]`

use std::time::{Duration, Instant};

use tim_crdt::{Ingested, Space, Writer};
use tim_protocol::ChangeHash;

fn p(samples: &mut [Duration], q: f64) -> f64 {
    samples.sort();
    samples[((samples.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e6
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed().as_secs_f64() * 1e3)
}

fn main() {
    let biggest: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    let owner = tim_crdt::test_utils::writer(1);
    let members: Vec<Writer> = (2..6).map(tim_crdt::test_utils::writer).collect();
    let (mut space, _) = Space::create(&owner, "bench", "", 0).unwrap();
    for m in &members {
        space.join(m, 1).unwrap();
    }
    let mut at = 10u64;
    let mut post = |space: &mut Space, i: usize| {
        at += 1;
        let k = &members[i % members.len()];
        space.post(k, &format!("message number {i}"), at).unwrap().0
    };
    let mut made = 0;
    println!(
        "{:>8} {:>10} {:>10} {:>10} {:>10} {:>9} {:>9} {:>11} {:>13}",
        "messages",
        "build s",
        "gossip p50",
        "p99 µs",
        "concurrent",
        "save ms",
        "load ms",
        "from doc ms",
        "from heads ms"
    );
    for size in [0, 10_000, 50_000, 100_000]
        .into_iter()
        .filter(|s| *s <= biggest)
    {
        let (_, build) = timed(|| {
            while made < size {
                post(&mut space, made);
                made += 1;
            }
        });
        let mut replica = space.try_copy().unwrap();
        let mut gossip = Vec::new();
        for _ in 0..200 {
            let env = post(&mut space, made).envelope;
            made += 1;
            let start = Instant::now();
            let out = replica.ingest(env).unwrap();
            gossip.push(start.elapsed());
            assert!(matches!(out, Ingested::Applied { .. }));
        }
        let mut concurrent = Vec::new();
        for _ in 0..100 {
            let mut other = space.try_copy().unwrap();
            let first = post(&mut space, made).envelope;
            let second = post(&mut other, made + 1).envelope;
            made += 2;
            replica.ingest(first).unwrap();
            let start = Instant::now();
            replica.ingest(second.clone()).unwrap();
            concurrent.push(start.elapsed());
            space.ingest(second).unwrap();
        }
        let (saved, save) = timed(|| space.save());
        let (_, load) = timed(|| automerge::Automerge::load(&saved).unwrap());
        let stored: Vec<(ChangeHash, tim_protocol::Envelope)> = space
            .envelopes()
            .map(|e| (tim_crdt::verify_envelope(&e).unwrap(), e))
            .collect();
        let (restored, from_doc) =
            timed(|| Space::load_stored(space.id(), Some(&saved), stored.clone()).unwrap());
        assert_eq!(restored.space.heads(), space.heads());
        drop(restored);
        let record = space.judged_heads();
        let (restored, from_heads) =
            timed(|| Space::load_stored(space.id(), Some(&record), stored).unwrap());
        assert_eq!(restored.space.heads(), space.heads());
        println!(
            "{:>8} {:>10.2} {:>10.0} {:>10.0} {:>10.0} {:>9.1} {:>9.1} {:>11.1} {:>13.1}",
            size,
            build / 1e3,
            p(&mut gossip, 0.5),
            p(&mut gossip, 0.99),
            p(&mut concurrent, 0.5),
            save,
            load,
            from_doc,
            from_heads
        );
    }
}
