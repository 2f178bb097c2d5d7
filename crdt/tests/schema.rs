//! The extensible schema: a version 1 space reaches version 2 by a signed migration that every
//! replica judges alike; every other write at the root, and every migration to a version or
//! container a replica does not know, is refused with its typed reason; roles a space defines
//! are judged by rank and permissions.

use automerge::transaction::Transactable;
use automerge::{ObjType, ReadDoc, ScalarValue, ROOT};
use tim_crdt::schema::{self, GENESIS_VERSION, LATEST_VERSION};
use tim_crdt::test_utils::{forge, root, sync_pair};
use tim_crdt::{Effect, Permission, Permissions, Rejection, Role, Space, SpaceError, Writer};
use tim_protocol::{ChangeHash, Did, Envelope, SpaceId};

fn key(seed: u8) -> Writer {
    tim_crdt::test_utils::writer(seed)
}

fn did(k: &Writer) -> Did {
    Did::from_key(&k.verifying_key())
}

fn refusal(r: Result<tim_crdt::Applied, SpaceError>) -> Rejection {
    match r {
        Err(SpaceError::Refused(r)) => r,
        other => panic!("expected a refusal by the rules, got {other:?}"),
    }
}

fn role(name: &str) -> Role {
    Role::parse(name).unwrap()
}

/// A migration made by hand: `containers` made at the root, `meta.version` set to `version`.
fn forged_migration(
    s: &Space,
    by: &Writer,
    version: Option<u64>,
    containers: &[(&str, ObjType)],
) -> Envelope {
    forge(s, by, by, 50, |tx, d| {
        for (name, t) in containers {
            tx.put_object(ROOT, *name, *t).unwrap();
        }
        if let Some(v) = version {
            tx.put(root(d, "meta"), "version", ScalarValue::Uint(v))
                .unwrap();
        }
    })
}

/// Owner (1), admin (2) and member (3), on one replica, at schema version 1.
fn club() -> (Space, [Writer; 3]) {
    let keys = [key(1), key(2), key(3)];
    let (mut s, _) = Space::create(&keys[0], "club", "", 1).unwrap();
    for k in &keys[1..] {
        s.join(k, 2).unwrap();
    }
    s.set_role(&keys[0], &did(&keys[1]), Role::Admin, 3)
        .unwrap();
    (s, keys)
}

#[test]
fn a_v1_space_migrated_to_v2_by_its_owner_is_accepted_by_replicas_and_converges() {
    let (owner, member) = (key(1), key(2));
    let (mut a, _) = Space::create(&owner, "garden", "", 1).unwrap();
    assert_eq!(a.schema_version(), GENESIS_VERSION);
    assert_eq!(GENESIS_VERSION, 1);
    let mut b = Space::empty(a.id());
    let mut late = Space::empty(a.id());
    sync_pair(&mut a, &mut b);
    b.join(&member, 2).unwrap();
    sync_pair(&mut a, &mut b);

    // The owner migrates while the member, on another replica, posts (concurrent writes).
    let migration = a.migrate(&owner, 2, 3).unwrap();
    assert_eq!(migration.effects, vec![Effect::Migrated { from: 1, to: 2 }]);
    assert_eq!(a.schema_version(), 2);
    b.post(&member, "written at version 1", 3).unwrap();
    sync_pair(&mut a, &mut b);
    sync_pair(&mut b, &mut late);
    for s in [&a, &b, &late] {
        assert_eq!(s.heads(), a.heads());
        assert_eq!(s.schema_version(), 2);
        assert_eq!(s.timeline().len(), 1);
        assert!(s.roles().is_empty());
    }
    // A replica restarting from the stored changes reaches the same state.
    let reloaded = Space::load(a.id(), None, a.envelopes_in_order()).unwrap();
    assert_eq!(reloaded.heads(), a.heads());
    assert_eq!(reloaded.schema_version(), 2);
    // A second migration to the same version is refused before it is signed.
    assert!(matches!(
        a.migrate(&owner, 2, 4),
        Err(SpaceError::Invalid(_))
    ));
    assert!(matches!(
        a.migrate(&owner, LATEST_VERSION + 1, 4),
        Err(SpaceError::Invalid(_))
    ));
    // The new container is usable at once, and the change that uses it converges too.
    a.define_role(
        &owner,
        "scribe",
        250,
        Permissions::of(&[Permission::Post]),
        5,
    )
    .unwrap();
    sync_pair(&mut a, &mut b);
    assert_eq!(b.roles(), a.roles());
    assert_eq!(b.roles().len(), 1);
}

