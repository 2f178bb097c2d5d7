//! Cost of the one way in, per change, on a space of 10k messages; then, grown to 100k
//! messages, the time to read a page of its timeline. Prints figures.
//!
//! `cargo bench -p tim-crdt --bench authorize`

use std::time::Instant;

use tim_crdt::rules::authorize;
use tim_crdt::test_utils::{forge, root};
use tim_crdt::Writer;
use tim_crdt::{Ingested, PageFrom, Space};
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
        notices: None,
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

    pages(space, &members);
}

/// Messages in the space whose pages are timed.
const PAGED_MESSAGES: usize = 100_000;

/// Reading a big space a page at a time (crdt/src/page.rs), against reading it whole.
fn pages(mut space: Space, members: &[Writer]) {
    let start = Instant::now();
    let mut i = space.message_count();
    while space.message_count() < PAGED_MESSAGES {
        let k = &members[i % members.len()];
        space
            .post(k, &format!("message number {i}"), 10 + i as u64)
            .unwrap();
        i += 1;
    }
    println!(
        "\n{PAGED_MESSAGES} messages (grown in {:.1} s):",
        start.elapsed().as_secs_f64()
    );
    let time = |label: &str, reps: u32, f: &mut dyn FnMut()| {
        let start = Instant::now();
        for _ in 0..reps {
            f();
        }
        let each = start.elapsed() / reps;
        println!("{label:<58} {:>9.3} ms", each.as_secs_f64() * 1e3);
    };
    let latest = space.timeline_page(&PageFrom::Latest, 50).unwrap();
    assert_eq!(latest.messages.len(), 50);
    time("timeline page: the latest 50", 100, &mut || {
        std::hint::black_box(space.timeline_page(&PageFrom::Latest, 50).unwrap());
    });
    let middle = space.timeline()[PAGED_MESSAGES / 2].id.parse().unwrap();
    let before = PageFrom::Before(middle);
    time(
        "timeline page: 50 before a message in the middle",
        100,
        &mut || {
            std::hint::black_box(space.timeline_page(&before, 50).unwrap());
        },
    );
    time(
        "timeline page: 500 before a message in the middle",
        20,
        &mut || {
            std::hint::black_box(space.timeline_page(&before, 500).unwrap());
        },
    );
    time(
        "members page: the first 50 (counts every author)",
        5,
        &mut || {
            std::hint::black_box(space.members_page(None, 50));
        },
    );
    time("the whole timeline (what a page replaces)", 3, &mut || {
        std::hint::black_box(space.timeline());
    });
}
