//! Local Tim testnets: N real `tim` node processes on 127.0.0.1, driven through their public
//! API, with faults injected from outside (SIGKILL, SIGSTOP, disconnection).
//!
//! [`demo`] is the main job: it federates a space across nodes, measures how long each message
//! takes to reach every node, kills a node with SIGKILL, restarts it and shows that it kept its
//! data and caught up. [`chaos`] runs writers under seeded faults (kill -9, pauses,
//! partitions) and checks that no acknowledged write is lost and every node converges.
#![deny(missing_docs)]

mod agents_demo;
pub mod bench;
pub mod chaos;
pub mod charts;
pub mod micro;
pub mod page_bench;
mod rng;

use std::collections::HashMap;
use std::io::Write;
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use tim_client::Client;
use tim_protocol::api::SpaceEvent;
use tim_protocol::SpaceId;
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

pub use agents_demo::demo_agents;

/// How long a node may take to start and write its address file.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Environment variable naming a command that node processes run under (split at whitespace,
/// the node's command line appended), for measuring them: e.g.
/// `env LD_PRELOAD=/usr/lib/heaptrack/libheaptrack_preload.so DUMP_HEAPTRACK_OUTPUT=/tmp/ht/node.$$`
/// profiles each node's heap with heaptrack (`env` execs the node, so the process id the
/// testnet measures and signals stays the node's). Unset, nodes run as they are.
pub const NODE_WRAPPER_VAR: &str = "TIM_TESTNET_NODE_WRAPPER";
/// How long the demo waits for convergence.
pub const CONVERGE_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Deserialize)]
struct RuntimeFile {
    api: String,
    listen: Vec<String>,
}

/// Told how far a cluster's start has come: (nodes up, nodes in all), first with 0 up.
pub type Progress<'a> = &'a (dyn Fn(usize, usize) + Sync);

/// One node process of a testnet.
#[derive(Debug)]
pub struct TestNode {
    /// 1-based index.
    pub index: usize,
    /// Home directory.
    pub home: PathBuf,
    /// Its API client.
    pub client: Client,
    /// Its listen addresses (with `/p2p/`).
    pub listen: Vec<String>,
    tcp_port: u16,
    udp_port: u16,
    child: Child,
}

impl TestNode {
    /// The node's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }
}

/// A set of node processes.
#[derive(Debug)]
pub struct Cluster {
    exe: PathBuf,
    args: Vec<String>,
    /// The nodes.
    pub nodes: Vec<TestNode>,
    _tmp: Option<tempfile::TempDir>,
    dir: PathBuf,
}

fn free_tcp_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn free_udp_port() -> Result<u16> {
    Ok(UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port())
}

