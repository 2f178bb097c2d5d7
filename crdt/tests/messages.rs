//! Message features (schema version 10, docs/protocol.md §9.12): replies, edits with their
//! history, reactions, threads and search; every forbidden write refused with its reason, by
//! every replica alike.

use automerge::transaction::Transactable;
use automerge::{ObjType, ReadDoc, ScalarValue};
use tim_crdt::messages::{EDITS, REACTIONS, REPLY_TO};
use tim_crdt::schema::MESSAGES_V2;
use tim_crdt::test_utils::writer as key;
use tim_crdt::test_utils::{assert_refused, assert_refused_locally, forge, sync_pair};
use tim_crdt::{Effect, Space, Writer};

/// A space at `version` with its owner (1) and a member (2), the owner's message posted.
fn space_at(version: u64) -> (Space, Writer, Writer, String) {
    let (owner, member) = (key(1), key(2));
    let (mut s, _) = Space::create(&owner, "talk", "", 1).unwrap();
    s.migrate(&owner, version, 2).unwrap();
    s.join(&member, 3).unwrap();
    let (_, id) = s.post(&owner, "Hello World", 4).unwrap();
    (s, owner, member, id)
}

/// The message map `id` in a copy of `s`'s document.
fn obj(d: &automerge::Automerge, id: &str) -> automerge::ObjId {
    d.import(id).unwrap().0
}

#[test]
fn replies_edits_and_reactions_reach_another_replica_and_show_in_views_and_threads() {
    let (mut a, owner, member, id) = space_at(MESSAGES_V2);
    let mut b = Space::empty(a.id());
    let (_, reply) = a.reply(&member, &id, "hi back", 5).unwrap();
    let (_, nested) = a.reply(&owner, &reply, "and again", 6).unwrap();
    a.post(&member, "not in the thread", 7).unwrap();
    let edited = a.edit(&owner, &id, "Hello, world", 8).unwrap();
    assert!(edited
        .effects
        .contains(&Effect::MessageEdited { id: id.clone() }));
    a.edit(&owner, &id, "Hello, worlds", 9).unwrap();
    let reacted = a.react(&member, &id, Some("👍"), 10).unwrap();
    assert!(reacted
        .effects
        .contains(&Effect::Reacted { id: id.clone() }));
    a.react(&owner, &id, Some("👍"), 11).unwrap();
    a.react(&owner, &reply, Some("🎉"), 12).unwrap();
    a.react(&owner, &reply, None, 13).unwrap();
    sync_pair(&mut a, &mut b);

    let m = b.message(&id).unwrap();
    assert_eq!(m.text, "Hello, worlds");
    assert_eq!((m.edits, m.edited_at), (2, Some(9)));
    assert_eq!(m.reactions.len(), 1);
    assert_eq!(
        (m.reactions[0].emoji.as_str(), m.reactions[0].count),
        ("👍", 2)
    );
    assert!(m.reactions[0].by.contains(&member.did()));
    let r = b.message(&reply).unwrap();
    assert_eq!(r.reply_to.as_deref(), Some(id.as_str()));
    assert!(r.reactions.is_empty(), "a withdrawn reaction is gone");
    let (root, replies) = b.thread(&id).unwrap();
    assert_eq!(root.id, id);
    let ids: Vec<_> = replies.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, [reply.as_str(), nested.as_str()]);
    assert_eq!(b.timeline(), a.timeline());
}

#[test]
fn only_the_author_edits_a_message() {
    let (mut s, _owner, member, id) = space_at(MESSAGES_V2);
    assert_refused_locally(s.edit(&member, &id, "mine now", 5), "only its author");
    // Forged: the member writes a new text and a history entry into the owner's message.
    let e = forge(&s, &member, &member, 5, |tx, d| {
        let m = obj(d, &id);
        let edits = tx.put_object(&m, EDITS, ObjType::List).unwrap();
        let entry = tx.insert_object(&edits, 0, ObjType::Map).unwrap();
        tx.put(&entry, "text", "Hello World").unwrap();
        tx.put(&entry, "at", ScalarValue::Timestamp(5)).unwrap();
        tx.put(&m, "text", "mine now").unwrap();
    });
    assert_refused(s.ingest(e), "only a message's author may edit it");
    assert_eq!(s.message(&id).unwrap().text, "Hello World");
}

