//! End-to-end encrypted spaces in the document (docs/privacy.md §4.2): the clear structure
//! (`keys`, `group`, messages' `ct`) is judged by every replica alike, including one that holds
//! no key at all, and every forbidden write is refused with its reason.

use automerge::transaction::Transactable;
use automerge::{ObjType, ReadDoc, ScalarValue};
use tim_crdt::encryption::{ControlOp, Encryption, History, ENCRYPTION_SCHEME};
use tim_crdt::test_utils::{assert_refused, forge, root, sync_pair};
use tim_crdt::{Effect, Role, Space, Visibility, Writer};
use tim_protocol::Did;

use tim_crdt::test_utils::writer as key;

fn did(k: &Writer) -> Did {
    k.did()
}

const SHARED: Encryption = Encryption {
    history: History::Shared,
    dm: false,
};

/// An encrypted space with its owner (1) and a member (2) who both published keys; the owner
/// created the group and added the member.
fn group() -> (Space, Writer, Writer) {
    let (owner, member) = (key(1), key(2));
    let (mut s, _) = Space::create_encrypted(&owner, "secret", "", SHARED, 1).unwrap();
    s.publish_keys(&owner, &[1; 32], b"owner bundle", 2)
        .unwrap();
    s.write_control(&owner, ControlOp::Create, None, b"create", 3)
        .unwrap();
    s.invite(&owner, &did(&member), 1_000, 4).unwrap();
    s.join(&member, 5).unwrap();
    s.publish_keys(&member, &[2; 32], b"member bundle", 6)
        .unwrap();
    s.write_control(&owner, ControlOp::Add, Some(&did(&member)), b"welcome", 7)
        .unwrap();
    (s, owner, member)
}

#[test]
fn an_encrypted_space_carries_keys_control_messages_and_ciphertext_that_every_replica_judges_alike()
{
    let (mut s, owner, member) = group();
    assert_eq!(s.schema_version(), 3);
    assert_eq!(s.encryption(), Some(SHARED));
    assert_eq!(s.meta().unwrap().visibility, Visibility::InviteOnly);
    assert_eq!(
        s.keys_of(&did(&member)),
        Some(([2; 32], b"member bundle".to_vec()))
    );
    let (applied, id) = s.post_encrypted(&member, b"ciphertext", 8).unwrap();
    assert!(applied
        .effects
        .contains(&Effect::Message { id: id.clone() }));
    let view = s.message(&id).unwrap();
    assert!(view.encrypted && view.text.is_empty());
    assert_eq!(s.ciphertext(&id).unwrap(), b"ciphertext");
    // The bundle is replaced; the identity stays.
    s.publish_keys(&member, &[2; 32], b"rotated pre-key", 9)
        .unwrap();
    assert_eq!(s.keys_of(&did(&member)).unwrap().1, b"rotated pre-key");

    // Control messages, in order, each with the ids of those in its causal past.
    let controls = s.controls();
    let ops: Vec<ControlOp> = controls.iter().map(|c| c.op).collect();
    assert_eq!(ops, [ControlOp::Create, ControlOp::Add]);
    assert_eq!(controls[1].subject, Some(did(&member)));
    assert_eq!(controls[1].ctl, b"welcome");
    let (_, past) = s.control_past(&controls[1].id).unwrap();
    assert!(past.contains(&controls[0].id) && !past.contains(&controls[1].id));

    // A replica that holds no key takes all of it, and sees the same structure.
    let mut relay = Space::empty(s.id());
    sync_pair(&mut s, &mut relay);
    assert_eq!(relay.controls(), s.controls());
    assert_eq!(relay.ciphertext(&id), s.ciphertext(&id));
    assert_eq!(relay.encryption(), Some(SHARED));

    // A removal follows the kick; a rotation by any member.
    s.kick(&owner, &did(&member), 10).unwrap();
    s.write_control(
        &owner,
        ControlOp::Remove,
        Some(&did(&member)),
        b"rotate",
        11,
    )
    .unwrap();
    s.write_control(&owner, ControlOp::Update, None, b"again", 12)
        .unwrap();
    sync_pair(&mut s, &mut relay);
    assert_eq!(relay.controls().len(), 4);
}

fn err<T: std::fmt::Debug>(r: Result<T, tim_crdt::SpaceError>) -> String {
    r.unwrap_err().to_string()
}

