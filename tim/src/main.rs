//! `tim`: run a Tim node, talk to it, and run local testnets.
//!
//! Every command except `init`, `id`, `node run`, `passport verify`, `testnet`, `api` and
//! `completions` talks to a node over its HTTP API: the node of the home directory, or the one
//! `--node URL` (`$TIM_NODE`) names, with `--token` (`$TIM_TOKEN`) or the home's `api.token`.
//!
//! Output: human text on standard output, or with `--json` one JSON document (for
//! `read --follow`, one JSON object per line). Text other timites wrote is shown with its
//! control characters escaped ([`output::shown`]). Progress of long work (joining a space,
//! importing one, starting a testnet) is a spinner on standard error, shown only on a terminal
//! and never with `--json`; logs are coloured only on a terminal too. On failure `tim` prints
//! one line to standard error and exits with 1 (2 for a usage error): `error: <reason>`, or
//! with `--json` a JSON object ([`error_json`]). When the reader of its output goes away (`tim
//! read SPACE | head -1`), `tim` stops quietly with exit code 0. `tim completions SHELL`
//! prints a completion script.
//!
//! This file holds the top level of the command line and its dispatch; each command group
//! lives in a module of [`cli`], and [`output`] prints.

#![warn(clippy::print_stdout, clippy::print_stderr)]

mod bench_support;
mod cli;
mod output;

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::error::ErrorKind;
use clap::{CommandFactory, Parser, Subcommand};
use tim_client::ClientError;
use tim_node::home;
use tim_protocol::{Did, SpaceId};

