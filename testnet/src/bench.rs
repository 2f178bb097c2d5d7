//! `tim testnet bench`: Tim measured against its goals on real node processes (loopback, sled
//! on disk, signed changes), several runs, medians and ranges, the machine described.
//!
//! | scenario | what |
//! |---|---|
//! | B1 | propagation: post on one node → applied on every other (SSE), N nodes |
//! | B1m | many spaces: 50 spaces spread over 5 nodes (each on 3), posts into seeded random spaces: propagation to the space's other hosts, lost, RSS, bytes per delivery |
//! | B2 | amplification: bytes and gossip messages on the wire per delivered message, duplicates |
//! | B3 | saturation: raise the posting rate until p99 > 1 s or a message is lost; CPU, RSS |
//! | B3i | ingest of already-signed changes by one node (`/v1/import`: verify, authorize, apply, store) |
//! | B4 | late joiner: a fresh node joins a space of 1k/10k/100k messages: time, bytes, round trips |
//! | B5 | bare Automerge, same workload, no signing/storage/network: the overhead ratio |
//! | B6 | the biggest space reloaded from sled after a restart: time and RSS |
//! | B7 | durability: one fsync per acknowledged change versus group commit |
//! | B8 | crypto: sign, verify, did:key resolve, envelope and credential verify per second |
//! | S | scale: many spaces on one node (RSS, start-up) |
//! | B9 | live path against space size: 3 nodes share a space of 0/10k/50k/100k messages: probes (ack, propagation), a sustained fill (lag, lost), RSS |
//! | B10 | flood: a peer publishes invalid changes at 100x the honest rate: honest propagation before and during, time to graylist |
//! | B11 | invocation: a requester on node 3 asks a provider on node 1 for an ability that does no work; request → result seen by the requester, and its legs; local search |
//! | B12 | the web page at size: the node's page in headless Chromium on a space of 1k/100k messages: open, older pages, DOM and heap, live messages, the API routes it reads ([`crate::page_bench`]; only when named) |
//!
//! [`Options::scenarios`] selects the parts to run (`tim testnet bench --only b1,b9`).

use crate::rng::Rng;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;
use tim_client::Client;
use tim_protocol::api::{CreateSpace, InviteRequest};
use tim_protocol::wire::ExportBundle;
use tim_protocol::{Envelope, SpaceId};
use tokio::sync::Mutex;

use crate::{charts, micro, watch_spaces, Cluster, CONVERGE_TIMEOUT};

/// A part of the bench that [`Options::scenarios`] selects. Some parts measure several
/// scenarios at once: B1 also gives B2, and B4 gives B3i, B5 and B6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// B1 propagation and B2 amplification.
    B1,
    /// B1m: propagation with many spaces spread over a few nodes.
    B1m,
    /// B3 saturation.
    B3,
    /// B3i ingest, B4 late joiner, B5 Automerge baseline, B6 restart.
    B4,
    /// B7 durability.
    B7,
    /// B8 crypto.
    B8,
    /// S: many spaces on one node.
    Scale,
    /// B9 live path against space size.
    B9,
    /// B10: a peer floods invalid changes; honest propagation before and during.
    Flood,
    /// B11: ability invocation across nodes.
    Invocation,
    /// B12: the web page at size, in headless Chromium. Not in [`Scenario::ALL`]: it needs
    /// Node.js and Chromium, so it runs only when named.
    Page,
}

impl Scenario {
    /// Every part, in the order the bench runs them.
    pub const ALL: [Scenario; 10] = [
        Self::B1,
        Self::B1m,
        Self::B3,
        Self::B4,
        Self::B9,
        Self::Flood,
        Self::Invocation,
        Self::B7,
        Self::B8,
        Self::Scale,
    ];
}

impl std::str::FromStr for Scenario {
    type Err = String;

    /// `b1` … `b12`, `b1m`, `flood` (`b10`), `invoke` (`b11`), `page` (`b12`) or `scale`, in any case; a scenario measured within another part names that
    /// part (`b2` is `b1`; `b3i`, `b5` and `b6` are `b4`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "b1" | "b2" => Self::B1,
            "b1m" => Self::B1m,
            "b3" => Self::B3,
            "b3i" | "b4" | "b5" | "b6" => Self::B4,
            "b7" => Self::B7,
            "b8" => Self::B8,
            "s" | "scale" => Self::Scale,
            "b9" => Self::B9,
            "b10" | "flood" => Self::Flood,
            "b11" | "invoke" => Self::Invocation,
            "b12" | "page" => Self::Page,
            other => {
                return Err(format!(
                    "unknown scenario `{other}`: expected b1, b1m, b2, b3, b3i, b4, b5, b6, b7, \
                     b8, b9, b10 (flood), b11 (invoke), b12 (page) or scale"
                ))
            }
        })
    }
}

/// Space sizes from a comma-separated list (`0,10000,50000`); an empty list or `none` is no
/// size at all.
pub fn parse_sizes(s: &str) -> Result<Vec<usize>, String> {
    let s = s.trim();
    if s.is_empty() || s.eq_ignore_ascii_case("none") {
        return Ok(Vec::new());
    }
    s.split(',')
        .map(|part| {
            let part = part.trim().replace('_', "");
            part.parse::<usize>().map_err(|_| {
                format!("`{part}` is not a number of messages: expected e.g. 0,10000,50000 or none")
            })
        })
        .collect()
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The parts to run (the others are skipped).
    pub scenarios: Vec<Scenario>,
    /// Cluster sizes for B1/B2.
    pub nodes: Vec<usize>,
    /// Runs per setting (medians and ranges over them).
    pub runs: usize,
    /// Messages posted per B1 run.
    pub messages: usize,
    /// Posting rate of B1 and B1m, messages per second.
    pub rate: f64,
    /// B1m: nodes.
    pub b1m_nodes: usize,
    /// B1m: spaces, created round-robin on the nodes, each joined by the next two.
    pub b1m_spaces: usize,
    /// B1m: messages posted, each into a (seeded) random space.
    pub b1m_messages: usize,
    /// Space sizes for B4 (the biggest also serves B3i, B5, B6).
    pub late: Vec<usize>,
    /// Space counts on one node for the scale test.
    pub spaces: Vec<usize>,
    /// Space sizes for B9 (messages already in the space).
    pub b9: Vec<usize>,
    /// B9's sustained fill: messages per second posted on node 1.
    pub b9_rate: f64,
    /// B9's sustained fill: how long it posts, in seconds.
    pub b9_seconds: f64,
    /// Space sizes for B12 (the web page at size).
    pub page: Vec<usize>,
    /// B1 in an invite-only space (its live path is pushes by sync, not gossip).
    pub private: bool,
    /// With `private`: the invite-only space is not end-to-end encrypted (to measure what
    /// encryption costs).
    pub plain: bool,
    /// Where to write the report (Markdown, JSON, SVG charts).
    pub out: Option<PathBuf>,
}

impl Options {
    /// The full run described in docs/benchmarks.md.
    pub fn full() -> Self {
        Self {
            scenarios: Scenario::ALL.to_vec(),
            nodes: vec![3, 10, 20],
            runs: 3,
            messages: 200,
            rate: 20.0,
            b1m_nodes: 5,
            b1m_spaces: 50,
            b1m_messages: 200,
            late: vec![1_000, 10_000, 100_000],
            spaces: vec![1_000, 10_000],
            b9: vec![0, 10_000, 50_000, 100_000],
            b9_rate: 1_000.0,
            b9_seconds: 5.0,
            page: crate::page_bench::SIZES.to_vec(),
            private: false,
            plain: false,
            out: None,
        }
    }

    /// A run of a minute or two, for trying it out.
    pub fn quick() -> Self {
        Self {
            scenarios: Scenario::ALL.to_vec(),
            nodes: vec![3],
            runs: 1,
            messages: 50,
            rate: 20.0,
            b1m_nodes: 3,
            b1m_spaces: 4,
            b1m_messages: 20,
            late: vec![1_000],
            spaces: vec![100],
            b9: vec![0, 1_000],
            b9_rate: 1_000.0,
            b9_seconds: 1.0,
            page: vec![1_000],
            private: false,
            plain: false,
            out: None,
        }
    }

    fn runs(&self, scenario: Scenario) -> bool {
        self.scenarios.contains(&scenario)
    }
}

/// Told what the bench is doing.
pub type Say<'a> = &'a (dyn Fn(&str) + Sync);

/// A distribution's summary, in milliseconds.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Dist {
    /// Samples.
    pub n: usize,
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

impl Dist {
    pub(crate) fn of(samples: &[f64]) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        let mut s = samples.to_vec();
        s.sort_by(f64::total_cmp);
        let at = |q: f64| s[((s.len() - 1) as f64 * q).round() as usize];
        Self {
            n: s.len(),
            p50: at(0.5),
            p99: at(0.99),
            max: s[s.len() - 1],
        }
    }
}

/// The median and range of one figure over runs.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Spread {
    /// Median over runs.
    pub median: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
}

impl Spread {
    pub(crate) fn of(values: impl IntoIterator<Item = f64>) -> Self {
        let mut v: Vec<f64> = values.into_iter().collect();
        if v.is_empty() {
            return Self::default();
        }
        v.sort_by(f64::total_cmp);
        Self {
            median: v[v.len() / 2],
            min: v[0],
            max: v[v.len() - 1],
        }
    }

    pub(crate) fn show(&self, unit: &str) -> String {
        if (self.max - self.min).abs() < f64::EPSILON {
            format!("{} {unit}", num(self.median))
        } else {
            format!(
                "{} {unit} ({}–{})",
                num(self.median),
                num(self.min),
                num(self.max)
            )
        }
    }
}

