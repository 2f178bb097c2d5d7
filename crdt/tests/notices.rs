//! Revocation notices (schema version 5, docs/passports.md "Revocation that stops admitting"):
//! every refused notice with its reason, the verdict on a member whose credential a notice
//! revokes (posts before it stand, after it are refused, and so is a join after it), and the
//! same verdicts on two replicas that post concurrently and then sync.

use std::sync::Arc;

use automerge::transaction::Transactable;
use serde_json::{json, Value};
use tim_crdt::admission::Requirement;
use tim_crdt::notices::notice_key;
use tim_crdt::test_utils::{assert_refused, forge, root, sync_pair, TestVerifier};
use tim_crdt::{Role, Space, Writer};
use tim_protocol::{Did, SpaceId};

const LIST: &str = "https://issuer.example/v1/status-lists/s1/i";
const OTHER_LIST: &str = "https://other.example/v1/status-lists/s1/i";

fn key(seed: u8) -> Writer {
    tim_crdt::test_utils::writer(seed)
}

fn did(k: &Writer) -> Did {
    Did::from_key(&k.verifying_key())
}

/// The issuer of the credentials (an admin of another space).
fn issuer() -> Did {
    did(&key(9))
}

/// A presentation by `who` of membership credentials of `s1` at these positions of `list`.
fn presentation(who: &Writer, s1: SpaceId, credentials: &[(&str, u64)]) -> String {
    let creds: Vec<Value> = credentials
        .iter()
        .map(|(list, index)| {
            json!({"kind": "membership", "space": s1.to_string(), "issuer": issuer().to_string(),
                   "list": list, "index": index})
        })
        .collect();
    json!({"holder": did(who).to_string(), "credentials": creds}).to_string()
}

/// A status list of `LIST` signed at `valid_from` with these bits set.
fn list(valid_from: &str, set: &[u64]) -> Value {
    json!({"id": LIST, "issuer": issuer().to_string(), "validFrom": valid_from,
           "purpose": "revocation", "set": set, "proof": "good"})
}

/// A space at schema `version` requiring membership of a space S1, whose owner (1) hosts it;
/// member 2 joined before the requirements; 3 joined presenting credentials of S1 at these
/// positions.
fn guild_at(version: u64, credentials: &[(&str, u64)]) -> (Space, SpaceId, [Writer; 3]) {
    let (owner, plain, x) = (key(1), key(2), key(3));
    let (s1, _) = Space::create(&key(9), "workshop", "", 1).unwrap();
    let (mut s, _) = Space::create(&owner, "guild", "", 1).unwrap();
    s.set_verifier(Arc::new(TestVerifier));
    s.migrate(&owner, version, 2).unwrap();
    s.join(&plain, 3).unwrap();
    let requirements = [Requirement::Membership {
        spaces: vec![s1.id()],
    }];
    s.set_requirements(&owner, &requirements, 4).unwrap();
    let vp = presentation(&x, s1.id(), credentials);
    s.join_presenting(&x, Some(&vp), 5).unwrap();
    (s, s1.id(), [owner, plain, x])
}

/// [`guild_at`] version 5, member 3 presenting its credential at bit 7 of `LIST`.
fn guild() -> (Space, SpaceId, [Writer; 3]) {
    guild_at(5, &[(LIST, 7)])
}

/// `who` puts `value` under `key` in `status_notices`, forged (any key, any value).
fn put_notice(s: &mut Space, who: &Writer, key: &str, value: &str, at: i64) -> Result<(), String> {
    let env = forge(s, who, who, at, |tx, d| {
        tx.put(root(d, "status_notices"), key, value).unwrap();
    });
    s.ingest(env).map(drop).map_err(|e| e.to_string())
}

#[test]
fn every_bad_notice_is_refused_with_its_reason() {
    let (mut s, _, [owner, plain, _]) = guild();
    let good = list("2030-01-01T00:00:00Z", &[7]);
    let key_of =
        |l: &Value| notice_key(l["id"].as_str().unwrap(), l["validFrom"].as_str().unwrap());

    let wrong = put_notice(&mut s, &plain, LIST, &good.to_string(), 10).unwrap_err();
    assert!(wrong.contains("a notice's key is"), "{wrong}");

    let mut forged = good.clone();
    forged["proof"] = json!("forged");
    let bad = put_notice(&mut s, &plain, &key_of(&forged), &forged.to_string(), 11).unwrap_err();
    assert!(bad.contains("the proof does not verify"), "{bad}");

    let mut suspension = good.clone();
    suspension["purpose"] = json!("suspension");
    let e = put_notice(
        &mut s,
        &plain,
        &key_of(&suspension),
        &suspension.to_string(),
        12,
    )
    .unwrap_err();
    assert!(e.contains("is not a revocation list"), "{e}");

    // Bit 8 belongs to nobody here; nor does bit 7 of another list.
    let nobody = list("2030-01-01T00:00:00Z", &[8]);
    let e = put_notice(&mut s, &plain, &key_of(&nobody), &nobody.to_string(), 13).unwrap_err();
    assert!(e.contains("revokes no credential presented"), "{e}");
    let mut elsewhere = good.clone();
    elsewhere["id"] = json!(OTHER_LIST);
    let e = put_notice(
        &mut s,
        &plain,
        &key_of(&elsewhere),
        &elsewhere.to_string(),
        14,
    )
    .unwrap_err();
    assert!(e.contains("revokes no credential presented"), "{e}");

    // A timite that is not a member may not post one.
    let e = put_notice(&mut s, &key(5), &key_of(&good), &good.to_string(), 15).unwrap_err();
    assert!(e.contains("join the space first"), "{e}");

    // The good one, by a plain member; then nobody edits or deletes it.
    s.post_notice(&plain, &good.to_string(), 16).unwrap();
    let mut more = good.clone();
    more["set"] = json!([7, 8]);
    let e = put_notice(&mut s, &owner, &key_of(&good), &more.to_string(), 17).unwrap_err();
    assert!(e.contains("notices are never changed"), "{e}");
    let env = forge(&s, &owner, &owner, 18, |tx, d| {
        tx.delete(root(d, "status_notices"), key_of(&good)).unwrap();
    });
    assert_refused(s.ingest(env), "never changed or deleted");
}

