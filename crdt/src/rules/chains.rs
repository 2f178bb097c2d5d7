//! The rules of chains (schema version 6; docs/rules.md §5.3 and docs/abilities.md §12): a
//! member with `post` makes a chain, whole, in one change; only its author cancels it; a
//! request that is a step of a chain is asked by the chain's author, as the plan says, with
//! the chain's input (the first step) or the previous step's accepted output mapped (the
//! others), once per step. Every verdict reads the document at the change's dependencies.

use automerge::legacy::{OpId, OpType};
use automerge::ScalarValue;
use serde_json::Value;

use super::{deny, Effect, Judge};
use crate::abilities::chains::{check_plan, ChainState, PlanStep, STEPS};
use crate::abilities::{Abilities, CANCELLED, DEADLINE, INPUT, MAX_TIMEOUT_MS};
use crate::{doc, Rejection};

/// A chain this change makes, and its fields.
#[derive(Default)]
pub(super) struct ChainBeingMade {
    map: Option<OpId>,
    author: bool,
    steps: Option<String>,
    input: Option<String>,
    at: Option<i64>,
    deadline: Option<i64>,
}

impl Judge<'_> {
    /// `chains`: a member with `post` appends a chain (one a change), in a space that is not
    /// end-to-end encrypted; chains are never replaced or deleted.
    pub(super) fn check_chains(
        &mut self,
        op_id: &OpId,
        op: &automerge::legacy::Op,
    ) -> Result<(), Rejection> {
        self.check_appended(op, "chains of requests", "chains", "making a chain")?;
        if self.chain.is_some() {
            return deny("a change makes one chain at most".into());
        }
        self.chain = Some(ChainBeingMade {
            map: Some(op_id.clone()),
            ..ChainBeingMade::default()
        });
        self.effects.push(Effect::Chained {
            id: format!("{}@{}", op_id.counter(), self.actor),
        });
        Ok(())
    }

    /// A write into a chain map: a field of the chain this change makes, or its author's
    /// cancellation of a running chain.
    pub(super) fn check_chain(
        &mut self,
        obj: &OpId,
        key: Option<&str>,
        op: &automerge::legacy::Op,
    ) -> Result<(), Rejection> {
        if let Some(c) = self.chain.as_mut().filter(|c| c.map.as_ref() == Some(obj)) {
            match (key, &op.action) {
                // (`check_op` checked that it is the author's own DID.)
                (Some(doc::AUTHOR), _) => c.author = true,
                (Some(STEPS), OpType::Put(ScalarValue::Str(s))) => c.steps = Some(s.to_string()),
                (Some(INPUT), OpType::Put(ScalarValue::Str(s))) => c.input = Some(s.to_string()),
                (Some(doc::AT), OpType::Put(ScalarValue::Timestamp(t))) => c.at = Some(*t),
                (Some(DEADLINE), OpType::Put(ScalarValue::Timestamp(t))) => c.deadline = Some(*t),
                _ => {
                    return deny(
                        "a new chain holds author, steps, input, at and deadline; its steps \
                         are requests in later changes"
                            .into(),
                    )
                }
            }
            return Ok(());
        }
        let id = format!("{}@{}", obj.counter(), obj.actor());
        let a = Abilities::new(self.at.view);
        let Some(rec) = a.chain_record(&id) else {
            return deny(format!(
                "{}; chain {id} is not complete at this change's dependencies",
                self.who
            ));
        };
        if rec.author != self.author_str {
            return deny(format!(
                "{}; only the author of chain {id} cancels it",
                self.who
            ));
        }
        if !matches!(
            (key, &op.action),
            (Some(CANCELLED), OpType::Put(ScalarValue::Timestamp(_)))
        ) {
            return deny(format!(
                "{}; a chain is written whole: its author only cancels it (`cancelled`, a \
                 timestamp)",
                self.who
            ));
        }
        let state = a.progress(&id, &rec).state;
        if !matches!(state, ChainState::Running { .. }) {
            return deny(format!(
                "chain {id} is {}: it can no longer be cancelled",
                state.as_str()
            ));
        }
        self.effects.push(Effect::ChainCancelled { id });
        Ok(())
    }

    /// A chain, once the change wrote all of it: complete, its time the change's, its plan
    /// valid, its input JSON.
    pub(super) fn check_chain_made(&self, c: ChainBeingMade) -> Result<(), Rejection> {
        let (true, Some(steps), Some(input), Some(at), Some(deadline)) =
            (c.author, c.steps, c.input, c.at, c.deadline)
        else {
            return deny("a chain needs author, steps, input, at and deadline".into());
        };
        if at != self.time {
            return deny("a chain's `at` is its change's time".into());
        }
        if !(1..=MAX_TIMEOUT_MS as i64).contains(&(deadline - at)) {
            return deny(format!(
                "a chain's deadline is 1 ms to {MAX_TIMEOUT_MS} ms after it"
            ));
        }
        let plan: Vec<PlanStep> = serde_json::from_str(&steps).map_err(|e| {
            Rejection::Unauthorized(format!(
                "a chain's steps are a JSON list of {{ability, target, map?}}: {e}"
            ))
        })?;
        check_plan(&plan, &self.author_str).map_err(Rejection::Unauthorized)?;
        serde_json::from_str::<Value>(&input)
            .map_err(|e| Rejection::Unauthorized(format!("a chain's input is not JSON: {e}")))?;
        Ok(())
    }

    /// A request that names a chain and a step (from schema version 6): asked by the chain's
    /// author, as its plan says, within its deadline, once per step, with the chain's input
    /// (the first step) or the mapping of the previous step's accepted output (the others).
    pub(super) fn check_chain_step(
        &self,
        link: (Option<String>, Option<u64>),
        ability: &str,
        target: &str,
        input: &Value,
        deadline: i64,
    ) -> Result<(), Rejection> {
        let (id, step) = match link {
            (None, None) => return Ok(()),
            (Some(id), Some(step)) => (id, usize::try_from(step).unwrap_or(usize::MAX)),
            _ => return deny("a step of a chain names both its `chain` and its `step`".into()),
        };
        let a = Abilities::new(self.at.view);
        let Some(rec) = a.chain_record(&id) else {
            return deny(format!(
                "{}; no chain {id} at this change's dependencies",
                self.who
            ));
        };
        if rec.author != self.author_str {
            return deny(format!(
                "{}; only the author of chain {id} asks its steps",
                self.who
            ));
        }
        let Some(plan) = rec.steps.get(step) else {
            return deny(format!(
                "chain {id} has {} steps: there is no step {step}",
                rec.steps.len()
            ));
        };
        if plan.ability != ability || plan.target != target {
            return deny(format!(
                "step {step} of chain {id} asks {} of {}, as its plan says",
                plan.ability, plan.target
            ));
        }
        if deadline > rec.deadline {
            return deny(format!(
                "a step of chain {id} is due by the chain's deadline ({})",
                rec.deadline
            ));
        }
        if a.has_step(&id, step) {
            return deny(format!(
                "{}; step {step} of chain {id} is asked already",
                self.who
            ));
        }
        let progress = a.progress(&id, &rec);
        if progress.state != (ChainState::Running { step }) {
            return deny(format!(
                "chain {id} is {} at step {}: step {step} is not due",
                progress.state.as_str(),
                progress.state.step().unwrap_or(rec.steps.len())
            ));
        }
        let expected = progress
            .input_of(&rec, step)
            .map_err(Rejection::Unauthorized)?;
        if *input != expected {
            return deny(format!(
                "the input of step {step} of chain {id} is {}",
                if step == 0 {
                    "the chain's input"
                } else {
                    "the previous step's output, mapped as the plan says"
                }
            ));
        }
        Ok(())
    }
}
