//! Chains of ability requests (schema version 6, docs/abilities.md §12): a signed plan of
//! steps, each an ability request whose input is the previous step's accepted output (through
//! a mapping where the schemas differ), and the pure functions every node computes alike from
//! the document: a chain's state and its trace, and the step that is due next.
//!
//! ```text
//! chains: List [ Map { author: Str(DID), steps: Str(JSON plan), input: Str(JSON),
//!                at: Timestamp, deadline: Timestamp, cancelled?: Timestamp } ]
//! requests[i] += { chain: Str(chain id), step: Uint }        (a step of a chain)
//! ```
//! A plan is a JSON array of 2 to [`MAX_STEPS`] `{ability, target: DID | "auto", map?:
//! {field: JSON pointer}}`. A chain's id is the Automerge object id of its map, like a
//! request's. Its state is never stored: [`ChainState`] is computed from its steps' requests,
//! of which the first in the requests' list order counts for each step.

use std::collections::BTreeMap;

use automerge::transaction::Transactable;
use automerge::{ObjId, ObjType, ReadDoc, ScalarValue};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tim_protocol::Did;

use super::{
    check_name, Abilities, Input, Record, RequestState, RequestView, Target, AUTO, CANCELLED,
    DEADLINE, INPUT, MAX_TIMEOUT_MS,
};
use crate::doc::{self, View};
use crate::space::millis;
use crate::{schema, Applied, Space, SpaceError, Writer};

/// Fewest steps in a chain.
pub const MIN_STEPS: usize = 2;
/// Most steps in a chain.
pub const MAX_STEPS: usize = 8;
/// Most fields a step's mapping builds.
pub const MAX_MAP_FIELDS: usize = 32;

pub(crate) const STEPS: &str = "steps";
/// The request field naming the chain a request is a step of.
pub(crate) const CHAIN: &str = "chain";
/// The request field holding the step's index in its chain's plan.
pub(crate) const STEP: &str = "step";

/// One step of a chain's plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanStep {
    /// The ability asked for.
    pub ability: String,
    /// Whom to ask: a did:key, or `auto`.
    pub target: String,
    /// How to build this step's input from the previous step's output: each field of the
    /// input object is the value at a JSON pointer (RFC 6901) into that output. Empty: the
    /// output itself. The first step has none (its input is the chain's).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub map: BTreeMap<String, String>,
}

impl PlanStep {
    /// Whom the step asks.
    pub fn target(&self) -> Option<Target> {
        match self.target.as_str() {
            AUTO => Some(Target::Auto),
            t => t.parse().ok().map(Target::Did),
        }
    }
}

/// Checks a plan by `author`: [`MIN_STEPS`] to [`MAX_STEPS`] steps, each a valid ability
/// name, a target that is `auto` or a DID other than the author's, a mapping of at most
/// [`MAX_MAP_FIELDS`] JSON pointers, and none on the first step.
pub fn check_plan(steps: &[PlanStep], author: &str) -> Result<(), String> {
    if !(MIN_STEPS..=MAX_STEPS).contains(&steps.len()) {
        return Err(format!(
            "a chain has {MIN_STEPS} to {MAX_STEPS} steps, not {}",
            steps.len()
        ));
    }
    for (i, s) in steps.iter().enumerate() {
        check_name(&s.ability)?;
        match s.target() {
            None => return Err(format!("step {i}'s target is neither a did:key nor `auto`")),
            Some(Target::Did(_)) if s.target == author => {
                return Err(format!(
                    "step {i} asks the chain's author: nobody asks themself"
                ))
            }
            Some(_) => {}
        }
        if i == 0 && !s.map.is_empty() {
            return Err("the first step's input is the chain's input: it has no map".into());
        }
        if s.map.len() > MAX_MAP_FIELDS {
            return Err(format!("step {i} maps more than {MAX_MAP_FIELDS} fields"));
        }
        if let Some(p) = s
            .map
            .values()
            .find(|p| !(p.is_empty() || p.starts_with('/')))
        {
            return Err(format!(
                "step {i} maps `{p}`, which is not a JSON pointer (`/field/0/…`)"
            ));
        }
    }
    Ok(())
}

/// The input a step with mapping `map` gets from the previous step's `output`: the output
/// itself without a mapping, else an object of the mapped fields.
pub fn map_input(map: &BTreeMap<String, String>, output: &Value) -> Result<Value, String> {
    if map.is_empty() {
        return Ok(output.clone());
    }
    map.iter()
        .map(|(field, pointer)| match output.pointer(pointer) {
            Some(v) => Ok((field.clone(), v.clone())),
            None => Err(format!(
                "the previous step's output has nothing at `{pointer}` (for `{field}`)"
            )),
        })
        .collect::<Result<serde_json::Map<_, _>, _>>()
        .map(Value::Object)
}