#[test]
fn migrations_and_root_writes_are_refused_with_their_typed_reasons() {
    let (mut s, [owner, admin, member]) = club();
    let heads = s.heads();

    // By a member (not allowed to migrate): locally, and forged.
    let r = refusal(s.migrate(&member, 2, 10));
    assert_eq!(r.code(), "unauthorized", "{r}");
    assert!(
        r.to_string()
            .contains("migrating the schema needs an admin"),
        "{r}"
    );
    let env = forged_migration(&s, &member, Some(2), &[("roles", ObjType::Map)]);
    assert_eq!(s.ingest(env).unwrap_err().code(), "unauthorized");

    // An unknown container, in a migration to a known version.
    let env = forged_migration(
        &s,
        &admin,
        Some(2),
        &[("roles", ObjType::Map), ("polls", ObjType::Map)],
    );
    match s.ingest(env) {
        Err(Rejection::UnknownContainer(name)) => assert_eq!(name, "polls"),
        other => panic!("expected unknown_container, got {other:?}"),
    }

    // A version this replica does not know: refused, typed, without blaming the sender.
    let env = forged_migration(
        &s,
        &owner,
        Some(LATEST_VERSION + 1),
        &[("roles", ObjType::Map), ("polls", ObjType::Map)],
    );
    let r = s.ingest(env).unwrap_err();
    assert!(
        matches!(r, Rejection::UnknownSchema { version } if version == LATEST_VERSION + 1),
        "{r:?}"
    );
    assert_eq!(r.code(), "unknown_schema");
    assert!(!r.blames_sender());

    // Root writes outside a migration: a container without the version, a scalar at the root,
    // a deleted root container.
    let env = forged_migration(&s, &owner, None, &[("roles", ObjType::Map)]);
    assert_eq!(s.ingest(env).unwrap_err().code(), "bad_migration");
    let env = forge(&s, &owner, &owner, 50, |tx, _| {
        tx.put(ROOT, "note", "hello").unwrap();
    });
    assert_eq!(s.ingest(env).unwrap_err().code(), "bad_migration");
    let env = forge(&s, &owner, &owner, 50, |tx, _| {
        tx.delete(ROOT, "ratings").unwrap();
    });
    assert_eq!(s.ingest(env).unwrap_err().code(), "bad_migration");

    // Malformed migrations: the version alone, a container of the wrong type, a container of
    // an earlier version, a container that is not empty, a version that does not rise.
    let env = forged_migration(&s, &owner, Some(2), &[]);
    let r = s.ingest(env).unwrap_err();
    assert!(r.to_string().contains("must also make roles"), "{r}");
    let env = forged_migration(&s, &owner, Some(2), &[("roles", ObjType::List)]);
    assert_eq!(s.ingest(env).unwrap_err().code(), "bad_migration");
    let env = forged_migration(
        &s,
        &owner,
        Some(2),
        &[("roles", ObjType::Map), ("ratings", ObjType::Map)],
    );
    assert_eq!(s.ingest(env).unwrap_err().code(), "bad_migration");
    let env = forge(&s, &owner, &owner, 50, |tx, d| {
        let roles = tx.put_object(ROOT, "roles", ObjType::Map).unwrap();
        tx.put_object(&roles, "scribe", ObjType::Map).unwrap();
        tx.put(root(d, "meta"), "version", ScalarValue::Uint(2))
            .unwrap();
    });
    assert_eq!(s.ingest(env).unwrap_err().code(), "bad_migration");
    let env = forged_migration(&s, &owner, Some(0), &[("roles", ObjType::Map)]);
    let r = s.ingest(env).unwrap_err();
    assert!(r.to_string().contains("raises it"), "{r}");
    assert_eq!(s.heads(), heads, "nothing refused may change the document");
    assert_eq!(s.schema_version(), 1);

    // A valid migration by an admin, made by hand, is accepted; then the same migration again
    // (the version no longer rises) is not.
    let env = forged_migration(&s, &admin, Some(2), &[("roles", ObjType::Map)]);
    s.ingest(env).unwrap();
    assert_eq!(s.schema_version(), 2);
    let env = forged_migration(&s, &owner, Some(2), &[("roles", ObjType::Map)]);
    assert_eq!(s.ingest(env).unwrap_err().code(), "bad_migration");
    // meta.version is never set outside a migration.
    let env = forge(&s, &owner, &owner, 60, |tx, d| {
        tx.put(
            root(d, "meta"),
            "version",
            ScalarValue::Uint(LATEST_VERSION + 1),
        )
        .unwrap();
    });
    assert_eq!(s.ingest(env).unwrap_err().code(), "unknown_schema");
}

