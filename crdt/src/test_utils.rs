//! Helpers for tests: run the sync protocol between replicas, and forge arbitrary changes.

use automerge::transaction::Transaction;
use automerge::Automerge;
use ed25519_dalek::SigningKey;
use tim_protocol::{ChangeHash, Envelope};

use crate::{Ingested, Rejection, Space, SyncState, Writer};

/// A writer with a key and a session id made from `seed` (tests only: real sessions are
/// random).
pub fn writer(seed: u8) -> Writer {
    Writer::new(
        SigningKey::from_bytes(&[seed; 32]),
        [seed; crate::SESSION_BYTES],
    )
}

/// Asserts that a change was refused for a reason that mentions `words`.
pub fn assert_refused(r: Result<Ingested, Rejection>, words: &str) {
    match r {
        Err(e) => assert!(
            e.to_string().contains(words),
            "reason `{e}` lacks `{words}`"
        ),
        Ok(o) => panic!("expected a refusal mentioning `{words}`, got {o:?}"),
    }
}

/// Runs the sync protocol between two replicas until neither has anything to say; returns the
/// number of rounds. Panics if a replica refuses anything the other sends (honest replicas
/// never hold a change the rules refuse) or if it takes over 100 rounds.
pub fn sync_pair(a: &mut Space, b: &mut Space) -> usize {
    let (mut sa, mut sb) = (SyncState::new(), SyncState::new());
    for round in 0..100 {
        let ma = a.generate_sync(&mut sa);
        let mb = b.generate_sync(&mut sb);
        if ma.is_none() && mb.is_none() {
            return round;
        }
        if let Some(m) = ma {
            let r = b.receive_sync(&mut sb, m).expect("sync message");
            assert!(r.rejected.is_empty(), "{:?}", r.rejected);
        }
        if let Some(m) = mb {
            let r = a.receive_sync(&mut sa, m).expect("sync message");
            assert!(r.rejected.is_empty(), "{:?}", r.rejected);
        }
    }
    panic!("sync did not finish in 100 rounds");
}

/// A change made with `actor`'s session actor id on a copy of `space` by `write`, signed by
/// `signer`: anything a hostile timite could send.
pub fn forge(
    space: &Space,
    actor: &Writer,
    signer: &Writer,
    at_ms: i64,
    write: impl FnOnce(&mut Transaction<'_>, &Automerge),
) -> Envelope {
    let mut doc = Automerge::load(&space.save()).expect("own document loads");
    doc.set_actor(actor.actor().clone());
    let snapshot = doc.clone();
    let mut tx = doc.transaction();
    write(&mut tx, &snapshot);
    tx.commit_with(automerge::transaction::CommitOptions::default().with_time(at_ms));
    let change = doc
        .get_last_local_change()
        .expect("the write made a change");
    let hash = ChangeHash::from(change.hash().0);
    Envelope::sign(
        space.id(),
        change.raw_bytes().to_vec(),
        &hash,
        signer.signing_key(),
    )
}

/// The id of the object under `key` at the document root.
pub fn root(doc: &Automerge, key: &str) -> automerge::ObjId {
    use automerge::ReadDoc;
    doc.get(automerge::ROOT, key)
        .ok()
        .flatten()
        .expect("root key exists")
        .1
}
