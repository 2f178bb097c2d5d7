//! Chains of ability requests (schema version 6, docs/abilities.md §12): a chain of three steps
//! across two providers completes with the last step's output; a failure in step 2 is the
//! chain's failure; and every hostile step is refused with its reason: a step by someone other
//! than the chain's author, an input that is not the previous output mapped, a step before the
//! previous one completed, a second request for one step, a step unlike the plan, a chain in a
//! space below version 6. Concurrent duplicates of a step resolve alike on every replica.

use std::collections::BTreeMap;

use automerge::transaction::{Transactable, Transaction};
use automerge::{ObjType, ReadDoc, ScalarValue};
use serde_json::{json, Value};
use tim_crdt::abilities::chains::{ChainState, PlanStep};
use tim_crdt::abilities::{AbilitySpec, RequestState};
use tim_crdt::test_utils::{assert_refused, assert_refused_locally, forge, root, sync_pair};
use tim_crdt::{Space, Writer, SESSION_BYTES};
use tim_protocol::Did;

const CLEAN: &str = "text.clean";
const SHOUT: &str = "text.shout";
const COUNT: &str = "text.count";

fn key(seed: u8) -> Writer {
    tim_crdt::test_utils::writer(seed)
}

fn did(k: &Writer) -> Did {
    Did::from_key(&k.verifying_key())
}

fn object(props: Value, required: &[&str]) -> Value {
    json!({ "type": "object", "properties": props, "required": required })
}

fn spec(name: &str, input: Value, output: Value) -> AbilitySpec {
    AbilitySpec {
        name: name.into(),
        description: format!("{name} for tests"),
        input_schema: input,
        output_schema: output,
        credential: None,
        price: None,
    }
}

/// The cast: the owner (1), providers alice (2) and bob (3), the chain's author carol (4).
struct Cast {
    alice: Writer,
    bob: Writer,
    carol: Writer,
}

/// A public space at `version` (4 or later) where alice declares `text.clean` and
/// `text.count`, bob `text.shout`.
fn space_at(version: u64) -> (Space, Cast) {
    let owner = key(1);
    let c = Cast {
        alice: key(2),
        bob: key(3),
        carol: key(4),
    };
    let (mut s, _) = Space::create(&owner, "chains", "", 1).unwrap();
    s.migrate(&owner, version, 2).unwrap();
    for (i, k) in [&c.alice, &c.bob, &c.carol].into_iter().enumerate() {
        s.join(k, 3 + i as u64).unwrap();
    }
    let text = object(json!({ "text": { "type": "string" } }), &["text"]);
    let loud = object(json!({ "loud": { "type": "string" } }), &["loud"]);
    let words = object(json!({ "words": { "type": "string" } }), &["words"]);
    let count = object(json!({ "count": { "type": "integer" } }), &["count"]);
    s.declare(&c.alice, &spec(CLEAN, text.clone(), text.clone()), 10)
        .unwrap();
    s.declare(&c.bob, &spec(SHOUT, text, loud), 11).unwrap();
    s.declare(&c.alice, &spec(COUNT, words, count), 12).unwrap();
    (s, c)
}

fn space() -> (Space, Cast) {
    space_at(6)
}

/// clean (alice) → shout (bob) → count (alice, `words` from the shout's `loud`).
fn plan(c: &Cast) -> Vec<PlanStep> {
    let step = |ability: &str, who: &Writer, map: &[(&str, &str)]| PlanStep {
        ability: ability.into(),
        target: did(who).to_string(),
        map: map
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
    };
    vec![
        step(CLEAN, &c.alice, &[]),
        step(SHOUT, &c.bob, &[]),
        step(COUNT, &c.alice, &[("words", "/loud")]),
    ]
}

fn input() -> Value {
    json!({ "text": "  hello chains " })
}

/// carol's chain of [`plan`], made at 100, open for 10 minutes.
fn chain(s: &mut Space, c: &Cast) -> String {
    s.make_chain(&c.carol, &plan(c), &input(), 600_000, 100)
        .unwrap()
        .1
}

/// The provider claims request `id` and answers `output`.
fn answer(s: &mut Space, who: &Writer, id: &str, output: &Value, at: u64) {
    s.claim(who, id, at).unwrap();
    s.complete(who, id, output, at + 1).unwrap();
}

