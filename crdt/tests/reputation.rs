//! Ratings, reputation, the record of issued credentials and the status list: computed from
//! the document and guarded by the rules like everything else.

use automerge::transaction::Transactable;
use tim_crdt::issuance::Issuance;
use tim_crdt::test_utils::{forge, root, sync_pair};
use tim_crdt::Writer;
use tim_crdt::{Role, Space};
use tim_protocol::Did;

fn key(seed: u8) -> Writer {
    tim_crdt::test_utils::writer(seed)
}

fn did(k: &Writer) -> Did {
    Did::from_key(&k.verifying_key())
}

#[test]
fn reputation_counts_contributions_and_live_ratings_from_members() {
    let (owner, ann, bob, cat) = (key(1), key(2), key(3), key(4));
    let (mut s, _) = Space::create(&owner, "r", "", 0).unwrap();
    for k in [&ann, &bob, &cat] {
        s.join(k, 1).unwrap();
    }
    for i in 0..4 {
        s.post(&ann, &format!("work {i}"), 10 + i).unwrap();
    }
    s.rate(&bob, &did(&ann), 5, 20).unwrap();
    s.rate(&cat, &did(&ann), 4, 21).unwrap();
    let r = s.reputation(&did(&ann));
    // 4 contributions + 5 × ((5 − 3) + (4 − 3)) = 19
    assert_eq!((r.score, r.contributions, r.ratings_received), (19, 4, 2));
    assert!((r.average_rating - 4.5).abs() < 1e-9);
    // One live rating per pair: bob changes his mind.
    s.rate(&bob, &did(&ann), 3, 22).unwrap();
    // (3 − 3) + (4 − 3) = 1
    assert_eq!(s.reputation(&did(&ann)).score, 4 + 5);
    s.rate(&bob, &did(&ann), 5, 22).unwrap();
    assert_eq!(s.reputation(&did(&ann)).ratings_received, 2);
    // A rater who leaves no longer counts.
    s.kick(&owner, &did(&bob), 23).unwrap();
    assert_eq!(s.reputation(&did(&ann)).score, 4 + 5);
    // Never below zero.
    s.rate(&cat, &did(&ann), 1, 24).unwrap();
    assert_eq!(s.reputation(&did(&ann)).score, 0);
}

#[test]
fn ratings_are_guarded() {
    let (owner, ann, stranger) = (key(1), key(2), key(9));
    let (mut s, _) = Space::create(&owner, "r", "", 0).unwrap();
    s.join(&ann, 1).unwrap();
    let err = s.rate(&ann, &did(&ann), 5, 2).unwrap_err().to_string();
    assert!(err.contains("nobody rates themself"), "{err}");
    let err = s.rate(&ann, &did(&stranger), 5, 3).unwrap_err().to_string();
    assert!(err.contains("only members are rated"), "{err}");
    let err = s.rate(&stranger, &did(&ann), 5, 4).unwrap_err().to_string();
    assert!(err.contains("not a member"), "{err}");
    // Out of range, and someone else's rating key.
    let env = forge(&s, &ann, &ann, 5, |tx, d| {
        tx.put(
            root(d, "ratings"),
            format!("{} {}", did(&ann), did(&owner)),
            9,
        )
        .unwrap();
    });
    assert!(s
        .ingest(env)
        .unwrap_err()
        .to_string()
        .contains("from 1 to 5"));
    let env = forge(&s, &ann, &ann, 6, |tx, d| {
        tx.put(
            root(d, "ratings"),
            format!("{} {}", did(&owner), did(&ann)),
            5,
        )
        .unwrap();
    });
    assert!(s
        .ingest(env)
        .unwrap_err()
        .to_string()
        .contains("only give its own ratings"));
}

