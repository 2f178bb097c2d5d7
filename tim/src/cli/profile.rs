//! `tim space show|profile|budget …`: a space's summary with its profile, setting the profile
//! (kind, style, initiative), and its per-role action budgets (docs/governance.md "Budgets"
//! and "Space profiles"; schema version 9).

use anyhow::{bail, Result};
use clap::Subcommand;
use tim_client::Client;
use tim_protocol::api::{Budgets, RoleBudget, SetProfile, SpaceProfile};
use tim_protocol::SpaceId;

use crate::output::{outln, shown, Out};

#[derive(Subcommand)]
pub(crate) enum ProfileCommand {
    /// Show a space: name, purpose, members, messages, schema version and profile.
    Show {
        /// Space id.
        space: SpaceId,
    },
    /// Show the space's profile, or set fields of it (admins; schema version 9).
    Profile {
        /// Space id.
        space: SpaceId,
        /// What kind of space it is.
        #[arg(long, value_parser = ["goal", "social", "problem-solving", "creative"])]
        kind: Option<String>,
        /// How timites write there.
        #[arg(long, value_parser = ["formal", "casual"])]
        style: Option<String>,
        /// Whether agents may start conversations (proactive) or only answer (reactive).
        #[arg(long, value_parser = ["reactive", "proactive"])]
        initiative: Option<String>,
    },
    /// Show the space's action budgets, or set a role's (admins; schema version 9): how many
    /// of the last PERIOD messages (and requests) one member of the role may have authored,
    /// and how many unused invitations it may hold. Counts not given stay as they are.
    Budget {
        /// Space id.
        space: SpaceId,
        /// The role whose budget to set (member, moderator, admin or a defined role).
        #[arg(conflicts_with = "clear")]
        role: Option<String>,
        /// Most of the last PERIOD messages one member of the role may have posted.
        #[arg(long, requires = "role")]
        posts: Option<u64>,
        /// Most of the last PERIOD ability requests one member of the role may have made.
        #[arg(long, requires = "role")]
        requests: Option<u64>,
        /// Most unused invitations one member of the role may hold.
        #[arg(long, requires = "role")]
        invites: Option<u64>,
        /// The window, in messages (and requests), for every role. Default for a first budget:
        /// 10.
        #[arg(long)]
        period: Option<u64>,
        /// Remove ROLE's budget (its members are then unlimited).
        #[arg(long, value_name = "ROLE")]
        clear: Option<String>,
    },
}

/// `tim space show|profile|budget …`.
pub(crate) async fn run(client: &Client, out: Out, command: ProfileCommand) -> Result<()> {
    match command {
        ProfileCommand::Show { space } => {
            let s = client.space(space).await?;
            out.print(&s, |s| {
                outln!("{}  {}", s.id, shown(&s.name))?;
                if !s.purpose.is_empty() {
                    outln!("purpose: {}", shown(&s.purpose))?;
                }
                outln!(
                    "{} members, {} messages, {}, schema version {}",
                    s.members,
                    s.messages,
                    s.visibility,
                    s.schema_version
                )?;
                print_profile(&s.profile)
            })?;
        }
        ProfileCommand::Profile {
            space,
            kind,
            style,
            initiative,
        } => {
            if kind.is_none() && style.is_none() && initiative.is_none() {
                let p = client.profile(space).await?;
                out.print(&p, print_profile)?;
            } else {
                let set = SetProfile {
                    kind,
                    style,
                    initiative,
                };
                let done = client.set_profile(space, &set).await?;
                out.print(&done, |d| outln!("profile set (change {})", d.change))?;
            }
        }
        ProfileCommand::Budget {
            space,
            role,
            posts,
            requests,
            invites,
            period,
            clear,
        } => {
            let current = client.budgets(space).await?;
            let changes = role.is_some() || period.is_some() || clear.is_some();
            if !changes {
                out.print(&current, |b| print_budgets(b.as_ref()))?;
                return Ok(());
            }
            let mut budgets = current.unwrap_or_default();
            if let Some(p) = period {
                budgets.period = p;
            }
            if let Some(r) = clear {
                if budgets.roles.remove(&r).is_none() {
                    bail!("{r} has no budget in this space");
                }
            }
            if let Some(r) = role {
                let counts = RoleBudget {
                    posts,
                    requests,
                    invites,
                };
                budgets.set_role(&r, counts);
            }
            let done = client.set_budgets(space, &budgets).await?;
            out.print(&done, |d| outln!("budgets set (change {})", d.change))?;
        }
    }
    Ok(())
}

/// The profile's set fields as `  [kind, style, initiative]` for a line of `tim space
/// list`; empty when none is set.
pub(crate) fn tags(p: &SpaceProfile) -> String {
    let set: Vec<&str> = [&p.kind, &p.style, &p.initiative]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect();
    if set.is_empty() {
        String::new()
    } else {
        format!("  [{}]", set.join(", "))
    }
}

fn print_profile(p: &SpaceProfile) -> std::io::Result<()> {
    let unset = |v: &Option<String>| v.clone().unwrap_or_else(|| "not set".into());
    outln!("kind: {}", unset(&p.kind))?;
    outln!("style: {}", unset(&p.style))?;
    outln!("initiative: {}", unset(&p.initiative))?;
    if p.requirements.is_empty() {
        outln!("requirements: none")
    } else {
        outln!("requirements: {}", p.requirements.join("; "))
    }
}

fn print_budgets(b: Option<&Budgets>) -> std::io::Result<()> {
    let Some(b) = b.filter(|b| !b.roles.is_empty()) else {
        return outln!("no budgets: nobody is held back");
    };
    let count = |n: Option<u64>| n.map_or_else(|| "unlimited".to_string(), |n| n.to_string());
    outln!("per {} messages (and requests):", b.period)?;
    for (role, r) in &b.roles {
        outln!(
            "{role:<16} posts {:<10} requests {:<10} unused invitations {}",
            count(r.posts),
            count(r.requests),
            count(r.invites)
        )?;
    }
    Ok(())
}
