//! Private (invite-only) spaces reach only their members (`docs/privacy.md`): through the
//! service layer (what the API and MCP call), and between nodes, in the deterministic
//! simulator (sync, pushes, a removed member).

mod common;

use std::time::Duration;

use tim_crdt::Visibility;
use tim_node::api::RateLimit;
use tim_node::engine::{Answer, Write};
use tim_node::service::{Caller, Service, ServiceError};
use tim_node::sim::{NetFaults, Sim};
use tim_node::{Act, NodeError};
use tim_protocol::api::{CreateSpace, InviteRequest, JoinSpace, MembersQuery, TimelineQuery};
use tim_protocol::SpaceId;
use tokio_stream::StreamExt as _;

fn unknown(r: Result<impl std::fmt::Debug, ServiceError>, space: SpaceId) {
    assert!(
        matches!(r, Err(ServiceError::Node(NodeError::UnknownSpace(s))) if s == space),
        "{r:?}"
    );
}

/// A second timite on the member's own node, not a member, finds no trace of a private space
/// through any read or write; once invited and joined it reads it; removed, it is shut out
/// again, and its event stream ends. A public space stays open to every timite.
#[tokio::test(flavor = "multi_thread")]
async fn a_private_space_is_invisible_to_a_timite_that_is_not_a_member() {
    let tmp = tempfile::tempdir().unwrap();
    let n = common::node(&tmp, 1).await;
    let service = Service::new(n.handle.clone(), "admin", RateLimit::default());
    let ann = Caller::operator(n.handle.timite());
    let bob = Caller::timite(service.add_timite(&ann).await.unwrap().did);
    let create = |visibility: &str| CreateSpace {
        name: visibility.into(),
        purpose: String::new(),
        visibility: Some(visibility.into()),
        ttl_secs: None,
        encrypted: None,
    };
    let private = service
        .create_space(&ann, &create("invite-only"))
        .await
        .unwrap()
        .id;
    let public = service
        .create_space(&ann, &create("public"))
        .await
        .unwrap()
        .id;
    service
        .post(&ann, private, "for members only")
        .await
        .unwrap();

    let listed: Vec<SpaceId> = service
        .spaces(&bob)
        .await
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(listed, vec![public]);
    unknown(service.space(&bob, private).await, private);
    unknown(
        service
            .timeline(&bob, private, &TimelineQuery::default())
            .await,
        private,
    );
    unknown(
        service
            .members(&bob, private, &MembersQuery::default())
            .await,
        private,
    );
    unknown(service.export_document(&bob, private).await, private);
    unknown(service.export_signatures(&bob, private).await, private);
    unknown(service.events(&bob, private).await.map(drop), private);
    unknown(service.post(&bob, private, "let me in").await, private);
    // Even the operator's token reads it only as a member: ann is one, so it does.
    assert_eq!(
        service
            .timeline(&ann, private, &TimelineQuery::default())
            .await
            .unwrap()
            .messages
            .len(),
        1
    );
    // The public space is open to bob without joining.
    service
        .timeline(&bob, public, &TimelineQuery::default())
        .await
        .unwrap();

    // Invited and joined, bob reads it and follows its events.
    let invite = InviteRequest {
        did: bob.timite,
        expires_in_secs: None,
    };
    service.invite(&ann, private, &invite).await.unwrap();
    let join = JoinSpace {
        via: vec![],
        present: vec![],
        timeout_secs: Some(10),
    };
    service.join_space(&bob, private, &join).await.unwrap();
    let page = service
        .timeline(&bob, private, &TimelineQuery::default())
        .await
        .unwrap();
    assert_eq!(page.messages[0].text, "for members only");
    let mut events = Box::pin(service.events(&bob, private).await.unwrap());
    service.post(&ann, private, "still a member").await.unwrap();
    let first = tokio::time::timeout(Duration::from_secs(10), events.next())
        .await
        .unwrap();
    assert!(
        matches!(
            first,
            Some(Ok(tim_protocol::api::SpaceEvent::Message { .. }))
        ),
        "{first:?}"
    );

    // Removed, bob is shut out: the stream ends at the removal, reads are refused.
    service.kick(&ann, private, bob.timite).await.unwrap();
    service.post(&ann, private, "after bob left").await.unwrap();
    let rest: Vec<_> = tokio::time::timeout(Duration::from_secs(10), events.collect::<Vec<_>>())
        .await
        .expect("the stream ends once bob is removed");
    assert!(
        rest.iter().all(|e| !matches!(e, Ok(tim_protocol::api::SpaceEvent::Message { message, .. }) if message.text == "after bob left")),
        "{rest:?}"
    );
    unknown(
        service
            .timeline(&bob, private, &TimelineQuery::default())
            .await,
        private,
    );
}

fn create(sim: &mut Sim, visibility: Visibility) -> SpaceId {
    let t = sim.write(
        0,
        Write::Create {
            name: "private".into(),
            purpose: String::new(),
            visibility,
            expires_at: None,
            encryption: None,
        },
    );
    sim.run_for(200);
    match sim.answer(0, t) {
        Some(Ok(Answer::Space(s))) => s.id,
        other => panic!("create: {other:?}"),
    }
}

fn texts(sim: &Sim, i: usize, space: SpaceId) -> Vec<String> {
    sim.engine(i)
        .and_then(|e| e.space(&space))
        .map(|s| s.timeline().into_iter().map(|m| m.text).collect())
        .unwrap_or_default()
}

