//! The reputation ledger read at past heads (what the rules read at a change's dependencies,
//! docs/governance.md "Earned roles", Cost) on random spaces: posts, peer ratings, deletions,
//! role changes, rated ability outcomes and earned-role thresholds, written on two replicas
//! (each member on both, as two sessions) that merge now and then, so that many heads have
//! concurrent branches. It is the ledger that was current at those heads, and, at heads no
//! replica ever had, the ledger of a space loaded from exactly their ancestors.
//!
//! The ledger now reads no history at all; at past heads every read goes through Automerge's
//! clock of those heads, which Tim's patched Automerge computes once per heads
//! (vendor/automerge/VENDORED.md, patch 4). The past heads are read in a random order, between
//! new changes, on both replicas: a clock kept for the wrong heads, or kept after the graph
//! grew, would show here as a different figure.

use std::collections::{HashMap, HashSet};

use automerge::Change;
use ed25519_dalek::SigningKey;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use tim_crdt::abilities::{AbilitySpec, Target};
use tim_crdt::earned::EarnedRole;
use tim_crdt::schema::{LATEST_VERSION, REPUTATION_V2};
use tim_crdt::test_utils::sync_pair;
use tim_crdt::{Role, Space, Writer, SESSION_BYTES};
use tim_protocol::{ChangeHash, Did};

/// Members besides the owner.
const MEMBERS: u8 = 6;
/// Random steps per space.
const STEPS: usize = 90;
const ABILITY: &str = "text.summarize";

/// Member `seed`'s writer on replica `replica` (a session of its own per replica).
fn writer(seed: u8, replica: usize) -> Writer {
    Writer::new(
        SigningKey::from_bytes(&[seed; 32]),
        [seed.wrapping_mul(2).wrapping_add(replica as u8); SESSION_BYTES],
    )
}

fn spec() -> AbilitySpec {
    AbilitySpec {
        name: ABILITY.into(),
        description: "Summarizes a text".into(),
        input_schema: json!({"type": "object"}),
        output_schema: json!({"type": "object"}),
        credential: None,
        price: None,
    }
}

/// One random change on `space` by a member of `cast` (a refused one changes nothing).
fn step(space: &mut Space, cast: &[Writer], rng: &mut StdRng, at: u64) {
    let owner = &cast[0];
    let who = &cast[rng.gen_range(1..cast.len())];
    let other = cast[rng.gen_range(0..cast.len())].did();
    match rng.gen_range(0..10) {
        0..=3 => {
            space.post(who, &format!("message {at}"), at).unwrap();
        }
        4 | 5 => {
            // Refused when rating oneself.
            let _ = space.rate(who, &other, rng.gen_range(1..=5), at);
        }
        6 => {
            let messages = space.timeline();
            if let Some(m) = messages.choose(rng) {
                // Refused unless the author, or a moderator, deletes it.
                let _ = space.delete_message(who, &m.id, at);
            }
        }
        7 => {
            let role = if rng.gen_bool(0.5) {
                Role::Moderator
            } else {
                Role::Member
            };
            // Refused for the owner itself.
            let _ = space.set_role(owner, &other, role, at);
        }
        8 => {
            // A rated outcome: `who` asks a provider (members 1 and 2 declared the ability).
            let provider = &cast[rng.gen_range(1..3)];
            if provider.did() == who.did() {
                return;
            }
            let (_, id) = space
                .request_ability(
                    who,
                    ABILITY,
                    &json!({"text": "t"}),
                    Target::Did(provider.did()),
                    60_000,
                    at,
                )
                .unwrap();
            space.claim(provider, &id, at).unwrap();
            space
                .complete(provider, &id, &Value::Object(Default::default()), at)
                .unwrap();
            space
                .rate_request(who, &id, rng.gen_range(1..=5), at)
                .unwrap();
        }
        _ => {
            let threshold = EarnedRole {
                role: "moderator".into(),
                min_reputation: Some(rng.gen_range(1..8)),
                ability: None,
                min_ability_reputation: None,
            };
            // Not applied when it sets the list it replaces.
            let _ = space.set_earned_roles(owner, &[threshold], at);
        }
    }
}

