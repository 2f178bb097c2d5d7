//! Requests whose input or result is held out of band (schema version 6, docs/abilities.md
//! §14): the document records a hash and a size; the rules judge their shape and bounds, the
//! same on every replica, and refuse them below version 6, with both forms, or half written.

use automerge::transaction::Transactable;
use automerge::{ObjType, ScalarValue};
use serde_json::json;
use tim_crdt::abilities::{AbilitySpec, Input, PayloadRef, RequestState, Target};
use tim_crdt::test_utils::{
    assert_refused, assert_refused_locally, forge, reloaded, root, sync_pair,
};
use tim_crdt::{schema, Space, Writer};
use tim_protocol::payload::MAX_PAYLOAD_BYTES;
use tim_protocol::Did;

const SUMMARIZE: &str = "text.summarize";

fn key(seed: u8) -> Writer {
    tim_crdt::test_utils::writer(seed)
}

fn did(k: &Writer) -> Did {
    Did::from_key(&k.verifying_key())
}

/// The owner (1), providers alice (2) and bob (3), requester carol (4), in a public space at
/// `version` (4 or 6) where alice and bob declare `text.summarize`, whose input schema no
/// small input satisfies.
fn space(version: u64) -> (Space, [Writer; 4]) {
    let cast = [key(1), key(2), key(3), key(4)];
    let (mut s, _) = Space::create(&cast[0], "payloads", "", 1).unwrap();
    s.migrate(&cast[0], version, 2).unwrap();
    for (i, k) in cast[1..].iter().enumerate() {
        s.join(k, 3 + i as u64).unwrap();
    }
    for (i, k) in cast[1..3].iter().enumerate() {
        let spec = AbilitySpec {
            name: SUMMARIZE.into(),
            description: "Summarizes a long text".into(),
            input_schema: json!({"type": "object", "required": ["text"]}),
            output_schema: json!({"type": "object", "required": ["summary"]}),
            credential: None,
            price: None,
        };
        s.declare(k, &spec, 10 + i as u64).unwrap();
    }
    (s, cast)
}

fn payload(n: usize) -> PayloadRef {
    PayloadRef::of(&vec![b'x'; n])
}

#[test]
fn an_out_of_band_input_and_result_are_recorded_as_hashes_and_agree_on_every_replica() {
    let (mut s, [_, alice, _, carol]) = space(schema::ABILITIES_V2);
    let input = payload(1 << 20);
    let (_, id) = s
        .request_with(
            &carol,
            SUMMARIZE,
            Input::OutOfBand(input),
            Target::Did(did(&alice)),
            60_000,
            100,
        )
        .unwrap();
    let r = s.request(&id).unwrap();
    assert_eq!((r.input_payload, &r.input), (Some(input), &json!(null)));
    assert_eq!(r.state, RequestState::Open);
    s.claim(&alice, &id, 200).unwrap();
    let output = payload(1 << 20 | 1);
    s.complete_out_of_band(&alice, &id, output, 300).unwrap();
    let r = s.request(&id).unwrap();
    assert_eq!(r.state, RequestState::Completed);
    assert_eq!((r.output_payload, r.output), (Some(output), None));
    // Nothing follows an outcome but a rating, which rates it like an inline one.
    assert_refused_locally(
        s.complete_out_of_band(&alice, &id, payload(5), 301),
        "nothing but a rating follows",
    );
    s.rate_request(&carol, &id, 5, 400).unwrap();

    let mut other = Space::empty(s.id());
    sync_pair(&mut s, &mut other);
    assert_eq!(other.request(&id), s.request(&id));
    assert_eq!(
        other.ability_reputation(&did(&alice), SUMMARIZE).completed,
        1
    );
}

#[test]
fn an_auto_request_held_out_of_band_asks_every_provider_since_no_node_can_read_its_input() {
    let (mut s, [_, alice, bob, carol]) = space(schema::ABILITIES_V2);
    // Inline, an input no schema accepts asks nobody.
    assert_refused_locally(
        s.request_ability(&carol, SUMMARIZE, &json!({}), Target::Auto, 60_000, 100),
        "provides text.summarize",
    );
    let (_, id) = s
        .request_with(
            &carol,
            SUMMARIZE,
            Input::OutOfBand(payload(10)),
            Target::Auto,
            60_000,
            101,
        )
        .unwrap();
    let mut asked = s.request(&id).unwrap().candidates;
    asked.sort();
    let mut both = vec![did(&alice), did(&bob)];
    both.sort();
    assert_eq!(asked, both);
}

