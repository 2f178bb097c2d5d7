//! Process level: what a node has shown of its peers' changes survives `kill -9` even with no
//! peer left to re-sync.

use std::path::Path;
use std::time::{Duration, Instant};

use tim_testnet::Cluster;

/// Process level: node 2 receives 30 messages from node 1 by gossip and shows them; it is
/// killed at once (SIGKILL), then node 1 too, so node 2 restarts alone and can only have what
/// it stored. (Before reads waited for durability, sled's 500 ms background flush lost them.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_a_node_has_shown_survive_sigkill_with_no_peer_left() {
    const MESSAGES: usize = 30;
    let exe = Path::new(env!("CARGO_BIN_EXE_tim"));
    let mut cluster = Cluster::start(exe, 2, None, None).await.unwrap();
    let (one, two) = (&cluster.nodes[0], &cluster.nodes[1]);
    let space = one.client.create_space("relay", "").await.unwrap().id;
    two.client
        .join(space, one.listen[..1].to_vec(), Vec::new())
        .await
        .unwrap();
    for i in 0..MESSAGES {
        one.client
            .post_message(space, &format!("m{i}"))
            .await
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let shown = loop {
        let t = two.client.timeline(space).await.unwrap();
        if t.messages.len() == MESSAGES {
            break t;
        }
        assert!(
            Instant::now() < deadline,
            "node 2 never received all messages"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    cluster.kill(1).await.unwrap();
    cluster.kill(0).await.unwrap();
    cluster.restart(1).await.unwrap();
    let after = cluster.nodes[1].client.timeline(space).await.unwrap();
    assert_eq!(after.heads, shown.heads, "node 2 lost changes it had shown");
    assert_eq!(after.messages.len(), MESSAGES);
    cluster.stop().await;
}
