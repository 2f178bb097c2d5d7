//! Reputation v2 (schema version 8, docs/reputation.md): each factor on its own (diminishing
//! returns, the newcomer cap, weighting by standing, bounded trust hops, the per-pair cap,
//! rated outcomes per ability), the version gate, and the property that a ring of sybils
//! rating each other and flooding the timeline gains less than one honest member with a few
//! ratings from established members, with the same figures on replicas that received the
//! same changes in different orders.

use proptest::prelude::*;
use serde_json::json;
use tim_crdt::abilities::{AbilitySpec, Target};
use tim_crdt::reputation::{ABILITY_CAP, NEWCOMER_CAP, PAIR_CAP};
use tim_crdt::schema::REPUTATION_V2;
use tim_crdt::test_utils::sync_pair;
use tim_crdt::{Role, Space, Writer};
use tim_protocol::Did;

fn key(seed: u8) -> Writer {
    tim_crdt::test_utils::writer(seed)
}

fn did(k: &Writer) -> Did {
    Did::from_key(&k.verifying_key())
}

/// A public space at schema version 8 created by `owner`, joined by `others`.
fn space(owner: &Writer, others: &[&Writer]) -> Space {
    let (mut s, _) = Space::create(owner, "rep", "", 1).unwrap();
    s.migrate(owner, REPUTATION_V2, 2).unwrap();
    for k in others {
        s.join(k, 3).unwrap();
    }
    s
}

/// `who` posts `n` messages in a row.
fn posts(s: &mut Space, who: &Writer, n: usize) {
    for i in 0..n {
        s.post(who, &format!("m{i}"), 10).unwrap();
    }
}

fn basis(s: &Space, who: &Writer) -> tim_crdt::reputation::Basis {
    s.reputation(&did(who))
        .v2
        .expect("a v2 space has a v2 basis")
}

#[test]
fn a_migration_to_8_makes_nothing_and_switches_the_formula() {
    let (owner, ann) = (key(1), key(2));
    let (mut s, _) = Space::create(&owner, "rep", "", 1).unwrap();
    s.migrate(&owner, 7, 2).unwrap();
    s.join(&ann, 3).unwrap();
    posts(&mut s, &ann, 30);
    let v1 = s.reputation(&did(&ann));
    // v1: every message is a point, and no v2 basis.
    assert_eq!((v1.score, v1.contributions, v1.v2), (30, 30, None));
    let roots = automerge::Automerge::load(&s.save()).unwrap();
    let before: Vec<String> = automerge::ReadDoc::keys(&roots, automerge::ROOT).collect();
    s.migrate(&owner, REPUTATION_V2, 4).unwrap();
    let roots = automerge::Automerge::load(&s.save()).unwrap();
    let after: Vec<String> = automerge::ReadDoc::keys(&roots, automerge::ROOT).collect();
    assert_eq!(before, after, "version 8 adds no container");
    assert_eq!(s.schema_version(), 8);
    let v2 = s.reputation(&did(&ann));
    // 30 messages in one run: 1 + ⌊log2 30⌋ = 5 turns, 2 × √5 = 4.47 points, capped at 4
    // without standing.
    assert_eq!((v2.score, v2.contributions), (4, 30));
    assert_eq!(v2.v2.unwrap().turns, 5);
    let member = s.member(&did(&ann)).unwrap();
    assert_eq!(member.reputation, 4, "member views use the same formula");
}

#[test]
fn contributions_have_diminishing_returns_per_turn_and_per_member() {
    let (owner, ann) = (key(1), key(2));
    let mut s = space(&owner, &[&ann]);
    // The owner (full standing) floods 64 messages in one run: 1 + 6 = 7 turns.
    posts(&mut s, &owner, 64);
    let b = basis(&s, &owner);
    assert_eq!(b.turns, 7);
    assert_eq!(b.contribution_points, 5_291, "2000 × √7");
    assert_eq!(s.reputation(&did(&owner)).score, 5);
    // 16 turns of one message each, between ann's messages: 4 times the turns is about
    // twice the points (√), not 4 times.
    let mut s = space(&owner, &[&ann]);
    for _ in 0..16 {
        posts(&mut s, &owner, 1);
        posts(&mut s, &ann, 1);
    }
    let b = basis(&s, &owner);
    assert_eq!((b.turns, b.contribution_points), (16, 8_000));
    assert_eq!(s.reputation(&did(&owner)).contributions, 16);
}

