//! Abilities and requests (schema version 4, docs/abilities.md): the life of a request, every
//! refusal with its reason, how concurrent claims, cancellations and bans resolve the same on
//! every replica, the `auto` order and search ranking, and a property over random schedules.

use automerge::transaction::Transactable;
use automerge::{ObjType, ReadDoc, ScalarValue};
use proptest::prelude::*;
use serde_json::{json, Value};
use tim_crdt::abilities::{AbilitySpec, RequestState, Target, AUTO_TURN_MS};
use tim_crdt::issuance::Issuance;
use tim_crdt::test_utils::{
    assert_refused, assert_refused_locally, forge, reloaded, root, sync_pair,
};
use tim_crdt::{Role, Space, Writer, SESSION_BYTES};
use tim_protocol::Did;

const SUMMARIZE: &str = "text.summarize";

fn key(seed: u8) -> Writer {
    tim_crdt::test_utils::writer(seed)
}

fn did(k: &Writer) -> Did {
    Did::from_key(&k.verifying_key())
}

fn spec(name: &str) -> AbilitySpec {
    AbilitySpec {
        name: name.into(),
        description: "Summarizes a text in one sentence".into(),
        input_schema: json!({
            "type": "object",
            "properties": { "text": { "type": "string", "maxLength": 100 } },
            "required": ["text"],
            "additionalProperties": false
        }),
        output_schema: json!({
            "type": "object",
            "properties": { "summary": { "type": "string" } },
            "required": ["summary"]
        }),
        credential: None,
        price: Some(3),
    }
}

fn input() -> Value {
    json!({ "text": "a long text" })
}

fn output() -> Value {
    json!({ "summary": "short" })
}

/// The cast: the owner (1), providers alice (2) and bob (3), requester carol (4).
struct Cast {
    owner: Writer,
    alice: Writer,
    bob: Writer,
    carol: Writer,
}

/// A public space at schema version 4 where alice and bob declare `text.summarize`.
fn space() -> (Space, Cast) {
    let c = Cast {
        owner: key(1),
        alice: key(2),
        bob: key(3),
        carol: key(4),
    };
    let (mut s, _) = Space::create(&c.owner, "abilities", "", 1).unwrap();
    s.migrate(&c.owner, 4, 2).unwrap();
    for (i, k) in [&c.alice, &c.bob, &c.carol].into_iter().enumerate() {
        s.join(k, 3 + i as u64).unwrap();
    }
    s.declare(&c.alice, &spec(SUMMARIZE), 10).unwrap();
    s.declare(&c.bob, &spec(SUMMARIZE), 11).unwrap();
    (s, c)
}

/// `who` asks `target` to summarize `input()` within a minute; the request's id.
fn ask(s: &mut Space, who: &Writer, target: Target, at: u64) -> String {
    s.request_ability(who, SUMMARIZE, &input(), target, 60_000, at)
        .unwrap()
        .1
}

fn copy(s: &Space) -> Space {
    let mut other = Space::empty(s.id());
    let mut s = s.try_copy().unwrap();
    sync_pair(&mut s, &mut other);
    other
}

