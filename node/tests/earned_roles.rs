//! Earned roles across nodes, in the deterministic simulator (docs/governance.md "Earned
//! roles"): three nodes, a seeded network with delays and reordering; as the owner's rating
//! raises a member's reputation over the threshold the earned role appears on every node, and
//! the member moderates; when the rating is lowered the role lapses on every node, and the
//! same act is refused.

use tim_crdt::schema::SOCIAL;
use tim_crdt::{Role, Visibility};
use tim_node::engine::{Answer, Write};
use tim_node::sim::{NetFaults, Sim};
use tim_node::Act;
use tim_protocol::api::{EarnedRole, RoleHeld};
use tim_protocol::{Did, SpaceId};

/// Virtual milliseconds a settle may take.
const SETTLE_MS: u64 = 60_000;

fn threshold() -> EarnedRole {
    EarnedRole {
        role: "moderator".into(),
        min_reputation: Some(10),
        ability: None,
        min_ability_reputation: None,
    }
}

/// Node `i`'s write, run until answered; panics on a refusal.
fn wrote(sim: &mut Sim, i: usize, write: Write) -> Answer {
    let t = sim.write(i, write);
    sim.run_for(2_000);
    match sim.answer(i, t) {
        Some(Ok(a)) => a.clone(),
        other => panic!("node {i}: {other:?}"),
    }
}

fn moderate(sim: &mut Sim, i: usize, space: SpaceId, act: Act) -> Answer {
    wrote(sim, i, Write::Moderate { space, act })
}

/// Node `i`'s view of `who`: its role, how it is held, its reputation.
fn seen(sim: &Sim, i: usize, space: SpaceId, who: &Did) -> (String, RoleHeld, u64) {
    let s = sim.engine(i).unwrap().ready_space(space).unwrap();
    let m = s.member(who).unwrap();
    (m.role, m.held, m.reputation)
}

/// The id of the newest message by `author`, as node `i` reads it.
fn newest_by(sim: &mut Sim, i: usize, space: SpaceId, author: &Did) -> String {
    sim.read(i, space)
        .into_iter()
        .rev()
        .find(|m| m.author == *author)
        .expect("a message")
        .id
}

#[test]
fn an_earned_role_appears_and_lapses_on_every_node_as_ratings_change() {
    let mut sim = Sim::new(16, 3, NetFaults::default());
    let Answer::Space(summary) = wrote(
        &mut sim,
        0,
        Write::Create {
            name: "garden".into(),
            purpose: String::new(),
            visibility: Visibility::Public,
            expires_at: None,
            encryption: None,
        },
    ) else {
        panic!("create answers with a space");
    };
    let space = summary.id;
    for i in 1..3 {
        sim.write(
            i,
            Write::Join {
                space,
                present: vec![],
            },
        );
    }
    assert!(sim.settle(space, 0, SETTLE_MS), "{}", sim.describe(space));
    moderate(&mut sim, 0, space, Act::Migrate(SOCIAL));
    moderate(&mut sim, 0, space, Act::SetEarnedRoles(vec![threshold()]));
    let (ann, bob) = (sim.did(1), sim.did(2));
    for text in ["one", "two"] {
        wrote(
            &mut sim,
            2,
            Write::Post {
                space,
                text: text.into(),
            },
        );
    }
    assert!(sim.settle(space, 2, SETTLE_MS), "{}", sim.describe(space));
    for i in 0..3 {
        assert_eq!(
            seen(&sim, i, space, &ann),
            ("member".into(), RoleHeld::Assigned, 0),
            "node {i}"
        );
    }

    // The owner rates Ann 5: 10 points, the threshold. Every node shows her a moderator.
    moderate(&mut sim, 0, space, Act::Rate(ann, 5));
    assert!(sim.settle(space, 2, SETTLE_MS), "{}", sim.describe(space));
    for i in 0..3 {
        assert_eq!(
            seen(&sim, i, space, &ann),
            ("moderator".into(), RoleHeld::Earned, 10),
            "node {i}"
        );
        let s = sim.engine(i).unwrap().ready_space(space).unwrap();
        assert_eq!(
            s.effective_role(&ann),
            Some((Role::Moderator, Some(threshold())))
        );
    }
    // She deletes Bob's message; every node applies it.
    let two = newest_by(&mut sim, 1, space, &bob);
    moderate(&mut sim, 1, space, Act::DeleteMessage(two));
    assert!(sim.settle(space, 1, SETTLE_MS), "{}", sim.describe(space));
    for i in 0..3 {
        assert_eq!(sim.read(i, space).len(), 1, "node {i}");
    }

    // The owner lowers the rating to 3: the role lapses on every node, no admin act.
    moderate(&mut sim, 0, space, Act::Rate(ann, 3));
    assert!(sim.settle(space, 1, SETTLE_MS), "{}", sim.describe(space));
    for i in 0..3 {
        assert_eq!(
            seen(&sim, i, space, &ann),
            ("member".into(), RoleHeld::Assigned, 0),
            "node {i}"
        );
    }
    let one = newest_by(&mut sim, 1, space, &bob);
    let t = sim.write(
        1,
        Write::Moderate {
            space,
            act: Act::DeleteMessage(one),
        },
    );
    sim.run_for(2_000);
    let refused = sim.answer(1, t);
    assert!(
        matches!(refused, Some(Err(e)) if e.to_string().contains("moderate")),
        "{refused:?}"
    );
    assert!(sim.settle(space, 1, SETTLE_MS), "{}", sim.describe(space));
    for i in 0..3 {
        assert_eq!(sim.read(i, space).len(), 1, "node {i}");
    }
    // At the same heads, every node computes the same reputation and basis for everyone.
    let first = sim.engine(0).unwrap().ready_space(space).unwrap();
    let members = first.members();
    assert_eq!(members.len(), 3);
    for i in 1..3 {
        let s = sim.engine(i).unwrap().ready_space(space).unwrap();
        assert_eq!(s.heads(), first.heads(), "node {i}");
        for m in &members {
            assert_eq!(s.reputation(&m.did), first.reputation(&m.did), "node {i}");
        }
    }
}
