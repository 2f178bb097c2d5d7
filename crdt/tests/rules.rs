//! The rule engine: every forbidden act is refused with its reason on every replica, and
//! concurrent changes get the same verdict everywhere.

use automerge::transaction::Transactable;
use automerge::{ObjType, ReadDoc};
use tim_crdt::test_utils::{assert_refused, forge, root, sync_pair};
use tim_crdt::Writer;
use tim_crdt::{Rejection, Role, Space, Visibility};
use tim_protocol::{Did, SpaceId};

fn key(seed: u8) -> Writer {
    tim_crdt::test_utils::writer(seed)
}

fn did(k: &Writer) -> Did {
    Did::from_key(&k.verifying_key())
}

/// A space with owner (1), admin (2), moderator (3) and member (4), on one replica.
fn community() -> (Space, [Writer; 4]) {
    let keys = [key(1), key(2), key(3), key(4)];
    let (mut s, _) = Space::create(&keys[0], "club", "", 1).unwrap();
    for k in &keys[1..] {
        s.join(k, 2).unwrap();
    }
    s.set_role(&keys[0], &did(&keys[1]), Role::Admin, 3)
        .unwrap();
    s.set_role(&keys[1], &did(&keys[2]), Role::Moderator, 4)
        .unwrap();
    (s, keys)
}

#[test]
fn the_role_table_holds() {
    let (mut s, [owner, admin, moderator, member]) = community();
    let (_, by_member) = s.post(&member, "hello", 10).unwrap();
    let (_, by_owner) = s.post(&owner, "welcome", 11).unwrap();

    // A member cannot delete another's message; a moderator can; an author can delete its own.
    assert!(s
        .delete_message(&member, &by_owner, 12)
        .unwrap_err()
        .to_string()
        .contains("needs a moderator"));
    s.delete_message(&moderator, &by_owner, 13).unwrap();
    s.delete_message(&member, &by_member, 14).unwrap();
    assert_eq!(s.message_count(), 0);

    // Roles: admins set roles below admin; only the owner makes admins; nobody makes an owner.
    let err = s
        .set_role(&member, &did(&member), Role::Admin, 15)
        .unwrap_err()
        .to_string();
    assert!(err.contains("changing roles needs an admin"), "{err}");
    let err = s
        .set_role(&admin, &did(&member), Role::Admin, 16)
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot make anyone an admin"), "{err}");
    let err = s
        .set_role(&admin, &did(&owner), Role::Member, 17)
        .unwrap_err()
        .to_string();
    assert!(err.contains("who ranks as high"), "{err}");
    let err = s
        .set_role(&owner, &did(&admin), Role::Owner, 18)
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot make anyone an owner"), "{err}");
    s.set_role(&owner, &did(&member), Role::Guest, 19).unwrap();
    assert!(s
        .post(&member, "can a guest post?", 20)
        .unwrap_err()
        .to_string()
        .contains("posting needs a member"));
    s.set_role(&admin, &did(&member), Role::Member, 21).unwrap();
    s.post(&member, "back", 22).unwrap();

    // Kick: the member is out and may join again (public); ban: nothing at all any more.
    s.kick(&admin, &did(&member), 23).unwrap();
    assert!(s
        .post(&member, "still here?", 24)
        .unwrap_err()
        .to_string()
        .contains("not a member"));
    s.join(&member, 25).unwrap();
    s.set_role(&admin, &did(&member), Role::Banned, 26).unwrap();
    assert!(s
        .post(&member, "banned now", 27)
        .unwrap_err()
        .to_string()
        .contains("banned"));
    assert!(
        s.join(&member, 28).is_err(),
        "a banned timite cannot join again"
    );
    assert_eq!(s.role_of(&did(&member)), Some(Role::Banned));
    // Meta: admins only.
    let err = s
        .set_role(&moderator, &did(&admin), Role::Member, 29)
        .unwrap_err()
        .to_string();
    assert!(err.contains("needs an admin"), "{err}");
}

