//! Proposals and votes across three nodes in the deterministic simulator (docs/governance.md):
//! a proposal to promote a member passes with votes from two nodes and its close, made by the
//! deciding voter's node without any admin, gives the member its role on all three; a failed
//! proposal changes nothing; two last votes cast concurrently in a partition, neither deciding
//! alone, are closed by a node that sees them merged; and a forged close is refused everywhere.
//! Through the service of a real node: the space's event stream carries `proposal`, `vote` and
//! `proposal_closed` with live tallies, and refusals come back typed.

mod common;

use std::time::Duration;

use tim_crdt::test_utils::forge;
use tim_crdt::{Role, Space, Visibility, Writer};
use tim_node::engine::{Answer, Write, CLOSE_GRACE_MS};
use tim_node::service::{Caller, ServiceError};
use tim_node::sim::{NetFaults, Sim};
use tim_node::{AbilityAct, Act, NodeError};
use tim_protocol::api::{
    Choice, JoinSpace, NewProposal, Outcome, ProposalAction, ProposalsQuery, SpaceEvent,
};
use tim_protocol::SpaceId;
use tokio_stream::StreamExt as _;

/// Runs `sim` in steps of 50 virtual ms until `done` holds, for at most `limit_ms`.
fn until(sim: &mut Sim, limit_ms: u64, mut done: impl FnMut(&Sim) -> bool) -> bool {
    let deadline = sim.now() + limit_ms;
    while sim.now() < deadline {
        if done(sim) {
            return true;
        }
        sim.run_for(50);
    }
    done(sim)
}

fn space_of(sim: &Sim, i: usize, space: SpaceId) -> Option<&Space> {
    sim.engine(i)?.ready_space(space).ok()
}

/// A space made on node 0 (its timite the owner), migrated to schema version 9, that the
/// timites of nodes 1 and 2 joined: three eligible voters.
fn setup(sim: &mut Sim) -> SpaceId {
    let t = sim.write(
        0,
        Write::Create {
            name: "commons".into(),
            purpose: String::new(),
            visibility: Visibility::Public,
            expires_at: None,
            encryption: None,
        },
    );
    assert!(until(sim, 5_000, |s| s.answer(0, t).is_some()));
    let space = match sim.answer(0, t) {
        Some(Ok(Answer::Space(s))) => s.id,
        other => panic!("create: {other:?}"),
    };
    let t = sim.write(
        0,
        Write::Moderate {
            space,
            act: Act::Migrate(9),
        },
    );
    assert!(until(sim, 5_000, |s| s.answer(0, t).is_some()));
    for i in 1..3 {
        sim.write(
            i,
            Write::Join {
                space,
                present: vec![],
            },
        );
    }
    let joined = until(sim, 30_000, |s| {
        s.converged(space, 0)
            && (0..3).all(|i| space_of(s, i, space).is_some_and(|x| x.member_count() == 3))
    });
    assert!(joined, "{}", sim.describe(space));
    space
}

/// Node `i`'s timite proposes `action`; returns the proposal's id.
fn propose(sim: &mut Sim, i: usize, space: SpaceId, action: ProposalAction) -> String {
    let p = NewProposal {
        action,
        min_role: None,
        min_reputation: None,
        quorum: None,
        threshold: None,
        closes_after: None,
    };
    let t = sim.write(
        i,
        Write::Ability {
            space,
            act: AbilityAct::Propose(p),
        },
    );
    assert!(until(sim, 5_000, |s| s.answer(i, t).is_some()));
    match sim.answer(i, t) {
        Some(Ok(Answer::Ability {
            request: Some(id), ..
        })) => id.clone(),
        other => panic!("propose: {other:?}"),
    }
}

/// Node `i`'s timite votes; waits for the answer, which must be a success.
fn vote(sim: &mut Sim, i: usize, space: SpaceId, id: &str, choice: Choice) {
    let t = sim.write(
        i,
        Write::Ability {
            space,
            act: AbilityAct::Vote(id.to_string(), choice),
        },
    );
    assert!(until(sim, 5_000, |s| s.answer(i, t).is_some()));
    assert!(
        matches!(sim.answer(i, t), Some(Ok(_))),
        "vote: {:?}",
        sim.answer(i, t)
    );
}

