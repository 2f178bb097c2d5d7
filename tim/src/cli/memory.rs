//! `tim memory …`: what a hosted agent remembers (docs/agents.md "Memory"), shown or erased
//! by the operator. Memory stays on its node; `forget` erases it from the node's store.

use anyhow::Result;
use clap::Subcommand;
use tim_client::Client;
use tim_protocol::api::{MemoryLayer, MemoryQuery};
use tim_protocol::SpaceId;

use crate::output::{format_date, outln, shown, Out};

#[derive(Subcommand)]
pub(crate) enum MemoryCommand {
    /// Show an agent's newest memory entries, oldest first (admin token).
    Show {
        /// The agent's name or DID.
        agent: String,
        /// Only what concerns this space.
        #[arg(long)]
        space: Option<SpaceId>,
        /// Only this layer: session, space, personal or meta.
        #[arg(long)]
        layer: Option<MemoryLayer>,
        /// At most this many entries (1 to 1000).
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Erase an agent's memory, all of it or of a space or a layer (admin token): gone from
    /// the node's store before it answers.
    Forget {
        /// The agent's name or DID.
        agent: String,
        /// Only what concerns this space.
        #[arg(long)]
        space: Option<SpaceId>,
        /// Only this layer: session, space, personal or meta.
        #[arg(long)]
        layer: Option<MemoryLayer>,
    },
}

/// `tim memory …`.
pub(crate) async fn run(client: &Client, out: Out, command: MemoryCommand) -> Result<()> {
    match command {
        MemoryCommand::Show {
            agent,
            space,
            layer,
            limit,
        } => {
            let q = MemoryQuery {
                space,
                layer,
                limit: Some(limit),
            };
            let entries = client.memory(&agent, &q).await?;
            out.print(&entries, |all| {
                if all.is_empty() {
                    outln!("nothing remembered")?;
                }
                for e in all {
                    let about = e
                        .about
                        .map(|d| format!(" {}:", d.short()))
                        .unwrap_or_default();
                    outln!(
                        "{}  {:<8}{about} {}",
                        format_date(e.at),
                        e.layer.as_str(),
                        shown(&e.text)
                    )?;
                }
                Ok(())
            })?;
        }
        MemoryCommand::Forget {
            agent,
            space,
            layer,
        } => {
            let q = MemoryQuery {
                space,
                layer,
                limit: None,
            };
            let gone = client.forget_memory(&agent, &q).await?;
            out.print(&gone, |g| outln!("erased {} entries", g.erased))?;
        }
    }
    Ok(())
}
