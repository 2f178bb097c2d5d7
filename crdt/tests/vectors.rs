//! The test vectors of docs/protocol.md, section 13: if the wire format or the document
//! layout changes, this test fails until the document is updated.

use tim_crdt::{Space, SyncState};
use tim_protocol::Did;

#[test]
fn protocol_md_test_vectors() {
    let alice = tim_crdt::test_utils::writer(1);
    let (mut space, genesis) = Space::create(&alice, "garden", "", 1_700_000_000_000).unwrap();
    let (post, message_id) = space.post(&alice, "hi", 1_700_000_001_000).unwrap();
    let envelope = post.envelope.encode();
    let sync = space.generate_sync(&mut SyncState::new()).unwrap().encode();
    let got = [
        (
            "alice public key",
            hex::encode(alice.verifying_key().as_bytes()),
        ),
        (
            "alice DID",
            Did::from_key(&alice.verifying_key()).to_string(),
        ),
        ("genesis hash", genesis.hash.to_string()),
        ("space id", space.id().to_string()),
        ("post change hash", post.hash.to_string()),
        ("message id", message_id),
        ("envelope length", envelope.len().to_string()),
        ("envelope", hex::encode(&envelope)),
        ("first sync request", hex::encode(&sync)),
    ];
    let doc = include_str!("../../docs/protocol.md");
    for (name, value) in &got {
        println!("{name:<20} {value}");
    }
    for (name, value) in &got {
        let flat: String = doc.split_whitespace().collect();
        assert!(
            flat.contains(value.as_str()),
            "docs/protocol.md lacks the {name}: {value}"
        );
    }
}
