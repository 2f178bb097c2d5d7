//! The node's metrics, served in the OpenMetrics text format at `GET /metrics`: the node's own
//! counters (`tim_*`), libp2p's bytes on the wire by direction (`libp2p_bandwidth_bytes_total`)
//! and gossipsub's per-topic message counts, including duplicates
//! (`gossipsub_topic_msg_recv_counts_unfiltered_total` minus `…_recv_counts_total`).

use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;

/// The node's own counters.
#[derive(Debug, Clone, Default)]
pub(crate) struct NodeMetrics {
    /// Sync requests sent (each one a round trip).
    pub(crate) sync_requests: Counter,
    /// Changes stored, whatever their path (local, gossip, sync, import).
    pub(crate) changes_stored: Counter,
    /// Changes refused, whatever their path.
    pub(crate) changes_rejected: Counter,
    /// Connections from banned peers closed as they were established.
    pub(crate) peers_refused: Counter,
}

impl NodeMetrics {
    /// Registers the counters under `tim_`.
    pub(crate) fn register(&self, registry: &mut Registry) {
        let tim = registry.sub_registry_with_prefix("tim");
        tim.register(
            "sync_requests_sent",
            "Sync requests sent to peers (round trips)",
            self.sync_requests.clone(),
        );
        tim.register(
            "changes_stored",
            "Signed changes stored (local, gossip, sync, import)",
            self.changes_stored.clone(),
        );
        tim.register(
            "changes_rejected",
            "Changes refused (bad signature, rules, malformed)",
            self.changes_rejected.clone(),
        );
        tim.register(
            "peers_refused",
            "Connections of banned peers closed as they were established",
            self.peers_refused.clone(),
        );
    }
}

/// The registry as OpenMetrics text.
pub(crate) fn encode(registry: &Registry) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, registry);
    out
}