/// Where a chain is: computed from the document, the same on every replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainState {
    /// Step `step` is due or under way.
    Running {
        /// The current step.
        step: usize,
    },
    /// The last step completed: its output is the chain's.
    Completed,
    /// A step failed, or its input cannot be built from the previous output.
    Failed {
        /// The step.
        step: usize,
        /// Why.
        reason: String,
    },
    /// The author cancelled the chain, or a step's request, before the chain completed.
    Cancelled {
        /// The step it stopped at.
        step: usize,
    },
}

impl ChainState {
    /// The name in the API.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Running { .. } => "running",
            Self::Completed => "completed",
            Self::Failed { .. } => "failed",
            Self::Cancelled { .. } => "cancelled",
        }
    }

    /// The step it is at, or stopped at (none once completed).
    pub fn step(&self) -> Option<usize> {
        match self {
            Self::Running { step } | Self::Failed { step, .. } | Self::Cancelled { step } => {
                Some(*step)
            }
            Self::Completed => None,
        }
    }
}

/// A chain as the document holds it, at some heads.
#[derive(Debug, Clone)]
pub(crate) struct ChainRecord {
    pub(crate) author: String,
    pub(crate) steps: Vec<PlanStep>,
    pub(crate) input: Value,
    pub(crate) at: i64,
    pub(crate) deadline: i64,
    pub(crate) cancelled: bool,
}

impl ChainRecord {
    /// Reads the chain map `obj`; `None` if it lacks a field or holds a malformed one (the
    /// rules let no such chain in).
    pub(crate) fn read(view: &View<'_>, obj: &ObjId) -> Option<Self> {
        let millis = |k| match view.scalar(obj, k)? {
            ScalarValue::Timestamp(t) => Some(t),
            _ => None,
        };
        Some(Self {
            author: view.get_str(obj, doc::AUTHOR)?,
            steps: serde_json::from_str(&view.get_str(obj, STEPS)?).ok()?,
            input: serde_json::from_str(&view.get_str(obj, INPUT)?).ok()?,
            at: millis(doc::AT)?,
            deadline: millis(DEADLINE)?,
            cancelled: view.scalar(obj, CANCELLED).is_some(),
        })
    }
}

/// The chain and step a request map names, if it is a step of a chain.
pub(super) fn link_of(view: &View<'_>, obj: &ObjId) -> Option<(String, usize)> {
    let chain = view.get_str(obj, CHAIN)?;
    match view.scalar(obj, STEP)? {
        ScalarValue::Uint(s) => Some((chain, usize::try_from(s).ok()?)),
        _ => None,
    }
}

/// A chain's steps as the requests show them: for each step, the request that counts (the
/// first in the requests' list order), and the chain's state.
pub(crate) struct Progress {
    pub(crate) trace: Vec<Option<RequestView>>,
    pub(crate) state: ChainState,
}

impl Progress {
    /// The input step `i` gets: the chain's input for the first, else the mapping of step
    /// `i − 1`'s accepted output (an error if it has none, or the mapping fails).
    pub(crate) fn input_of(&self, rec: &ChainRecord, i: usize) -> Result<Value, String> {
        if i == 0 {
            return Ok(rec.input.clone());
        }
        let output = self
            .trace
            .get(i - 1)
            .and_then(Option::as_ref)
            .filter(|r| r.state == RequestState::Completed)
            .and_then(|r| r.output.as_ref())
            .ok_or_else(|| format!("step {} has not completed", i - 1))?;
        map_input(&rec.steps[i].map, output)
    }
}