#[test]
fn a_genesis_at_a_version_this_node_does_not_know_is_refused_with_a_typed_reason() {
    let owner = key(1);
    let mut doc = automerge::Automerge::new();
    doc.set_actor(owner.actor().clone());
    let mut tx = doc.transaction();
    let meta = tx.put_object(ROOT, "meta", ObjType::Map).unwrap();
    tx.put(&meta, "name", "future").unwrap();
    tx.put(&meta, "created_by", did(&owner).to_string())
        .unwrap();
    tx.put(&meta, "visibility", "public").unwrap();
    tx.put(&meta, "version", ScalarValue::Uint(LATEST_VERSION + 1))
        .unwrap();
    let members = tx.put_object(ROOT, "members", ObjType::Map).unwrap();
    let entry = tx
        .put_object(&members, did(&owner).to_string(), ObjType::Map)
        .unwrap();
    tx.put(&entry, "role", "owner").unwrap();
    for c in schema::CONTAINERS.iter().skip(2) {
        tx.put_object(ROOT, c.name, c.kind.obj_type()).unwrap();
    }
    tx.put_object(ROOT, "polls", ObjType::Map).unwrap();
    tx.commit();
    let change = doc.get_last_local_change().unwrap();
    let hash = ChangeHash::from(change.hash().0);
    let id = SpaceId::from_genesis(&hash);
    let env = Envelope::sign(id, change.raw_bytes().to_vec(), &hash, owner.signing_key());
    let mut s = Space::empty(id);
    let r = s.ingest(env).unwrap_err();
    assert!(
        matches!(r, Rejection::UnknownSchema { version } if version == LATEST_VERSION + 1),
        "{r:?}"
    );
    assert!(!s.is_ready());
}