#[test]
fn an_edit_keeps_the_previous_text_and_the_history_is_append_only() {
    let (mut s, owner, _member, id) = space_at(MESSAGES_V2);
    // An edit without its history entry; with a history entry that misstates the old text.
    let e = forge(&s, &owner, &owner, 5, |tx, d| {
        tx.put(obj(d, &id), "text", "rewritten").unwrap();
    });
    assert_refused(s.ingest(e), "previous `text`");
    let e = forge(&s, &owner, &owner, 5, |tx, d| {
        let m = obj(d, &id);
        let edits = tx.put_object(&m, EDITS, ObjType::List).unwrap();
        let entry = tx.insert_object(&edits, 0, ObjType::Map).unwrap();
        tx.put(&entry, "text", "something else").unwrap();
        tx.put(&entry, "at", ScalarValue::Timestamp(5)).unwrap();
        tx.put(&m, "text", "rewritten").unwrap();
    });
    assert_refused(s.ingest(e), "previous `text`");
    // A history entry with no edit.
    let e = forge(&s, &owner, &owner, 5, |tx, d| {
        let edits = tx.put_object(obj(d, &id), EDITS, ObjType::List).unwrap();
        let entry = tx.insert_object(&edits, 0, ObjType::Map).unwrap();
        tx.put(&entry, "text", "Hello World").unwrap();
        tx.put(&entry, "at", ScalarValue::Timestamp(5)).unwrap();
    });
    assert_refused(s.ingest(e), "only with the edit it records");

    s.edit(&owner, &id, "Hello, world", 6).unwrap();
    let doc = tim_crdt::test_utils::reloaded(&s);
    let m = obj(&doc, &id);
    let (_, edits) = doc.get(&m, EDITS).unwrap().unwrap();
    let (_, first) = doc.get(&edits, 0).unwrap().unwrap();
    assert_eq!(
        doc.get(&first, "text").unwrap().unwrap().0.to_str(),
        Some("Hello World")
    );
    // The history is not rewritten, removed or replaced.
    let e = forge(&s, &owner, &owner, 7, |tx, _| {
        tx.put(&first, "text", "I never said that").unwrap();
    });
    assert_refused(s.ingest(e), "written once");
    let e = forge(&s, &owner, &owner, 7, |tx, _| tx.delete(&edits, 0).unwrap());
    assert_refused(s.ingest(e), "append-only");
    let e = forge(&s, &owner, &owner, 7, |tx, _| {
        tx.put_object(&m, EDITS, ObjType::List).unwrap();
    });
    assert_refused(s.ingest(e), "never replaced");
    let e = forge(&s, &owner, &owner, 7, |tx, _| {
        tx.delete(&m, "text").unwrap()
    });
    assert_refused(s.ingest(e), "not deleted");
    assert_eq!(s.message(&id).unwrap().edits, 1);
}

