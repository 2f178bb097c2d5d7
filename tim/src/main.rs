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
//!
//! This file holds the top level of the command line and its dispatch; each command group
//! lives in a module of [`cli`], and [`output`] prints.

mod bench_support;
mod cli;
mod output;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{CommandFactory, Parser, Subcommand};
use tim_node::home;
use tim_protocol::{Did, SpaceId};

use crate::cli::{
    id, node, passport, space, testnet, timeline, timite, token, trust, IdCommand, MessageCommand,
    NodeCommand, PassportCommand, SpaceCommand, TestnetCommand, TimiteCommand, TokenCommand,
    TrustCommand,
};
use crate::output::{one_line, Out};

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
    /// Send a direct message: posted, end-to-end encrypted, in your space of two with that
    /// timite (made, and the other invited, the first time; it prints how they join).
    Dm {
        /// To whom (did:key).
        did: Did,
        /// The message.
        text: String,
    },
    /// Read a space's timeline: the latest messages (50 unless --limit says otherwise), or
    /// those before or since a message, oldest first.
    Read(timeline::ReadArgs),
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

/// Runs one command.
async fn run(cli: Cli) -> Result<()> {
    let home = home::resolve(cli.home.clone());
    let out = Out { json: cli.json };
    let client = || cli::client(&home, cli.node.clone(), cli.token.clone());
    match cli.command {
        Command::Init => id::init(&home, out)?,
        Command::Id { command } => id::run(&home, out, command)?,
        Command::Whoami => id::whoami(&client()?, out).await?,
        Command::Timite { command } => timite::run(&client()?, out, command).await?,
        Command::Token { command } => token::run(&client()?, out, command).await?,
        Command::Node { command } => node::run(&home, out, command).await?,
        Command::Space { command } => space::run(&client()?, out, command).await?,
        Command::Message { command } => timeline::message(&client()?, out, command).await?,
        Command::Post { space, text } => timeline::post(&client()?, out, space, &text).await?,
        Command::Read(args) => timeline::read(&client()?, out, args).await?,
        Command::Dm { did, text } => timeline::dm(&client()?, out, did, &text).await?,
        Command::Passport {
            command:
                PassportCommand::Verify {
                    file,
                    domain,
                    challenge,
                },
        } => passport::verify_file(out, &file, domain.as_deref(), challenge.as_deref()).await?,
        Command::Passport { command } => passport::run(&client()?, out, command).await?,
        Command::Trust { command } => trust::run(&client()?, out, command).await?,
        Command::Rate { space, did, score } => {
            timeline::rate(&client()?, out, space, did, score).await?
        }
        Command::Testnet { command } => testnet::run(out, command).await?,
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