pub(crate) fn num(x: f64) -> String {
    if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// B1 and B2 for one cluster size.
#[derive(Debug, Clone, Serialize)]
pub struct Propagation {
    /// Nodes.
    pub nodes: usize,
    /// Post → applied on another node, per run (ms).
    pub runs: Vec<Dist>,
    /// p50 over runs.
    pub p50: Spread,
    /// p99 over runs.
    pub p99: Spread,
    /// max over runs.
    pub max: Spread,
    /// Deliveries that never arrived (all runs).
    pub lost: usize,
    /// Every latency sample of the last run (ms), for the chart.
    #[serde(skip)]
    pub samples: Vec<f64>,
    /// B2: bytes received on the wire, all nodes, per delivered message.
    pub bytes_per_delivery: Spread,
    /// B2: gossip messages received (duplicates included) per delivered message.
    pub gossip_per_delivery: Spread,
    /// B2: duplicate gossip messages per delivered message.
    pub duplicates_per_delivery: Spread,
    /// Size of one signed change on the wire (bytes, median).
    pub envelope_bytes: f64,
}

/// B1m: many spaces spread over a few nodes, one run.
#[derive(Debug, Clone, Serialize)]
pub struct ManySpaces {
    /// Nodes.
    pub nodes: usize,
    /// Spaces.
    pub spaces: usize,
    /// Nodes hosting each space (its creator and the next ones round the ring).
    pub hosts_per_space: usize,
    /// Spaces hosted by each node.
    pub spaces_per_node: Vec<usize>,
    /// Creating and joining every space, until each space's hosts agree and are meshed (s).
    pub setup_s: f64,
    /// Messages posted.
    pub messages: usize,
    /// Asked posting rate, all spaces together (messages/s).
    pub rate: f64,
    /// Achieved posting rate.
    pub achieved: f64,
    /// Deliveries expected: each message on each other host of its space.
    pub deliveries: usize,
    /// Post → applied on another host of the space (ms).
    pub latency: Dist,
    /// Deliveries not seen within the deadline.
    pub lost: usize,
    /// Bytes received on the wire, all nodes, per delivered message.
    pub bytes_per_delivery: f64,
    /// Gossip messages received (duplicates included) per delivered message.
    pub gossip_per_delivery: f64,
    /// RSS of each node after the posts (MB).
    pub rss_mb: Vec<f64>,
    /// Every latency sample (ms), for the chart.
    #[serde(skip)]
    pub samples: Vec<f64>,
}

/// One step of B3.
#[derive(Debug, Clone, Serialize)]
pub struct RateStep {
    /// Asked rate (messages/s).
    pub target: f64,
    /// Achieved posting rate.
    pub achieved: f64,
    /// Propagation latency.
    pub latency: Dist,
    /// Deliveries lost.
    pub lost: usize,
    /// CPU of each node during the step (% of one core).
    pub cpu: Vec<f64>,
    /// RSS of each node after the step (MB).
    pub rss_mb: Vec<f64>,
}

/// B3.
#[derive(Debug, Clone, Serialize)]
pub struct Saturation {
    /// Nodes.
    pub nodes: usize,
    /// The steps, in order.
    pub steps: Vec<RateStep>,
    /// Highest achieved rate with p99 ≤ 1 s and nothing lost.
    pub sustained: f64,
}

/// B3i, B4, B6 for one space size.
#[derive(Debug, Clone, Serialize)]
pub struct LateJoin {
    /// Messages in the space.
    pub messages: usize,
    /// Changes (messages plus genesis and joins).
    pub changes: usize,
    /// Sum of the Automerge change bytes.
    pub change_bytes: u64,
    /// B3i: import into one node (ms).
    pub import_ms: Spread,
    /// B3i: changes per second of that import.
    pub ingest_per_sec: Spread,
    /// B4: a fresh node's join, until it holds every message (ms).
    pub join_ms: Spread,
    /// B4: bytes the joiner received on the wire.
    pub join_bytes: Spread,
    /// B4: sync round trips the joiner made.
    pub round_trips: Spread,
    /// B6: restart of the joiner until its summary counts every message (ms), biggest only.
    pub restart_ms: Option<Spread>,
    /// B6: the joiner's RSS after that restart (MB).
    pub restart_rss_mb: Option<Spread>,
}

/// B7 for one flush mode.
#[derive(Debug, Clone, Serialize)]
pub struct Durability {
    /// `group` or `each`.
    pub mode: String,
    /// Concurrent posting clients.
    pub clients: usize,
    /// Acknowledged posts per second.
    pub per_sec: Spread,
    /// Post latency (last run).
    pub latency: Dist,
}

/// The scale test for one space count.
#[derive(Debug, Clone, Serialize)]
pub struct Scale {
    /// Spaces on one node.
    pub spaces: usize,
    /// Time to create them through the API (s).
    pub create_s: f64,
    /// RSS after creating them (MB).
    pub rss_mb: f64,
    /// Start-up after a restart, until the API lists them all (ms).
    pub startup_ms: f64,
    /// RSS after that restart (MB).
    pub restart_rss_mb: f64,
}

/// B9 for one space size: the live path (post on node 1, seen on nodes 2 and 3) in a space
/// that already holds `messages` messages.
#[derive(Debug, Clone, Serialize)]
pub struct LivePath {
    /// Messages in the space before the probes.
    pub messages: usize,
    /// Import of the space into node 1 (ms).
    pub import_ms: f64,
    /// Nodes 2 and 3, joining at the same time, each until it holds every message (ms).
    pub join_ms: Vec<f64>,
    /// Probes: round trip of each `POST` on node 1 (ms).
    pub ack: Dist,
    /// Probes: post on node 1 → event on node 2 or 3 (ms).
    pub propagation: Dist,
    /// Probe deliveries not seen within the deadline.
    pub probe_lost: usize,
    /// Fill: asked posting rate (messages/s).
    pub fill_target: f64,
    /// Fill: achieved posting rate (messages/s).
    pub fill_achieved: f64,
    /// Fill: messages posted.
    pub fill_posted: usize,
    /// Fill: round trip of each `POST` (ms).
    pub fill_ack: Dist,
    /// Fill: lag of each message on each follower, post → event (ms).
    pub fill_lag: Dist,
    /// Fill deliveries (message, follower) not seen within the deadline.
    pub fill_lost: usize,
    /// Messages the followers lack after that deadline, by their space summaries (a delivery
    /// the event stream missed is lost but not missing).
    pub missing: usize,
    /// RSS of nodes 1, 2 and 3 after the fill (MB).
    pub rss_mb: Vec<f64>,
}

/// B10: one node floods the space with invalid changes at [`FLOOD_FACTOR`] times the honest
/// rate while the honest nodes post; their propagation is measured before (quiet) and during.
#[derive(Debug, Clone, Serialize)]
pub struct Flood {
    /// Nodes, the flooder included.
    pub nodes: usize,
    /// Honest posting rate (messages/s, all honest nodes together).
    pub honest_rate: f64,
    /// The flooder's rate of invalid changes (messages/s).
    pub flood_rate: f64,
    /// Honest propagation without a flood (ms).
    pub quiet: Dist,
    /// Honest propagation while the flood starts and runs (ms).
    pub flooded: Dist,
    /// Deliveries lost, quiet and flooded.
    pub lost: (usize, usize),
    /// Flood start → the flooder banned, on each honest node (ms; none if it never was).
    pub graylisted_ms: Vec<Option<f64>>,
    /// Invalid changes each honest node judged before it dropped the flooder.
    pub rejected: Vec<u64>,
}

/// One goal and where Tim stands.
#[derive(Debug, Clone, Serialize)]
pub struct Goal {
    /// Scenario.
    pub scenario: String,
    /// The goal.
    pub goal: String,
    /// Measured.
    pub measured: String,
    /// Met?
    pub met: bool,
}

/// The machine the figures come from.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// CPU model.
    pub cpu: String,
    /// Cores available.
    pub cores: usize,
    /// Memory (GiB).
    pub memory_gib: f64,
    /// Kernel.
    pub kernel: String,
    /// The `tim` binary measured and whether it is a release build.
    pub tim: String,
    /// When.
    pub date: String,
}

/// Everything measured.
#[derive(Debug, Clone, Serialize)]
pub struct Results {
    /// Where.
    pub machine: Machine,
    /// Runs per setting.
    pub runs: usize,
    /// B1, B2.
    pub propagation: Vec<Propagation>,
    /// B1m.
    pub many_spaces: Option<ManySpaces>,
    /// B3.
    pub saturation: Option<Saturation>,
    /// B3i, B4, B6.
    pub late_join: Vec<LateJoin>,
    /// B5.
    pub automerge: Option<micro::AutomergeBaseline>,
    /// B7.
    pub durability: Vec<Durability>,
    /// B8.
    pub crypto: Option<micro::Crypto>,
    /// Scale.
    pub scale: Vec<Scale>,
    /// B9.
    pub live_path: Vec<LivePath>,
    /// B10.
    pub flood: Option<Flood>,
    /// B11.
    pub invocation: Option<Invocation>,
    /// B12, one entry per space size.
    pub page: Vec<crate::page_bench::PageAtSize>,
    /// The goals.
    pub goals: Vec<Goal>,
    /// Scenarios that failed, with why.
    pub errors: Vec<String>,
}

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The `tim node run` arguments of bench nodes: no rate limit (the bench is the load).
pub(crate) const NODE_ARGS: &[&str] = &["--rate-limit", "0"];
/// The nodes' gossipsub `mesh_n_low`: a mesh this full is one gossipsub keeps.
const MESH_N_LOW: usize = 5;
/// How long a cluster's gossipsub mesh may take to form.
const MESH_TIMEOUT: Duration = Duration::from_secs(20);

/// How long the mesh of `n` nodes may take to form: [`MESH_TIMEOUT`], plus a second a node
/// beyond 10 (on two cores, 20 node processes share the heartbeats and the dials).
fn mesh_timeout(n: usize) -> Duration {
    MESH_TIMEOUT + Duration::from_secs(n.saturating_sub(10) as u64)
}

/// Sums the samples of a metric (OpenMetrics text) whose labels contain `filter`.
fn metric(text: &str, name: &str, filter: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            let (metric_name, labels) = key.split_once('{').unwrap_or((key, ""));
            (metric_name == name && labels.contains(filter)).then(|| value.parse::<f64>().ok())?
        })
        .sum()
}

/// What B2 reads from every node before and after.
#[derive(Debug, Clone, Copy, Default)]
struct Wire {
    bytes_in: f64,
    gossip_unfiltered: f64,
    gossip: f64,
}

async fn wire(cluster: &Cluster) -> Result<Wire> {
    let mut w = Wire::default();
    for n in &cluster.nodes {
        let t = n.client.metrics().await?;
        w.bytes_in += metric(&t, "libp2p_bandwidth_bytes_total", "Inbound");
        w.gossip_unfiltered += metric(&t, "gossipsub_topic_msg_recv_counts_unfiltered_total", "");
        w.gossip += metric(&t, "gossipsub_topic_msg_recv_counts_total", "");
    }
    Ok(w)
}

/// CPU time (user + system) of a process, from `/proc/<pid>/stat`.
fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    // Linux reports in clock ticks of 1/100 s on every platform Tim runs on.
    Some(Duration::from_millis(ticks * 10))
}

/// Resident memory of a process (MB), from `/proc/<pid>/status`.
pub(crate) fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Starts `n` nodes, creates a space on node 1 and has every other node join it.
async fn cluster_with_space(exe: &Path, n: usize, args: &[&str]) -> Result<(Cluster, SpaceId)> {
    let cluster = Cluster::start_with(exe, n, None, None, args).await?;
    let first = &cluster.nodes[0];
    let space = first.client.create_space("bench", "measuring").await?.id;
    let via = first.listen[..1].to_vec();
    let joins = cluster.nodes[1..]
        .iter()
        .map(|node| node.client.join(space, via.clone(), vec![]));
    for r in futures::future::join_all(joins).await {
        r?;
    }
    if cluster.converge(space, 0).await.is_none() {
        bail!("the {n} nodes did not converge after joining");
    }
    Ok((cluster, space))
}

