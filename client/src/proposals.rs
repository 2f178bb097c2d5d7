//! Calls about proposals and votes (docs/governance.md "Proposals and votes").

use tim_protocol::api::{
    CastVote, Choice, CloseProposal, MetaValue, NewProposal, ProposalChanged, ProposalView,
};
use tim_protocol::SpaceId;

use crate::{Client, ClientError};

impl Client {
    /// `POST /v1/spaces/{id}/proposals`: propose an action to the space's vote.
    pub async fn propose(
        &self,
        id: SpaceId,
        req: &NewProposal,
    ) -> Result<ProposalChanged, ClientError> {
        self.post(&format!("/v1/spaces/{id}/proposals"), req).await
    }

    /// `GET /v1/spaces/{id}/proposals[?open=true]`: the space's proposals, with live tallies.
    pub async fn proposals(
        &self,
        id: SpaceId,
        open: bool,
    ) -> Result<Vec<ProposalView>, ClientError> {
        let query = if open { "?open=true" } else { "" };
        self.get(&format!("/v1/spaces/{id}/proposals{query}")).await
    }

    /// `GET /v1/spaces/{id}/proposals/{pid}`: one proposal (`pid` may be a unique prefix).
    pub async fn proposal(&self, id: SpaceId, pid: &str) -> Result<ProposalView, ClientError> {
        self.get(&format!("/v1/spaces/{id}/proposals/{pid}")).await
    }

    /// `POST /v1/spaces/{id}/proposals/{pid}/votes`: vote, or change one's vote.
    pub async fn vote(
        &self,
        id: SpaceId,
        pid: &str,
        choice: Choice,
    ) -> Result<ProposalChanged, ClientError> {
        let path = format!("/v1/spaces/{id}/proposals/{pid}/votes");
        self.post(&path, &CastVote { choice }).await
    }

    /// `POST /v1/spaces/{id}/proposals/{pid}/close`: close a decided proposal, or withdraw
    /// one's own.
    pub async fn close_proposal(
        &self,
        id: SpaceId,
        pid: &str,
        withdraw: bool,
    ) -> Result<ProposalChanged, ClientError> {
        let path = format!("/v1/spaces/{id}/proposals/{pid}/close");
        self.post(&path, &CloseProposal { withdraw }).await
    }

    /// `GET /v1/spaces/{id}/meta/{key}`: the string under a meta key now.
    pub async fn meta_value(&self, id: SpaceId, key: &str) -> Result<MetaValue, ClientError> {
        self.get(&format!("/v1/spaces/{id}/meta/{key}")).await
    }
}
