//! Payloads held out of band on real sockets (docs/abilities.md §14): a 1 MiB input goes from
//! the requester's node to the provider's and a 1 MiB result back, over `/tim/payload/1`,
//! while the space (and so a third node) records only their hashes and sizes; a peer that
//! sends bytes not matching the hash is refused; a non-member's node gets nothing of an
//! invite-only space.

mod common;

use common::{eventually, node, poll, TestNode, JOIN};
use serde_json::{json, Value};
use tim_crdt::abilities::AbilitySpec;
use tim_crdt::{schema, Space, Writer};
use tim_node::api::RateLimit;
use tim_node::service::{Caller, Service};
use tim_node::{peer_id_of, Handle, NodeError};
use tim_protocol::api::{InviteRequest, NewRequest};
use tim_protocol::payload::PayloadHash;
use tim_protocol::SpaceId;

const SUMMARIZE: &str = "text.summarize";

fn now_ms() -> u64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    since.unwrap().as_millis() as u64
}

/// Migrates `space` to schema version 6 and declares `text.summarize` as node 1's timite,
/// written outside the node and imported through its gate (the node migrates only to 4).
async fn migrate_and_declare(n: &TestNode, space: SpaceId) {
    let (_, envelopes) = n.handle.export(space).await.unwrap();
    let mut copy = Space::empty(space);
    assert!(copy.ingest_batch(envelopes).rejected.is_empty());
    let w = Writer::new(
        n.keys.timite.signing_key().clone(),
        [7; tim_crdt::SESSION_BYTES],
    );
    let spec = AbilitySpec {
        name: SUMMARIZE.into(),
        description: "Summarizes a long text".into(),
        input_schema: json!({"type": "object", "required": ["text"]}),
        output_schema: json!({"type": "object", "required": ["summary"]}),
        credential: None,
        price: None,
    };
    let migrated = copy.migrate(&w, schema::ABILITIES_V2, now_ms()).unwrap();
    let declared = copy.declare(&w, &spec, now_ms()).unwrap();
    n.handle
        .import(space, vec![migrated.envelope, declared.envelope])
        .await
        .unwrap();
}

fn service(h: &Handle) -> (Service, Caller) {
    (
        Service::new(h.clone(), "admin", RateLimit::default()),
        Caller::operator(h.timite()),
    )
}