#[test]
fn each_forbidden_encryption_write_is_refused_with_its_reason() {
    let (mut s, owner, member) = group();
    let (outsider, third) = (key(3), key(4));
    s.invite(&owner, &did(&third), 1_000, 20).unwrap();
    s.join(&third, 21).unwrap();

    // Text in an encrypted space.
    assert!(err(s.post(&member, "plain", 22)).contains("carries `ct`, not `text`"));
    // A second create; a create by a non-owner.
    assert!(err(s.write_control(&owner, ControlOp::Create, None, b"x", 23)).contains("once"));
    assert!(err(s.write_control(&member, ControlOp::Create, None, b"x", 24)).contains("the owner"));
    // Adding needs the invite permission; adding a non-member; removing a current member.
    assert!(
        err(s.write_control(&member, ControlOp::Add, Some(&did(&third)), b"x", 25))
            .contains("permission `invite`")
    );
    assert!(
        err(s.write_control(&owner, ControlOp::Add, Some(&did(&outsider)), b"x", 26))
            .contains("after its join")
    );
    assert!(
        err(s.write_control(&owner, ControlOp::Remove, Some(&did(&member)), b"x", 27))
            .contains("only after it left")
    );
    // A non-member writes nothing, keys included.
    assert!(err(s.publish_keys(&outsider, &[3; 32], b"b", 28)).contains("join the space first"));

    // Forged: another's keys; a changed identity; an edited control message; a control
    // message without its fields; two in one change.
    let keys_obj = root(&automerge::Automerge::load(&s.save()).unwrap(), "keys");
    let e = forge(&s, &member, &member, 30, |tx, _| {
        let k = tx
            .put_object(&keys_obj, did(&owner).to_string(), ObjType::Map)
            .unwrap();
        tx.put(&k, "identity", ScalarValue::Bytes(vec![9; 32]))
            .unwrap();
    });
    assert_refused(s.ingest(e), "only its own keys");
    let e = forge(&s, &member, &member, 31, |tx, d| {
        let (_, entry) = d.get(&keys_obj, did(&member).to_string()).unwrap().unwrap();
        tx.put(&entry, "identity", ScalarValue::Bytes(vec![9; 32]))
            .unwrap();
    });
    assert_refused(s.ingest(e), "set once");
    let e = forge(&s, &member, &member, 32, |tx, _| {
        let k = tx
            .put_object(&keys_obj, did(&member).to_string(), ObjType::Map)
            .unwrap();
        tx.put(&k, "identity", ScalarValue::Bytes(vec![9; 32]))
            .unwrap();
        tx.put(&k, "bundle", ScalarValue::Bytes(vec![9; 8]))
            .unwrap();
    });
    assert_refused(s.ingest(e), "never changes");
    let group_obj = root(&automerge::Automerge::load(&s.save()).unwrap(), "group");
    let e = forge(&s, &owner, &owner, 33, |tx, d| {
        let (_, first) = d.get(&group_obj, 0).unwrap().unwrap();
        tx.put(&first, "ctl", ScalarValue::Bytes(vec![0])).unwrap();
    });
    assert_refused(s.ingest(e), "never edited");
    let e = forge(&s, &owner, &owner, 34, |tx, _| {
        let c = tx.insert_object(&group_obj, 2, ObjType::Map).unwrap();
        tx.put(&c, "author", did(&owner).to_string()).unwrap();
        tx.put(&c, "op", "update").unwrap();
    });
    assert_refused(s.ingest(e), "needs `author`, `op` and `ctl`");
    let e = forge(&s, &owner, &owner, 35, |tx, _| {
        for i in 2..4 {
            let c = tx.insert_object(&group_obj, i, ObjType::Map).unwrap();
            tx.put(&c, "author", did(&owner).to_string()).unwrap();
            tx.put(&c, "op", "update").unwrap();
            tx.put(&c, "ctl", ScalarValue::Bytes(vec![1])).unwrap();
        }
    });
    assert_refused(s.ingest(e), "one control message at most");
    let e = forge(&s, &owner, &owner, 36, |tx, _| {
        tx.delete(&group_obj, 0).unwrap();
    });
    assert_refused(s.ingest(e), "never edited or deleted");
    assert_eq!(s.controls().len(), 2);
}

#[test]
fn public_spaces_hold_no_ciphertext_and_no_group() {
    let owner = key(1);
    let (mut s, _) = Space::create(&owner, "open", "", 1).unwrap();
    s.migrate(&owner, 3, 2).unwrap();
    assert_eq!(s.encryption(), None);
    let err = s.post_encrypted(&owner, b"x", 3).unwrap_err().to_string();
    assert!(err.contains("not end-to-end encrypted"), "{err}");
    let doc = automerge::Automerge::load(&s.save()).unwrap();
    let (timeline, group) = (root(&doc, "timeline"), root(&doc, "group"));
    let e = forge(&s, &owner, &owner, 4, |tx, _| {
        let m = tx.insert_object(&timeline, 0, ObjType::Map).unwrap();
        tx.put(&m, "author", did(&owner).to_string()).unwrap();
        tx.put(&m, "ct", ScalarValue::Bytes(vec![1, 2, 3])).unwrap();
    });
    assert_refused(s.ingest(e), "for end-to-end encrypted spaces only");
    let e = forge(&s, &owner, &owner, 5, |tx, _| {
        let c = tx.insert_object(&group, 0, ObjType::Map).unwrap();
        tx.put(&c, "op", "create").unwrap();
    });
    assert_refused(s.ingest(e), "for end-to-end encrypted spaces only");
    // And meta.encryption is set at the genesis only.
    let meta = root(&doc, "meta");
    let e = forge(&s, &owner, &owner, 6, |tx, _| {
        tx.put(&meta, "encryption", ENCRYPTION_SCHEME).unwrap();
    });
    assert_refused(s.ingest(e), "cannot be changed");
    assert_eq!(s.role_of(&did(&owner)), Some(Role::Owner));
}
