//! The actor's side of the network index of abilities (`crate::index`): it subscribes to the
//! index topic, publishes this node's record when the [`Publisher`] says one is due, and
//! judges received records into the [`Cache`] that network searches read.

use libp2p::gossipsub::{self, IdentTopic, MessageAcceptance, MessageId};
use libp2p::PeerId;
use tim_protocol::Did;
use tracing::{debug, warn};

use super::{now_ms, Actor};
use crate::engine::Output;
use crate::index::{Cache, NetworkHit, Publisher, INDEX_TOPIC};
use crate::net::space_topic_params;

/// The actor's index state.
#[derive(Debug)]
pub(super) struct AbilityIndex {
    pub(super) topic: gossipsub::TopicHash,
    pub(super) publisher: Publisher,
    pub(super) cache: Cache,
}

impl AbilityIndex {
    pub(super) fn new(refresh_ms: u64) -> Self {
        Self {
            topic: IdentTopic::new(INDEX_TOPIC).hash(),
            publisher: Publisher::new(refresh_ms),
            cache: Cache::default(),
        }
    }
}

impl Actor {
    /// Subscribes to the index topic, scored like a space's topic (an invalid record counts
    /// as an invalid change does).
    pub(super) fn join_index(&mut self) {
        let topic = IdentTopic::new(INDEX_TOPIC);
        let gossipsub = &mut self.swarm.behaviour_mut().gossipsub;
        if let Err(e) = gossipsub.set_topic_params(topic.clone(), space_topic_params()) {
            warn!("cannot score the ability index topic: {e}");
        }
        if let Err(e) = gossipsub.subscribe(&topic) {
            warn!("cannot subscribe to the ability index topic: {e}");
        }
    }

    /// Publishes this node's record if one is due, keeps it in its own cache (a node's
    /// network search lists its own entries too), and drops expired records.
    pub(super) fn publish_index(&mut self) {
        let now = now_ms();
        let addrs = self
            .listen
            .iter()
            .take(crate::index::MAX_ADDRS)
            .map(ToString::to_string)
            .collect();
        let due = self.index.publisher.due(
            self.engine.spaces(),
            &self.timites,
            &self.keys.node,
            addrs,
            now,
        );
        if let Some(bytes) = due {
            if let Err(e) = self.index.cache.receive(&bytes, now) {
                warn!(
                    reason = e.code(),
                    "this node's own index record is refused: {e}"
                );
            }
            let topic = IdentTopic::new(INDEX_TOPIC);
            match self.swarm.behaviour_mut().gossipsub.publish(topic, bytes) {
                Ok(_) | Err(gossipsub::PublishError::NoPeersSubscribedToTopic) => {}
                Err(e) => debug!("publishing the ability index: {e}"),
            }
        }
        self.index.cache.expire(now);
    }

    /// Judges a record received on the index topic and reports the verdict to gossipsub.
    pub(super) fn on_index_message(&mut self, from: PeerId, id: MessageId, data: &[u8]) {
        let verdict = match self.index.cache.receive(data, now_ms()) {
            Ok((node, entries)) => {
                debug!(%from, %node, entries, "ability index record accepted");
                MessageAcceptance::Accept
            }
            Err(e) => {
                let verdict = e.verdict();
                if verdict == MessageAcceptance::Reject {
                    warn!(%from, reason = e.code(), "ability index record rejected: {e}");
                } else {
                    debug!(%from, reason = e.code(), "ability index record ignored: {e}");
                }
                verdict
            }
        };
        self.carry_out(vec![Output::Verdict { id, from, verdict }]);
    }

    /// Whether each provider's node is reachable: `Some(true)` if this node hosts it or is
    /// connected to a node whose index record lists it, `Some(false)` if only nodes this one
    /// is not connected to list it, `None` if no record lists it (a provider in invite-only
    /// spaces, or whose node has not published yet).
    pub(super) fn availability(&self, providers: &[Did]) -> Vec<Option<bool>> {
        let now = now_ms();
        providers
            .iter()
            .map(|p| {
                if self.timites.contains_key(p) {
                    return Some(true);
                }
                let hosts = self.index.cache.hosts_of(p, now);
                (!hosts.is_empty()).then(|| hosts.iter().any(|h| self.swarm.is_connected(h)))
            })
            .collect()
    }

    /// Searches the cached index.
    pub(super) fn network_search(&self, query: &str, limit: usize) -> Vec<NetworkHit> {
        self.index.cache.search(query, limit, now_ms())
    }
}