#[test]
fn custom_roles_are_judged_by_rank_and_permissions() {
    let (mut s, [owner, admin, member]) = club();
    let (scribe_key, curator_key) = (key(4), key(5));
    s.join(&scribe_key, 4).unwrap();
    s.join(&curator_key, 4).unwrap();
    let (scribe, curator) = (did(&scribe_key), did(&curator_key));
    let post_rate_moderate =
        Permissions::of(&[Permission::Post, Permission::Rate, Permission::Moderate]);

    // At version 1 there is nowhere to define a role, and an undefined role is not given.
    assert!(matches!(
        s.define_role(&owner, "scribe", 250, post_rate_moderate, 5),
        Err(SpaceError::Invalid(_))
    ));
    let r = refusal(s.set_role(&owner, &scribe, role("scribe"), 5));
    assert!(r.to_string().contains("not defined"), "{r}");

    s.migrate(&owner, 2, 6).unwrap();
    // Names of built-in roles are not redefined; bad names are refused before signing.
    assert!(matches!(
        s.define_role(&owner, "admin", 10, Permissions::NONE, 7),
        Err(SpaceError::Invalid(_))
    ));
    assert!(matches!(
        s.define_role(&owner, "Bad Name", 10, Permissions::NONE, 7),
        Err(SpaceError::Invalid(_))
    ));
    // A member may not define roles; an admin only below its rank and with its permissions.
    let r = refusal(s.define_role(&member, "scribe", 150, Permissions::NONE, 7));
    assert!(
        r.to_string().contains("defining roles needs an admin"),
        "{r}"
    );
    let r = refusal(s.define_role(&admin, "deputy", 400, Permissions::NONE, 7));
    assert!(r.to_string().contains("below its own rank"), "{r}");
    let defined = s
        .define_role(&admin, "scribe", 250, post_rate_moderate, 8)
        .unwrap();
    assert_eq!(
        defined.effects,
        vec![Effect::RoleDefined {
            name: "scribe".parse().unwrap()
        }]
    );
    let curator_may = Permissions::of(&[Permission::Post, Permission::Roles, Permission::Kick]);
    s.define_role(&owner, "curator", 350, curator_may, 9)
        .unwrap();
    assert_eq!(s.roles().len(), 2);
    assert_eq!(s.role_rank(&role("scribe")), Some(250));
    assert_eq!(s.role_rank(&role("nobody")), None);
    assert_eq!(s.role_rank(&Role::Admin), Some(400));

    // Assigning them.
    s.set_role(&admin, &scribe, role("scribe"), 10).unwrap();
    s.set_role(&owner, &curator, role("curator"), 10).unwrap();
    assert_eq!(s.role_of(&scribe), Some(role("scribe")));
    assert_eq!(
        s.member(&scribe).unwrap().role,
        "scribe",
        "the API shows the role's name"
    );

    // The scribe moderates (its permissions) but does not invite (it lacks the permission).
    let (_, by_member) = s.post(&member, "hello", 11).unwrap();
    s.delete_message(&scribe_key, &by_member, 12).unwrap();
    let r = refusal(s.invite(&scribe_key, &did(&key(9)), 100, 12));
    assert!(r.to_string().contains("inviting needs an admin"), "{r}");

    // The curator (rank 350, may set roles and kick) acts only below its rank.
    s.set_role(&curator_key, &did(&member), Role::Moderator, 13)
        .unwrap();
    s.set_role(&curator_key, &scribe, Role::Member, 13).unwrap();
    s.set_role(&curator_key, &scribe, role("scribe"), 13)
        .unwrap();
    let r = refusal(s.set_role(&curator_key, &scribe, Role::Admin, 14));
    assert!(r.to_string().contains("cannot make anyone an admin"), "{r}");
    let r = refusal(s.set_role(&curator_key, &scribe, role("curator"), 14));
    assert!(
        r.to_string().contains("cannot make anyone a curator"),
        "{r}"
    );
    let r = refusal(s.kick(&curator_key, &did(&admin), 14));
    assert!(r.to_string().contains("who ranks as high"), "{r}");
    // It may define roles below its rank, with permissions it has, never others.
    s.define_role(
        &curator_key,
        "helper",
        120,
        Permissions::of(&[Permission::Post]),
        15,
    )
    .unwrap();
    let r = refusal(s.define_role(
        &curator_key,
        "cleaner",
        120,
        Permissions::of(&[Permission::Moderate]),
        15,
    ));
    assert!(
        r.to_string().contains("permissions it does not have"),
        "{r}"
    );
    let r = refusal(s.define_role(&curator_key, "curator", 100, Permissions::NONE, 15));
    assert!(r.to_string().contains("cannot redefine `curator`"), "{r}");
    // A role without the `roles` permission changes nobody's role.
    let r = refusal(s.set_role(&scribe_key, &curator, Role::Member, 15));
    assert!(
        r.to_string().contains("changing roles needs an admin"),
        "{r}"
    );
    s.kick(&curator_key, &scribe, 16).unwrap();
    s.join(&scribe_key, 17).unwrap();
    s.set_role(&admin, &scribe, role("scribe"), 18).unwrap();

    // Redefining a role changes what its holders may do from then on.
    s.define_role(&admin, "scribe", 250, Permissions::NONE, 19)
        .unwrap();
    let r = s.post(&scribe_key, "still here?", 20).unwrap_err();
    assert!(r.to_string().contains("posting needs a member"), "{r}");

    // Forged: a definition without its permissions, an edit of an existing definition, a
    // removal, a rank outside the range.
    let env = forge(&s, &owner, &owner, 30, |tx, d| {
        let def = tx
            .put_object(root(d, "roles"), "clerk", ObjType::Map)
            .unwrap();
        tx.put(&def, "rank", ScalarValue::Uint(150)).unwrap();
    });
    let r = s.ingest(env).unwrap_err();
    assert!(r.to_string().contains("needs both `rank` and `may`"), "{r}");
    let env = forge(&s, &owner, &owner, 30, |tx, d| {
        let def = d.get(root(d, "roles"), "scribe").unwrap().unwrap().1;
        tx.put(&def, "rank", ScalarValue::Uint(150)).unwrap();
    });
    let r = s.ingest(env).unwrap_err();
    assert!(r.to_string().contains("defined whole"), "{r}");
    let env = forge(&s, &owner, &owner, 30, |tx, d| {
        tx.delete(root(d, "roles"), "scribe").unwrap();
    });
    let r = s.ingest(env).unwrap_err();
    assert!(r.to_string().contains("never removed"), "{r}");
    let env = forge(&s, &owner, &owner, 30, |tx, d| {
        let def = tx
            .put_object(root(d, "roles"), "clerk", ObjType::Map)
            .unwrap();
        tx.put(&def, "rank", ScalarValue::Uint(0)).unwrap();
        tx.put(&def, "may", "[]").unwrap();
    });
    assert_eq!(s.ingest(env).unwrap_err().code(), "unauthorized");

    // Every replica reaches the same verdicts and state.
    let mut other = Space::empty(s.id());
    sync_pair(&mut s, &mut other);
    assert_eq!(other.heads(), s.heads());
    assert_eq!(other.roles(), s.roles());
    assert_eq!(other.members(), s.members());
}