#[test]
fn a_reaction_is_its_reactors_own_and_short() {
    let (mut s, owner, member, id) = space_at(MESSAGES_V2);
    s.react(&owner, &id, Some("👍"), 5).unwrap();
    assert_refused_locally(s.react(&member, &id, Some("a b"), 6), "emoji");
    let doc = tim_crdt::test_utils::reloaded(&s);
    let (_, reactions) = doc.get(obj(&doc, &id), REACTIONS).unwrap().unwrap();
    // Under another's DID: putting and withdrawing.
    let e = forge(&s, &member, &member, 6, |tx, _| {
        tx.put(&reactions, owner.did().to_string(), "👎").unwrap();
    });
    assert_refused(s.ingest(e), "only under its own DID");
    let e = forge(&s, &member, &member, 6, |tx, _| {
        tx.delete(&reactions, owner.did().to_string()).unwrap();
    });
    assert_refused(s.ingest(e), "only under its own DID");
    // Too long; not a string; a second `reactions` map over the first.
    let e = forge(&s, &member, &member, 6, |tx, _| {
        tx.put(&reactions, member.did().to_string(), "x".repeat(33))
            .unwrap();
    });
    assert_refused(s.ingest(e), "1 to 32 bytes");
    let e = forge(&s, &member, &member, 6, |tx, _| {
        tx.put(&reactions, member.did().to_string(), 1_u64).unwrap();
    });
    assert_refused(s.ingest(e), "1 to 32 bytes");
    let e = forge(&s, &member, &member, 6, |tx, d| {
        tx.put_object(obj(d, &id), REACTIONS, ObjType::Map).unwrap();
    });
    assert_refused(s.ingest(e), "made once");
    // A non-member reacts to nothing.
    let outsider = key(3);
    let e = forge(&s, &outsider, &outsider, 6, |tx, _| {
        tx.put(&reactions, outsider.did().to_string(), "👍")
            .unwrap();
    });
    assert_refused(s.ingest(e), "join the space first");
    let m = s.message(&id).unwrap();
    assert_eq!(m.reactions.len(), 1);
    assert_eq!(m.reactions[0].by, [owner.did()]);
}

#[test]
fn reply_to_names_an_earlier_message_and_never_changes() {
    let (mut s, owner, member, id) = space_at(MESSAGES_V2);
    let (_, other) = s.post(&owner, "another", 5).unwrap();
    let (_, reply) = s.reply(&member, &id, "hi", 5).unwrap();
    let e = forge(&s, &member, &member, 6, |tx, d| {
        tx.put(obj(d, &reply), REPLY_TO, other.as_str()).unwrap();
    });
    assert_refused(s.ingest(e), "never changed");
    let e = forge(&s, &member, &member, 6, |tx, d| {
        tx.delete(obj(d, &reply), REPLY_TO).unwrap();
    });
    assert_refused(s.ingest(e), "never changed");
    // A reply to something that is not a message.
    let e = forge(&s, &owner, &owner, 6, |tx, d| {
        let timeline = tim_crdt::test_utils::root(d, "timeline");
        let m = tx.insert_object(&timeline, 0, ObjType::Map).unwrap();
        tx.put(&m, "author", owner.did().to_string()).unwrap();
        tx.put(&m, "text", "re: nothing").unwrap();
        tx.put(&m, REPLY_TO, "99@00").unwrap();
    });
    assert_refused(s.ingest(e), "`reply_to` is a message id");
    assert_refused_locally(s.reply(&member, "99@00", "hi", 7), "no message");
    // A deleted message, or a map that is not a message, takes no reply, edit or reaction.
    s.delete_message(&owner, &other, 8).unwrap();
    assert_refused_locally(s.reply(&member, &other, "hi", 9), "no message");
    assert_refused_locally(s.edit(&owner, &other, "again", 9), "no message");
    let d = tim_crdt::test_utils::reloaded(&s);
    let members = tim_crdt::test_utils::root(&d, "members");
    let (_, entry) = d.get(&members, owner.did().to_string()).unwrap().unwrap();
    let entry = entry.to_string();
    assert_refused_locally(s.react(&member, &entry, Some("👍"), 9), "no message");
    // Forged: a reply to the deleted message.
    let e = forge(&s, &member, &member, 10, |tx, d| {
        let timeline = tim_crdt::test_utils::root(d, "timeline");
        let n = d.length(&timeline);
        let m = tx.insert_object(&timeline, n, ObjType::Map).unwrap();
        tx.put(&m, "author", member.did().to_string()).unwrap();
        tx.put(&m, "text", "re: deleted").unwrap();
        tx.put(&m, REPLY_TO, other.as_str()).unwrap();
    });
    assert_refused(s.ingest(e), "`reply_to` is a message id");
}