/// Whether every node reads proposal `id` closed with `outcome`.
fn closed_everywhere(sim: &Sim, space: SpaceId, id: &str, outcome: Outcome) -> bool {
    (0..3).all(|i| {
        space_of(sim, i, space)
            .and_then(|s| s.proposal(id, None))
            .is_some_and(|p| p.outcome == Some(outcome))
    })
}

#[test]
fn a_promotion_passes_by_votes_from_two_nodes_and_a_failed_ban_changes_nothing() {
    let mut sim = Sim::new(7, 3, NetFaults::default());
    let space = setup(&mut sim);
    let (owner, one, two) = (sim.did(0), sim.did(1), sim.did(2));
    let id = propose(
        &mut sim,
        1,
        space,
        ProposalAction::Role {
            did: two,
            role: "moderator".into(),
        },
    );
    assert!(until(&mut sim, 5_000, |s| (0..3)
        .all(
            |i| space_of(s, i, space).is_some_and(|x| x.proposal(&id, None).is_some())
        )));
    vote(&mut sim, 1, space, &id, Choice::Yes);
    vote(&mut sim, 2, space, &id, Choice::Yes);
    let passed = until(&mut sim, 10_000, |s| {
        closed_everywhere(s, space, &id, Outcome::Passed)
            && (0..3).all(|i| {
                space_of(s, i, space).is_some_and(|x| x.role_of(&two) == Some(Role::Moderator))
            })
    });
    assert!(passed, "{}", sim.describe(space));
    let s = space_of(&sim, 0, space).unwrap();
    let p = s.proposal(&id, None).unwrap();
    // Closed by the deciding voter's node, not by the owner (the only admin).
    assert_eq!(p.closed_by, Some(two));
    assert_ne!(p.closed_by, Some(owner));
    assert_eq!((p.tally.yes, p.tally.eligible), (2, 3));

    // A ban of node 1's timite fails: everyone votes no; nothing changes.
    let ban = propose(&mut sim, 2, space, ProposalAction::Ban { did: one });
    for i in 0..3 {
        vote(&mut sim, i, space, &ban, Choice::No);
    }
    let failed = until(&mut sim, 10_000, |s| {
        closed_everywhere(s, space, &ban, Outcome::Failed) && s.converged(space, 0)
    });
    assert!(failed, "{}", sim.describe(space));
    for i in 0..3 {
        let s = space_of(&sim, i, space).unwrap();
        assert_eq!(s.role_of(&one), Some(Role::Member));
        assert_eq!(s.role_of(&two), Some(Role::Moderator));
    }
}

#[test]
fn concurrent_last_votes_are_closed_by_a_node_that_sees_them_merged() {
    let mut sim = Sim::new(11, 3, NetFaults::default());
    let space = setup(&mut sim);
    let one = sim.did(1);
    let id = propose(
        &mut sim,
        2,
        space,
        ProposalAction::Meta {
            key: "purpose".into(),
            value: "tend the commons".into(),
        },
    );
    assert!(until(&mut sim, 5_000, |s| s.converged(space, 0)
        && (0..3).all(
            |i| space_of(s, i, space).is_some_and(|x| x.proposal(&id, None).is_some())
        )));
    // Node 1 alone on one side; each side casts one yes: 1 of 3, undecided on both.
    sim.partition(&[1]);
    vote(&mut sim, 1, space, &id, Choice::Yes);
    vote(&mut sim, 2, space, &id, Choice::Yes);
    sim.run_for(1_000);
    for i in 0..3 {
        let p = space_of(&sim, i, space)
            .unwrap()
            .proposal(&id, None)
            .unwrap();
        assert_eq!(p.outcome, None, "node {i} closed it before the merge");
    }
    sim.heal();
    let passed = until(&mut sim, 30_000, |s| {
        closed_everywhere(s, space, &id, Outcome::Passed) && s.converged(space, 0)
    });
    assert!(passed, "{}", sim.describe(space));
    for i in 0..3 {
        let s = space_of(&sim, i, space).unwrap();
        assert_eq!(s.meta().unwrap().purpose, "tend the commons");
        assert_eq!(s.role_of(&one), Some(Role::Member));
    }
}