#[test]
fn a_request_goes_from_open_to_rated_and_moves_the_providers_ability_reputation() {
    let (mut s, c) = space();
    assert_eq!(s.schema_version(), 4);
    let declared = s.abilities();
    assert_eq!(declared.len(), 2);
    assert_eq!(declared[0].spec, spec(SUMMARIZE));
    let before = s.ability_reputation(&did(&c.alice), SUMMARIZE);
    assert_eq!((before.completed, before.rating_score()), (0, 500));

    let id = ask(&mut s, &c.carol, Target::Did(did(&c.alice)), 100);
    let r = s.request(&id).unwrap();
    assert_eq!(r.state, RequestState::Open);
    assert_eq!(
        (r.requester, r.candidates.clone()),
        (did(&c.carol), vec![did(&c.alice)])
    );
    assert_eq!((r.input.clone(), r.deadline), (input(), 60_100));

    s.claim(&c.alice, &id, 1_100).unwrap();
    s.progress(&c.alice, &id, "half way", 1_200).unwrap();
    let r = s.request(&id).unwrap();
    assert_eq!(r.state, RequestState::Claimed);
    assert_eq!(r.claimant, Some(did(&c.alice)));
    assert_eq!(r.progress.as_deref(), Some("half way"));

    s.complete(&c.alice, &id, &output(), 2_100).unwrap();
    s.rate_request(&c.carol, &id, 5, 2_200).unwrap();
    let r = s.request(&id).unwrap();
    assert_eq!(
        (r.state, r.output.clone(), r.rating),
        (RequestState::Completed, Some(output()), Some(5))
    );
    let after = s.ability_reputation(&did(&c.alice), SUMMARIZE);
    assert_eq!(
        (after.completed, after.ratings, after.mean_response_ms),
        (1, 1, Some(1_000))
    );
    assert!(after.rating_score() > before.rating_score());
    assert!(after.success_score() > before.success_score());

    // A failed request, and a replica that took everything by sync, agree.
    let id2 = ask(&mut s, &c.carol, Target::Did(did(&c.bob)), 3_000);
    s.claim(&c.bob, &id2, 3_100).unwrap();
    s.fail(&c.bob, &id2, "too tired", 3_200).unwrap();
    let r = s.request(&id2).unwrap();
    assert_eq!(
        (r.state, r.failure.as_deref()),
        (RequestState::Failed, Some("too tired"))
    );
    let replica = copy(&s);
    assert_eq!(replica.requests(), s.requests());
    assert_eq!(replica.search("summarize"), s.search("summarize"));

    // Withdrawn: out of the list and of search.
    s.withdraw(&c.bob, SUMMARIZE, 4_000).unwrap();
    assert_eq!(s.abilities().len(), 1);
    assert!(s
        .search("summarize")
        .iter()
        .all(|h| h.declaration.provider != did(&c.bob)));
}

#[test]
fn each_forbidden_declaration_is_refused_with_its_reason() {
    let (mut s, c) = space();
    let stranger = key(9);
    assert_refused_locally(
        s.declare(&stranger, &spec("text.other"), 20),
        "join the space first",
    );
    let mut bad = spec("text.bad");
    bad.input_schema = json!({ "type": "string", "pattern": "^a" });
    assert_refused_locally(
        s.declare(&c.alice, &bad, 21),
        "`pattern` is not in the subset",
    );
    assert_refused_locally(
        s.declare(&c.alice, &spec("summarize"), 22),
        "not an ability name",
    );

    let abilities = root(&reloaded(&s), "abilities");
    let alice_key = format!("{} {SUMMARIZE}", did(&c.alice));
    // Under another's DID.
    let e = forge(&s, &c.bob, &c.bob, 23, |tx, _| {
        let d = tx
            .put_object(&abilities, alice_key.as_str(), ObjType::Map)
            .unwrap();
        tx.put(&d, "description", "mine now").unwrap();
    });
    assert_refused(s.ingest(e), "only its own abilities");
    // Withdrawing another's.
    let e = forge(&s, &c.bob, &c.bob, 24, |tx, _| {
        tx.delete(&abilities, alice_key.as_str()).unwrap();
    });
    assert_refused(s.ingest(e), "only its own abilities");
    // Editing a declaration after it was made.
    let e = forge(&s, &c.alice, &c.alice, 25, |tx, d| {
        let (_, decl) = d.get(&abilities, alice_key.as_str()).unwrap().unwrap();
        tx.put(&decl, "price", ScalarValue::Uint(1)).unwrap();
    });
    assert_refused(s.ingest(e), "written whole");
    // Incomplete.
    let e = forge(&s, &c.alice, &c.alice, 26, |tx, _| {
        let d = tx
            .put_object(
                &abilities,
                format!("{} text.other", did(&c.alice)),
                ObjType::Map,
            )
            .unwrap();
        tx.put(&d, "description", "x").unwrap();
        tx.put(&d, "input_schema", "{}").unwrap();
    });
    assert_refused(
        s.ingest(e),
        "needs description, input_schema and output_schema",
    );
    // Bounded: at most 32 a provider.
    for i in 1..32 {
        s.declare(&c.alice, &spec(&format!("text.v{i}")), 30 + i)
            .unwrap();
    }
    assert_refused_locally(
        s.declare(&c.alice, &spec("text.v32"), 70),
        "at most 32 abilities",
    );
    // Redeclaring an existing one is still fine.
    s.declare(&c.alice, &spec("text.v1"), 71).unwrap();
}