#[test]
fn each_forbidden_act_of_a_member_is_refused_with_its_reason() {
    let (mut s, [owner, _admin, _moderator, member]) = community();
    let (_, owners) = s.post(&owner, "owner's words", 30).unwrap();
    let (_, _mine) = s.post(&member, "member's words", 31).unwrap();
    let before = s.heads();

    // Edit another's message.
    let env = forge(&s, &member, &member, 40, |tx, d| {
        let (obj, _) = d.import(&owners).unwrap();
        tx.put(&obj, "text", "rewritten").unwrap();
    });
    assert_refused(s.ingest(env), "only a message's author may edit it");
    // Promote themself.
    let env = forge(&s, &member, &member, 41, |tx, d| {
        let entry = d
            .get(root(d, "members"), did(&member).to_string())
            .unwrap()
            .unwrap()
            .1;
        tx.put(&entry, "role", "admin").unwrap();
    });
    assert_refused(s.ingest(env), "changing roles needs an admin");
    // Change meta.
    let env = forge(&s, &member, &member, 42, |tx, d| {
        tx.put(root(d, "meta"), "name", "mine now").unwrap();
    });
    assert_refused(s.ingest(env), "changing the space's meta needs an admin");
    // Forge the author field.
    let env = forge(&s, &member, &member, 43, |tx, d| {
        let tl = root(d, "timeline");
        let m = tx.insert_object(&tl, d.length(&tl), ObjType::Map).unwrap();
        tx.put(&m, "author", did(&owner).to_string()).unwrap();
        tx.put(&m, "text", "the owner says so").unwrap();
    });
    assert_refused(s.ingest(env), "`author` field that is not its own DID");
    // Reuse another actor id: a change with the owner's actor, signed by the member.
    let env = forge(&s, &owner, &member, 44, |tx, d| {
        let tl = root(d, "timeline");
        tx.insert_object(&tl, d.length(&tl), ObjType::Map).unwrap();
    });
    assert!(matches!(
        s.ingest(env),
        Err(Rejection::ActorMismatch { .. })
    ));
    // Replay a valid change into another space: the signature binds the space id.
    let (mut other, _) = Space::create(&owner, "elsewhere", "", 45).unwrap();
    let valid = forge(&s, &member, &member, 46, |tx, d| {
        let tl = root(d, "timeline");
        tx.insert_object(&tl, d.length(&tl), ObjType::Map).unwrap();
    });
    assert_refused(other.ingest(valid.clone()), "is for space");
    let mut replayed = valid;
    replayed.space = other.id();
    assert!(matches!(
        other.ingest(replayed),
        Err(Rejection::Envelope(_))
    ));
    // Post after being banned.
    s.set_role(&owner, &did(&member), Role::Banned, 47).unwrap();
    let env = forge(&s, &member, &member, 48, |tx, d| {
        let tl = root(d, "timeline");
        tx.insert_object(&tl, d.length(&tl), ObjType::Map).unwrap();
    });
    assert_refused(s.ingest(env), "banned timites may not write");
    assert_eq!(s.timeline().len(), 2);
    assert_ne!(s.heads(), before, "only the ban itself was added");
    let _ = SpaceId::from([0; 32]);
}

#[test]
fn invite_only_spaces_admit_only_holders_of_an_unused_unexpired_invite() {
    let (owner, guest, stranger, late) = (key(1), key(2), key(3), key(4));
    let (mut s, _) =
        Space::create_with(&owner, "private", "", Visibility::InviteOnly, None, 0).unwrap();
    let err = s.join(&stranger, 10).unwrap_err().to_string();
    assert!(err.contains("invite-only"), "{err}");
    s.invite(&owner, &did(&guest), 1_000, 20).unwrap();
    s.join(&guest, 30).unwrap();
    assert_eq!(s.role_of(&did(&guest)), Some(Role::Member));
    // Single use: once kicked, the same invite does not let it back in.
    s.kick(&owner, &did(&guest), 40).unwrap();
    let err = s.join(&guest, 50).unwrap_err().to_string();
    assert!(err.contains("already used"), "{err}");
    // Expiry, judged at the time stamped on the join.
    s.invite(&owner, &did(&late), 100, 60).unwrap();
    let err = s.join(&late, 101).unwrap_err().to_string();
    assert!(err.contains("expired"), "{err}");
    // Only admins invite.
    s.invite(&owner, &did(&late), 10_000, 70).unwrap();
    s.join(&late, 80).unwrap();
    let err = s
        .invite(&late, &did(&stranger), 10_000, 90)
        .unwrap_err()
        .to_string();
    assert!(err.contains("inviting needs an admin"), "{err}");
}

