//! Proposals and votes through the node (docs/governance.md "Proposals and votes"): the use
//! cases of [`Service`] that the HTTP API and the CLI call, and the events of the space's
//! stream. Writes go through the engine as the caller ([`AbilityAct`]); the rules judge them.
//! A vote that decides a proposal is followed by its close, in a second change, which the
//! engine's proposal duty makes (`crate::engine`), as it does for a proposal decided by
//! changes from other nodes.
//!
//! Proposal ids are `counter@actor`; a use case also takes a unique prefix of one.

use tim_crdt::{Effect, Space};
use tim_protocol::api::{
    Choice, MetaValue, NewProposal, ProposalChanged, ProposalView, ProposalsQuery, SpaceEvent,
};
use tim_protocol::{ChangeHash, SpaceId};

use crate::abilities::AbilityAct;
use crate::service::{Caller, Service, ServiceResult};
use crate::NodeError;

/// Refuses an id that names no proposal of `s`.
pub(crate) fn known(s: &Space, id: &str) -> Result<(), NodeError> {
    s.proposal(id, None)
        .map(drop)
        .ok_or_else(|| NodeError::NotFound(format!("no proposal {id} in this space")))
}

/// The full id of the proposal `id` names: itself, or the one proposal whose id starts with it.
fn resolve(s: &Space, id: &str) -> Result<String, NodeError> {
    if s.proposal(id, None).is_some() {
        return Ok(id.to_string());
    }
    let mut matching = s
        .proposals(None)
        .into_iter()
        .filter(|p| p.id.starts_with(id));
    match (matching.next(), matching.next()) {
        (Some(p), None) => Ok(p.id),
        (None, _) => Err(NodeError::NotFound(format!(
            "no proposal {id} in this space"
        ))),
        (Some(_), Some(_)) => Err(NodeError::Invalid(format!(
            "`{id}` names more than one proposal: give more of its id"
        ))),
    }
}

/// The event of a proposal effect, with the proposal as it is now.
pub(crate) fn proposal_event(space: SpaceId, s: &Space, effect: &Effect) -> Option<SpaceEvent> {
    match effect {
        Effect::Proposed { id } => Some(SpaceEvent::Proposal {
            space,
            proposal: s.proposal(id, None)?,
        }),
        Effect::Voted { id, voter } => Some(SpaceEvent::Vote {
            space,
            voter: *voter,
            proposal: s.proposal(id, None)?,
        }),
        Effect::ProposalClosed { id, .. } => Some(SpaceEvent::ProposalClosed {
            space,
            proposal: s.proposal(id, None)?,
        }),
        _ => None,
    }
}

impl Service {
    /// Proposes an action to the space's vote as the caller (a member with `post`, in a
    /// space at schema version 9).
    pub async fn propose(
        &self,
        caller: &Caller,
        space: SpaceId,
        req: &NewProposal,
    ) -> ServiceResult<ProposalChanged> {
        let (change, id) = self
            .ability_act(caller, space, AbilityAct::Propose(req.clone()))
            .await?;
        let id = id.ok_or_else(|| NodeError::Invalid("the proposal made no id".into()))?;
        Ok(ProposalChanged {
            id,
            change,
            outcome: None,
        })
    }

    /// The space's proposals, in order (the open ones only if asked), with live tallies and
    /// the caller's vote.
    pub async fn proposals(
        &self,
        caller: &Caller,
        space: SpaceId,
        query: ProposalsQuery,
    ) -> ServiceResult<Vec<ProposalView>> {
        let me = caller.timite;
        Ok(self
            .node()
            .acting_as(me)
            .read_space(space, move |s| {
                s.proposals(Some(&me))
                    .into_iter()
                    .filter(|p| !query.open || p.outcome.is_none())
                    .collect()
            })
            .await?)
    }

    /// Proposal `id` (or a unique prefix of it), with its live tally and the caller's vote.
    pub async fn proposal(
        &self,
        caller: &Caller,
        space: SpaceId,
        id: &str,
    ) -> ServiceResult<ProposalView> {
        let (me, id) = (caller.timite, id.to_string());
        Ok(self
            .node()
            .acting_as(me)
            .read_space(space, move |s| {
                let id = resolve(s, &id)?;
                known(s, &id)?;
                s.proposal(&id, Some(&me))
                    .ok_or_else(|| NodeError::NotFound(format!("no proposal {id}")))
            })
            .await??)
    }

    /// Votes `choice` on proposal `id` as the caller (an eligible voter), or changes its vote.
    /// If the vote decides the proposal, the node closes it in a second change; the answer
    /// says how it ended.
    pub async fn vote(
        &self,
        caller: &Caller,
        space: SpaceId,
        id: &str,
        choice: Choice,
    ) -> ServiceResult<ProposalChanged> {
        let id = self.proposal(caller, space, id).await?.id;
        let (change, _) = self
            .ability_act(caller, space, AbilityAct::Vote(id.clone(), choice))
            .await?;
        self.changed(caller, space, id, change).await
    }

    /// Closes proposal `id` as the caller (a member) as it is decided now, with its action
    /// when it passed; or, with `withdraw`, withdraws the caller's own proposal.
    pub async fn close_proposal(
        &self,
        caller: &Caller,
        space: SpaceId,
        id: &str,
        withdraw: bool,
    ) -> ServiceResult<ProposalChanged> {
        let id = self.proposal(caller, space, id).await?.id;
        let act = AbilityAct::CloseProposal {
            id: id.clone(),
            withdraw,
        };
        let (change, _) = self.ability_act(caller, space, act).await?;
        self.changed(caller, space, id, change).await
    }

    /// The string under meta key `key` of the space now, if any.
    pub async fn meta_value(
        &self,
        caller: &Caller,
        space: SpaceId,
        key: &str,
    ) -> ServiceResult<MetaValue> {
        let key = key.to_string();
        Ok(self
            .node()
            .acting_as(caller.timite)
            .read_space(space, move |s| MetaValue {
                value: s.meta_value(&key),
                key,
            })
            .await?)
    }

    async fn changed(
        &self,
        caller: &Caller,
        space: SpaceId,
        id: String,
        change: ChangeHash,
    ) -> ServiceResult<ProposalChanged> {
        let outcome = self.proposal(caller, space, &id).await?.outcome;
        Ok(ProposalChanged {
            id,
            change,
            outcome,
        })
    }
}
