//! Chains of ability requests through the node, in the deterministic simulator (virtual
//! time): node 0's timite makes a chain of three steps across two providers (node 1's and
//! node 2's timites), whose nodes claim and answer through the engine's writes; node 0 asks
//! each step when the previous one completes, once, even across a crash and restart. A chain
//! completes with its last step's output on every node; a failure in step 2 is the chain's
//! failure on every node, and no later step is asked.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};
use tim_crdt::abilities::chains::{ChainState, PlanStep};
use tim_crdt::abilities::{AbilitySpec, RequestState};
use tim_crdt::Space;
use tim_node::engine::{Answer, Write};
use tim_node::sim::{NetFaults, Sim};
use tim_node::{AbilityAct, Visibility};
use tim_protocol::SpaceId;

const CLEAN: &str = "text.clean";
const SHOUT: &str = "text.shout";
const COUNT: &str = "text.count";
/// Node of the chain's author, and of the two providers.
const CAROL: usize = 0;
const ALICE: usize = 1;
const BOB: usize = 2;

/// Runs `write` on node `i` and waits (virtual time) for its answer.
fn perform(sim: &mut Sim, i: usize, write: Write) -> Answer {
    let t = sim.write(i, write);
    for _ in 0..50 {
        sim.run_for(100);
        if let Some(a) = sim.answer(i, t) {
            return a.clone().unwrap_or_else(|e| panic!("node {i}: {e}"));
        }
    }
    panic!("node {i} never answered");
}

fn act(sim: &mut Sim, i: usize, space: SpaceId, act: AbilityAct) -> Answer {
    perform(sim, i, Write::Ability { space, act })
}

fn space_on(sim: &Sim, i: usize, space: SpaceId) -> &Space {
    sim.engine(i).unwrap().ready_space(space).unwrap()
}

fn declare(sim: &mut Sim, i: usize, space: SpaceId, name: &str, output: &str) {
    let schema =
        |field: &str| json!({ "type": "object", "properties": { field: {} }, "required": [field] });
    let spec = AbilitySpec {
        name: name.into(),
        description: format!("{name}, for the chain tests"),
        input_schema: json!({ "type": "object" }),
        output_schema: schema(output),
        credential: None,
        price: None,
    };
    act(sim, i, space, AbilityAct::Declare(spec));
}

/// Three nodes in a public space of node 0's timite (carol); alice (node 1) declares
/// `text.clean` and `text.count`, bob (node 2) `text.shout`, after carol made a chain of the
/// three (which migrates the space to version 6: carol owns it). Returns the space and the
/// chain.
fn setup(seed: u64) -> (Sim, SpaceId, String) {
    let mut sim = Sim::new(seed, 3, NetFaults::default());
    let Answer::Space(s) = perform(
        &mut sim,
        CAROL,
        Write::Create {
            name: "chains".into(),
            purpose: String::new(),
            visibility: Visibility::Public,
            expires_at: None,
            encryption: None,
        },
    ) else {
        panic!("create answers the space");
    };
    let space = s.id;
    for i in [ALICE, BOB] {
        perform(
            &mut sim,
            i,
            Write::Join {
                space,
                present: vec![],
            },
        );
    }
    let step = |ability: &str, node: usize, map: &[(&str, &str)]| PlanStep {
        ability: ability.into(),
        target: sim.did(node).to_string(),
        map: map
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
    };
    let steps = vec![
        step(CLEAN, ALICE, &[]),
        step(SHOUT, BOB, &[]),
        step(COUNT, ALICE, &[("words", "/loud")]),
    ];
    let chain = AbilityAct::Chain {
        steps,
        input: json!({ "text": "  hello chained world  " }),
        timeout: Duration::from_secs(600),
    };
    let Answer::Ability {
        request: Some(chain),
        ..
    } = act(&mut sim, CAROL, space, chain)
    else {
        panic!("a chain answers its id");
    };
    declare(&mut sim, ALICE, space, CLEAN, "text");
    declare(&mut sim, ALICE, space, COUNT, "count");
    declare(&mut sim, BOB, space, SHOUT, "loud");
    (sim, space, chain)
}