/// A JSON text of about `n` bytes.
fn big(key: &str, n: usize) -> Value {
    json!({ key: "x".repeat(n) })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_input_and_result_travel_directly_and_the_space_records_hashes_only() {
    let tmp = tempfile::tempdir().unwrap();
    let (n1, n2, n3) = (
        node(&tmp, 1).await,
        node(&tmp, 2).await,
        node(&tmp, 3).await,
    );
    let space = n1.handle.create_space("work", "").await.unwrap().id;
    migrate_and_declare(&n1, space).await;
    for n in [&n2, &n3] {
        n.handle
            .join(space, vec![n1.addr.clone()], JOIN)
            .await
            .unwrap();
    }
    n3.handle.dial(n2.addr.clone()).await.unwrap();
    let (s1, provider) = service(&n1.handle);
    let (s2, requester) = service(&n2.handle);
    let (s3, third) = service(&n3.handle);
    eventually(20, "node 2 to see the declaration", || async {
        s2.abilities(&requester, space).await.unwrap().len() == 1
    })
    .await;

    // Node 2 asks with a 1 MiB input: over the inline bound, so it goes out of band.
    let input = big("text", 1 << 20);
    let made = s2
        .request_ability(
            &requester,
            space,
            &NewRequest {
                ability: SUMMARIZE.into(),
                input: input.clone(),
                to: Some(provider.timite),
                timeout_secs: Some(600),
                reward: None,
            },
        )
        .await
        .unwrap();
    let input_hash = PayloadHash::of(input.to_string().as_bytes());

    // The provider's node fetches the input as soon as the request arrives: once node 1
    // lists it, asking node 1 for the input with node 3 (which lacks it) as the only source
    // gives the bytes, from that prefetch.
    poll(20, "node 1 to list the request", || async {
        let listed = s1
            .requests(&provider, space, Default::default())
            .await
            .unwrap();
        listed.iter().any(|r| r.id == made.id).then_some(())
    })
    .await;
    let prefetched = n1
        .handle
        .payload_from(space, input_hash, Some(peer_id_of(&n3.keys.node)))
        .await
        .unwrap();
    assert_eq!(prefetched, input.to_string().into_bytes());
    // Reading the request shows the input whole.
    let seen = poll(20, "node 1 to receive the request", || async {
        s1.request(&provider, space, &made.id).await.ok()
    })
    .await;
    assert_eq!(seen.input, input);
    let recorded = seen.input_payload.unwrap();
    assert_eq!(recorded.hash, input_hash.to_string());
    assert_eq!(recorded.size, input.to_string().len() as u64);
    s1.claim_request(&provider, space, &made.id).await.unwrap();
    let output = big("summary", 1 << 20);
    s1.request_result(&provider, space, &made.id, output.clone())
        .await
        .unwrap();
    let output_hash = PayloadHash::of(output.to_string().as_bytes());

    // The requester reads the result, fetched from the provider's node and checked.
    let done = poll(20, "node 2 to see the result", || async {
        s2.request(&requester, space, &made.id)
            .await
            .ok()
            .filter(|r| r.state == "completed")
    })
    .await;
    assert_eq!(done.output, Some(output.clone()));
    assert_eq!(done.output_payload.unwrap().hash, output_hash.to_string());
    assert_eq!(done.output_invalid, None);

    // The third node records hashes and sizes only: not the bytes, in its document or store.
    let listed = poll(20, "node 3 to see the outcome", || async {
        s3.requests(&third, space, Default::default())
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.id == made.id && r.state == "completed")
    })
    .await;
    assert_eq!(listed.input, Value::Null);
    assert_eq!(listed.output, None);
    assert_eq!(listed.input_payload.unwrap().hash, input_hash.to_string());
    assert_eq!(
        listed.output_payload.unwrap().size,
        output.to_string().len() as u64
    );
    let (_, envelopes) = n3.handle.export(space).await.unwrap();
    let largest = envelopes.iter().map(|e| e.change.len()).max().unwrap();
    assert!(
        largest < 16 * 1024,
        "a change of {largest} bytes reached node 3"
    );

    // An input held out of band that fails the provider's input schema: its node claims and
    // fails the request with the reason, and tells the caller.
    let bad = s2
        .request_ability(
            &requester,
            space,
            &NewRequest {
                ability: SUMMARIZE.into(),
                input: big("txt", 20_000),
                to: Some(provider.timite),
                timeout_secs: Some(600),
                reward: None,
            },
        )
        .await
        .unwrap();
    let refusal = poll(20, "node 1 to judge the bad input", || async {
        match s1.claim_request(&provider, space, &bad.id).await {
            Err(e) if e.to_string().contains("input schema") => Some(e.to_string()),
            _ => None,
        }
    })
    .await;
    assert!(refusal.contains("claimed and failed"), "{refusal}");
    let failed = poll(20, "node 2 to see the failure", || async {
        s2.request(&requester, space, &bad.id)
            .await
            .ok()
            .filter(|r| r.state == "failed")
    })
    .await;
    assert!(
        failed
            .failure
            .as_deref()
            .is_some_and(|f| f.contains("missing required property `text`")),
        "{:?}",
        failed.failure
    );

    // A peer whose bytes do not match the hash is refused: node 2's copy of the input is
    // corrupted, node 3 asks node 2 only, and keeps nothing; asking node 1 then works.
    n2.handle
        .corrupt_payload(space, input_hash, b"{\"text\": \"forged\"}")
        .unwrap();
    let refused = n3
        .handle
        .payload_from(space, input_hash, Some(peer_id_of(&n2.keys.node)))
        .await;
    match refused {
        Err(NodeError::NotFound(why)) => {
            assert!(why.contains("do not match the hash"), "{why}")
        }
        other => panic!("expected a refusal, got {:?}", other.map(|b| b.len())),
    }
    let fetched = n3
        .handle
        .payload_from(space, input_hash, Some(peer_id_of(&n1.keys.node)))
        .await
        .unwrap();
    assert!(input_hash.matches(&fetched));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invite_only_spaces_payloads_reach_members_nodes_only() {
    let tmp = tempfile::tempdir().unwrap();
    let (n1, n2, n3) = (
        node(&tmp, 1).await,
        node(&tmp, 2).await,
        node(&tmp, 3).await,
    );
    let space = n1
        .handle
        .create_private_space("members", "", None)
        .await
        .unwrap()
        .id;
    let (s1, owner) = service(&n1.handle);
    let invite = InviteRequest {
        did: n2.handle.timite(),
        expires_in_secs: None,
    };
    s1.invite(&owner, space, &invite).await.unwrap();
    n2.handle
        .join(space, vec![n1.addr.clone()], JOIN)
        .await
        .unwrap();
    n3.handle.dial(n1.addr.clone()).await.unwrap();
    let payload = n1.handle.put_payload(space, b"{\"secret\": 1}").unwrap();
    let from_n1 = Some(peer_id_of(&n1.keys.node));

    // A member's node shows its access and gets the bytes.
    let got = n2
        .handle
        .payload_from(space, payload.hash, from_n1)
        .await
        .unwrap();
    assert_eq!(got, b"{\"secret\": 1}");
    // A non-member's node, connected to the same host and knowing the space and the hash,
    // gets nothing: the answer is the same as for a payload the host lacks.
    match n3.handle.payload_from(space, payload.hash, from_n1).await {
        Err(NodeError::NotFound(why)) => assert!(why.contains("does not have it"), "{why}"),
        other => panic!("expected a refusal, got {:?}", other.map(|b| b.len())),
    }
}