#[test]
fn without_standing_contributions_stop_at_the_newcomer_cap() {
    let (owner, ann, bob) = (key(1), key(2), key(3));
    let mut s = space(&owner, &[&ann, &bob]);
    for _ in 0..25 {
        posts(&mut s, &ann, 1);
        posts(&mut s, &bob, 1);
    }
    // 25 turns: 10 points in full, 4 count without standing.
    let b = basis(&s, &ann);
    assert_eq!(
        (b.turns, b.standing, b.contribution_points),
        (25, 0, NEWCOMER_CAP)
    );
    // The owner vouches with a 5: standing 500, half the rest counts, plus the rating itself.
    s.rate(&owner, &did(&ann), 5, 20).unwrap();
    let b = basis(&s, &ann);
    assert_eq!(b.standing, 500);
    assert_eq!(
        b.contribution_points,
        NEWCOMER_CAP + (10_000 - NEWCOMER_CAP) / 2
    );
    assert_eq!(b.rating_points, 10_000);
    assert_eq!(s.reputation(&did(&ann)).score, 17);
}

#[test]
fn ratings_are_weighted_by_the_raters_standing_and_trust_travels_three_hops() {
    let ks: Vec<Writer> = (1..=7).map(key).collect();
    let [owner, a, b, c, d, x, y] = [0, 1, 2, 3, 4, 5, 6].map(|i| &ks[i]);
    let mut s = space(owner, &[a, b, c, d, x, y]);
    // A chain of 5s from the owner: a 500, b 250, c 125, d beyond three hops.
    s.rate(owner, &did(a), 5, 10).unwrap();
    s.rate(a, &did(b), 5, 11).unwrap();
    s.rate(b, &did(c), 5, 12).unwrap();
    s.rate(c, &did(d), 5, 13).unwrap();
    let standing: Vec<u64> = [a, b, c, d].iter().map(|k| basis(&s, k).standing).collect();
    assert_eq!(standing, [500, 250, 125, 0]);
    // A 5 from the owner is worth 10 points, from a 5, from an unvouched member nothing.
    s.rate(owner, &did(x), 5, 14).unwrap();
    assert_eq!(basis(&s, x).rating_points, 10_000);
    s.rate(a, &did(y), 5, 15).unwrap();
    assert_eq!(basis(&s, y).rating_points, 5_000);
    s.rate(d, &did(y), 5, 16).unwrap();
    assert_eq!(basis(&s, y).rating_points, 5_000);
    // A 1 is weighted the same way: from a (500) it takes 5 points away.
    s.rate(a, &did(x), 1, 17).unwrap();
    assert_eq!(basis(&s, x).rating_points, 5_000);
    // One live rating per rater pair: rating again replaces it (a 4 from the owner: 5).
    s.rate(owner, &did(x), 4, 18).unwrap();
    assert_eq!(basis(&s, x).rating_points, 0);
    // A banned rater's standing is gone, and with it its ratings' weight.
    s.set_role(owner, &did(a), Role::Banned, 19).unwrap();
    assert_eq!(basis(&s, a).standing, 0);
    assert_eq!(basis(&s, y).rating_points, 0);
    assert_eq!(basis(&s, x).rating_points, 5_000);
}

fn spec(name: &str) -> AbilitySpec {
    AbilitySpec {
        name: name.into(),
        description: "Does a thing".into(),
        input_schema: json!({"type": "object"}),
        output_schema: json!({"type": "object"}),
        credential: None,
        price: None,
    }
}

/// `requester` asks `provider` for `ability`, which completes; `requester` rates it `score`.
fn rated_outcome(s: &mut Space, requester: &Writer, provider: &Writer, ability: &str, score: u8) {
    let (_, id) = s
        .request_ability(
            requester,
            ability,
            &json!({}),
            Target::Did(did(provider)),
            60_000,
            100,
        )
        .unwrap();
    s.claim(provider, &id, 101).unwrap();
    s.complete(provider, &id, &json!({}), 102).unwrap();
    s.rate_request(requester, &id, score, 103).unwrap();
}

