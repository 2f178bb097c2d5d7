//! Chains of ability requests through the node (docs/abilities.md §12): the use cases of
//! [`Service`] that the HTTP API and the CLI call, the API's view of a chain, and the chain
//! events the engine sends. The author's node asks each step when it is due (the engine's
//! chain duties, `engine/chains.rs`).

use std::time::Duration;

use tim_crdt::abilities::chains::{self, ChainState, PlanStep};
use tim_crdt::abilities::{RequestView, AUTO};
use tim_crdt::{Effect, Space};
use tim_protocol::api::{ChainMade, ChainStep, ChainView, NewChain, SpaceEvent};
use tim_protocol::{ChangeHash, SpaceId};

use crate::abilities::{request_view, AbilityAct, MAX_TIMEOUT_SECS};
use crate::service::{Caller, Service, ServiceResult};
use crate::NodeError;

/// A chain as the API shows it.
pub(crate) fn chain_view(c: chains::ChainView) -> ChainView {
    let (step, reason) = match &c.state {
        ChainState::Failed { step, reason } => (Some(*step), Some(reason.clone())),
        s => (s.step(), None),
    };
    ChainView {
        id: c.id,
        author: c.author,
        steps: c
            .steps
            .into_iter()
            .map(|s| ChainStep {
                to: s.target.parse().ok(),
                ability: s.ability,
                map: s.map,
            })
            .collect(),
        input: c.input,
        at: c.at,
        deadline: c.deadline,
        state: c.state.as_str().to_string(),
        step,
        reason,
        output: c.output,
        requests: c
            .trace
            .into_iter()
            .map(|r| r.map(|r: RequestView| request_view(r)))
            .collect(),
    }
}

/// The chain event an effect gives, if it concerns a chain: its creation or cancellation, or
/// a step of one of its requests (named by the chain's state after it).
pub(crate) fn chain_event(space: SpaceId, s: &Space, effect: &Effect) -> Option<SpaceEvent> {
    let (id, made) = match effect {
        Effect::Chained { id } => (id.clone(), true),
        Effect::ChainCancelled { id } => (id.clone(), false),
        Effect::Requested { id } | Effect::RequestStep { id, .. } => {
            (s.chain_of_request(id)?, false)
        }
        _ => return None,
    };
    let c = s.chain(&id)?;
    let state = c.state.clone();
    let chain = chain_view(c);
    Some(match state {
        _ if made => SpaceEvent::ChainCreated { space, chain },
        ChainState::Running { .. } => SpaceEvent::ChainProgress { space, chain },
        ChainState::Completed => SpaceEvent::ChainCompleted { space, chain },
        ChainState::Failed { .. } => SpaceEvent::ChainFailed { space, chain },
        ChainState::Cancelled { .. } => SpaceEvent::ChainCancelled { space, chain },
    })
}

impl Service {
    /// Makes a chain as the caller, migrating the space to schema version 6 first if it is
    /// older and the caller may; the caller's node asks each step when it is due.
    pub async fn make_chain(
        &self,
        caller: &Caller,
        space: SpaceId,
        req: &NewChain,
    ) -> ServiceResult<ChainMade> {
        let secs = req
            .timeout_secs
            .unwrap_or(tim_protocol::api::DEFAULT_REQUEST_TIMEOUT_SECS);
        if secs == 0 || secs > MAX_TIMEOUT_SECS {
            return Err(NodeError::Invalid(format!(
                "timeout_secs is from 1 to {MAX_TIMEOUT_SECS} (30 days); {secs} was asked for"
            ))
            .into());
        }
        let steps = req
            .steps
            .iter()
            .map(|s| PlanStep {
                ability: s.ability.clone(),
                target: s.to.map_or_else(|| AUTO.to_string(), |d| d.to_string()),
                map: s.map.clone(),
            })
            .collect();
        let act = AbilityAct::Chain {
            steps,
            input: req.input.clone(),
            timeout: Duration::from_secs(secs),
        };
        let (change, id) = self.ability_act(caller, space, act).await?;
        let id = id.ok_or_else(|| NodeError::Invalid("the chain made no id".into()))?;
        Ok(ChainMade { id, change })
    }

    /// The space's chains, in the space's order, each with its state and trace.
    pub async fn chains(&self, caller: &Caller, space: SpaceId) -> ServiceResult<Vec<ChainView>> {
        Ok(self
            .node()
            .acting_as(caller.timite)
            .read_space(space, |s| s.chains().into_iter().map(chain_view).collect())
            .await?)
    }

    /// Chain `id`, with its state and trace.
    pub async fn chain(
        &self,
        caller: &Caller,
        space: SpaceId,
        id: &str,
    ) -> ServiceResult<ChainView> {
        let cid = id.to_string();
        self.node()
            .acting_as(caller.timite)
            .read_space(space, move |s| s.chain(&cid).map(chain_view))
            .await?
            .ok_or_else(|| NodeError::NotFound(format!("no chain {id} in space {space}")).into())
    }

    /// Cancels the caller's chain `id`: no further step is asked.
    pub async fn cancel_chain(
        &self,
        caller: &Caller,
        space: SpaceId,
        id: &str,
    ) -> ServiceResult<ChangeHash> {
        let act = AbilityAct::CancelChain(id.to_string());
        Ok(self.ability_act(caller, space, act).await?.0)
    }
}
