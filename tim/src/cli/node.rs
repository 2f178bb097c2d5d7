//! `tim node run`: run a node and serve its API until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Subcommand, ValueEnum};
use tim_node::api::{ApiConfig, RateLimit};
use tim_node::home::{self, RuntimeInfo};
use tim_node::{FlushMode, NetConfig, NodeConfig};

use super::open_keys;
use crate::output::{outln, Out};

#[derive(Subcommand)]
pub(crate) enum NodeCommand {
    /// Run the node until Ctrl-C.
    Run {
        /// Address to listen on (repeatable).
        #[arg(long, default_values = ["/ip4/127.0.0.1/tcp/4710", "/ip4/127.0.0.1/udp/4710/quic-v1"])]
        listen: Vec<String>,
        /// Peer to dial at start, with /p2p/<peer id> (repeatable).
        #[arg(long)]
        peer: Vec<String>,
        /// Address of the HTTP API.
        #[arg(long, default_value = "127.0.0.1:4711")]
        api: SocketAddr,
        /// Discover peers on the LAN with mDNS.
        #[arg(long)]
        mdns: bool,
        /// Share a TCP listen port with another process (SO_REUSEPORT); without it the node
        /// refuses to start on a port in use.
        #[arg(long)]
        reuse_port: bool,
        /// API requests per second each token may make, in bursts of twice that; 0 turns the
        /// limit off.
        #[arg(long, default_value_t = RateLimit::default().per_sec)]
        rate_limit: u32,
        /// How acknowledged writes reach the disk: `group` shares one fsync among concurrent
        /// writers, `each` does one fsync per write.
        #[arg(long, value_enum, default_value_t = Flush::Group)]
        flush: Flush,
        /// The base URL at which outside verifiers reach this node's API
        /// (`https://tim.example.org`): credentials it issues name their status list under it.
        /// Defaults to `http://127.0.0.1:<API port>`, which only this machine can reach.
        #[arg(long, value_name = "URL")]
        public_url: Option<String>,
    },
}

/// `--flush`: the command-line names of [`FlushMode`] (the node library knows no clap).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Flush {
    /// One `fsync` answers every flush request queued meanwhile (group commit).
    Group,
    /// One `fsync` per request (for comparison; slower under concurrency).
    Each,
}

impl From<Flush> for FlushMode {
    fn from(f: Flush) -> Self {
        match f {
            Flush::Group => FlushMode::Group,
            Flush::Each => FlushMode::Each,
        }
    }
}

/// `tim node …`.
pub(crate) async fn run(home: &Path, out: Out, command: NodeCommand) -> Result<()> {
    match command {
        NodeCommand::Run {
            listen,
            peer,
            api,
            mdns,
            reuse_port,
            rate_limit,
            flush,
            public_url,
        } => {
            let rate_limit = RateLimit {
                per_sec: rate_limit,
                burst: rate_limit.saturating_mul(2),
            };
            let cfg = NodeConfig {
                listen: parse_addrs(&listen, "--listen")?,
                bootstrap: parse_addrs(&peer, "--peer")?,
                net: NetConfig {
                    mdns,
                    reuse_port,
                    ..NetConfig::default()
                },
                flush: flush.into(),
                public_url: public_url.map(|u| parse_public_url(&u)).transpose()?,
            };
            run_node(home, out, cfg, api, rate_limit).await
        }
    }
}

/// `--public-url`: an absolute `http` or `https` URL, kept without a trailing `/`.
fn parse_public_url(url: &str) -> Result<String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .with_context(|| format!("--public-url `{url}` must start with http:// or https://"))?;
    anyhow::ensure!(
        !rest.is_empty() && !rest.contains(['?', '#', ' ']),
        "--public-url `{url}` must be a base URL: scheme, host, optional port and path"
    );
    Ok(url.trim_end_matches('/').to_string())
}

fn parse_addrs(v: &[String], what: &str) -> Result<Vec<libp2p::Multiaddr>> {
    v.iter()
        .map(|a| {
            a.parse()
                .with_context(|| format!("{what} `{a}` is not a multiaddr"))
        })
        .collect()
}

async fn run_node(
    home: &Path,
    out: Out,
    mut cfg: NodeConfig,
    api: SocketAddr,
    rate_limit: RateLimit,
) -> Result<()> {
    let keys = open_keys(home)?;
    // Held until the node stops: a second node on this home stops here.
    let _lock = home::lock(home)?;
    let token = match home::read_token(home) {
        Ok(t) => t,
        Err(_) => home::new_token(home)?,
    };
    let listener = tokio::net::TcpListener::bind(api)
        .await
        .with_context(|| format!("cannot bind the API to {api}"))?;
    let api_addr = listener.local_addr()?;
    cfg.public_url
        .get_or_insert_with(|| format!("http://127.0.0.1:{}", api_addr.port()));
    // `start` returns once every listener is bound, so the addresses printed are complete.
    let handle = tim_node::start(keys.clone(), &home.join(home::DATA_DIR), cfg)
        .await
        .context("cannot start the node")?;
    let status = handle.status().await?;
    let info = RuntimeInfo {
        api: format!("http://{api_addr}"),
        listen: status.listen.clone(),
        node_did: status.node_did.to_string(),
        timite: status.timite.to_string(),
        pid: std::process::id(),
    };
    home::write_private(
        &home.join(home::RUNTIME_FILE),
        &serde_json::to_vec_pretty(&info)?,
    )?;
    out.print(&info, |info| {
        outln!("tim node running")?;
        outln!("  node DID : {}", info.node_did)?;
        outln!("  timite   : {}", info.timite)?;
        for a in &info.listen {
            outln!("  listen   : {a}")?;
        }
        outln!("  API      : {}", info.api)?;
        outln!("  spaces   : {}", status.spaces)
    })?;
    let app = tim_node::api::router_with(handle.clone(), token, ApiConfig { rate_limit });
    // On SIGINT/SIGTERM: stop accepting requests, give open ones (event streams never end by
    // themselves) a short grace period, then flush and stop the node.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    let mut graceful = stop_rx.clone();
    let mut grace = stop_rx;
    // Small responses (event streams above all) must not wait for Nagle's algorithm.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("cannot set TCP_NODELAY on an API connection: {e}");
        }
    });
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        let _ = graceful.wait_for(|stop| *stop).await;
    });
    tokio::select! {
        r = server => r?,
        _ = async move {
            let _ = grace.wait_for(|stop| *stop).await;
            tokio::time::sleep(Duration::from_secs(2)).await;
        } => {}
    }
    handle.shutdown().await?;
    let _ = std::fs::remove_file(home.join(home::RUNTIME_FILE));
    Ok(())
}

pub(crate) async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {},
        _ = term.recv() => {},
    }
}