async fn spawn_node(
    exe: &Path,
    home: &Path,
    tcp: u16,
    udp: u16,
    peers: &[String],
    args: &[String],
) -> Result<(Child, Client, Vec<String>)> {
    let runtime = home.join("node.json");
    let _ = std::fs::remove_file(&runtime);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(home.join("node.log"))?;
    let wrapper = std::env::var(NODE_WRAPPER_VAR).unwrap_or_default();
    let mut cmd = match wrapper.split_whitespace().collect::<Vec<_>>().split_first() {
        Some((program, args)) => {
            let mut cmd = Command::new(program);
            cmd.args(args).arg(exe);
            cmd
        }
        None => Command::new(exe),
    };
    cmd.arg("--home")
        .arg(home)
        .args(["node", "run", "--api", "127.0.0.1:0"])
        .args(["--listen", &format!("/ip4/127.0.0.1/tcp/{tcp}")])
        .args(["--listen", &format!("/ip4/127.0.0.1/udp/{udp}/quic-v1")]);
    for p in peers {
        cmd.args(["--peer", p]);
    }
    cmd.args(args);
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot run {}", exe.display()))?;
    let deadline = Instant::now() + START_TIMEOUT;
    let info: RuntimeFile = loop {
        if let Ok(bytes) = std::fs::read(&runtime) {
            if let Ok(info) = serde_json::from_slice(&bytes) {
                break info;
            }
        }
        if Instant::now() > deadline {
            bail!(
                "node in {} did not start within {}s; see its node.log",
                home.display(),
                START_TIMEOUT.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    let token = std::fs::read_to_string(home.join("api.token"))?
        .trim()
        .to_string();
    Ok((child, Client::new(&info.api, &token), info.listen))
}

impl Cluster {
    /// Starts `n` nodes in `dir` (a temporary directory if `None`); nodes 2..n dial node 1.
    /// `progress`, if given, is told before the first node starts and after each one is up.
    pub async fn start(
        exe: &Path,
        n: usize,
        dir: Option<PathBuf>,
        progress: Option<Progress<'_>>,
    ) -> Result<Self> {
        Self::start_with(exe, n, dir, progress, &[]).await
    }

    /// [`Cluster::start`] with extra `tim node run` arguments for every node.
    pub async fn start_with(
        exe: &Path,
        n: usize,
        dir: Option<PathBuf>,
        progress: Option<Progress<'_>>,
        args: &[&str],
    ) -> Result<Self> {
        let (tmp, dir) = match dir {
            Some(d) => {
                std::fs::create_dir_all(&d)?;
                (None, d)
            }
            None => {
                let t = tempfile::Builder::new().prefix("tim-testnet-").tempdir()?;
                let d = t.path().to_path_buf();
                (Some(t), d)
            }
        };
        let mut cluster = Self {
            args: args.iter().map(|a| a.to_string()).collect(),
            exe: exe.to_path_buf(),
            nodes: Vec::new(),
            _tmp: tmp,
            dir,
        };
        if let Some(progress) = progress {
            progress(0, n);
        }
        for index in 1..=n {
            let home = cluster.dir.join(format!("node{index}"));
            if !home.join("node.key").exists() {
                let status = Command::new(exe)
                    .arg("--home")
                    .arg(&home)
                    .arg("init")
                    .stdout(Stdio::null())
                    .status()
                    .await?;
                if !status.success() {
                    bail!("tim init failed for {}", home.display());
                }
            }
            let peers: Vec<String> = cluster
                .nodes
                .first()
                .map(|n: &TestNode| n.listen[..1].to_vec())
                .unwrap_or_default();
            let (tcp, udp) = (free_tcp_port()?, free_udp_port()?);
            let (child, client, listen) =
                spawn_node(exe, &home, tcp, udp, &peers, &cluster.args).await?;
            cluster.nodes.push(TestNode {
                index,
                home,
                client,
                listen,
                tcp_port: tcp,
                udp_port: udp,
                child,
            });
            if let Some(progress) = progress {
                progress(index, n);
            }
        }
        Ok(cluster)
    }

    /// The directory holding the nodes' homes.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Kills node `i` (0-based) with SIGKILL and waits for it to die.
    pub async fn kill(&mut self, i: usize) -> Result<()> {
        let node = &mut self.nodes[i];
        node.child.start_kill()?;
        node.child.wait().await?;
        Ok(())
    }

    /// Restarts node `i` (0-based) on the same home and ports, with no bootstrap peers: it
    /// finds the others from its own peer book.
    pub async fn restart(&mut self, i: usize) -> Result<()> {
        let exe = self.exe.clone();
        let node = &mut self.nodes[i];
        let (child, client, listen) = spawn_node(
            &exe,
            &node.home,
            node.tcp_port,
            node.udp_port,
            &[],
            &self.args,
        )
        .await?;
        node.child = child;
        node.client = client;
        node.listen = listen;
        Ok(())
    }

    /// Stops node `i` (0-based) with SIGTERM and waits up to `grace` for it to finish
    /// (snapshots, flush) before SIGKILL.
    pub async fn stop_node(&mut self, i: usize, grace: Duration) {
        let node = &mut self.nodes[i];
        if let Some(pid) = node.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        if tokio::time::timeout(grace, node.child.wait())
            .await
            .is_err()
        {
            let _ = node.child.start_kill();
            let _ = node.child.wait().await;
        }
    }

    /// Stops every node with SIGTERM (graceful), then SIGKILL after a grace period.
    pub async fn stop(&mut self) {
        for n in &mut self.nodes {
            if let Some(pid) = n.child.id() {
                let _ = std::process::Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status();
            }
        }
        for n in &mut self.nodes {
            if tokio::time::timeout(Duration::from_secs(5), n.child.wait())
                .await
                .is_err()
            {
                let _ = n.child.start_kill();
            }
        }
    }

    /// Waits until every node's gossipsub mesh for `space` holds at least `peers` peers (read
    /// from each node's `GET /v1/peers/gossip/{space}`); returns the time it took.
    pub async fn wait_mesh(
        &self,
        space: SpaceId,
        peers: usize,
        timeout: Duration,
    ) -> Result<Duration> {
        let every: Vec<usize> = (0..self.nodes.len()).collect();
        self.wait_meshes(&[(space, every)], peers, timeout).await
    }

    /// [`Cluster::wait_mesh`] for several spaces at once, each on the nodes listed with it
    /// (0-based indices): every listed node's mesh for that space holds at least `peers`
    /// peers. Each round asks each listed node about each of its spaces. On timeout, the
    /// error names the node furthest behind and how many peers it is connected to, which
    /// tells a mesh still forming from a cluster that never connected.
    pub async fn wait_meshes(
        &self,
        spaces: &[(SpaceId, Vec<usize>)],
        peers: usize,
        timeout: Duration,
    ) -> Result<Duration> {
        let start = Instant::now();
        loop {
            // The (mesh peers, node, space) furthest behind.
            let mut least: Option<(usize, usize, usize)> = None;
            for (s, (space, on)) in spaces.iter().enumerate() {
                for &i in on {
                    let mesh = self.nodes[i]
                        .client
                        .gossip_peers(*space)
                        .await
                        .map_or(0, |g| g.mesh);
                    if least.is_none_or(|(m, _, _)| mesh < m) {
                        least = Some((mesh, i, s));
                    }
                }
            }
            let Some((mesh, i, s)) = least.filter(|(m, _, _)| *m < peers) else {
                return Ok(start.elapsed());
            };
            if start.elapsed() > timeout {
                let node = &self.nodes[i];
                let connected = node
                    .client
                    .status()
                    .await
                    .map_or("unknown".into(), |st| st.connected_peers.to_string());
                bail!(
                    "the gossipsub mesh did not form within {} s: node {} has {mesh} mesh peers \
                     for space {} ({peers} wanted) and is connected to {connected} of the {} \
                     other nodes; see {}",
                    timeout.as_secs(),
                    node.index,
                    spaces[s].0,
                    self.nodes.len() - 1,
                    node.home.join("node.log").display()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until every node has `messages` messages and identical heads; returns the time
    /// it took, or `None` on timeout.
    pub async fn converge(&self, space: SpaceId, messages: usize) -> Option<Duration> {
        let start = Instant::now();
        while start.elapsed() < CONVERGE_TIMEOUT {
            let mut heads = Vec::new();
            for n in &self.nodes {
                match n.client.timeline(space).await {
                    Ok(t) if t.messages.len() == messages => heads.push(t.heads),
                    _ => break,
                }
            }
            if heads.len() == self.nodes.len() && heads.windows(2).all(|w| w[0] == w[1]) {
                return Some(start.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }
}

/// Arrival of a message on a node, as seen through its event stream.
struct Arrival {
    node: usize,
    /// The space: a message id (`counter@actor`) is unique only within its space.
    space: SpaceId,
    message: String,
    at: Instant,
}

/// Capacity of the channel that [`watch`] reports arrivals on (its reader drains it).
const ARRIVALS: usize = 1024;

/// Follows the events of `space` on every node, reporting arrivals.
async fn watch(cluster: &Cluster, space: SpaceId) -> Result<mpsc::Receiver<Arrival>> {
    let every: Vec<usize> = (0..cluster.nodes.len()).collect();
    watch_spaces(cluster, &[(space, every)]).await
}

/// Event streams one token may hold open on a node (the node's `MAX_STREAMS_PER_TOKEN`).
const STREAMS_PER_TOKEN: usize = 16;
/// Lifetime of the extra tokens [`watch_spaces`] makes (s): longer than any bench step.
const WATCH_TOKEN_TTL: u64 = 3600;

/// Follows the events of each space on the nodes listed with it (0-based indices), reporting
/// every arrival on one channel. A node follows its first [`STREAMS_PER_TOKEN`] spaces with
/// the cluster's client and each further batch with a token made for it (same timite), since
/// a node caps the streams of one token.
async fn watch_spaces(
    cluster: &Cluster,
    spaces: &[(SpaceId, Vec<usize>)],
) -> Result<mpsc::Receiver<Arrival>> {
    let (tx, rx) = mpsc::channel(ARRIVALS);
    let mut per_node: Vec<Vec<SpaceId>> = vec![Vec::new(); cluster.nodes.len()];
    for (space, on) in spaces {
        for &i in on {
            per_node[i].push(*space);
        }
    }
    for (n, followed) in cluster.nodes.iter().zip(per_node) {
        for (batch, chunk) in followed.chunks(STREAMS_PER_TOKEN).enumerate() {
            let client = if batch == 0 {
                n.client.clone()
            } else {
                let me = n.client.me().await?;
                let issued = n
                    .client
                    .new_token(&tim_protocol::api::NewToken {
                        did: me.did,
                        label: format!("testnet watcher {batch}"),
                        ttl_secs: Some(WATCH_TOKEN_TTL),
                    })
                    .await
                    .with_context(|| format!("node {}: cannot make a watcher token", n.index))?;
                Client::new(n.client.base(), &issued.token)
            };
            for space in chunk {
                follow(&client, *space, n.index, tx.clone()).await?;
            }
        }
    }
    Ok(rx)
}

/// Follows the events of `space` on one node (`node` is its 1-based index), reporting arrivals
/// on `tx` until it is closed.
async fn follow(
    client: &Client,
    space: SpaceId,
    node: usize,
    tx: mpsc::Sender<Arrival>,
) -> Result<()> {
    let mut events = Box::pin(client.events(space).await?);
    tokio::spawn(async move {
        use futures::StreamExt;
        while let Some(item) = events.next().await {
            // A lagged stream skipped events (counted as lost by whoever waits for them) and
            // goes on; any other error ends it.
            let e = match item {
                Ok(e) => e,
                Err(tim_client::ClientError::Lagged(_)) => continue,
                Err(_) => return,
            };
            if let SpaceEvent::Message { message, .. } = e {
                let arrival = Arrival {
                    node,
                    space,
                    message: message.id,
                    at: Instant::now(),
                };
                if tx.send(arrival).await.is_err() {
                    return;
                }
            }
        }
    });
    Ok(())
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn short(s: &str) -> String {
    if s.len() > 16 {
        format!("{}…{}", &s[..8], &s[s.len() - 6..])
    } else {
        s.to_string()
    }
}

/// Runs the demo with `n` nodes and writes its transcript to `out`. Returns whether everything
/// converged. `progress` is told as the nodes start.
pub async fn demo(
    exe: &Path,
    n: usize,
    progress: Option<Progress<'_>>,
    out: &mut (dyn Write + Send),
) -> Result<bool> {
    let started = Instant::now();
    writeln!(out, "== Tim testnet demo: {n} nodes on 127.0.0.1 ==")?;
    let mut cluster = Cluster::start(exe, n, None, progress).await?;
    writeln!(
        out,
        "started {n} node processes in {} ({})",
        ms(started.elapsed()),
        cluster.dir().display()
    )?;
    for node in &cluster.nodes {
        let s = node.client.status().await?;
        writeln!(
            out,
            "  node {}  {}  {}  api {}",
            node.index,
            s.node_did.short(),
            node.listen.first().map(String::as_str).unwrap_or("-"),
            node.client.base()
        )?;
    }
    let result = run_demo(&mut cluster, n, out).await;
    cluster.stop().await;
    let ok = result?;
    writeln!(out)?;
    writeln!(
        out,
        "RESULT: {} (total {:.1} s)",
        if ok {
            "all nodes converged"
        } else {
            "NOT CONVERGED"
        },
        started.elapsed().as_secs_f64()
    )?;
    Ok(ok)
}

async fn run_demo(cluster: &mut Cluster, n: usize, out: &mut (dyn Write + Send)) -> Result<bool> {
    let first = &cluster.nodes[0];
    let space = first
        .client
        .create_space("demo", "a space federated across a local testnet")
        .await?;
    writeln!(out, "\nnode 1 created space \"demo\"\n  id {}", space.id)?;
    let via = vec![first.listen[0].clone()];
    for node in &cluster.nodes[1..] {
        let t = Instant::now();
        let s = node.client.join(space.id, via.clone(), vec![]).await?;
        writeln!(
            out,
            "node {} joined via node 1 in {} ({} members now)",
            node.index,
            ms(t.elapsed()),
            s.members
        )?;
    }

    let mut arrivals = watch(cluster, space.id).await?;
    writeln!(out, "\neach node posts one message:")?;
    let mut posted: Vec<(String, usize, Instant, String)> = Vec::new();
    for node in &cluster.nodes {
        let text = format!("hello from node {}", node.index);
        let t = Instant::now();
        let p = node.client.post_message(space.id, &text).await?;
        writeln!(
            out,
            "  node {} posted \"{text}\" (acknowledged in {})",
            node.index,
            ms(t.elapsed())
        )?;
        posted.push((p.id, node.index, t, text));
    }
    let Some(took) = cluster.converge(space.id, n).await else {
        writeln!(
            out,
            "nodes did not converge within {}s",
            CONVERGE_TIMEOUT.as_secs()
        )?;
        return Ok(false);
    };
    writeln!(out, "converged {} after the last post", ms(took))?;

    // Latency: from the post request until the message was applied on each other node.
    let mut seen: HashMap<(String, usize), Instant> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(2);
    while seen.len() < n * n && Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_millis(200), arrivals.recv()).await {
            Ok(Some(a)) => {
                seen.entry((a.message, a.node)).or_insert(a.at);
            }
            Ok(None) => break,
            Err(_) => {}
        }
    }
    writeln!(out, "\npropagation (post sent → applied on the node):")?;
    let mut latencies = Vec::new();
    for (id, from, t0, text) in &posted {
        let mut parts = Vec::new();
        for node in &cluster.nodes {
            if node.index == *from {
                continue;
            }
            match seen.get(&(id.clone(), node.index)) {
                Some(at) => {
                    let d = at.saturating_duration_since(*t0);
                    latencies.push(d);
                    parts.push(format!("node {}: {}", node.index, ms(d)));
                }
                None => parts.push(format!("node {}: (event not seen)", node.index)),
            }
        }
        writeln!(out, "  \"{text}\"  {}", parts.join("  "))?;
    }
    latencies.sort();
    if let (Some(min), Some(max)) = (latencies.first(), latencies.last()) {
        writeln!(
            out,
            "  min {}  median {}  max {}",
            ms(*min),
            ms(latencies[latencies.len() / 2]),
            ms(*max)
        )?;
    }

    writeln!(out, "\ntimeline as each node sees it:")?;
    let mut all_heads = Vec::new();
    for node in &cluster.nodes {
        let t = node.client.timeline(space.id).await?;
        let texts: Vec<String> = t
            .messages
            .iter()
            .map(|m| format!("\"{}\"", m.text))
            .collect();
        writeln!(out, "  node {}: {}", node.index, texts.join(", "))?;
        all_heads.push(t.heads);
    }
    let identical = all_heads.windows(2).all(|w| w[0] == w[1]);
    writeln!(
        out,
        "heads identical on all nodes: {} ({})",
        if identical { "yes" } else { "NO" },
        all_heads[0]
            .iter()
            .map(|h| short(&h.to_string()))
            .collect::<Vec<_>>()
            .join(", ")
    )?;
    if !identical {
        return Ok(false);
    }

    // Fault: SIGKILL the last node, post meanwhile, restart it.
    let victim = n - 1;
    let before = cluster.nodes[victim].client.timeline(space.id).await?;
    writeln!(
        out,
        "\nfault: SIGKILL node {} (it holds {} messages)",
        victim + 1,
        before.messages.len()
    )?;
    cluster.kill(victim).await?;
    for node in &cluster.nodes[..2.min(victim)] {
        node.client
            .post_message(
                space.id,
                &format!(
                    "posted on node {} while node {} was down",
                    node.index,
                    victim + 1
                ),
            )
            .await?;
    }
    let meanwhile = 2.min(victim);
    writeln!(
        out,
        "  {meanwhile} messages posted while node {} was down",
        victim + 1
    )?;
    let t = Instant::now();
    cluster.restart(victim).await?;
    let restarted = cluster.nodes[victim].client.timeline(space.id).await?;
    let kept = before
        .messages
        .iter()
        .all(|m| restarted.messages.iter().any(|r| r.id == m.id));
    writeln!(
        out,
        "restarted node {} in {}: it kept all {} messages from before the kill: {}",
        victim + 1,
        ms(t.elapsed()),
        before.messages.len(),
        if kept { "yes" } else { "NO" }
    )?;
    let Some(_) = cluster.converge(space.id, n + meanwhile).await else {
        writeln!(
            out,
            "node {} did not catch up within {}s",
            victim + 1,
            CONVERGE_TIMEOUT.as_secs()
        )?;
        return Ok(false);
    };
    writeln!(
        out,
        "node {} caught up with the {meanwhile} messages posted meanwhile, {} after restart",
        victim + 1,
        ms(t.elapsed())
    )?;
    let last = cluster.nodes[victim].client.timeline(space.id).await?;
    let first = cluster.nodes[0].client.timeline(space.id).await?;
    writeln!(
        out,
        "heads identical after restart: {}",
        if last.heads == first.heads {
            "yes"
        } else {
            "NO"
        }
    )?;
    Ok(kept && last.heads == first.heads)
}

/// Runs `n` nodes until Ctrl-C, writing where each one is to `out`. `progress` is told as they
/// start.
pub async fn up(
    exe: &Path,
    n: usize,
    dir: Option<PathBuf>,
    progress: Option<Progress<'_>>,
    out: &mut (dyn Write + Send),
) -> Result<()> {
    if n == 0 {
        bail!("--nodes must be at least 1");
    }
    let mut cluster = Cluster::start(exe, n, dir, progress).await?;
    writeln!(out, "testnet of {n} nodes in {}", cluster.dir().display())?;
    for node in &cluster.nodes {
        writeln!(
            out,
            "  node {}  api {}  home {}  p2p {}",
            node.index,
            node.client.base(),
            node.home.display(),
            node.listen.first().map(String::as_str).unwrap_or("-")
        )?;
    }
    writeln!(
        out,
        "talk to a node with: tim --home <home> space list    (Ctrl-C stops the testnet)"
    )?;
    tokio::signal::ctrl_c().await?;
    cluster.stop().await;
    Ok(())
}
