//! What end-to-end encryption costs a space (docs/privacy.md §4, docs/benchmarks.md): the same
//! `N` posts written and then taken in by a second replica (the gate: signature, rules,
//! Automerge), in a plain invite-only space and in an encrypted one, where each post is first
//! encrypted with the group's secret and each read decrypts; and the size of the group's
//! control messages as it grows.
//!
//! `cargo bench -p tim-node --bench e2ee` (release build; `N=n` changes the count, default
//! 10,000).

use std::time::Instant;

use tim_crdt::encryption::{Encryption, History};
use tim_crdt::{check_envelopes, Space, Visibility};
use tim_node::e2ee::{Body, Group, Keys, Rng};
use tim_protocol::Did;

fn main() {
    let n: usize = std::env::var("N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let author = tim_crdt::test_utils::writer(7);
    let me = author.did();
    let rng = Rng::default();
    let keys = Keys::generate(&rng).unwrap();
    let mut group = Group::new(me, &keys);
    group.create(&[me], &rng).unwrap();

    let plain = |i: usize| format!("message number {i} of the benchmark, about sixty bytes");
    let mut rows = Vec::new();
    for encrypted in [false, true] {
        let (mut space, genesis) = if encrypted {
            let e = Encryption {
                history: History::Shared,
                dm: false,
            };
            Space::create_encrypted(&author, "bench", "", e, 1_000).unwrap()
        } else {
            Space::create_with(&author, "bench", "", Visibility::InviteOnly, None, 1_000).unwrap()
        };
        let mut envelopes = vec![genesis.envelope];
        let t = Instant::now();
        for i in 0..n {
            let at = 2_000 + i as u64;
            let (applied, _) = if encrypted {
                let body = Body {
                    text: plain(i),
                    author: me,
                    space: space.id(),
                    at,
                };
                let ct = group.encrypt(&body.to_bytes(), &rng).unwrap();
                space.post_encrypted(&author, &ct, at).unwrap()
            } else {
                space.post(&author, &plain(i), at).unwrap()
            };
            envelopes.push(applied.envelope);
        }
        let write = t.elapsed();
        let bytes: usize = envelopes.iter().map(|e| e.change.len()).sum();

        let t = Instant::now();
        let mut replica = Space::empty(space.id());
        let checked = check_envelopes(envelopes)
            .into_iter()
            .map(|r| r.unwrap())
            .collect();
        let out = replica.ingest_checked(checked);
        assert_eq!(out.applied.len(), n + 1);
        let ingest = t.elapsed();

        let t = Instant::now();
        let page = replica.timeline();
        let mut read = 0;
        for m in page.iter().rev().take(1_000) {
            let text = if m.encrypted {
                let ct = replica.ciphertext(&m.id).unwrap();
                let plain = group.decrypt(&ct).unwrap();
                Body::open(&plain, &m.author, &replica.id(), m.at).unwrap()
            } else {
                m.text.clone()
            };
            read += text.len();
        }
        assert!(read > 0);
        let decrypt = t.elapsed();
        rows.push((encrypted, write, ingest, decrypt, bytes));
    }
    println!("{n} posts of ~60 bytes by one author, one replica taking them in (release):");
    println!("| space | write µs/post | ingest posts/s | read 1,000 µs | change bytes/post |");
    println!("|---|---|---|---|---|");
    for (encrypted, write, ingest, decrypt, bytes) in &rows {
        println!(
            "| {} | {:.1} | {:.0} | {:.0} | {:.0} |",
            if *encrypted { "encrypted" } else { "plain" },
            write.as_secs_f64() * 1e6 / n as f64,
            n as f64 / ingest.as_secs_f64(),
            decrypt.as_secs_f64() * 1e6,
            *bytes as f64 / (n + 1) as f64,
        );
    }
    let (p, e) = (&rows[0], &rows[1]);
    println!(
        "encrypted / plain: write {:.2}x, ingest throughput {:.2}x, bytes {:.2}x",
        e.1.as_secs_f64() / p.1.as_secs_f64(),
        p.2.as_secs_f64() / e.2.as_secs_f64(),
        e.4 as f64 / p.4 as f64
    );

    // Control messages as the group grows (one `create` naming everyone; a `remove`).
    println!("| members | create bytes | create ms | remove bytes | remove ms |");
    println!("|---|---|---|---|---|");
    for members in [2usize, 10, 50, 100] {
        let dids: Vec<(Did, Keys)> = (0..members)
            .map(|i| {
                let w = tim_crdt::test_utils::writer(i as u8 + 1);
                (w.did(), Keys::generate(&rng).unwrap())
            })
            .collect();
        let mut owner = Group::new(dids[0].0, &dids[0].1);
        for (d, k) in &dids[1..] {
            owner.add_bundle(*d, &k.bundle().unwrap()).unwrap();
        }
        let all: Vec<Did> = dids.iter().map(|(d, _)| *d).collect();
        let t = Instant::now();
        let create = owner.create(&all, &rng).unwrap();
        let create_t = t.elapsed();
        let t = Instant::now();
        let remove = owner.remove(all[members - 1], &rng).unwrap();
        let remove_t = t.elapsed();
        println!(
            "| {members} | {} | {:.1} | {} | {:.1} |",
            create.len(),
            create_t.as_secs_f64() * 1e3,
            remove.len(),
            remove_t.as_secs_f64() * 1e3
        );
    }
}