#[test]
fn each_forbidden_request_step_is_refused_with_its_reason() {
    let (mut s, c) = space();
    let alice = Target::Did(did(&c.alice));
    assert_refused_locally(
        s.request_ability(&c.carol, "text.translate", &input(), alice, 60_000, 100),
        "not a member that declares text.translate",
    );
    assert_refused_locally(
        s.request_ability(
            &c.carol,
            SUMMARIZE,
            &json!({ "txt": 1 }),
            alice,
            60_000,
            101,
        ),
        "the input fails text.summarize's input schema: #: missing required property `text`",
    );
    assert_refused_locally(
        s.request_ability(&c.alice, SUMMARIZE, &input(), alice, 60_000, 102),
        "nobody asks themself",
    );
    let id = ask(&mut s, &c.carol, alice, 200);
    assert_refused_locally(s.claim(&c.bob, &id, 300), "does not ask it");
    assert_refused_locally(
        s.complete(&c.alice, &id, &output(), 300),
        "only the winning claimant",
    );
    assert_refused_locally(s.rate_request(&c.carol, &id, 4, 301), "no outcome to rate");
    assert_refused_locally(s.cancel(&c.bob, &id, 302), "only the requester cancels");
    assert_refused_locally(s.claim(&c.alice, &id, 60_201), "deadline (60200) passed");
    s.claim(&c.alice, &id, 400).unwrap();
    assert_refused_locally(
        s.rate_request(&c.carol, &id, 4, 400),
        "only an outcome is rated",
    );
    assert_refused_locally(
        s.claim(&c.alice, &id, 401),
        "only an open request is claimed",
    );
    assert_refused_locally(s.fail(&c.bob, &id, "no", 402), "only the winning claimant");
    assert_refused_locally(
        s.complete(&c.alice, &id, &json!({ "sum": 1 }), 403),
        "the output fails text.summarize's output schema",
    );
    assert_refused_locally(s.fail(&c.alice, &id, " ", 404), "gives its reason");

    let (obj, _) = reloaded(&s).import(&id).unwrap();
    // A result under the winner's key by someone else.
    let e = forge(&s, &c.bob, &c.bob, 405, |tx, _| {
        tx.put(
            &obj,
            format!("result {}", did(&c.alice)),
            output().to_string(),
        )
        .unwrap();
    });
    assert_refused(s.ingest(e), "only its own claim, progress and outcome");
    let e = forge(&s, &c.alice, &c.alice, 406, |tx, _| {
        tx.delete(&obj, format!("claim {}", did(&c.alice))).unwrap();
    });
    assert_refused(s.ingest(e), "never undone");
    let e = forge(&s, &c.alice, &c.alice, 407, |tx, _| {
        tx.put(&obj, "state", "completed").unwrap();
    });
    assert_refused(s.ingest(e), "not a step of a request");

    s.complete(&c.alice, &id, &output(), 500).unwrap();
    assert_refused_locally(
        s.progress(&c.alice, &id, "more", 501),
        "nothing but a rating follows",
    );
    assert_refused_locally(s.cancel(&c.carol, &id, 502), "can no longer be cancelled");
    assert_refused_locally(s.rate_request(&c.bob, &id, 1, 503), "only the requester");
    assert_refused_locally(s.rate_request(&c.carol, &id, 6, 504), "integer from 1 to 5");
    s.rate_request(&c.carol, &id, 2, 505).unwrap();
    assert_refused_locally(s.rate_request(&c.carol, &id, 3, 506), "rated already");

    // Forged requests: candidates not the ones every node computes, a backdated `at`, a
    // deleted request, a stranger's request.
    let requests = root(&reloaded(&s), "requests");
    let write = |tx: &mut automerge::transaction::Transaction<'_>,
                 author: &Writer,
                 candidates: &str,
                 at: i64| {
        let r = tx.insert_object(&requests, 1, ObjType::Map).unwrap();
        tx.put(&r, "author", did(author).to_string()).unwrap();
        tx.put(&r, "ability", SUMMARIZE).unwrap();
        tx.put(&r, "input", input().to_string()).unwrap();
        tx.put(&r, "target", "auto").unwrap();
        tx.put(&r, "candidates", candidates).unwrap();
        tx.put(&r, "at", ScalarValue::Timestamp(at)).unwrap();
        tx.put(&r, "deadline", ScalarValue::Timestamp(at + 1000))
            .unwrap();
    };
    let only_bob = format!("[\"{}\"]", did(&c.bob));
    let e = forge(&s, &c.carol, &c.carol, 600, |tx, _| {
        write(tx, &c.carol, &only_bob, 600)
    });
    assert_refused(s.ingest(e), "candidates must be");
    let right: Vec<String> = s
        .auto_candidates(&did(&c.carol), SUMMARIZE, &input())
        .iter()
        .map(Did::to_string)
        .collect();
    let right = serde_json::to_string(&right).unwrap();
    let e = forge(&s, &c.carol, &c.carol, 601, |tx, _| {
        write(tx, &c.carol, &right, 1)
    });
    assert_refused(s.ingest(e), "`at` is its change's time");
    let stranger = key(9);
    let e = forge(&s, &stranger, &stranger, 602, |tx, _| {
        write(tx, &stranger, &right, 602)
    });
    assert_refused(s.ingest(e), "join the space first");
    let e = forge(&s, &c.carol, &c.carol, 603, |tx, _| {
        tx.delete(&requests, 0).unwrap()
    });
    assert_refused(s.ingest(e), "never replaced or deleted");
    let e = forge(&s, &c.carol, &c.carol, 604, |tx, _| {
        write(tx, &c.carol, &right, 604)
    });
    assert!(
        s.ingest(e).is_ok(),
        "the honest form of the same request is accepted"
    );
    assert_eq!(s.requests().len(), 2);
}