impl Abilities<'_> {
    /// The chain maps, over every copy of `chains`, in order.
    pub(crate) fn chain_maps(&self) -> Vec<ObjId> {
        doc::root_objs(self.view.doc, &schema::CHAINS, self.view.heads)
            .iter()
            .flat_map(|root| self.view.list(root))
            .collect()
    }

    /// The chain `id`, if it is a chain map here.
    pub(crate) fn chain_obj(&self, id: &str) -> Option<ObjId> {
        self.chain_maps().into_iter().find(|o| o.to_string() == id)
    }

    /// Chain `id`, if it is a chain map here.
    pub(crate) fn chain_record(&self, id: &str) -> Option<ChainRecord> {
        ChainRecord::read(&self.view, &self.chain_obj(id)?)
    }

    /// The progress of chain `id` (read as `rec`).
    pub(crate) fn progress(&self, id: &str, rec: &ChainRecord) -> Progress {
        let mut trace: Vec<Option<RequestView>> = vec![None; rec.steps.len()];
        for obj in self.request_maps() {
            let Some((chain, step)) = link_of(&self.view, &obj) else {
                continue;
            };
            if chain != id || step >= trace.len() || trace[step].is_some() {
                continue;
            }
            // A chain's steps carry no reward (the rules refuse one): nothing is funded.
            trace[step] = Record::read(&self.view, &obj)
                .and_then(|r| RequestView::of(obj.to_string(), &r, None));
        }
        let mut progress = Progress {
            trace,
            state: ChainState::Completed,
        };
        progress.state = Self::state_of(rec, &progress);
        progress
    }

    fn state_of(rec: &ChainRecord, p: &Progress) -> ChainState {
        for (step, r) in p.trace.iter().enumerate() {
            let stopped = rec.cancelled.then_some(ChainState::Cancelled { step });
            let Some(r) = r else {
                if let Err(reason) = p.input_of(rec, step) {
                    return ChainState::Failed { step, reason };
                }
                return stopped.unwrap_or(ChainState::Running { step });
            };
            match r.state {
                RequestState::Completed => {}
                RequestState::Failed => {
                    return ChainState::Failed {
                        step,
                        reason: r.failure.clone().unwrap_or_default(),
                    }
                }
                RequestState::Cancelled => return ChainState::Cancelled { step },
                RequestState::Open | RequestState::Claimed => {
                    return stopped.unwrap_or(ChainState::Running { step })
                }
            }
        }
        ChainState::Completed
    }

    /// Whether a request at this view is step `step` of chain `id`.
    pub(crate) fn has_step(&self, id: &str, step: usize) -> bool {
        self.request_maps()
            .iter()
            .any(|o| link_of(&self.view, o).is_some_and(|(c, s)| c == id && s == step))
    }
}

/// A chain, as [`Space::chains`] shows it: its plan, state and linked trace.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainView {
    /// Its id: the Automerge object id of its map, the same on every node.
    pub id: String,
    /// Who made it (and asks each step).
    pub author: Did,
    /// The plan.
    pub steps: Vec<PlanStep>,
    /// The first step's input.
    pub input: Value,
    /// When it was made, ms since the Unix epoch.
    pub at: u64,
    /// No step is asked after this time; each step's deadline is at most this.
    pub deadline: u64,
    /// Where it is.
    pub state: ChainState,
    /// For each step, the request that counts, once asked.
    pub trace: Vec<Option<RequestView>>,
    /// The last step's output, once completed.
    pub output: Option<Value>,
}

/// The step a chain's author asks next.
#[derive(Debug, Clone, PartialEq)]
pub struct NextStep {
    /// The chain.
    pub chain: String,
    /// The step's index.
    pub step: usize,
    /// The ability.
    pub ability: String,
    /// Whom it asks.
    pub target: Target,
    /// Its input: the chain's, or the previous output mapped.
    pub input: Value,
}

impl Space {
    fn chains_root(&self) -> Result<ObjId, SpaceError> {
        doc::root_obj(self.doc(), &schema::CHAINS, None).ok_or_else(|| {
            SpaceError::Invalid(format!(
                "this space is at schema version {}; chains need version {} (migrate it)",
                self.schema_version(),
                schema::CHAINS.since
            ))
        })
    }

    fn chain_now(&self, id: &str) -> Result<(ChainRecord, Progress), SpaceError> {
        let a = self.abilities_now();
        let rec = a
            .chain_record(id)
            .ok_or_else(|| SpaceError::Invalid(format!("no chain {id} in this space")))?;
        let progress = a.progress(id, &rec);
        Ok((rec, progress))
    }

    /// Makes a chain as `who`: `steps` run in turn from `input`, open for `timeout_ms`.
    /// Returns the change and the chain's id; its steps are asked in later changes
    /// ([`Space::request_chain_step`]).
    pub fn make_chain(
        &mut self,
        who: &Writer,
        steps: &[PlanStep],
        input: &Value,
        timeout_ms: u64,
        at_ms: u64,
    ) -> Result<(Applied, String), SpaceError> {
        let me = who.did().to_string();
        check_plan(steps, &me).map_err(SpaceError::Invalid)?;
        let chains = self.chains_root()?;
        let plan = serde_json::to_string(steps).map_err(|e| SpaceError::Invalid(e.to_string()))?;
        let len = self.doc().length(&chains);
        self.local_write(who, at_ms, |tx| {
            let c = tx.insert_object(&chains, len, ObjType::Map)?;
            tx.put(&c, doc::AUTHOR, me)?;
            tx.put(&c, STEPS, plan)?;
            tx.put(&c, INPUT, input.to_string())?;
            tx.put(&c, doc::AT, ScalarValue::Timestamp(millis(at_ms)))?;
            tx.put(
                &c,
                DEADLINE,
                ScalarValue::Timestamp(millis(at_ms.saturating_add(timeout_ms))),
            )?;
            Ok(c.to_string())
        })
    }

