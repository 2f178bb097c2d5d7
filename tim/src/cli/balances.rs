//! `tim tokens` and `tim bounty`: a space's contribution tokens (docs/governance.md
//! "Tokens"): balances and one timite's ledger, and a request whose reward goes to whichever
//! provider completes it.

use std::time::Duration;

use anyhow::Result;
use tim_client::Client;
use tim_protocol::api::{AbilityRequest, NewRequest, TokenBalances};
use tim_protocol::{Did, SpaceId};

use super::ability::json_arg;
use super::parse_duration;
use crate::output::{outln, Out};

/// Which balances `tim tokens` prints.
#[derive(clap::Args)]
pub(crate) struct TokensArgs {
    /// Space id.
    space: SpaceId,
    /// Show this timite's ledger: what moved, and why.
    did: Option<Did>,
    /// Set the policy's join grant first (admins; the other values stay).
    #[arg(long)]
    join_grant: Option<u64>,
    /// Set the tokens minted per outcome rated 4 or 5 first (admins).
    #[arg(long)]
    outcome_mint: Option<u64>,
    /// Set the most tokens minted per requester-provider pair first (admins).
    #[arg(long)]
    pair_cap: Option<u64>,
}

/// The bounty `tim bounty` posts.
#[derive(clap::Args)]
pub(crate) struct BountyArgs {
    /// Space id.
    space: SpaceId,
    /// The ability's name.
    ability: String,
    /// Tokens held from your balance and paid to whoever's result completes it.
    #[arg(long)]
    reward: u64,
    /// The input, as JSON, or @FILE.
    #[arg(long)]
    input: String,
    /// How long it stays open (e.g. 30s, 10m, 2h).
    #[arg(long, value_parser = parse_duration, default_value = "10m")]
    timeout: Duration,
}

/// `tim tokens SPACE [DID] [--join-grant N] [--outcome-mint N] [--pair-cap N]`: sets the
/// policy values given, then prints the balances.
pub(crate) async fn tokens(client: &Client, out: Out, args: TokensArgs) -> Result<()> {
    if args.join_grant.is_some() || args.outcome_mint.is_some() || args.pair_cap.is_some() {
        let mut p = client.token_balances(args.space, None).await?.policy;
        p.join_grant = args.join_grant.unwrap_or(p.join_grant);
        p.outcome_mint = args.outcome_mint.unwrap_or(p.outcome_mint);
        p.pair_cap = args.pair_cap.unwrap_or(p.pair_cap);
        client.set_token_policy(args.space, &p).await?;
    }
    let b = client.token_balances(args.space, args.did.as_ref()).await?;
    out.print(&b, |b| print_balances(b, args.did.as_ref()))
}

fn print_balances(b: &TokenBalances, did: Option<&Did>) -> std::io::Result<()> {
    let p = &b.policy;
    outln!(
        "policy: join grant {}, {} minted per outcome rated 4 or 5, at most {} per pair",
        p.join_grant,
        p.outcome_mint,
        p.pair_cap
    )?;
    for t in b
        .balances
        .iter()
        .filter(|t| did.is_none_or(|d| *d == t.did))
    {
        outln!("{}  {}", t.did, t.balance)?;
    }
    for l in b.ledger.iter().flatten() {
        let sign = match l.kind.as_str() {
            "escrow" => "-",
            "unfunded" => " ",
            _ => "+",
        };
        let request = l
            .request
            .as_ref()
            .map(|r| format!("  request {r}"))
            .unwrap_or_default();
        let with = l
            .counterpart
            .map(|c| format!("  from {}", c.short()))
            .unwrap_or_default();
        outln!(
            "  {sign}{:<6} {:<10} balance {}{request}{with}",
            l.amount,
            l.kind,
            l.balance
        )?;
    }
    Ok(())
}

/// `tim bounty SPACE ABILITY --reward N --input JSON`: an `auto` request carrying a reward.
pub(crate) async fn bounty(client: &Client, out: Out, args: BountyArgs) -> Result<()> {
    let req = NewRequest {
        ability: args.ability,
        input: json_arg("--input", &args.input)?,
        to: None,
        timeout_secs: Some(args.timeout.as_secs()),
        reward: Some(args.reward),
    };
    let made = client.request_ability(args.space, &req).await?;
    out.print(&made, |m| outln!("{}", m.id))
}

/// How a request's reward reads in a listing: `, reward N` (and `unfunded` when the
/// requester's balance did not cover it).
pub(crate) fn reward_note(r: &AbilityRequest) -> String {
    match (r.reward, r.funded) {
        (Some(n), Some(false)) => format!(", reward {n} (unfunded)"),
        (Some(n), _) => format!(", reward {n}"),
        _ => String::new(),
    }
}