#[test]
fn spaces_before_version_4_and_encrypted_spaces_hold_no_requests() {
    let owner = key(1);
    let (mut s, _) = Space::create(&owner, "old", "", 1).unwrap();
    assert_refused_locally(
        s.declare(&owner, &spec(SUMMARIZE), 2),
        "need version 4 (migrate it)",
    );
    // 1 → 3 → 4, like every migration.
    s.migrate(&owner, 3, 3).unwrap();
    s.migrate(&owner, 4, 4).unwrap();
    s.declare(&owner, &spec(SUMMARIZE), 5).unwrap();

    let (alice, carol) = (key(2), key(4));
    let shared = tim_crdt::encryption::Encryption {
        history: tim_crdt::encryption::History::Shared,
        dm: false,
    };
    let (mut e, _) = Space::create_encrypted(&owner, "secret", "", shared, 1).unwrap();
    e.migrate(&owner, 4, 2).unwrap();
    for (i, k) in [&alice, &carol].into_iter().enumerate() {
        e.invite(&owner, &did(k), 1_000, 3 + i as u64).unwrap();
        e.join(k, 5 + i as u64).unwrap();
    }
    e.declare(&alice, &spec(SUMMARIZE), 10).unwrap();
    assert_refused_locally(
        e.request_ability(
            &carol,
            SUMMARIZE,
            &input(),
            Target::Did(did(&alice)),
            60_000,
            11,
        ),
        "not carried in end-to-end encrypted spaces yet",
    );
}

/// Two replicas of `space()`, synced.
fn two() -> (Space, Space, Cast) {
    let (a, c) = space();
    let b = copy(&a);
    (a, b, c)
}

/// carol asks `auto` on `a`, synced to `b`: the request, its two candidates in turn, and
/// their writers in the same order.
fn race<'c>(
    a: &mut Space,
    b: &mut Space,
    c: &'c Cast,
) -> (String, Vec<Did>, &'c Writer, &'c Writer) {
    let id = ask(a, &c.carol, Target::Auto, 100);
    sync_pair(a, b);
    let order = a.request(&id).unwrap().candidates;
    assert_eq!(order.len(), 2);
    let by = |d: &Did| {
        if *d == did(&c.alice) {
            &c.alice
        } else {
            &c.bob
        }
    };
    let (first, second) = (by(&order[0]), by(&order[1]));
    (id, order, first, second)
}

