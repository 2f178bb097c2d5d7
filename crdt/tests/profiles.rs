//! Timites' profiles (schema version 11, docs/protocol.md §9.13.1): each member writes its
//! own, whole; every forbidden write is refused with its reason, by every replica alike.

use automerge::transaction::Transactable;
use automerge::{Automerge, ObjId, ObjType, ReadDoc, ScalarValue};
use ed25519_dalek::SigningKey;
use tim_crdt::profiles::{Avatar, Profile, AVATAR, MAX_AVATAR_BYTES, PROFILE};
use tim_crdt::schema::{MESSAGES_V2, PEOPLE};
use tim_crdt::test_utils::writer as key;
use tim_crdt::test_utils::{assert_refused, assert_refused_locally, forge, root, sync_pair};
use tim_crdt::{Space, Writer};
use tim_protocol::Did;

/// The 8-byte PNG signature followed by `n - 8` zero bytes.
fn png(n: usize) -> Vec<u8> {
    let mut b = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
    b.resize(n, 0);
    b
}

fn profile(name: &str, avatar: Option<Avatar>) -> Profile {
    Profile {
        name: name.into(),
        bio: Some("grows tomatoes".into()),
        avatar,
        at: 0,
    }
}

/// A space at `version` with its owner (1) and a member (2), the member's message posted.
fn space_at(version: u64) -> (Space, Writer, Writer, String) {
    let (owner, member) = (key(1), key(2));
    let (mut s, _) = Space::create(&owner, "talk", "", 1).unwrap();
    s.migrate(&owner, version, 2).unwrap();
    s.join(&member, 3).unwrap();
    let (_, id) = s.post(&member, "Hello World", 4).unwrap();
    (s, owner, member, id)
}

/// `did`'s member entry in a copy of the document.
fn entry(d: &Automerge, did: &Did) -> ObjId {
    d.get(root(d, "members"), did.to_string())
        .unwrap()
        .unwrap()
        .1
}

/// Forges a whole profile map with `name` and `at` into `target`'s entry, as `author`.
fn forge_profile(s: &Space, author: &Writer, target: Did, at: i64) -> tim_protocol::Envelope {
    forge(s, author, author, at, |tx, d| {
        let p = tx
            .put_object(entry(d, &target), PROFILE, ObjType::Map)
            .unwrap();
        tx.put(&p, "name", "Mallory").unwrap();
        tx.put(&p, "at", ScalarValue::Timestamp(at)).unwrap();
    })
}

#[test]
fn a_profile_reaches_another_replica_as_member_name_and_author_name() {
    let (mut a, _owner, member, id) = space_at(PEOPLE);
    let mut b = Space::empty(a.id());
    let avatar = Avatar {
        mime: "image/png".into(),
        data: png(100),
    };
    a.set_member_profile(&member, &profile("  Ann  ", Some(avatar.clone())), 10)
        .unwrap();
    sync_pair(&mut a, &mut b);

    let p = b.member_profile(&member.did()).unwrap();
    assert_eq!(p.name, "Ann", "the name is kept trimmed");
    assert_eq!(p.bio.as_deref(), Some("grows tomatoes"));
    assert_eq!(p.avatar, Some(avatar));
    assert_eq!(p.at, 10);
    assert_eq!(
        b.member(&member.did()).unwrap().name.as_deref(),
        Some("Ann")
    );
    assert_eq!(b.message(&id).unwrap().author_name.as_deref(), Some("Ann"));
    let owner_view = b.members().into_iter().find(|m| m.did != member.did());
    assert_eq!(owner_view.unwrap().name, None, "the owner set no profile");
}

#[test]
fn a_timite_writes_only_its_own_profile() {
    let (mut s, owner, member, _) = space_at(PEOPLE);
    // The owner, who may moderate, writes a profile into the member's entry.
    let e = forge_profile(&s, &owner, member.did(), 10);
    assert_refused(s.ingest(e), "only its own profile");
    // And the member into the owner's.
    let e = forge_profile(&s, &member, owner.did(), 10);
    assert_refused(s.ingest(e), "only its own profile");
    assert_eq!(s.member_profile(&owner.did()), None);
    // Its own, whole, is let in.
    let e = forge_profile(&s, &member, member.did(), 10);
    s.ingest(e).unwrap();
    assert_eq!(s.member_name(&member.did()).as_deref(), Some("Mallory"));
}

#[test]
fn a_profile_is_written_whole_never_edited() {
    let (mut s, _owner, member, _) = space_at(PEOPLE);
    s.set_member_profile(&member, &profile("Ann", None), 10)
        .unwrap();
    let e = forge(&s, &member, &member, 11, |tx, d| {
        let p = d.get(entry(d, &member.did()), PROFILE).unwrap().unwrap().1;
        tx.put(&p, "name", "Annie").unwrap();
    });
    assert_refused(s.ingest(e), "written whole in one change");
    // A profile without its `at`, or with another time than its change's.
    let e = forge(&s, &member, &member, 12, |tx, d| {
        let p = tx
            .put_object(entry(d, &member.did()), PROFILE, ObjType::Map)
            .unwrap();
        tx.put(&p, "name", "Annie").unwrap();
    });
    assert_refused(s.ingest(e), "with its `name` and `at`");
    let e = forge(&s, &member, &member, 12, |tx, d| {
        let p = tx
            .put_object(entry(d, &member.did()), PROFILE, ObjType::Map)
            .unwrap();
        tx.put(&p, "name", "Annie").unwrap();
        tx.put(&p, "at", ScalarValue::Timestamp(99)).unwrap();
    });
    assert_refused(s.ingest(e), "time of the change");
    // A name of control characters or too long.
    assert_refused_locally(
        s.set_member_profile(&member, &profile("a\u{7}b", None), 13),
        "control characters",
    );
    assert_refused_locally(
        s.set_member_profile(&member, &profile(&"x".repeat(65), None), 13),
        "1 to 64 characters",
    );
    assert_eq!(s.member_name(&member.did()).as_deref(), Some("Ann"));
}

