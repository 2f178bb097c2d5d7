//! A seeded chaos run on real node processes: writers post through the API of every node
//! while faults drawn from one `u64` seed hit the nodes (SIGKILL and restart on the same store,
//! SIGSTOP pauses, partitions, dropped connections); then the faults heal, the writers stop,
//! and the run checks the invariants of DESIGN.md:
//!
//! - every write a node acknowledged (201, with its message id) is on every node;
//! - every node ends with identical heads (invariants 1 and 5: a healed partition converges
//!   without operator action);
//! - every node, stopped with SIGKILL and restarted alone, serves the space from its own store
//!   with the same heads (invariant 3);
//! - no node panicked (its `node.log` has no `panicked` line).
//!
//! Every wait is on a condition with a deadline. The seed fixes the fault schedule (which
//! fault, which nodes, when and for how long) and the writers' texts; the operating system
//! still decides the interleavings, so a seed that fails once may pass the next time. The
//! seed is printed when the run starts and is in the report.
//!
//! **Partitions** are emulated: the node API can close every connection of a node
//! (`POST /v1/faults/disconnect`, the `disconnect` fault here) but cannot keep a peer out for a
//! while, so a partition is a SIGSTOP of a minority group of nodes: the group neither sends nor
//! answers (its sockets stay open, its peers time out), the majority goes on writing, and
//! SIGCONT heals it.

use crate::rng::Rng;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use tim_client::Client;
use tim_protocol::SpaceId;

use crate::Cluster;

/// How long after the faults heal the nodes may take to converge.
pub const CHAOS_CONVERGE_TIMEOUT: Duration = Duration::from_secs(90);
/// Pause between two posts of one writer.
pub const WRITE_INTERVAL: Duration = Duration::from_millis(100);
/// Pause of a writer after a failed post (its node is down or paused).
const RETRY_INTERVAL: Duration = Duration::from_millis(200);
/// How often conditions are polled.
const POLL: Duration = Duration::from_millis(100);

/// What a chaos run does.
#[derive(Debug, Clone)]
pub struct ChaosConfig {
    /// Every random choice derives from it.
    pub seed: u64,
    /// Node processes (at least 2).
    pub nodes: usize,
    /// Concurrent writers posting through each node's API.
    pub writers_per_node: usize,
    /// Seconds of writing under faults.
    pub secs: u64,
    /// Shortest and longest gap between two faults.
    pub fault_gap: (Duration, Duration),
    /// Shortest and longest fault (down, paused or partitioned time).
    pub fault_length: (Duration, Duration),
    /// How long convergence may take once the faults heal.
    pub converge_timeout: Duration,
    /// Where the nodes' homes go; a temporary directory if `None` (kept if the run fails).
    pub dir: Option<PathBuf>,
}

impl ChaosConfig {
    /// A run of `secs` seconds on `nodes` nodes with 2 writers each, faults every 0.5 to 3 s
    /// lasting 0.3 to 3 s.
    pub fn new(seed: u64, nodes: usize, secs: u64) -> Self {
        Self {
            seed,
            nodes,
            writers_per_node: 2,
            secs,
            fault_gap: (Duration::from_millis(500), Duration::from_secs(3)),
            fault_length: (Duration::from_millis(300), Duration::from_secs(3)),
            converge_timeout: CHAOS_CONVERGE_TIMEOUT,
            dir: None,
        }
    }
}

/// Faults injected, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultCounts {
    /// SIGKILL of a node, then a restart on its store.
    pub kill: usize,
    /// SIGSTOP of one node, then SIGCONT.
    pub pause: usize,
    /// SIGSTOP of a minority group of nodes, then SIGCONT (an emulated partition).
    pub partition: usize,
    /// Every connection of a node closed through the API (it redials by itself).
    pub disconnect: usize,
}

impl FaultCounts {
    /// All faults.
    pub fn total(&self) -> usize {
        self.kill + self.pause + self.partition + self.disconnect
    }
}

/// An acknowledged write that some node does not have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LostWrite {
    /// Its message id.
    pub id: String,
    /// The node (1-based) that acknowledged it.
    pub acked_by: usize,
    /// The nodes (1-based) that do not have it.
    pub missing_on: Vec<usize>,
}

