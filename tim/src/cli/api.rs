//! `tim api …`: descriptions of the node's API that need no running node.

use std::io::Write;

use anyhow::Result;
use clap::Subcommand;

use crate::output::Stream;

#[derive(Subcommand)]
pub(crate) enum ApiCommand {
    /// Print the GraphQL schema of `/v1/graphql` (SDL; docs/graphql.sdl holds it too).
    GraphqlSdl,
}

/// Runs an `api` subcommand.
pub(crate) fn run(command: ApiCommand) -> Result<()> {
    match command {
        ApiCommand::GraphqlSdl => {
            Stream::Stdout.write_all(tim_node::api::graphql::sdl().as_bytes())?;
        }
    }
    Ok(())
}
