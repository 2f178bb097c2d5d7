//! Real nodes on loopback: a space created on one node, joined from others, posted to from
//! each, converges; late joiners, restarts and disconnections catch up.

mod common;

use common::JOIN;

use std::time::Duration;

use common::{converged, eventually, keys, node, node_in};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_create_join_post_and_converge() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        node(&tmp, 1).await,
        node(&tmp, 2).await,
        node(&tmp, 3).await,
    );
    let space = a
        .handle
        .create_space("garden", "grow things")
        .await
        .unwrap();
    b.handle
        .join(space.id, vec![a.addr.clone()], JOIN)
        .await
        .unwrap();
    c.handle
        .join(space.id, vec![a.addr.clone()], JOIN)
        .await
        .unwrap();
    let mut events = c.handle.subscribe();
    a.handle.post(space.id, "from a").await.unwrap();
    b.handle.post(space.id, "from b").await.unwrap();
    c.handle.post(space.id, "from c").await.unwrap();
    converged(&[&a.handle, &b.handle, &c.handle], space.id, 3).await;
    let ta = a.handle.timeline(space.id).await.unwrap();
    let tc = c.handle.timeline(space.id).await.unwrap();
    assert_eq!(ta, tc);
    let mut texts: Vec<_> = ta.messages.iter().map(|m| m.text.as_str()).collect();
    texts.sort();
    assert_eq!(texts, ["from a", "from b", "from c"]);
    assert_eq!(a.handle.members(space.id).await.unwrap().len(), 3);
    // Node c saw every message arrive as an event (its own and the two from other nodes):
    // wait for the three, with a deadline, rather than for a quiet spell.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut live = Vec::new();
    while live.len() < 3 {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Ok(tim_protocol::api::SpaceEvent::Message { message, .. })) => {
                live.push(message.text)
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => panic!("c's event stream failed: {e}"),
            Err(_) => panic!("c saw only {live:?} as events within 10 s, not all three"),
        }
    }
    // No duplicate among what has arrived meanwhile (checked without waiting for more).
    while let Ok(e) = events.try_recv() {
        if let tim_protocol::api::SpaceEvent::Message { message, .. } = e {
            live.push(message.text);
        }
    }
    live.sort();
    assert_eq!(live, ["from a", "from b", "from c"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_joiner_gets_a_thousand_messages_and_restart_keeps_everything() {
    let tmp = tempfile::tempdir().unwrap();
    let a = node(&tmp, 1).await;
    let space = a.handle.create_space("history", "").await.unwrap();
    for i in 0..1000 {
        a.handle
            .post(space.id, &format!("message {i}"))
            .await
            .unwrap();
    }
    let b = node(&tmp, 2).await;
    let joined = b
        .handle
        .join(space.id, vec![a.addr.clone()], JOIN)
        .await
        .unwrap();
    assert_eq!(joined.messages, 1000);
    converged(&[&a.handle, &b.handle], space.id, 1000).await;

    // Restart b from its store, with no network at all: everything is there.
    let before = b.handle.timeline(space.id).await.unwrap();
    let (dir, keys_b) = (b.dir.clone(), b.keys.clone());
    drop(b);
    let b = common::restart(dir, keys_b).await;
    let after = b.handle.timeline(space.id).await.unwrap();
    assert_eq!(after, before);
    assert_eq!(b.handle.status().await.unwrap().spaces, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnected_node_catches_up_when_it_reconnects_by_itself() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (node(&tmp, 1).await, node(&tmp, 2).await);
    let space = a.handle.create_space("cut", "").await.unwrap();
    b.handle
        .join(space.id, vec![a.addr.clone()], JOIN)
        .await
        .unwrap();
    a.handle.post(space.id, "before").await.unwrap();
    converged(&[&a.handle, &b.handle], space.id, 1).await;

    // Cut every connection of b, then post on a while they are apart.
    b.handle.disconnect_all().await.unwrap();
    eventually(10, "disconnection", || async {
        a.handle.status().await.unwrap().connected_peers == 0
    })
    .await;
    for i in 0..20 {
        a.handle
            .post(space.id, &format!("while apart {i}"))
            .await
            .unwrap();
    }
    // b redials the peers it remembers and syncs; nobody does anything.
    converged(&[&a.handle, &b.handle], space.id, 21).await;
    let _ = keys(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_without_an_address_finds_the_host_through_the_dht() {
    let tmp = tempfile::tempdir().unwrap();
    let host = node(&tmp, 1).await;
    let space = host.handle.create_space("findable", "").await.unwrap();
    // The joiner knows only a bystander, which knows the host but does not host the space: the
    // host is found through Kademlia (its routing walk reaches the host, which then answers
    // the pending join's sync; provider records are asked too).
    let bystander = node_in(tmp.path().join("by"), keys(2), vec![host.addr.clone()]).await;
    eventually(10, "bystander connected", || async {
        bystander.handle.status().await.unwrap().connected_peers == 1
    })
    .await;
    let joiner = node_in(tmp.path().join("j"), keys(3), vec![bystander.addr.clone()]).await;
    let joined = joiner.handle.join(space.id, vec![], JOIN).await.unwrap();
    assert_eq!(joined.members, 2);
    converged(&[&host.handle, &joiner.handle], space.id, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_federate_over_quic_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let quic = |seed: u8| {
        let dir = tmp.path().join(format!("q{seed}"));
        let cfg = tim_node::NodeConfig {
            listen: vec!["/ip4/127.0.0.1/udp/0/quic-v1".parse().unwrap()],
            bootstrap: vec![],
            net: tim_node::NetConfig::default(),
            flush: tim_node::FlushMode::Group,
            public_url: None,
        };
        async move { tim_node::start(keys(seed), &dir, cfg).await.unwrap() }
    };
    let (a, b) = (quic(1).await, quic(2).await);
    eventually(10, "a QUIC listen address", || async {
        !a.status().await.unwrap().listen.is_empty()
    })
    .await;
    let addr: libp2p::Multiaddr = a.status().await.unwrap().listen[0].parse().unwrap();
    assert!(addr.to_string().contains("/quic-v1/"));
    let space = a.create_space("quic", "").await.unwrap();
    b.join(space.id, vec![addr], JOIN).await.unwrap();
    b.post(space.id, "over quic").await.unwrap();
    converged(&[&a, &b], space.id, 1).await;
}

/// Issue 11's defect: a failed store write used to be answered 201 and gossiped, with the
/// in-memory document ahead of the disk. Now the write fails, nothing leaves the node, and
/// the node shows only what its disk holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_the_store_refuses_fails_and_is_neither_kept_nor_gossiped() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (node(&tmp, 1).await, node(&tmp, 2).await);
    let space = a.handle.create_space("disk", "").await.unwrap();
    b.handle
        .join(space.id, vec![a.addr.clone()], JOIN)
        .await
        .unwrap();
    converged(&[&a.handle, &b.handle], space.id, 0).await;
    a.handle.fail_store_writes(true);
    let err = a.handle.post(space.id, "lost").await.unwrap_err();
    assert!(err.to_string().contains("storage failed"), "{err}");
    assert_eq!(a.handle.timeline(space.id).await.unwrap().messages.len(), 0);
    a.handle.fail_store_writes(false);
    a.handle.post(space.id, "kept").await.unwrap();
    converged(&[&a.handle, &b.handle], space.id, 1).await;
    let texts: Vec<String> = b
        .handle
        .timeline(space.id)
        .await
        .unwrap()
        .messages
        .into_iter()
        .map(|m| m.text)
        .collect();
    assert_eq!(texts, ["kept"]);
}