#[test]
fn rated_outcomes_count_per_ability_capped_per_requester_and_per_ability() {
    let ks: Vec<Writer> = (1..=6).map(key).collect();
    let [owner, admin1, admin2, alice, sybil, bob] = [0, 1, 2, 3, 4, 5].map(|i| &ks[i]);
    let mut s = space(owner, &[admin1, admin2, alice, sybil, bob]);
    for a in [admin1, admin2] {
        s.set_role(owner, &did(a), Role::Admin, 4).unwrap();
    }
    s.declare(alice, &spec("task.one"), 5).unwrap();
    s.declare(alice, &spec("task.two"), 5).unwrap();
    s.declare(bob, &spec("task.one"), 5).unwrap();
    // One 5 from the owner in `task.one`: 4 points.
    rated_outcome(&mut s, owner, alice, "task.one", 5);
    assert_eq!(basis(&s, alice).ability_points, 4_000);
    // Three more from the same requester: 16 points for the pair, capped at 10.
    for _ in 0..3 {
        rated_outcome(&mut s, owner, alice, "task.one", 5);
    }
    assert_eq!(basis(&s, alice).ability_points, PAIR_CAP);
    // An unvouched requester's ratings count nothing.
    for _ in 0..3 {
        rated_outcome(&mut s, sybil, alice, "task.one", 5);
    }
    assert_eq!(basis(&s, alice).ability_points, PAIR_CAP);
    // Two more seeds rate to their caps: 30 points in `task.one`, capped at 20 for the ability.
    for a in [admin1, admin2] {
        for _ in 0..3 {
            rated_outcome(&mut s, a, alice, "task.one", 5);
        }
    }
    assert_eq!(basis(&s, alice).ability_points, ABILITY_CAP);
    // A second ability counts on its own: one 5 in `two` adds 4 beyond the first's cap.
    rated_outcome(&mut s, owner, alice, "task.two", 5);
    assert_eq!(basis(&s, alice).ability_points, ABILITY_CAP + 4_000);
    // A poorly rated outcome takes points away, for its provider only.
    rated_outcome(&mut s, owner, bob, "task.one", 1);
    assert_eq!(basis(&s, bob).ability_points, -4_000);
    assert_eq!(s.reputation(&did(bob)).score, 0, "never below zero");
}

/// The figures the sybil property compares.
#[derive(Debug, Clone, PartialEq)]
struct Figures {
    honest: i64,
    sybils: Vec<i64>,
    established: Vec<i64>,
}

/// The scenario of the property: an owner and `raters − 1` established members with real
/// histories (vouched by the owner and by each other, posting between others' messages);
/// an honest newcomer with `honest_posts` messages and a rating of 4 or 5 (`scores`) from each
/// of the `raters` established members; and a ring of `k` sybils who rate each other 5, rate
/// the honest member 1 and post `flood` messages each, in bursts or interleaved. The ring
/// writes on its own replica, concurrently with the rest. Returns two replicas that received
/// the two sides in opposite orders.
fn scenario(
    k: usize,
    scores: &[u8],
    honest_posts: usize,
    flood: usize,
    bursts: bool,
) -> (Space, Space) {
    let raters = scores.len();
    let owner = key(1);
    let established: Vec<Writer> = (0..raters - 1).map(|i| key(10 + i as u8)).collect();
    let honest = key(30);
    let ring: Vec<Writer> = (0..k).map(|i| key(40 + i as u8)).collect();
    let mut everyone: Vec<&Writer> = established.iter().collect();
    everyone.push(&honest);
    everyone.extend(ring.iter());
    let base = space(&owner, &everyone);

    // The established side.
    let mut side = base.try_copy().unwrap();
    for e in &established {
        side.rate(&owner, &did(e), 5, 20).unwrap();
        for f in &established {
            if f.did() != e.did() {
                side.rate(e, &did(f), 5, 21).unwrap();
            }
        }
    }
    for round in 0..10 {
        posts(&mut side, &owner, 1);
        for e in &established {
            posts(&mut side, e, 1);
        }
        if round < honest_posts {
            posts(&mut side, &honest, 1);
        }
    }
    let mut raters_keys: Vec<&Writer> = vec![&owner];
    raters_keys.extend(established.iter());
    for (r, score) in raters_keys.iter().zip(scores) {
        side.rate(r, &did(&honest), *score, 30).unwrap();
    }

    // The ring, on its own replica.
    let mut sybil_side = base.try_copy().unwrap();
    for a in &ring {
        for b in &ring {
            if a.did() != b.did() {
                sybil_side.rate(a, &did(b), 5, 40).unwrap();
            }
        }
        sybil_side.rate(a, &did(&honest), 1, 41).unwrap();
    }
    if bursts {
        for a in &ring {
            posts(&mut sybil_side, a, flood);
        }
    } else {
        for _ in 0..flood {
            for a in &ring {
                posts(&mut sybil_side, a, 1);
            }
        }
    }

    let mut ring_first = base.try_copy().unwrap();
    sync_pair(&mut ring_first, &mut sybil_side.try_copy().unwrap());
    sync_pair(&mut ring_first, &mut side.try_copy().unwrap());
    let mut ring_last = base.try_copy().unwrap();
    sync_pair(&mut ring_last, &mut side);
    sync_pair(&mut ring_last, &mut sybil_side);
    (ring_first, ring_last)
}