#[test]
fn only_admins_record_issuance_and_revoke_and_records_never_change() {
    let (owner, admin, ann) = (key(1), key(2), key(3));
    let (mut s, _) = Space::create(&owner, "r", "", 0).unwrap();
    s.join(&admin, 1).unwrap();
    s.join(&ann, 1).unwrap();
    s.set_role(&owner, &did(&admin), Role::Admin, 2).unwrap();

    let (_, index) = s
        .record_issued(
            &admin,
            &Issuance::new("urn:uuid:1", &did(&ann), "reputation"),
            3,
        )
        .unwrap();
    assert_eq!(index, s.id().status_index("urn:uuid:1"));
    let (_, second) = s
        .record_issued(
            &admin,
            &Issuance::new("urn:uuid:2", &did(&ann), "membership"),
            4,
        )
        .unwrap();
    assert_eq!(second, s.id().status_index("urn:uuid:2"));
    assert_ne!(index, second);
    let rec = s.issued("urn:uuid:1").unwrap();
    assert_eq!(
        (rec.issuer, rec.subject, rec.kind.as_str()),
        (did(&admin), did(&ann), "reputation")
    );
    let err = s
        .record_issued(
            &ann,
            &Issuance::new("urn:uuid:3", &did(&ann), "reputation"),
            5,
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("issuing credentials needs an admin"),
        "{err}"
    );
    let err = s
        .record_issued(
            &admin,
            &Issuance::new("urn:uuid:1", &did(&ann), "reputation"),
            5,
        )
        .unwrap_err();
    assert!(err.to_string().contains("already recorded"), "{err}");
    // A record cannot be rewritten, even by the admin who made it.
    let env = forge(&s, &admin, &admin, 6, |tx, d| {
        use automerge::ReadDoc;
        let rec = d.get(root(d, "issued"), "urn:uuid:1").unwrap().unwrap().1;
        tx.put(&rec, "subject", did(&owner).to_string()).unwrap();
    });
    assert!(s
        .ingest(env)
        .unwrap_err()
        .to_string()
        .contains("never changed"));

    assert!(!s.is_revoked(index));
    let err = s.revoke(&ann, index, 7).unwrap_err().to_string();
    assert!(err.contains("revoking credentials needs an admin"), "{err}");
    s.revoke(&admin, index, 8).unwrap();
    assert!(s.is_revoked(index) && !s.is_revoked(second));
    let env = forge(&s, &admin, &admin, 9, |tx, d| {
        tx.put(root(d, "status_list"), index.to_string(), false)
            .unwrap();
    });
    assert!(s
        .ingest(env)
        .unwrap_err()
        .to_string()
        .contains("never undone"));
}

/// Issue 11's defect: the status index was the number of records, so two admins issuing at
/// once on partitioned replicas got the same index, and revoking one revoked both.
#[test]
fn concurrent_issuers_on_partitioned_replicas_never_share_a_status_index() {
    let (owner, admin, ann) = (key(1), key(2), key(3));
    let (mut a, _) = Space::create(&owner, "r", "", 0).unwrap();
    a.join(&admin, 1).unwrap();
    a.join(&ann, 1).unwrap();
    a.set_role(&owner, &did(&admin), Role::Admin, 2).unwrap();
    let mut b = a.try_copy().unwrap();
    // Partitioned: each admin issues without seeing the other's record.
    let (_, by_owner) = a
        .record_issued(
            &owner,
            &Issuance::new("urn:uuid:owner-1", &did(&ann), "membership"),
            3,
        )
        .unwrap();
    let (_, by_admin) = b
        .record_issued(
            &admin,
            &Issuance::new("urn:uuid:admin-1", &did(&ann), "reputation"),
            3,
        )
        .unwrap();
    assert_ne!(by_owner, by_admin);
    sync_pair(&mut a, &mut b);
    assert_eq!(a.heads(), b.heads());
    assert_eq!(a.issued("urn:uuid:owner-1").unwrap().status_index, by_owner);
    assert_eq!(a.issued("urn:uuid:admin-1").unwrap().status_index, by_admin);
    a.revoke(&owner, by_owner, 4).unwrap();
    assert!(a.is_revoked(by_owner));
    assert!(
        !a.is_revoked(by_admin),
        "revoking one credential revoked the other"
    );
    // An index that is not the one derived from the credential id is refused.
    let env = forge(&a, &admin, &admin, 5, |tx, d| {
        let rec = tx
            .put_object(root(d, "issued"), "urn:uuid:x", automerge::ObjType::Map)
            .unwrap();
        tx.put(&rec, "subject", did(&ann).to_string()).unwrap();
        tx.put(&rec, "kind", "membership").unwrap();
        tx.put(&rec, "issuer", did(&admin).to_string()).unwrap();
        tx.put(&rec, "status_index", automerge::ScalarValue::Uint(by_owner))
            .unwrap();
    });
    let err = a.ingest(env).unwrap_err().to_string();
    assert!(err.contains("derived from its id"), "{err}");
}

#[test]
fn a_rating_written_again_unchanged_is_refused_as_unchanged_and_makes_no_change() {
    let (owner, ann) = (key(1), key(2));
    let (mut s, _) = Space::create(&owner, "r", "", 0).unwrap();
    s.join(&ann, 1).unwrap();
    s.rate(&owner, &did(&ann), 4, 2).unwrap();
    let (heads, log) = (s.heads(), s.envelopes_in_order().len());
    let err = s.rate(&owner, &did(&ann), 4, 3).unwrap_err();
    assert!(matches!(err, tim_crdt::SpaceError::Unchanged), "{err:?}");
    assert_eq!(
        err.to_string(),
        "nothing to change: the space already holds this"
    );
    assert_eq!((s.heads(), s.envelopes_in_order().len()), (heads, log));
    // A different score is a change again.
    s.rate(&owner, &did(&ann), 5, 4).unwrap();
    assert_eq!(s.envelopes_in_order().len(), log + 1);
}