/// Writes a whole request map by `who`, a step of `chain`, as a hostile client could.
#[allow(clippy::too_many_arguments)]
fn write_step(
    tx: &mut Transaction<'_>,
    d: &automerge::Automerge,
    who: &Writer,
    chain: &str,
    step: u64,
    ability: &str,
    target: &Writer,
    input: &Value,
    at: i64,
) {
    let requests = root(d, "requests");
    let r = tx
        .insert_object(&requests, d.length(&requests), ObjType::Map)
        .unwrap();
    tx.put(&r, "author", did(who).to_string()).unwrap();
    tx.put(&r, "ability", ability).unwrap();
    tx.put(&r, "input", input.to_string()).unwrap();
    tx.put(&r, "target", did(target).to_string()).unwrap();
    tx.put(&r, "candidates", format!("[\"{}\"]", did(target)))
        .unwrap();
    tx.put(&r, "at", ScalarValue::Timestamp(at)).unwrap();
    tx.put(&r, "deadline", ScalarValue::Timestamp(at + 1000))
        .unwrap();
    tx.put(&r, "chain", chain).unwrap();
    tx.put(&r, "step", ScalarValue::Uint(step)).unwrap();
}

fn copy(s: &Space) -> Space {
    let mut other = Space::empty(s.id());
    let mut s = s.try_copy().unwrap();
    sync_pair(&mut s, &mut other);
    other
}

#[test]
fn a_chain_of_three_steps_across_two_providers_completes_with_the_last_output() {
    let (mut s, c) = space();
    let id = chain(&mut s, &c);
    let view = s.chain(&id).unwrap();
    assert_eq!(view.state, ChainState::Running { step: 0 });
    assert_eq!((view.author, view.steps.len()), (did(&c.carol), 3));
    assert!(view.trace.iter().all(Option::is_none));

    // Step 0: the chain's input, to alice.
    let next = s.chain_next(&id).unwrap();
    assert_eq!((next.step, next.ability.as_str()), (0, CLEAN));
    assert_eq!(next.input, input());
    let (_, r0) = s.request_chain_step(&c.carol, &id, 200).unwrap();
    assert_eq!(s.chain_next(&id), None, "asked once");
    assert_eq!(s.chain_of_request(&r0), Some(id.clone()));
    assert_eq!(s.request(&r0).unwrap().chain, Some((id.clone(), 0)));
    answer(
        &mut s,
        &c.alice,
        &r0,
        &json!({ "text": "hello chains" }),
        210,
    );

    // Step 1: step 0's output as it is, to bob.
    assert_eq!(s.chain(&id).unwrap().state, ChainState::Running { step: 1 });
    let next = s.chain_next(&id).unwrap();
    assert_eq!(next.input, json!({ "text": "hello chains" }));
    let (_, r1) = s.request_chain_step(&c.carol, &id, 300).unwrap();
    answer(&mut s, &c.bob, &r1, &json!({ "loud": "HELLO CHAINS" }), 310);

    // Step 2: step 1's output mapped, to alice again.
    let next = s.chain_next(&id).unwrap();
    assert_eq!(next.input, json!({ "words": "HELLO CHAINS" }));
    let (_, r2) = s.request_chain_step(&c.carol, &id, 400).unwrap();
    assert_eq!(s.chain(&id).unwrap().state, ChainState::Running { step: 2 });
    answer(&mut s, &c.alice, &r2, &json!({ "count": 2 }), 410);

    let done = s.chain(&id).unwrap();
    assert_eq!(done.state, ChainState::Completed);
    assert_eq!(done.output, Some(json!({ "count": 2 })));
    let trace: Vec<String> = done.trace.iter().flatten().map(|r| r.id.clone()).collect();
    assert_eq!(trace, [r0, r1, r2.clone()], "the linked trace");
    assert_eq!(s.chain_next(&id), None);
    assert_refused_locally(s.request_chain_step(&c.carol, &id, 500), "no step due");
    assert_eq!(s.chain_steps_due(&did(&c.carol)), vec![]);

    // Another replica computes the same chain.
    let other = copy(&s);
    assert_eq!(other.chains(), s.chains());
    assert_eq!(other.chain(&id).unwrap().state, ChainState::Completed);
    assert_eq!(other.request(&r2).unwrap().state, RequestState::Completed);
}

