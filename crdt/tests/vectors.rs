//! The test vectors of docs/protocol.md, section 13, rebuilt by the reference code from the
//! documented inputs: if the wire format or the document layout changes, or the text is edited
//! by hand, this test fails until the two agree again. `protocol/tests/vectors.rs` checks the
//! same values without Automerge (hashes, space id, signatures, encodings).

use automerge::legacy::{Key, ObjectId, OpType};
use automerge::{Change, ObjType, ScalarValue};
use ed25519_dalek::SigningKey;
use tim_crdt::{Space, SyncState, Writer};
use tim_protocol::{Did, Envelope, SpaceId};

#[path = "../../protocol/tests/spec/mod.rs"]
mod spec;
use spec::{block, field, flat, section, DOC};

fn section13() -> &'static str {
    section("## 13.")
}

/// One row of section 13.1's operation table, as the document writes it.
fn op_row(n: u64, op: &automerge::legacy::Op, alice: &str, alice_did: &str) -> String {
    let name = |s: &str| s.replace(alice, "alice");
    let object = match &op.obj {
        ObjectId::Root => "root".to_string(),
        ObjectId::Id(id) => name(&id.to_string()),
    };
    let key = match &op.key {
        Key::Map(k) => k.replace(alice_did, "alice DID"),
        Key::Seq(e) => format!("{e:?}"),
    };
    let scalar = |v: &ScalarValue| match v {
        ScalarValue::Str(s) if s.as_str() == alice_did => "Str alice DID".to_string(),
        ScalarValue::Str(s) => format!("Str \"{s}\""),
        ScalarValue::Timestamp(t) => format!("Timestamp {t}"),
        ScalarValue::Uint(u) => format!("Uint {u}"),
        other => format!("{other:?}"),
    };
    let (action, value) = match &op.action {
        OpType::Make(ObjType::Map) => ("make map".to_string(), String::new()),
        OpType::Make(ObjType::List) => ("make list".to_string(), String::new()),
        OpType::Put(v) => ("put".to_string(), scalar(v)),
        other => (format!("{other:?}"), String::new()),
    };
    format!("| {n} | {object} | {key} | {action} | {value} |")
}

#[test]
fn protocol_md_test_vectors() {
    let s13 = section13();
    // A session actor (section 1.3): the key followed by the session id the section documents.
    let session: [u8; 16] = hex::decode(field(s13, "alice session"))
        .unwrap()
        .try_into()
        .expect("a 16-byte session id");
    let alice = Writer::new(SigningKey::from_bytes(&[1; 32]), session);
    let key_hex = hex::encode(alice.verifying_key().as_bytes());
    let alice_hex = alice.actor().to_hex_string();
    let alice_did = Did::from_key(&alice.verifying_key()).to_string();
    assert_eq!(field(s13, "alice public key"), key_hex);
    assert_eq!(field(s13, "alice actor"), alice_hex);
    assert_eq!(alice_hex, format!("{key_hex}{}", hex::encode(session)));
    assert_eq!(field(s13, "alice DID"), alice_did);

    // The genesis: hash, space id (section 3), bytes, signature, operations.
    let (mut space, genesis) = Space::create(&alice, "garden", "", 1_700_000_000_000).unwrap();
    assert_eq!(field(s13, "genesis hash"), genesis.hash.to_string());
    assert_eq!(space.id(), SpaceId::from_genesis(&genesis.hash));
    assert_eq!(field(s13, "space id"), space.id().to_string());
    assert_eq!(field(s13, "topic"), space.id().topic());
    assert_eq!(
        block(s13, "The genesis change, full hex"),
        hex::encode(&genesis.envelope.change)
    );
    assert!(s13.contains(&format!(
        "The genesis change is {} bytes",
        genesis.envelope.change.len()
    )));
    assert_eq!(
        field(s13, "genesis signature"),
        hex::encode(genesis.envelope.signature)
    );
    let change = Change::from_bytes(genesis.envelope.change.clone()).unwrap();
    assert_eq!(change.timestamp(), 1_700_000_000_000, "milliseconds");
    assert_eq!((change.seq(), change.start_op().get()), (1, 1));
    assert_eq!(change.actor_id(), alice.actor());
    assert!(change.deps().is_empty());
    let ops = change.decode().operations;
    assert_eq!(ops.len(), 16);
    assert!(s13.contains(&format!("Its {} operations", "sixteen")));
    let doc_flat = flat(s13);
    for (i, op) in ops.iter().enumerate() {
        let row = op_row(i as u64 + 1, op, &alice_hex, &alice_did);
        assert!(
            doc_flat.contains(&flat(&row)),
            "section 13.1 lacks the row {row}"
        );
    }

    // The post: its first operation follows the genesis's sixteen (section 9's message id).
    let (post, message_id) = space.post(&alice, "hi", 1_700_000_001_000).unwrap();
    assert_eq!(field(s13, "post change hash"), post.hash.to_string());
    assert_eq!(field(s13, "message id"), message_id);
    assert_eq!(message_id, format!("{}@{alice_hex}", ops.len() + 1));
    assert!(flat(DOC).contains(&flat(&format!(
        "`{message_id}` is the map created by operation {} of that actor",
        ops.len() + 1
    ))));
    let post_change = Change::from_bytes(post.envelope.change.clone()).unwrap();
    assert_eq!(post_change.timestamp(), 1_700_000_001_000, "milliseconds");
    assert_eq!(post_change.start_op().get(), ops.len() as u64 + 1);
    assert_eq!(post_change.actor_id(), alice.actor());
    let envelope = post.envelope.encode();
    assert_eq!(
        block(s13, "The post's envelope, full hex"),
        hex::encode(&envelope)
    );
    assert_eq!(Envelope::decode(&envelope).unwrap(), post.envelope);

    // The first sync request (section 13.3).
    let sync = space.generate_sync(&mut SyncState::new()).unwrap().encode();
    assert_eq!(block(s13, "Alice's first sync request"), hex::encode(&sync));
}