#[test]
fn message_features_wait_for_schema_version_10() {
    let (mut s, owner, member, id) = space_at(MESSAGES_V2 - 1);
    assert_refused_locally(s.reply(&member, &id, "hi", 5), "migrate it first");
    assert_refused_locally(s.edit(&owner, &id, "hi", 5), "migrate it first");
    assert_refused_locally(s.react(&member, &id, Some("👍"), 5), "migrate it first");
    // Below version 10 a message is its author's alone, as older nodes judge it.
    let e = forge(&s, &member, &member, 5, |tx, d| {
        let r = tx.put_object(obj(d, &id), REACTIONS, ObjType::Map).unwrap();
        tx.put(&r, member.did().to_string(), "👍").unwrap();
    });
    assert_refused(s.ingest(e), "only a message's author");
    s.migrate(&owner, MESSAGES_V2, 6).unwrap();
    s.react(&member, &id, Some("👍"), 7).unwrap();
    assert_eq!(s.message(&id).unwrap().reactions[0].count, 1);
}

#[test]
fn concurrent_first_reactions_both_count() {
    let (mut a, owner, member, id) = space_at(MESSAGES_V2);
    let mut b = Space::empty(a.id());
    sync_pair(&mut a, &mut b);
    a.react(&owner, &id, Some("👍"), 5).unwrap();
    b.react(&member, &id, Some("🎉"), 5).unwrap();
    sync_pair(&mut a, &mut b);
    for s in [&a, &b] {
        let m = s.message(&id).unwrap();
        let mut emoji: Vec<_> = m.reactions.iter().map(|r| r.emoji.as_str()).collect();
        emoji.sort_unstable();
        assert_eq!(emoji, ["🎉", "👍"]);
    }
}

#[test]
fn search_finds_messages_ignoring_case_newest_first_a_page_at_a_time() {
    let (mut s, owner, member, _) = space_at(MESSAGES_V2);
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            s.post(&member, &format!("apple pie {i}"), 10 + i)
                .unwrap()
                .1,
        );
        s.post(&owner, "banana", 20 + i).unwrap();
    }
    let page = s.search_messages("APPLE", None, 3).unwrap();
    let texts: Vec<_> = page.messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["apple pie 4", "apple pie 3", "apple pie 2"]);
    assert_eq!(page.next_before.as_deref(), Some(ids[2].as_str()));
    let rest = s
        .search_messages("apple", page.next_before.as_deref(), 3)
        .unwrap();
    assert_eq!(rest.messages.len(), 2);
    assert_eq!(rest.next_before, None);
    assert!(s
        .search_messages("cherry", None, 3)
        .unwrap()
        .messages
        .is_empty());
    assert!(
        s.search_messages("hello world", None, 3)
            .unwrap()
            .messages
            .len()
            == 1
    );
    assert_refused_locally(s.search_messages("  ", None, 3), "1 to");
}

