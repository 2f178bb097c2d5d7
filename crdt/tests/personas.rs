//! Published personas (schema version 7, docs/agents.md "Publishing personas"): a member's
//! persona is content-addressed and reaches another replica byte for byte; a non-member, a
//! wrong id, an oversize TOML, a second put of an id and any change to an entry are refused
//! with their reasons; the author and an admin delete, another member does not; a space below
//! version 7 has no personas.

use automerge::transaction::Transactable;
use automerge::{ObjType, ScalarValue};
use tim_crdt::personas::{persona_id, MAX_TOML_BYTES};
use tim_crdt::schema;
use tim_crdt::test_utils::{assert_refused, forge, root, sync_pair};
use tim_crdt::{Role, Space, SpaceError, Writer};
use tim_protocol::Did;

const TOML: &str = "name = \"Greta\"\ndescription = \"Greets newcomers\"\ntemplate = \"greeter\"\n";

fn key(seed: u8) -> Writer {
    tim_crdt::test_utils::writer(seed)
}

fn did(k: &Writer) -> Did {
    Did::from_key(&k.verifying_key())
}

/// A public space at schema version 7: the owner (1), an admin (2), members alice (3) and
/// bob (4); eve (5) never joins.
fn space() -> (Space, [Writer; 4]) {
    let [owner, admin, alice, bob] = [key(1), key(2), key(3), key(4)];
    let (mut s, _) = Space::create(&owner, "personas", "", 1).unwrap();
    s.migrate(&owner, schema::AGENTS, 2).unwrap();
    for (i, k) in [&admin, &alice, &bob].into_iter().enumerate() {
        s.join(k, 3 + i as u64).unwrap();
    }
    s.set_role(&owner, &did(&admin), Role::Admin, 10).unwrap();
    (s, [owner, admin, alice, bob])
}

/// A change by `who` that puts a whole persona entry under `id` holding `toml`.
fn put_persona(s: &Space, who: &Writer, id: &str, toml: &str, at: i64) -> tim_protocol::Envelope {
    let author = did(who).to_string();
    forge(s, who, who, at, |tx, d| {
        let personas = root(d, "personas");
        let p = tx.put_object(&personas, id, ObjType::Map).unwrap();
        tx.put(&p, "author", author).unwrap();
        tx.put(&p, "name", "Greta").unwrap();
        tx.put(&p, "description", "").unwrap();
        tx.put(&p, "toml", toml).unwrap();
        tx.put(&p, "published", ScalarValue::Timestamp(at)).unwrap();
    })
}

#[test]
fn a_published_persona_reaches_another_replica_byte_for_byte() {
    let (mut s, [_, _, alice, _]) = space();
    let (_, id) = s
        .publish_persona(&alice, "Greta", "Greets newcomers", TOML, 100)
        .unwrap();
    assert_eq!(id, persona_id(TOML));
    assert!(id.starts_with("sha256:") && id.len() == 7 + 64, "{id}");

    let mut copy = Space::empty(s.id());
    sync_pair(&mut s, &mut copy);
    let p = copy.persona(&id).expect("synced");
    assert_eq!(p.toml, TOML);
    assert_eq!(p.author, did(&alice));
    assert_eq!((p.name.as_str(), p.published), ("Greta", 100));
    assert_eq!(copy.personas(), s.personas());
    // Publishing the same file again is refused locally (it would change nothing).
    let again = s.publish_persona(&alice, "Greta", "", TOML, 101);
    assert!(matches!(again, Err(SpaceError::Invalid(_))), "{again:?}");
}

#[test]
fn hostile_personas_are_refused_with_their_reasons() {
    let (mut s, [_, _, alice, bob]) = space();
    let eve = key(5);
    let id = persona_id(TOML);

    // A non-member.
    assert_refused(
        s.ingest(put_persona(&s, &eve, &id, TOML, 50)),
        "join the space",
    );
    // An id that is not the hash of the TOML.
    let other = persona_id("name = \"Other\"\n");
    assert_refused(
        s.ingest(put_persona(&s, &alice, &other, TOML, 51)),
        "SHA-256 of its TOML",
    );
    assert_refused(
        s.ingest(put_persona(&s, &alice, "greta", TOML, 52)),
        "not a persona id",
    );
    // A TOML over 16 KiB.
    let big = format!("name = \"Big\"\n# {}\n", "x".repeat(MAX_TOML_BYTES));
    assert_refused(
        s.ingest(put_persona(&s, &alice, &persona_id(&big), &big, 53)),
        "over 16384 bytes",
    );
    // A persona missing a field.
    let e = forge(&s, &alice, &alice, 54, |tx, d| {
        let p = tx
            .put_object(root(d, "personas"), id.as_str(), ObjType::Map)
            .unwrap();
        tx.put(&p, "toml", TOML).unwrap();
    });
    assert_refused(s.ingest(e), "needs author, name");
    assert!(s.personas().is_empty());

    s.publish_persona(&alice, "Greta", "", TOML, 60).unwrap();
    // The entry never changes: not its fields, not by its author, and not put again.
    let e = forge(&s, &alice, &alice, 61, |tx, d| {
        let p = root(d, "personas");
        let entry = automerge::ReadDoc::get(d, &p, id.as_str())
            .unwrap()
            .unwrap()
            .1;
        tx.put(&entry, "name", "Renamed").unwrap();
    });
    assert_refused(s.ingest(e), "never changed");
    assert_refused(
        s.ingest(put_persona(&s, &bob, &id, TOML, 62)),
        "never changes",
    );
    // Another member does not delete it.
    let e = forge(&s, &bob, &bob, 63, |tx, d| {
        tx.delete(root(d, "personas"), id.as_str()).unwrap();
    });
    assert_refused(s.ingest(e), "permission `meta`");
    assert_eq!(s.persona(&id).unwrap().name, "Greta");
}

#[test]
fn the_author_and_an_admin_delete() {
    let (mut s, [_, admin, alice, bob]) = space();
    let (_, mine) = s.publish_persona(&alice, "Greta", "", TOML, 100).unwrap();
    let theirs_toml = "name = \"Sum\"\ntemplate = \"summarizer\"\n";
    let (_, theirs) = s
        .publish_persona(&bob, "Sum", "Summaries", theirs_toml, 101)
        .unwrap();
    assert_eq!(s.personas().len(), 2);
    s.delete_persona(&alice, &mine, 102).unwrap();
    assert!(s.persona(&mine).is_none());
    s.delete_persona(&admin, &theirs, 103).unwrap();
    assert!(s.personas().is_empty());
}

#[test]
fn a_space_below_version_7_has_no_personas() {
    let owner = key(1);
    let (mut s, _) = Space::create(&owner, "old", "", 1).unwrap();
    s.migrate(&owner, schema::AGENTS - 1, 2).unwrap();
    let r = s.publish_persona(&owner, "Greta", "", TOML, 3);
    assert!(
        matches!(&r, Err(SpaceError::Invalid(m)) if m.contains("version 7")),
        "{r:?}"
    );
}