/// `auto` asks the same provider first on every replica; if it never claims, the second is
/// asked when the first's turn ends, claims, answers and is rated, the same everywhere, and
/// the silent first cannot claim what is no longer open.
#[test]
fn a_candidate_that_never_claims_is_skipped_after_its_turn_the_same_on_every_replica() {
    let (mut a, mut b, c) = two();
    assert_eq!(
        a.auto_candidates(&did(&c.carol), SUMMARIZE, &input()),
        b.auto_candidates(&did(&c.carol), SUMMARIZE, &input())
    );
    let (id, order, first, second) = race(&mut a, &mut b, &c);
    assert_eq!(b.request(&id).unwrap().candidates, order);
    assert_refused_locally(b.claim(second, &id, 100 + AUTO_TURN_MS - 1), "its turn");
    let turn = 100 + AUTO_TURN_MS;
    b.claim(second, &id, turn).unwrap();
    b.complete(second, &id, &output(), turn + 1).unwrap();
    b.rate_request(&c.carol, &id, 5, turn + 2).unwrap();
    sync_pair(&mut a, &mut b);
    assert_refused_locally(a.claim(first, &id, turn + 3), "open");
    for s in [&a, &b] {
        let r = s.request(&id).unwrap();
        assert_eq!(
            (r.claimant, r.state, r.rating),
            (Some(order[1]), RequestState::Completed, Some(5))
        );
        assert_eq!(r.claims, [order[1]]);
    }
    assert_eq!(
        a.ability_reputation(&order[1], SUMMARIZE),
        b.ability_reputation(&order[1], SUMMARIZE)
    );
}

#[test]
fn two_concurrent_claims_resolve_to_the_same_winner_on_every_replica() {
    let (mut a, mut b, c) = two();
    let (id, order, first, second) = race(&mut a, &mut b, &c);
    // The second candidate's turn starts one turn later.
    assert_refused_locally(b.claim(second, &id, 100 + AUTO_TURN_MS - 1), "its turn");
    let late = 100 + AUTO_TURN_MS;
    b.claim(second, &id, late).unwrap();
    a.claim(first, &id, late).unwrap();
    // Each believes it won, and posts its result.
    a.complete(first, &id, &json!({ "summary": "first" }), late + 1)
        .unwrap();
    b.complete(second, &id, &json!({ "summary": "second" }), late + 1)
        .unwrap();
    sync_pair(&mut a, &mut b);
    for s in [&a, &b] {
        let r = s.request(&id).unwrap();
        assert_eq!(r.claimant, Some(order[0]), "the first asked wins");
        assert_eq!(r.state, RequestState::Completed);
        assert_eq!(r.output, Some(json!({ "summary": "first" })));
        assert_eq!(r.superseded, vec![order[1]]);
    }
    assert_eq!(a.requests(), b.requests());
    // The loser's record does not count the superseded result.
    assert_eq!(a.ability_reputation(&order[1], SUMMARIZE).completed, 0);
    assert_eq!(a.ability_reputation(&order[0], SUMMARIZE).completed, 1);
    // After the merge, the loser can post nothing more.
    assert_refused_locally(
        a.progress(second, &id, "x", late + 2),
        "only the winning claimant",
    );
}

#[test]
fn an_outcome_wins_over_a_concurrent_claim_without_one_so_it_is_never_taken_back_by_a_claim() {
    let (mut a, mut b, c) = two();
    let (id, order, first, second) = race(&mut a, &mut b, &c);
    let late = 100 + AUTO_TURN_MS;
    // The second asked claims and completes on b; the first only claims, on a.
    b.claim(second, &id, late).unwrap();
    b.complete(second, &id, &output(), late + 1).unwrap();
    b.rate_request(&c.carol, &id, 4, late + 2).unwrap();
    a.claim(first, &id, late).unwrap();
    sync_pair(&mut a, &mut b);
    for s in [&a, &b] {
        let r = s.request(&id).unwrap();
        assert_eq!(
            (r.claimant, r.state),
            (Some(order[1]), RequestState::Completed)
        );
        assert_eq!(r.rating, Some(4));
    }
    assert_refused_locally(
        a.complete(first, &id, &output(), late + 3),
        "only the winning claimant",
    );
}

