//! Proposals and votes (docs/governance.md "Proposals and votes"): propose an action to the
//! space's vote, list proposals with live tallies, read one, vote, close. A write the rules
//! refuse (an ineligible voter, a close of an undecided proposal) is a `403
//! tim:problem/refused` whose detail gives the rule's reason; an unknown proposal a `404
//! tim:problem/not-found`. Proposal ids are `counter@actor`; a unique prefix also names one.

use axum::extract::State;
use axum::Json;
use tim_protocol::api::{
    CastVote, CloseProposal, MetaValue, NewProposal, ProposalChanged, ProposalView, ProposalsQuery,
};
use tim_protocol::SpaceId;

use super::extract::{ApiJson, ApiQuery, Id, Ids};
use super::problem::{ApiResult, Problems};
use crate::service::{Caller, Service};

/// Proposes an action as the timite (a member with `post`, in a space at schema version 9).
/// Answers once the change is on disk, with the proposal's id.
#[utoipa::path(post, path = "/v1/spaces/{id}/proposals", tag = "governance",
    request_body = NewProposal, params(("id" = String, Path, description = "Space id")),
    responses((status = 200, body = ProposalChanged), Problems))]
pub(super) async fn propose(
    State(s): State<Service>,
    caller: Caller,
    Id(id): Id<SpaceId>,
    ApiJson(body): ApiJson<NewProposal>,
) -> ApiResult<Json<ProposalChanged>> {
    Ok(Json(s.propose(&caller, id, &body).await?))
}

/// The space's proposals, in order (only the open ones with `open=true`), each with its live
/// tally, its outcome once closed, and the timite's vote.
#[utoipa::path(get, path = "/v1/spaces/{id}/proposals", tag = "governance",
    params(("id" = String, Path, description = "Space id"), ProposalsQuery),
    responses((status = 200, body = [ProposalView]), Problems))]
pub(super) async fn list(
    State(s): State<Service>,
    caller: Caller,
    Id(id): Id<SpaceId>,
    ApiQuery(query): ApiQuery<ProposalsQuery>,
) -> ApiResult<Json<Vec<ProposalView>>> {
    Ok(Json(s.proposals(&caller, id, query).await?))
}

/// One proposal: its tally, eligible count, the timite's vote and its outcome.
#[utoipa::path(get, path = "/v1/spaces/{id}/proposals/{pid}", tag = "governance",
    params(("id" = String, Path, description = "Space id"),
           ("pid" = String, Path, description = "Proposal id, or a unique prefix")),
    responses((status = 200, body = ProposalView), Problems))]
pub(super) async fn proposal(
    State(s): State<Service>,
    caller: Caller,
    Ids(id, pid): Ids<SpaceId, String>,
) -> ApiResult<Json<ProposalView>> {
    Ok(Json(s.proposal(&caller, id, &pid).await?))
}

/// Votes (or changes the timite's vote) on an open proposal; if the vote decides it, the node
/// closes it in a second change and the answer carries the outcome.
#[utoipa::path(post, path = "/v1/spaces/{id}/proposals/{pid}/votes", tag = "governance",
    request_body = CastVote,
    params(("id" = String, Path, description = "Space id"),
           ("pid" = String, Path, description = "Proposal id, or a unique prefix")),
    responses((status = 200, body = ProposalChanged), Problems))]
pub(super) async fn vote(
    State(s): State<Service>,
    caller: Caller,
    Ids(id, pid): Ids<SpaceId, String>,
    ApiJson(body): ApiJson<CastVote>,
) -> ApiResult<Json<ProposalChanged>> {
    Ok(Json(s.vote(&caller, id, &pid, body.choice).await?))
}

/// Closes a decided proposal as it stands (a passing close enacts its action), or withdraws
/// the timite's own proposal.
#[utoipa::path(post, path = "/v1/spaces/{id}/proposals/{pid}/close", tag = "governance",
    request_body = CloseProposal,
    params(("id" = String, Path, description = "Space id"),
           ("pid" = String, Path, description = "Proposal id, or a unique prefix")),
    responses((status = 200, body = ProposalChanged), Problems))]
pub(super) async fn close(
    State(s): State<Service>,
    caller: Caller,
    Ids(id, pid): Ids<SpaceId, String>,
    ApiJson(body): ApiJson<CloseProposal>,
) -> ApiResult<Json<ProposalChanged>> {
    Ok(Json(
        s.close_proposal(&caller, id, &pid, body.withdraw).await?,
    ))
}

/// The string under a meta key of the space now (absent if none): what a `meta` proposal
/// replaces whole, read to change one entry of it.
#[utoipa::path(get, path = "/v1/spaces/{id}/meta/{key}", tag = "governance",
    params(("id" = String, Path, description = "Space id"),
           ("key" = String, Path, description = "Meta key")),
    responses((status = 200, body = MetaValue), Problems))]
pub(super) async fn meta_value(
    State(s): State<Service>,
    caller: Caller,
    Ids(id, key): Ids<SpaceId, String>,
) -> ApiResult<Json<MetaValue>> {
    Ok(Json(s.meta_value(&caller, id, &key).await?))
}
