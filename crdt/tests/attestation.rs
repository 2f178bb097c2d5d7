//! Attested declarations and badges (schema version 6, docs/abilities.md §13): every refused
//! attestation with its reason, on the local path and on the receive path; a trusted external
//! credential accepted and scored; revocation afterwards (in the status list, or by a notice)
//! dropping the declaration from search and `auto` on every replica; the old verdicts below
//! version 6; the badge thresholds in `meta.badges` and which badges are due.

use std::collections::BTreeMap;
use std::sync::Arc;

use automerge::transaction::Transactable;
use automerge::ObjType;
use serde_json::{json, Value};
use tim_crdt::abilities::AbilitySpec;
use tim_crdt::admission::AdmissionVerifier;
use tim_crdt::attestation::{Attestation, BadgeThreshold};
use tim_crdt::issuance::Issuance;
use tim_crdt::test_utils::{
    assert_refused, assert_refused_locally, forge, root, sync_pair, TestVerifier,
};
use tim_crdt::{Space, Writer};
use tim_protocol::{Did, SpaceId};

const SUMMARIZE: &str = "text.summarize";
const TRANSLATE: &str = "text.translate";
const LIST: &str = "https://guild.example/v1/status-lists/g/i";

fn key(seed: u8) -> Writer {
    tim_crdt::test_utils::writer(seed)
}

fn did(k: &Writer) -> Did {
    Did::from_key(&k.verifying_key())
}

fn spec(name: &str, credential: Option<&str>) -> AbilitySpec {
    AbilitySpec {
        name: name.into(),
        description: "Works on a text".into(),
        input_schema: json!({ "type": "object" }),
        output_schema: json!({ "type": "object" }),
        credential: credential.map(String::from),
        price: None,
    }
}

/// The cast: the owner (1), providers alice (2) and bob (3), requester carol (4).
struct Cast {
    owner: Writer,
    alice: Writer,
    bob: Writer,
    carol: Writer,
}

/// A public space at schema `version` (with the test verifier) where bob declares
/// `text.summarize`, unattested.
fn space_at(version: u64) -> (Space, Cast) {
    let c = Cast {
        owner: key(1),
        alice: key(2),
        bob: key(3),
        carol: key(4),
    };
    let (mut s, _) = Space::create(&c.owner, "attested", "", 1).unwrap();
    s.set_verifier(Arc::new(TestVerifier));
    s.migrate(&c.owner, version, 2).unwrap();
    for (i, k) in [&c.alice, &c.bob, &c.carol].into_iter().enumerate() {
        s.join(k, 3 + i as u64).unwrap();
    }
    s.declare(&c.bob, &spec(SUMMARIZE, None), 10).unwrap();
    (s, c)
}

/// An ability credential of `ability` for `subject`, issued in `space`, in the test format.
fn credential(id: &str, subject: &Did, space: SpaceId, ability: &str) -> Value {
    json!({"id": id, "subject": subject.to_string(), "kind": "ability",
           "space": space.to_string(), "issuer": did(&key(9)).to_string(),
           "ability": ability, "list": LIST, "index": 5, "proof": "good"})
}

/// Another space, the guild, whose credentials the tests carry.
fn guild() -> SpaceId {
    Space::create(&key(9), "guild", "", 1).unwrap().0.id()
}

/// `who` declares `name` carrying `attestation`, through the receive path (a forged change,
/// as any node would send it).
fn declare_forged(
    s: &mut Space,
    who: &Writer,
    name: &str,
    attestation: &str,
    at: i64,
) -> Result<(), String> {
    let env = forge(s, who, who, at, |tx, d| {
        let m = tx
            .put_object(
                root(d, "abilities"),
                format!("{} {name}", did(who)),
                ObjType::Map,
            )
            .unwrap();
        tx.put(&m, "description", "Works on a text").unwrap();
        tx.put(&m, "input_schema", "{\"type\":\"object\"}").unwrap();
        tx.put(&m, "output_schema", "{\"type\":\"object\"}")
            .unwrap();
        tx.put(&m, "attestation", attestation).unwrap();
    });
    s.ingest(env).map(drop).map_err(|e| e.to_string())
}

fn providers(s: &Space, requester: &Writer) -> (Vec<Did>, Vec<Did>) {
    (
        s.search("summarize")
            .iter()
            .map(|h| h.declaration.provider)
            .collect(),
        s.auto_candidates(&did(requester), SUMMARIZE, &json!({})),
    )
}

