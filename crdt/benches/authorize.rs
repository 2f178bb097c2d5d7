//! Cost of the one way in, per change, on a space of 10k messages. Prints figures.
//!
//! `cargo bench -p tim-crdt --bench authorize`

use std::time::Instant;

use tim_crdt::rules::authorize;
use tim_crdt::test_utils::{forge, root};
use tim_crdt::Writer;
use tim_crdt::{Ingested, Space};
use tim_protocol::{ChangeHash, Did};

const MESSAGES: usize = 10_000;

fn per(label: &str, n: usize, start: Instant) {
    let total = start.elapsed();
    println!(
        "{label:<58} {:>9.2} µs/change  ({n} in {:.1} ms)",
        total.as_secs_f64() * 1e6 / n as f64,
        total.as_secs_f64() * 1e3
    );
}

fn main() {
    let owner = tim_crdt::test_utils::writer(1);
    let members: Vec<Writer> = (2..12).map(tim_crdt::test_utils::writer).collect();
    let (mut space, _) = Space::create(&owner, "bench", "", 0).unwrap();
    for m in &members {
        space.join(m, 1).unwrap();
    }
    let start = Instant::now();
    for i in 0..MESSAGES {
        let k = &members[i % members.len()];
        space
            .post(k, &format!("message number {i}"), 10 + i as u64)
            .unwrap();
    }
    per("local post (build + sign + authorize)", MESSAGES, start);

    let envelopes = space.envelopes_in_order();
    let n = envelopes.len();
    let snapshot = space.save();
    let start = Instant::now();
    let loaded = Space::load(space.id(), Some(&snapshot), envelopes.iter().cloned()).unwrap();
    per("restart: load from snapshot + stored envelopes", n, start);
    assert_eq!(loaded.heads(), space.heads());
    let start = Instant::now();
    for env in &envelopes {
        let h = tim_crdt::verify_envelope(env).unwrap();
        std::hint::black_box(h);
    }
    per("decode + verify signature (strict Ed25519)", n, start);

    let changes: Vec<automerge::Change> = envelopes
        .iter()
        .map(|e| automerge::Change::from_bytes(e.change.clone()).unwrap())
        .collect();
    let start = Instant::now();
    let mut bare = automerge::Automerge::new();
    for c in changes.iter().cloned() {
        bare.apply_changes([c]).unwrap();
    }
    per(
        "bare automerge apply_changes, one change at a time",
        n,
        start,
    );
    let start = Instant::now();
    let mut bare = automerge::Automerge::new();
    for e in &envelopes {
        bare.load_incremental(&e.change).unwrap();
    }
    per(
        "bare automerge load_incremental, one change at a time",
        n,
        start,
    );
    let start = Instant::now();
    let mut bare = automerge::Automerge::new();
    for chunk in changes.chunks(100) {
        bare.apply_changes(chunk.to_vec()).unwrap();
    }
    per(
        "bare automerge apply_changes, 100 changes at a time",
        n,
        start,
    );

    let start = Instant::now();
    let mut replica = Space::empty(space.id());
    for env in envelopes.iter().cloned() {
        let r = replica.ingest(env).unwrap();
        assert!(matches!(r, Ingested::Applied { .. }));
    }
    per(
        "ingest one by one: decode + verify + authorize + apply",
        n,
        start,
    );
    assert_eq!(replica.heads(), space.heads());

    let start = Instant::now();
    let mut replica = Space::empty(space.id());
    let out = replica.ingest_batch(envelopes.clone());
    assert!(out.rejected.is_empty() && out.applied.len() == n);
    per("ingest as one batch (sync, import): same checks", n, start);
    assert_eq!(replica.heads(), space.heads());

    // Authorization alone, on top of the 10k-message document.
    let doc = automerge::Automerge::load(&space.save()).unwrap();
    let poster = &members[0];
    let env = forge(&space, poster, poster, 0, |tx, d| {
        use automerge::transaction::Transactable;
        use automerge::ReadDoc;
        let tl = root(d, "timeline");
        let m = tx
            .insert_object(&tl, d.length(&tl), automerge::ObjType::Map)
            .unwrap();
        tx.put(&m, "text", "one more").unwrap();
    });
    let change = automerge::Change::from_bytes(env.change.clone()).unwrap();
    let author = Did::from_key(&poster.verifying_key());
    let ctx = tim_crdt::rules::Context {
        space: space.id(),
        verifier: None,
    };
    let reps = 2_000;
    let start = Instant::now();
    for _ in 0..reps {
        std::hint::black_box(authorize(&doc, &change, &author, &ctx).unwrap());
    }
    per(
        "authorize alone, deps = current heads (10k doc)",
        reps,
        start,
    );

    // A change concurrent with the last 100: judged at its (older) deps.
    let old = Space::load(
        space.id(),
        None,
        envelopes[..envelopes.len() - 100].iter().cloned(),
    )
    .unwrap();
    let env = forge(&old, poster, poster, 0, |tx, d| {
        use automerge::transaction::Transactable;
        use automerge::ReadDoc;
        let tl = root(d, "timeline");
        let m = tx
            .insert_object(&tl, d.length(&tl), automerge::ObjType::Map)
            .unwrap();
        tx.put(&m, "text", "concurrent").unwrap();
    });
    let change = automerge::Change::from_bytes(env.change.clone()).unwrap();
    let reps = 200;
    let start = Instant::now();
    for _ in 0..reps {
        std::hint::black_box(authorize(&doc, &change, &author, &ctx).unwrap());
    }
    per(
        "authorize alone, deps 100 changes back (historic read)",
        reps,
        start,
    );
    let _ = ChangeHash::from([0; 32]);
}
