//! Identities: `tim init`, `tim id show` (the home's keys, no node needed) and `tim whoami`
//! (who an API token acts as).

use std::path::Path;

use anyhow::Result;
use clap::Subcommand;
use tim_client::Client;
use tim_did::Keystore;
use tim_node::home;

use super::open_keys;
use crate::output::{outln, Out};

#[derive(Subcommand)]
pub(crate) enum IdCommand {
    /// Show this home's timite DID and node DID.
    Show,
}

/// `tim init`: the node key, a first timite and an API token in `home`.
pub(crate) fn init(home: &Path, out: Out) -> Result<()> {
    let keys = Keystore::init(home)?;
    home::new_token(home)?;
    let v = serde_json::json!({
        "home": home,
        "timite": keys.timite.did(),
        "node": keys.node.did(),
    });
    out.print(&v, |_| {
        outln!("initialised {}", home.display())?;
        outln!("timite DID: {}", keys.timite.did())?;
        outln!("node DID:   {}", keys.node.did())
    })
}

/// `tim id …`.
pub(crate) fn run(home: &Path, out: Out, command: IdCommand) -> Result<()> {
    match command {
        IdCommand::Show => {
            let keys = open_keys(home)?;
            let peer_id = tim_node::peer_id_of(&keys.node);
            let v = serde_json::json!({
                "timite": keys.timite.did(),
                "node": keys.node.did(),
                "peer_id": peer_id.to_string(),
            });
            out.print(&v, |_| {
                outln!("timite DID: {}", keys.timite.did())?;
                outln!("node DID:   {}", keys.node.did())?;
                outln!("peer id:    {peer_id}")
            })
        }
    }
}

/// `tim whoami`.
pub(crate) async fn whoami(client: &Client, out: Out) -> Result<()> {
    let me = client.me().await?;
    out.print(&me, |me| {
        outln!("{}", me.did)?;
        match &me.token_id {
            Some(id) if !me.admin => outln!("token {id}"),
            _ => outln!("admin token"),
        }
    })
}