use crate::cli::balances;
use crate::cli::threads;
use crate::cli::{
    ability, id, node, passport, space, testnet, timeline, timite, token, trust, AbilityCommand,
    IdCommand, MessageCommand, NodeCommand, PassportCommand, SpaceCommand, TestnetCommand,
    TimiteCommand, TokenCommand, TrustCommand,
};
use crate::cli::{agent, AgentCommand, ApiCommand};
use crate::cli::{governance, ProposeCommand, VoteRules};
use crate::cli::{memory, persona, MemoryCommand, PersonaCommand};
use crate::cli::{people, TimiteProfileCommand};
use crate::output::{errln, one_line, pipe_closed, safe_json, shown, Out, Stream};

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
    /// Post a message to a space (returns once it is on disk); `@did:key:…` in the text
    /// mentions that member (schema version 11), who is notified.
    Post {
        /// Space id.
        space: SpaceId,
        /// The message; `-` reads it from standard input (UTF-8, at most 16 KiB, its final line
        /// break dropped).
        #[arg(required_unless_present = "file", conflicts_with = "file")]
        text: Option<String>,
        /// Read the message from this file (UTF-8, at most 16 KiB, its final line break
        /// dropped).
        #[arg(long, value_name = "PATH")]
        file: Option<PathBuf>,
        /// Reply to this message (its id, as `tim read` shows it; schema version 10).
        #[arg(long, value_name = "MESSAGE_ID")]
        reply_to: Option<String>,
        /// Carry this file with the message (at most 64 KiB; schema version 11).
        #[arg(long, value_name = "FILE")]
        attach: Option<PathBuf>,
    },
    /// Save the file a message carries (by default under its own name, here).
    Attachment {
        /// Space id.
        space: SpaceId,
        /// Message id (as `tim read` shows it).
        message: String,
        /// Write it to this file.
        #[arg(short = 'o', long = "out", value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Your notifications, newest first: messages that mention you (`@did:key:…` in `tim
    /// post`) or reply to yours; `*` marks those after your read marker (`tim read` moves it).
    Notifications {
        /// Only those not seen yet.
        #[arg(long)]
        unseen: bool,
        /// Keep printing new ones as they arrive.
        #[arg(long)]
        follow: bool,
    },
    /// Edit one of your messages: the new text replaces it, the old one is kept in its history
    /// (schema version 10).
    Edit {
        /// Space id.
        space: SpaceId,
        /// Message id (as `tim read` shows it).
        message: String,
        /// The new text.
        text: String,
    },
    /// React to a message with an emoji, replacing your earlier reaction (schema version 10).
    React {
        /// Space id.
        space: SpaceId,
        /// Message id (as `tim read` shows it).
        message: String,
        /// The emoji (1 to 32 bytes, no spaces).
        emoji: String,
    },
    /// Print a message and its replies, direct and indirect, in timeline order.
    Thread {
        /// Space id.
        space: SpaceId,
        /// Message id (as `tim read` shows it).
        message: String,
    },
    /// Find the messages of a space that contain some text, ignoring case, newest first.
    Search {
        /// Space id.
        space: SpaceId,
        /// The text to find.
        query: String,
        /// How many matches, at most (1 to 100; default 20).
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..=100))]
        limit: Option<u16>,
        /// Matches older than this message id (the hint after a page names it).
        #[arg(long, value_name = "MESSAGE_ID")]
        before: Option<tim_protocol::MessageId>,
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
    /// Abilities: declare what you can do, find who can do something, ask, answer, rate.
    Ability {
        #[command(subcommand)]
        command: AbilityCommand,
    },
    /// A space's contribution tokens: every balance, or one timite's and its ledger.
    Tokens(balances::TokensArgs),
    /// Post a bounty: an `auto` request whose reward goes to whichever provider completes it.
    Bounty(balances::BountyArgs),
    /// Your profile (display name, bio, avatar) and handle; anyone's profile.
    Profile {
        #[command(subcommand)]
        command: TimiteProfileCommand,
    },
    /// Resolve a handle (NAME@HOST:PORT) by WebFinger at its node: its DID and profile.
    Whois {
        /// The handle.
        handle: String,
    },
    /// Personas shared in a space: publish a persona file, list them, show one's file.
    Persona {
        #[command(subcommand)]
        command: PersonaCommand,
    },
    /// Propose an action to a space's vote (a role, a ban, a meta key, requirements, a budget,
    /// an earned-role threshold); prints the proposal's id. Once it passes, its close enacts
    /// it, with no admin's signature.
    Propose {
        /// Space id.
        space: SpaceId,
        #[command(flatten)]
        rules: VoteRules,
        #[command(subcommand)]
        command: ProposeCommand,
    },
    /// A space's proposals, with their live tallies and your vote.
    Proposals {
        /// Space id.
        space: SpaceId,
        /// Only the open ones.
        #[arg(long)]
        open: bool,
    },
    /// Vote on a proposal, or change your vote until it closes; a vote that decides it is
    /// followed by its close.
    Vote {
        /// Space id.
        space: SpaceId,
        /// The proposal's id (or a unique prefix of it).
        proposal: String,
        /// yes, no or abstain.
        choice: String,
    },
    /// What a hosted agent remembers: show it, or erase it for real (admin token).
    Memory {
        #[command(subcommand)]
        command: MemoryCommand,
    },
    /// Agents: timites whose behaviour the node runs, from a persona (operator).
    Agent {
        #[command(subcommand)]
        command: AgentCommand,
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
    /// Serve MCP on stdio, acting as this home's timite (or the --token's): each JSON-RPC
    /// message goes to the running node's /mcp (docs/mcp.md). For desktop MCP clients.
    Mcp,
    /// Descriptions of the node's API: `tim api graphql-sdl` prints the GraphQL schema.
    Api {
        #[command(subcommand)]
        command: ApiCommand,
    },
    /// Print a shell completion script, e.g. `tim completions bash > /etc/bash_completion.d/tim`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

fn main() -> ExitCode {
    let json = json_asked(std::env::args_os());
    let cli = match cli::short_ids::parse::<Cli>(std::env::args_os().collect()) {
        Ok(Ok(cli)) => cli,
        Ok(Err(e)) => return usage_error(e, json),
        Err(e) => return failure(&e, json),
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("warn,tim_node=info,libp2p_kad=error")
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let result = tokio::runtime::Runtime::new()
        .map_err(|e| anyhow::Error::new(e).context("cannot start the runtime"))
        .and_then(|runtime| runtime.block_on(run(cli)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader has what it wanted (`tim read SPACE | head -1`).
        Err(_) if pipe_closed() => ExitCode::SUCCESS,
        Err(e) => failure(&e, json),
    }
}

/// A failed command: its one-line reason on standard error (JSON with `--json`), exit code 1.
fn failure(e: &anyhow::Error, json: bool) -> ExitCode {
    let line = if json {
        safe_json(error_json(e).to_string())
    } else {
        format!("error: {}", shown(&one_line(e)))
    };
    // Nothing more to do if standard error is gone too.
    let _ = errln!("{line}");
    ExitCode::FAILURE
}

/// Whether the command line asks for `--json` (before any `--`), read before it is parsed so
/// that a usage error is JSON too.
fn json_asked(args: impl Iterator<Item = OsString>) -> bool {
    args.take_while(|a| a != "--").any(|a| a == "--json")
}

/// A failure as one JSON object (`--json`): `{"error": "<the one-line reason>"}`, plus the
/// fields of the problem document (`type`, `title`, `status`, `detail`) when the node refused
/// the request.
fn error_json(e: &anyhow::Error) -> serde_json::Value {
    let problem = e
        .chain()
        .find_map(|c| match c.downcast_ref::<ClientError>() {
            Some(ClientError::Api(p)) => serde_json::to_value(p).ok(),
            _ => None,
        });
    let mut v = problem.unwrap_or_else(|| serde_json::json!({}));
    v["error"] = one_line(e).into();
    v
}

/// A command line clap refuses: help and version as clap prints them, anything else as one
/// line on standard error (JSON with `--json`), exit code 2.
fn usage_error(e: clap::Error, json: bool) -> ExitCode {
    let text = e.to_string();
    let reason = match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => e.exit(),
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => missing_command(&text),
        // `error: <what>`, then tips, the usage line and a pointer to --help.
        _ => text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| l.strip_prefix("error: ").unwrap_or(l))
            .collect::<Vec<_>>()
            .join("; "),
    };
    let line = if json {
        safe_json(serde_json::json!({ "error": reason }).to_string())
    } else {
        format!("error: {reason}")
    };
    let _ = errln!("{line}");
    ExitCode::from(2)
}

/// What is wrong with a command given without its subcommand (`tim space`), from the help clap
/// would print: `` `tim space` needs a command: create, invite, … ``.
fn missing_command(help: &str) -> String {
    let usage = help
        .lines()
        .find_map(|l| l.strip_prefix("Usage: "))
        .unwrap_or("tim");
    let command: Vec<&str> = usage
        .split_whitespace()
        .take_while(|w| !w.starts_with(['[', '<']))
        .collect();
    let command = command.join(" ");
    let commands: Vec<&str> = help
        .lines()
        .skip_while(|l| l.trim() != "Commands:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    format!(
        "`{command}` needs a command: {} (`{command} --help` says more)",
        commands.join(", ")
    )
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
        Command::Persona { command } => persona::run(&client()?, out, command).await?,
        Command::Profile { command } => people::run(&client()?, out, command).await?,
        Command::Whois { handle } => people::whois(&client()?, out, &handle).await?,
        Command::Memory { command } => memory::run(&client()?, out, command).await?,
        Command::Propose {
            space,
            rules,
            command,
        } => governance::propose(&client()?, out, space, rules, command).await?,
        Command::Proposals { space, open } => {
            governance::list(&client()?, out, space, open).await?
        }
        Command::Vote {
            space,
            proposal,
            choice,
        } => governance::vote(&client()?, out, space, &proposal, &choice).await?,
        Command::Node { command } => node::run(&home, out, command).await?,
        Command::Space { command } => space::run(&client()?, out, command).await?,
        Command::Message { command } => timeline::message(&client()?, out, command).await?,
        Command::Post {
            space,
            text,
            file,
            reply_to,
            attach,
        } => {
            let text = cli::post_input::message_text(text, file.as_deref())?;
            timeline::post(
                &client()?,
                out,
                space,
                &text,
                reply_to.as_deref(),
                attach.as_deref(),
            )
            .await?
        }
        Command::Attachment {
            space,
            message,
            out: file,
        } => timeline::attachment(&client()?, out, space, &message, file).await?,
        Command::Notifications { unseen, follow } => {
            timeline::notifications(&client()?, out, unseen, follow).await?
        }
        Command::Edit {
            space,
            message,
            text,
        } => threads::edit(&client()?, out, space, &message, &text).await?,
        Command::React {
            space,
            message,
            emoji,
        } => threads::react(&client()?, out, space, &message, &emoji).await?,
        Command::Thread { space, message } => {
            threads::thread(&client()?, out, space, &message).await?
        }
        Command::Search {
            space,
            query,
            limit,
            before,
        } => {
            threads::search(
                &client()?,
                out,
                space,
                query,
                limit.map(usize::from),
                before,
            )
            .await?
        }
        Command::Read(args) => timeline::read(&client()?, out, args).await?,
        Command::Dm { did, text } => timeline::dm(&client()?, out, did, &text).await?,
        Command::Ability { command } => ability::run(&client()?, out, command).await?,
        Command::Tokens(args) => balances::tokens(&client()?, out, args).await?,
        Command::Bounty(args) => balances::bounty(&client()?, out, args).await?,
        Command::Agent { command } => agent::run(&client()?, out, command).await?,
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
        Command::Mcp => cli::mcp::serve(client()?).await?,
        Command::Api { command } => cli::api::run(command)?,
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "tim", &mut script);
            Stream::Stdout.write_all(&script)?;
        }
    }
    Ok(())
}
