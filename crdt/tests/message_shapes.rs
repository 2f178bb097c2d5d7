//! Typed messages (schema version 12, docs/protocol.md §9.12.1): from it a message holds its
//! content, `author`, `at` and its optional fields, each of its type, written with it; only the
//! content is replaced (an edit); a message is made with its content and time. Shapes that
//! views would skip are refused by every replica; below version 12 they are judged as before.

use automerge::transaction::Transactable;
use automerge::{ObjType, ScalarValue};
use tim_crdt::messages::EDITS;
use tim_crdt::schema::{MESSAGE_SHAPES, PEOPLE};
use tim_crdt::test_utils::writer as key;
use tim_crdt::test_utils::{assert_refused, forge, root, sync_pair};
use tim_crdt::{Space, Writer};

/// A space at `version` with its owner (1) and a member (2), the member's message posted.
fn space_at(version: u64) -> (Space, Writer, Writer, String) {
    let (owner, member) = (key(1), key(2));
    let (mut s, _) = Space::create(&owner, "shapes", "", 1).unwrap();
    s.migrate(&owner, version, 2).unwrap();
    s.join(&member, 3).unwrap();
    let (_, id) = s.post(&member, "Hello World", 4).unwrap();
    (s, owner, member, id)
}

fn obj(d: &automerge::Automerge, id: &str) -> automerge::ObjId {
    d.import(id).unwrap().0
}

/// The member's forged edit of its own message that puts `value` as the new `text`, with the
/// history entry the edit rules ask for.
fn edit_to(s: &Space, member: &Writer, id: &str, value: ScalarValue) -> tim_protocol::Envelope {
    forge(s, member, member, 5, |tx, d| {
        let m = obj(d, id);
        let edits = tx.put_object(&m, EDITS, ObjType::List).unwrap();
        let entry = tx.insert_object(&edits, 0, ObjType::Map).unwrap();
        tx.put(&entry, "text", "Hello World").unwrap();
        tx.put(&entry, "at", ScalarValue::Timestamp(5)).unwrap();
        tx.put(&m, "text", value).unwrap();
    })
}

#[test]
fn an_author_cannot_make_its_message_a_shape_views_skip() {
    let (mut s, _owner, member, id) = space_at(MESSAGE_SHAPES);
    let before = s.timeline();
    // Its text as a number, its time rewritten, a key no version knows, a field deleted
    // (another `author` than its own is refused at every version).
    assert_refused(
        s.ingest(edit_to(&s, &member, &id, ScalarValue::Int(7))),
        "from schema version 12",
    );
    let e = forge(&s, &member, &member, 5, |tx, d| {
        tx.put(obj(d, &id), "at", ScalarValue::Timestamp(99))
            .unwrap();
    });
    assert_refused(s.ingest(e), "it rewrites `at`");
    let e = forge(&s, &member, &member, 5, |tx, d| {
        tx.put(obj(d, &id), "colour", "red").unwrap();
    });
    assert_refused(s.ingest(e), "`colour`");
    let e = forge(&s, &member, &member, 5, |tx, d| {
        tx.delete(obj(d, &id), "text").unwrap();
    });
    assert_refused(s.ingest(e), "it deletes `text`");
    assert_eq!(s.timeline(), before, "nothing of it applied");
}

#[test]
fn a_message_is_made_whole_with_typed_fields() {
    let (mut s, _owner, member, _) = space_at(MESSAGE_SHAPES);
    let new_message =
        |fields: &dyn Fn(&mut automerge::transaction::Transaction<'_>, &automerge::ObjId)| {
            forge(&s, &member, &member, 6, |tx, d| {
                let timeline = root(d, "timeline");
                let m = tx.insert_object(&timeline, 1, ObjType::Map).unwrap();
                tx.put(&m, "author", member.did().to_string()).unwrap();
                fields(tx, &m);
            })
        };
    let no_time = new_message(&|tx, m| tx.put(m, "text", "when?").unwrap());
    let no_text = new_message(&|tx, m| tx.put(m, "at", ScalarValue::Timestamp(6)).unwrap());
    let text_number = new_message(&|tx, m| {
        tx.put(m, "text", 42).unwrap();
        tx.put(m, "at", ScalarValue::Timestamp(6)).unwrap();
    });
    let time_text = new_message(&|tx, m| {
        tx.put(m, "text", "ok").unwrap();
        tx.put(m, "at", "yesterday").unwrap();
    });
    let whole = new_message(&|tx, m| {
        tx.put(m, "text", "made whole").unwrap();
        tx.put(m, "at", ScalarValue::Timestamp(6)).unwrap();
    });
    assert_refused(
        s.ingest(no_time),
        "made with its content (`text` or `ct`) and `at`",
    );
    assert_refused(
        s.ingest(no_text),
        "made with its content (`text` or `ct`) and `at`",
    );
    assert_refused(s.ingest(text_number), "it writes `text`");
    assert_refused(s.ingest(time_text), "it writes `at`");
    s.ingest(whole).unwrap();
    assert_eq!(s.timeline().last().unwrap().text, "made whole");
}

#[test]
fn what_the_api_writes_stands_and_every_replica_agrees() {
    let (mut a, owner, member, id) = space_at(MESSAGE_SHAPES);
    let mut b = Space::empty(a.id());
    let (_, reply) = a.reply(&owner, &id, "hi back", 5).unwrap();
    a.edit(&member, &id, "Hello, world", 6).unwrap();
    a.react(&owner, &id, Some("👍"), 7).unwrap();
    a.delete_message(&owner, &reply, 8).unwrap();
    sync_pair(&mut a, &mut b);
    assert_eq!(b.timeline(), a.timeline());
    let m = b.message(&id).unwrap();
    assert_eq!(
        (m.text.as_str(), m.edits, m.reactions.len()),
        ("Hello, world", 1, 1)
    );
}

#[test]
fn below_version_12_the_old_verdicts_stand() {
    // A version-11 node accepted a number put as an edited text (the message then vanishes
    // from views); a version-12 node judging the same change at version-11 dependencies
    // accepts it too, so old and new nodes agree on every space below 12.
    let (mut s, _owner, member, id) = space_at(PEOPLE);
    s.ingest(edit_to(&s, &member, &id, ScalarValue::Int(7)))
        .unwrap();
    assert!(
        s.message(&id).is_none(),
        "a message without a text string is not shown"
    );
}