#[test]
fn a_result_concurrent_with_a_cancellation_stands_and_a_lone_cancellation_wins() {
    let (mut a, mut b, c) = two();
    let alice = Target::Did(did(&c.alice));
    let done = ask(&mut a, &c.carol, alice, 100);
    let dropped = ask(&mut a, &c.carol, alice, 101);
    a.claim(&c.alice, &done, 200).unwrap();
    a.claim(&c.alice, &dropped, 201).unwrap();
    sync_pair(&mut a, &mut b);
    // Replica a: carol cancels both; replica b: alice completes the first, concurrently.
    a.cancel(&c.carol, &done, 300).unwrap();
    a.cancel(&c.carol, &dropped, 301).unwrap();
    b.complete(&c.alice, &done, &output(), 300).unwrap();
    sync_pair(&mut a, &mut b);
    for s in [&a, &b] {
        assert_eq!(s.request(&done).unwrap().state, RequestState::Completed);
        assert_eq!(s.request(&dropped).unwrap().state, RequestState::Cancelled);
    }
    a.rate_request(&c.carol, &done, 4, 400).unwrap();
    assert_refused_locally(
        a.complete(&c.alice, &dropped, &output(), 401),
        "nothing but a rating",
    );
}

#[test]
fn a_claim_concurrent_with_a_ban_stands_but_the_banned_claimant_writes_nothing_after() {
    let (mut a, mut b, c) = two();
    let id = ask(&mut a, &c.carol, Target::Did(did(&c.alice)), 100);
    sync_pair(&mut a, &mut b);
    a.set_role(&c.owner, &did(&c.alice), Role::Banned, 200)
        .unwrap();
    b.claim(&c.alice, &id, 200).unwrap();
    sync_pair(&mut a, &mut b);
    for s in [&a, &b] {
        let r = s.request(&id).unwrap();
        assert_eq!(
            (r.state, r.claimant),
            (RequestState::Claimed, Some(did(&c.alice)))
        );
        assert!(s
            .search(SUMMARIZE)
            .iter()
            .all(|h| h.declaration.provider != did(&c.alice)));
    }
    assert_refused_locally(
        b.complete(&c.alice, &id, &output(), 300),
        "banned timites may not write",
    );
    // The requester's remedy: cancel, and ask again.
    a.cancel(&c.carol, &id, 301).unwrap();
    assert_eq!(a.request(&id).unwrap().state, RequestState::Cancelled);
    let again = ask(&mut a, &c.carol, Target::Auto, 302);
    assert_eq!(a.request(&again).unwrap().candidates, vec![did(&c.bob)]);
}