#[test]
fn a_failure_in_step_2_is_the_chains_failure_and_no_later_step_is_asked() {
    let (mut s, c) = space();
    let id = chain(&mut s, &c);
    let (_, r0) = s.request_chain_step(&c.carol, &id, 200).unwrap();
    answer(&mut s, &c.alice, &r0, &json!({ "text": "hello" }), 210);
    let (_, r1) = s.request_chain_step(&c.carol, &id, 300).unwrap();
    s.claim(&c.bob, &r1, 310).unwrap();
    s.fail(&c.bob, &r1, "too quiet to shout", 311).unwrap();

    let view = s.chain(&id).unwrap();
    assert_eq!(
        view.state,
        ChainState::Failed {
            step: 1,
            reason: "too quiet to shout".into()
        }
    );
    assert_eq!(view.output, None);
    assert_eq!(s.chain_next(&id), None);
    assert_refused_locally(s.request_chain_step(&c.carol, &id, 400), "no step due");
    // Nor can a hostile author ask step 2 all the same.
    let e = forge(&s, &c.carol, &c.carol, 401, |tx, d| {
        write_step(tx, d, &c.carol, &id, 2, COUNT, &c.alice, &json!({}), 401)
    });
    assert_refused(s.ingest(e), "step 2 is not due");
    assert_eq!(copy(&s).chain(&id).unwrap().state, view.state);
}

#[test]
fn hostile_steps_are_refused_with_their_reasons() {
    let (mut s, c) = space();
    let id = chain(&mut s, &c);
    let good = input();

    // A step by someone other than the chain's author.
    let e = forge(&s, &c.bob, &c.bob, 150, |tx, d| {
        write_step(tx, d, &c.bob, &id, 0, CLEAN, &c.alice, &good, 150)
    });
    assert_refused(s.ingest(e), "only the author of chain");
    // A step unlike the plan: another ability, or another target.
    let e = forge(&s, &c.carol, &c.carol, 151, |tx, d| {
        write_step(tx, d, &c.carol, &id, 0, SHOUT, &c.bob, &good, 151)
    });
    assert_refused(s.ingest(e), "as its plan says");
    // The first step's input is the chain's.
    let e = forge(&s, &c.carol, &c.carol, 152, |tx, d| {
        write_step(
            tx,
            d,
            &c.carol,
            &id,
            0,
            CLEAN,
            &c.alice,
            &json!({ "text": "x" }),
            152,
        )
    });
    assert_refused(s.ingest(e), "the input of step 0");
    // A step before the previous one completed.
    let e = forge(&s, &c.carol, &c.carol, 153, |tx, d| {
        write_step(tx, d, &c.carol, &id, 1, SHOUT, &c.bob, &good, 153)
    });
    assert_refused(s.ingest(e), "step 1 is not due");
    // A step past the plan's end.
    let e = forge(&s, &c.carol, &c.carol, 154, |tx, d| {
        write_step(tx, d, &c.carol, &id, 3, CLEAN, &c.alice, &good, 154)
    });
    assert_refused(s.ingest(e), "there is no step 3");

    let (_, r0) = s.request_chain_step(&c.carol, &id, 200).unwrap();
    // A second request for one step.
    let e = forge(&s, &c.carol, &c.carol, 201, |tx, d| {
        write_step(tx, d, &c.carol, &id, 0, CLEAN, &c.alice, &good, 201)
    });
    assert_refused(s.ingest(e), "is asked already");
    // Still before step 0 completed.
    let e = forge(&s, &c.carol, &c.carol, 202, |tx, d| {
        write_step(tx, d, &c.carol, &id, 1, SHOUT, &c.bob, &good, 202)
    });
    assert_refused(s.ingest(e), "step 1 is not due");
    answer(&mut s, &c.alice, &r0, &json!({ "text": "clean" }), 210);
    // An input that is not the previous output.
    let e = forge(&s, &c.carol, &c.carol, 220, |tx, d| {
        write_step(
            tx,
            d,
            &c.carol,
            &id,
            1,
            SHOUT,
            &c.bob,
            &json!({ "text": "other" }),
            220,
        )
    });
    assert_refused(s.ingest(e), "the previous step's output");
    // The honest form of the same step is accepted.
    let e = forge(&s, &c.carol, &c.carol, 221, |tx, d| {
        write_step(
            tx,
            d,
            &c.carol,
            &id,
            1,
            SHOUT,
            &c.bob,
            &json!({ "text": "clean" }),
            221,
        )
    });
    assert!(s.ingest(e).is_ok());
    assert_eq!(s.chain(&id).unwrap().state, ChainState::Running { step: 1 });

    // Only the author cancels, and only while it runs.
    let e = forge(&s, &c.bob, &c.bob, 230, |tx, d| {
        let obj = d.get(root(d, "chains"), 0).unwrap().unwrap().1;
        tx.put(&obj, "cancelled", ScalarValue::Timestamp(230))
            .unwrap();
    });
    assert_refused(s.ingest(e), "only the author of chain");
    s.cancel_chain(&c.carol, &id, 231).unwrap();
    assert_eq!(
        s.chain(&id).unwrap().state,
        ChainState::Cancelled { step: 1 }
    );
    assert_refused_locally(s.cancel_chain(&c.carol, &id, 232), "no longer be cancelled");
}