fn replica(s: &Space) -> Space {
    let mut other = Space::empty(s.id());
    other.set_verifier(Arc::new(TestVerifier));
    let mut s = s.try_copy().unwrap();
    sync_pair(&mut s, &mut other);
    other
}

#[test]
fn a_credential_of_this_space_attests_only_its_subjects_ability_unrevoked() {
    let (mut s, c) = space_at(6);
    let (alice, bob) = (did(&c.alice), did(&c.bob));
    s.record_issued(
        &c.owner,
        &Issuance {
            ability: Some(SUMMARIZE),
            ..Issuance::new("urn:a", &alice, "ability")
        },
        20,
    )
    .unwrap();
    s.record_issued(&c.owner, &Issuance::new("urn:m", &alice, "membership"), 21)
        .unwrap();
    let (_, revoked) = s
        .record_issued(
            &c.owner,
            &Issuance {
                ability: Some(SUMMARIZE),
                ..Issuance::new("urn:r", &alice, "ability")
            },
            22,
        )
        .unwrap();
    s.revoke(&c.owner, revoked, 23).unwrap();

    let cases = [
        (&c.bob, SUMMARIZE, "urn:a", "issued to another timite"),
        (
            &c.alice,
            TRANSLATE,
            "urn:a",
            "attests text.summarize, not text.translate",
        ),
        (&c.alice, SUMMARIZE, "urn:m", "not an ability credential"),
        (
            &c.alice,
            SUMMARIZE,
            "urn:nothing",
            "which this space did not issue",
        ),
        (
            &c.alice,
            SUMMARIZE,
            "urn:r",
            "attested by a revoked credential (urn:r)",
        ),
    ];
    for (i, (who, name, id, why)) in cases.into_iter().enumerate() {
        assert_refused_locally(s.declare(who, &spec(name, Some(id)), 30 + i as u64), why);
    }
    assert_eq!(providers(&s, &c.carol), (vec![bob], vec![bob]));

    // Her own, for its ability: accepted, attested, ranked first.
    s.declare(&c.alice, &spec(SUMMARIZE, Some("urn:a")), 40)
        .unwrap();
    let top = &s.search("summarize")[0];
    assert_eq!((top.declaration.provider, top.attested), (alice, true));
    assert_eq!(s.attestation_of(&top.declaration), Attestation::Attested);
    assert_eq!(
        providers(&s, &c.carol),
        (vec![alice, bob], vec![alice, bob])
    );
}

#[test]
fn an_external_credential_attests_only_from_a_space_this_one_trusts() {
    let (mut s, c) = space_at(6);
    let (alice, bob, g) = (did(&c.alice), did(&c.bob), guild());
    let good = credential("urn:g1", &alice, g, SUMMARIZE).to_string();

    let e = declare_forged(&mut s, &c.alice, SUMMARIZE, &good, 20).unwrap_err();
    assert!(e.contains("attested by an untrusted issuer"), "{e}");
    assert_refused_locally(
        s.declare_attested(&c.alice, &spec(SUMMARIZE, None), Some(&good), 21),
        "attested by an untrusted issuer",
    );

    s.set_attesters(&c.owner, &[g], 22).unwrap();
    let mut forged = credential("urn:g1", &alice, g, SUMMARIZE);
    forged["proof"] = json!("forged");
    let e = declare_forged(&mut s, &c.alice, SUMMARIZE, &forged.to_string(), 23).unwrap_err();
    assert!(e.contains("the proof does not verify"), "{e}");
    let hers = credential("urn:g2", &alice, g, SUMMARIZE).to_string();
    let e = declare_forged(&mut s, &c.bob, SUMMARIZE, &hers, 24).unwrap_err();
    assert!(e.contains("it is not about"), "{e}");
    let other = credential("urn:g3", &alice, g, TRANSLATE).to_string();
    let e = declare_forged(&mut s, &c.alice, SUMMARIZE, &other, 25).unwrap_err();
    assert!(
        e.contains("not an ability credential for text.summarize"),
        "{e}"
    );
    let e = declare_forged(&mut s, &c.alice, SUMMARIZE, &"x".repeat(17 * 1024), 26).unwrap_err();
    assert!(e.contains("a string over 16384 bytes"), "{e}");
    // Its own space's credential carried: it must be recorded in `issued`.
    let here = credential("urn:h", &alice, s.id(), SUMMARIZE).to_string();
    let e = declare_forged(&mut s, &c.alice, SUMMARIZE, &here, 27).unwrap_err();
    assert!(e.contains("which this space did not issue"), "{e}");

    // Trusted, valid, about her: accepted and scored above bob.
    declare_forged(&mut s, &c.alice, SUMMARIZE, &good, 28).unwrap();
    let hits = s.search("summarize");
    assert_eq!(
        hits.iter()
            .map(|h| (h.declaration.provider, h.attested))
            .collect::<Vec<_>>(),
        [(alice, true), (bob, false)]
    );
    assert!(hits[0].score > hits[1].score);
    assert_eq!(
        hits[0].declaration.attestation.as_deref(),
        Some(good.as_str())
    );
    let other = replica(&s);
    assert_eq!(other.search("summarize"), hits);
}

