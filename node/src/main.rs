//! `tim`: run a Tim node, talk to it, and run local testnets.
//!
//! Every command except `init`, `id`, `node run`, `passport verify`, `testnet` and
//! `completions` talks to a node over its HTTP API: the node of the home directory, or the one
//! `--node URL` (`$TIM_NODE`) names, with `--token` (`$TIM_TOKEN`) or the home's `api.token`.
//!
//! Output: human text on standard output, or with `--json` one JSON document (for
//! `read --follow`, one JSON object per line). Progress of long work (joining a space,
//! importing one, starting a testnet) is a spinner on standard error, shown only on a terminal
//! and never with `--json`. On failure `tim` prints one line `error: <reason>` to standard
//! error and exits with 1 (2 for a usage error). `tim completions SHELL` prints a completion
//! script.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{CommandFactory, Parser, Subcommand};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressFinish};
use serde::Serialize;
use tim_client::Client;
use tim_did::Keystore;
use tim_node::api::{ApiConfig, RateLimit};
use tim_node::home::{self, RuntimeInfo};
use tim_node::{FlushMode, NetConfig, NodeConfig};
use tim_protocol::api::{
    CheckView, CreateSpace, InviteRequest, IssueRequest, MessageView, NewToken, SpaceEvent,
    TrustEntry, VerifyReport,
};
use tim_protocol::{Did, SpaceId};

#[derive(Parser)]
#[command(
    name = "tim",
    version,
    about = "Tim: spaces where people and AI agents work together, federated peer to peer"
)]
struct Cli {
    /// Home directory (keys, data, API token). Default: $TIM_HOME, else ~/.tim.
    #[arg(long, global = true)]
    home: Option<PathBuf>,
    /// API URL of the node to talk to. Default: the running node of the home directory.
    #[arg(long, global = true, env = "TIM_NODE")]
    node: Option<String>,
    /// API token. Default: api.token in the home directory.
    #[arg(long, global = true, env = "TIM_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Print results as JSON (one document; `read --follow`: one object per line).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the node key and a first timite identity in the home directory.
    Init,
    /// Identities of this home.
    Id {
        #[command(subcommand)]
        command: IdCommand,
    },
    /// Show who the API token acts as.
    Whoami,
    /// Timites the node hosts (it holds their keys and signs for them).
    Timite {
        #[command(subcommand)]
        command: TimiteCommand,
    },
    /// API tokens for hosted timites.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Run a node.
    Node {
        #[command(subcommand)]
        command: NodeCommand,
    },
    /// Spaces: create, join, list, export, import.
    Space {
        #[command(subcommand)]
        command: SpaceCommand,
    },
    /// Messages: delete.
    Message {
        #[command(subcommand)]
        command: MessageCommand,
    },
    /// Rate a member of a space from 1 to 5 (one live rating per pair; rate again to change).
    Rate {
        /// Space id.
        space: SpaceId,
        /// The member.
        did: Did,
        /// 1 to 5.
        #[arg(value_parser = clap::value_parser!(u8).range(1..=5))]
        score: u8,
    },
    /// Post a message to a space (returns once it is on disk).
    Post {
        /// Space id.
        space: SpaceId,
        /// The message.
        text: String,
    },
    /// Read a space's timeline.
    Read {
        /// Space id.
        space: SpaceId,
        /// Keep printing new messages as they arrive.
        #[arg(long)]
        follow: bool,
    },
    /// Passports: verifiable credentials and presentations.
    Passport {
        #[command(subcommand)]
        command: PassportCommand,
    },
    /// This node's trust policy: which issuers' credentials count, and how much.
    Trust {
        #[command(subcommand)]
        command: TrustCommand,
    },
    /// Local multi-node testnets on 127.0.0.1.
    Testnet {
        #[command(subcommand)]
        command: TestnetCommand,
    },
    /// Print a shell completion script, e.g. `tim completions bash > /etc/bash_completion.d/tim`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

#[derive(Subcommand)]
enum IdCommand {
    /// Show this home's timite DID and node DID.
    Show,
}

#[derive(Subcommand)]
enum TimiteCommand {
    /// List the hosted timites.
    List,
    /// Make a new timite on the node (admin token); prints its DID.
    New,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Make a token that acts as a hosted timite (admin token); prints the secret, once.
    New {
        /// The timite the token acts as.
        did: Did,
        /// A note for you ("laptop", "research agent").
        #[arg(long, default_value = "")]
        label: String,
        /// Lifetime (e.g. 12h, 30d); no expiry if absent.
        #[arg(long, value_parser = parse_duration)]
        ttl: Option<Duration>,
    },
    /// List the tokens (never their secrets).
    List,
    /// Revoke a token: it stops working at once.
    Revoke {
        /// The token's id (as `tim token list` shows it).
        id: String,
    },
}

#[derive(Subcommand)]
enum NodeCommand {
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
        /// API requests per second each token may make, in bursts of twice that; 0 turns the
        /// limit off.
        #[arg(long, default_value_t = RateLimit::default().per_sec)]
        rate_limit: u32,
        /// How acknowledged writes reach the disk: `group` shares one fsync among concurrent
        /// writers, `each` does one fsync per write.
        #[arg(long, value_enum, default_value_t = FlushMode::Group)]
        flush: FlushMode,
    },
}