#[test]
fn a_notice_needs_schema_version_5() {
    let (mut s, _, [owner, _, _]) = guild_at(4, &[(LIST, 7)]);
    let e = s
        .post_notice(&owner, &list("2030-01-01T00:00:00Z", &[7]).to_string(), 10)
        .unwrap_err();
    assert!(e.to_string().contains("migrate it first"), "{e}");
}

#[test]
fn a_notice_undoes_the_admission_from_its_causal_point_on() {
    let (mut s, s1, [owner, plain, x]) = guild();
    let (_, before) = s.post(&x, "before the notice", 10).unwrap();
    assert_eq!(s.role_of(&did(&x)), Some(Role::Member));

    let applied = s
        .post_notice(&plain, &list("2030-01-01T00:00:00Z", &[7]).to_string(), 11)
        .unwrap();
    assert!(
        matches!(&applied.effects[..], [tim_crdt::Effect::Noticed { key }] if key.starts_with(LIST))
    );

    // X's next post is refused with the reason; its earlier one stands.
    let e = s.post(&x, "after the notice", 12).unwrap_err().to_string();
    assert!(
        e.contains("no longer admitted") && e.contains("requires membership of space"),
        "{e}"
    );
    assert!(e.contains("treated as banned"), "{e}");
    assert!(s.message(&before).is_some());
    // Readers see it as banned, with the reason; the others are untouched.
    assert_eq!(s.role_of(&did(&x)), Some(Role::Banned));
    let view = s.member(&did(&x)).unwrap();
    assert_eq!(view.role, "banned");
    assert!(view.no_longer_admitted.unwrap().contains(LIST));
    assert_eq!(s.role_of(&did(&plain)), Some(Role::Member));
    assert!(s.member(&did(&plain)).unwrap().no_longer_admitted.is_none());
    s.post(&plain, "still here", 13).unwrap();
    // An admin may still kick it.
    s.kick(&owner, &did(&x), 14).unwrap();

    // A join presenting the revoked credential after the notice is refused, whatever list it
    // carried.
    let y = key(4);
    let vp = presentation(&y, s1, &[(LIST, 7)]);
    let e = s
        .join_presenting(&y, Some(&vp), 15)
        .unwrap_err()
        .to_string();
    assert!(e.contains("revoked by the notice"), "{e}");
}

#[test]
fn a_member_with_another_credential_that_meets_the_requirements_stays() {
    let (mut s, _, [owner, _, x]) = guild_at(5, &[(LIST, 7), (OTHER_LIST, 7)]);
    s.post_notice(&owner, &list("2030-01-01T00:00:00Z", &[7]).to_string(), 10)
        .unwrap();
    assert_eq!(s.role_of(&did(&x)), Some(Role::Member));
    s.post(&x, "still admitted by the other credential", 11)
        .unwrap();
}

/// Replica a takes the notice while X, on replica b, keeps posting: X's posts concurrent with
/// the notice stand on both replicas after they sync; its next post, which sees the notice,
/// is refused on both.
#[test]
fn posts_concurrent_with_a_notice_stand_everywhere_and_later_ones_are_refused_everywhere() {
    let (mut a, _, [_, plain, x]) = guild();
    let mut b = a.try_copy().unwrap();
    a.post_notice(&plain, &list("2030-01-01T00:00:00Z", &[7]).to_string(), 10)
        .unwrap();
    let (_, concurrent) = b.post(&x, "concurrent with the notice", 11).unwrap();
    sync_pair(&mut a, &mut b);
    assert_eq!(a.heads(), b.heads());
    for s in [&a, &b] {
        assert!(s.message(&concurrent).is_some());
        assert_eq!(s.role_of(&did(&x)), Some(Role::Banned));
    }
    let e = b.post(&x, "after the merge", 12).unwrap_err().to_string();
    assert!(e.contains("no longer admitted"), "{e}");
    // X's node gossips it anyway: a refuses it too.
    let env = forge(&b, &x, &x, 13, |tx, d| {
        let timeline = root(d, "timeline");
        let m = tx
            .insert_object(&timeline, 0, automerge::ObjType::Map)
            .unwrap();
        tx.put(&m, "author", did(&x).to_string()).unwrap();
        tx.put(&m, "text", "forced").unwrap();
        tx.put(&m, "at", automerge::ScalarValue::Timestamp(13))
            .unwrap();
    });
    assert_refused(a.ingest(env), "no longer admitted");
}

/// Two members post notices of the same list signed at different times concurrently: both
/// stand, and the verdict is the union of their bits on both replicas.
#[test]
fn two_concurrent_notices_both_stand() {
    let (mut a, _, [owner, plain, x]) = guild();
    let mut b = a.try_copy().unwrap();
    a.post_notice(&plain, &list("2030-01-01T00:00:00Z", &[7]).to_string(), 10)
        .unwrap();
    b.post_notice(&owner, &list("2030-01-01T00:05:00Z", &[7]).to_string(), 10)
        .unwrap();
    sync_pair(&mut a, &mut b);
    assert_eq!(a.heads(), b.heads());
    for s in [&mut a, &mut b] {
        assert_eq!(s.role_of(&did(&x)), Some(Role::Banned));
        assert!(s.post(&x, "refused", 20).is_err());
    }
}
