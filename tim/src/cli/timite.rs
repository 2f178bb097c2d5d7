//! `tim timite …`: the timites a node hosts (it holds their keys and signs for them).

use anyhow::Result;
use clap::Subcommand;
use tim_client::Client;

use crate::output::{outln, Out};

#[derive(Subcommand)]
pub(crate) enum TimiteCommand {
    /// List the hosted timites.
    List,
    /// Make a new timite on the node (admin token); prints its DID.
    New,
}

/// `tim timite …`.
pub(crate) async fn run(client: &Client, out: Out, command: TimiteCommand) -> Result<()> {
    match command {
        TimiteCommand::List => {
            let timites = client.timites().await?;
            out.print(&timites, |all| {
                for t in all {
                    let default = if t.default { "  (default)" } else { "" };
                    outln!("{}{default}", t.did)?;
                }
                Ok(())
            })?;
        }
        TimiteCommand::New => {
            let t = client.new_timite().await?;
            out.print(&t, |t| outln!("{}", t.did))?;
        }
    }
    Ok(())
}