#[derive(Subcommand)]
enum SpaceCommand {
    /// Create a space; prints its id.
    Create {
        /// Name.
        name: String,
        /// Purpose.
        #[arg(long, default_value = "")]
        purpose: String,
        /// Who may join: public, invite-only or ephemeral.
        #[arg(long, default_value = "public")]
        visibility: String,
        /// Time to live of an ephemeral space (e.g. 30s, 10m, 2h, 7d).
        #[arg(long, value_parser = parse_duration)]
        ttl: Option<Duration>,
    },
    /// Invite a timite to an invite-only space (admins).
    Invite {
        /// Space id.
        space: SpaceId,
        /// The invitee's DID.
        did: Did,
        /// How long the invite stays valid (e.g. 1h, 7d).
        #[arg(long, value_parser = parse_duration, default_value = "7d")]
        valid: Duration,
    },
    /// Set a member's role: admin, moderator, member, guest or banned (admins).
    Role {
        /// Space id.
        space: SpaceId,
        /// The member.
        did: Did,
        /// The new role.
        role: String,
    },
    /// Remove a member (admins); in a public space they may join again.
    Kick {
        /// Space id.
        space: SpaceId,
        /// The member.
        did: Did,
    },
    /// Ban a member (admins): they may not write or join again.
    Ban {
        /// Space id.
        space: SpaceId,
        /// The member.
        did: Did,
    },
    /// List a space's members: role, reputation, declared abilities.
    Members {
        /// Space id.
        space: SpaceId,
    },
    /// Declare what you can do in a space (replaces your list; none clears it).
    Abilities {
        /// Space id.
        space: SpaceId,
        /// Short ability names, e.g. rust translation summarize.
        abilities: Vec<String>,
    },
    /// Join a space: find hosts, sync its history, become a member.
    Join {
        /// Space id.
        space: SpaceId,
        /// Address of a node that hosts it (repeatable); Kademlia is asked too.
        #[arg(long)]
        via: Vec<String>,
        /// Credential id to present for the space's requirements (repeatable).
        #[arg(long)]
        present: Vec<String>,
    },
    /// Require joiners to present credentials (admins), e.g. --reputation 10 --from SPACE.
    Require {
        /// Space id.
        space: SpaceId,
        /// Minimum reputation score.
        #[arg(long)]
        reputation: Option<i64>,
        /// An ability that must be attested.
        #[arg(long)]
        ability: Option<String>,
        /// A space whose credentials count (repeatable).
        #[arg(long = "from", required = true)]
        from: Vec<SpaceId>,
    },
    /// List hosted spaces.
    List,
    /// Write the space's Automerge document to FILE and its signed changes to FILE.sigs.
    Export {
        /// Space id.
        space: SpaceId,
        /// Output file. Default: <space id>.automerge
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Import a space from an export (FILE and FILE.sigs); every change is verified first.
    Import {
        /// The exported document (its FILE.sigs must be beside it) or the .sigs file itself.
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum PassportCommand {
    /// Issue a credential in a space's name (you must be an admin there).
    Issue {
        /// Space id.
        space: SpaceId,
        /// The subject.
        did: Did,
        /// membership, reputation or ability.
        #[arg(long)]
        kind: String,
        /// For --kind ability: the ability.
        #[arg(long)]
        ability: Option<String>,
        /// For --kind ability: its level.
        #[arg(long)]
        level: Option<String>,
        /// How long it stays valid (e.g. 30d); no expiry if absent.
        #[arg(long, value_parser = parse_duration)]
        valid: Option<Duration>,
    },
    /// List the credentials this node issued or holds.
    List,
    /// Show one credential.
    Show {
        /// Credential id.
        id: String,
    },
    /// Write a credential to a file (or standard output).
    Export {
        /// Credential id.
        id: String,
        /// Format: vc (JSON-LD with a Data Integrity proof) or jwt (VC-JOSE, EdDSA; only for
        /// credentials this node issued).
        #[arg(long, default_value = "vc", value_parser = ["vc", "jwt"])]
        format: String,
        /// Output file. Default: standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Keep a credential from a file; the node verifies it first.
    Import {
        /// The credential file.
        file: PathBuf,
    },
    /// Revoke a credential you issued (admins of its space).
    Revoke {
        /// Credential id.
        id: String,
    },
    /// Verify any VC 2.0 credential or presentation (JSON, Data Integrity eddsa-rdfc-2022)
    /// offline, printing each check; exits non-zero if one fails.
    Verify {
        /// The credential or presentation file (`-` for standard input).
        file: PathBuf,
        /// For a presentation: the domain it must be bound to.
        #[arg(long)]
        domain: Option<String>,
        /// For a presentation: the challenge it must answer.
        #[arg(long)]
        challenge: Option<String>,
    },
}

#[derive(Subcommand)]
enum TrustCommand {
    /// Show the policy.
    List,
    /// Count an issuing space (`urn:tim:space:<id>` or its id) or issuer DID with a weight.
    Set {
        /// The issuer.
        issuer: String,
        /// 0 to 1.
        weight: f64,
    },
    /// Stop counting an issuer (spaces this node hosts still count with weight 1).
    Remove {
        /// The issuer.
        issuer: String,
    },
}

#[derive(Subcommand)]
enum MessageCommand {
    /// Delete a message (your own, or anyone's as a moderator).
    Delete {
        /// Space id.
        space: SpaceId,
        /// Message id (as `tim read --json` shows it).
        message: String,
    },
}

#[derive(Subcommand)]
enum TestnetCommand {
    /// THE demo: 3 nodes federate a space, then one is killed and catches up.
    Demo {
        /// Number of nodes (at least 2).
        #[arg(long, default_value_t = 3)]
        nodes: usize,
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
    /// Measure Tim against its goals (docs/benchmarks.md): propagation, amplification,
    /// saturation, late joiners, restart, durability, crypto, scale. Prints a table (`--json`
    /// for JSON); `--out DIR` also writes a Markdown report with SVG charts.
    Bench {
        /// Cluster sizes for propagation (comma-separated).
        #[arg(long, value_delimiter = ',')]
        nodes: Option<Vec<usize>>,
        /// Runs per setting.
        #[arg(long)]
        runs: Option<usize>,
        /// Late-joiner space sizes in messages (comma-separated).
        #[arg(long, value_delimiter = ',')]
        late: Option<Vec<usize>>,
        /// Space counts for the scale test (comma-separated).
        #[arg(long, value_delimiter = ',')]
        spaces: Option<Vec<usize>>,
        /// A short run (3 nodes, 1 run, 1k messages, 100 spaces) unless other flags say more.
        #[arg(long)]
        quick: bool,
        /// Directory for report.md, results.json and the charts.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("warn,tim_node=info,libp2p_kad=error")
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {}", one_line(&e.into()));
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes on one line (`a: b: c`), whatever line breaks they contain.
fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// How results are printed: human text, or JSON with `--json`.
#[derive(Debug, Clone, Copy)]
struct Out {
    json: bool,
}

impl Out {
    /// Prints `value` as one JSON document with `--json`, else lets `human` print it.
    fn print<T: Serialize + ?Sized>(self, value: &T, human: impl FnOnce(&T)) -> Result<()> {
        if self.json {
            println!("{}", serde_json::to_string_pretty(value)?);
        } else {
            human(value);
        }
        Ok(())
    }

    /// A spinner on standard error saying `msg` until it is finished or dropped. Hidden with
    /// `--json`, and (by indicatif) when standard error is not a terminal.
    fn spinner(self, msg: String) -> ProgressBar {
        if self.json {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new_spinner()
            .with_message(msg)
            .with_finish(ProgressFinish::AndClear);
        bar.enable_steady_tick(Duration::from_millis(100));
        bar
    }
}

async fn run(cli: Cli) -> Result<()> {
    let home = home::resolve(cli.home.clone());
    let out = Out { json: cli.json };
    let client = || cli_client(&home, cli.node.clone(), cli.token.clone());
    match cli.command {
        Command::Init => {
            let keys = Keystore::init(&home)?;
            home::new_token(&home)?;
            let v = serde_json::json!({
                "home": home,
                "timite": keys.timite.did(),
                "node": keys.node.did(),
            });
            out.print(&v, |_| {
                println!("initialised {}", home.display());
                println!("timite DID: {}", keys.timite.did());
                println!("node DID:   {}", keys.node.did());
            })?;
        }
        Command::Id {
            command: IdCommand::Show,
        } => {
            let keys = open_keys(&home)?;
            let peer_id = tim_node::peer_id_of(&keys.node);
            let v = serde_json::json!({
                "timite": keys.timite.did(),
                "node": keys.node.did(),
                "peer_id": peer_id.to_string(),
            });
            out.print(&v, |_| {
                println!("timite DID: {}", keys.timite.did());
                println!("node DID:   {}", keys.node.did());
                println!("peer id:    {peer_id}");
            })?;
        }
        Command::Whoami => {
            let me = client()?.me().await?;
            out.print(&me, |me| {
                println!("{}", me.did);
                match &me.token_id {
                    Some(id) if !me.admin => println!("token {id}"),
                    _ => println!("admin token"),
                }
            })?;
        }
        Command::Timite { command } => timite_command(&client()?, out, command).await?,
        Command::Token { command } => token_command(&client()?, out, command).await?,
        Command::Node {
            command:
                NodeCommand::Run {
                    listen,
                    peer,
                    api,
                    mdns,
                    rate_limit,
                    flush,
                },
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
                    ..NetConfig::default()
                },
                flush,
            };
            run_node(&home, out, cfg, api, rate_limit).await?
        }
        Command::Space { command } => space_command(&client()?, out, command).await?,
        Command::Message {
            command: MessageCommand::Delete { space, message },
        } => {
            let done = client()?.delete_message(space, &message).await?;
            out.print(&done, |d| {
                println!("deleted {message} (change {})", d.change)
            })?;
        }
        Command::Post { space, text } => {
            let posted = client()?.post_message(space, &text).await?;
            out.print(&posted, |p| {
                println!("posted {} (change {})", p.id, p.change)
            })?;
        }
        Command::Read { space, follow } => read(&client()?, out, space, follow).await?,
        Command::Passport {
            command:
                PassportCommand::Verify {
                    file,
                    domain,
                    challenge,
                },
        } => verify_file(out, &file, domain.as_deref(), challenge.as_deref()).await?,
        Command::Passport { command } => passport_command(&client()?, out, command).await?,
        Command::Trust { command } => trust_command(&client()?, out, command).await?,
        Command::Rate { space, did, score } => {
            let done = client()?.rate(space, did, score).await?;
            out.print(&done, |d| {
                println!("rated {did} {score}/5 (change {})", d.change)
            })?;
        }
        Command::Testnet {
            command:
                TestnetCommand::Bench {
                    nodes,
                    runs,
                    late,
                    spaces,
                    quick,
                    out: dir,
                },
        } => {
            let exe = std::env::current_exe().context("cannot find the tim executable")?;
            let mut opts = if quick {
                tim_testnet::bench::Options::quick()
            } else {
                tim_testnet::bench::Options::full()
            };
            opts.nodes = nodes.unwrap_or(opts.nodes);
            opts.runs = runs.unwrap_or(opts.runs).max(1);
            opts.late = late.unwrap_or(opts.late);
            opts.spaces = spaces.unwrap_or(opts.spaces);
            opts.out = dir;
            let bar = out.spinner("benchmarking…".into());
            let say = |what: &str| bar.set_message(what.to_string());
            let results = tim_testnet::bench::run(&exe, &opts, &say).await;
            bar.finish_and_clear();
            let results = results?;
            if let Some(dir) = &opts.out {
                let command: Vec<String> = std::env::args().collect();
                tim_testnet::bench::write_report(&results, dir, &command.join(" "))?;
                eprintln!("report written to {}", dir.join("report.md").display());
            }
            out.print(&results, |r| print!("{}", tim_testnet::bench::table(r)))?;
        }
        Command::Testnet { command } => {
            if out.json {
                bail!("`tim testnet` prints a transcript, not JSON: run it without --json");
            }
            let exe = std::env::current_exe().context("cannot find the tim executable")?;
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
                TestnetCommand::Demo { nodes } => {
                    if nodes < 2 {
                        bail!("a demo needs at least 2 nodes");
                    }
                    if !tim_testnet::demo(&exe, nodes, Some(progress)).await? {
                        bail!("the testnet did not converge (see the transcript above)");
                    }
                }
                TestnetCommand::Up { nodes, dir } => {
                    tim_testnet::up(&exe, nodes, dir, Some(progress)).await?
                }
                TestnetCommand::Bench { .. } => unreachable!("matched above"),
            }
        }
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "tim", &mut script);
            match std::io::stdout().write_all(&script) {
                // `tim completions bash | head` is not a failure.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                r => r.context("cannot write the completion script")?,
            }
        }
    }
    Ok(())
}

async fn timite_command(client: &Client, out: Out, command: TimiteCommand) -> Result<()> {
    match command {
        TimiteCommand::List => {
            let timites = client.timites().await?;
            out.print(&timites, |all| {
                for t in all {
                    let default = if t.default { "  (default)" } else { "" };
                    println!("{}{default}", t.did);
                }
            })?;
        }
        TimiteCommand::New => {
            let t = client.new_timite().await?;
            out.print(&t, |t| println!("{}", t.did))?;
        }
    }
    Ok(())
}

async fn token_command(client: &Client, out: Out, command: TokenCommand) -> Result<()> {
    match command {
        TokenCommand::New { did, label, ttl } => {
            let req = NewToken {
                did,
                label,
                ttl_secs: ttl.map(|t| t.as_secs()),
            };
            let issued = client.new_token(&req).await?;
            out.print(&issued, |t| {
                println!("{}", t.token);
                eprintln!(
                    "token {} for {}: shown once; the node keeps only its hash; revoke with `tim token revoke {}`",
                    t.info.id, t.info.did, t.info.id
                );
            })?;
        }
        TokenCommand::List => {
            let tokens = client.tokens().await?;
            out.print(&tokens, |all| {
                if all.is_empty() {
                    println!("no tokens (besides the admin token in the node's home)");
                }
                for t in all {
                    let expires = t
                        .expires_at
                        .map(|ms| format!("expires {}", format_date(ms)))
                        .unwrap_or_else(|| "no expiry".into());
                    println!(
                        "{}  {}  made {}  {expires}  {}",
                        t.id,
                        t.did,
                        format_date(t.created_at),
                        t.label
                    );
                }
            })?;
        }
        TokenCommand::Revoke { id } => {
            client.revoke_token(&id).await?;
            out.print(&serde_json::json!({ "revoked": id }), |_| {
                println!("revoked token {id}")
            })?;
        }
    }
    Ok(())
}

async fn trust_command(client: &Client, out: Out, command: TrustCommand) -> Result<()> {
    let as_issuer = |s: String| match s.parse::<SpaceId>() {
        Ok(id) => id.iri(),
        Err(_) => s,
    };
    match command {
        TrustCommand::List => {
            let policy = client.trust().await?;
            out.print(&policy, |policy| {
                if policy.is_empty() {
                    println!("no entries: only spaces this node hosts count (weight 1)");
                }
                for e in policy {
                    println!("{:<6} {}", e.weight, e.issuer);
                }
            })?;
        }
        TrustCommand::Set { issuer, weight } => {
            let entry = TrustEntry {
                issuer: as_issuer(issuer),
                weight,
            };
            client.set_trust(&entry).await?;
            out.print(&entry, |e| {
                println!("{} now counts with weight {}", e.issuer, e.weight)
            })?;
        }
        TrustCommand::Remove { issuer } => {
            let entry = TrustEntry {
                issuer: as_issuer(issuer),
                weight: 0.0,
            };
            client.set_trust(&entry).await?;
            out.print(&entry, |e| println!("{} removed from the policy", e.issuer))?;
        }
    }
    Ok(())
}

async fn passport_command(client: &Client, out: Out, command: PassportCommand) -> Result<()> {
    match command {
        PassportCommand::Issue {
            space,
            did,
            kind,
            ability,
            level,
            valid,
        } => {
            let req = IssueRequest {
                subject: did,
                kind,
                ability,
                level,
                valid_for_secs: valid.map(|v| v.as_secs()),
            };
            let vc = client.issue_credential(space, &req).await?;
            out.print(&vc, |vc| {
                println!("issued {}", vc["id"].as_str().unwrap_or("?"))
            })?;
        }
        PassportCommand::List => {
            let all = client.credentials().await?;
            out.print(&all, |all| {
                if all.is_empty() {
                    println!("no credentials yet");
                }
                for vc in all {
                    let types: Vec<&str> = vc["type"]
                        .as_array()
                        .map(|t| t.iter().filter_map(|t| t.as_str()).collect())
                        .unwrap_or_default();
                    println!(
                        "{}  {:<26} subject {}  issuer {}",
                        vc["id"].as_str().unwrap_or("?"),
                        types.last().copied().unwrap_or("?"),
                        vc["credentialSubject"]["id"].as_str().unwrap_or("?"),
                        vc["issuer"].as_str().unwrap_or("?"),
                    );
                }
            })?;
        }
        PassportCommand::Show { id } => {
            // A credential is JSON already: the same document either way.
            println!(
                "{}",
                serde_json::to_string_pretty(&client.credential(&id).await?)?
            );
        }
        PassportCommand::Export {
            id,
            format,
            out: file,
        } => {
            let text = if format == "jwt" {
                client.credential_jwt(&id).await?
            } else {
                serde_json::to_string_pretty(&client.credential(&id).await?)?
            };
            match file {
                Some(path) => {
                    std::fs::write(&path, text)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    out.print(&serde_json::json!({ "wrote": path }), |_| {
                        eprintln!("wrote {}", path.display())
                    })?;
                }
                None if format == "jwt" => {
                    out.print(&serde_json::json!({ "jwt": text }), |_| println!("{text}"))?
                }
                None => println!("{text}"),
            }
        }
        PassportCommand::Import { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let vc: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", file.display()))?;
            let held = client.hold_credential(&vc).await?;
            out.print(&held, |held| {
                println!("verified and kept {}", held["id"].as_str().unwrap_or("?"))
            })?;
        }
        PassportCommand::Revoke { id } => {
            let done = client.revoke_credential(&id).await?;
            out.print(&done, |d| println!("revoked {id} (change {})", d.change))?;
        }
        PassportCommand::Verify { .. } => unreachable!("verified offline in run()"),
    }
    Ok(())
}

/// Verifies a credential or presentation offline, printing each check; fails if one fails.
async fn verify_file(
    out: Out,
    file: &Path,
    domain: Option<&str>,
    challenge: Option<&str>,
) -> Result<()> {
    use tim_did::credential::{is_presentation, verify_document};
    let text = if file == Path::new("-") {
        std::io::read_to_string(std::io::stdin())?
    } else {
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let (report, what) = if text.trim_start().starts_with("ey") {
        let report = tim_did::credential::verify_jwt_credential(&text, now).await;
        (report, "JWT credential")
    } else {
        let doc: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is neither JSON nor a JWT", file.display()))?;
        let report = verify_document(&doc, domain, challenge, now).await;
        let what = if is_presentation(&doc) {
            "presentation"
        } else {
            "credential"
        };
        (report, what)
    };
    let view = VerifyReport {
        verified: report.ok(),
        checks: report
            .checks
            .iter()
            .map(|c| CheckView {
                name: c.name.clone(),
                ok: c.outcome.is_ok(),
                detail: match &c.outcome {
                    Ok(d) | Err(d) => d.clone(),
                },
            })
            .collect(),
    };
    out.print(&view, |view| {
        for c in &view.checks {
            let status = if c.ok { "ok" } else { "FAILED" };
            println!("{status:<7} {:<28} {}", c.name, c.detail);
        }
        if view.verified {
            println!("the {what} verifies");
        } else {
            println!("the {what} does NOT verify");
        }
    })?;
    if let Some(failed) = view.checks.iter().find(|c| !c.ok) {
        bail!(
            "the {what} does not verify: {}: {}",
            failed.name,
            failed.detail
        );
    }
    if !view.verified {
        bail!("the {what} does not verify: nothing was checked");
    }
    Ok(())
}

fn open_keys(home: &Path) -> Result<Keystore> {
    Keystore::open(home).with_context(|| {
        format!(
            "no identity in {}; run `tim init --home {}` first",
            home.display(),
            home.display()
        )
    })
}

fn cli_client(home: &Path, node: Option<String>, token: Option<String>) -> Result<Client> {
    let url = match node {
        Some(u) => u,
        None => {
            home::read_runtime(home)
                .with_context(|| {
                    format!(
                        "no running node found for {} (start one with `tim node run`, or pass --node URL)",
                        home.display()
                    )
                })?
                .api
        }
    };
    let token = match token {
        Some(t) => t,
        None => home::read_token(home)
            .with_context(|| format!("no API token in {} (pass --token)", home.display()))?,
    };
    Ok(Client::new(&url, &token))
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
    cfg: NodeConfig,
    api: SocketAddr,
    rate_limit: RateLimit,
) -> Result<()> {
    let keys = open_keys(home)?;
    let token = match home::read_token(home) {
        Ok(t) => t,
        Err(_) => home::new_token(home)?,
    };
    let listener = tokio::net::TcpListener::bind(api)
        .await
        .with_context(|| format!("cannot bind the API to {api}"))?;
    let api_addr = listener.local_addr()?;
    let wanted = cfg.listen.len();
    let handle = tim_node::start(keys.clone(), &home.join(home::DATA_DIR), cfg)
        .await
        .context("cannot start the node")?;
    // Wait (briefly) until every listener is up, so the addresses printed are complete.
    let mut status = handle.status().await?;
    for _ in 0..100 {
        if status.listen.len() >= wanted {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        status = handle.status().await?;
    }
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
        println!("tim node running");
        println!("  node DID : {}", info.node_did);
        println!("  timite   : {}", info.timite);
        for a in &info.listen {
            println!("  listen   : {a}");
        }
        println!("  API      : {}", info.api);
        println!("  spaces   : {}", status.spaces);
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

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {},
        _ = term.recv() => {},
    }
}

async fn space_command(client: &Client, out: Out, command: SpaceCommand) -> Result<()> {
    match command {
        SpaceCommand::Create {
            name,
            purpose,
            visibility,
            ttl,
        } => {
            let s = client
                .create_space_with(&CreateSpace {
                    name,
                    purpose,
                    visibility: Some(visibility),
                    ttl_secs: ttl.map(|t| t.as_secs()),
                })
                .await?;
            out.print(&s, |s| println!("{}", s.id))?;
        }
        SpaceCommand::Require {
            space,
            reputation,
            ability,
            from,
        } => {
            let mut reqs = Vec::new();
            if let Some(min) = reputation {
                reqs.push(
                    serde_json::json!({"kind": "reputation", "min_score": min, "spaces": from}),
                );
            }
            if let Some(a) = ability {
                reqs.push(serde_json::json!({"kind": "ability", "ability": a, "spaces": from}));
            }
            if reqs.is_empty() {
                reqs.push(serde_json::json!({"kind": "membership", "spaces": from}));
            }
            let done = client
                .set_requirements(space, &serde_json::Value::Array(reqs))
                .await?;
            out.print(&done, |d| {
                println!("requirements set (change {})", d.change)
            })?;
        }
        SpaceCommand::Invite { space, did, valid } => {
            let req = InviteRequest {
                did,
                expires_in_secs: Some(valid.as_secs()),
            };
            let done = client.invite(space, &req).await?;
            out.print(&done, |d| println!("invited {did} (change {})", d.change))?;
        }
        SpaceCommand::Role { space, did, role } => {
            let done = client.set_role(space, &did, &role).await?;
            out.print(&done, |d| {
                println!("{did} is now {role} (change {})", d.change)
            })?;
        }
        SpaceCommand::Kick { space, did } => {
            let done = client.kick(space, &did).await?;
            out.print(&done, |d| println!("removed {did} (change {})", d.change))?;
        }
        SpaceCommand::Ban { space, did } => {
            let done = client.set_role(space, &did, "banned").await?;
            out.print(&done, |d| println!("banned {did} (change {})", d.change))?;
        }
        SpaceCommand::Members { space } => {
            let members = client.members(space).await?;
            out.print(&members, |members| {
                for m in members {
                    let mut line = format!("{:<10} {}  reputation {}", m.role, m.did, m.reputation);
                    if !m.abilities.is_empty() {
                        line.push_str(&format!("  abilities {}", m.abilities.join(", ")));
                    }
                    if let Some(r) = m.imported_reputation {
                        line.push_str(&format!("  imported reputation {r}"));
                    }
                    println!("{line}");
                }
            })?;
        }
        SpaceCommand::Abilities { space, abilities } => {
            let done = client.declare_abilities(space, abilities.clone()).await?;
            out.print(&done, |d| {
                if abilities.is_empty() {
                    println!("cleared your abilities in {space} (change {})", d.change);
                } else {
                    println!(
                        "your abilities in {space}: {} (change {})",
                        abilities.join(", "),
                        d.change
                    );
                }
            })?;
        }
        SpaceCommand::Join {
            space,
            via,
            present,
        } => {
            let bar = out.spinner(format!("joining {space}: syncing from peers…"));
            let s = client.join(space, via, present).await?;
            bar.finish_and_clear();
            out.print(&s, |s| {
                println!(
                    "joined \"{}\": {} members, {} messages",
                    s.name, s.members, s.messages
                )
            })?;
        }
        SpaceCommand::List => {
            let spaces = client.spaces().await?;
            out.print(&spaces, |spaces| {
                if spaces.is_empty() {
                    println!(
                        "no spaces yet (tim space create NAME, or tim space join ID --via ADDR)"
                    );
                }
                for s in spaces {
                    println!(
                        "{}  {:<24} {:>3} members {:>6} messages",
                        s.id, s.name, s.members, s.messages
                    );
                }
            })?;
        }
        SpaceCommand::Export { space, out: file } => {
            let file = file.unwrap_or_else(|| PathBuf::from(format!("{space}.automerge")));
            let doc = client.export_document(space).await?;
            let sigs = client.export_signatures(space).await?;
            let sigs_path = sigs_path(&file);
            std::fs::write(&file, &doc)
                .with_context(|| format!("cannot write {}", file.display()))?;
            std::fs::write(&sigs_path, &sigs)
                .with_context(|| format!("cannot write {}", sigs_path.display()))?;
            let v = serde_json::json!({
                "document": file,
                "document_bytes": doc.len(),
                "signatures": sigs_path,
                "signatures_bytes": sigs.len(),
            });
            out.print(&v, |_| {
                println!(
                    "wrote {} ({} bytes, Automerge document)",
                    file.display(),
                    doc.len()
                );
                println!(
                    "wrote {} ({} bytes, signed changes)",
                    sigs_path.display(),
                    sigs.len()
                );
            })?;
        }
        SpaceCommand::Import { file } => {
            let path = if file.extension().is_some_and(|e| e == "sigs") {
                file.clone()
            } else {
                sigs_path(&file)
            };
            let bundle = std::fs::read(&path).with_context(|| {
                format!(
                    "cannot read {}: Tim imports only signed changes, which `tim space export` writes beside the document",
                    path.display()
                )
            })?;
            let bar = out.spinner(format!(
                "importing {} ({} bytes): verifying every signature…",
                path.display(),
                bundle.len()
            ));
            let imported = client.import(bundle).await?;
            bar.finish_and_clear();
            out.print(&imported, |i| {
                println!(
                    "imported space {}: {} new changes, {} already here (every signature verified)",
                    i.space, i.applied, i.known
                )
            })?;
        }
    }
    Ok(())
}

/// Parses `90`, `30s`, `10m`, `2h` or `7d`.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration (e.g. 30s, 10m, 2h, 7d)"))?;
    let unit_secs: u64 = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("unknown unit `{unit}` in `{s}`; use s, m, h or d")),
    };
    let secs = n
        .checked_mul(unit_secs)
        .ok_or_else(|| format!("`{s}` is too long"))?;
    if secs == 0 {
        return Err("a duration must be positive".into());
    }
    Ok(Duration::from_secs(secs))
}

fn sigs_path(doc: &Path) -> PathBuf {
    let mut s = doc.as_os_str().to_owned();
    s.push(".sigs");
    PathBuf::from(s)
}

/// Prints a timeline; with `follow`, keeps printing new messages (one JSON object per line
/// with `--json`).
async fn read(client: &Client, out: Out, space: SpaceId, follow: bool) -> Result<()> {
    let events = if follow {
        Some(client.events(space).await?)
    } else {
        None
    };
    let timeline = client.timeline(space).await?;
    let Some(events) = events else {
        return out.print(&timeline, |t| t.messages.iter().for_each(print_message));
    };
    let line = |m: &MessageView| -> Result<()> {
        if out.json {
            println!("{}", serde_json::to_string(m)?);
        } else {
            print_message(m);
        }
        Ok(())
    };
    for m in &timeline.messages {
        line(m)?;
    }
    let seen: std::collections::HashSet<String> =
        timeline.messages.iter().map(|m| m.id.clone()).collect();
    let mut events = Box::pin(events);
    while let Some(e) = events.next().await {
        if let SpaceEvent::Message { message, .. } = e? {
            if !seen.contains(&message.id) {
                line(&message)?;
            }
        }
    }
    Ok(())
}

fn print_message(m: &MessageView) {
    println!("[{}] {}: {}", format_time(m.at), m.author.short(), m.text);
}

/// `HH:MM:SS` (UTC) of a time in milliseconds since the Unix epoch.
fn format_time(ms: u64) -> String {
    let secs = ms / 1000;
    format!(
        "{:02}:{:02}:{:02}",
        (secs / 3600) % 24,
        (secs / 60) % 60,
        secs % 60
    )
}

/// RFC 3339 (UTC, whole seconds) of a time in milliseconds since the Unix epoch.
fn format_date(ms: u64) -> String {
    tim_did::credential::format_time((ms / 1000) as i64)
}