    /// The step of chain `id` its author asks next: `None` unless the chain is running and
    /// its current step has no request yet.
    pub fn chain_next(&self, id: &str) -> Option<NextStep> {
        let (rec, progress) = self.chain_now(id).ok()?;
        let ChainState::Running { step } = progress.state else {
            return None;
        };
        if progress.trace[step].is_some() {
            return None;
        }
        let plan = &rec.steps[step];
        Some(NextStep {
            chain: id.to_string(),
            step,
            ability: plan.ability.clone(),
            target: plan.target()?,
            input: progress.input_of(&rec, step).ok()?,
        })
    }

    /// The steps due of the chains `author` made ([`Space::chain_next`]).
    pub fn chain_steps_due(&self, author: &Did) -> Vec<NextStep> {
        let me = author.to_string();
        let a = self.abilities_now();
        a.chain_maps()
            .iter()
            .filter(|o| a.view.get_str(o, doc::AUTHOR).as_deref() == Some(me.as_str()))
            .filter_map(|o| self.chain_next(&o.to_string()))
            .collect()
    }

    /// Asks, as `who` (the chain's author), the step of chain `id` that is due, until the
    /// chain's deadline. Returns the change and the request's id.
    pub fn request_chain_step(
        &mut self,
        who: &Writer,
        id: &str,
        at_ms: u64,
    ) -> Result<(Applied, String), SpaceError> {
        let next = self
            .chain_next(id)
            .ok_or_else(|| SpaceError::Invalid(format!("chain {id} has no step due")))?;
        let (rec, _) = self.chain_now(id)?;
        let timeout = u64::try_from(rec.deadline)
            .unwrap_or(0)
            .checked_sub(at_ms)
            .filter(|t| *t > 0)
            .ok_or_else(|| SpaceError::Invalid(format!("chain {id}'s deadline passed")))?;
        let step = u64::try_from(next.step).unwrap_or(u64::MAX);
        self.write_request(
            who,
            &next.ability,
            Input::Inline(&next.input),
            next.target,
            timeout.min(MAX_TIMEOUT_MS),
            at_ms,
            vec![
                (CHAIN, ScalarValue::Str(id.into())),
                (STEP, ScalarValue::Uint(step)),
            ],
        )
    }

    /// Cancels chain `id`, as its author: no further step is asked.
    pub fn cancel_chain(
        &mut self,
        who: &Writer,
        id: &str,
        at_ms: u64,
    ) -> Result<Applied, SpaceError> {
        let obj = self
            .abilities_now()
            .chain_obj(id)
            .ok_or_else(|| SpaceError::Invalid(format!("no chain {id} in this space")))?;
        self.local_write(who, at_ms, |tx| {
            Ok(tx.put(&obj, CANCELLED, ScalarValue::Timestamp(millis(at_ms)))?)
        })
        .map(|(a, ())| a)
    }

    /// Every chain, in the space's order.
    pub fn chains(&self) -> Vec<ChainView> {
        let a = self.abilities_now();
        a.chain_maps()
            .iter()
            .filter_map(|o| self.chain(&o.to_string()))
            .collect()
    }

    /// Chain `id`: its plan, state and the requests of its steps.
    pub fn chain(&self, id: &str) -> Option<ChainView> {
        let (rec, progress) = self.chain_now(id).ok()?;
        let output = match progress.state {
            ChainState::Completed => progress
                .trace
                .last()
                .and_then(Option::as_ref)
                .and_then(|r| r.output.clone()),
            _ => None,
        };
        Some(ChainView {
            id: id.to_string(),
            author: rec.author.parse().ok()?,
            steps: rec.steps,
            input: rec.input,
            at: u64::try_from(rec.at).ok()?,
            deadline: u64::try_from(rec.deadline).ok()?,
            state: progress.state,
            trace: progress.trace,
            output,
        })
    }

    /// The chain request `request` is a step of, if any.
    pub fn chain_of_request(&self, request: &str) -> Option<String> {
        self.request(request)?.chain.map(|(c, _)| c)
    }
}
