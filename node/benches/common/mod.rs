//! What the node benchmarks share: one real node on loopback, and percentiles.

use std::path::Path;
use std::time::Duration;

use tim_did::{Identity, Keystore};
use tim_node::{Handle, NetConfig, NodeConfig};

/// Starts one node (fixed keys, group commit) with its store in `dir`, listening on loopback.
pub(crate) async fn one_node(dir: &Path) -> Handle {
    let keys = Keystore::in_memory(Identity::from_seed([1; 32]), Identity::from_seed([2; 32]));
    let cfg = NodeConfig {
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        bootstrap: vec![],
        net: NetConfig::default(),
        flush: tim_node::FlushMode::Group,
        public_url: None,
    };
    tim_node::start(keys, dir, cfg).await.unwrap()
}

/// The `p` quantile of sorted durations.
pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}