/// What a chaos run measured and found.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChaosReport {
    /// The seed.
    pub seed: u64,
    /// Node processes.
    pub nodes: usize,
    /// Writers in all.
    pub writers: usize,
    /// Seconds of writing under faults.
    pub secs: u64,
    /// Posts acknowledged with 201.
    pub acknowledged: usize,
    /// Posts that failed (node down or paused past the client's patience); not acknowledged,
    /// so they may or may not be in the space.
    pub failed_posts: usize,
    /// Faults injected, by kind.
    pub faults: FaultCounts,
    /// What happened when, in seconds since the writers started.
    pub events: Vec<String>,
    /// Acknowledged writes missing on some node (must be empty).
    pub lost: Vec<LostWrite>,
    /// Whether every node ended with the same heads.
    pub heads_identical: bool,
    /// Messages in the space at the end (node 1).
    pub messages: usize,
    /// From the last fault healed and the writers stopped until every node had every
    /// acknowledged write and identical heads; `None` if that never happened.
    pub converge_ms: Option<f64>,
    /// Nodes (1-based) that, restarted alone after SIGKILL, did not serve the space with the
    /// heads they had, and why.
    pub restart_failures: Vec<String>,
    /// `panicked` lines found in the nodes' logs, prefixed by the node.
    pub panics: Vec<String>,
    /// Where the nodes' homes and logs are, when the run failed (kept for inspection).
    pub kept_dir: Option<PathBuf>,
}

impl ChaosReport {
    /// Whether every check passed.
    pub fn ok(&self) -> bool {
        self.lost.is_empty()
            && self.heads_identical
            && self.converge_ms.is_some()
            && self.restart_failures.is_empty()
            && self.panics.is_empty()
    }
}

/// The report as text.
pub fn summary(r: &ChaosReport) -> String {
    let mut s = String::new();
    let yes = |b: bool| if b { "yes" } else { "NO" };
    s += &format!(
        "chaos seed {}: {} nodes, {} writers, {} s of faults\n",
        r.seed, r.nodes, r.writers, r.secs
    );
    for e in &r.events {
        s += &format!("  {e}\n");
    }
    s += &format!(
        "acknowledged writes   {} ({} posts failed, not acknowledged)\n",
        r.acknowledged, r.failed_posts
    );
    s += &format!(
        "faults                {} (kill {}, pause {}, partition {}, disconnect {})\n",
        r.faults.total(),
        r.faults.kill,
        r.faults.pause,
        r.faults.partition,
        r.faults.disconnect
    );
    s += &format!("lost writes           {}\n", r.lost.len());
    for l in r.lost.iter().take(10) {
        s += &format!(
            "  {} acked by node {}, missing on nodes {:?}\n",
            l.id, l.acked_by, l.missing_on
        );
    }
    s += &format!("heads identical       {}\n", yes(r.heads_identical));
    s += &format!("messages in the space {}\n", r.messages);
    s += &match r.converge_ms {
        Some(ms) => format!("time to converge      {:.0} ms\n", ms),
        None => "time to converge      DID NOT CONVERGE\n".to_string(),
    };
    s += &format!(
        "restart from own store {}\n",
        if r.restart_failures.is_empty() {
            "yes, every node".to_string()
        } else {
            r.restart_failures.join("; ")
        }
    );
    s += &format!("panics                {}\n", r.panics.len());
    for p in r.panics.iter().take(10) {
        s += &format!("  {p}\n");
    }
    if let Some(d) = &r.kept_dir {
        s += &format!("node homes and logs kept in {}\n", d.display());
    }
    s += &format!(
        "RESULT: {} (seed {})\n",
        if r.ok() { "pass" } else { "FAIL" },
        r.seed
    );
    s
}

/// The draws a fault schedule needs, on top of [`Rng`].
impl Rng {
    /// Uniform in `lo..=hi`, to the millisecond.
    fn between(&mut self, (lo, hi): (Duration, Duration)) -> Duration {
        let (lo, hi) = (
            lo.as_millis() as u64,
            hi.as_millis().max(lo.as_millis()) as u64,
        );
        Duration::from_millis(lo + self.next() % (hi - lo + 1))
    }

    /// `k` distinct indices out of `0..n`.
    fn pick(&mut self, n: usize, k: usize) -> Vec<usize> {
        let mut all: Vec<usize> = (0..n).collect();
        for i in 0..k.min(n) {
            let j = i + self.below(n - i);
            all.swap(i, j);
        }
        all.truncate(k.min(n));
        all.sort_unstable();
        all
    }
}

