//! `tim`: run a Tim node, talk to it, and run local testnets.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use futures::StreamExt;
use tim_client::Client;
use tim_did::Keystore;
use tim_node::home::{self, RuntimeInfo};
use tim_node::{NetConfig, NodeConfig};
use tim_protocol::api::{CreateSpace, InviteRequest, IssueRequest, SpaceEvent, TrustEntry};
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
        /// Print JSON.
        #[arg(long)]
        json: bool,
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
}

#[derive(Subcommand)]
enum IdCommand {
    /// Show this home's timite DID and node DID.
    Show {
        /// Print JSON.
        #[arg(long)]
        json: bool,
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
    /// List a space's members and roles.
    Members {
        /// Space id.
        space: SpaceId,
        /// Print JSON.
        #[arg(long)]
        json: bool,
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
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
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
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode> {
    let home = home::resolve(cli.home.clone());
    match cli.command {
        Command::Init => {
            let keys = Keystore::init(&home)?;
            home::new_token(&home)?;
            println!("initialised {}", home.display());
            println!("timite DID: {}", keys.timite.did());
            println!("node DID:   {}", keys.node.did());
        }
        Command::Id {
            command: IdCommand::Show { json },
        } => {
            let keys = open_keys(&home)?;
            if json {
                let v = serde_json::json!({
                    "timite": keys.timite.did().to_string(),
                    "node": keys.node.did().to_string(),
                    "peer_id": tim_node::peer_id_of(&keys.node).to_string(),
                });
                println!("{v}");
            } else {
                println!("timite DID: {}", keys.timite.did());
                println!("node DID:   {}", keys.node.did());
                println!("peer id:    {}", tim_node::peer_id_of(&keys.node));
            }
        }
        Command::Node {
            command:
                NodeCommand::Run {
                    listen,
                    peer,
                    api,
                    mdns,
                },
        } => run_node(&home, listen, peer, api, mdns).await?,
        Command::Space { command } => {
            space_command(&cli_client(&home, cli.node, cli.token)?, command).await?
        }
        Command::Message {
            command: MessageCommand::Delete { space, message },
        } => {
            let client = cli_client(&home, cli.node, cli.token)?;
            let done = client.delete_message(space, &message).await?;
            println!("deleted {message} (change {})", done.change);
        }
        Command::Post { space, text } => {
            let client = cli_client(&home, cli.node, cli.token)?;
            let posted = client.post_message(space, &text).await?;
            println!("posted {} (change {})", posted.id, posted.change);
        }
        Command::Read {
            space,
            json,
            follow,
        } => {
            let client = cli_client(&home, cli.node, cli.token)?;
            read(&client, space, json, follow).await?;
        }
        Command::Passport {
            command:
                PassportCommand::Verify {
                    file,
                    domain,
                    challenge,
                },
        } => {
            if !verify_file(&file, domain.as_deref(), challenge.as_deref()).await? {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Passport { command } => {
            passport_command(&cli_client(&home, cli.node, cli.token)?, command).await?
        }
        Command::Trust { command } => {
            let client = cli_client(&home, cli.node, cli.token)?;
            let as_issuer = |s: String| match s.parse::<SpaceId>() {
                Ok(id) => id.iri(),
                Err(_) => s,
            };
            match command {
                TrustCommand::List => {
                    let policy = client.trust().await?;
                    if policy.is_empty() {
                        println!("no entries: only spaces this node hosts count (weight 1)");
                    }
                    for e in policy {
                        println!("{:<6} {}", e.weight, e.issuer);
                    }
                }
                TrustCommand::Set { issuer, weight } => {
                    let issuer = as_issuer(issuer);
                    client
                        .set_trust(&TrustEntry {
                            issuer: issuer.clone(),
                            weight,
                        })
                        .await?;
                    println!("{issuer} now counts with weight {weight}");
                }
                TrustCommand::Remove { issuer } => {
                    let issuer = as_issuer(issuer);
                    client
                        .set_trust(&TrustEntry {
                            issuer: issuer.clone(),
                            weight: 0.0,
                        })
                        .await?;
                    println!("{issuer} removed from the policy");
                }
            }
        }
        Command::Rate { space, did, score } => {
            let client = cli_client(&home, cli.node, cli.token)?;
            let done = client.rate(space, did, score).await?;
            println!("rated {did} {score}/5 (change {})", done.change);
        }
        Command::Testnet { command } => {
            let exe = std::env::current_exe().context("cannot find the tim executable")?;
            match command {
                TestnetCommand::Demo { nodes } => {
                    if nodes < 2 {
                        bail!("a demo needs at least 2 nodes");
                    }
                    if !tim_testnet::demo(&exe, nodes).await? {
                        return Ok(ExitCode::FAILURE);
                    }
                }
                TestnetCommand::Up { nodes, dir } => tim_testnet::up(&exe, nodes, dir).await?,
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn passport_command(client: &Client, command: PassportCommand) -> Result<()> {
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
            println!("issued {}", vc["id"].as_str().unwrap_or("?"));
        }
        PassportCommand::List => {
            let all = client.credentials().await?;
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
        }
        PassportCommand::Show { id } => {
            println!(
                "{}",
                serde_json::to_string_pretty(&client.credential(&id).await?)?
            );
        }
        PassportCommand::Export { id, format, out } => {
            let text = if format == "jwt" {
                client.credential_jwt(&id).await?
            } else {
                serde_json::to_string_pretty(&client.credential(&id).await?)?
            };
            match out {
                Some(path) => {
                    std::fs::write(&path, text)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    eprintln!("wrote {}", path.display());
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
            println!("verified and kept {}", held["id"].as_str().unwrap_or("?"));
        }
        PassportCommand::Revoke { id } => {
            let done = client.revoke_credential(&id).await?;
            println!("revoked {id} (change {})", done.change);
        }
        PassportCommand::Verify { .. } => unreachable!("verified offline in run()"),
    }
    Ok(())
}

async fn verify_file(file: &Path, domain: Option<&str>, challenge: Option<&str>) -> Result<bool> {
    use tim_did::credential::{is_presentation, verify_document};
    let text = if file == Path::new("-") {
        std::io::read_to_string(std::io::stdin())?
    } else {
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    if text.trim_start().starts_with("ey") {
        let report = tim_did::credential::verify_jwt_credential(&text, now).await;
        return Ok(print_report(&report, "JWT credential"));
    }
    let doc: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is neither JSON nor a JWT", file.display()))?;
    let report = verify_document(&doc, domain, challenge, now).await;
    let what = if is_presentation(&doc) {
        "presentation"
    } else {
        "credential"
    };
    Ok(print_report(&report, what))
}

fn print_report(report: &tim_did::credential::Report, what: &str) -> bool {
    for c in &report.checks {
        match &c.outcome {
            Ok(detail) => println!("ok      {:<28} {detail}", c.name),
            Err(reason) => println!("FAILED  {:<28} {reason}", c.name),
        }
    }
    if report.ok() {
        println!("the {what} verifies");
    } else {
        println!("the {what} does NOT verify");
    }
    report.ok()
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

async fn run_node(
    home: &Path,
    listen: Vec<String>,
    peers: Vec<String>,
    api: SocketAddr,
    mdns: bool,
) -> Result<()> {
    let keys = open_keys(home)?;
    let token = match home::read_token(home) {
        Ok(t) => t,
        Err(_) => home::new_token(home)?,
    };
    let parse = |v: &[String], what: &str| -> Result<Vec<libp2p::Multiaddr>> {
        v.iter()
            .map(|a| {
                a.parse()
                    .with_context(|| format!("{what} `{a}` is not a multiaddr"))
            })
            .collect()
    };
    let cfg = NodeConfig {
        listen: parse(&listen, "--listen")?,
        bootstrap: parse(&peers, "--peer")?,
        net: NetConfig {
            mdns,
            ..NetConfig::default()
        },
    };
    let listener = tokio::net::TcpListener::bind(api)
        .await
        .with_context(|| format!("cannot bind the API to {api}"))?;
    let api_addr = listener.local_addr()?;
    let handle = tim_node::start(keys.clone(), &home.join(home::DATA_DIR), cfg)
        .await
        .context("cannot start the node")?;
    // Wait (briefly) until every listener is up, so the addresses printed are complete.
    let mut status = handle.status().await?;
    for _ in 0..100 {
        if status.listen.len() >= listen.len() {
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
    println!("tim node running");
    println!("  node DID : {}", status.node_did);
    println!("  timite   : {}", status.timite);
    for a in &status.listen {
        println!("  listen   : {a}");
    }
    println!("  API      : {}", info.api);
    println!("  spaces   : {}", status.spaces);
    let app = tim_node::api::router(handle.clone(), token);
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

async fn space_command(client: &Client, command: SpaceCommand) -> Result<()> {
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
            println!("{}", s.id);
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
            println!("requirements set (change {})", done.change);
        }
        SpaceCommand::Invite { space, did, valid } => {
            let req = InviteRequest {
                did,
                expires_in_secs: Some(valid.as_secs()),
            };
            let done = client.invite(space, &req).await?;
            println!("invited {did} (change {})", done.change);
        }
        SpaceCommand::Role { space, did, role } => {
            let done = client.set_role(space, &did, &role).await?;
            println!("{did} is now {role} (change {})", done.change);
        }
        SpaceCommand::Kick { space, did } => {
            let done = client.kick(space, &did).await?;
            println!("removed {did} (change {})", done.change);
        }
        SpaceCommand::Ban { space, did } => {
            let done = client.set_role(space, &did, "banned").await?;
            println!("banned {did} (change {})", done.change);
        }
        SpaceCommand::Members { space, json } => {
            let members = client.members(space).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&members)?);
            } else {
                for m in members {
                    let imported = m
                        .imported_reputation
                        .map(|r| format!("  imported reputation {r}"))
                        .unwrap_or_default();
                    println!("{:<10} {}{imported}", m.role, m.did);
                }
            }
        }
        SpaceCommand::Join {
            space,
            via,
            present,
        } => {
            eprintln!("joining {space}: looking for hosts and syncing its history…");
            let s = client.join(space, via, present).await?;
            println!(
                "joined \"{}\": {} members, {} messages",
                s.name, s.members, s.messages
            );
        }
        SpaceCommand::List { json } => {
            let spaces = client.spaces().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&spaces)?);
            } else if spaces.is_empty() {
                println!("no spaces yet (tim space create NAME, or tim space join ID --via ADDR)");
            } else {
                for s in spaces {
                    println!(
                        "{}  {:<24} {:>3} members {:>6} messages",
                        s.id, s.name, s.members, s.messages
                    );
                }
            }
        }
        SpaceCommand::Export { space, out } => {
            let out = out.unwrap_or_else(|| PathBuf::from(format!("{space}.automerge")));
            let doc = client.export_document(space).await?;
            let sigs = client.export_signatures(space).await?;
            let sigs_path = sigs_path(&out);
            std::fs::write(&out, &doc)
                .with_context(|| format!("cannot write {}", out.display()))?;
            std::fs::write(&sigs_path, &sigs)
                .with_context(|| format!("cannot write {}", sigs_path.display()))?;
            println!(
                "wrote {} ({} bytes, Automerge document)",
                out.display(),
                doc.len()
            );
            println!(
                "wrote {} ({} bytes, signed changes)",
                sigs_path.display(),
                sigs.len()
            );
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
            let imported = client.import(bundle).await?;
            println!(
                "imported space {}: {} new changes, {} already here (every signature verified)",
                imported.space, imported.applied, imported.known
            );
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
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("unknown unit `{unit}` in `{s}`; use s, m, h or d")),
    };
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

async fn read(client: &Client, space: SpaceId, json: bool, follow: bool) -> Result<()> {
    let events = if follow {
        Some(client.events(space).await?)
    } else {
        None
    };
    let timeline = client.timeline(space).await?;
    if json && !follow {
        println!("{}", serde_json::to_string_pretty(&timeline)?);
        return Ok(());
    }
    for m in &timeline.messages {
        print_message(m, json)?;
    }
    if let Some(events) = events {
        let seen: std::collections::HashSet<String> =
            timeline.messages.iter().map(|m| m.id.clone()).collect();
        let mut events = Box::pin(events);
        while let Some(e) = events.next().await {
            if let SpaceEvent::Message { message, .. } = e? {
                if !seen.contains(&message.id) {
                    print_message(&message, json)?;
                }
            }
        }
    }
    Ok(())
}

fn print_message(m: &tim_protocol::api::MessageView, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string(m)?);
    } else {
        println!("[{}] {}: {}", format_time(m.at), m.author.short(), m.text);
    }
    Ok(())
}

fn format_time(ms: u64) -> String {
    let secs = ms / 1000;
    format!(
        "{:02}:{:02}:{:02}",
        (secs / 3600) % 24,
        (secs / 60) % 60,
        secs % 60
    )
}
