//! What a node accepts in the Automerge part of a sync message (docs/protocol.md, section 7.4):
//! format v1 only, no changes, and a flags section is accepted but ignored.

use automerge::sync::{Message, MessageVersion, SyncDoc};
use automerge::Automerge;
use tim_crdt::{Space, SyncState};
use tim_protocol::wire::SyncMessage;

fn pair() -> (Space, Space, SyncMessage) {
    let alice = tim_crdt::test_utils::writer(1);
    let (mut a, genesis) = Space::create(&alice, "garden", "", 1_700_000_000_000).unwrap();
    a.post(&alice, "hi", 1_700_000_001_000).unwrap();
    let mut b = Space::empty(a.id());
    b.ingest(genesis.envelope).unwrap();
    let msg = a.generate_sync(&mut SyncState::new()).unwrap();
    (a, b, msg)
}

fn with_automerge(msg: &SyncMessage, bytes: Vec<u8>) -> SyncMessage {
    SyncMessage {
        automerge: Some(bytes),
        ..msg.clone()
    }
}

#[test]
fn automerge_itself_appends_flags_and_tim_strips_them() {
    // What a peer built on an Automerge library sends unless it strips the flags: 0.6 (the
    // one Tim links) appends `01 02`, the MessageV2 capability; 0.7 and later append
    // `02 02 84` (the test below feeds both to a node).
    let raw = Automerge::new()
        .generate_sync_message(&mut automerge::sync::State::new())
        .unwrap()
        .encode();
    assert_eq!(raw[raw.len() - 2..], [0x01, 0x02]);
    // What the reference node sends: no flags section, the message ends with the change count.
    let (_, _, msg) = pair();
    let am = msg.automerge.unwrap();
    assert_eq!(am[0], 0x42);
    assert_eq!(*am.last().unwrap(), 0x00);
    assert_eq!(Message::decode(&am).unwrap().supported_capabilities, None);
}

#[test]
fn a_flags_section_is_accepted_and_ignored() {
    let (_, mut b, msg) = pair();
    let plain = msg.automerge.clone().unwrap();
    for suffix in [
        &[0x02, 0x02, 0x84][..], // SUPPORTS_SYNC_RESET, as Automerge writes it
        &[0x02, 0x02, 0x81],     // SYNC_RESET
        &[0x01, 0x02],           // the old MessageV2 capability alone
        &[0x02, 0x02, 0x84, 0xde, 0xad], // bytes after the flags are ignored too
        &[0x00],                 // an empty flags section
    ] {
        let mut bytes = plain.clone();
        bytes.extend_from_slice(suffix);
        let mut state = SyncState::new();
        b.receive_sync(&mut state, with_automerge(&msg, bytes))
            .unwrap_or_else(|e| panic!("flags {suffix:02x?} refused: {e}"));
        // The flags never reach the sync state: the answer is still a flagless v1 message.
        let answer = b.generate_sync(&mut state).unwrap().automerge.unwrap();
        let decoded = Message::decode(&answer).unwrap();
        assert_eq!(decoded.version, MessageVersion::V1);
        assert_eq!(decoded.supported_capabilities, None);
    }
}

#[test]
fn other_automerge_parts_are_refused() {
    let (_, mut b, msg) = pair();
    let plain = msg.automerge.clone().unwrap();
    // A flags length running past the end of the message.
    let mut overrun = plain.clone();
    overrun.extend_from_slice(&[0x05, 0x02]);
    // Format v2.
    let mut v2 = plain.clone();
    v2[0] = 0x43;
    // Truncated before the change count.
    let truncated = plain[..plain.len() - 1].to_vec();
    // Carrying a change (one chunk of 3 bytes) instead of an envelope.
    let mut with_change = truncated.clone();
    with_change.extend_from_slice(&[0x01, 0x03, 0xaa, 0xbb, 0xcc]);
    for (what, bytes) in [
        ("flags overrun", overrun),
        ("format v2", v2),
        ("truncated", truncated),
        ("a change", with_change),
    ] {
        assert!(
            b.receive_sync(&mut SyncState::new(), with_automerge(&msg, bytes))
                .is_err(),
            "{what} accepted"
        );
    }
}