fn post(sim: &mut Sim, i: usize, space: SpaceId, text: &str) {
    sim.write(
        i,
        Write::Post {
            space,
            text: text.into(),
        },
    );
}

fn moderate(sim: &mut Sim, space: SpaceId, act: Act) {
    let t = sim.write(0, Write::Moderate { space, act });
    sim.run_for(500);
    assert!(
        matches!(sim.answer(0, t), Some(Ok(Answer::Change(_)))),
        "{:?}",
        sim.answer(0, t)
    );
}

/// Four nodes, every pair connected: node 0 creates a private space and invites the timites
/// of nodes 1 and 2; node 3 knows the space id and asks to join, uninvited. Members' posts
/// reach the members live (no gossip topic: pushes by sync); node 3 never holds any of the
/// space. Node 2 is removed: what is written after its removal never reaches it, and the
/// remaining members still get everything.
#[test]
fn a_private_space_reaches_its_members_and_nobody_else() {
    for seed in 0..20 {
        let mut sim = Sim::new(seed, 4, NetFaults::default());
        let space = create(&mut sim, Visibility::InviteOnly);
        for i in [1, 2] {
            let did = sim.did(i);
            moderate(&mut sim, space, Act::Invite(did, Duration::from_secs(3600)));
        }
        let joins: Vec<_> = (1..4)
            .map(|i| {
                sim.write(
                    i,
                    Write::Join {
                        space,
                        present: vec![],
                    },
                )
            })
            .collect();
        sim.run_for(5_000);
        for (i, t) in [(1, joins[0]), (2, joins[1])] {
            let joined = sim.answer(i, t);
            assert!(
                matches!(joined, Some(Ok(Answer::Space(_)))),
                "seed {seed}: {joined:?}"
            );
        }
        // The uninvited node is not told the space exists: no host answers its join.
        assert!(sim.answer(3, joins[2]).is_none(), "seed {seed}");
        for i in 0..3 {
            post(&mut sim, i, space, &format!("from {i}"));
        }
        sim.run_for(3_000);
        for i in 0..3 {
            let mut t = texts(&sim, i, space);
            t.sort();
            assert_eq!(t, ["from 0", "from 1", "from 2"], "seed {seed}, node {i}");
        }
        assert!(
            sim.engine(3)
                .unwrap()
                .space(&space)
                .is_none_or(|s| !s.is_ready()),
            "seed {seed}: the uninvited node holds the space"
        );

        // What the uninvited node received from the network, whether or not it kept it: no
        // message text (Automerge stores short strings as their UTF-8 bytes).
        for i in 0..3 {
            let text = format!("from {i}");
            assert!(!sim.received_bytes(3, 0, text.as_bytes()), "seed {seed}");
            assert!(
                sim.received_bytes((i + 1) % 3, 0, text.as_bytes()),
                "seed {seed}: the check finds nothing"
            );
        }

        let removed = sim.did(2);
        let removal = sim.now();
        moderate(&mut sim, space, Act::Kick(removed));
        post(&mut sim, 0, space, "after the removal, from 0");
        post(&mut sim, 1, space, "after the removal, from 1");
        sim.run_for(5_000);
        for i in [0, 1] {
            assert_eq!(texts(&sim, i, space).len(), 5, "seed {seed}, node {i}");
        }
        let seen = texts(&sim, 2, space);
        assert!(
            seen.iter().all(|t| !t.starts_with("after the removal")),
            "seed {seed}: the removed member's node got {seen:?}"
        );
        for (node, received) in [(1, true), (2, false), (3, false)] {
            assert_eq!(
                sim.received_bytes(node, removal, b"after the removal, from 0"),
                received,
                "seed {seed}, node {node}"
            );
        }
        assert!(sim
            .engine(3)
            .unwrap()
            .space(&space)
            .is_none_or(|s| !s.is_ready()));

        // Its caller gives the join up: the space that never came is not kept, not even
        // across a crash and restart (the answer comes once the drop is on disk).
        let cancel = sim.write(3, Write::CancelJoin { space });
        sim.run_for(1_000);
        let cancelled = sim.answer(3, cancel);
        assert!(
            matches!(cancelled, Some(Ok(Answer::JoinCancelled { dropped: true }))),
            "seed {seed}: {cancelled:?}"
        );
        assert!(
            sim.engine(3).unwrap().space(&space).is_none(),
            "seed {seed}"
        );
        let waiting = sim.answer(3, joins[2]);
        assert!(
            matches!(waiting, Some(Err(NodeError::Timeout(_)))),
            "seed {seed}: {waiting:?}"
        );
        sim.crash(3);
        sim.restart(3);
        sim.run_for(1_000);
        assert!(
            sim.engine(3).unwrap().space(&space).is_none(),
            "seed {seed}: the space came back after a restart"
        );
    }
}

/// A public space is unchanged: anyone with its id syncs it.
#[test]
fn a_public_space_still_reaches_any_joiner() {
    let mut sim = Sim::new(5, 3, NetFaults::default());
    let space = create(&mut sim, Visibility::Public);
    post(&mut sim, 0, space, "hello");
    sim.run_for(500);
    for i in 1..3 {
        sim.write(
            i,
            Write::Join {
                space,
                present: vec![],
            },
        );
    }
    assert!(sim.settle(space, 1, 30_000), "{}", sim.describe(space));
}
