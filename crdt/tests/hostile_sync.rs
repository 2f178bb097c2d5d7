//! Sync messages from a hostile peer never panic a replica, whatever hashes they name.

use proptest::prelude::*;
use tim_crdt::{Space, SyncState};
use tim_protocol::wire::SyncMessage;

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn unsorted_or_unknown_hashes_never_panic(
        heads in proptest::collection::vec(any::<[u8; 32]>(), 0..5),
        need in proptest::collection::vec(any::<[u8; 32]>(), 0..5),
    ) {
        let key = tim_crdt::test_utils::writer(1);
        let (mut space, _) = Space::create(&key, "s", "", 0).unwrap();
        let mut bytes = vec![0x42];
        for list in [&heads, &need] {
            bytes.push(list.len() as u8);
            for h in list.iter() {
                bytes.extend_from_slice(h);
            }
        }
        bytes.push(0); // have: none
        bytes.push(0); // changes: none
        let mut state = SyncState::new();
        let msg = SyncMessage { space: space.id(), automerge: Some(bytes), envelopes: vec![], access: None };
        // The bytes are a well-formed Automerge sync message naming arbitrary, unsorted hashes.
        prop_assert!(space.receive_sync(&mut state, msg).is_ok());
        // Whatever was received, answering must not panic (Automerge asserts sorted hashes
        // when it encodes).
        if let Some(reply) = space.generate_sync(&mut state) {
            let _ = reply.encode();
        }
    }
}