#[test]
fn a_join_requirement_names_a_trusted_attester_too() {
    let (mut s, c) = space_at(6);
    let g = guild();
    let requirements = [tim_crdt::admission::Requirement::Membership { spaces: vec![g] }];
    s.set_requirements(&c.owner, &requirements, 20).unwrap();
    let good = credential("urn:g1", &did(&c.alice), g, SUMMARIZE).to_string();
    s.declare_attested(&c.alice, &spec(SUMMARIZE, None), Some(&good), 21)
        .unwrap();
    assert!(s.search("summarize")[0].attested);
}

#[test]
fn revocation_afterwards_drops_the_declaration_from_search_and_auto_everywhere() {
    let (mut s, c) = space_at(6);
    let (alice, bob, carol, g) = (did(&c.alice), did(&c.bob), did(&c.carol), guild());
    // carol: attested by this space; alice: by the guild.
    let (_, index) = s
        .record_issued(
            &c.owner,
            &Issuance {
                ability: Some(SUMMARIZE),
                ..Issuance::new("urn:c", &carol, "ability")
            },
            20,
        )
        .unwrap();
    s.declare(&c.carol, &spec(SUMMARIZE, Some("urn:c")), 21)
        .unwrap();
    s.set_attesters(&c.owner, &[g], 22).unwrap();
    let good = credential("urn:g1", &alice, g, SUMMARIZE).to_string();
    s.declare_attested(&c.alice, &spec(SUMMARIZE, None), Some(&good), 23)
        .unwrap();
    let all = providers(&s, &c.owner);
    assert_eq!(all.0.len(), 3);
    assert_eq!(all.1.len(), 3);

    s.revoke(&c.owner, index, 30).unwrap();
    let hers = s
        .abilities()
        .into_iter()
        .find(|d| d.provider == carol)
        .unwrap();
    assert_eq!(
        s.attestation_of(&hers),
        Attestation::Refused("attested by a revoked credential (urn:c)".into())
    );
    assert_eq!(
        providers(&s, &c.owner),
        (vec![alice, bob], vec![alice, bob])
    );

    // The guild's revocation list, as a notice: accepted because it revokes alice's
    // attestation (nobody here presented a guild credential), and it drops her too.
    let list = json!({"id": LIST, "issuer": did(&key(9)).to_string(),
                      "validFrom": "2030-01-01T00:00:00Z", "purpose": "revocation",
                      "set": [5], "proof": "good"});
    let verified = TestVerifier.verify_status_list(&list.to_string()).unwrap();
    assert_eq!(s.carried_credentials().len(), 1);
    assert!(
        s.revokes_anew(&verified),
        "a node watching the list would post it"
    );
    s.post_notice(&c.bob, &list.to_string(), 31).unwrap();
    assert!(!s.revokes_anew(&verified), "posted once");
    let hers = s
        .abilities()
        .into_iter()
        .find(|d| d.provider == alice)
        .unwrap();
    match s.attestation_of(&hers) {
        Attestation::Refused(why) => assert!(why.contains("revoked credential (urn:g1"), "{why}"),
        other => panic!("still {other:?}"),
    }
    assert_eq!(providers(&s, &c.owner), (vec![bob], vec![bob]));
    // Declared again with the revoked credential: refused.
    assert_refused_locally(
        s.declare_attested(&c.alice, &spec(SUMMARIZE, None), Some(&good), 32),
        "attested by a revoked credential",
    );
    let other = replica(&s);
    assert_eq!(providers(&other, &c.owner), (vec![bob], vec![bob]));
}

