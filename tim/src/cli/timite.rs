//! `tim timite …`: the timites a node hosts (it holds their keys and signs for them).

use anyhow::Result;
use clap::{Args, Subcommand};
use tim_client::Client;
use tim_protocol::api::NewSignInKey;
use tim_protocol::Did;

use crate::output::{outln, Out};

#[derive(Subcommand)]
pub(crate) enum TimiteCommand {
    /// List the hosted timites.
    List,
    /// Make a new timite on the node (admin token); prints its DID.
    New,
    /// The keys allowed to sign in as a timite (a browser's, a device's), and adding and
    /// removing them.
    Keys(KeysArgs),
}

/// `tim timite keys [DID]` lists; its subcommands add and remove.
#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct KeysArgs {
    /// The timite (default: the one the token acts as).
    did: Option<Did>,
    #[command(subcommand)]
    command: Option<KeysCommand>,
}

#[derive(Subcommand)]
pub(crate) enum KeysCommand {
    /// Allow a did:key to sign in as the timite (the web page shows its browser's key and
    /// this command).
    Add {
        /// The key, as a did:key.
        key: Did,
        /// A note ("Ann's laptop browser").
        #[arg(long, default_value = "")]
        label: String,
        /// The timite (default: the one the token acts as).
        #[arg(long)]
        did: Option<Did>,
    },
    /// Stop a key signing in; the sign-in tokens it made stop working.
    Remove {
        /// The key, as a did:key.
        key: Did,
        /// The timite (default: the one the token acts as).
        #[arg(long)]
        did: Option<Did>,
    },
}

/// The timite a keys command is about: the one named, or the token's.
async fn timite_of(client: &Client, did: Option<Did>) -> Result<Did> {
    Ok(match did {
        Some(did) => did,
        None => client.me().await?.did,
    })
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
        TimiteCommand::Keys(KeysArgs { did, command: None }) => {
            let did = timite_of(client, did).await?;
            let keys = client.sign_in_keys(&did).await?;
            out.print(&keys, |all| {
                for k in all {
                    outln!("{}  {}", k.key, k.label)?;
                }
                Ok(())
            })?;
        }
        TimiteCommand::Keys(KeysArgs {
            command: Some(KeysCommand::Add { key, label, did }),
            ..
        }) => {
            let did = timite_of(client, did).await?;
            let added = client
                .add_sign_in_key(&did, &NewSignInKey { key, label })
                .await?;
            out.print(&added, |k| outln!("{} may sign in as {did}", k.key))?;
        }
        TimiteCommand::Keys(KeysArgs {
            command: Some(KeysCommand::Remove { key, did }),
            ..
        }) => {
            let did = timite_of(client, did).await?;
            let removed = client.remove_sign_in_key(&did, &key).await?;
            out.print(&removed, |r| {
                outln!(
                    "{} removed; {} sign-in token(s) revoked",
                    r.removed,
                    r.revoked_tokens.len()
                )
            })?;
        }
    }
    Ok(())
}
