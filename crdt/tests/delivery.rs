//! An issuance record carries the signed credential to its subject's node
//! (docs/passports.md, "Delivery to the subject"): the rules accept it in the creating change
//! at any version, and from schema version 11 a record names its recorder as its issuer.

use automerge::transaction::Transactable;
use automerge::{ObjType, ScalarValue};
use tim_crdt::issuance::Issuance;
use tim_crdt::schema::PEOPLE;
use tim_crdt::test_utils::{assert_refused, forge, root};
use tim_crdt::{Role, Space, Writer};
use tim_protocol::Did;

fn key(seed: u8) -> Writer {
    tim_crdt::test_utils::writer(seed)
}

/// A space of `owner` with `admin` (an admin) and `ann`, at schema version `version`.
fn space(owner: &Writer, admin: &Writer, ann: &Writer, version: u64) -> Space {
    let (mut s, _) = Space::create(owner, "d", "", 0).unwrap();
    s.join(admin, 1).unwrap();
    s.join(ann, 1).unwrap();
    s.set_role(owner, &admin.did(), Role::Admin, 2).unwrap();
    if version > 1 {
        s.migrate(owner, version, 3).unwrap();
    }
    s
}

/// A record of credential `id` about `subject`, made by `author`, that names `issuer`.
fn forged_record(
    s: &Space,
    author: &Writer,
    id: &str,
    subject: &Did,
    issuer: &Did,
) -> tim_protocol::Envelope {
    let index = s.id().status_index(id);
    forge(s, author, author, 10, |tx, d| {
        let rec = tx.put_object(root(d, "issued"), id, ObjType::Map).unwrap();
        tx.put(&rec, "subject", subject.to_string()).unwrap();
        tx.put(&rec, "kind", "membership").unwrap();
        tx.put(&rec, "issuer", issuer.to_string()).unwrap();
        tx.put(&rec, "status_index", ScalarValue::Uint(index))
            .unwrap();
        tx.put(&rec, "credential", "{}").unwrap();
    })
}

#[test]
fn a_record_carries_its_credential_and_never_changes_it() {
    let (owner, admin, ann) = (key(1), key(2), key(3));
    let mut s = space(&owner, &admin, &ann, PEOPLE);
    let vc = r#"{"id":"urn:uuid:1"}"#;
    s.record_issued(
        &admin,
        &Issuance {
            credential: Some(vc),
            ..Issuance::new("urn:uuid:1", &ann.did(), "membership")
        },
        5,
    )
    .unwrap();
    let rec = s.issued("urn:uuid:1").unwrap();
    assert_eq!(rec.credential.as_deref(), Some(vc));
    assert_eq!(rec.issuer, admin.did());
    // A record without one reads as none.
    s.record_issued(
        &admin,
        &Issuance::new("urn:uuid:2", &ann.did(), "membership"),
        6,
    )
    .unwrap();
    assert_eq!(s.issued("urn:uuid:2").unwrap().credential, None);
    // Every record, as a node lists them to deliver what a stop cut short.
    assert_eq!(s.issued_ids(), ["urn:uuid:1", "urn:uuid:2"]);
    // The credential is written once, with the record.
    let env = forge(&s, &admin, &admin, 7, |tx, d| {
        use automerge::ReadDoc;
        let rec = d.get(root(d, "issued"), "urn:uuid:2").unwrap().unwrap().1;
        tx.put(&rec, "credential", "{}").unwrap();
    });
    assert_refused(s.ingest(env), "never changed");
    assert_eq!(s.issued("urn:uuid:2").unwrap().credential, None);
}

#[test]
fn from_version_11_a_record_names_its_recorder_as_issuer() {
    let (owner, admin, ann) = (key(1), key(2), key(3));
    // An admin may not record a credential in another timite's name (a member who may not
    // issue, whose signature the credential would then carry).
    let mut s = space(&owner, &admin, &ann, PEOPLE);
    let env = forged_record(&s, &admin, "urn:uuid:9", &ann.did(), &ann.did());
    assert_refused(s.ingest(env), "must be its recorder");
    assert!(s.issued("urn:uuid:9").is_none());
    let env = forged_record(&s, &admin, "urn:uuid:9", &ann.did(), &admin.did());
    s.ingest(env).unwrap();
    assert_eq!(s.issued("urn:uuid:9").unwrap().issuer, admin.did());
    // Below version 11 the field is the recorder's word (the subject's node then checks the
    // credential's signer against it, docs/passports.md).
    let mut old = space(&owner, &admin, &ann, PEOPLE - 1);
    let env = forged_record(&old, &admin, "urn:uuid:9", &ann.did(), &ann.did());
    old.ingest(env).unwrap();
    assert_eq!(old.issued("urn:uuid:9").unwrap().issuer, ann.did());
}
