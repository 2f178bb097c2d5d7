//! `tim propose …`, `tim proposals …`, `tim vote …`: decisions a space takes by vote
//! (docs/governance.md "Proposals and votes"). A proposal names an action (a role, a ban, a
//! meta key's new value); once it passes, its close enacts it with no admin's signature.
//! `budget` and `threshold` read the space's current `budgets` or `earned_roles`, change one
//! entry (as `tim space budget` and `tim space earned-roles` would), and propose the whole new
//! value.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use serde_json::Value;
use tim_client::Client;
use tim_protocol::api::{
    Choice, EarnedRole, NewProposal, Outcome, ProposalAction, ProposalView, RoleBudget,
};
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
        /// The period, in messages (and requests); a space without budgets starts at 10.
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
        min_reputation: Option<u64>,
        /// The ability whose reputation counts.
        #[arg(long, requires = "min_ability_reputation")]
        ability: Option<String>,
        /// The least reputation in that ability.
        #[arg(long, requires = "ability")]
        min_ability_reputation: Option<u64>,
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
    let meta = |key: &str, value: String| ProposalAction::Meta {
        key: key.to_string(),
        value,
    };
    Ok(match command {
        ProposeCommand::Role { did, role } => ProposalAction::Role { did, role },
        ProposeCommand::Ban { did } => ProposalAction::Ban { did },
        ProposeCommand::Meta { key, value } => ProposalAction::Meta { key, value },
        ProposeCommand::Requirements { json } => {
            let v: Value = serde_json::from_str(&json).context("the requirements are not JSON")?;
            meta("requirements", v.to_string())
        }
        ProposeCommand::Budget {
            role,
            posts,
            requests,
            invites,
            period,
        } => {
            // The same change as `tim space budget` makes, proposed instead of set.
            let mut budgets = client.budgets(space).await?.unwrap_or_default();
            if let Some(p) = period {
                budgets.period = p;
            }
            let counts = RoleBudget {
                posts,
                requests,
                invites,
            };
            budgets.set_role(&role, counts);
            meta("budgets", serde_json::to_string(&budgets)?)
        }
        ProposeCommand::Threshold {
            role,
            min_reputation,
            ability,
            min_ability_reputation,
        } => {
            let entry = match (min_reputation, &ability, min_ability_reputation) {
                (Some(_), None, None) | (None, Some(_), Some(_)) => EarnedRole {
                    role,
                    min_reputation,
                    ability,
                    min_ability_reputation,
                },
                _ => bail!("give --min-reputation N, or --ability A --min-ability-reputation N"),
            };
            let mut all = client.earned_roles(space).await?.earned_roles;
            with_threshold(&mut all, entry);
            meta("earned_roles", serde_json::to_string(&all)?)
        }
    })
}

/// The thresholds `all` with the entry for the same role (and ability) replaced by `entry`.
fn with_threshold(all: &mut Vec<EarnedRole>, entry: EarnedRole) {
    all.retain(|e| e.role != entry.role || e.ability != entry.ability);
    all.push(entry);
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
    fn a_threshold_replaces_the_same_role_and_ability_only() {
        let parse =
            |v: serde_json::Value| -> Vec<EarnedRole> { serde_json::from_value(v).unwrap() };
        let mut all = parse(serde_json::json!([
            { "role": "moderator", "min_reputation": 50 },
            { "role": "expert", "ability": "text.summarize", "min_ability_reputation": 10 }
        ]));
        let entry = parse(serde_json::json!([{ "role": "moderator", "min_reputation": 80 }]));
        with_threshold(&mut all, entry[0].clone());
        assert_eq!(
            all,
            parse(serde_json::json!([
                { "role": "expert", "ability": "text.summarize", "min_ability_reputation": 10 },
                { "role": "moderator", "min_reputation": 80 }
            ]))
        );
    }
}
