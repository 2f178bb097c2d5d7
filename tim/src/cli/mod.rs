//! The command groups of `tim`, one module each, and what they share: the API client of the
//! home's node, the home's keys, and durations as arguments.

pub(crate) mod ability;
pub(crate) mod agent;
pub(crate) mod api;
pub(crate) mod balances;
pub(crate) mod chain;
pub(crate) mod earned;
pub(crate) mod governance;
pub(crate) mod id;
pub(crate) mod join_progress;
pub(crate) mod link;
pub(crate) mod mcp;
pub(crate) mod memory;
pub(crate) mod node;
pub(crate) mod passport;
pub(crate) mod people;
pub(crate) mod persona;
pub(crate) mod post_input;
pub(crate) mod profile;
pub(crate) mod serve_mcp;
pub(crate) mod short_ids;
pub(crate) mod space;
pub(crate) mod testnet;
pub(crate) mod threads;
pub(crate) mod timeline;
pub(crate) mod timite;
pub(crate) mod token;
pub(crate) mod trust;

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use tim_client::Client;
use tim_did::Keystore;
use tim_node::home;

pub(crate) use ability::AbilityCommand;
pub(crate) use agent::AgentCommand;
pub(crate) use api::ApiCommand;
pub(crate) use governance::{ProposeCommand, VoteRules};
pub(crate) use id::IdCommand;
pub(crate) use memory::MemoryCommand;
pub(crate) use node::NodeCommand;
pub(crate) use passport::PassportCommand;
pub(crate) use people::TimiteProfileCommand;
pub(crate) use persona::PersonaCommand;
pub(crate) use space::SpaceCommand;
pub(crate) use testnet::TestnetCommand;
pub(crate) use timeline::MessageCommand;
pub(crate) use timite::TimiteCommand;
pub(crate) use token::TokenCommand;
pub(crate) use trust::TrustCommand;

/// The home's keys, or an error saying how to make them.
pub(crate) fn open_keys(home: &Path) -> Result<Keystore> {
    Keystore::open(home).with_context(|| {
        format!(
            "no identity in {}; run `tim init --home {}` first",
            home.display(),
            home.display()
        )
    })
}

/// A client of the node `node` names (else the home's running node), with `token` (else the
/// home's API token).
pub(crate) fn client(home: &Path, node: Option<String>, token: Option<String>) -> Result<Client> {
    let url = match node {
        Some(u) => u,
        None => {
            home::read_runtime(home)
                .with_context(|| {
                    format!(
                        "no running node found for {} (start one with `tim node run`, or pass --node URL)",
                        home.display()
                    )
                })?
                .api
        }
    };
    let token = match token {
        Some(t) => t,
        None => home::read_token(home)
            .with_context(|| format!("no API token in {} (pass --token)", home.display()))?,
    };
    Ok(Client::new(&url, &token))
}

/// Parses `90`, `30s`, `10m`, `2h` or `7d`.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration (e.g. 30s, 10m, 2h, 7d)"))?;
    let unit_secs: u64 = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("unknown unit `{unit}` in `{s}`; use s, m, h or d")),
    };
    let secs = n
        .checked_mul(unit_secs)
        .ok_or_else(|| format!("`{s}` is too long"))?;
    if secs == 0 {
        return Err("a duration must be positive".into());
    }
    Ok(Duration::from_secs(secs))
}
