//! The actor's side of payloads held out of band (docs/abilities.md §14, docs/protocol.md
//! §15): it serves `/tim/payload/1` requests from its store to peers entitled to the space,
//! fetches payloads from the peers hosting a space (each peer in turn, then again after a
//! backoff, a bounded number of rounds), checks their hash before it stores them, and
//! prefetches the payloads its hosted timites will need as soon as the change naming them
//! arrives (a request's input for a candidate provider, a result for its requester).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use libp2p::request_response::{self, OutboundRequestId};
use libp2p::PeerId;
use tim_protocol::api::{PayloadInfo, SpaceEvent};
use tim_protocol::payload::{PayloadHash, PayloadRequest, PayloadResponse};
use tim_protocol::{Did, SpaceId};
use tracing::{debug, warn};

use super::handle::Reply;
use super::Actor;
use crate::net::BehaviourEvent;
use crate::NodeError;

/// Rounds of asking every peer hosting the space before a fetch gives up.
pub(crate) const FETCH_ROUNDS: u32 = 5;
/// The wait before the second round; it doubles each round (0.25, 0.5, 1, 2 s).
pub(crate) const FETCH_BACKOFF: Duration = Duration::from_millis(250);
/// Most fetches under way at once; more are refused until one ends.
pub(crate) const MAX_FETCHES: usize = 64;
/// How often waiting fetches are looked at.
pub(crate) const FETCH_CHECK_INTERVAL: Duration = Duration::from_millis(50);

type Key = (SpaceId, PayloadHash);

/// One payload being fetched.
#[derive(Debug, Default)]
struct Fetch {
    /// Callers waiting for the bytes.
    waiters: Vec<Reply<Vec<u8>>>,
    /// Ask only this peer (a caller's choice); else every peer hosting the space.
    only: Option<PeerId>,
    /// Peers still to ask in this round, the next last.
    to_ask: Vec<PeerId>,
    /// Rounds begun.
    round: u32,
    /// When the next round begins, if the fetch waits for it.
    retry_at: Option<Instant>,
    /// Why the last peer asked did not give the payload.
    last_error: Option<String>,
}

/// The actor's payload state.
#[derive(Debug, Default)]
pub(super) struct Payloads {
    fetches: HashMap<Key, Fetch>,
    /// Payload requests sent, by swarm id.
    outbound: HashMap<OutboundRequestId, Key>,
}

impl Actor {
    /// Gives `reply` the payload `hash` of `space`: from the store, else fetched from `only`
    /// or from the peers hosting the space. Without a reply, a prefetch.
    pub(super) fn fetch_payload(
        &mut self,
        space: SpaceId,
        hash: PayloadHash,
        only: Option<PeerId>,
        reply: Option<Reply<Vec<u8>>>,
    ) {
        match self.store.payload(&space, &hash) {
            Ok(Some(bytes)) => {
                if let Some(r) = reply {
                    let _ = r.send(Ok(bytes));
                }
                return;
            }
            Ok(None) => {}
            Err(e) => {
                if let Some(r) = reply {
                    let _ = r.send(Err(e.into()));
                }
                return;
            }
        }
        let key = (space, hash);
        if !self.payloads.fetches.contains_key(&key) {
            if self.payloads.fetches.len() >= MAX_FETCHES {
                if let Some(r) = reply {
                    let _ = r.send(Err(NodeError::Invalid(format!(
                        "{MAX_FETCHES} payloads are being fetched already; try again shortly"
                    ))));
                }
                return;
            }
            let fetch = Fetch {
                only,
                retry_at: Some(Instant::now()),
                ..Fetch::default()
            };
            self.payloads.fetches.insert(key, fetch);
        }
        if let (Some(r), Some(f)) = (reply, self.payloads.fetches.get_mut(&key)) {
            f.waiters.push(r);
        }
        self.fetches_due();
    }

    /// Begins the rounds that are due.
    pub(super) fn fetches_due(&mut self) {
        let now = Instant::now();
        let due: Vec<Key> = self
            .payloads
            .fetches
            .iter()
            .filter(|(_, f)| f.retry_at.is_some_and(|t| t <= now))
            .map(|(k, _)| *k)
            .collect();
        for key in due {
            let peers = match self.payloads.fetches[&key].only {
                Some(p) => vec![p],
                None => self.engine.payload_peers(key.0),
            };
            let f = self.payloads.fetches.get_mut(&key).expect("listed above");
            f.retry_at = None;
            f.round += 1;
            f.to_ask = peers.into_iter().rev().collect();
            self.ask_next(key);
        }
    }

