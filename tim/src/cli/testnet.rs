//! `tim testnet …`: local multi-node testnets of real `tim` processes on 127.0.0.1 (this very
//! executable runs the nodes), and the benchmarks.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use tim_testnet::bench::{parse_sizes, Scenario};

use crate::bench_support::Micro;
use crate::output::{errln, Out, Stream};

// Parsed once per process from the command line: the size of its largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
pub(crate) enum TestnetCommand {
    /// THE demo: 3 nodes federate a space, then one is killed and catches up.
    Demo {
        /// Number of nodes (at least 2).
        #[arg(long, default_value_t = 3)]
        nodes: usize,
        /// The agents demo instead, on 3 nodes: a catalyst wakes a quiet space, a summarizer
        /// agent serves a human's request, the rating moves its reputation on every node.
        #[arg(long, conflicts_with = "nodes")]
        agents: bool,
    },
    /// Run N nodes on loopback until Ctrl-C, printing each node's API address.
    Up {
        /// Number of nodes.
        #[arg(long)]
        nodes: usize,
        /// Directory for the nodes' homes. Default: a temporary directory.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Measure Tim against its goals (docs/benchmarks.md): propagation, many spaces,
    /// amplification, saturation, late joiners, restart, durability, crypto, scale, the live path against
    /// space size, a flood, ability invocation; the web page at size (b12, run only when named).
    /// Prints a table (`--json` for JSON); `--out DIR` also writes a Markdown
    /// report with SVG charts.
    Bench {
        /// Run only these scenarios (comma-separated): b1 (with b2), b1m, b3, b4 (with b3i,
        /// b5, b6), b7, b8, b9, b10 (flood), b11 (invoke), b12 (page), scale. Default: all but
        /// b12 (it needs Node.js and Chromium).
        #[arg(long, value_delimiter = ',')]
        only: Option<Vec<Scenario>>,
        /// Cluster sizes for propagation (comma-separated). Default: 3,10,20.
        #[arg(long, value_delimiter = ',')]
        nodes: Option<Vec<usize>>,
        /// B1m: nodes the spaces are spread over (at least 2). Default: 5.
        #[arg(long, value_name = "N")]
        b1m_nodes: Option<usize>,
        /// B1m: spaces, each created on one node (round robin) and joined by the next two.
        /// Default: 50.
        #[arg(long, value_name = "N")]
        b1m_spaces: Option<usize>,
        /// B1m: messages posted at 20/s, each into a random space (seeded). Default: 200.
        #[arg(long, value_name = "N")]
        b1m_messages: Option<usize>,
        /// Runs per setting.
        #[arg(long)]
        runs: Option<usize>,
        /// Late-joiner space sizes in messages (comma-separated).
        #[arg(long, value_delimiter = ',')]
        late: Option<Vec<usize>>,
        /// Space counts for the scale test (comma-separated).
        #[arg(long, value_delimiter = ',')]
        spaces: Option<Vec<usize>>,
        /// B9: sizes of the shared space in messages (comma-separated; `none` skips B9).
        /// Default: 0,10000,50000,100000.
        // A path clap takes as one value: its parser reads the whole list.
        #[arg(long, value_name = "SIZES", value_parser = parse_sizes)]
        b9: Option<std::vec::Vec<usize>>,
        /// B9: posting rate of the sustained fill on node 1 (messages/s).
        #[arg(long, value_name = "PER_SECOND")]
        b9_rate: Option<f64>,
        /// B9: how long the sustained fill posts (seconds).
        #[arg(long, value_name = "SECONDS")]
        b9_seconds: Option<f64>,
        /// B12: sizes of the space the web page opens, in messages (comma-separated).
        /// Default: 1000,100000.
        #[arg(long, value_name = "SIZES", value_parser = parse_sizes)]
        page: Option<std::vec::Vec<usize>>,
        /// B1: measure in an invite-only space (no gossip topic: changes are pushed by sync to
        /// the members' nodes; docs/privacy.md) instead of a public one.
        #[arg(long)]
        private: bool,
        /// With --private: the space is not end-to-end encrypted (to compare the cost of
        /// encryption).
        #[arg(long, requires = "private")]
        plain: bool,
        /// A short run (3 nodes, 1 run, 1k messages, 100 spaces; B1m with 4 spaces on 3 nodes
        /// and 20 messages; B9 at 0 and 1,000 messages with a 1 s fill) unless other flags say
        /// more.
        #[arg(long)]
        quick: bool,
        /// Directory for report.md, results.json and the charts.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// A seeded chaos run: writers post on every node while SIGKILLs and restarts, pauses
    /// (SIGSTOP), partitions (SIGSTOP of a minority) and dropped connections hit the nodes;
    /// then checks that no acknowledged write is lost, heads are identical, every node
    /// restarts from its own store and nothing panicked. Fails (exit 1) if a check fails.
    Chaos {
        /// Seed of every random choice. Default: drawn from the clock (and printed).
        #[arg(long)]
        seed: Option<u64>,
        /// Seconds of writing under faults.
        #[arg(long, default_value_t = 60)]
        secs: u64,
        /// Number of nodes (at least 2).
        #[arg(long, default_value_t = 5)]
        nodes: usize,
        /// Concurrent writers per node.
        #[arg(long, default_value_t = 2)]
        writers: usize,
        /// Directory for the nodes' homes. Default: a temporary directory, kept if the run
        /// fails.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

/// `tim testnet …`.
pub(crate) async fn run(out: Out, command: TestnetCommand) -> Result<()> {
    if let TestnetCommand::Bench {
        only,
        nodes,
        b1m_nodes,
        b1m_spaces,
        b1m_messages,
        runs,
        late,
        spaces,
        b9,
        b9_rate,
        b9_seconds,
        page,
        private,
        plain,
        quick,
        out: dir,
    } = command
    {
        let exe = current_exe()?;
        let mut opts = if quick {
            tim_testnet::bench::Options::quick()
        } else {
            tim_testnet::bench::Options::full()
        };
        opts.nodes = nodes.unwrap_or(opts.nodes);
        if opts.nodes.iter().any(|&n| n < 2) {
            bail!("--nodes: every cluster size must be at least 2 (a post needs another node)");
        }
        opts.b1m_nodes = b1m_nodes.unwrap_or(opts.b1m_nodes);
        opts.b1m_spaces = b1m_spaces.unwrap_or(opts.b1m_spaces);
        opts.b1m_messages = b1m_messages.unwrap_or(opts.b1m_messages);
        if opts.b1m_nodes < 2 || opts.b1m_spaces == 0 || opts.b1m_messages == 0 {
            bail!("--b1m-nodes must be at least 2, --b1m-spaces and --b1m-messages at least 1");
        }
        opts.runs = runs.unwrap_or(opts.runs).max(1);
        opts.late = late.unwrap_or(opts.late);
        opts.spaces = spaces.unwrap_or(opts.spaces);
        opts.scenarios = only.unwrap_or(opts.scenarios);
        opts.b9 = b9.unwrap_or(opts.b9);
        opts.b9_rate = b9_rate.unwrap_or(opts.b9_rate);
        opts.b9_seconds = b9_seconds.unwrap_or(opts.b9_seconds);
        opts.page = page.unwrap_or(opts.page);
        if !(opts.b9_rate > 0.0 && opts.b9_seconds > 0.0) {
            bail!("--b9-rate and --b9-seconds must be more than 0");
        }
        opts.private = private;
        opts.plain = plain;
        opts.out = dir;
        let bar = out.spinner("benchmarking…".into());
        let say = |what: &str| bar.set_message(what.to_string());
        let results = tim_testnet::bench::run(&exe, &opts, Arc::new(Micro), &say).await;
        bar.finish_and_clear();
        let results = results?;
        if let Some(dir) = &opts.out {
            let command: Vec<String> = std::env::args().collect();
            tim_testnet::bench::write_report(&results, dir, &command.join(" "))?;
            errln!("report written to {}", dir.join("report.md").display())?;
        }
        return out.print(&results, |r| {
            Stream::Stdout.write_all(tim_testnet::bench::table(r).as_bytes())
        });
    }
    if let TestnetCommand::Chaos {
        seed,
        secs,
        nodes,
        writers,
        dir,
    } = command
    {
        return chaos(out, seed, secs, nodes, writers, dir).await;
    }
    if out.json {
        bail!("`tim testnet` prints a transcript, not JSON: run it without --json");
    }
    let exe = current_exe()?;
    // The spinner starts only when the nodes do, after the transcript's first lines.
    let bar = std::sync::OnceLock::new();
    let progress: tim_testnet::Progress = &|up, all| {
        let bar = bar.get_or_init(|| out.spinner(String::new()));
        bar.set_message(format!("starting nodes: {up} of {all} up…"));
        if up == all {
            bar.finish_and_clear();
        }
    };
    match command {
        TestnetCommand::Demo { agents: true, .. } => {
            if !tim_testnet::demo_agents(&exe, Some(progress), &mut Stream::Stdout).await? {
                bail!("the agents demo did not complete (see the transcript above)");
            }
        }
        TestnetCommand::Demo { nodes, .. } => {
            if nodes < 2 {
                bail!("a demo needs at least 2 nodes");
            }
            if !tim_testnet::demo(&exe, nodes, Some(progress), &mut Stream::Stdout).await? {
                bail!("the testnet did not converge (see the transcript above)");
            }
        }
        TestnetCommand::Up { nodes, dir } => {
            tim_testnet::up(&exe, nodes, dir, Some(progress), &mut Stream::Stdout).await?
        }
        TestnetCommand::Bench { .. } | TestnetCommand::Chaos { .. } => {
            unreachable!("matched above")
        }
    }
    Ok(())
}

/// `tim testnet chaos`: prints the seed first (on standard error), then the report.
async fn chaos(
    out: Out,
    seed: Option<u64>,
    secs: u64,
    nodes: usize,
    writers: usize,
    dir: Option<PathBuf>,
) -> Result<()> {
    let seed = seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or_default()
    });
    errln!("chaos seed {seed} (rerun with --seed {seed})")?;
    let mut cfg = tim_testnet::chaos::ChaosConfig::new(seed, nodes, secs);
    cfg.writers_per_node = writers;
    cfg.dir = dir;
    let exe = current_exe()?;
    let bar = out.spinner(format!("chaos seed {seed}: starting…"));
    let say = |what: &str| bar.set_message(format!("chaos seed {seed}: {what}"));
    let report = tim_testnet::chaos::run(&exe, &cfg, &say).await;
    bar.finish_and_clear();
    let report = report?;
    out.print(&report, |r| {
        Stream::Stdout.write_all(tim_testnet::chaos::summary(r).as_bytes())
    })?;
    if !report.ok() {
        bail!("chaos seed {seed} failed a check (see the report above)");
    }
    Ok(())
}

/// This executable, which the testnet runs as its nodes.
fn current_exe() -> Result<PathBuf> {
    std::env::current_exe().context("cannot find the tim executable")
}