#[test]
fn below_version_6_payloads_out_of_band_are_refused_locally_and_by_the_rules() {
    let (mut s, [_, alice, _, carol]) = space(4);
    assert_refused_locally(
        s.request_with(
            &carol,
            SUMMARIZE,
            Input::OutOfBand(payload(10)),
            Target::Did(did(&alice)),
            60_000,
            100,
        ),
        "need version 6",
    );
    // Written outside the API, the rules refuse it on every node.
    let requests = root(&reloaded(&s), "requests");
    let alice_did = did(&alice).to_string();
    let e = forge(&s, &carol, &carol, 101, |tx, _| {
        let r = tx.insert_object(&requests, 0, ObjType::Map).unwrap();
        write_request(tx, &r, &did(&carol), &alice_did, 101);
        tx.put(&r, "input_hash", payload(10).hash.to_string())
            .unwrap();
        tx.put(&r, "input_size", ScalarValue::Uint(10)).unwrap();
    });
    assert_refused(s.ingest(e), "needs version 6");

    // A result held out of band on an inline request, below version 6.
    let (_, id) = s
        .request_ability(
            &carol,
            SUMMARIZE,
            &json!({"text": "t"}),
            Target::Did(did(&alice)),
            60_000,
            200,
        )
        .unwrap();
    s.claim(&alice, &id, 201).unwrap();
    assert_refused_locally(
        s.complete_out_of_band(&alice, &id, payload(10), 202),
        "need version 6",
    );
    let (obj, _) = reloaded(&s).import(&id).unwrap();
    let e = forge(&s, &alice, &alice, 203, |tx, _| {
        tx.put(
            &obj,
            format!("result_hash {}", did(&alice)),
            payload(10).hash.to_string(),
        )
        .unwrap();
        tx.put(
            &obj,
            format!("result_size {}", did(&alice)),
            ScalarValue::Uint(10),
        )
        .unwrap();
    });
    assert_refused(s.ingest(e), "results held out of band need version 6");
}

/// Writes a request's fields but its input: `author`, `ability`, `target` (and its
/// candidates), `at`, `deadline`.
fn write_request(
    tx: &mut automerge::transaction::Transaction<'_>,
    r: &automerge::ObjId,
    author: &Did,
    target: &str,
    at: i64,
) {
    tx.put(r, "author", author.to_string()).unwrap();
    tx.put(r, "ability", SUMMARIZE).unwrap();
    tx.put(r, "target", target).unwrap();
    tx.put(r, "candidates", json!([target]).to_string())
        .unwrap();
    tx.put(r, "at", ScalarValue::Timestamp(at)).unwrap();
    tx.put(r, "deadline", ScalarValue::Timestamp(at + 60_000))
        .unwrap();
}

#[test]
fn each_malformed_out_of_band_input_is_refused_with_its_reason() {
    let (s, [_, alice, _, carol]) = space(schema::ABILITIES_V2);
    let requests = root(&reloaded(&s), "requests");
    let alice_did = did(&alice).to_string();
    let good = payload(10).hash.to_string();
    // (inline input, input_hash, input_size, the reason)
    type Case<'a> = (Option<&'a str>, Option<String>, Option<u64>, &'a str);
    let cases: Vec<Case> = vec![
        // A hash in another text form, or not a hash.
        (
            None,
            Some(good.to_uppercase()),
            Some(10),
            "is not a payload hash",
        ),
        (
            None,
            Some(good.replace("sha256:", "")),
            Some(10),
            "is not a payload hash",
        ),
        (
            None,
            Some("sha256:abc".into()),
            Some(10),
            "is not a payload hash",
        ),
        // A size over the bound, or zero.
        (
            None,
            Some(good.clone()),
            Some(MAX_PAYLOAD_BYTES + 1),
            "1 to 8388608 bytes",
        ),
        (None, Some(good.clone()), Some(0), "1 to 8388608 bytes"),
        // Both forms; half of the out-of-band form; neither.
        (
            Some("{\"text\": \"t\"}"),
            Some(good.clone()),
            Some(10),
            "both `input_hash`",
        ),
        (None, Some(good.clone()), None, "both `input_hash`"),
        (None, None, Some(10), "both `input_hash`"),
        (None, None, None, "both `input_hash`"),
    ];
    for (i, (inline, hash, size, why)) in cases.into_iter().enumerate() {
        let at = 100 + i as i64;
        let e = forge(&s, &carol, &carol, at, |tx, _| {
            let r = tx.insert_object(&requests, 0, ObjType::Map).unwrap();
            write_request(tx, &r, &did(&carol), &alice_did, at);
            if let Some(v) = inline {
                tx.put(&r, "input", v).unwrap();
            }
            if let Some(h) = &hash {
                tx.put(&r, "input_hash", h.as_str()).unwrap();
            }
            if let Some(n) = size {
                tx.put(&r, "input_size", ScalarValue::Uint(n)).unwrap();
            }
        });
        assert_refused(s.try_copy().unwrap().ingest(e), why);
    }
    // A size of the wrong type.
    let e = forge(&s, &carol, &carol, 200, |tx, _| {
        let r = tx.insert_object(&requests, 0, ObjType::Map).unwrap();
        write_request(tx, &r, &did(&carol), &alice_did, 200);
        tx.put(&r, "input_hash", good.as_str()).unwrap();
        tx.put(&r, "input_size", ScalarValue::Int(10)).unwrap();
    });
    assert_refused(s.try_copy().unwrap().ingest(e), "input_size, unsigned");
}

