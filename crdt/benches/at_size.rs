//! Members, unread counts and notifications as a space grows (docs/benchmarks.md, "Issue 17:
//! members, unread, notifications at size"). One space grows by local posts by 4 members
//! (every 20th message mentions the first member, every 30th replies to its latest message,
//! every 500th is an edit, every 1000th deletes a message), and at each size given (default
//! 10k and 100k messages) it times, p50 of a few reads:
//! - `members`: the first page of 50 members, read again at the same heads;
//! - `members+post`: the same page read just after a new post;
//! - `scan`: the first member's unread counts and notifications by a walk of the timeline
//!   (`test_utils::inbox_by_scan`, what a node did per space on every request before);
//! - `unread`, `unread+post`: its unread counts from the timeline index ([`Space::inbox`]
//!   without the notifications), at the same heads and just after a new post;
//! - `notifs`: its notifications from the index;
//! - `rebuild`: the first read of a copy of the space, whose index is read from the document
//!   (what the first read after a restart pays).
//!
//! `cargo bench --profile dev -p tim-crdt --bench at_size [-- SIZES...]` (the dev profile, as
//! the tests build: Automerge and the crypto crates optimised, Tim's own code not).

use std::time::{Duration, Instant};

use tim_crdt::{Space, Writer};

/// Reads timed per figure.
const READS: usize = 5;

fn p50(mut samples: Vec<Duration>) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1e3
}

fn timed(n: usize, mut f: impl FnMut()) -> f64 {
    p50((0..n)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect())
}

fn main() {
    let mut sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    if sizes.is_empty() {
        sizes = vec![10_000, 100_000];
    }
    let owner = tim_crdt::test_utils::writer(1);
    let members: Vec<Writer> = (2..6).map(tim_crdt::test_utils::writer).collect();
    let me = members[0].did();
    let (mut space, _) = Space::create(&owner, "bench", "", 0).unwrap();
    space
        .migrate(&owner, tim_crdt::schema::LATEST_VERSION, 1)
        .unwrap();
    for m in &members {
        space.join(m, 2).unwrap();
        space.rate(&owner, &m.did(), 5, 3).unwrap();
    }
    let mut at = 10u64;
    let mut made = 0usize;
    let mut last_mine: Option<String> = None;
    let mut post = |space: &mut Space, made: &mut usize| {
        at += 1;
        *made += 1;
        let i = *made;
        let k = &members[i % members.len()];
        let text = format!("message number {i}");
        let id = if i.is_multiple_of(1000) {
            let victim = space.timeline_page(&tim_crdt::PageFrom::Latest, 1).unwrap();
            let victim = &victim.messages[0];
            let by = members.iter().find(|m| m.did() == victim.author).unwrap();
            space.delete_message(by, &victim.id, at).unwrap();
            None
        } else if i.is_multiple_of(500) && last_mine.is_some() {
            space
                .edit(&members[0], last_mine.as_deref().unwrap(), &text, at)
                .unwrap();
            None
        } else if i.is_multiple_of(30) && last_mine.is_some() {
            Some(
                space
                    .reply(k, last_mine.as_deref().unwrap(), &text, at)
                    .unwrap()
                    .1,
            )
        } else if i.is_multiple_of(20) {
            Some(
                space
                    .post_mentioning(k, &text, None, &[me], None, at)
                    .unwrap()
                    .1,
            )
        } else {
            Some(space.post(k, &text, at).unwrap().1)
        };
        if i.is_multiple_of(members.len()) {
            last_mine = id.or(last_mine.take());
        }
    };
    println!(
        "{:>8} {:>9} {:>10} {:>13} {:>10} {:>9} {:>12} {:>9} {:>10}",
        "messages",
        "build s",
        "members ms",
        "members+post",
        "scan ms",
        "unread ms",
        "unread+post",
        "notifs ms",
        "rebuild ms"
    );
    let start = Instant::now();
    for size in sizes {
        while made < size {
            post(&mut space, &mut made);
        }
        let build = start.elapsed().as_secs_f64();
        let marker = {
            let t = space.timeline();
            t[t.len() * 9 / 10].id.clone()
        };
        let members_ms = timed(READS, || {
            std::hint::black_box(space.members_page(None, 50));
        });
        let mut after_post = Vec::new();
        for _ in 0..READS {
            post(&mut space, &mut made);
            let s = Instant::now();
            std::hint::black_box(space.members_page(None, 50));
            after_post.push(s.elapsed());
        }
        let scan_ms = timed(3, || {
            std::hint::black_box(tim_crdt::test_utils::inbox_by_scan(
                &space,
                &me,
                Some(&marker),
            ));
        });
        let unread_ms = timed(READS, || {
            std::hint::black_box(space.inbox(&me, Some(&marker), false));
        });
        let mut unread_after_post = Vec::new();
        for _ in 0..READS {
            post(&mut space, &mut made);
            let s = Instant::now();
            std::hint::black_box(space.inbox(&me, Some(&marker), false));
            unread_after_post.push(s.elapsed());
        }
        let notifs_ms = timed(READS, || {
            std::hint::black_box(space.inbox(&me, Some(&marker), true));
        });
        let copies: Vec<Space> = (0..3).map(|_| space.try_copy().unwrap()).collect();
        let mut rebuilds = Vec::new();
        for copy in &copies {
            let s = Instant::now();
            std::hint::black_box(copy.inbox(&me, Some(&marker), false));
            rebuilds.push(s.elapsed());
        }
        println!(
            "{:>8} {:>9.1} {:>10.2} {:>13.2} {:>10.1} {:>9.2} {:>12.2} {:>9.2} {:>10.1}",
            size,
            build,
            members_ms,
            p50(after_post),
            scan_ms,
            unread_ms,
            p50(unread_after_post),
            notifs_ms,
            p50(rebuilds)
        );
    }
}
