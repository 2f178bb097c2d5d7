//! `tim propose …`, `tim proposals …`, `tim vote …`: decisions a space takes by vote
//! (docs/governance.md "Proposals and votes"). A proposal names an action (a role, a ban, a
//! meta key's new value); once it passes, its close enacts it with no admin's signature.
//! `budget` and `threshold` read the space's current `budgets` or `earned_roles`, change one
//! entry, and propose the whole new value.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};
use tim_client::Client;
use tim_protocol::api::{Choice, NewProposal, Outcome, ProposalAction, ProposalView};
use tim_protocol::{Did, SpaceId};

use crate::output::{outln, shown, Out};

/// How a proposal is voted on, whatever its action.
#[derive(Args)]
pub(crate) struct VoteRules {
    /// The least number of votes cast for it to pass.
    #[arg(long, global = true)]
    quorum: Option<u64>,
    /// The share of the eligible voters that must vote yes, strictly more (0 to 1).
    #[arg(long, global = true, default_value_t = 0.5)]
    threshold: f64,
    /// Once this many votes are cast it may be closed, passed or failed.
    #[arg(long, global = true)]
    closes_after: Option<u64>,
    /// The least role that votes (default member: every member but the banned and guests).
    #[arg(long, global = true)]
    min_role: Option<String>,
    /// The least reputation score that votes (on top of --min-role).
    #[arg(long, global = true)]
    min_reputation: Option<u64>,
}

/// What a proposal does once it passes.
#[derive(Subcommand)]
pub(crate) enum ProposeCommand {
    /// Give a member a role (promote or demote).
    Role {
        /// The member.
        did: Did,
        /// A built-in role below owner, or one the space defines.
        role: String,
    },
    /// Ban a member.
    Ban {
        /// The member.
        did: Did,
    },
    /// Set a meta key (purpose, kind, style, …) to a string (JSON keys take their JSON text).
    Meta {
        /// The key.
        key: String,
        /// Its new value.
        value: String,
    },
    /// Set the join requirements (a JSON list, as `tim space requirements` writes it).
    Requirements {
        /// The requirements, JSON.
        json: String,
    },
    /// Set one role's action budget per causal period (absent counts are unlimited).
    Budget {
        /// The role.
        role: String,
        /// Posts per period.
        #[arg(long)]
        posts: Option<u64>,
        /// Requests per period.
        #[arg(long)]
        requests: Option<u64>,
        /// Invitations per period.
        #[arg(long)]
        invites: Option<u64>,
        /// The period (needed when the space has no budgets yet).
        #[arg(long)]
        period: Option<u64>,
    },
    /// Set the threshold at which a role is earned: by reputation, or by the reputation of an
    /// ability.
    Threshold {
        /// The role earned.
        role: String,
        /// The least reputation.
        #[arg(long, conflicts_with_all = ["ability", "min_ability_reputation"])]
        min_reputation: Option<i64>,
        /// The ability whose reputation counts.
        #[arg(long, requires = "min_ability_reputation")]
        ability: Option<String>,
        /// The least reputation in that ability.
        #[arg(long, requires = "ability")]
        min_ability_reputation: Option<i64>,
    },
}

/// `tim propose SPACE …`: prints the proposal's id.
pub(crate) async fn propose(
    client: &Client,
    out: Out,
    space: SpaceId,
    rules: VoteRules,
    command: ProposeCommand,
) -> Result<()> {
    if !(0.0..=1.0).contains(&rules.threshold) {
        bail!(
            "--threshold is a share from 0 to 1, not {}",
            rules.threshold
        );
    }
    let action = action(client, space, command).await?;
    let req = NewProposal {
        action,
        min_role: rules.min_role,
        min_reputation: rules.min_reputation,
        quorum: rules.quorum,
        threshold: Some((rules.threshold * 1000.0).round() as u64),
        closes_after: rules.closes_after,
    };
    let made = client.propose(space, &req).await?;
    out.print(&made, |m| outln!("{}", m.id))
}

/// The action `command` names; `budget` and `threshold` build the whole new value from the
/// current one.
async fn action(
    client: &Client,
    space: SpaceId,
    command: ProposeCommand,
) -> Result<ProposalAction> {
    let meta = |key: &str, value: Value| ProposalAction::Meta {
        key: key.to_string(),
        value: value.to_string(),
    };
    Ok(match command {
        ProposeCommand::Role { did, role } => ProposalAction::Role { did, role },
        ProposeCommand::Ban { did } => ProposalAction::Ban { did },
        ProposeCommand::Meta { key, value } => ProposalAction::Meta { key, value },
        ProposeCommand::Requirements { json } => {
            let v: Value = serde_json::from_str(&json).context("the requirements are not JSON")?;
            meta("requirements", v)
        }
        ProposeCommand::Budget {
            role,
            posts,
            requests,
            invites,
            period,
        } => {
            let current = current(client, space, "budgets").await?;
            meta(
                "budgets",
                with_budget(current, &role, [posts, requests, invites], period)?,
            )
        }
        ProposeCommand::Threshold {
            role,
            min_reputation,
            ability,
            min_ability_reputation,
        } => {
            let entry = match (min_reputation, ability, min_ability_reputation) {
                (Some(n), None, None) => json!({ "role": role, "min_reputation": n }),
                (None, Some(a), Some(n)) => {
                    json!({ "role": role, "ability": a, "min_ability_reputation": n })
                }
                _ => bail!("give --min-reputation N, or --ability A --min-ability-reputation N"),
            };
            let current = current(client, space, "earned_roles").await?;
            meta("earned_roles", with_threshold(current, entry)?)
        }
    })
}