#[test]
fn search_and_auto_rank_by_reputation_attestation_and_load_the_same_on_every_replica() {
    let (mut s, c) = space();
    let dave = key(5);
    s.join(&dave, 12).unwrap();
    let mut described = spec("text.translate");
    described.description = "Translates, or can summarize, between languages".into();
    s.declare(&dave, &described, 13).unwrap();
    // bob completes a request rated 5; alice fails one.
    for (p, ok, t) in [(&c.bob, true, 100), (&c.alice, false, 200)] {
        let id = ask(&mut s, &c.carol, Target::Did(did(p)), t);
        s.claim(p, &id, t + 10).unwrap();
        if ok {
            s.complete(p, &id, &output(), t + 20).unwrap();
            s.rate_request(&c.carol, &id, 5, t + 30).unwrap();
        } else {
            s.fail(p, &id, "no", t + 20).unwrap();
        }
    }
    let hits = s.search("summarize");
    let providers: Vec<Did> = hits.iter().map(|h| h.declaration.provider).collect();
    assert_eq!(providers, [did(&c.bob), did(&c.alice), did(&dave)]);
    assert!(hits[0].score > hits[1].score && hits[1].score > hits[2].score);
    assert_eq!((hits[0].text, hits[2].text), (1000, 300));
    assert!(s.search("astronomy").is_empty());
    assert_eq!(
        s.auto_candidates(&did(&c.carol), SUMMARIZE, &input()),
        [did(&c.bob), did(&c.alice)]
    );
    // Input the schema refuses leaves no candidate.
    assert!(s
        .auto_candidates(&did(&c.carol), SUMMARIZE, &json!({ "text": 1 }))
        .is_empty());
    // bob is busy: a claimed request in flight costs him his first place in the `auto` order.
    let busy = ask(&mut s, &c.carol, Target::Did(did(&c.bob)), 300);
    s.claim(&c.bob, &busy, 301).unwrap();
    assert_eq!(
        s.auto_candidates(&did(&c.carol), SUMMARIZE, &input()),
        [did(&c.alice), did(&c.bob)]
    );
    assert_eq!(s.search("summarize")[0].declaration.provider, did(&c.bob));

    // An attesting credential this space issued lifts alice; revoking it drops her again.
    let (_, index) = s
        .record_issued(
            &c.owner,
            &Issuance::new("urn:cred:alice", &did(&c.alice), "ability"),
            400,
        )
        .unwrap();
    let mut attested = spec(SUMMARIZE);
    attested.credential = Some("urn:cred:alice".into());
    s.declare(&c.alice, &attested, 401).unwrap();
    let top = &s.search("summarize")[0];
    assert_eq!(
        (top.declaration.provider, top.attested),
        (did(&c.alice), true)
    );
    s.revoke(&c.owner, index, 402).unwrap();
    let hits = s.search("summarize");
    assert_eq!(hits[0].declaration.provider, did(&c.bob));
    assert!(hits.iter().all(|h| !h.attested));
    let replica = copy(&s);
    assert_eq!(replica.search("summarize"), s.search("summarize"));
    assert_eq!(
        replica.auto_candidates(&did(&c.carol), SUMMARIZE, &input()),
        s.auto_candidates(&did(&c.carol), SUMMARIZE, &input())
    );
}

// --- Property: random schedules on 2-4 replicas ---

#[derive(Debug, Clone)]
enum Op {
    /// carol asks (provider p, or `auto` for None) on replica r.
    Request(usize, Option<usize>),
    /// Provider p claims request k (as known on its replica).
    Claim(usize, usize),
    /// Both providers claim request k, each on its replica, with no sync between.
    Race(usize),
    /// Provider p posts a result (or a failure) on request k.
    Outcome(usize, usize, bool),
    /// carol cancels request k on replica r.
    Cancel(usize, usize),
    /// carol rates request k on replica r.
    Rate(usize, usize),
    /// Replicas a and b sync.
    Sync(usize, usize),
}

fn op() -> impl Strategy<Value = Op> {
    let target = prop_oneof![3 => Just(None), 1 => (0..2usize).prop_map(Some)];
    prop_oneof![
        2 => (0..2usize, target).prop_map(|(r, p)| Op::Request(r, p)),
        1 => (0..2usize, 0..3usize).prop_map(|(p, k)| Op::Claim(p, k)),
        3 => (0..3usize).prop_map(Op::Race),
        4 => (0..2usize, 0..3usize, any::<bool>()).prop_map(|(p, k, ok)| Op::Outcome(p, k, ok)),
        1 => (0..4usize, 0..3usize).prop_map(|(r, k)| Op::Cancel(r, k)),
        1 => (0..4usize, 0..3usize).prop_map(|(r, k)| Op::Rate(r, k)),
        3 => (0..4usize, 0..4usize).prop_map(|(a, b)| Op::Sync(a, b)),
    ]
}

fn pair(v: &mut [Space], a: usize, b: usize) -> (&mut Space, &mut Space) {
    let (lo, hi) = (a.min(b), a.max(b));
    let (left, right) = v.split_at_mut(hi);
    (&mut left[lo], &mut right[0])
}

