//! `tim persona …`: personas shared in a space as signed, content-addressed documents
//! (docs/agents.md "Publishing personas"): publish a persona file, list a space's, show one's
//! file byte for byte (what adopting it runs), delete one.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Subcommand;
use tim_client::Client;
use tim_protocol::SpaceId;

use crate::cli::agent::{new_agent, ModelArgs};
use crate::output::{format_date, outln, shown, Out, Stream};

#[derive(Subcommand)]
pub(crate) enum PersonaCommand {
    /// Publish a persona file (TOML, at most 16 KiB) in a space; prints its id (the SHA-256
    /// of the file). The owner's or an admin's first publication migrates the space.
    Publish {
        /// Space id.
        space: SpaceId,
        /// The persona file.
        file: PathBuf,
    },
    /// List the personas published in a space.
    List {
        /// Space id.
        space: SpaceId,
    },
    /// Print a published persona's file exactly as it was published.
    Show {
        /// Space id.
        space: SpaceId,
        /// The persona's id (`sha256:…`, as `tim persona list` shows it).
        persona: String,
    },
    /// Run a persona published in a space on this node, as a new agent (a new timite) that
    /// joins that space (operator); prints the agent's DID.
    Adopt {
        /// Space id.
        space: SpaceId,
        /// The persona's id (`sha256:…`).
        persona: String,
        /// The agent's name on this node. Default: the persona's name.
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        model: ModelArgs,
    },
    /// Delete a published persona (its author, or an admin).
    Delete {
        /// Space id.
        space: SpaceId,
        /// The persona's id.
        persona: String,
    },
}

/// `tim persona …`.
pub(crate) async fn run(client: &Client, out: Out, command: PersonaCommand) -> Result<()> {
    match command {
        PersonaCommand::Publish { space, file } => {
            let toml = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read the persona file {}", file.display()))?;
            let made = client.publish_persona(space, &toml).await?;
            out.print(&made, |m| outln!("{}", m.id))?;
        }
        PersonaCommand::List { space } => {
            let all = client.personas(space).await?;
            out.print(&all, |all| {
                if all.is_empty() {
                    outln!("no personas published in this space")?;
                }
                for p in all {
                    outln!(
                        "{}  {}  by {}  {}",
                        p.id,
                        shown(&p.name),
                        p.author.short(),
                        format_date(p.published)
                    )?;
                    if !p.description.is_empty() {
                        outln!("    {}", shown(&p.description))?;
                    }
                }
                Ok(())
            })?;
        }
        PersonaCommand::Show { space, persona } => {
            let p = client.persona(space, &persona).await?;
            out.print(&p, |p| {
                if std::io::stdout().is_terminal() {
                    // Another timite's text reaches a terminal escaped, line by line.
                    for line in p.toml.lines() {
                        outln!("{}", shown(line))?;
                    }
                    Ok(())
                } else {
                    // Byte for byte into a file or a pipe: what `agent new --persona` reads.
                    Stream::Stdout.write_all(p.toml.as_bytes())
                }
            })?;
        }
        PersonaCommand::Adopt {
            space,
            persona,
            name,
            model,
        } => {
            let p = client.persona(space, &persona).await?;
            let name = name.unwrap_or_else(|| agent_name(&p.name));
            new_agent(
                client,
                out,
                model.request(name, p.toml, vec![space], Vec::new()),
            )
            .await?;
        }
        PersonaCommand::Delete { space, persona } => {
            let done = client.delete_persona(space, &persona).await?;
            out.print(&done, |d| outln!("deleted {persona} (change {})", d.change))?;
        }
    }
    Ok(())
}

/// An agent name made from a persona's name: lowercased, with every character outside
/// `a-z 0-9 - _ .` made `-`, at most 32 bytes.
fn agent_name(persona: &str) -> String {
    let name: String = persona
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '-' | '_' | '.') => c,
            _ => '-',
        })
        .take(32)
        .collect();
    if name.is_empty() {
        "agent".into()
    } else {
        name
    }
}