/// Starts `n` nodes, creates an invite-only space on node 1, invites every other node's timite
/// and has it join through node 1.
async fn cluster_with_private_space(
    exe: &Path,
    n: usize,
    encrypted: bool,
) -> Result<(Cluster, SpaceId)> {
    let cluster = Cluster::start_with(exe, n, None, None, NODE_ARGS).await?;
    let first = &cluster.nodes[0];
    let space = first
        .client
        .create_space_with(&CreateSpace {
            name: "bench".into(),
            purpose: "measuring".into(),
            visibility: Some("invite-only".into()),
            ttl_secs: None,
            encrypted: Some(encrypted),
        })
        .await?
        .id;
    let via = first.listen[..1].to_vec();
    for node in &cluster.nodes[1..] {
        let did = node.client.status().await?.timite;
        let invite = InviteRequest {
            did,
            expires_in_secs: None,
        };
        first.client.invite(space, &invite).await?;
        node.client.join(space, via.clone(), vec![]).await?;
    }
    if cluster.converge(space, 0).await.is_none() {
        bail!("the {n} nodes did not converge after joining the private space");
    }
    Ok((cluster, space))
}

/// How long after the last post of B1 or B3 a delivery may take before it counts as lost.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// What [`post_and_watch`] posts, and how.
#[derive(Debug, Clone, Copy)]
struct Load {
    /// Messages in all.
    count: usize,
    /// Messages per second, all writers together.
    rate: f64,
    /// Concurrent posting loops (each waits for its post's answer before the next).
    writers: usize,
    /// The first `posters` nodes post, round-robin; every other node only receives.
    posters: usize,
    /// How long after the last post a delivery may take before it counts as lost.
    deliver_within: Duration,
}

/// What [`post_and_watch`] measured.
#[derive(Debug, Default)]
struct Delivered {
    /// Post → seen on the event stream of a node other than the poster, per (message, node)
    /// pair (ms).
    latencies: Vec<f64>,
    /// Round trip of each `POST` (ms).
    acks: Vec<f64>,
    /// (message, node) pairs not seen within the deadline.
    lost: usize,
    /// Messages posted.
    posted: usize,
    /// Achieved posting rate (messages/s).
    achieved: f64,
}

/// Concurrent posting loops for `rate` messages per second: one per 100/s, as B3 does.
fn writers_for(rate: f64) -> usize {
    ((rate / 100.0).ceil() as usize).clamp(1, 32)
}

/// Posts as `load` says and measures when each message reaches every node but its poster
/// (through [`watch_spaces`]).
async fn post_and_watch(cluster: &Cluster, space: SpaceId, load: Load) -> Result<Delivered> {
    let writers = load.writers.max(1);
    let per_writer = load.count.div_ceil(writers);
    let posters = load.posters.max(1);
    // Message i of writer w is the plan's item i * writers + w, posted on node (w + i) % posters.
    let plan = (0..per_writer)
        .flat_map(|i| (0..writers).map(move |w| (0, (w + i) % posters)))
        .collect();
    let every: Vec<usize> = (0..cluster.nodes.len()).collect();
    post_and_watch_spaces(cluster, &[(space, every)], plan, load).await
}

/// A posted message: its space and its id (unique only within that space).
type Posting = (SpaceId, String);