/// One fault of the schedule.
#[derive(Debug, Clone)]
enum Fault {
    Kill(usize),
    Pause(usize),
    Partition(Vec<usize>),
    Disconnect(usize),
}

fn draw_fault(rng: &mut Rng, nodes: usize) -> Fault {
    // A partition cuts off a minority, so a majority always keeps writing.
    let minority = (nodes - 1) / 2;
    match rng.below(4) {
        0 => Fault::Kill(rng.below(nodes)),
        1 => Fault::Pause(rng.below(nodes)),
        2 if minority >= 2 => {
            let k = 2 + rng.below(minority - 1);
            Fault::Partition(rng.pick(nodes, k))
        }
        2 => Fault::Partition(rng.pick(nodes, 1)),
        _ => Fault::Disconnect(rng.below(nodes)),
    }
}

fn signal(pid: Option<u32>, sig: &str) -> Result<()> {
    let pid = pid.context("the node process is gone")?;
    let status = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .context("cannot run kill")?;
    anyhow::ensure!(status.success(), "kill {sig} {pid} failed");
    Ok(())
}

/// The writers' view of the nodes' API clients (a restarted node has a new API address).
type Clients = Arc<RwLock<Vec<Client>>>;

fn client(clients: &Clients, i: usize) -> Client {
    clients.read().expect("clients lock")[i].clone()
}

/// What one writer saw.
#[derive(Debug, Default)]
struct Written {
    acked: Vec<(String, usize)>,
    failed: usize,
}

async fn writer(
    clients: Clients,
    node: usize,
    w: usize,
    space: SpaceId,
    stop: Arc<AtomicBool>,
) -> Written {
    let mut out = Written::default();
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let c = client(&clients, node);
        match c
            .post_message(space, &format!("node {} writer {w} post {i}", node + 1))
            .await
        {
            Ok(posted) => {
                out.acked.push((posted.id, node + 1));
                tokio::time::sleep(WRITE_INTERVAL).await;
            }
            Err(_) => {
                out.failed += 1;
                tokio::time::sleep(RETRY_INTERVAL).await;
            }
        }
        i += 1;
    }
    out
}

/// Runs a chaos run and reports what it found. An `Err` means the run itself could not go on
/// (a node did not start); the checks' failures are in the report.
pub async fn run(
    exe: &Path,
    cfg: &ChaosConfig,
    say: &(dyn Fn(&str) + Sync),
) -> Result<ChaosReport> {
    anyhow::ensure!(cfg.nodes >= 2, "a chaos run needs at least 2 nodes");
    anyhow::ensure!(
        cfg.writers_per_node >= 1,
        "a chaos run needs at least 1 writer per node"
    );
    let (tmp, dir) = match &cfg.dir {
        Some(d) => (None, d.clone()),
        None => {
            let t = tempfile::Builder::new().prefix("tim-chaos-").tempdir()?;
            let d = t.path().to_path_buf();
            (Some(t), d)
        }
    };
    say(&format!(
        "starting {} nodes in {}",
        cfg.nodes,
        dir.display()
    ));
    let mut cluster = Cluster::start(exe, cfg.nodes, Some(dir.clone()), None)
        .await
        .with_context(|| format!("chaos seed {}: the cluster did not start", cfg.seed))?;
    let result = chaos(&mut cluster, cfg, say).await;
    cluster.stop().await;
    let mut report = result.with_context(|| {
        format!(
            "chaos seed {}: the run stopped (node homes in {})",
            cfg.seed,
            dir.display()
        )
    });
    if let Ok(r) = &mut report {
        r.panics = panics(&cluster);
    }
    let failed = !matches!(&report, Ok(r) if r.ok());
    match (tmp, &mut report) {
        (Some(t), Ok(r)) if failed => r.kept_dir = Some(t.keep()),
        (Some(t), Err(_)) => {
            let _kept = t.keep();
        }
        _ => {}
    }
    report
}

/// `panicked` lines of every node's log.
fn panics(cluster: &Cluster) -> Vec<String> {
    let mut out = Vec::new();
    for n in &cluster.nodes {
        let log = std::fs::read_to_string(n.home.join("node.log")).unwrap_or_default();
        out.extend(
            log.lines()
                .filter(|l| l.contains("panicked"))
                .map(|l| format!("node {}: {l}", n.index)),
        );
    }
    out
}