/// The rule under concurrency: a change is judged at its own causal past. Posts made by a
/// member who had not yet seen its ban stand on every replica; once the ban is in a post's
/// causal past, that post is refused everywhere.
#[test]
fn a_ban_concurrent_with_posts_on_a_partitioned_replica_is_resolved_the_same_everywhere() {
    let (admin, member) = (key(1), key(2));
    let (mut a, _) = Space::create(&admin, "split", "", 0).unwrap();
    let mut m = Space::empty(a.id());
    let mut witness = Space::empty(a.id());
    sync_pair(&mut a, &mut m);
    m.join(&member, 1).unwrap();
    sync_pair(&mut a, &mut m);
    sync_pair(&mut a, &mut witness);

    // Partition: the admin bans the member; the member, unaware, posts twice.
    a.set_role(&admin, &did(&member), Role::Banned, 10).unwrap();
    m.post(&member, "posted before I knew (1)", 11).unwrap();
    m.post(&member, "posted before I knew (2)", 12).unwrap();
    // Heal, in different orders for different replicas.
    sync_pair(&mut m, &mut witness);
    sync_pair(&mut a, &mut m);
    sync_pair(&mut a, &mut witness);
    for s in [&a, &m, &witness] {
        assert_eq!(s.heads(), a.heads());
        assert_eq!(s.timeline().len(), 2, "both concurrent posts stand");
        assert_eq!(s.role_of(&did(&member)), Some(Role::Banned));
    }
    // Now the ban is in the member's causal past: its next post is refused on every replica.
    let env = forge(&m, &member, &member, 13, |tx, d| {
        let tl = root(d, "timeline");
        tx.insert_object(&tl, d.length(&tl), ObjType::Map).unwrap();
    });
    for s in [&mut a, &mut witness] {
        assert_refused(s.ingest(env.clone()), "banned");
    }
    assert!(m.post(&member, "after the ban", 14).is_err());
}

/// A batch (as sync delivers) holding a refused change: the refused change and everything
/// built on it are refused, the rest applied, and the document ends exactly as if the refused
/// changes had never arrived.
#[test]
fn a_batch_with_a_refused_change_keeps_only_what_the_rules_allow() {
    let (owner, member, other, stranger) = (key(1), key(2), key(3), key(9));
    let (mut origin, _) = Space::create(&owner, "batch", "", 0).unwrap();
    origin.join(&member, 1).unwrap();
    origin.join(&other, 1).unwrap();
    let mut replica = Space::empty(origin.id());
    sync_pair(&mut origin, &mut replica);

    let (good1, _) = origin.post(&member, "good one", 2).unwrap();
    let bad = forge(&origin, &stranger, &stranger, 3, |tx, d| {
        let tl = root(d, "timeline");
        tx.insert_object(&tl, d.length(&tl), ObjType::Map).unwrap();
    });
    // Another member builds on the stranger's change (as a confused or hostile node might).
    let child = {
        let mut doc = automerge::Automerge::load(&origin.save()).unwrap();
        doc.apply_changes([automerge::Change::from_bytes(bad.change.clone()).unwrap()])
            .unwrap();
        doc.set_actor(automerge::ActorId::from(
            other.verifying_key().as_bytes().as_slice(),
        ));
        let tl = root(&doc, "timeline");
        let mut tx = doc.transaction();
        let len = tx.length(&tl);
        tx.insert_object(&tl, len, ObjType::Map).unwrap();
        tx.commit();
        let c = doc.get_last_local_change().unwrap();
        tim_protocol::Envelope::sign(
            origin.id(),
            c.raw_bytes().to_vec(),
            &tim_protocol::ChangeHash::from(c.hash().0),
            other.signing_key(),
        )
    };
    let (good2, _) = origin.post(&member, "good two", 4).unwrap();

    let out = replica.ingest_batch(vec![child, good1.envelope, bad, good2.envelope]);
    assert_eq!(out.applied.len(), 2, "{:?}", out.rejected);
    assert_eq!(out.rejected.len(), 2);
    let reasons: Vec<String> = out.rejected.iter().map(|(_, r)| r.to_string()).collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("builds on a refused change")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("join the space first")),
        "{reasons:?}"
    );
    assert_eq!(replica.heads(), origin.heads());
    assert_eq!(replica.timeline(), origin.timeline());
}
