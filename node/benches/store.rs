//! Criterion micro-benchmarks of storing a change: `Store::put_envelopes` with one envelope
//! (sled's log, flushed in the background), with a flush after each (the `fsync` an
//! acknowledged write waits for), 100 puts sharing one flush (group commit), and 100 envelopes
//! in one sled batch (a sync round, an import).
//!
//! `cargo bench -p tim-node --bench store`

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ed25519_dalek::SigningKey;
use tim_crdt::Space;
use tim_node::{SpaceStore, Store};
use tim_protocol::{ChangeHash, Envelope};

/// Puts sharing one flush in `store/put_100_flush`.
const GROUP: u64 = 100;

/// A real envelope: one post in a fresh space.
fn envelope() -> Envelope {
    let key = tim_crdt::Writer::new(SigningKey::from_bytes(&[1; 32]), [1; 16]);
    let (mut space, _) = Space::create(&key, "bench", "", 0).unwrap();
    space
        .post(&key, "a typical short message", 1)
        .unwrap()
        .0
        .envelope
}

/// A distinct key for the `n`th write, so every put adds a record.
fn hash(n: u64) -> ChangeHash {
    let mut h = [0u8; 32];
    h[..8].copy_from_slice(&n.to_be_bytes());
    ChangeHash::from(h)
}

fn store(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let env = envelope();
    let mut n = 0u64;
    let mut put = || {
        n += 1;
        store
            .put_envelopes(&mut [(&hash(n), black_box(&env))].into_iter())
            .unwrap();
    };

    let mut g = c.benchmark_group("store");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(20);
    g.throughput(Throughput::Elements(1));
    g.bench_function("put_envelope", |b| b.iter(&mut put));
    g.bench_function("put_flush", |b| {
        b.iter(|| {
            put();
            rt.block_on(store.flush()).unwrap();
        })
    });
    g.throughput(Throughput::Elements(GROUP));
    g.bench_function("put_100_flush", |b| {
        b.iter(|| {
            for _ in 0..GROUP {
                put();
            }
            rt.block_on(store.flush()).unwrap();
        })
    });
    // 100 envelopes in one sled batch (how a sync round or an import stores them).
    let mut hashes = (0..GROUP)
        .map(|_| ChangeHash::from([0; 32]))
        .collect::<Vec<_>>();
    g.bench_function("put_batch_100", |b| {
        b.iter(|| {
            for h in &mut hashes {
                n += 1;
                *h = hash(n);
            }
            store
                .put_envelopes(&mut hashes.iter().map(|h| (h, &env)))
                .unwrap();
        })
    });
    g.finish();
}

criterion_group!(benches, store);
criterion_main!(benches);
