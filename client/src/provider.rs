//! A provider's loop: what an agent or a script that offers an ability does with a node's API
//! (docs/abilities.md §10.1). It follows a space's events and serves each request whose first
//! candidate is its timite (a request addressed to it, or an `auto` request it is asked first
//! in): it does the work and posts the result or the failure, which claims the request in the
//! same write (the node makes the claim and the outcome two changes, committed together). For
//! work that takes longer than a turn (10 s), claim first (`RequestStep::claim`), so that the
//! next candidate is not asked meanwhile. Requests it is asked later in turn are left to the
//! timite's other clients: claiming before its turn is refused by the rules.

use std::collections::HashSet;
use std::future::Future;
use std::time::Instant;

use futures::StreamExt;
use serde_json::Value;
use tim_protocol::api::{AbilityRequest, RequestsQuery, SpaceEvent};
use tim_protocol::{Did, SpaceId};

use crate::{Client, ClientError, RequestStep};

/// One request served.
#[derive(Debug)]
pub struct Served {
    /// The request, as its node announced it.
    pub request: AbilityRequest,
    /// When the node's event stream showed it.
    pub seen: Instant,
    /// When the node acknowledged the outcome (on its disk, published).
    pub answered: Instant,
    /// The output posted, or the reason of the failure posted.
    pub outcome: Result<Value, String>,
}

/// Serves the requests of `space` whose first candidate is `me` (the client's timite), one at
/// a time, until the event stream ends: the open ones made before it started first, then each
/// as the event stream announces it. Runs `work`, posts its output as the result (or its
/// error as the failure), which claims the request, and tells `served`. An outcome the node
/// refuses (someone claimed first, the request was cancelled) skips the request. Returns when
/// the stream ends, or with the error that ended it (a lagged stream goes on).
pub async fn serve<W, F>(
    client: &Client,
    space: SpaceId,
    me: Did,
    work: W,
    served: impl FnMut(Served),
) -> Result<(), ClientError>
where
    W: FnMut(AbilityRequest) -> F,
    F: Future<Output = Result<Value, String>>,
{
    serve_only(client, space, me, |_| true, work, served).await
}

/// [`serve`], for the requests of the abilities `mine` says yes to (by name) only: the others
/// are left to the timite's other clients (another provider loop, a person).
pub async fn serve_only<W, F>(
    client: &Client,
    space: SpaceId,
    me: Did,
    mine: impl Fn(&str) -> bool,
    mut work: W,
    mut served: impl FnMut(Served),
) -> Result<(), ClientError>
where
    W: FnMut(AbilityRequest) -> F,
    F: Future<Output = Result<Value, String>>,
{
    let mut events = Box::pin(client.events(space).await?);
    // Requests made before the stream opened (while the provider started) come first.
    let open = RequestsQuery {
        mine: true,
        open: true,
    };
    let backlog = client.requests(space, open).await?;
    let listed: HashSet<String> = backlog.iter().map(|r| r.id.clone()).collect();
    let mut backlog = backlog.into_iter();
    loop {
        let request = match backlog.next() {
            Some(request) => request,
            None => match events.next().await {
                None => break,
                Some(Ok(SpaceEvent::RequestCreated { request, .. }))
                    if !listed.contains(&request.id) =>
                {
                    request
                }
                Some(Ok(_) | Err(ClientError::Lagged(_))) => continue,
                Some(Err(e)) => return Err(e),
            },
        };
        // An unfunded request (its reward lost a concurrent spend) would pay nothing.
        if request.candidates.first() != Some(&me)
            || request.state != "open"
            || request.funded == Some(false)
            || !mine(&request.ability)
        {
            continue;
        }
        let seen = Instant::now();
        let outcome = work(request.clone()).await;
        let (space, id) = (space, request.id.as_str());
        let posted = match &outcome {
            Ok(output) => {
                let step = RequestStep::result(output.clone());
                client.request_step(space, id, step).await
            }
            Err(reason) => {
                let step = RequestStep::failure(reason);
                client.request_step(space, id, step).await
            }
        };
        match posted {
            Ok(_) => {}
            Err(ClientError::Api(_)) => continue,
            Err(e) => return Err(e),
        }
        served(Served {
            request,
            seen,
            answered: Instant::now(),
            outcome,
        });
    }
    Ok(())
}