/// The JSON under meta key `key` now, if any.
async fn current(client: &Client, space: SpaceId, key: &str) -> Result<Option<Value>> {
    match client.meta_value(space, key).await?.value {
        None => Ok(None),
        Some(s) => {
            Ok(Some(serde_json::from_str(&s).with_context(|| {
                format!("the space's meta.{key} is not JSON")
            })?))
        }
    }
}

/// `budgets` with role `role`'s entry replaced by `counts` (posts, requests, invites; absent:
/// unlimited), and the period set if given.
fn with_budget(
    current: Option<Value>,
    role: &str,
    counts: [Option<u64>; 3],
    period: Option<u64>,
) -> Result<Value> {
    let mut budgets = current.unwrap_or_else(|| json!({ "roles": {} }));
    let Some(b) = budgets.as_object_mut() else {
        bail!("the space's meta.budgets is not a JSON object");
    };
    match period {
        Some(p) => {
            b.insert("period".into(), p.into());
        }
        None if !b.contains_key("period") => bail!("the space has no budgets yet: give --period"),
        None => {}
    }
    let entry: Map<String, Value> = ["posts", "requests", "invites"]
        .into_iter()
        .zip(counts)
        .filter_map(|(k, n)| Some((k.to_string(), n?.into())))
        .collect();
    let roles = b.entry("roles").or_insert_with(|| json!({}));
    let Some(roles) = roles.as_object_mut() else {
        bail!("the space's meta.budgets.roles is not a JSON object");
    };
    roles.insert(role.to_string(), Value::Object(entry));
    Ok(budgets)
}

/// `earned_roles` with the entry for the same role (and ability) replaced by `entry`.
fn with_threshold(current: Option<Value>, entry: Value) -> Result<Value> {
    let mut all = match current {
        None => vec![],
        Some(Value::Array(a)) => a,
        Some(_) => bail!("the space's meta.earned_roles is not a JSON list"),
    };
    all.retain(|e| e["role"] != entry["role"] || e["ability"] != entry["ability"]);
    all.push(entry);
    Ok(Value::Array(all))
}

/// Where a proposal stands, in a word.
fn state(p: &ProposalView) -> &'static str {
    match (p.outcome, p.decided) {
        (Some(o), _) => o.as_str(),
        (None, Some(Outcome::Passed)) => "passing",
        (None, Some(_)) => "failing",
        (None, None) => "open",
    }
}

/// `tim proposals SPACE [--open]`.
pub(crate) async fn list(client: &Client, out: Out, space: SpaceId, open: bool) -> Result<()> {
    let all = client.proposals(space, open).await?;
    out.print(&all, |all| {
        if all.is_empty() {
            outln!("no proposals")?;
        }
        for p in all {
            let mine = p
                .my_vote
                .map(|c| format!("  you: {}", c.as_str()))
                .unwrap_or_default();
            outln!(
                "{}  {:<9} {}  yes {} no {} abstain {} of {}{}",
                p.id,
                state(p),
                shown(&p.action.to_string()),
                p.tally.yes,
                p.tally.no,
                p.tally.abstain,
                p.tally.eligible,
                mine
            )?;
        }
        Ok(())
    })
}

/// `tim vote SPACE PROPOSAL_ID yes|no|abstain`.
pub(crate) async fn vote(
    client: &Client,
    out: Out,
    space: SpaceId,
    proposal: &str,
    choice: &str,
) -> Result<()> {
    let choice: Choice = choice.parse().map_err(anyhow::Error::msg)?;
    let voted = client.vote(space, proposal, choice).await?;
    out.print(&voted, |v| {
        outln!("voted {} on {}", choice.as_str(), v.id)?;
        if let Some(o) = v.outcome {
            outln!("proposal {} {}", v.id, o.as_str())?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_entry_is_replaced_and_the_rest_kept() {
        let current = json!({ "period": 10, "roles": { "member": { "posts": 5 },
                                                      "guest": { "posts": 1 } } });
        let b = with_budget(Some(current), "member", [Some(3), None, Some(1)], None).unwrap();
        assert_eq!(
            b,
            json!({ "period": 10, "roles": { "member": { "posts": 3, "invites": 1 },
                                             "guest": { "posts": 1 } } })
        );
        assert!(with_budget(None, "member", [Some(1), None, None], None).is_err());
        let b = with_budget(None, "member", [None, Some(2), None], Some(7)).unwrap();
        assert_eq!(
            b,
            json!({ "period": 7, "roles": { "member": { "requests": 2 } } })
        );
    }

    #[test]
    fn a_threshold_replaces_the_same_role_and_ability_only() {
        let current = json!([
            { "role": "moderator", "min_reputation": 50 },
            { "role": "expert", "ability": "text.summarize", "min_ability_reputation": 10 }
        ]);
        let t = with_threshold(
            Some(current),
            json!({ "role": "moderator", "min_reputation": 80 }),
        )
        .unwrap();
        assert_eq!(
            t,
            json!([
                { "role": "expert", "ability": "text.summarize", "min_ability_reputation": 10 },
                { "role": "moderator", "min_reputation": 80 }
            ])
        );
    }
}
