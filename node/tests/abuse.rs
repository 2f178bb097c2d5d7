//! A network that punishes abuse, over real sockets on 127.0.0.1: a taken P2P port stops a
//! node from starting, a peer that floods invalid changes is graylisted by gossipsub's peer
//! score and dropped, and bans survive a restart.

mod common;

use common::{keys, node};
use libp2p::Multiaddr;
use tim_node::{start, FlushMode, NetConfig, NodeConfig};

fn listening_on(addr: &str, reuse_port: bool) -> NodeConfig {
    NodeConfig {
        listen: vec![addr.parse().unwrap()],
        bootstrap: vec![],
        net: NetConfig {
            reuse_port,
            ..NetConfig::default()
        },
        flush: FlushMode::Group,
        public_url: None,
    }
}

/// The port of a listen address such as `/ip4/127.0.0.1/tcp/N/p2p/…`.
fn port_of(addr: &Multiaddr) -> u16 {
    addr.iter()
        .find_map(|p| match p {
            libp2p::multiaddr::Protocol::Tcp(port) | libp2p::multiaddr::Protocol::Udp(port) => {
                Some(port)
            }
            _ => None,
        })
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_node_on_a_taken_p2p_port_refuses_to_start() {
    let tmp = tempfile::tempdir().unwrap();
    let first = node(&tmp, 1).await;
    let port = port_of(&first.addr);
    let taken = format!("/ip4/127.0.0.1/tcp/{port}");
    let err = start(keys(2), &tmp.path().join("n2"), listening_on(&taken, false))
        .await
        .expect_err("a second node on a taken TCP port must not start");
    let want = format!("the P2P port 127.0.0.1:{port} is in use (another node?)");
    assert!(format!("{err:#}").contains(&want), "{err:#}");

    // Sharing the port is possible when asked for (libp2p binds with SO_REUSEPORT).
    let shared = start(keys(3), &tmp.path().join("n3"), listening_on(&taken, true))
        .await
        .expect("--reuse-port shares the port");
    assert_eq!(shared.status().await.unwrap().listen.len(), 1);

    // QUIC: the UDP port of a running node is refused too.
    let quic = start(
        keys(4),
        &tmp.path().join("n4"),
        listening_on("/ip4/127.0.0.1/udp/0/quic-v1", false),
    )
    .await
    .unwrap();
    let addr: Multiaddr = quic.status().await.unwrap().listen[0].parse().unwrap();
    let udp = port_of(&addr);
    let err = start(
        keys(5),
        &tmp.path().join("n5"),
        listening_on(&format!("/ip4/127.0.0.1/udp/{udp}/quic-v1"), false),
    )
    .await
    .expect_err("a second node on a taken QUIC port must not start");
    let want = format!("the QUIC P2P port 127.0.0.1:{udp} is in use (another node?)");
    assert!(format!("{err:#}").contains(&want), "{err:#}");
}

/// Reads a counter of the node's metrics (0 if absent).
fn counter(node: &tim_node::Handle, name: &str) -> u64 {
    node.metrics()
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_flooding_invalid_changes_is_graylisted_and_dropped_while_honest_nodes_go_on() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, rogue) = (
        node(&tmp, 1).await,
        node(&tmp, 2).await,
        node(&tmp, 3).await,
    );
    let space = a.handle.create_space("flooded", "").await.unwrap();
    for n in [&b, &rogue] {
        n.handle
            .join(space.id, vec![a.addr.clone()], common::JOIN)
            .await
            .unwrap();
    }
    common::eventually(
        10,
        "the rogue to know a's and b's subscriptions",
        || async { common::topic_peers(&rogue.handle, space.id).await >= 2 },
    )
    .await;

    // Invalid changes, each different (message ids are content hashes), one at a time: each
    // is a rejected message for gossipsub's score of the rogue, -n² in all.
    let graylisted = |n: &common::TestNode| counter(&n.handle, "tim_peers_graylisted_total") > 0;
    let mut sent = 0;
    while !graylisted(&a) || !graylisted(&b) {
        assert!(
            sent < 40,
            "the rogue was not graylisted after {sent} invalid changes"
        );
        let mut junk = b"\xa1\x00".to_vec();
        junk.extend(format!("not an envelope {sent}").bytes());
        rogue.handle.publish_raw(space.id, junk).await.unwrap();
        sent += 1;
        for n in [&a, &b] {
            common::eventually(10, "the verdict", || async {
                n.handle.status().await.unwrap().rejected_changes == sent || graylisted(n)
            })
            .await;
        }
    }
    // Below -80 from the 9th (10th once first deliveries gave it credit), not before.
    assert!(
        (9..=11).contains(&sent),
        "graylisted after {sent} invalid changes"
    );
    common::eventually(10, "the rogue disconnected", || async {
        rogue.handle.status().await.unwrap().connected_peers == 0
    })
    .await;

    // Honest nodes go on exchanging.
    a.handle.post(space.id, "from a").await.unwrap();
    b.handle.post(space.id, "from b").await.unwrap();
    common::converged(&[&a.handle, &b.handle], space.id, 2).await;

    // The rogue is refused when it comes back.
    rogue.handle.dial(a.addr.clone()).await.unwrap();
    common::eventually(10, "a to refuse the rogue", || async {
        counter(&a.handle, "tim_peers_refused_total") >= 1
    })
    .await;
}
