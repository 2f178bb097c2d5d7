//! Cost of earned roles (docs/governance.md "Earned roles") on a space of a few thousand
//! changes: reading the reputation ledger now and at past heads, and the rules' verdict on a
//! change that needs an earned role (each reads the ledger at its dependencies) against one
//! that does not. Prints figures.
//!
//! `cargo bench -p tim-crdt --bench earned`

use std::time::Instant;

use tim_crdt::earned::EarnedRole;
use tim_crdt::schema::SOCIAL;
use tim_crdt::{Role, Space, Writer};
use tim_protocol::Did;

/// Messages in the space (each a change), between ratings.
const MESSAGES: usize = 3_000;
/// Deletions measured.
const DELETIONS: usize = 50;
/// Reads of the ledger measured, each way.
const READS: usize = 10;

fn did(k: &Writer) -> Did {
    Did::from_key(&k.verifying_key())
}

fn per(label: &str, n: usize, start: Instant) {
    let total = start.elapsed();
    println!(
        "{label:<62} {:>9.2} ms each  ({n} in {:.1} ms)",
        total.as_secs_f64() * 1e3 / n as f64,
        total.as_secs_f64() * 1e3
    );
}

fn main() {
    let owner = tim_crdt::test_utils::writer(1);
    let members: Vec<Writer> = (2..22).map(tim_crdt::test_utils::writer).collect();
    let (mut space, _) = Space::create(&owner, "bench", "", 0).unwrap();
    space.migrate(&owner, SOCIAL, 1).unwrap();
    for m in &members {
        space.join(m, 1).unwrap();
    }
    for (i, m) in members.iter().enumerate() {
        space.rate(&owner, &did(m), 4 + (i % 2) as u8, 2).unwrap();
    }
    // Past heads to read at: one every MESSAGES / READS messages.
    let mut past = Vec::new();
    let start = Instant::now();
    for i in 0..MESSAGES {
        let k = &members[i % members.len()];
        space.post(k, &format!("message number {i}"), 10).unwrap();
        if i % (MESSAGES / READS) == 0 {
            past.push(space.heads());
        }
    }
    per("post, no earned roles", MESSAGES, start);
    let earned = EarnedRole {
        role: "moderator".into(),
        min_reputation: Some(10),
        ability: None,
        min_ability_reputation: None,
    };
    space.set_earned_roles(&owner, &[earned], 20).unwrap();
    let start = Instant::now();
    for i in 0..DELETIONS {
        let k = &members[i % members.len()];
        space.post(k, "one more", 30).unwrap();
    }
    per(
        "post by a member, earned roles set (no ledger read)",
        DELETIONS,
        start,
    );
    let changes = space.envelopes_in_order().len();
    println!("space: {changes} changes, {} members", members.len() + 1);

    let start = Instant::now();
    for _ in 0..READS {
        space.reputation(&did(&members[1]));
    }
    per("reputation now (the ledger, current heads)", READS, start);
    let rep = space.reputation(&did(&members[1]));
    let heads = space.heads();
    let start = Instant::now();
    for _ in 0..READS {
        space.reputation_at(&did(&members[1]), &heads).unwrap();
    }
    per(
        "reputation at the current heads, as a history view",
        READS,
        start,
    );
    assert_eq!(space.reputation_at(&did(&members[1]), &heads), Some(rep));
    let start = Instant::now();
    for heads in &past {
        space.reputation_at(&did(&members[1]), heads).unwrap();
    }
    per(
        "reputation at past heads (0 to 2,700 messages)",
        past.len(),
        start,
    );

    // members[1] was rated 5 by the owner: an earned moderator. members[0], rated 4, is not;
    // make a second an assigned moderator to compare.
    let earner = &members[1];
    let assigned = &members[3];
    space
        .set_role(&owner, &did(assigned), Role::Moderator, 40)
        .unwrap();
    let ids: Vec<String> = space
        .timeline()
        .iter()
        .take(2 * DELETIONS)
        .map(|m| m.id.clone())
        .collect();
    let start = Instant::now();
    for id in &ids[..DELETIONS] {
        space.delete_message(assigned, id, 50).unwrap();
    }
    per(
        "delete another's message, assigned moderator",
        DELETIONS,
        start,
    );
    let start = Instant::now();
    for id in &ids[DELETIONS..] {
        space.delete_message(earner, id, 50).unwrap();
    }
    per(
        "delete another's message, earned moderator (ledger at deps)",
        DELETIONS,
        start,
    );
    let envelopes = space.envelopes_in_order();
    let start = Instant::now();
    let loaded = Space::load(space.id(), None, envelopes.iter().cloned()).unwrap();
    per(
        "replay the whole log (every change judged)",
        envelopes.len(),
        start,
    );
    assert_eq!(loaded.heads(), space.heads());
}