#[test]
fn each_malformed_out_of_band_result_is_refused_with_its_reason() {
    let (mut s, [_, alice, bob, carol]) = space(schema::ABILITIES_V2);
    let (_, id) = s
        .request_with(
            &carol,
            SUMMARIZE,
            Input::OutOfBand(payload(10)),
            Target::Did(did(&alice)),
            60_000,
            100,
        )
        .unwrap();
    assert_refused_locally(
        s.complete_out_of_band(&alice, &id, payload(10), 150),
        "only the winning claimant",
    );
    s.claim(&alice, &id, 200).unwrap();
    assert_refused_locally(
        s.complete_out_of_band(&bob, &id, payload(10), 201),
        "only the winning claimant",
    );
    assert_refused_locally(
        s.complete_out_of_band(&alice, &id, payload(10), 60_101),
        "deadline (60100) passed",
    );
    let (obj, _) = reloaded(&s).import(&id).unwrap();
    let a = did(&alice);
    let good = payload(10).hash.to_string();
    type Write = Box<dyn Fn(&mut automerge::transaction::Transaction<'_>)>;
    let put = |k: String, v: ScalarValue| -> Write {
        let obj = obj.clone();
        Box::new(move |tx| tx.put(&obj, k.as_str(), v.clone()).unwrap())
    };
    let cases: Vec<(Vec<Write>, &str)> = vec![
        (
            vec![put(format!("result_hash {a}"), good.as_str().into())],
            "both `result_hash <did>` and `result_size <did>`",
        ),
        (
            vec![put(format!("result_size {a}"), ScalarValue::Uint(10))],
            "both `result_hash <did>` and `result_size <did>`",
        ),
        (
            vec![
                put(format!("result_hash {a}"), good.as_str().into()),
                put(format!("result_size {a}"), ScalarValue::Uint(10)),
                put(
                    format!("result {a}"),
                    json!({"summary": "s"}).to_string().into(),
                ),
            ],
            "both `result_hash <did>` and `result_size <did>`",
        ),
        (
            vec![
                put(format!("result_hash {a}"), "sha256:xyz".into()),
                put(format!("result_size {a}"), ScalarValue::Uint(10)),
            ],
            "is not a payload hash",
        ),
        (
            vec![
                put(format!("result_hash {a}"), good.as_str().into()),
                put(
                    format!("result_size {a}"),
                    ScalarValue::Uint(MAX_PAYLOAD_BYTES + 1),
                ),
            ],
            "1 to 8388608 bytes",
        ),
        (
            vec![
                put(format!("result_hash {a}"), good.as_str().into()),
                put(format!("result_size {a}"), ScalarValue::Str("10".into())),
            ],
            "an unsigned integer for result_size",
        ),
    ];
    for (i, (writes, why)) in cases.into_iter().enumerate() {
        let e = forge(&s, &alice, &alice, 300 + i as i64, |tx, _| {
            for w in &writes {
                w(tx);
            }
        });
        assert_refused(s.try_copy().unwrap().ingest(e), why);
    }
    // Under another claimant's key.
    let e = forge(&s, &bob, &bob, 400, |tx, _| {
        tx.put(&obj, format!("result_hash {a}"), good.as_str())
            .unwrap();
        tx.put(&obj, format!("result_size {a}"), ScalarValue::Uint(10))
            .unwrap();
    });
    assert_refused(s.try_copy().unwrap().ingest(e), "only its own claim");
    // Whole and well formed, it completes the request.
    let e = forge(&s, &alice, &alice, 500, |tx, _| {
        tx.put(&obj, format!("result_hash {a}"), good.as_str())
            .unwrap();
        tx.put(&obj, format!("result_size {a}"), ScalarValue::Uint(10))
            .unwrap();
    });
    s.ingest(e).unwrap();
    assert_eq!(s.request(&id).unwrap().state, RequestState::Completed);
}