fn schedule(replicas: usize, ops: Vec<Op>) {
    let (first, c) = space();
    let mut spaces: Vec<Space> = (1..replicas).map(|_| copy(&first)).collect();
    spaces.insert(0, first);
    let providers = [&c.alice, &c.bob];
    // carol asks anywhere, from one session a replica (a session never writes on two);
    // alice works on replica 0, bob on replica 1, so their claims race.
    let carol: Vec<Writer> = (0..replicas)
        .map(|r| Writer::new(c.carol.signing_key().clone(), [40 + r as u8; SESSION_BYTES]))
        .collect();
    let home = |p: usize| p;
    let mut clock = 1_000;
    for o in ops {
        clock += AUTO_TURN_MS / 2;
        let ids = |s: &Space| s.requests().into_iter().map(|r| r.id).collect::<Vec<_>>();
        let nth = |s: &Space, k: usize| ids(s).get(k).cloned();
        match o {
            Op::Request(r, p) => {
                let target = p.map_or(Target::Auto, |p| Target::Did(did(providers[p])));
                let _ = spaces[r % replicas].request_ability(
                    &carol[r % replicas],
                    SUMMARIZE,
                    &input(),
                    target,
                    40 * AUTO_TURN_MS,
                    clock,
                );
            }
            Op::Claim(p, k) => {
                let s = &mut spaces[home(p)];
                if let Some(id) = nth(s, k) {
                    let _ = s.claim(providers[p], &id, clock);
                }
            }
            Op::Race(k) => {
                for p in 0..2 {
                    let s = &mut spaces[home(p)];
                    if let Some(id) = nth(s, k) {
                        let _ = s.claim(providers[p], &id, clock);
                    }
                }
            }
            Op::Outcome(p, k, ok) => {
                let s = &mut spaces[home(p)];
                if let Some(id) = nth(s, k) {
                    let _ = if ok {
                        s.complete(
                            providers[p],
                            &id,
                            &json!({ "summary": format!("{p}") }),
                            clock,
                        )
                    } else {
                        s.fail(providers[p], &id, "no", clock)
                    };
                }
            }
            Op::Cancel(r, k) | Op::Rate(r, k) => {
                let s = &mut spaces[r % replicas];
                if let Some(id) = nth(s, k) {
                    let _ = match o {
                        Op::Cancel(..) => s.cancel(&carol[r % replicas], &id, clock),
                        _ => s.rate_request(&carol[r % replicas], &id, 1 + (k % 5) as u8, clock),
                    };
                }
            }
            Op::Sync(a, b) => {
                let (a, b) = (a % replicas, b % replicas);
                if a != b {
                    let (x, y) = pair(&mut spaces, a, b);
                    sync_pair(x, y);
                }
            }
        }
    }
    for _ in 0..2 {
        for i in 0..replicas {
            let (a, b) = pair(&mut spaces, i, (i + 1) % replicas);
            sync_pair(a, b);
        }
    }
    let reference = spaces[0].requests();
    for s in &spaces[1..] {
        assert_eq!(s.requests(), reference, "replicas disagree on the requests");
    }
    for r in &reference {
        // One accepted result at most: the winner's; every other result is superseded.
        let accepted = usize::from(r.output.is_some());
        assert!(accepted <= 1);
        assert_eq!(r.output.is_some(), r.state == RequestState::Completed);
        if let Some(w) = r.claimant {
            assert!(
                !r.superseded.contains(&w),
                "the winner's result is superseded"
            );
            assert!(r.claims.contains(&w));
        } else {
            assert!(r.superseded.is_empty() && r.output.is_none());
        }
        assert!(
            r.rating.is_none() || matches!(r.state, RequestState::Completed | RequestState::Failed)
        );
    }
    for p in providers {
        let rep = spaces[0].ability_reputation(&did(p), SUMMARIZE);
        let won = reference.iter().filter(|r| r.claimant == Some(did(p)));
        assert_eq!(
            rep.completed,
            won.filter(|r| r.state == RequestState::Completed).count() as u64
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn random_schedules_agree_on_every_request_and_accept_one_result_at_most(
        replicas in 2usize..5,
        ops in proptest::collection::vec(op(), 1..60),
    ) {
        schedule(replicas, ops);
    }
}

#[test]
fn fixed_schedules_where_the_loser_of_a_race_completes_and_the_winner_fails() {
    for alice_ok in [true, false] {
        schedule(
            2,
            vec![
                Op::Request(0, None),
                Op::Sync(0, 1),
                Op::Claim(0, 0),
                Op::Claim(1, 0),
                Op::Outcome(0, 0, alice_ok),
                Op::Outcome(1, 0, !alice_ok),
            ],
        );
    }
}