/// Forges `member`'s profile with an avatar of `mime` and `data`.
fn forged_avatar(s: &Space, member: &Writer, mime: &str, data: Vec<u8>) -> tim_protocol::Envelope {
    let did = member.did();
    forge(s, member, member, 10, move |tx, d| {
        let p = tx
            .put_object(entry(d, &did), PROFILE, ObjType::Map)
            .unwrap();
        tx.put(&p, "name", "Ann").unwrap();
        tx.put(&p, "at", ScalarValue::Timestamp(10)).unwrap();
        let a = tx.put_object(&p, AVATAR, ObjType::Map).unwrap();
        tx.put(&a, "mime", mime).unwrap();
        tx.put(&a, "data", ScalarValue::Bytes(data)).unwrap();
    })
}

#[test]
fn avatars_are_bounded_and_match_their_type() {
    let (mut s, _owner, member, _) = space_at(PEOPLE);
    let big = Avatar {
        mime: "image/png".into(),
        data: png(MAX_AVATAR_BYTES + 1),
    };
    assert_refused_locally(
        s.set_member_profile(&member, &profile("Ann", Some(big)), 10),
        "at most 32768 bytes",
    );
    let e = forged_avatar(&s, &member, "image/png", png(MAX_AVATAR_BYTES + 1));
    assert_refused(s.ingest(e), "at most 32768 bytes");
    let e = forged_avatar(&s, &member, "image/jpeg", png(64));
    assert_refused(s.ingest(e), "are not image/jpeg");
    let e = forged_avatar(&s, &member, "image/svg+xml", b"<svg/>".to_vec());
    assert_refused(s.ingest(e), "an avatar is one of");
    assert_eq!(s.member_profile(&member.did()), None);
    let e = forged_avatar(&s, &member, "image/png", png(64));
    s.ingest(e).unwrap();
    assert_eq!(
        s.member_profile(&member.did())
            .unwrap()
            .avatar
            .unwrap()
            .data,
        png(64)
    );
}

#[test]
fn profiles_need_schema_version_11() {
    let (mut s, owner, member, _) = space_at(MESSAGES_V2);
    assert_refused_locally(
        s.set_member_profile(&member, &profile("Ann", None), 10),
        "profiles from version 11",
    );
    // A forged one is judged as any key of one's own entry, as nodes that do not know version
    // 11 judge it (they agree on every verdict), and shown nowhere.
    let e = forge_profile(&s, &member, member.did(), 10);
    s.ingest(e).unwrap();
    assert_eq!(s.member(&member.did()).unwrap().name, None);
    assert_eq!(s.member_profile(&member.did()), None);
    // Another's profile is refused below version 11 too (a timite edits only its own entry).
    let e = forge_profile(&s, &member, owner.did(), 11);
    assert_refused(s.ingest(e), "only its own member entry");
}

#[test]
fn two_concurrent_profiles_of_one_timite_converge_on_the_later_at() {
    let (mut a, _owner, member, id) = space_at(PEOPLE);
    let mut b = Space::empty(a.id());
    sync_pair(&mut a, &mut b);
    // The same key in another session (a second device): a different actor.
    let other_device = Writer::new(SigningKey::from_bytes(&[2; 32]), [9; 16]);
    assert_eq!(other_device.did(), member.did());
    b.set_member_profile(&other_device, &profile("Annie", None), 20)
        .unwrap();
    a.set_member_profile(&member, &profile("Ann", None), 10)
        .unwrap();
    sync_pair(&mut a, &mut b);
    for s in [&a, &b] {
        assert_eq!(s.member_name(&member.did()).as_deref(), Some("Annie"));
        assert_eq!(
            s.message(&id).unwrap().author_name.as_deref(),
            Some("Annie")
        );
    }
    // Equal times: both replicas show Automerge's pick, the same one.
    let (mut a, _owner, member, _) = space_at(PEOPLE);
    let mut b = Space::empty(a.id());
    sync_pair(&mut a, &mut b);
    let other_device = Writer::new(SigningKey::from_bytes(&[2; 32]), [9; 16]);
    a.set_member_profile(&member, &profile("Ann", None), 30)
        .unwrap();
    b.set_member_profile(&other_device, &profile("Annie", None), 30)
        .unwrap();
    sync_pair(&mut a, &mut b);
    assert_eq!(a.member_name(&member.did()), b.member_name(&member.did()));
    assert!(a.member_name(&member.did()).is_some());
}

#[test]
fn a_profile_write_has_the_profile_set_effect_on_every_replica() {
    let (mut a, _owner, member, _) = space_at(PEOPLE);
    let mut b = Space::empty(a.id());
    sync_pair(&mut a, &mut b);
    let applied = a
        .set_member_profile(&member, &profile("Ann", None), 10)
        .unwrap();
    let effect = tim_crdt::Effect::ProfileSet { did: member.did() };
    assert!(applied.effects.contains(&effect), "{:?}", applied.effects);
    let ingested = b.ingest(applied.envelope.clone()).unwrap();
    let tim_crdt::Ingested::Applied { applied: on_b, .. } = ingested else {
        panic!("{ingested:?}");
    };
    assert!(on_b.iter().any(|x| x.effects.contains(&effect)), "{on_b:?}");
}