/// What each provider's node does with a request it is asked: clean trims, shout upper-cases
/// (or fails, if `bob_fails`), count counts words.
fn work(ability: &str, input: &Value, bob_fails: bool) -> Result<Value, String> {
    let text = |k: &str| input[k].as_str().unwrap_or_default().to_string();
    match ability {
        CLEAN => Ok(json!({ "text": text("text").trim() })),
        SHOUT if bob_fails => Err("no voice left".into()),
        SHOUT => Ok(json!({ "loud": text("text").to_uppercase() })),
        COUNT => Ok(json!({ "count": text("words").split_whitespace().count() })),
        other => Err(format!("cannot {other}")),
    }
}

/// Each provider claims and answers the open requests that ask it, through its node.
fn serve(sim: &mut Sim, space: SpaceId, bob_fails: bool) {
    for i in [ALICE, BOB] {
        let me = sim.did(i);
        let open: Vec<_> = space_on(sim, i, space)
            .requests()
            .into_iter()
            .filter(|r| r.state == RequestState::Open && r.candidates.contains(&me))
            .collect();
        for r in open {
            act(sim, i, space, AbilityAct::Claim(r.id.clone()));
            let done = match work(&r.ability, &r.input, bob_fails) {
                Ok(output) => AbilityAct::Complete(r.id, output),
                Err(reason) => AbilityAct::Fail(r.id, reason),
            };
            act(sim, i, space, done);
        }
    }
}

/// Serves requests until the chain is no longer running on every node (`crash`:
/// node 0 crashes once its first step is asked, and restarts after the step completes).
fn drive(sim: &mut Sim, space: SpaceId, chain: &str, bob_fails: bool, crash: bool) -> ChainState {
    let mut crashed = false;
    for _ in 0..100 {
        if crash && !crashed && space_on(sim, ALICE, space).requests().len() == 1 {
            sim.crash(CAROL);
            crashed = true;
        }
        serve(sim, space, bob_fails);
        if crashed && !sim.is_up(CAROL) {
            sim.restart(CAROL);
        }
        sim.run_for(500);
        let states: Vec<ChainState> = (0..3)
            .filter_map(|i| sim.engine(i)?.ready_space(space).ok()?.chain(chain))
            .map(|c| c.state)
            .collect();
        if states.len() == 3
            && states.iter().all(|s| *s == states[0])
            && !matches!(states[0], ChainState::Running { .. })
        {
            assert_eq!(crashed, crash, "the author's node crashed mid-chain");
            return states[0].clone();
        }
    }
    panic!(
        "the chain did not finish: {:?}",
        space_on(sim, CAROL, space).chain(chain)
    );
}

#[test]
fn a_chain_of_three_steps_across_two_providers_completes_on_every_node() {
    let (mut sim, space, chain) = setup(7);
    let state = drive(&mut sim, space, &chain, false, true);
    assert_eq!(state, ChainState::Completed);
    for i in 0..3 {
        let s = space_on(&sim, i, space);
        let c = s.chain(&chain).unwrap();
        assert_eq!(c.output, Some(json!({ "count": 3 })), "node {i}");
        let trace: Vec<_> = c
            .trace
            .iter()
            .flatten()
            .map(|r| r.ability.clone())
            .collect();
        assert_eq!(trace, [CLEAN, SHOUT, COUNT], "node {i}: the linked trace");
        assert_eq!(
            c.trace[1].as_ref().unwrap().input,
            json!({ "text": "hello chained world" })
        );
        assert_eq!(s.requests().len(), 3, "node {i}: each step asked once");
    }
    // A restart of the author's node asks nothing again.
    sim.crash(CAROL);
    sim.restart(CAROL);
    sim.run_for(2_000);
    assert_eq!(space_on(&sim, BOB, space).requests().len(), 3);
}

#[test]
fn a_failure_in_step_2_is_reported_as_the_chains_failure_on_every_node() {
    let (mut sim, space, chain) = setup(11);
    let state = drive(&mut sim, space, &chain, true, false);
    assert_eq!(
        state,
        ChainState::Failed {
            step: 1,
            reason: "no voice left".into()
        }
    );
    sim.run_for(2_000);
    for i in 0..3 {
        let s = space_on(&sim, i, space);
        let c = s.chain(&chain).unwrap();
        assert_eq!(c.output, None);
        assert!(c.trace[2].is_none(), "node {i}: step 3 is never asked");
        assert_eq!(s.requests().len(), 2, "node {i}");
    }
}
