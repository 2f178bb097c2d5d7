//! `tim trust …`: this node's trust policy, which issuers' credentials count and how much.

use anyhow::{bail, Result};
use clap::Subcommand;
use tim_client::Client;
use tim_protocol::api::TrustEntry;
use tim_protocol::SpaceId;

use crate::output::{outln, shown, Out};

#[derive(Subcommand)]
pub(crate) enum TrustCommand {
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

/// `tim trust …`.
pub(crate) async fn run(client: &Client, out: Out, command: TrustCommand) -> Result<()> {
    let as_issuer = |s: String| match s.parse::<SpaceId>() {
        Ok(id) => id.iri(),
        Err(_) => s,
    };
    match command {
        TrustCommand::List => {
            let policy = client.trust().await?;
            out.print(&policy, |policy| {
                if policy.is_empty() {
                    outln!("no entries: only spaces this node hosts count (weight 1)")?;
                }
                for e in policy {
                    outln!("{:<6} {}", e.weight, shown(&e.issuer))?;
                }
                Ok(())
            })?;
        }
        TrustCommand::Set { issuer, weight } => {
            let entry = TrustEntry {
                issuer: as_issuer(issuer),
                weight,
            };
            client.set_trust(&entry).await?;
            out.print(&entry, |e| {
                outln!("{} now counts with weight {}", shown(&e.issuer), e.weight)
            })?;
        }
        TrustCommand::Remove { issuer } => {
            let issuer = as_issuer(issuer);
            if !client.trust().await?.iter().any(|e| e.issuer == issuer) {
                bail!(
                    "the trust policy has no entry for {}; `tim trust list` shows its entries",
                    shown(&issuer)
                );
            }
            let entry = TrustEntry {
                issuer,
                weight: 0.0,
            };
            client.set_trust(&entry).await?;
            out.print(&entry, |e| {
                outln!("{} removed from the policy", shown(&e.issuer))
            })?;
        }
    }
    Ok(())
}