#[test]
fn a_plan_is_checked_when_the_chain_is_made() {
    let (mut s, c) = space();
    let mut one = plan(&c);
    one.truncate(1);
    assert_refused_locally(
        s.make_chain(&c.carol, &one, &input(), 1000, 50),
        "2 to 8 steps",
    );
    let mut mine = plan(&c);
    mine[1].target = did(&c.carol).to_string();
    assert_refused_locally(
        s.make_chain(&c.carol, &mine, &input(), 1000, 51),
        "asks themself",
    );
    // The rules check a forged plan alike.
    let e = forge(&s, &c.carol, &c.carol, 60, |tx, d| {
        let chains = root(d, "chains");
        let m = tx.insert_object(&chains, 0, ObjType::Map).unwrap();
        tx.put(&m, "author", did(&c.carol).to_string()).unwrap();
        tx.put(&m, "steps", serde_json::to_string(&one).unwrap())
            .unwrap();
        tx.put(&m, "input", "{}").unwrap();
        tx.put(&m, "at", ScalarValue::Timestamp(60)).unwrap();
        tx.put(&m, "deadline", ScalarValue::Timestamp(1060))
            .unwrap();
    });
    assert_refused(s.ingest(e), "2 to 8 steps");
    assert!(s.chains().is_empty());
}

#[test]
fn a_space_below_version_6_takes_no_chain_and_no_chain_step() {
    let (mut s, c) = space_at(5);
    assert_refused_locally(
        s.make_chain(&c.carol, &plan(&c), &input(), 600_000, 100),
        "chains need version 6",
    );
    // A request naming a chain keeps its old verdict there: refused.
    let e = forge(&s, &c.carol, &c.carol, 120, |tx, d| {
        write_step(tx, d, &c.carol, "1@00", 0, CLEAN, &c.alice, &input(), 120)
    });
    assert_refused(s.ingest(e), "a new request holds author");
    // And no `chains` container comes in but by a migration to version 6.
    let e = forge(&s, &c.carol, &c.carol, 121, |tx, _| {
        tx.put_object(automerge::ROOT, "chains", ObjType::List)
            .unwrap();
    });
    assert!(s.ingest(e).is_err());
}

#[test]
fn concurrent_requests_for_one_step_count_once_the_same_on_every_replica() {
    let (mut s, c) = space();
    let id = chain(&mut s, &c);
    let mut other = copy(&s);
    // carol on a second device: another session of the same key.
    let carol2 = Writer::new(c.carol.signing_key().clone(), [44; SESSION_BYTES]);
    let (_, a) = s.request_chain_step(&c.carol, &id, 200).unwrap();
    let (_, b) = other.request_chain_step(&carol2, &id, 201).unwrap();
    assert_ne!(a, b);
    sync_pair(&mut s, &mut other);
    assert_eq!(s.chains(), other.chains());
    let counted = s.chain(&id).unwrap().trace[0].clone().unwrap().id;
    assert!(counted == a || counted == b);
    // The one that does not count stays a plain request; its outcome moves nothing.
    let ignored = if counted == a { &b } else { &a };
    answer(
        &mut s,
        &c.alice,
        ignored,
        &json!({ "text": "ignored" }),
        300,
    );
    assert_eq!(s.chain(&id).unwrap().state, ChainState::Running { step: 0 });
    answer(
        &mut s,
        &c.alice,
        &counted,
        &json!({ "text": "counted" }),
        310,
    );
    assert_eq!(
        s.chain_next(&id).unwrap().input,
        json!({ "text": "counted" })
    );
}
