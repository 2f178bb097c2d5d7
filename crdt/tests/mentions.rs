//! Mentions (schema version 11, docs/protocol.md §9.13.2): a message names members in its
//! `mentions`, written with it; the rules check each is a member at the message's
//! dependencies, at most 32, and that the list is never changed.

use automerge::transaction::Transactable;
use automerge::ObjType;
use tim_crdt::messages::{MAX_MENTIONS, MENTIONS};
use tim_crdt::schema::PEOPLE;
use tim_crdt::test_utils::writer as key;
use tim_crdt::test_utils::{assert_refused, assert_refused_locally, forge, root, sync_pair};
use tim_crdt::{Space, Writer};
use tim_protocol::Did;

/// A space at `version` with its owner (1) and a member (2).
fn space_at(version: u64) -> (Space, Writer, Writer) {
    let (owner, member) = (key(1), key(2));
    let (mut s, _) = Space::create(&owner, "talk", "", 1).unwrap();
    s.migrate(&owner, version, 2).unwrap();
    s.join(&member, 3).unwrap();
    (s, owner, member)
}

/// A message by `who` with `mentions` (raw JSON), forged on `s`.
fn forged_mention(s: &Space, who: &Writer, mentions: &str) -> tim_protocol::Envelope {
    forge(s, who, who, 10, |tx, d| {
        let timeline = root(d, "timeline");
        let m = tx.insert_object(&timeline, 0, ObjType::Map).unwrap();
        tx.put(&m, "author", who.did().to_string()).unwrap();
        tx.put(&m, "text", "hi").unwrap();
        tx.put(&m, MENTIONS, mentions).unwrap();
    })
}

fn json(dids: &[Did]) -> String {
    serde_json::to_string(&dids.iter().map(Did::to_string).collect::<Vec<_>>()).unwrap()
}

#[test]
fn a_message_mentions_members_and_another_replica_sees_them() {
    let (mut s, owner, member) = space_at(PEOPLE);
    let (_, id) = s
        .post_mentioning(
            &owner,
            "hi @member",
            None,
            &[member.did(), member.did()],
            None,
            5,
        )
        .unwrap();
    assert_eq!(s.message(&id).unwrap().mentions, vec![member.did()]);
    let mut other = Space::empty(s.id());
    sync_pair(&mut s, &mut other);
    assert_eq!(other.message(&id).unwrap().mentions, vec![member.did()]);
    // A reply may mention too.
    let (_, reply) = s
        .post_mentioning(&member, "thanks", Some(&id), &[owner.did()], None, 6)
        .unwrap();
    let view = s.message(&reply).unwrap();
    assert_eq!(
        (view.reply_to.as_deref(), view.mentions),
        (Some(id.as_str()), vec![owner.did()])
    );
}

#[test]
fn mentions_name_members_only_at_most_32_written_with_the_message() {
    let (mut s, owner, member) = space_at(PEOPLE);
    let stranger = key(9).did();
    assert_refused_locally(
        s.post_mentioning(&owner, "hi", None, &[stranger], None, 5),
        "only members are mentioned",
    );
    assert_refused(
        s.ingest(forged_mention(&s, &owner, &json(&[stranger]))),
        "not a member",
    );
    assert_refused(s.ingest(forged_mention(&s, &owner, "[]")), "JSON array");
    assert_refused(
        s.ingest(forged_mention(&s, &owner, "not json")),
        "JSON array",
    );
    let twice = json(&[member.did(), member.did()]);
    assert_refused(s.ingest(forged_mention(&s, &owner, &twice)), "distinct");
    let many: Vec<Did> = (10..10 + MAX_MENTIONS as u8 + 1)
        .map(|i| key(i).did())
        .collect();
    for k in 10..10 + MAX_MENTIONS as u8 + 1 {
        s.join(&key(k), 4).unwrap();
    }
    assert_refused(
        s.ingest(forged_mention(&s, &owner, &json(&many))),
        "1 to 32",
    );
    s.ingest(forged_mention(&s, &owner, &json(&many[..MAX_MENTIONS])))
        .unwrap();
    // Never added or changed afterwards.
    let (_, id) = s.post(&owner, "plain", 5).unwrap();
    let e = forge(&s, &owner, &owner, 11, |tx, d| {
        let m = d.import(&id).unwrap().0;
        tx.put(&m, MENTIONS, json(&[member.did()])).unwrap();
    });
    assert_refused(s.ingest(e), "written with the message");
    assert!(s.message(&id).unwrap().mentions.is_empty());
}

#[test]
fn below_version_11_mentions_are_refused_locally() {
    let (mut s, owner, member) = space_at(PEOPLE - 1);
    assert_refused_locally(
        s.post_mentioning(&owner, "hi", None, &[member.did()], None, 5),
        "migrate it first",
    );
}
