//! Attachments (schema version 11, docs/protocol.md §9.13.3): a message's `attachment`,
//! `attachment_name` and `attachment_mime`, written with it, bounded, never changed, and
//! never in an end-to-end encrypted space.

use automerge::transaction::Transactable;
use automerge::{ObjType, ScalarValue};
use tim_crdt::messages::{
    Attachment, ATTACHMENT, ATTACHMENT_MIME, ATTACHMENT_NAME, MAX_ATTACHMENT_BYTES,
};
use tim_crdt::schema::PEOPLE;
use tim_crdt::test_utils::writer as key;
use tim_crdt::test_utils::{assert_refused, forge, root, sync_pair};
use tim_crdt::Space;

fn space() -> (Space, tim_crdt::Writer) {
    let owner = key(1);
    let (mut s, _) = Space::create(&owner, "files", "", 1).unwrap();
    s.migrate(&owner, PEOPLE, 2).unwrap();
    (s, owner)
}

/// A message by `who` whose attachment fields are `name`, `mime` and `data`, forged on `s`.
fn forged(
    s: &Space,
    who: &tim_crdt::Writer,
    name: &str,
    mime: &str,
    data: Vec<u8>,
) -> tim_protocol::Envelope {
    forge(s, who, who, 10, |tx, d| {
        let m = tx
            .insert_object(root(d, "timeline"), 0, ObjType::Map)
            .unwrap();
        tx.put(&m, "author", who.did().to_string()).unwrap();
        tx.put(&m, "text", "file").unwrap();
        tx.put(&m, ATTACHMENT_NAME, name).unwrap();
        tx.put(&m, ATTACHMENT_MIME, mime).unwrap();
        tx.put(&m, ATTACHMENT, ScalarValue::Bytes(data)).unwrap();
    })
}

#[test]
fn an_attachment_travels_with_its_message() {
    let (mut s, owner) = space();
    let file = Attachment {
        name: "a.txt".into(),
        mime: "text/plain".into(),
        data: b"hello".to_vec(),
    };
    let (_, id) = s
        .post_mentioning(&owner, "here", None, &[], Some(&file), 5)
        .unwrap();
    let mut other = Space::empty(s.id());
    sync_pair(&mut s, &mut other);
    assert_eq!(other.attachment(&id).unwrap(), Some(file));
    assert_eq!(other.message(&id).unwrap().attachment.unwrap().size, 5);
}

#[test]
fn the_rules_bound_an_attachment_and_never_let_it_change() {
    let (mut s, owner) = space();
    let big = vec![0; MAX_ATTACHMENT_BYTES + 1];
    assert_refused(
        s.ingest(forged(&s, &owner, "a.bin", "application/octet-stream", big)),
        "at most",
    );
    assert_refused(
        s.ingest(forged(&s, &owner, "../a", "text/plain", vec![1])),
        "path",
    );
    assert_refused(
        s.ingest(forged(&s, &owner, "a\nb", "text/plain", vec![1])),
        "control",
    );
    assert_refused(
        s.ingest(forged(&s, &owner, "a", "text", vec![1])),
        "type/subtype",
    );
    s.ingest(forged(
        &s,
        &owner,
        "a.bin",
        "application/octet-stream",
        vec![7; MAX_ATTACHMENT_BYTES],
    ))
    .unwrap();
    // Added to a message afterwards: refused.
    let (_, id) = s.post(&owner, "plain", 11).unwrap();
    let e = forge(&s, &owner, &owner, 12, |tx, d| {
        let m = d.import(&id).unwrap().0;
        tx.put(&m, ATTACHMENT, ScalarValue::Bytes(vec![1])).unwrap();
    });
    assert_refused(s.ingest(e), "written with it");
    assert_eq!(s.attachment(&id).unwrap(), None);
}