    /// Asks the next peer of the round; at the end of a round, waits for the next one, or
    /// after the last gives up and tells the waiters why.
    fn ask_next(&mut self, key: Key) {
        let Some(f) = self.payloads.fetches.get_mut(&key) else {
            return;
        };
        if let Some(peer) = f.to_ask.pop() {
            let request = PayloadRequest {
                space: key.0,
                hash: key.1,
                access: self.engine.payload_access(key.0),
            };
            let id = self
                .swarm
                .behaviour_mut()
                .payload
                .send_request(&peer, request);
            self.payloads.outbound.insert(id, key);
            return;
        }
        if f.round < FETCH_ROUNDS {
            f.retry_at = Some(Instant::now() + FETCH_BACKOFF * 2u32.pow(f.round - 1));
            return;
        }
        let f = self.payloads.fetches.remove(&key).expect("present above");
        let why =
            format!(
            "payload {} of space {} is not available: {} after {FETCH_ROUNDS} rounds of asking \
             the peers that host the space",
            key.1,
            key.0,
            f.last_error.as_deref().unwrap_or("no peer hosting the space is connected")
        );
        warn!("{why}");
        for w in f.waiters {
            let _ = w.send(Err(NodeError::NotFound(why.clone())));
        }
    }

    /// A peer answered a payload request (or failed to): keep the bytes if they match their
    /// hash, else ask the next peer.
    fn on_payload_answer(
        &mut self,
        peer: PeerId,
        id: OutboundRequestId,
        answer: Result<Vec<u8>, String>,
    ) {
        let Some(key) = self.payloads.outbound.remove(&id) else {
            return;
        };
        let error = match answer {
            Ok(bytes) if key.1.matches(&bytes) => {
                match self.store.put_payload(&key.0, &key.1, &bytes) {
                    Ok(()) => {
                        debug!(%peer, hash = %key.1, "payload fetched");
                        if let Some(f) = self.payloads.fetches.remove(&key) {
                            for w in f.waiters {
                                let _ = w.send(Ok(bytes.clone()));
                            }
                        }
                        return;
                    }
                    Err(e) => format!("cannot store it: {e}"),
                }
            }
            Ok(_) => {
                warn!(%peer, hash = %key.1, "refused a payload: its bytes do not match its hash");
                format!("{peer} sent bytes that do not match the hash (refused)")
            }
            Err(e) => e,
        };
        if let Some(f) = self.payloads.fetches.get_mut(&key) {
            f.last_error = Some(error);
        }
        self.ask_next(key);
    }

    /// Serves a peer's payload request: the bytes if this node hosts the space, serves it to
    /// this peer (as sync would) and has them; else unavailable, whichever the reason.
    fn serve_payload(
        &mut self,
        peer: PeerId,
        request: PayloadRequest,
        channel: request_response::ResponseChannel<PayloadResponse>,
    ) {
        let PayloadRequest {
            space,
            hash,
            access,
        } = request;
        let bytes = if self.engine.serves_payload(peer, space, access.as_ref()) {
            self.store.payload(&space, &hash).unwrap_or_else(|e| {
                warn!(%space, "cannot read a payload: {e}");
                None
            })
        } else {
            debug!(%peer, %space, "payload asked by a peer not entitled to the space");
            None
        };
        let response = bytes.map_or(PayloadResponse::Unavailable, PayloadResponse::Found);
        let _ = self
            .swarm
            .behaviour_mut()
            .payload
            .send_response(channel, response);
    }

    /// Handles an event of the payload behaviour.
    pub(super) fn on_payload_event(&mut self, event: BehaviourEvent) {
        let BehaviourEvent::Payload(event) = event else {
            return;
        };
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => self.serve_payload(peer, request, channel),
                request_response::Message::Response {
                    request_id,
                    response,
                } => {
                    let answer = match response {
                        PayloadResponse::Found(bytes) => Ok(bytes),
                        PayloadResponse::Unavailable => Err(format!("{peer} does not have it")),
                    };
                    self.on_payload_answer(peer, request_id, answer);
                }
            },
            request_response::Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => self.on_payload_answer(
                peer,
                request_id,
                Err(format!("asking {peer} failed: {error}")),
            ),
            request_response::Event::InboundFailure { peer, error, .. } => {
                debug!(%peer, "inbound payload request failed: {error}");
            }
            request_response::Event::ResponseSent { .. } => {}
        }
    }

    /// Prefetches what a hosted timite will need, as soon as the change naming it arrives: a
    /// request's input held out of band when a hosted timite is one of its candidates, an
    /// accepted result held out of band when a hosted timite asked for it.
    pub(super) fn prefetch(&mut self, event: &SpaceEvent) {
        let wanted = |p: &Option<Box<PayloadInfo>>, mine: bool| {
            p.as_ref()
                .filter(|_| mine)
                .and_then(|p| p.hash.parse::<PayloadHash>().ok())
        };
        let hosted = |d: &Did| self.timites.contains_key(d);
        let (space, hash) = match event {
            SpaceEvent::RequestCreated { space, request } => {
                let mine = request.candidates.iter().any(hosted) && !hosted(&request.requester);
                (*space, wanted(&request.input_payload, mine))
            }
            SpaceEvent::RequestCompleted { space, request } => {
                let mine =
                    hosted(&request.requester) && !request.claimant.as_ref().is_some_and(hosted);
                (*space, wanted(&request.output_payload, mine))
            }
            _ => return,
        };
        if let Some(hash) = hash {
            self.fetch_payload(space, hash, None, None);
        }
    }
}
