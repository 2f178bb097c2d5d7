//! Process level: writes a node acknowledged, and what it has shown of its peers' changes,
//! survive `kill -9` even with no peer left to re-sync. Each test kills the process at once
//! after the last acknowledgement or read, sooner than sled's own background flush (every
//! 500 ms) would have run, so only the flush before the answer can have saved the writes.

use std::collections::BTreeSet;
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
    let shown_at = Instant::now();
    cluster.kill(1).await.unwrap();
    assert!(
        shown_at.elapsed() < SLED_FLUSH_EVERY,
        "killed too late to tell"
    );
    cluster.kill(0).await.unwrap();
    cluster.restart(1).await.unwrap();
    let after = cluster.nodes[1].client.timeline(space).await.unwrap();
    assert_eq!(after.heads, shown.heads, "node 2 lost changes it had shown");
    assert_eq!(after.messages.len(), MESSAGES);
    cluster.stop().await;
}

/// sled's background flush interval (node/src/store.rs): a kill sooner than this after a write
/// is a kill before that flush could have saved it.
const SLED_FLUSH_EVERY: Duration = Duration::from_millis(500);

/// Process level: 16 writers post at once through the API of one node; the node is killed
/// (SIGKILL, no shutdown) as soon as the last post is acknowledged, and every acknowledged
/// message is there after the restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_posts_survive_sigkill_right_after_the_answer() {
    const WRITERS: usize = 16;
    const EACH: usize = 10;
    let exe = Path::new(env!("CARGO_BIN_EXE_tim"));
    let mut cluster = Cluster::start(exe, 1, None, None).await.unwrap();
    let client = cluster.nodes[0].client.clone();
    let space = client.create_space("acked", "").await.unwrap().id;
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let client = client.clone();
        writers.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..EACH {
                ids.push(
                    client
                        .post_message(space, &format!("{w}/{i}"))
                        .await
                        .unwrap()
                        .id,
                );
            }
            ids
        }));
    }
    let mut acked = BTreeSet::new();
    for w in writers {
        acked.extend(w.await.unwrap());
    }
    let last_ack = Instant::now();
    cluster.kill(0).await.unwrap();
    assert!(
        last_ack.elapsed() < SLED_FLUSH_EVERY,
        "killed too late to tell"
    );
    cluster.restart(0).await.unwrap();
    let after = cluster.nodes[0].client.timeline(space).await.unwrap();
    let kept: BTreeSet<String> = after.messages.into_iter().map(|m| m.id).collect();
    let lost: Vec<&String> = acked.difference(&kept).collect();
    assert!(
        lost.is_empty(),
        "acknowledged posts lost after SIGKILL: {lost:?}"
    );
    assert_eq!(acked.len(), WRITERS * EACH);
    cluster.stop().await;
}