#[test]
fn an_encrypted_message_is_edited_in_the_same_shape_with_ct() {
    let owner = key(1);
    let shared = tim_crdt::encryption::Encryption {
        history: tim_crdt::encryption::History::Shared,
        dm: false,
    };
    let (mut s, _) = Space::create_encrypted(&owner, "secret", "", shared, 1).unwrap();
    s.migrate(&owner, MESSAGES_V2, 2).unwrap();
    let (_, id) = s.post_encrypted(&owner, b"first", 3).unwrap();
    // This node does not make encrypted edits yet, and says so; reactions work as anywhere.
    assert_refused_locally(s.edit(&owner, &id, "second", 4), "not supported yet");
    s.react(&owner, &id, Some("👍"), 4).unwrap();
    // The history entry of a `ct` edit holds `ct`, never `text`.
    let e = forge(&s, &owner, &owner, 5, |tx, d| {
        let m = obj(d, &id);
        let edits = tx.put_object(&m, EDITS, ObjType::List).unwrap();
        let entry = tx.insert_object(&edits, 0, ObjType::Map).unwrap();
        tx.put(&entry, "text", "first").unwrap();
        tx.put(&entry, "at", ScalarValue::Timestamp(5)).unwrap();
        tx.put(&m, "ct", ScalarValue::Bytes(b"second".to_vec()))
            .unwrap();
    });
    assert_refused(s.ingest(e), "holds the previous `ct`");
    let e = forge(&s, &owner, &owner, 5, |tx, d| {
        let m = obj(d, &id);
        let edits = tx.put_object(&m, EDITS, ObjType::List).unwrap();
        let entry = tx.insert_object(&edits, 0, ObjType::Map).unwrap();
        tx.put(&entry, "ct", ScalarValue::Bytes(b"first".to_vec()))
            .unwrap();
        tx.put(&entry, "at", ScalarValue::Timestamp(5)).unwrap();
        tx.put(&m, "ct", ScalarValue::Bytes(b"second".to_vec()))
            .unwrap();
    });
    s.ingest(e).unwrap();
    assert_eq!(s.ciphertext(&id).unwrap(), b"second");
    let m = s.message(&id).unwrap();
    assert_eq!((m.edits, m.edited_at, m.reactions.len()), (1, Some(5), 1));
}

/// The texts and times of message `id`'s edit history in `s`.
fn history(s: &Space, id: &str) -> Vec<(String, u64)> {
    s.edit_history(id)
        .unwrap()
        .into_iter()
        .map(|v| match v.content {
            tim_crdt::messages::Content::Text(t) => (t, v.at),
            other => panic!("{other:?}"),
        })
        .collect()
}

#[test]
fn the_edit_history_is_every_version_with_its_time_and_goes_with_a_deleted_message() {
    let (mut a, owner, _member, id) = space_at(MESSAGES_V2);
    assert_eq!(history(&a, &id), [("Hello World".to_string(), 4)]);
    a.edit(&owner, &id, "Hello, world", 8).unwrap();
    a.edit(&owner, &id, "Hello, worlds", 9).unwrap();
    let mut b = Space::empty(a.id());
    sync_pair(&mut a, &mut b);
    let want = [
        ("Hello World".to_string(), 4),
        ("Hello, world".to_string(), 8),
        ("Hello, worlds".to_string(), 9),
    ];
    assert_eq!(history(&b, &id), want);
    b.delete_message(&owner, &id, 10).unwrap();
    assert_refused_locally(b.edit_history(&id), "no message");
}

#[test]
fn two_concurrent_edits_give_every_replica_the_same_history() {
    let (mut a, owner, _member, id) = space_at(MESSAGES_V2);
    let mut b = Space::empty(a.id());
    sync_pair(&mut a, &mut b);
    // The author's other session (a second device): a different actor.
    let other_device = Writer::new(ed25519_dalek::SigningKey::from_bytes(&[1; 32]), [9; 16]);
    a.edit(&owner, &id, "from the laptop", 8).unwrap();
    b.edit(&other_device, &id, "from the phone", 9).unwrap();
    sync_pair(&mut a, &mut b);
    let (ha, hb) = (history(&a, &id), history(&b, &id));
    assert_eq!(ha, hb);
    // Both edits recorded the original; the text shown now is the last version.
    let shown = a.message(&id).unwrap().text;
    assert_eq!(ha.len(), 3, "{ha:?}");
    assert_eq!(ha[0], ("Hello World".to_string(), 4));
    assert_eq!(ha[1], ("Hello World".to_string(), 8));
    assert_eq!(ha[2], (shown, 9));
}