#[test]
fn a_forged_close_is_refused_on_every_node() {
    let mut sim = Sim::new(5, 3, NetFaults::default());
    let space = setup(&mut sim);
    let one = sim.did(1);
    let id = propose(
        &mut sim,
        2,
        space,
        ProposalAction::Role {
            did: one,
            role: "admin".into(),
        },
    );
    vote(&mut sim, 1, space, &id, Choice::Yes);
    assert!(until(&mut sim, 5_000, |s| s.converged(space, 0)));
    // Node 1's timite, in a session of its own, closes it as passed with a forged tally and
    // makes itself admin.
    let copy = space_of(&sim, 1, space).unwrap().try_copy().unwrap();
    let member = Writer::new(sim.key(1).clone(), [0xAB; 16]);
    let env = forge(&copy, &member, &member, sim.now() as i64, |tx, d| {
        use automerge::transaction::Transactable;
        use automerge::ReadDoc;
        let (p, _) = d.import(&id).unwrap();
        let c = tx
            .put_object(&p, "closed", automerge::ObjType::Map)
            .unwrap();
        tx.put(&c, "by", one.to_string()).unwrap();
        tx.put(&c, "outcome", "passed").unwrap();
        for (k, v) in [("yes", 2u64), ("no", 0), ("abstain", 0), ("eligible", 3)] {
            tx.put(&c, k, automerge::ScalarValue::Uint(v)).unwrap();
        }
        let members = tim_crdt::test_utils::root(d, "members");
        let (_, entry) = d.get(&members, one.to_string()).unwrap().unwrap();
        tx.put(&entry, "role", "admin").unwrap();
    });
    for i in 0..3 {
        sim.inject_gossip(i, space, env.encode());
    }
    sim.run_for(1_000);
    for i in 0..3 {
        let s = space_of(&sim, i, space).unwrap();
        assert_eq!(s.role_of(&one), Some(Role::Member), "node {i}");
        assert_eq!(s.proposal(&id, None).unwrap().outcome, None, "node {i}");
    }
}

/// A deciding vote whose voter's node stops before closing the proposal (its vote reached the
/// others, its close never will): the other nodes leave the close to it for
/// [`CLOSE_GRACE_MS`], then one of them closes it. Without that sweep it stayed open until
/// some later change touched the space's proposals.
#[test]
fn a_proposal_its_deciding_voters_node_left_open_is_closed_after_a_grace() {
    let mut sim = Sim::new(13, 3, NetFaults::default());
    let space = setup(&mut sim);
    let id = propose(
        &mut sim,
        1,
        space,
        ProposalAction::Meta {
            key: "purpose".into(),
            value: "tend the commons".into(),
        },
    );
    vote(&mut sim, 1, space, &id, Choice::Yes);
    assert!(until(&mut sim, 5_000, |s| s.converged(space, 0)));
    let mut copy = space_of(&sim, 2, space).unwrap().try_copy().unwrap();
    sim.crash(2);
    let voter = Writer::new(sim.key(2).clone(), [0xCD; 16]);
    let deciding = copy.vote(&voter, &id, Choice::Yes, sim.now()).unwrap();
    for i in 0..2 {
        sim.inject_gossip(i, space, deciding.envelope.encode());
    }
    let open = |s: &Sim, i: usize| {
        space_of(s, i, space)
            .and_then(|x| x.proposal(&id, None))
            .is_some_and(|p| p.decided.is_some() && p.outcome.is_none())
    };
    assert!(until(&mut sim, 2_000, |s| open(s, 0) && open(s, 1)));
    // Left to the voter's node while the grace lasts.
    sim.run_for(CLOSE_GRACE_MS / 2);
    assert!(open(&sim, 0) && open(&sim, 1), "{}", sim.describe(space));
    let closed = until(&mut sim, CLOSE_GRACE_MS + 15_000, |s| {
        (0..2).all(|i| {
            space_of(s, i, space)
                .and_then(|x| x.proposal(&id, None))
                .is_some_and(|p| p.outcome == Some(Outcome::Passed))
        })
    });
    assert!(closed, "{}", sim.describe(space));
}