/// Two replicas of a new space at the latest schema version: the owner and [`MEMBERS`]
/// members (members 1 and 2 declare [`ABILITY`]); and each one's writer on each replica.
fn replicas() -> ([Space; 2], Vec<Vec<Writer>>) {
    let casts: Vec<Vec<Writer>> = (0..2)
        .map(|r| (1..=MEMBERS + 1).map(|s| writer(s, r)).collect())
        .collect();
    let owner = &casts[0][0];
    let (mut a, _) = Space::create(owner, "ledger", "", 0).unwrap();
    a.migrate(owner, LATEST_VERSION, 1).unwrap();
    for k in &casts[0][1..] {
        a.join(k, 2).unwrap();
    }
    for k in &casts[0][1..3] {
        a.declare(k, &spec(), 3).unwrap();
    }
    let mut b = Space::empty(a.id());
    sync_pair(&mut a, &mut b);
    ([a, b], casts)
}

/// [`STEPS`] random changes on random replicas, which merge now and then; `seen` is shown
/// the replica after each change.
fn grow(
    replicas: &mut [Space; 2],
    casts: &[Vec<Writer>],
    rng: &mut StdRng,
    mut seen: impl FnMut(&Space),
) {
    for n in 0..STEPS {
        if rng.gen_range(0..8) == 0 {
            let [a, b] = replicas;
            sync_pair(a, b);
        } else {
            let r = rng.gen_range(0..2);
            step(&mut replicas[r], &casts[r], rng, 10 + n as u64);
            seen(&replicas[r]);
        }
    }
    let [a, b] = replicas;
    sync_pair(a, b);
    assert_eq!(a.heads(), b.heads());
}

#[test]
fn the_ledger_at_past_heads_is_the_ledger_that_was_current_there() {
    for seed in 0..4u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let (mut replicas, casts) = replicas();
        let dids: Vec<Did> = casts[0].iter().map(Writer::did).collect();
        // What the ledger said, read now, at each replica's heads after each change.
        let mut history = Vec::new();
        grow(&mut replicas, &casts, &mut rng, |now| {
            let reputations: Vec<_> = dids.iter().map(|d| (*d, now.reputation(d))).collect();
            history.push((now.heads(), reputations));
        });
        history.shuffle(&mut rng);
        for (i, (heads, reputations)) in history.iter().enumerate() {
            for space in &replicas {
                for (did, reputation) in reputations {
                    assert_eq!(
                        space.reputation_at(did, heads).as_ref(),
                        Some(reputation),
                        "seed {seed}: {did} at {heads:?}"
                    );
                }
            }
            // New changes between reads: the graph grows under the kept clock.
            if i % 10 == 0 {
                let r = rng.gen_range(0..2);
                step(&mut replicas[r], &casts[r], &mut rng, 1_000 + i as u64);
            }
        }
    }
}

/// Heads no replica ever had (one to three changes picked at random, from either branch): the
/// ledger there is the ledger, read now, of a space loaded from exactly their ancestors.
#[test]
fn the_ledger_at_any_heads_is_the_ledger_of_exactly_their_ancestors() {
    for seed in 10..13u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let (mut replicas, casts) = replicas();
        let dids: Vec<Did> = casts[0].iter().map(Writer::did).collect();
        grow(&mut replicas, &casts, &mut rng, |_| {});
        let space = &replicas[0];
        let envelopes = space.envelopes_in_order();
        let changes: Vec<Change> = envelopes
            .iter()
            .map(|e| Change::try_from(&e.change[..]).unwrap())
            .collect();
        let deps: HashMap<automerge::ChangeHash, Vec<automerge::ChangeHash>> = changes
            .iter()
            .map(|c| (c.hash(), c.deps().to_vec()))
            .collect();
        for _ in 0..20 {
            let picked: Vec<automerge::ChangeHash> = (0..rng.gen_range(1..=3))
                .map(|_| changes.choose(&mut rng).unwrap().hash())
                .collect();
            let mut ancestors = HashSet::new();
            let mut queue = picked.clone();
            while let Some(h) = queue.pop() {
                if ancestors.insert(h) {
                    queue.extend(deps[&h].iter().copied());
                }
            }
            let past = Space::load(
                space.id(),
                None,
                envelopes
                    .iter()
                    .zip(&changes)
                    .filter(|(_, c)| ancestors.contains(&c.hash()))
                    .map(|(e, _)| e.clone()),
            )
            .unwrap();
            let heads: Vec<ChangeHash> = picked.iter().map(|h| ChangeHash::from(h.0)).collect();
            for did in &dids {
                match space.reputation_at(did, &heads) {
                    Some(at) => assert_eq!(at, past.reputation(did), "seed {seed}: {did}"),
                    None => assert!(past.schema_version() < REPUTATION_V2),
                }
            }
        }
    }
}
