//! The requests that concern one timite across every space it reads (docs/abilities.md §15):
//! those it is asked to do (its target, an `auto` candidate, or a claimant) and those it asked
//! for. A list ([`Service::my_requests`]) and a live stream ([`Service::request_events`]) of
//! the space events about them, composed from the node's readers and its event broadcast.
//!
//! **Who sees what.** The same as each space's own reads: a space the timite may not read (a
//! private space it left or was banned from) gives nothing, also on the stream, where each
//! event is checked against the space as it is when the event is delivered.
//!
//! **No turn event.** An `auto` candidate's turn begins at `at + i × 10 s` (§7), which every
//! reader computes from the request's `at` and `candidates`; the stream carries the request
//! when it is made, so a client schedules the turns itself rather than the node holding a
//! timer per candidate and request.

use futures::{Stream, StreamExt as _};
use tim_protocol::api::{AbilityRequest, MyRequestsQuery, RequestRole, SpaceEvent, SpaceRequest};
use tim_protocol::Did;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;

use crate::abilities::request_view;
use crate::service::{Caller, Service, ServiceResult};
use crate::NodeError;

/// Whether `r` concerns `me` in `role` (`None`: in either).
fn concerns(r: &AbilityRequest, me: Did, role: Option<RequestRole>) -> bool {
    let provider = || r.candidates.contains(&me) || r.claims.contains(&me);
    let requester = || r.requester == me;
    match role {
        Some(RequestRole::Provider) => provider(),
        Some(RequestRole::Requester) => requester(),
        None => provider() || requester(),
    }
}

impl Service {
    /// The requests that concern the caller in the spaces it reads, newest first: those it
    /// is asked to do or asked for (`query.role`), in one state (`query.state`) or all.
    pub async fn my_requests(
        &self,
        caller: &Caller,
        query: MyRequestsQuery,
    ) -> ServiceResult<Vec<SpaceRequest>> {
        let me = caller.timite;
        let handle = self.node().acting_as(me);
        let mut found = Vec::new();
        for summary in handle.spaces().await? {
            let (space, space_name) = (summary.id, summary.name);
            let read = handle.read_space(space, move |s| {
                s.requests()
                    .into_iter()
                    .map(request_view)
                    .filter(|r| concerns(r, me, query.role))
                    .filter(|r| query.state.is_none_or(|st| r.state == st.as_str()))
                    .map(|request| SpaceRequest {
                        space,
                        space_name: space_name.clone(),
                        request,
                    })
                    .collect::<Vec<_>>()
            });
            match read.await {
                Ok(requests) => found.extend(requests),
                // Listed a moment ago and gone since (left, expired), or still syncing.
                Err(
                    NodeError::UnknownSpace(_) | NodeError::Expired(_) | NodeError::NotReady(_),
                ) => {}
                Err(e) => return Err(e.into()),
            }
        }
        found.sort_by(|a, b| {
            b.request
                .at
                .cmp(&a.request.at)
                .then_with(|| a.space.cmp(&b.space))
                .then_with(|| a.request.id.cmp(&b.request.id))
        });
        Ok(found)
    }

    /// The live request events (`request_created`, `request_claimed`, …) of every space the
    /// caller reads, about the requests that concern it (see [`Service::my_requests`]),
    /// including steps that arrive from other nodes. A receiver that falls behind gets a
    /// [`BroadcastStreamRecvError::Lagged`] and should read the list again.
    pub fn request_events(
        &self,
        caller: &Caller,
    ) -> impl Stream<Item = Result<SpaceEvent, BroadcastStreamRecvError>> + Send + use<> {
        let me = caller.timite;
        let handle = self.node().acting_as(me);
        BroadcastStream::new(self.node().subscribe()).filter_map(move |e| {
            let handle = handle.clone();
            async move {
                match e {
                    Ok(event) => {
                        let mine = event.request().is_some_and(|r| concerns(r, me, None));
                        (mine && handle.space(event.space()).await.is_ok()).then_some(Ok(event))
                    }
                    Err(lagged) => Some(Err(lagged)),
                }
            }
        })
    }
}