#[test]
fn below_version_6_the_old_verdicts_stand() {
    let (mut s, c) = space_at(5);
    // A credential this space never issued: accepted, not attested, found.
    s.declare(&c.alice, &spec(SUMMARIZE, Some("urn:nothing")), 20)
        .unwrap();
    assert_eq!(s.search("summarize").len(), 2);
    assert!(s.search("summarize").iter().all(|h| !h.attested));
    // No carried attestation, no meta.badges or meta.attesters.
    let good = credential("urn:g1", &did(&c.alice), guild(), SUMMARIZE).to_string();
    let e = declare_forged(&mut s, &c.alice, SUMMARIZE, &good, 21).unwrap_err();
    assert!(e.contains("a declaration holds"), "{e}");
    assert_refused_locally(
        s.declare_attested(&c.alice, &spec(SUMMARIZE, None), Some(&good), 22),
        "needs version 6",
    );
    for k in ["badges", "attesters"] {
        let env = forge(&s, &c.owner, &c.owner, 23, |tx, d| {
            tx.put(root(d, "meta"), k, "{}").unwrap();
        });
        assert_refused(s.ingest(env), &format!("meta.{k} cannot be changed"));
    }
}

#[test]
fn badge_thresholds_are_checked_and_say_which_badges_are_due() {
    let (mut s, c) = space_at(6);
    let (alice, bob) = (did(&c.alice), did(&c.bob));
    s.declare(&c.alice, &spec(SUMMARIZE, None), 11).unwrap();
    let bad = [
        (
            r#"{"text.summarize":{"min_rated":0,"min_mean_rating":4.0}}"#,
            "min_rated ≥ 1",
        ),
        (
            r#"{"text.summarize":{"min_rated":1,"min_mean_rating":6.0}}"#,
            "from 1 to 5",
        ),
        (
            r#"{"Summarize":{"min_rated":1,"min_mean_rating":4.0}}"#,
            "not an ability name",
        ),
        (r#"[1]"#, "badges are not valid"),
    ];
    for (i, (json, why)) in bad.into_iter().enumerate() {
        let env = forge(&s, &c.owner, &c.owner, 20 + i as i64, |tx, d| {
            tx.put(root(d, "meta"), "badges", json).unwrap();
        });
        assert_refused(s.ingest(env), why);
    }
    let badges = BTreeMap::from([(
        SUMMARIZE.to_string(),
        BadgeThreshold {
            min_rated: 2,
            min_mean_rating: 4.0,
        },
    )]);
    assert_refused_locally(s.set_badges(&c.carol, &badges, 30), "permission `meta`");
    s.set_badges(&c.owner, &badges, 31).unwrap();
    assert_eq!(s.badges(), badges);

    // carol asks alice twice (rated 5 and 4) and bob twice (rated 5 and 2).
    let mut at = 40;
    for (i, (provider, rating)) in [(&c.alice, 5), (&c.alice, 4), (&c.bob, 5), (&c.bob, 2)]
        .into_iter()
        .enumerate()
    {
        let target = tim_crdt::abilities::Target::Did(did(provider));
        let (_, id) = s
            .request_ability(&c.carol, SUMMARIZE, &json!({}), target, 60_000, at)
            .unwrap();
        s.claim(provider, &id, at + 1).unwrap();
        s.complete(provider, &id, &json!({}), at + 2).unwrap();
        s.rate_request(&c.carol, &id, rating, at + 3).unwrap();
        at += 10;
        if i == 0 {
            assert!(s.badges_due().is_empty(), "one rating is not two");
        }
    }
    assert_eq!(s.badges_due(), [(alice, SUMMARIZE.to_string())]);
    assert_ne!(s.badges_due()[0].0, bob);
    // Once recorded (as the admin's node does), it is not due again.
    let id = tim_crdt::attestation::badge_id(&s.id(), &alice, SUMMARIZE);
    s.record_issued(
        &c.owner,
        &Issuance {
            ability: Some(SUMMARIZE),
            ..Issuance::new(&id, &alice, "ability")
        },
        at,
    )
    .unwrap();
    assert!(s.badges_due().is_empty());
    s.declare(&c.alice, &spec(SUMMARIZE, Some(&id)), at + 1)
        .unwrap();
    assert!(s.search("summarize")[0].attested);
}
