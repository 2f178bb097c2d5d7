//! Criterion micro-benchmarks of the way in, per change, on a space of about 1k changes:
//! decoding and verifying an envelope, authorizing a change, and applying it (one by one and in
//! batches of 100). `authorize.rs` prints the same steps on a 10k-message space in one pass.
//!
//! `cargo bench -p tim-crdt --bench hot_paths`
//!
//! The changes applied come from a chain of posts made once on top of the base space. A
//! replica ingests them in order (so each change's dependencies are there) and is reset to a
//! copy of the base, outside the timed part, when the chain runs out: the space stays between
//! [`BASE_CHANGES`] and `BASE_CHANGES + CHAIN` changes.

use std::hint::black_box;
use std::time::{Duration, Instant};

use automerge::{Automerge, Change};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tim_crdt::rules::{authorize, Context};
use tim_crdt::Writer;
use tim_crdt::{Ingested, Space};
use tim_protocol::Envelope;

/// Changes in the base space: genesis, joins and posts.
const BASE_CHANGES: usize = 1_000;
/// Members posting, round robin.
const MEMBERS: u8 = 10;
/// Changes made on top of the base, replayed by the `apply` benchmarks.
const CHAIN: usize = 500;
/// Changes per batch in `apply/ingest_batch_100`.
const BATCH: usize = 100;

/// A space of [`BASE_CHANGES`] changes, and the chain of [`CHAIN`] posts that follows it.
struct Fixture {
    base: Space,
    chain: Vec<Envelope>,
}

fn fixture() -> Fixture {
    let owner = tim_crdt::test_utils::writer(1);
    let members: Vec<Writer> = (2..2 + MEMBERS).map(tim_crdt::test_utils::writer).collect();
    let (mut base, _) = Space::create(&owner, "bench", "", 0).unwrap();
    for m in &members {
        base.join(m, 1).unwrap();
    }
    let mut i = 0;
    let mut post = |space: &mut Space| {
        let k = &members[i % members.len()];
        i += 1;
        let (applied, _) = space
            .post(k, &format!("message number {i}"), 10 + i as u64)
            .unwrap();
        applied.envelope
    };
    while base.change_count() < BASE_CHANGES {
        post(&mut base);
    }
    let mut origin = base.try_copy().unwrap();
    let chain = (0..CHAIN).map(|_| post(&mut origin)).collect();
    Fixture { base, chain }
}

fn envelope_decode_verify(c: &mut Criterion, f: &Fixture) {
    let env = &f.chain[0];
    let bytes = env.encode();
    let hash = tim_crdt::verify_envelope(env).unwrap();
    let mut g = c.benchmark_group("envelope_decode_verify");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(20);
    g.throughput(Throughput::Elements(1));
    g.bench_function("decode_verify", |b| {
        b.iter(|| {
            let env = Envelope::decode(black_box(&bytes)).unwrap();
            tim_crdt::verify_envelope(&env).unwrap()
        })
    });
    g.bench_function("signature_only", |b| {
        b.iter(|| black_box(env).verify_signature(black_box(&hash)).unwrap())
    });
    g.finish();
}

fn authorize_one(c: &mut Criterion, f: &Fixture) {
    let doc = Automerge::load(&f.base.save()).unwrap();
    let env = &f.chain[0];
    let change = Change::from_bytes(env.change.clone()).unwrap();
    let ctx = Context {
        space: f.base.id(),
        verifier: None,
        notices: None,
    };
    let mut g = c.benchmark_group("authorize");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(20);
    g.throughput(Throughput::Elements(1));
    g.bench_function("post_at_heads_1k", |b| {
        b.iter(|| authorize(&doc, black_box(&change), &env.author, &ctx).unwrap())
    });
    g.finish();
}

/// A replica replaying the chain, reset to the base when it runs out (untimed).
struct Replay<'a> {
    f: &'a Fixture,
    replica: Space,
    next: usize,
}

impl<'a> Replay<'a> {
    fn new(f: &'a Fixture) -> Self {
        Self {
            f,
            replica: f.base.try_copy().unwrap(),
            next: 0,
        }
    }

    /// The next `n` envelopes of the chain, resetting first if fewer are left.
    fn take(&mut self, n: usize) -> Vec<Envelope> {
        if self.next + n > self.f.chain.len() {
            self.replica = self.f.base.try_copy().unwrap();
            self.next = 0;
        }
        self.next += n;
        self.f.chain[self.next - n..self.next].to_vec()
    }
}

fn apply(c: &mut Criterion, f: &Fixture) {
    let mut g = c.benchmark_group("apply");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(20);

    g.throughput(Throughput::Elements(1));
    let mut replay = Replay::new(f);
    g.bench_function("ingest_one", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                let env = replay.take(1).remove(0);
                let start = Instant::now();
                let r = replay.replica.ingest(env);
                timed += start.elapsed();
                assert!(matches!(r, Ok(Ingested::Applied { .. })), "{r:?}");
            }
            timed
        })
    });

    // The same changes into bare Automerge: the apply step alone, with no checks.
    let base_doc = Automerge::load(&f.base.save()).unwrap();
    let changes: Vec<Change> = f
        .chain
        .iter()
        .map(|e| Change::from_bytes(e.change.clone()).unwrap())
        .collect();
    let (mut doc, mut next) = (base_doc.clone(), 0);
    g.bench_function("automerge_apply_one", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                if next == changes.len() {
                    (doc, next) = (base_doc.clone(), 0);
                }
                let change = changes[next].clone();
                next += 1;
                let start = Instant::now();
                doc.apply_changes([change]).unwrap();
                timed += start.elapsed();
            }
            timed
        })
    });

    g.throughput(Throughput::Elements(BATCH as u64));
    let mut replay = Replay::new(f);
    g.bench_function("ingest_batch_100", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                let batch = replay.take(BATCH);
                let start = Instant::now();
                let out = replay.replica.ingest_batch(batch);
                timed += start.elapsed();
                assert!(out.rejected.is_empty() && out.applied.len() == BATCH);
            }
            timed
        })
    });
    g.finish();
}

fn hot_paths(c: &mut Criterion) {
    let f = fixture();
    assert_eq!(f.base.change_count(), BASE_CHANGES);
    envelope_decode_verify(c, &f);
    authorize_one(c, &f);
    apply(c, &f);
}

criterion_group!(benches, hot_paths);
criterion_main!(benches);