/// The scores of [`scenario`]'s members on `replica`.
fn figures(replica: &Space, k: usize, raters: usize) -> Figures {
    let score = |seed: u8| replica.reputation(&did(&key(seed))).score;
    Figures {
        honest: score(30),
        sybils: (0..k).map(|i| score(40 + i as u8)).collect(),
        established: (0..raters - 1).map(|i| score(10 + i as u8)).collect(),
    }
}

/// The figures of one fixed case (k = 5, three ratings 5/4/5, three honest posts, each sybil
/// posting 200 messages interleaved), printed for docs/reputation.md and the closing note:
/// `cargo nextest run -p tim-crdt sybil_ring_figures --no-capture`.
#[test]
fn sybil_ring_figures_for_k_5() {
    let (s, _) = scenario(5, &[5, 4, 5], 3, 200, false);
    let f = figures(&s, 5, 3);
    let honest = s.reputation(&did(&key(30)));
    let sybil = s.reputation(&did(&key(40)));
    println!("honest: {honest:?}");
    println!("sybil:  {sybil:?}");
    println!("figures: {f:?}");
    println!(
        "ring total {} < honest {}? {}",
        f.sybils.iter().sum::<i64>(),
        f.honest,
        f.sybils.iter().sum::<i64>() < f.honest
    );
    assert!(f.sybils.iter().all(|&x| x < f.honest), "{f:?}");
    assert_eq!(sybil.v2.as_ref().unwrap().rating_points, 0, "{sybil:?}");
    // Under v1 each sybil would hold 200 + 5 × 4 × 2 = 240.
    assert_eq!(sybil.contributions, 200);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// A ring of k sybils rating each other 5 and flooding gains less than one honest member
    /// with 3 to 5 ratings of 4 or 5 from established members; two replicas that received the
    /// same changes in different orders reach the same heads and the same figures.
    #[test]
    fn a_sybil_ring_gains_less_than_an_honest_member(
        k in 2usize..=8,
        scores in prop::collection::vec(4u8..=5, 3..=5),
        honest_posts in 1usize..=5,
        flood in 10usize..=60,
        bursts in any::<bool>(),
    ) {
        let (a, b) = scenario(k, &scores, honest_posts, flood, bursts);
        let (fa, fb) = (figures(&a, k, scores.len()), figures(&b, k, scores.len()));
        prop_assert_eq!(a.heads(), b.heads());
        prop_assert_eq!(&fa, &fb);
        for who in a.members() {
            prop_assert_eq!(a.reputation(&who.did), b.reputation(&who.did));
        }
        prop_assert!(fa.sybils.iter().all(|&x| x < fa.honest), "{:?}", fa);
        prop_assert!(fa.established.iter().all(|&x| x > 0), "{:?}", fa);
    }
}