/// Two admins migrate concurrently on partitioned replicas and each defines a role in the
/// `roles` map its own migration made. After the partition heals every replica is at version
/// 2 and sees both roles (readers take the union of the concurrent copies).
#[test]
fn two_concurrent_migrations_converge_and_keep_both_roles() {
    let (owner, admin, member) = (key(1), key(2), key(3));
    let (mut a, _) = Space::create(&owner, "twice", "", 1).unwrap();
    let mut b = Space::empty(a.id());
    sync_pair(&mut a, &mut b);
    b.join(&admin, 2).unwrap();
    b.join(&member, 2).unwrap();
    sync_pair(&mut a, &mut b);
    a.set_role(&owner, &did(&admin), Role::Admin, 3).unwrap();
    sync_pair(&mut a, &mut b);

    a.migrate(&owner, 2, 4).unwrap();
    b.migrate(&admin, 2, 4).unwrap();
    a.define_role(
        &owner,
        "scribe",
        250,
        Permissions::of(&[Permission::Post]),
        5,
    )
    .unwrap();
    b.define_role(
        &admin,
        "greeter",
        150,
        Permissions::of(&[Permission::Post]),
        5,
    )
    .unwrap();
    b.set_role(&admin, &did(&member), role("greeter"), 6)
        .unwrap();
    sync_pair(&mut a, &mut b);
    for s in [&a, &b] {
        assert_eq!(s.heads(), a.heads());
        assert_eq!(s.schema_version(), 2);
        let names: Vec<String> = s.roles().iter().map(|r| r.name.to_string()).collect();
        assert_eq!(names, ["greeter", "scribe"]);
        assert_eq!(s.role_rank(&s.role_of(&did(&member)).unwrap()), Some(150));
    }
    // After the merge, either role is given and used on either replica.
    a.set_role(&owner, &did(&member), role("scribe"), 7)
        .unwrap();
    sync_pair(&mut a, &mut b);
    b.post(&member, "as a scribe", 8).unwrap();
    sync_pair(&mut a, &mut b);
    assert_eq!(a.heads(), b.heads());
    assert_eq!(a.timeline().len(), 1);
    // A third migration to the same version is refused now: the version no longer rises.
    let env = forged_migration(&a, &owner, Some(2), &[("roles", ObjType::Map)]);
    assert_eq!(a.ingest(env).unwrap_err().code(), "bad_migration");
}
