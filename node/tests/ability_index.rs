//! The network index of abilities on real sockets (docs/abilities.md §11): a provider's
//! declaration in a public space reaches, through a node that never joined the space, a node
//! that never heard of it; that node joins through the address it found and reads the
//! declaration in the space; a provider's node counts as reachable once connected; a
//! withdrawal drops it from every node's index.

mod common;

use common::{eventually, node, poll, JOIN};
use serde_json::json;
use tim_crdt::abilities::AbilitySpec;
use tim_crdt::{Space, Writer};
use tim_node::index::NetworkHit;
use tim_node::{peer_id_of, Handle};
use tim_protocol::{Envelope, SpaceId};

/// A space as a node holds it, rebuilt from its export (the test reads and writes the
/// document outside the node: this slice adds no declaration path to the node).
async fn local_copy(node: &Handle, space: SpaceId) -> Space {
    let (_, envelopes) = node.export(space).await.unwrap();
    let mut copy = Space::empty(space);
    let batch = copy.ingest_batch(envelopes);
    assert!(batch.rejected.is_empty(), "{:?}", batch.rejected);
    copy
}

/// Writes as the node's timite outside the node, then imports the signed changes into it:
/// they go through the node's gate and are published like its own.
async fn write_as(
    node: &Handle,
    w: &Writer,
    space: SpaceId,
    write: impl FnOnce(&mut Space, &Writer) -> Vec<Envelope>,
) {
    let mut copy = local_copy(node, space).await;
    let envelopes = write(&mut copy, w);
    node.import(space, envelopes).await.unwrap();
}

fn now_ms() -> u64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    since.unwrap().as_millis() as u64
}

fn summarize() -> AbilitySpec {
    AbilitySpec {
        name: "text.summarize".into(),
        description: "Shortens a text to a few sentences".into(),
        input_schema: json!({"type": "object", "properties": {"text": {"type": "string"}}}),
        output_schema: json!({"type": "object"}),
        credential: None,
        price: None,
    }
}

async fn found(node: &Handle, query: &str) -> Vec<NetworkHit> {
    node.network_search(query, 10).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_finds_a_provider_in_a_space_it_never_joined_and_joins_through_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (n1, n2, n3) = (
        node(&tmp, 1).await,
        node(&tmp, 2).await,
        node(&tmp, 3).await,
    );
    // A line: 1 - 2 - 3. Node 3 never connects to node 1 until it joins.
    n1.handle.dial(n2.addr.clone()).await.unwrap();
    n3.handle.dial(n2.addr.clone()).await.unwrap();

    let space = n1
        .handle
        .create_space("workshop", "texts")
        .await
        .unwrap()
        .id;
    let provider = n1.keys.timite.did();
    let w = Writer::new(
        n1.keys.timite.signing_key().clone(),
        [42; tim_crdt::SESSION_BYTES],
    );
    write_as(&n1.handle, &w, space, |s, w| {
        let migrated = s.migrate(w, 4, now_ms()).unwrap().envelope;
        vec![
            migrated,
            s.declare(w, &summarize(), now_ms()).unwrap().envelope,
        ]
    })
    .await;

    let hit = poll(20, "node 3 to find the provider", || async {
        found(&n3.handle, "summarize").await.into_iter().next()
    })
    .await;
    assert_eq!(
        (hit.provider, hit.ability.as_str()),
        (provider, "text.summarize")
    );
    assert_eq!((hit.space, hit.space_name.as_str()), (space, "workshop"));
    assert_eq!(hit.node, peer_id_of(&n1.keys.node));
    assert!(
        hit.addrs.contains(&n1.addr),
        "{:?} lacks {}",
        hit.addrs,
        n1.addr
    );
    assert_eq!(hit.description, "Shortens a text to a few sentences");
    // Node 2 relayed the record without hosting the space; it finds the provider too.
    assert!(n2.handle.spaces().await.unwrap().is_empty());
    assert_eq!(found(&n2.handle, "text").await.len(), 1);
    // Node 1 lists its own entries.
    assert_eq!(found(&n1.handle, "summarize").await.len(), 1);
    // Availability: node 1 hosts the provider, node 2 is connected to node 1; nobody's index
    // lists node 3's timite.
    let available = |n: &Handle, who| {
        let n = n.clone();
        async move { n.availability(vec![who]).await.unwrap()[0] }
    };
    assert_eq!(available(&n1.handle, provider).await, Some(true));
    assert_eq!(available(&n2.handle, provider).await, Some(true));
    assert_eq!(available(&n1.handle, n3.keys.timite.did()).await, None);

    // Node 3 joins through the address it found, and reads the declaration in the space.
    assert!(n3.handle.spaces().await.unwrap().is_empty());
    n3.handle
        .join(hit.space, hit.addrs.clone(), JOIN)
        .await
        .unwrap();
    eventually(20, "node 3 to reach the provider's node", || async {
        available(&n3.handle, provider).await == Some(true)
    })
    .await;
    let declared = local_copy(&n3.handle, space).await.abilities();
    assert_eq!(declared.len(), 1);
    assert_eq!(
        (declared[0].provider, declared[0].spec.name.as_str()),
        (provider, "text.summarize")
    );

    // A withdrawal leaves every node's index at node 1's next publication.
    write_as(&n1.handle, &w, space, |s, w| {
        vec![s.withdraw(w, "text.summarize", now_ms()).unwrap().envelope]
    })
    .await;
    for n in [&n1, &n2, &n3] {
        eventually(20, "the withdrawal to reach every index", || async {
            found(&n.handle, "summarize").await.is_empty()
        })
        .await;
    }

    // Declared again, then node 1 goes away: its record stays in node 3's index until it
    // expires, but node 3 can no longer reach the provider.
    write_as(&n1.handle, &w, space, |s, w| {
        vec![s.declare(w, &summarize(), now_ms()).unwrap().envelope]
    })
    .await;
    eventually(
        20,
        "the declaration to reach node 3's index again",
        || async { !found(&n3.handle, "summarize").await.is_empty() },
    )
    .await;
    n1.handle.shutdown().await.unwrap();
    eventually(
        20,
        "node 3 to see the provider's node unreachable",
        || async { available(&n3.handle, provider).await == Some(false) },
    )
    .await;
}
