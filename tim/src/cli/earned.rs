//! `tim space earned-roles SPACE …`: show or change the reputation thresholds at which members
//! earn roles (docs/governance.md "Earned roles").

use anyhow::{bail, Result};
use clap::Args;
use serde::Serialize;
use tim_client::Client;
use tim_protocol::api::{EarnedRole, SetEarnedRoles};
use tim_protocol::{ChangeHash, SpaceId};

use crate::output::{outln, shown, Out};

/// What `tim space earned-roles` changes; with no option it shows the thresholds.
#[derive(Args)]
pub(crate) struct EarnedRolesArgs {
    /// Space id.
    space: SpaceId,
    /// Set the threshold of this role (with --min-reputation, or --ability and
    /// --min-ability-reputation), replacing its threshold of the same kind.
    #[arg(long, value_name = "ROLE", conflicts_with_all = ["remove", "clear"])]
    set: Option<String>,
    /// The reputation score that earns the role.
    #[arg(long, requires = "set", conflicts_with = "ability")]
    min_reputation: Option<u64>,
    /// The ability whose reputation earns the role.
    #[arg(long, requires_all = ["set", "min_ability_reputation"])]
    ability: Option<String>,
    /// The reputation in --ability (points of rated outcomes) that earns the role.
    #[arg(long, requires = "ability")]
    min_ability_reputation: Option<u64>,
    /// Remove every threshold of this role.
    #[arg(long, value_name = "ROLE", conflicts_with = "clear")]
    remove: Option<String>,
    /// Remove every threshold: no role is earned.
    #[arg(long)]
    clear: bool,
}

/// The answer, in `--json`.
#[derive(Serialize)]
struct Shown {
    earned_roles: Vec<EarnedRole>,
    /// The change that set them, after a write.
    #[serde(skip_serializing_if = "Option::is_none")]
    change: Option<ChangeHash>,
}

/// One threshold, as a line.
pub(crate) fn describe(t: &EarnedRole) -> String {
    match (t.min_reputation, &t.ability, t.min_ability_reputation) {
        (Some(n), _, _) => format!("{} at reputation {n}", shown(&t.role)),
        (None, Some(a), Some(n)) => {
            format!("{} at reputation {n} in {}", shown(&t.role), shown(a))
        }
        _ => shown(&t.role).to_string(),
    }
}

/// `thresholds` with `args`' change applied, or `None` if `args` asks for none.
fn changed(
    mut thresholds: Vec<EarnedRole>,
    args: &EarnedRolesArgs,
) -> Result<Option<Vec<EarnedRole>>> {
    if args.clear {
        return Ok(Some(vec![]));
    }
    if let Some(role) = &args.remove {
        let before = thresholds.len();
        thresholds.retain(|t| t.role != *role);
        if thresholds.len() == before {
            bail!("no threshold earns `{role}` here");
        }
        return Ok(Some(thresholds));
    }
    let Some(role) = &args.set else {
        return Ok(None);
    };
    let new = match (
        args.min_reputation,
        &args.ability,
        args.min_ability_reputation,
    ) {
        (Some(n), None, None) => EarnedRole {
            role: role.clone(),
            min_reputation: Some(n),
            ability: None,
            min_ability_reputation: None,
        },
        (None, Some(a), Some(n)) => EarnedRole {
            role: role.clone(),
            min_reputation: None,
            ability: Some(a.clone()),
            min_ability_reputation: Some(n),
        },
        _ => {
            bail!("--set ROLE needs --min-reputation N, or --ability A --min-ability-reputation N")
        }
    };
    // The same role and kind (overall, or the same ability) is replaced in place.
    let same = |t: &EarnedRole| {
        t.role == new.role
            && t.ability == new.ability
            && t.min_reputation.is_some() == new.min_reputation.is_some()
    };
    match thresholds.iter_mut().find(|t| same(t)) {
        Some(t) => *t = new,
        None => thresholds.push(new),
    }
    Ok(Some(thresholds))
}

/// `tim space earned-roles …`.
pub(crate) async fn run(client: &Client, out: Out, args: EarnedRolesArgs) -> Result<()> {
    let current = client.earned_roles(args.space).await?.earned_roles;
    let answer = match changed(current.clone(), &args)? {
        None => Shown {
            earned_roles: current,
            change: None,
        },
        Some(earned_roles) => {
            let body = SetEarnedRoles { earned_roles };
            let done = client.set_earned_roles(args.space, &body).await?;
            Shown {
                earned_roles: body.earned_roles,
                change: Some(done.change),
            }
        }
    };
    out.print(&answer, |a| {
        if a.earned_roles.is_empty() {
            outln!("no role is earned in {}", args.space)?;
        }
        for t in &a.earned_roles {
            outln!("{}", describe(t))?;
        }
        if let Some(c) = &a.change {
            outln!("(change {c})")?;
        }
        Ok(())
    })
}
