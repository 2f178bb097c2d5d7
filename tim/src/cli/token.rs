//! `tim token …`: API tokens that act as hosted timites.

use std::time::Duration;

use anyhow::Result;
use clap::Subcommand;
use tim_client::Client;
use tim_protocol::api::NewToken;
use tim_protocol::Did;

use super::parse_duration;
use crate::output::{errln, format_date, outln, shown, Out};

#[derive(Subcommand)]
pub(crate) enum TokenCommand {
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

/// `tim token …`.
pub(crate) async fn run(client: &Client, out: Out, command: TokenCommand) -> Result<()> {
    match command {
        TokenCommand::New { did, label, ttl } => {
            let req = NewToken {
                did,
                label,
                ttl_secs: ttl.map(|t| t.as_secs()),
            };
            let issued = client.new_token(&req).await?;
            out.print(&issued, |t| {
                outln!("{}", t.token)?;
                errln!(
                    "token {} for {}: shown once; the node keeps only its hash; revoke with `tim token revoke {}`",
                    t.info.id, t.info.did, t.info.id
                )
            })?;
        }
        TokenCommand::List => {
            let tokens = client.tokens().await?;
            out.print(&tokens, |all| {
                if all.is_empty() {
                    outln!("no tokens (besides the admin token in the node's home)")?;
                }
                for t in all {
                    let expires = t
                        .expires_at
                        .map(|ms| format!("expires {}", format_date(ms)))
                        .unwrap_or_else(|| "no expiry".into());
                    outln!(
                        "{}  {}  made {}  {expires}  {}",
                        t.id,
                        t.did,
                        format_date(t.created_at),
                        shown(&t.label)
                    )?;
                }
                Ok(())
            })?;
        }
        TokenCommand::Revoke { id } => {
            client.revoke_token(&id).await?;
            out.print(&serde_json::json!({ "revoked": id }), |_| {
                outln!("revoked token {id}")
            })?;
        }
    }
    Ok(())
}