/// The next proposal event of `events`, within 10 s.
async fn next<E>(
    events: &mut (impl tokio_stream::Stream<Item = Result<SpaceEvent, E>> + Unpin),
) -> SpaceEvent
where
    E: std::fmt::Debug,
{
    loop {
        let e = tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .expect("an event within 10 s")
            .expect("the stream stays open")
            .expect("no lag");
        if matches!(
            e,
            SpaceEvent::Proposal { .. }
                | SpaceEvent::Vote { .. }
                | SpaceEvent::ProposalClosed { .. }
        ) {
            return e;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_event_stream_carries_proposals_votes_and_closes_with_live_tallies() {
    let tmp = tempfile::tempdir().unwrap();
    let (_node, service, owner, space) = common::service_space(&tmp, "commons", 9).await;
    let mut callers = Vec::new();
    for _ in 0..2 {
        let did = service.add_timite(&owner).await.unwrap().did;
        let join = JoinSpace {
            via: vec![],
            present: vec![],
            timeout_secs: None,
        };
        service
            .join_space(&Caller::timite(did), space, &join)
            .await
            .unwrap();
        callers.push(Caller::timite(did));
    }
    let (alice, bob) = (callers[0], callers[1]);
    let mut events = Box::pin(service.events(&owner, space).await.unwrap());
    let p = NewProposal {
        action: ProposalAction::Role {
            did: bob.timite,
            role: "moderator".into(),
        },
        min_role: None,
        min_reputation: None,
        quorum: None,
        threshold: None,
        closes_after: None,
    };
    let id = service.propose(&alice, space, &p).await.unwrap().id;
    assert!(
        matches!(next(&mut events).await, SpaceEvent::Proposal { proposal, .. } if proposal.id == id)
    );

    // Closing it now is refused with the rule's reason; a guest-free electorate of three.
    let early = service.close_proposal(&alice, space, &id, false).await;
    assert!(
        matches!(&early, Err(ServiceError::Node(NodeError::Invalid(r))) if r.contains("not decided")),
        "{early:?}"
    );
    service.vote(&alice, space, &id, Choice::Yes).await.unwrap();
    match next(&mut events).await {
        SpaceEvent::Vote {
            voter, proposal, ..
        } => {
            assert_eq!(voter, alice.timite);
            assert_eq!((proposal.tally.yes, proposal.tally.eligible), (1, 3));
            assert_eq!(proposal.outcome, None);
        }
        e => panic!("{e:?}"),
    }
    let voted = service.vote(&bob, space, &id, Choice::Yes).await.unwrap();
    assert_eq!(voted.outcome, Some(Outcome::Passed));
    assert!(
        matches!(next(&mut events).await, SpaceEvent::Vote { voter, .. } if voter == bob.timite)
    );
    match next(&mut events).await {
        SpaceEvent::ProposalClosed { proposal, .. } => {
            assert_eq!(proposal.outcome, Some(Outcome::Passed));
            assert_eq!(proposal.tally.yes, 2);
        }
        e => panic!("{e:?}"),
    }
    let open = service
        .proposals(&owner, space, ProposalsQuery { open: true })
        .await
        .unwrap();
    assert!(open.is_empty(), "{open:?}");
    let again = service.vote(&alice, space, &id, Choice::No).await;
    assert!(again.is_err(), "a vote after the close: {again:?}");
}
