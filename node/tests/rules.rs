//! The rules across real nodes: a rogue node's changes are refused by gossip and by sync, bans
//! under partition resolve the same everywhere, ephemeral spaces vanish everywhere.

mod common;

use common::JOIN;

use std::time::Duration;

use automerge::transaction::Transactable;
use automerge::{Automerge, ObjType, ReadDoc, ROOT};
use common::{converged, eventually, node};
use tim_node::{Act, NodeError, Role, Visibility};
use tim_protocol::wire::SyncMessage;
use tim_protocol::{ChangeHash, Envelope, SpaceId};

/// A post by `key` on top of `doc` (valid signature, but the rules decide).
fn post_by(doc: &[u8], space: SpaceId, key: &ed25519_dalek::SigningKey, text: &str) -> Envelope {
    let mut doc = Automerge::load(doc).unwrap();
    doc.set_actor(automerge::ActorId::from(
        key.verifying_key().as_bytes().as_slice(),
    ));
    let timeline = doc.get(ROOT, "timeline").unwrap().unwrap().1;
    let mut tx = doc.transaction();
    let m = tx.insert_object(&timeline, 0, ObjType::Map).unwrap();
    tx.put(&m, "text", text).unwrap();
    tx.commit();
    let change = doc.get_last_local_change().unwrap();
    Envelope::sign(
        space,
        change.raw_bytes().to_vec(),
        &ChangeHash::from(change.hash().0),
        key,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rogue_non_member_is_refused_by_gossip_and_by_sync_everywhere() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, rogue) = (
        node(&tmp, 1).await,
        node(&tmp, 2).await,
        node(&tmp, 3).await,
    );
    // A public space: the rogue may read it (the history is open) but, not a member, may
    // not write in it.
    let space = a.handle.create_space("members write", "").await.unwrap();
    b.handle
        .join(space.id, vec![a.addr.clone()], JOIN)
        .await
        .unwrap();
    for addr in [&a.addr, &b.addr] {
        rogue.handle.dial(addr.clone()).await.unwrap();
    }
    a.handle.post(space.id, "legit").await.unwrap();
    converged(&[&a.handle, &b.handle], space.id, 1).await;
    // The rogue, not a member, is in no mesh; it publishes to the peers it knows subscribe
    // to the space: wait until it knows both a and b do.
    eventually(
        10,
        "the rogue to know a's and b's subscriptions",
        || async { common::topic_peers(&rogue.handle, space.id).await >= 2 },
    )
    .await;
    let heads = a.handle.timeline(space.id).await.unwrap().heads;
    let stored = a.handle.export(space.id).await.unwrap().1.len();

    // The rogue holds the history (sync served it) and signs posts with its real key.
    let doc = a.handle.export(space.id).await.unwrap().0;
    let key = rogue.keys.timite.signing_key().clone();
    rogue
        .handle
        .publish_raw(
            space.id,
            post_by(&doc, space.id, &key, "by gossip").encode(),
        )
        .await
        .unwrap();
    let a_peer = a.handle.status().await.unwrap().peer_id.parse().unwrap();
    let by_sync = SyncMessage {
        space: space.id,
        automerge: None,
        envelopes: vec![post_by(&doc, space.id, &key, "by sync")],
        access: None,
    };
    rogue.handle.sync_raw(a_peer, by_sync).await.unwrap();
    // Both verdicts, rather than a quiet spell: a refuses both copies; b gets the gossip copy
    // directly from the rogue and refuses it (a refused it, so never forwards it, and b never
    // sees the sync copy).
    eventually(10, "the refusals", || async {
        a.handle.status().await.unwrap().rejected_changes == 2
            && b.handle.status().await.unwrap().rejected_changes == 1
    })
    .await;
    for n in [&a.handle, &b.handle] {
        assert_eq!(n.timeline(space.id).await.unwrap().heads, heads);
        assert_eq!(n.export(space.id).await.unwrap().1.len(), stored);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ban_during_a_partition_resolves_the_same_on_every_node() {
    let tmp = tempfile::tempdir().unwrap();
    let (admin, member) = (node(&tmp, 1).await, node(&tmp, 2).await);
    let space = admin.handle.create_space("split", "").await.unwrap();
    member
        .handle
        .join(space.id, vec![admin.addr.clone()], JOIN)
        .await
        .unwrap();
    converged(&[&admin.handle, &member.handle], space.id, 0).await;

    member.handle.disconnect_all().await.unwrap();
    eventually(5, "the partition", || async {
        admin.handle.status().await.unwrap().connected_peers == 0
    })
    .await;
    let banned = member.keys.timite.did();
    admin
        .handle
        .moderate(space.id, Act::SetRole(banned, Role::Banned))
        .await
        .unwrap();
    member.handle.post(space.id, "unaware 1").await.unwrap();
    member.handle.post(space.id, "unaware 2").await.unwrap();
    // The partition heals by itself (redial); both posts were concurrent with the ban: they
    // stand everywhere, and the ban holds everywhere.
    converged(&[&admin.handle, &member.handle], space.id, 2).await;
    for n in [&admin.handle, &member.handle] {
        let m = n.members(space.id).await.unwrap();
        assert_eq!(m.iter().find(|m| m.did == banned).unwrap().role, "banned");
    }
    let err = member
        .handle
        .post(space.id, "after the ban")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("banned"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ephemeral_space_is_deleted_everywhere_after_its_ttl() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (node(&tmp, 1).await, node(&tmp, 2).await);
    let space = a
        .handle
        .create_space_with(
            "fleeting",
            "",
            Visibility::Ephemeral,
            Some(Duration::from_secs(2)),
        )
        .await
        .unwrap();
    assert!(space.expires_at.is_some());
    b.handle
        .join(space.id, vec![a.addr.clone()], JOIN)
        .await
        .unwrap();
    b.handle.post(space.id, "soon gone").await.unwrap();
    converged(&[&a.handle, &b.handle], space.id, 1).await;
    eventually(6, "expiry on both nodes", || async {
        a.handle.spaces().await.unwrap().is_empty() && b.handle.spaces().await.unwrap().is_empty()
    })
    .await;
    // Each node says it expired.
    for n in [&a.handle, &b.handle] {
        assert!(matches!(
            n.timeline(space.id).await,
            Err(NodeError::Expired(_))
        ));
        assert!(matches!(
            n.export(space.id).await,
            Err(NodeError::Expired(_))
        ));
    }
    // Nobody serves it any more: a fresh node cannot join it.
    let c = node(&tmp, 3).await;
    let err = c
        .handle
        .join(space.id, vec![a.addr.clone()], Duration::from_secs(3))
        .await
        .unwrap_err();
    assert!(matches!(err, NodeError::Timeout(_)), "{err}");
    // And a restart does not bring it back from disk.
    let (dir, keys) = (b.dir.clone(), b.keys.clone());
    drop(b);
    let b = common::restart(dir, keys).await;
    assert_eq!(b.handle.status().await.unwrap().spaces, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_keeps_serving_invalid_changes_by_sync_is_banned() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, rogue) = (node(&tmp, 1).await, node(&tmp, 3).await);
    let space = a.handle.create_space("guarded", "").await.unwrap();
    rogue
        .handle
        .join(space.id, vec![a.addr.clone()], JOIN)
        .await
        .unwrap();
    let (doc, _) = a.handle.export(space.id).await.unwrap();
    let a_peer: libp2p::PeerId = a.handle.status().await.unwrap().peer_id.parse().unwrap();
    let stranger = tim_did::Identity::from_seed([99; 32]);
    let bad = |text: &str| SyncMessage {
        space: space.id,
        automerge: None,
        envelopes: vec![post_by(&doc, space.id, stranger.signing_key(), text)],
        access: None,
    };
    for i in 0..3 {
        rogue
            .handle
            .sync_raw(a_peer, bad(&format!("spam {i}")))
            .await
            .unwrap();
        let want = i + 1;
        eventually(10, "the refusal", || async {
            a.handle.status().await.unwrap().rejected_changes == want
        })
        .await;
    }
    // Three strikes: a disconnects the rogue and refuses it when it comes back.
    eventually(10, "the ban", || async {
        a.handle.status().await.unwrap().connected_peers == 0
    })
    .await;
    rogue.handle.dial(a.addr.clone()).await.unwrap();
    // a closes the banned peer's connection as it is established, and counts it.
    refused_a_banned_peer(&a.handle, "the refusal of the banned peer").await;
    // (The refused connection may still be counted for a moment after its refusal.)
    eventually(10, "the banned peer's connection closed", || async {
        a.handle.status().await.unwrap().connected_peers == 0
    })
    .await;
    assert_eq!(a.handle.status().await.unwrap().rejected_changes, 3);

    // The ban is on disk: restarted on its store, a still refuses the rogue.
    let (dir, keys) = (a.dir.clone(), a.keys.clone());
    drop(a);
    let a = common::restart(dir, keys).await;
    rogue.handle.dial(a.addr.clone()).await.unwrap();
    refused_a_banned_peer(&a.handle, "the restarted node to refuse the banned peer").await;
    assert_eq!(a.handle.status().await.unwrap().connected_peers, 0);
}

/// Waits until `node` has closed a banned peer's connection as it was established (its
/// `tim_peers_refused_total` counter).
async fn refused_a_banned_peer(node: &tim_node::Handle, what: &str) {
    eventually(10, what, || async {
        node.metrics()
            .lines()
            .any(|l| l.starts_with("tim_peers_refused_total ") && !l.ends_with(" 0"))
    })
    .await;
}