async fn chaos(
    cluster: &mut Cluster,
    cfg: &ChaosConfig,
    say: &(dyn Fn(&str) + Sync),
) -> Result<ChaosReport> {
    let mut rng = Rng(cfg.seed);
    let n = cfg.nodes;
    let space = cluster.nodes[0]
        .client
        .create_space("chaos", &format!("chaos run, seed {}", cfg.seed))
        .await?
        .id;
    let via = cluster.nodes[0].listen[..1].to_vec();
    for node in &cluster.nodes[1..] {
        node.client.join(space, via.clone(), Vec::new()).await?;
    }
    let clients: Clients = Arc::new(RwLock::new(
        cluster.nodes.iter().map(|n| n.client.clone()).collect(),
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for node in 0..n {
        for w in 0..cfg.writers_per_node {
            writers.push(tokio::spawn(writer(
                clients.clone(),
                node,
                w,
                space,
                stop.clone(),
            )));
        }
    }
    say(&format!(
        "seed {}: {} writers posting, faults for {} s",
        cfg.seed,
        writers.len(),
        cfg.secs
    ));

    let started = Instant::now();
    let end = started + Duration::from_secs(cfg.secs);
    let at = |t: Instant| format!("{:6.2}s", t.duration_since(started).as_secs_f64());
    let mut faults = FaultCounts::default();
    let mut events = Vec::new();
    let outcome: Result<()> = async {
        loop {
            let gap = rng.between(cfg.fault_gap);
            let fault = draw_fault(&mut rng, n);
            let length = rng.between(cfg.fault_length);
            if Instant::now() + gap + length >= end {
                break;
            }
            tokio::time::sleep(gap).await;
            let t = Instant::now();
            match &fault {
                Fault::Kill(i) => {
                    cluster.kill(*i).await?;
                    tokio::time::sleep(length).await;
                    cluster
                        .restart(*i)
                        .await
                        .with_context(|| format!("node {} did not restart after SIGKILL", i + 1))?;
                    clients.write().expect("clients lock")[*i] = cluster.nodes[*i].client.clone();
                    faults.kill += 1;
                    events.push(format!(
                        "{} SIGKILL node {}, down {} ms, restarted in {} ms",
                        at(t),
                        i + 1,
                        length.as_millis(),
                        (t.elapsed() - length).as_millis()
                    ));
                }
                Fault::Pause(i) => {
                    let pid = cluster.nodes[*i].pid();
                    signal(pid, "-STOP")?;
                    tokio::time::sleep(length).await;
                    signal(pid, "-CONT")?;
                    faults.pause += 1;
                    events.push(format!(
                        "{} SIGSTOP node {} for {} ms",
                        at(t),
                        i + 1,
                        length.as_millis()
                    ));
                }
                Fault::Partition(group) => {
                    let pids: Vec<_> = group.iter().map(|i| cluster.nodes[*i].pid()).collect();
                    for pid in &pids {
                        signal(*pid, "-STOP")?;
                    }
                    tokio::time::sleep(length).await;
                    for pid in &pids {
                        signal(*pid, "-CONT")?;
                    }
                    faults.partition += 1;
                    let names: Vec<String> = group.iter().map(|i| (i + 1).to_string()).collect();
                    events.push(format!(
                        "{} partition: nodes {} cut off (SIGSTOP) for {} ms",
                        at(t),
                        names.join(","),
                        length.as_millis()
                    ));
                }
                Fault::Disconnect(i) => {
                    let closed = client(&clients, *i).disconnect_all().await;
                    faults.disconnect += 1;
                    events.push(format!(
                        "{} node {} closed all its connections{}",
                        at(t),
                        i + 1,
                        match closed {
                            Ok(()) => String::new(),
                            Err(e) => format!(" (failed: {e})"),
                        }
                    ));
                }
            }
            say(events.last().map(String::as_str).unwrap_or_default());
        }
        Ok(())
    }
    .await;
    // Whatever happened, no node stays stopped.
    for node in &cluster.nodes {
        let _ = signal(node.pid(), "-CONT");
    }
    let remaining = end.saturating_duration_since(Instant::now());
    if outcome.is_ok() {
        tokio::time::sleep(remaining).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut acked: Vec<(String, usize)> = Vec::new();
    let mut failed_posts = 0;
    for w in writers {
        let written = w.await.context("a writer panicked")?;
        acked.extend(written.acked);
        failed_posts += written.failed;
    }
    outcome?;
    let healed = Instant::now();
    events.push(format!(
        "{} writers stopped, every fault healed",
        at(healed)
    ));
    say(&format!(
        "{} writes acknowledged; waiting for convergence",
        acked.len()
    ));

    // Convergence: every node has every acknowledged write, and the same heads.
    let wanted: BTreeSet<&str> = acked.iter().map(|(id, _)| id.as_str()).collect();
    let deadline = healed + cfg.converge_timeout;
    let mut converge_ms = None;
    let mut ids: Vec<BTreeSet<String>> = vec![BTreeSet::new(); n];
    let mut heads_identical;
    loop {
        let mut heads = Vec::new();
        let mut enough = true;
        for node in &cluster.nodes {
            match node.client.space(space).await {
                Ok(s) => {
                    enough &= s.messages >= wanted.len();
                    heads.push(s.heads);
                }
                Err(_) => enough = false,
            }
        }
        heads_identical = heads.len() == n && heads.windows(2).all(|w| w[0] == w[1]);
        if heads_identical && enough {
            for (i, node) in cluster.nodes.iter().enumerate() {
                if let Ok(t) = node.client.timeline(space).await {
                    ids[i] = t.messages.into_iter().map(|m| m.id).collect();
                }
            }
            if ids
                .iter()
                .all(|have| wanted.iter().all(|id| have.contains(*id)))
            {
                converge_ms = Some(healed.elapsed().as_secs_f64() * 1000.0);
                break;
            }
        }
        if Instant::now() > deadline {
            for (i, node) in cluster.nodes.iter().enumerate() {
                if let Ok(t) = node.client.timeline(space).await {
                    ids[i] = t.messages.into_iter().map(|m| m.id).collect();
                }
            }
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    let lost: Vec<LostWrite> = acked
        .iter()
        .filter_map(|(id, by)| {
            let missing_on: Vec<usize> = (0..n)
                .filter(|i| !ids[*i].contains(id))
                .map(|i| i + 1)
                .collect();
            (!missing_on.is_empty()).then(|| LostWrite {
                id: id.clone(),
                acked_by: *by,
                missing_on,
            })
        })
        .collect();
    let messages = cluster.nodes[0]
        .client
        .space(space)
        .await
        .map(|s| s.messages)
        .unwrap_or_default();

    // Each node, SIGKILLed with the others down and restarted alone, serves the space from
    // its own store with the heads it had.
    say("restarting every node alone from its own store");
    let mut had = Vec::new();
    for node in &cluster.nodes {
        had.push(node.client.space(space).await.ok().map(|s| s.heads));
    }
    for i in 0..n {
        cluster.kill(i).await?;
    }
    let mut restart_failures = Vec::new();
    for (i, had) in had.into_iter().enumerate() {
        if let Err(e) = cluster.restart(i).await {
            restart_failures.push(format!("node {} did not restart: {e:#}", i + 1));
            continue;
        }
        match cluster.nodes[i].client.space(space).await {
            Ok(s) if Some(&s.heads) == had.as_ref() => {}
            Ok(s) => restart_failures.push(format!(
                "node {} restarted with other heads ({} messages, had {:?})",
                i + 1,
                s.messages,
                had.map(|h| h.len())
            )),
            Err(e) => {
                restart_failures.push(format!("node {} restarted without the space: {e}", i + 1))
            }
        }
        cluster.kill(i).await?;
    }

    Ok(ChaosReport {
        seed: cfg.seed,
        nodes: n,
        writers: n * cfg.writers_per_node,
        secs: cfg.secs,
        acknowledged: acked.len(),
        failed_posts,
        faults,
        events,
        lost,
        heads_identical,
        messages,
        converge_ms,
        restart_failures,
        panics: Vec::new(),
        kept_dir: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_is_a_function_of_the_seed() {
        let draw = |seed| {
            let mut rng = Rng(seed);
            (0..20)
                .map(|_| format!("{:?}", draw_fault(&mut rng, 5)))
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
    }

    #[test]
    fn partitions_cut_off_a_minority_of_distinct_nodes() {
        let mut rng = Rng(1);
        for nodes in 2..8 {
            for _ in 0..200 {
                if let Fault::Partition(g) = draw_fault(&mut rng, nodes) {
                    assert!(
                        !g.is_empty() && g.len() * 2 < nodes.max(3),
                        "{g:?} of {nodes}"
                    );
                    assert!(g.windows(2).all(|w| w[0] < w[1]));
                    assert!(g.iter().all(|i| *i < nodes));
                }
            }
        }
    }
}
