//! A rogue node publishes bad envelopes on a space's topic: every honest node refuses them,
//! stores nothing, and its state does not change.

mod common;

use common::JOIN;

use automerge::transaction::Transactable;
use automerge::{ActorId, Automerge, ObjType, ReadDoc, ROOT};
use common::{eventually, node};
use ed25519_dalek::SigningKey;
use tim_protocol::wire::{ExportBundle, MAX_CHANGE_BYTES};
use tim_protocol::{ChangeHash, Envelope, SpaceId};

/// A new, valid post by `key` on top of the exported document `doc`.
fn fresh_post(doc: &[u8], space: SpaceId, key: &SigningKey, text: &str) -> (Vec<u8>, ChangeHash) {
    let mut doc = Automerge::load(doc).unwrap();
    doc.set_actor(ActorId::from(key.verifying_key().as_bytes().as_slice()));
    let timeline = doc.get(ROOT, "timeline").unwrap().unwrap().1;
    let len = doc.length(&timeline);
    let mut tx = doc.transaction();
    let m = tx.insert_object(&timeline, len, ObjType::Map).unwrap();
    tx.put(&m, "text", text).unwrap();
    tx.commit();
    let change = doc.get_last_local_change().unwrap();
    let _ = space;
    (
        change.raw_bytes().to_vec(),
        ChangeHash::from(change.hash().0),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_bad_envelope_is_refused_everywhere_and_nothing_is_stored() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, rogue) = (
        node(&tmp, 1).await,
        node(&tmp, 2).await,
        node(&tmp, 3).await,
    );
    let space = a.handle.create_space("guarded", "").await.unwrap();
    b.handle
        .join(space.id, vec![a.addr.clone()], JOIN)
        .await
        .unwrap();
    rogue
        .handle
        .join(space.id, vec![a.addr.clone()], JOIN)
        .await
        .unwrap();
    a.handle.post(space.id, "legit").await.unwrap();
    common::converged(&[&a.handle, &b.handle, &rogue.handle], space.id, 1).await;
    // The rogue publishes to every peer it knows subscribes to the space (flood publishing):
    // wait until it knows both honest nodes do.
    eventually(
        10,
        "the rogue to know a's and b's subscriptions",
        || async { common::topic_peers(&rogue.handle, space.id).await >= 2 },
    )
    .await;
    let before_a = a.handle.export(space.id).await.unwrap().1.len();
    let heads = a.handle.timeline(space.id).await.unwrap().heads;

    let doc = rogue.handle.export(space.id).await.unwrap().0;
    let key = rogue.keys.timite.signing_key().clone();
    let other = SigningKey::from_bytes(&[77; 32]);

    let (bytes, hash) = fresh_post(&doc, space.id, &key, "bad signature");
    let mut bad_sig = Envelope::sign(space.id, bytes, &hash, &key);
    bad_sig.signature[10] ^= 0x40;

    // The actor is the rogue's timite, the signature (valid) is another key's.
    let (bytes, hash) = fresh_post(&doc, space.id, &key, "mismatched actor");
    let mismatched = Envelope::sign(space.id, bytes, &hash, &other);

    // A valid change and signature, but for another space id.
    let (bytes, hash) = fresh_post(&doc, space.id, &key, "wrong space");
    let wrong_space = Envelope::sign(SpaceId::from([5; 32]), bytes, &hash, &key);

    let garbage = b"\xa1\x00\xffthis is not an envelope".to_vec();
    let oversized = Envelope::sign(space.id, vec![0u8; MAX_CHANGE_BYTES + 100], &hash, &key);

    let payloads = [
        bad_sig.encode(),
        mismatched.encode(),
        wrong_space.encode(),
        garbage,
        oversized.encode(),
    ];
    for p in payloads {
        rogue.handle.publish_raw(space.id, p).await.unwrap();
    }
    eventually(10, "both honest nodes to refuse all five", || async {
        a.handle.status().await.unwrap().rejected_changes == 5
            && b.handle.status().await.unwrap().rejected_changes == 5
    })
    .await;
    for n in [&a.handle, &b.handle] {
        let t = n.timeline(space.id).await.unwrap();
        assert_eq!(
            t.heads, heads,
            "a refused change must not change the document"
        );
        assert_eq!(t.messages.len(), 1);
        assert_eq!(
            n.export(space.id).await.unwrap().1.len(),
            before_a,
            "nothing stored"
        );
    }

    // The same bad changes offered by import are refused whole, with the reason.
    let bundle = ExportBundle {
        space: space.id,
        envelopes: vec![bad_sig],
    };
    let err = a
        .handle
        .import(space.id, bundle.envelopes)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("does not verify"), "{err}");
    assert_eq!(a.handle.export(space.id).await.unwrap().1.len(), before_a);

    // A file whose changes a node already holds is still checked: one forged signature on a
    // known change refuses the whole file.
    let mut known = a.handle.export(space.id).await.unwrap().1;
    known[1].signature[3] ^= 1;
    let err = a.handle.import(space.id, known).await.unwrap_err();
    assert!(err.to_string().contains("change 2 of the file"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_then_import_on_another_node_round_trips() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (node(&tmp, 1).await, node(&tmp, 2).await);
    let space = a.handle.create_space("portable", "").await.unwrap();
    for i in 0..10 {
        a.handle.post(space.id, &format!("m{i}")).await.unwrap();
    }
    let (doc, envelopes) = a.handle.export(space.id).await.unwrap();
    // The document loads in plain Automerge.
    let plain = Automerge::load(&doc).unwrap();
    assert_eq!(plain.get_changes(&[]).len(), envelopes.len());
    let imported = b.handle.import(space.id, envelopes).await.unwrap();
    assert_eq!(imported.applied, 11);
    assert_eq!(
        b.handle.timeline(space.id).await.unwrap(),
        a.handle.timeline(space.id).await.unwrap()
    );
}