/// Posts `plan`'s messages, each a (space, poster) pair: an index into `spaces` and the
/// 0-based node that posts it, which must host that space. `spaces` lists each space with its
/// hosts, and a message should reach every host of its space but its poster (through
/// [`watch_spaces`]). Of `load`, only the rate, the writers and the deadline count: writer `w`
/// posts the plan's items `w`, `w + writers`, …
async fn post_and_watch_spaces(
    cluster: &Cluster,
    spaces: &[(SpaceId, Vec<usize>)],
    plan: Vec<(usize, usize)>,
    load: Load,
) -> Result<Delivered> {
    let mut arrivals = watch_spaces(cluster, spaces).await?;
    // Drained while posting: a full channel would hold the event streams back and make
    // arrivals look late.
    let seen: Arc<Mutex<Vec<(usize, Posting, Instant)>>> = Arc::default();
    let collector = {
        let seen = seen.clone();
        tokio::spawn(async move {
            while let Some(a) = arrivals.recv().await {
                seen.lock().await.push((a.node, (a.space, a.message), a.at));
            }
        })
    };
    // No wait for the event streams: a node subscribes a stream before it answers the
    // request, and `watch_spaces` returns once every stream has been answered.
    // Keyed by space and message: a message id is unique only within its space.
    let sent: Arc<Mutex<HashMap<Posting, (usize, Instant)>>> = Arc::default();
    let acks: Arc<Mutex<Vec<f64>>> = Arc::default();
    let expected: usize = plan
        .iter()
        .map(|&(s, _)| spaces[s].1.len().saturating_sub(1))
        .sum();
    let posted = plan.len();
    let started = Instant::now();
    let writers = load.writers.max(1);
    let interval = Duration::from_secs_f64(writers as f64 / load.rate);
    let mut tasks = Vec::new();
    for w in 0..writers {
        let mine: Vec<(SpaceId, usize, Client)> = plan
            .iter()
            .skip(w)
            .step_by(writers)
            .map(|&(s, poster)| {
                let node = &cluster.nodes[poster];
                (spaces[s].0, node.index, node.client.clone())
            })
            .collect();
        let (sent, acks) = (sent.clone(), acks.clone());
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            for (i, (space, index, client)) in mine.into_iter().enumerate() {
                tick.tick().await;
                let t0 = Instant::now();
                let posted = client
                    .post_message(space, &format!("writer {w} message {i}"))
                    .await?;
                acks.lock().await.push(ms(t0.elapsed()));
                sent.lock().await.insert((space, posted.id), (index, t0));
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await.context("a posting task panicked")??;
    }
    let achieved = posted as f64 / started.elapsed().as_secs_f64();
    let deadline = Instant::now() + load.deliver_within;
    let sent = sent.lock().await;
    let from_others = |seen: &[(usize, Posting, Instant)]| {
        seen.iter()
            .filter(|(node, id, _)| sent.get(id).is_some_and(|(from, _)| from != node))
            .count()
    };
    while from_others(&seen.lock().await) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    collector.abort();
    let seen = seen.lock().await;
    let latencies: Vec<f64> = seen
        .iter()
        .filter_map(|(node, id, at)| {
            let (from, t0) = sent.get(id)?;
            (from != node).then(|| ms(at.duration_since(*t0)))
        })
        .collect();
    let lost = expected.saturating_sub(latencies.len());
    let acks = std::mem::take(&mut *acks.lock().await);
    Ok(Delivered {
        latencies,
        acks,
        lost,
        posted,
        achieved,
    })
}

/// B1 and B2 for `n` nodes.
async fn propagation(exe: &Path, n: usize, opts: &Options, say: Say<'_>) -> Result<Propagation> {
    let mut runs = Vec::new();
    let mut lost = 0;
    let mut samples = Vec::new();
    let (mut bytes, mut gossip, mut dups, mut envelope) = (vec![], vec![], vec![], vec![]);
    for run in 1..=opts.runs {
        say(&format!("B1 {n} nodes, run {run}/{}", opts.runs));
        let (mut cluster, space) = if opts.private {
            // No topic, no mesh: members' nodes push to each other once joined.
            cluster_with_private_space(exe, n, !opts.plain).await?
        } else {
            let (cluster, space) = cluster_with_space(exe, n, NODE_ARGS).await?;
            // Let gossipsub build its mesh: every node meshed with the others (up to
            // mesh_n_low).
            cluster
                .wait_mesh(space, (n - 1).min(MESH_N_LOW), mesh_timeout(n))
                .await?;
            (cluster, space)
        };
        let before = wire(&cluster).await?;
        let load = Load {
            count: opts.messages,
            rate: opts.rate,
            writers: 1,
            posters: n,
            deliver_within: DELIVERY_TIMEOUT,
        };
        let result = post_and_watch(&cluster, space, load).await;
        let after = wire(&cluster).await;
        let sizes = cluster.nodes[0].client.export_signatures(space).await;
        cluster.stop().await;
        let Delivered {
            latencies: lat,
            lost: l,
            ..
        } = result?;
        let after = after?;
        let delivered = lat.len().max(1) as f64;
        bytes.push((after.bytes_in - before.bytes_in) / delivered);
        gossip.push((after.gossip_unfiltered - before.gossip_unfiltered) / delivered);
        dups.push(
            ((after.gossip_unfiltered - before.gossip_unfiltered) - (after.gossip - before.gossip))
                / delivered,
        );
        if let Ok(bundle) = sizes {
            if let Ok(b) = ExportBundle::decode(&bundle) {
                let s: Vec<f64> = b
                    .envelopes
                    .iter()
                    .map(|e| e.encode().len() as f64)
                    .collect();
                envelope.push(Dist::of(&s).p50);
            }
        }
        lost += l;
        runs.push(Dist::of(&lat));
        samples = lat;
    }
    Ok(Propagation {
        nodes: n,
        p50: Spread::of(runs.iter().map(|d| d.p50)),
        p99: Spread::of(runs.iter().map(|d| d.p99)),
        max: Spread::of(runs.iter().map(|d| d.max)),
        runs,
        lost,
        samples,
        bytes_per_delivery: Spread::of(bytes),
        gossip_per_delivery: Spread::of(gossip),
        duplicates_per_delivery: Spread::of(dups),
        envelope_bytes: Spread::of(envelope).median,
    })
}

/// B10's cluster: four honest nodes and the flooder.
const FLOOD_NODES: usize = 5;
/// How much faster than the honest nodes the flooder publishes.
pub const FLOOD_FACTOR: f64 = 100.0;
/// How long the flooder may take to be dropped by every honest node.
const GRAYLIST_TIMEOUT: Duration = Duration::from_secs(30);

/// B10: honest nodes post at `opts.rate` (quiet), then again while the last node floods the
/// space with invalid changes at [`FLOOD_FACTOR`] times that rate; the honest nodes' scores
/// of the flooder should graylist it (they ban it), and their propagation should not suffer.
async fn flood(exe: &Path, opts: &Options, say: Say<'_>) -> Result<Flood> {
    let n = FLOOD_NODES;
    say(&format!("B10 flood, {n} nodes"));
    let (mut cluster, space) = cluster_with_space(exe, n, NODE_ARGS).await?;
    let result = flood_on(&cluster, space, opts, say).await;
    cluster.stop().await;
    result
}

async fn flood_on(
    cluster: &Cluster,
    space: SpaceId,
    opts: &Options,
    say: Say<'_>,
) -> Result<Flood> {
    let n = cluster.nodes.len();
    let honest: Vec<usize> = (0..n - 1).collect();
    cluster
        .wait_mesh(space, (n - 1).min(MESH_N_LOW), mesh_timeout(n))
        .await?;
    let load = Load {
        count: opts.messages,
        rate: opts.rate,
        writers: 1,
        posters: n - 1,
        deliver_within: DELIVERY_TIMEOUT,
    };
    let plan = |load: Load| -> Vec<(usize, usize)> {
        (0..load.count).map(|i| (0, i % load.posters)).collect()
    };
    let spaces = [(space, honest.clone())];
    say("B10 quiet");
    let quiet = post_and_watch_spaces(cluster, &spaces, plan(load), load).await?;

    let flood_rate = opts.rate * FLOOD_FACTOR;
    // The flood lasts as long as the honest posting.
    let count = (opts.messages as f64 * FLOOD_FACTOR) as u32;
    say(&format!("B10 flood at {flood_rate:.0}/s"));
    let graylisted = |text: &str| metric(text, "tim_peers_graylisted_total", "") >= 1.0;
    let started = Instant::now();
    cluster.nodes[n - 1]
        .client
        .flood(space, count, flood_rate)
        .await?;
    let watch = async {
        let mut at: Vec<Option<f64>> = vec![None; n - 1];
        while at.iter().any(Option::is_none) && started.elapsed() < GRAYLIST_TIMEOUT {
            for &i in &honest {
                if at[i].is_none() {
                    let text = cluster.nodes[i].client.metrics().await.unwrap_or_default();
                    if graylisted(&text) {
                        at[i] = Some(ms(started.elapsed()));
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        at
    };
    let (flooded, graylisted_ms) = tokio::join!(
        post_and_watch_spaces(cluster, &spaces, plan(load), load),
        watch
    );
    let flooded = flooded?;
    let mut rejected = Vec::new();
    for &i in &honest {
        rejected.push(cluster.nodes[i].client.status().await?.rejected_changes);
    }
    Ok(Flood {
        nodes: n,
        honest_rate: opts.rate,
        flood_rate,
        quiet: Dist::of(&quiet.latencies),
        flooded: Dist::of(&flooded.latencies),
        lost: (quiet.lost, flooded.lost),
        graylisted_ms,
        rejected,
    })
}

/// B11's cluster size.
const INVOCATION_NODES: usize = 3;
/// How long one B11 request may take before it counts as lost.
const INVOCATION_TIMEOUT: Duration = Duration::from_secs(10);
/// The ability B11 invokes.
const ECHO: &str = "bench.echo";

/// B11 for the whole run: the legs of each request (ms) and what was lost.
#[derive(Debug, Clone, Serialize)]
pub struct Invocation {
    /// Nodes.
    pub nodes: usize,
    /// Requests per run.
    pub requests: usize,
    /// Request made (the requester's `POST` sent) → the result seen on the requester's node's
    /// event stream.
    pub total: Legs,
    /// Request made → the request seen on the provider's node's event stream.
    pub to_provider: Legs,
    /// The provider's result, which claims the request in the same write (one acknowledged
    /// write of two changes on its node).
    pub provider: Legs,
    /// The provider's result acknowledged → seen on the requester's node's event stream.
    pub to_requester: Legs,
    /// `GET /v1/abilities/search` on the requester's node.
    pub search: Legs,
    /// Requests whose result never arrived within the timeout (all runs).
    pub lost: usize,
}

/// p50 and p99 of one leg, over runs.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Legs {
    /// Median over runs of each run's p50.
    pub p50: Spread,
    /// Median over runs of each run's p99.
    pub p99: Spread,
}

impl Legs {
    fn of(runs: &[Dist]) -> Self {
        Self {
            p50: Spread::of(runs.iter().map(|d| d.p50)),
            p99: Spread::of(runs.iter().map(|d| d.p99)),
        }
    }
}

/// One B11 run's samples (ms), per leg.
#[derive(Default)]
struct InvocationRun {
    total: Vec<f64>,
    to_provider: Vec<f64>,
    provider: Vec<f64>,
    to_requester: Vec<f64>,
    search: Vec<f64>,
    lost: usize,
}

/// B11: node 1's timite declares an ability that does no work; node 3's asks for it, one
/// request at a time, and waits for the result on its own node's event stream. The provider
/// is a client of node 1 that claims and answers each request addressed to it as soon as its
/// node's event stream shows it: what any provider (an agent, a script) does.
async fn invocation(exe: &Path, opts: &Options, say: Say<'_>) -> Result<Invocation> {
    let n = INVOCATION_NODES;
    let mut runs = Vec::new();
    for run in 1..=opts.runs {
        say(&format!(
            "B11 invocation, {n} nodes, run {run}/{}",
            opts.runs
        ));
        let (mut cluster, space) = cluster_with_space(exe, n, NODE_ARGS).await?;
        let result = invocation_on(&cluster, space, opts.messages).await;
        cluster.stop().await;
        runs.push(result?);
    }
    let legs = |f: fn(&InvocationRun) -> &Vec<f64>| {
        Legs::of(&runs.iter().map(|r| Dist::of(f(r))).collect::<Vec<_>>())
    };
    Ok(Invocation {
        nodes: n,
        requests: opts.messages,
        total: legs(|r| &r.total),
        to_provider: legs(|r| &r.to_provider),
        provider: legs(|r| &r.provider),
        to_requester: legs(|r| &r.to_requester),
        search: legs(|r| &r.search),
        lost: runs.iter().map(|r| r.lost).sum(),
    })
}

async fn invocation_on(
    cluster: &Cluster,
    space: SpaceId,
    requests: usize,
) -> Result<InvocationRun> {
    use futures::StreamExt;
    use tim_client::provider::{self, Served};
    use tim_protocol::api::{AbilityRequest, SpaceEvent};

    let provider = &cluster.nodes[0].client;
    let requester = &cluster.nodes[cluster.nodes.len() - 1].client;
    let provider_did = provider.me().await?.did;
    let declaration = serde_json::from_value(serde_json::json!({
        "description": "answers with its input, doing no work",
        "input_schema": {"type": "object"},
        "output_schema": {"type": "object"},
    }))?;
    provider.declare_ability(space, ECHO, &declaration).await?;
    let seen_at_requester = Instant::now();
    while requester.abilities(space).await?.is_empty() {
        if seen_at_requester.elapsed() > CONVERGE_TIMEOUT {
            bail!("the requester's node never saw the declaration");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // The provider: claims and answers every request addressed to it, at once.
    // One report per request at most: the requester asks one at a time, each once.
    let (served_tx, mut served) = tokio::sync::mpsc::channel::<Served>(requests.max(1));
    let serving = {
        let provider = provider.clone();
        tokio::spawn(async move {
            let echo = |r: AbilityRequest| async move { Ok(r.input) };
            let report = |s: Served| {
                let _ = served_tx.try_send(s);
            };
            provider::serve(&provider, space, provider_did, echo, report).await
        })
    };

    // The requester: one request at a time, each until its result shows on its own node.
    let mut requester_events = Box::pin(requester.events(space).await?);
    let mut run = InvocationRun::default();
    for i in 0..requests {
        let t = Instant::now();
        let query = tim_protocol::api::AbilitySearchQuery {
            q: ECHO.into(),
            ..Default::default()
        };
        requester.search_abilities(&query).await?;
        run.search.push(ms(t.elapsed()));
        let ask = serde_json::from_value(serde_json::json!({
            "ability": ECHO,
            "input": {"i": i},
            "to": provider_did,
            "timeout_secs": INVOCATION_TIMEOUT.as_secs(),
        }))?;
        let asked = Instant::now();
        let made = requester.request_ability(space, &ask).await?;
        let completed = tokio::time::timeout(INVOCATION_TIMEOUT, async {
            while let Some(event) = requester_events.next().await {
                if let Ok(SpaceEvent::RequestCompleted { request, .. }) = event {
                    if request.id == made.id {
                        return Some(Instant::now());
                    }
                }
            }
            None
        })
        .await;
        let Ok(Some(done)) = completed else {
            run.lost += 1;
            continue;
        };
        run.total.push(ms(done - asked));
        // The provider's side reports this request once its result is acknowledged, which may
        // be just after the result shows here (its node publishes once the result is on disk,
        // then answers).
        while let Ok(Some(s)) = tokio::time::timeout(INVOCATION_TIMEOUT, served.recv()).await {
            if s.request.id == made.id {
                run.to_provider.push(ms(s.seen - asked));
                run.provider.push(ms(s.answered - s.seen));
                run.to_requester
                    .push(ms(done.saturating_duration_since(s.answered)));
                break;
            }
        }
    }
    serving.abort();
    Ok(run)
}

/// B1m's hosts per space: its creator and the next two nodes round the ring.
const B1M_HOSTS: usize = 3;
/// Seed of B1m's choice of space and poster for each message.
const B1M_SEED: u64 = 0x0071_53b1;
/// Concurrent space creations or joins while B1m sets up.
const B1M_SETUP_CONCURRENCY: usize = 8;

/// The hosts of each of `spaces` spaces on `nodes` nodes (0-based): space `s` is created on
/// node `s % nodes` and joined by the next `hosts - 1` nodes round the ring.
fn spread(spaces: usize, nodes: usize, hosts: usize) -> Vec<Vec<usize>> {
    let hosts = hosts.min(nodes);
    (0..spaces)
        .map(|s| (0..hosts).map(|k| (s + k) % nodes).collect())
        .collect()
}

/// B1m: `opts.b1m_spaces` spaces spread over `opts.b1m_nodes` nodes, each on
/// [`B1M_HOSTS`] of them; then `opts.b1m_messages` messages at `opts.rate`, each into a random
/// space (seeded) from a random host of it, timed on the event streams of its other hosts.
async fn many_spaces(exe: &Path, opts: &Options, say: Say<'_>) -> Result<ManySpaces> {
    let (n, count) = (opts.b1m_nodes, opts.b1m_spaces);
    if n < 2 || count == 0 {
        bail!("B1m needs at least 2 nodes and 1 space (--b1m-nodes {n}, --b1m-spaces {count})");
    }
    say(&format!("B1m: starting {n} nodes"));
    let mut cluster = Cluster::start_with(exe, n, None, None, NODE_ARGS).await?;
    let result = many_spaces_on(&cluster, opts, say).await;
    cluster.stop().await;
    result
}

async fn many_spaces_on(cluster: &Cluster, opts: &Options, say: Say<'_>) -> Result<ManySpaces> {
    use futures::{StreamExt, TryStreamExt};
    let (n, count) = (cluster.nodes.len(), opts.b1m_spaces);
    let hosts = spread(count, n, B1M_HOSTS);
    let started = Instant::now();
    say(&format!("B1m: creating {count} spaces on {n} nodes"));
    let ids: Vec<SpaceId> = futures::stream::iter(hosts.iter().enumerate())
        .map(|(s, on)| async move {
            let node = &cluster.nodes[on[0]];
            let space = node.client.create_space(&format!("b1m {s}"), "").await?;
            anyhow::Ok(space.id)
        })
        .buffered(B1M_SETUP_CONCURRENCY)
        .try_collect()
        .await?;
    say(&format!(
        "B1m: joining each space on {} more nodes",
        hosts[0].len() - 1
    ));
    let joins = ids.iter().zip(&hosts).flat_map(|(&space, on)| {
        let via = cluster.nodes[on[0]].listen[..1].to_vec();
        on[1..].iter().map(move |&i| {
            let via = via.clone();
            async move {
                cluster.nodes[i].client.join(space, via, vec![]).await?;
                anyhow::Ok(())
            }
        })
    });
    futures::stream::iter(joins)
        .buffer_unordered(B1M_SETUP_CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await?;
    // Every host of every space holds the same heads (the joins included).
    let mut pending: Vec<usize> = (0..count).collect();
    while !pending.is_empty() {
        let mut still = Vec::new();
        for s in pending {
            let mut heads = Vec::new();
            for &i in &hosts[s] {
                heads.push(
                    cluster.nodes[i]
                        .client
                        .space(ids[s])
                        .await
                        .ok()
                        .map(|x| x.heads),
                );
            }
            if heads.iter().any(Option::is_none) || heads.windows(2).any(|w| w[0] != w[1]) {
                still.push(s);
            }
        }
        pending = still;
        if pending.is_empty() {
            break;
        }
        if started.elapsed() > CONVERGE_TIMEOUT + Duration::from_secs(count as u64) {
            bail!(
                "{} of {count} spaces still differ between their hosts {:.0} s after the \
                 start (the first: space {} on nodes {:?})",
                pending.len(),
                started.elapsed().as_secs_f64(),
                ids[pending[0]],
                hosts[pending[0]].iter().map(|i| i + 1).collect::<Vec<_>>()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let watched: Vec<(SpaceId, Vec<usize>)> = ids.iter().copied().zip(hosts.clone()).collect();
    say(&format!("B1m: waiting for {count} gossipsub meshes"));
    cluster
        .wait_meshes(
            &watched,
            (hosts[0].len() - 1).min(MESH_N_LOW),
            mesh_timeout(n) + Duration::from_secs(count as u64 / 5),
        )
        .await?;
    let setup_s = started.elapsed().as_secs_f64();

    let mut rng = Rng(B1M_SEED);
    let plan: Vec<(usize, usize)> = (0..opts.b1m_messages)
        .map(|_| {
            let s = rng.below(count);
            (s, hosts[s][rng.below(hosts[s].len())])
        })
        .collect();
    say(&format!(
        "B1m: {} messages at {}/s into {count} spaces",
        plan.len(),
        opts.rate
    ));
    let before = wire(cluster).await?;
    let load = Load {
        count: plan.len(),
        rate: opts.rate,
        writers: 1,
        posters: n,
        deliver_within: DELIVERY_TIMEOUT,
    };
    let delivered = post_and_watch_spaces(cluster, &watched, plan.clone(), load).await?;
    let after = wire(cluster).await?;
    let got = delivered.latencies.len().max(1) as f64;
    let mut spaces_per_node = vec![0; n];
    for on in &hosts {
        for &i in on {
            spaces_per_node[i] += 1;
        }
    }
    Ok(ManySpaces {
        nodes: n,
        spaces: count,
        hosts_per_space: hosts[0].len(),
        spaces_per_node,
        setup_s,
        messages: delivered.posted,
        rate: opts.rate,
        achieved: delivered.achieved,
        deliveries: plan.iter().map(|&(s, _)| hosts[s].len() - 1).sum(),
        latency: Dist::of(&delivered.latencies),
        lost: delivered.lost,
        bytes_per_delivery: (after.bytes_in - before.bytes_in) / got,
        gossip_per_delivery: (after.gossip_unfiltered - before.gossip_unfiltered) / got,
        rss_mb: cluster
            .nodes
            .iter()
            .map(|node| node.pid().map_or(0.0, rss_mb))
            .collect(),
        samples: delivered.latencies,
    })
}

/// B3: raise the rate until p99 > 1 s or a delivery is lost.
async fn saturation(exe: &Path, say: Say<'_>) -> Result<Saturation> {
    const NODES: usize = 3;
    const STEP: Duration = Duration::from_secs(3);
    let (mut cluster, space) = cluster_with_space(exe, NODES, NODE_ARGS).await?;
    cluster
        .wait_mesh(space, (NODES - 1).min(MESH_N_LOW), MESH_TIMEOUT)
        .await?;
    let mut steps = Vec::new();
    let mut sustained: f64 = 0.0;
    let mut rate = 100.0;
    let result: Result<()> = async {
        loop {
            say(&format!("B3 {rate:.0} messages/s"));
            let pids: Vec<u32> = cluster.nodes.iter().filter_map(|n| n.pid()).collect();
            let cpu0: Vec<Duration> = pids
                .iter()
                .map(|p| cpu_time(*p).unwrap_or_default())
                .collect();
            let t0 = Instant::now();
            let load = Load {
                count: (rate * STEP.as_secs_f64()) as usize,
                rate,
                writers: writers_for(rate),
                posters: NODES,
                deliver_within: DELIVERY_TIMEOUT,
            };
            let Delivered {
                latencies: lat,
                lost,
                achieved,
                ..
            } = post_and_watch(&cluster, space, load).await?;
            let wall = t0.elapsed().as_secs_f64();
            let cpu = pids
                .iter()
                .zip(&cpu0)
                .map(|(p, c0)| {
                    let used = cpu_time(*p).unwrap_or_default().saturating_sub(*c0);
                    100.0 * used.as_secs_f64() / wall
                })
                .collect();
            let rss = pids.iter().map(|p| rss_mb(*p)).collect();
            let latency = Dist::of(&lat);
            let ok = lost == 0 && latency.p99 <= 1000.0;
            if ok {
                sustained = sustained.max(achieved);
            }
            steps.push(RateStep {
                target: rate,
                achieved,
                latency,
                lost,
                cpu,
                rss_mb: rss,
            });
            // Stop when it breaks, or when asking more no longer gives more.
            if !ok || achieved < 0.8 * rate || rate >= 12_800.0 {
                break;
            }
            rate *= 2.0;
        }
        Ok(())
    }
    .await;
    cluster.stop().await;
    result?;
    Ok(Saturation {
        nodes: NODES,
        steps,
        sustained,
    })
}

/// How long B4's joiner may take to get every message.
const CATCH_UP_LIMIT: Duration = Duration::from_secs(300);

/// B3i, B4 and (for the biggest) B6.
async fn late_join(
    exe: &Path,
    space: SpaceId,
    envelopes: &[Envelope],
    messages: usize,
    biggest: bool,
    runs: usize,
    say: Say<'_>,
) -> Result<LateJoin> {
    let bundle = ExportBundle {
        space,
        envelopes: envelopes.to_vec(),
    }
    .encode();
    let change_bytes: u64 = envelopes.iter().map(|e| e.change.len() as u64).sum();
    let (mut import, mut ingest, mut join, mut bytes, mut trips) =
        (vec![], vec![], vec![], vec![], vec![]);
    let (mut restart, mut restart_rss) = (vec![], vec![]);
    for run in 1..=runs {
        say(&format!("B4 {messages} messages, run {run}/{runs}"));
        let mut cluster = Cluster::start_with(exe, 2, None, None, NODE_ARGS).await?;
        let result: Result<()> = async {
            let (host, joiner) = (&cluster.nodes[0], &cluster.nodes[1]);
            let t = Instant::now();
            let imported = host.client.import(bundle.clone()).await?;
            let took = t.elapsed();
            if imported.applied != envelopes.len() {
                bail!(
                    "imported {} of {} changes",
                    imported.applied,
                    envelopes.len()
                );
            }
            import.push(ms(took));
            ingest.push(envelopes.len() as f64 / took.as_secs_f64());
            let before = joiner.client.metrics().await?;
            let t = Instant::now();
            joiner
                .client
                .join(space, host.listen[..1].to_vec(), vec![])
                .await?;
            // The join answers once the joiner is a member, which may be before the last sync
            // round: converged means every message is there.
            loop {
                if joiner
                    .client
                    .space(space)
                    .await
                    .is_ok_and(|s| s.messages == messages)
                {
                    break;
                }
                if t.elapsed() > CATCH_UP_LIMIT {
                    bail!(
                        "the joiner did not get all {messages} messages within {} s",
                        CATCH_UP_LIMIT.as_secs()
                    );
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            join.push(ms(t.elapsed()));
            let after = joiner.client.metrics().await?;
            let delta = |name: &str, filter: &str| {
                metric(&after, name, filter) - metric(&before, name, filter)
            };
            bytes.push(delta("libp2p_bandwidth_bytes_total", "Inbound"));
            trips.push(delta("tim_sync_requests_sent_total", ""));
            Ok(())
        }
        .await;
        if result.is_ok() && biggest {
            say(&format!(
                "B6 restart with {messages} messages, run {run}/{runs}"
            ));
            cluster.stop_node(1, Duration::from_secs(120)).await;
            let t = Instant::now();
            cluster.restart(1).await?;
            let node = &cluster.nodes[1];
            // Loaded and served: the space's summary counts every message. (Reading the whole
            // timeline back as one JSON answer is an API cost of its own, not loading.)
            loop {
                if let Ok(summary) = node.client.space(space).await {
                    if summary.messages == messages {
                        break;
                    }
                }
                if t.elapsed() > Duration::from_secs(120) {
                    bail!("the restarted node did not load its space in 120 s");
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            restart.push(ms(t.elapsed()));
            restart_rss.push(node.pid().map_or(0.0, rss_mb));
        }
        cluster.stop().await;
        result?;
    }
    Ok(LateJoin {
        messages,
        changes: envelopes.len(),
        change_bytes,
        import_ms: Spread::of(import),
        ingest_per_sec: Spread::of(ingest),
        join_ms: Spread::of(join),
        join_bytes: Spread::of(bytes),
        round_trips: Spread::of(trips),
        restart_ms: biggest.then(|| Spread::of(restart)),
        restart_rss_mb: biggest.then(|| Spread::of(restart_rss)),
    })
}

/// B9's probes: messages posted on node 1, spaced like B1's.
const B9_PROBES: usize = 80;
/// B9's probe rate (messages/s).
const B9_PROBE_RATE: f64 = 20.0;
/// How long after B9's last post a delivery may take before it counts as lost: long, since
/// lag in a big space is what B9 measures.
const B9_DELIVERY_TIMEOUT: Duration = Duration::from_secs(60);

/// B9 for a space of `messages` messages (the first `messages + 4` of `envelopes`): imported
/// into node 1 of 3; nodes 2 and 3 join and catch up; then probes, then a sustained fill, all
/// posted on node 1 and timed on the event streams of nodes 2 and 3.
async fn live_path(
    exe: &Path,
    space: SpaceId,
    envelopes: &[Envelope],
    messages: usize,
    opts: &Options,
    say: Say<'_>,
) -> Result<LivePath> {
    say(&format!("B9 {messages} messages: import into node 1"));
    let mut cluster = Cluster::start_with(exe, 3, None, None, NODE_ARGS).await?;
    let result = live_path_on(&cluster, space, envelopes, messages, opts, say).await;
    cluster.stop().await;
    result
}

async fn live_path_on(
    cluster: &Cluster,
    space: SpaceId,
    envelopes: &[Envelope],
    messages: usize,
    opts: &Options,
    say: Say<'_>,
) -> Result<LivePath> {
    let host = &cluster.nodes[0];
    let bundle = ExportBundle {
        space,
        envelopes: envelopes.to_vec(),
    }
    .encode();
    let t = Instant::now();
    let imported = host.client.import(bundle).await?;
    let import_ms = ms(t.elapsed());
    if imported.applied != envelopes.len() {
        bail!(
            "node 1 imported {} of {} changes",
            imported.applied,
            envelopes.len()
        );
    }
    // Node 1's own timite becomes a member, so that it may post: at once, the history is here.
    host.client.join(space, vec![], vec![]).await?;

    say(&format!("B9 {messages} messages: nodes 2 and 3 join"));
    let via = host.listen[..1].to_vec();
    let joins = cluster.nodes[1..].iter().map(|node| {
        let via = via.clone();
        async move {
            let t = Instant::now();
            node.client.join(space, via, vec![]).await?;
            // The join answers once the node is a member, possibly before the last sync round.
            while node.client.space(space).await?.messages < messages {
                if t.elapsed() > CATCH_UP_LIMIT {
                    bail!(
                        "node {} did not get all {messages} messages within {} s of joining",
                        node.index,
                        CATCH_UP_LIMIT.as_secs()
                    );
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Ok(ms(t.elapsed()))
        }
    });
    let join_ms = futures::future::try_join_all(joins).await?;
    // Every node has every change (the joins included): the probes start from a settled space.
    let t = Instant::now();
    loop {
        let mut heads = Vec::new();
        for node in &cluster.nodes {
            heads.push(node.client.space(space).await?.heads);
        }
        if heads.windows(2).all(|w| w[0] == w[1]) {
            break;
        }
        if t.elapsed() > CONVERGE_TIMEOUT {
            bail!(
                "the 3 nodes' heads still differ {} s after the joins",
                CONVERGE_TIMEOUT.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cluster.wait_mesh(space, 2, MESH_TIMEOUT).await?;

    say(&format!(
        "B9 {messages} messages: {B9_PROBES} probes at {B9_PROBE_RATE}/s"
    ));
    let probes = post_and_watch(
        cluster,
        space,
        Load {
            count: B9_PROBES,
            rate: B9_PROBE_RATE,
            writers: 1,
            posters: 1,
            deliver_within: B9_DELIVERY_TIMEOUT,
        },
    )
    .await?;

    say(&format!(
        "B9 {messages} messages: fill at {}/s for {} s",
        opts.b9_rate, opts.b9_seconds
    ));
    let fill = post_and_watch(
        cluster,
        space,
        Load {
            count: (opts.b9_rate * opts.b9_seconds).round().max(1.0) as usize,
            rate: opts.b9_rate,
            writers: writers_for(opts.b9_rate),
            posters: 1,
            deliver_within: B9_DELIVERY_TIMEOUT,
        },
    )
    .await?;
    let expected = messages + probes.posted + fill.posted;
    let mut missing = 0;
    for node in &cluster.nodes[1..] {
        missing += expected.saturating_sub(node.client.space(space).await?.messages);
    }
    Ok(LivePath {
        messages,
        import_ms,
        join_ms,
        ack: Dist::of(&probes.acks),
        propagation: Dist::of(&probes.latencies),
        probe_lost: probes.lost,
        fill_target: opts.b9_rate,
        fill_achieved: fill.achieved,
        fill_posted: fill.posted,
        fill_ack: Dist::of(&fill.acks),
        fill_lag: Dist::of(&fill.latencies),
        fill_lost: fill.lost,
        missing,
        rss_mb: cluster
            .nodes
            .iter()
            .map(|n| n.pid().map_or(0.0, rss_mb))
            .collect(),
    })
}

/// B7: 16 concurrent posters on one node, per flush mode.
async fn durability(exe: &Path, runs: usize, say: Say<'_>) -> Result<Vec<Durability>> {
    const CLIENTS: usize = 16;
    const EACH: usize = 100;
    let mut out = Vec::new();
    for mode in ["group", "each"] {
        let mut rates = Vec::new();
        let mut latency = Dist::default();
        for run in 1..=runs {
            say(&format!("B7 flush {mode}, run {run}/{runs}"));
            let args = [NODE_ARGS, &["--flush", mode]].concat();
            let mut cluster = Cluster::start_with(exe, 1, None, None, &args).await?;
            let client = cluster.nodes[0].client.clone();
            let result: Result<(f64, Vec<f64>)> = async {
                let space = client.create_space("durable", "").await?.id;
                let t = Instant::now();
                let tasks: Vec<_> = (0..CLIENTS)
                    .map(|c| {
                        let client = client.clone();
                        tokio::spawn(async move {
                            let mut lat = Vec::with_capacity(EACH);
                            for i in 0..EACH {
                                let t0 = Instant::now();
                                client.post_message(space, &format!("{c}/{i}")).await?;
                                lat.push(ms(t0.elapsed()));
                            }
                            anyhow::Ok(lat)
                        })
                    })
                    .collect();
                let mut all = Vec::new();
                for task in tasks {
                    all.extend(task.await??);
                }
                Ok(((CLIENTS * EACH) as f64 / t.elapsed().as_secs_f64(), all))
            }
            .await;
            cluster.stop().await;
            let (rate, lat) = result?;
            rates.push(rate);
            latency = Dist::of(&lat);
        }
        out.push(Durability {
            mode: mode.to_string(),
            clients: CLIENTS,
            per_sec: Spread::of(rates),
            latency,
        });
    }
    Ok(out)
}

/// Scale: `count` spaces on one node.
async fn scale(exe: &Path, count: usize, say: Say<'_>) -> Result<Scale> {
    say(&format!("scale: {count} spaces on one node"));
    let mut cluster = Cluster::start_with(exe, 1, None, None, NODE_ARGS).await?;
    let result: Result<Scale> = async {
        let client = cluster.nodes[0].client.clone();
        let t = Instant::now();
        // A few concurrent creators, as several people would.
        let creators: Vec<_> = (0..4)
            .map(|w| {
                let client = client.clone();
                tokio::spawn(async move {
                    for i in (w..count).step_by(4) {
                        client.create_space(&format!("space {i}"), "").await?;
                    }
                    anyhow::Ok(())
                })
            })
            .collect();
        for c in creators {
            c.await??;
        }
        let create_s = t.elapsed().as_secs_f64();
        let rss = cluster.nodes[0].pid().map_or(0.0, rss_mb);
        cluster.stop().await;
        let t = Instant::now();
        cluster.restart(0).await?;
        let node = &cluster.nodes[0];
        while node.client.spaces().await.map_or(0, |s| s.len()) < count {
            if t.elapsed() > Duration::from_secs(300) {
                bail!("the node did not list {count} spaces within 300 s of a restart");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(Scale {
            spaces: count,
            create_s,
            rss_mb: rss,
            startup_ms: ms(t.elapsed()),
            restart_rss_mb: node.pid().map_or(0.0, rss_mb),
        })
    }
    .await;
    cluster.stop().await;
    result
}

fn machine(exe: &Path) -> Machine {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown".into());
    let memory_gib = read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    // This process's own build when it measures itself (the usual case); otherwise, a guess
    // from the path (`target/release/tim`).
    let own = std::env::current_exe().is_ok_and(|e| e == exe);
    let release = if own {
        !cfg!(debug_assertions)
    } else {
        exe.components().any(|c| c.as_os_str() == "release")
    };
    let profile = if release {
        "release"
    } else {
        "debug build: figures are not representative"
    };
    Machine {
        cpu,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        memory_gib,
        kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
        tim: format!(
            "{} {} ({profile})",
            exe.display(),
            env!("CARGO_PKG_VERSION")
        ),
        date,
    }
}

/// Runs one scenario; a failure is recorded and the bench goes on.
async fn attempt<T>(
    errors: &mut Vec<String>,
    what: &str,
    scenario: impl std::future::Future<Output = Result<T>>,
) -> Option<T> {
    match scenario.await {
        Ok(v) => Some(v),
        Err(e) => {
            errors.push(format!("{what}: {e:#}"));
            None
        }
    }
}

/// Runs the benchmarks on nodes that run `exe`; `in_process` makes what the bench builds or
/// measures without nodes (the signed space, B5, B8).
pub async fn run(
    exe: &Path,
    opts: &Options,
    in_process: Arc<dyn micro::InProcess>,
    say: Say<'_>,
) -> Result<Results> {
    let mut r = Results {
        machine: machine(exe),
        runs: opts.runs,
        propagation: Vec::new(),
        many_spaces: None,
        saturation: None,
        late_join: Vec::new(),
        automerge: None,
        durability: Vec::new(),
        crypto: None,
        scale: Vec::new(),
        live_path: Vec::new(),
        flood: None,
        invocation: None,
        page: Vec::new(),
        goals: Vec::new(),
        errors: Vec::new(),
    };
    let nodes: &[usize] = if opts.runs(Scenario::B1) {
        &opts.nodes
    } else {
        &[]
    };
    for &n in nodes {
        let what = format!("B1 {n} nodes");
        if let Some(p) = attempt(&mut r.errors, &what, propagation(exe, n, opts, say)).await {
            r.propagation.push(p);
        }
    }
    if opts.runs(Scenario::B1m) {
        r.many_spaces = attempt(&mut r.errors, "B1m", many_spaces(exe, opts, say)).await;
    }
    if opts.runs(Scenario::B3) {
        r.saturation = attempt(&mut r.errors, "B3", saturation(exe, say)).await;
    }
    let late: &[usize] = if opts.runs(Scenario::B4) {
        &opts.late
    } else {
        &[]
    };
    let live: &[usize] = if opts.runs(Scenario::B9) {
        &opts.b9
    } else {
        &[]
    };
    // One signed space serves B4 and B9: its first changes, in order, are a space of their own.
    if let Some(&biggest) = late.iter().chain(live).max() {
        say(&format!("signing a space of {biggest} messages"));
        let maker = in_process.clone();
        let (space, envelopes) = tokio::task::spawn_blocking(move || maker.signed_space(biggest))
            .await
            .context("signing panicked")??;
        let prefix = |m: usize| &envelopes[..m + 4];
        if let Some(&biggest) = late.iter().max() {
            for &m in late {
                let what = format!("B4 {m} messages");
                let l = late_join(exe, space, prefix(m), m, m == biggest, opts.runs, say);
                if let Some(l) = attempt(&mut r.errors, &what, l).await {
                    r.late_join.push(l);
                }
            }
            say(&format!("B5 bare Automerge, {biggest} messages"));
            let measurer = in_process.clone();
            let baseline = async {
                tokio::task::spawn_blocking(move || measurer.automerge_baseline(biggest)).await?
            };
            r.automerge = attempt(&mut r.errors, "B5", baseline).await;
        }
        for &m in live {
            let what = format!("B9 {m} messages");
            let l = live_path(exe, space, prefix(m), m, opts, say);
            if let Some(l) = attempt(&mut r.errors, &what, l).await {
                r.live_path.push(l);
            }
        }
    }
    if opts.runs(Scenario::Flood) {
        r.flood = attempt(&mut r.errors, "B10", flood(exe, opts, say)).await;
    }
    if opts.runs(Scenario::Invocation) {
        r.invocation = attempt(&mut r.errors, "B11", invocation(exe, opts, say)).await;
    }
    if opts.runs(Scenario::Page) {
        let sizes = &opts.page;
        r.page = crate::page_bench::run(
            exe,
            sizes,
            opts.runs,
            in_process.clone(),
            &mut r.errors,
            say,
        )
        .await;
    }
    if opts.runs(Scenario::B7) {
        r.durability = attempt(&mut r.errors, "B7", durability(exe, opts.runs, say))
            .await
            .unwrap_or_default();
    }
    if opts.runs(Scenario::B8) {
        say("B8 crypto");
        r.crypto = attempt(
            &mut r.errors,
            "B8",
            in_process.crypto(Duration::from_secs(5)),
        )
        .await;
    }
    let spaces: &[usize] = if opts.runs(Scenario::Scale) {
        &opts.spaces
    } else {
        &[]
    };
    for &count in spaces {
        let what = format!("scale {count} spaces");
        if let Some(s) = attempt(&mut r.errors, &what, scale(exe, count, say)).await {
            r.scale.push(s);
        }
    }
    r.goals = goals(&r);
    Ok(r)
}

fn goals(r: &Results) -> Vec<Goal> {
    let mut g = Vec::new();
    let mut goal = |scenario: &str, goal: &str, measured: String, met: bool| {
        g.push(Goal {
            scenario: scenario.into(),
            goal: goal.into(),
            measured,
            met,
        });
    };
    // The goal is at 10 nodes: that size if it ran, else the biggest.
    let at_ten = r.propagation.iter().find(|p| p.nodes == 10);
    if let Some(p) = at_ten.or_else(|| r.propagation.iter().max_by_key(|p| p.nodes)) {
        goal(
            "B1",
            &format!(
                "p50 < 2 ms, p99 < 5 ms across 10 nodes (measured with {})",
                p.nodes
            ),
            format!("p50 {}, p99 {}", p.p50.show("ms"), p.p99.show("ms")),
            p.nodes >= 10 && p.p50.median < 2.0 && p.p99.median < 5.0,
        );
    }
    if let Some(l) = r.late_join.iter().max_by_key(|l| l.messages) {
        goal(
            "B3",
            ">= 20k verified, authorized, applied, stored changes/s on one node",
            format!(
                "{} changes/s (import of {})",
                l.ingest_per_sec.show(""),
                l.changes
            ),
            l.ingest_per_sec.median >= 20_000.0,
        );
        goal(
            "B4",
            &format!(
                "100k missing messages in < 1 s (measured with {})",
                l.messages
            ),
            l.join_ms.show("ms"),
            l.messages >= 100_000 && l.join_ms.median < 1000.0,
        );
        let ratio = l.join_bytes.median / l.change_bytes as f64;
        goal(
            "B4",
            "<= 1.2x the bytes of the changes",
            format!(
                "{ratio:.2}x ({} of {} bytes)",
                num(l.join_bytes.median),
                l.change_bytes
            ),
            ratio <= 1.2,
        );
        goal(
            "B4",
            "<= 2 extra round trips",
            format!("{} round trips", l.round_trips.show("")),
            l.round_trips.median <= 3.0,
        );
        if let (Some(t), Some(m)) = (&l.restart_ms, &l.restart_rss_mb) {
            goal(
                "B6",
                &format!(
                    "a 100k-message space loads in < 0.5 s, < 100 MB RSS (measured with {})",
                    l.messages
                ),
                format!("{}, {}", t.show("ms"), m.show("MB")),
                l.messages >= 100_000 && t.median < 500.0 && m.median < 100.0,
            );
        }
    }
    if let Some(f) = &r.flood {
        let banned = f.graylisted_ms.iter().all(Option::is_some);
        let ratio = f.flooded.p99 / f.quiet.p99.max(f64::EPSILON);
        goal(
            "B10",
            "a flooder at 100x is graylisted; honest p99 within 2x of quiet",
            format!(
                "graylisted by {} of {} in {} ms; p99 {} ms vs {} ms quiet ({ratio:.2}x)",
                f.graylisted_ms.iter().flatten().count(),
                f.graylisted_ms.len(),
                num(f
                    .graylisted_ms
                    .iter()
                    .flatten()
                    .fold(0.0, |a: f64, b| a.max(*b))),
                num(f.flooded.p99),
                num(f.quiet.p99)
            ),
            banned && ratio <= 2.0,
        );
    }
    if let Some(i) = &r.invocation {
        goal(
            "B11",
            &format!(
                "invocation overhead across nodes p50 < 5 ms, p99 < 20 ms on 3 nodes (measured with {})",
                i.nodes
            ),
            format!("p50 {}, p99 {}", i.total.p50.show("ms"), i.total.p99.show("ms")),
            i.nodes == 3 && i.total.p50.median < 5.0 && i.total.p99.median < 20.0,
        );
        goal(
            "B11",
            "local ability search < 5 ms",
            format!(
                "p50 {}, p99 {}",
                i.search.p50.show("ms"),
                i.search.p99.show("ms")
            ),
            i.search.p99.median < 5.0,
        );
    }
    if let Some(s) = r.scale.iter().max_by_key(|s| s.spaces) {
        goal(
            "Scale",
            &format!(
                "10k spaces on one node in < 1 GB RSS (measured with {})",
                s.spaces
            ),
            format!("{:.0} MB", s.rss_mb.max(s.restart_rss_mb)),
            s.spaces >= 10_000 && s.rss_mb.max(s.restart_rss_mb) < 1024.0,
        );
    }
    g.extend(crate::page_bench::goals(&r.page));
    g
}

/// The results as terminal text.
pub fn table(r: &Results) -> String {
    let mut o = String::new();
    let m = &r.machine;
    o += &format!(
        "machine: {} ({} cores), {:.1} GiB, Linux {}; {}; {}; {} run(s) per setting\n",
        m.cpu, m.cores, m.memory_gib, m.kernel, m.tim, m.date, r.runs
    );
    if !r.propagation.is_empty() {
        o += "\nB1/B2 propagation (post -> applied on each other node; median over runs, range)\n";
        o += "  nodes  p50                  p99                  max                  lost  bytes/delivery  gossip msgs/delivery  dups/delivery\n";
    }
    for p in &r.propagation {
        o += &format!(
            "  {:<5}  {:<20} {:<20} {:<20} {:<5} {:<15} {:<21} {}\n",
            p.nodes,
            p.p50.show("ms"),
            p.p99.show("ms"),
            p.max.show("ms"),
            p.lost,
            p.bytes_per_delivery.show(""),
            p.gossip_per_delivery.show(""),
            p.duplicates_per_delivery.show("")
        );
    }
    if let Some(b) = &r.many_spaces {
        o += &format!(
            "\nB1m many spaces: {} spaces on {} nodes, each on {} (spaces per node: {}); set up in {:.1} s; one run\n",
            b.spaces,
            b.nodes,
            b.hosts_per_space,
            b.spaces_per_node
                .iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(" "),
            b.setup_s
        );
        o += "  messages  asked/s  achieved/s  deliveries  p50 ms   p99 ms   max ms   lost  bytes/delivery  gossip msgs/delivery  RSS MB per node\n";
        o += &format!(
            "  {:<9} {:<8} {:<11.1} {:<11} {:<8} {:<8} {:<8} {:<5} {:<15.0} {:<21.2} {}\n",
            b.messages,
            num(b.rate),
            b.achieved,
            b.deliveries,
            num(b.latency.p50),
            num(b.latency.p99),
            num(b.latency.max),
            b.lost,
            b.bytes_per_delivery,
            b.gossip_per_delivery,
            b.rss_mb
                .iter()
                .map(|m| format!("{m:.0}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    if let Some(s) = &r.saturation {
        o += &format!(
            "\nB3 saturation ({} nodes): sustained {:.0} messages/s (p99 <= 1 s, nothing lost)\n",
            s.nodes, s.sustained
        );
        o +=
            "  target/s  achieved/s  p50 ms   p99 ms   lost  CPU % per node      RSS MB per node\n";
        for st in &s.steps {
            o += &format!(
                "  {:<9.0} {:<11.0} {:<8} {:<8} {:<5} {:<19} {}\n",
                st.target,
                st.achieved,
                num(st.latency.p50),
                num(st.latency.p99),
                st.lost,
                st.cpu
                    .iter()
                    .map(|c| format!("{c:.0}"))
                    .collect::<Vec<_>>()
                    .join(" "),
                st.rss_mb
                    .iter()
                    .map(|c| format!("{c:.0}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
        }
    }
    if !r.late_join.is_empty() {
        o += "\nB3i ingest and B4 late joiner\n";
        o += "  messages  import (B3i)          changes/s              join (B4)            bytes in / change bytes  round trips\n";
        for l in &r.late_join {
            o += &format!(
                "  {:<9} {:<21} {:<22} {:<20} {:<24} {}\n",
                l.messages,
                l.import_ms.show("ms"),
                l.ingest_per_sec.show(""),
                l.join_ms.show("ms"),
                format!("{:.2}x", l.join_bytes.median / l.change_bytes as f64),
                l.round_trips.show("")
            );
        }
        for l in &r.late_join {
            if let (Some(t), Some(m)) = (&l.restart_ms, &l.restart_rss_mb) {
                o += &format!(
                    "B6 restart with {} messages: loaded in {}, RSS {}\n",
                    l.messages,
                    t.show("ms"),
                    m.show("MB")
                );
            }
        }
    }
    if let Some(a) = &r.automerge {
        o += &format!(
            "\nB5 bare Automerge, {} messages: build {:.0} ms, apply all at once {:.0} ms, load {:.0} ms, {} change bytes, {} saved bytes\n",
            a.messages, a.build_ms, a.apply_ms, a.load_ms, a.change_bytes, a.save_bytes
        );
        if let Some(l) = r.late_join.iter().find(|l| l.messages == a.messages) {
            o += &format!(
                "  Tim / Automerge: join {:.1}x, import {:.1}x",
                l.join_ms.median / a.apply_ms.max(0.001),
                l.import_ms.median / a.apply_ms.max(0.001)
            );
            if let Some(t) = &l.restart_ms {
                o += &format!(", restart {:.1}x load", t.median / a.load_ms.max(0.001));
            }
            o += "\n";
        }
    }
    if !r.durability.is_empty() {
        o += "\nB7 durability (16 concurrent posters, one node)\n";
        for d in &r.durability {
            o += &format!(
                "  flush {:<6} {} acknowledged posts/s, p50 {} ms, p99 {} ms\n",
                d.mode,
                d.per_sec.show(""),
                num(d.latency.p50),
                num(d.latency.p99)
            );
        }
    }
    if let Some(c) = &r.crypto {
        o += &format!(
            "\nB8 crypto per second: sign {:.0}, verify_strict {:.0}, did:key resolve {:.0}, envelope decode+verify {:.0}, credential verify {:.0}\n",
            c.sign_per_s, c.verify_strict_per_s, c.did_resolve_per_s, c.envelope_verify_per_s, c.credential_verify_per_s
        );
    }
    if !r.scale.is_empty() {
        o += "\nScale: spaces on one node\n";
        for s in &r.scale {
            o += &format!(
                "  {:<6} spaces: created in {:.1} s, RSS {:.0} MB; restart {:.0} ms, RSS {:.0} MB\n",
                s.spaces, s.create_s, s.rss_mb, s.startup_ms, s.restart_rss_mb
            );
        }
    }
    if !r.live_path.is_empty() {
        o += "\nB9 live path against space size (3 nodes: node 1 posts, nodes 2 and 3 follow; one run per size)\n";
        o += "  messages  import ms  joins ms (2, 3)     probes: ack p50/p99 ms  propagation p50/p99/max ms  lost\n";
        for l in &r.live_path {
            o += &format!(
                "  {:<9} {:<10} {:<19} {:<23} {:<27} {}\n",
                l.messages,
                num(l.import_ms),
                l.join_ms
                    .iter()
                    .map(|j| num(*j))
                    .collect::<Vec<_>>()
                    .join(", "),
                format!("{} / {}", num(l.ack.p50), num(l.ack.p99)),
                format!(
                    "{} / {} / {}",
                    num(l.propagation.p50),
                    num(l.propagation.p99),
                    num(l.propagation.max)
                ),
                l.probe_lost
            );
        }
        o += "  messages  fill: asked/s  achieved/s  ack p99 ms  lag p50/p99/max ms        lost  missing  RSS MB (1 2 3)\n";
        for l in &r.live_path {
            o += &format!(
                "  {:<9} {:<14} {:<11.0} {:<11} {:<25} {:<5} {:<8} {}\n",
                l.messages,
                num(l.fill_target),
                l.fill_achieved,
                num(l.fill_ack.p99),
                format!(
                    "{} / {} / {}",
                    num(l.fill_lag.p50),
                    num(l.fill_lag.p99),
                    num(l.fill_lag.max)
                ),
                l.fill_lost,
                l.missing,
                l.rss_mb
                    .iter()
                    .map(|m| format!("{m:.0}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
        }
    }
    if let Some(f) = &r.flood {
        o += &format!(
            "\nB10 flood ({} nodes: {} honest posting {}/s in all, 1 publishing invalid changes at {}/s)\n",
            f.nodes,
            f.nodes - 1,
            num(f.honest_rate),
            num(f.flood_rate)
        );
        o += "  phase    p50 ms   p99 ms   max ms   lost\n";
        for (phase, d, lost) in [
            ("quiet", &f.quiet, f.lost.0),
            ("flooded", &f.flooded, f.lost.1),
        ] {
            o += &format!(
                "  {:<8} {:<8} {:<8} {:<8} {}\n",
                phase,
                num(d.p50),
                num(d.p99),
                num(d.max),
                lost
            );
        }
        o += &format!(
            "  flooder banned after (ms, per honest node): {}; invalid changes judged: {}\n",
            f.graylisted_ms
                .iter()
                .map(|g| g.map_or("never".into(), num))
                .collect::<Vec<_>>()
                .join(", "),
            f.rejected
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if let Some(i) = &r.invocation {
        o += &format!(
            "\nB11 invocation ({} nodes; requester on node {}, provider on node 1; {} requests per run, one at a time; the provider does no work)\n",
            i.nodes, i.nodes, i.requests
        );
        o += "  leg                                   p50 ms            p99 ms\n";
        for (leg, p50, p99) in [
            ("request -> result seen (total)", &i.total.p50, &i.total.p99),
            (
                "request -> seen by the provider",
                &i.to_provider.p50,
                &i.to_provider.p99,
            ),
            (
                "provider answers (claim + result)",
                &i.provider.p50,
                &i.provider.p99,
            ),
            (
                "result answered -> seen by requester",
                &i.to_requester.p50,
                &i.to_requester.p99,
            ),
            (
                "local search (requester's node)",
                &i.search.p50,
                &i.search.p99,
            ),
        ] {
            o += &format!("  {:<37} {:<17} {}\n", leg, p50.show(""), p99.show(""));
        }
        o += &format!("  lost: {}\n", i.lost);
    }
    o += &crate::page_bench::table(&r.page);
    for e in &r.errors {
        o += &format!("\nFAILED {e}\n");
    }
    if !r.goals.is_empty() {
        o += "\nGoals\n";
    }
    for g in &r.goals {
        o += &format!(
            "  {} {:<6} {:<75} {}\n",
            if g.met { "met   " } else { "MISSED" },
            g.scenario,
            g.goal,
            g.measured
        );
    }
    o
}

/// Writes `report.md`, `results.json` and SVG charts into `dir`.
pub fn write_report(r: &Results, dir: &Path, command: &str) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::write(dir.join("results.json"), serde_json::to_vec_pretty(r)?)?;
    let mut charts_md = String::new();
    if !r.propagation.is_empty() {
        let series: Vec<(String, Vec<f64>)> = r
            .propagation
            .iter()
            .map(|p| (format!("{} nodes", p.nodes), p.samples.clone()))
            .collect();
        charts::cdf(
            &dir.join("b1-latency-cdf.svg"),
            "B1: post to applied on another node (last run)",
            "latency (ms)",
            &series,
        )?;
        let curve = |f: fn(&Propagation) -> f64| {
            r.propagation
                .iter()
                .map(|p| (p.nodes as f64, f(p)))
                .collect()
        };
        charts::lines(
            &dir.join("b1-scaling.svg"),
            "B1: latency against cluster size (median over runs)",
            "nodes",
            "ms",
            &[
                ("p50".into(), curve(|p| p.p50.median)),
                ("p99".into(), curve(|p| p.p99.median)),
                ("max".into(), curve(|p| p.max.median)),
            ],
            false,
        )?;
        charts_md += "![B1 latency CDF](b1-latency-cdf.svg)\n\n![B1 scaling](b1-scaling.svg)\n\n";
    }
    if let Some(b) = &r.many_spaces {
        charts::cdf(
            &dir.join("b1m-latency-cdf.svg"),
            &format!(
                "B1m: post to applied on another host ({} spaces on {} nodes)",
                b.spaces, b.nodes
            ),
            "latency (ms)",
            &[(format!("{} spaces", b.spaces), b.samples.clone())],
        )?;
        charts_md += "![B1m latency CDF](b1m-latency-cdf.svg)\n\n";
    }
    if let Some(s) = &r.saturation {
        let pts = |f: fn(&RateStep) -> f64| s.steps.iter().map(|st| (st.achieved, f(st))).collect();
        charts::lines(
            &dir.join("b3-saturation.svg"),
            "B3: propagation latency against posting rate",
            "achieved messages/s",
            "ms",
            &[
                ("p50".into(), pts(|st| st.latency.p50)),
                ("p99".into(), pts(|st| st.latency.p99)),
            ],
            true,
        )?;
        charts_md += "![B3 saturation](b3-saturation.svg)\n\n";
    }
    if !r.late_join.is_empty() {
        let pts = |f: fn(&LateJoin) -> f64| {
            r.late_join
                .iter()
                .map(|l| (l.messages as f64, f(l)))
                .collect()
        };
        let mut series = vec![
            ("join (B4)".to_string(), pts(|l| l.join_ms.median)),
            ("import (B3i)".to_string(), pts(|l| l.import_ms.median)),
        ];
        if let Some(a) = &r.automerge {
            series.push((
                "bare Automerge apply (B5)".to_string(),
                vec![(a.messages as f64, a.apply_ms)],
            ));
        }
        charts::lines(
            &dir.join("b4-late-join.svg"),
            "B4: late joiner against space size",
            "messages",
            "ms",
            &series,
            true,
        )?;
        charts_md += "![B4 late join](b4-late-join.svg)\n\n";
    }
    if !r.live_path.is_empty() {
        let pts = |f: fn(&LivePath) -> f64| {
            r.live_path
                .iter()
                .map(|l| (l.messages as f64, f(l)))
                .collect()
        };
        charts::lines(
            &dir.join("b9-live-path.svg"),
            "B9: live path against space size (3 nodes)",
            "messages already in the space",
            "ms",
            &[
                ("propagation p50".into(), pts(|l| l.propagation.p50)),
                ("propagation p99".into(), pts(|l| l.propagation.p99)),
                ("fill lag p99".into(), pts(|l| l.fill_lag.p99)),
                ("fill lag max".into(), pts(|l| l.fill_lag.max)),
            ],
            true,
        )?;
        charts_md += "![B9 live path](b9-live-path.svg)\n\n";
    }
    let mut md = format!(
        "# Tim benchmark report\n\nCommand: `{command}`\n\n```text\n{}```\n\n{charts_md}",
        table(r)
    );
    md += "Raw figures: [results.json](results.json).\n";
    std::fs::write(dir.join("report.md"), md)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_summed_by_name_and_label() {
        let text = "# TYPE libp2p_bandwidth_bytes counter\n\
            libp2p_bandwidth_bytes_total{protocols=\"/ip4/tcp\",direction=\"Inbound\"} 100\n\
            libp2p_bandwidth_bytes_total{protocols=\"/ip4/udp\",direction=\"Inbound\"} 20\n\
            libp2p_bandwidth_bytes_total{protocols=\"/ip4/tcp\",direction=\"Outbound\"} 7\n\
            tim_sync_requests_sent_total 3\n\
            # EOF\n";
        assert_eq!(
            metric(text, "libp2p_bandwidth_bytes_total", "Inbound"),
            120.0
        );
        assert_eq!(metric(text, "libp2p_bandwidth_bytes_total", ""), 127.0);
        assert_eq!(metric(text, "tim_sync_requests_sent_total", ""), 3.0);
        assert_eq!(metric(text, "absent_total", ""), 0.0);
    }

    #[test]
    fn scenarios_and_sizes_parse() {
        use Scenario::*;
        let parsed: Vec<Scenario> = [
            "b1", "B2", "b1m", "b3", "b3i", "b6", "b7", "b8", "b9", "b10", "flood", "b11",
            "invoke", "scale",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        assert_eq!(
            parsed,
            [B1, B1, B1m, B3, B4, B4, B7, B8, B9, Flood, Flood, Invocation, Invocation, Scale]
        );
        assert!("b13".parse::<Scenario>().unwrap_err().contains("b13"));
        assert_eq!(parse_sizes("0,10000, 50_000").unwrap(), [0, 10_000, 50_000]);
        assert_eq!(parse_sizes("none").unwrap(), Vec::<usize>::new());
        assert_eq!(parse_sizes("").unwrap(), Vec::<usize>::new());
        assert!(parse_sizes("10k").unwrap_err().contains("10k"));
        assert!(Options::quick().b9.contains(&0) && Options::full().runs(Scenario::B9));
    }

    #[test]
    fn b1m_spreads_spaces_round_the_ring() {
        let hosts = spread(50, 5, B1M_HOSTS);
        assert_eq!(hosts[0], [0, 1, 2]);
        assert_eq!(hosts[4], [4, 0, 1]);
        let mut per_node = [0; 5];
        for on in &hosts {
            for &i in on {
                per_node[i] += 1;
            }
        }
        assert_eq!(per_node, [30; 5]);
        // Fewer nodes than hosts: every node hosts every space.
        assert_eq!(spread(4, 2, B1M_HOSTS), [[0, 1], [1, 0], [0, 1], [1, 0]]);
        let (mut a, mut b) = (Rng(B1M_SEED), Rng(B1M_SEED));
        let draws: Vec<usize> = (0..100).map(|_| a.below(50)).collect();
        assert_eq!(draws, (0..100).map(|_| b.below(50)).collect::<Vec<_>>());
        assert!(draws.iter().all(|&d| d < 50) && draws.iter().any(|&d| d != draws[0]));
    }

    #[test]
    fn distributions_and_spreads() {
        let d = Dist::of(&(1..=100).map(f64::from).collect::<Vec<_>>());
        assert_eq!((d.n, d.p50, d.p99, d.max), (100, 51.0, 99.0, 100.0));
        assert_eq!(Dist::of(&[]).n, 0);
        let s = Spread::of([3.0, 1.0, 2.0]);
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        assert_eq!(s.show("ms"), "2.00 ms (1.00–3.00)");
        assert_eq!(Spread::of([5.0]).show("ms"), "5.00 ms");
    }
}
