//! `tim ability chain` and `tim ability chains`: make a chain of ability requests, each
//! step's output the next one's input, follow it as one unit, list a space's chains
//! (docs/abilities.md §12).

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use futures::StreamExt;
use tim_client::{Client, ClientError};
use tim_protocol::api::{ChainStep, ChainView, NewChain};
use tim_protocol::SpaceId;

use super::ability::{json_line, until};
use crate::output::{outln, shown, Out};

/// `NAME[:DID]`: a step asking a provider, or the space's choice (`auto`) without a DID.
pub(crate) fn parse_step(s: &str) -> Result<ChainStep, String> {
    let (ability, to) = match s.split_once(':') {
        Some((name, did)) => (name, Some(did.parse().map_err(|e| format!("{did}: {e}"))?)),
        None => (s, None),
    };
    Ok(ChainStep {
        ability: ability.to_string(),
        to,
        map: BTreeMap::new(),
    })
}

/// `STEP=JSON`: step `STEP`'s (from 0) mapping, a JSON object of field → JSON pointer into
/// the previous step's output.
pub(crate) fn parse_map(s: &str) -> Result<(usize, BTreeMap<String, String>), String> {
    let (step, json) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not STEP=JSON"))?;
    let step = step
        .parse()
        .map_err(|_| format!("`{step}` is not a step number (from 0)"))?;
    let map = serde_json::from_str(json)
        .map_err(|e| format!("the map of step {step} is not a JSON object of strings: {e}"))?;
    Ok((step, map))
}

/// `tim ability chain`: makes the chain and prints its id; with `follow`, waits (until its
/// deadline) on the space's event stream, printing each step's progress, then the output, or
/// the failing step and its reason (an error: the command exits non-zero).
pub(crate) async fn make(
    client: &Client,
    out: Out,
    space: SpaceId,
    mut req: NewChain,
    maps: Vec<(usize, BTreeMap<String, String>)>,
    follow: bool,
) -> Result<()> {
    for (step, map) in maps {
        let Some(s) = req.steps.get_mut(step) else {
            bail!("--map {step}=…: the chain has {} steps", req.steps.len());
        };
        s.map = map;
    }
    // Listening before the chain is made, so that no step of it is missed.
    let events = if follow {
        Some(client.events(space).await?)
    } else {
        None
    };
    let made = client.make_chain(space, &req).await?;
    if out.json && follow {
        json_line(&made)?;
    } else {
        out.print(&made, |m| outln!("{}", m.id))?;
    }
    let Some(events) = events else {
        return Ok(());
    };
    let id = made.id;
    let first = client.chain(space, &id).await?;
    let wait = until(first.deadline);
    let mut events = Box::pin(events);
    let mut shown_last = String::new();
    let outcome = tokio::time::timeout(wait, async {
        // The chain as it was made, then as each event shows it.
        let mut chain = Some(first);
        loop {
            let c = match chain.take() {
                Some(c) => c,
                None => match events.next().await {
                    Some(Ok(e)) => match e.chain() {
                        Some(c) if c.id == id => c.clone(),
                        _ => continue,
                    },
                    // Events were skipped: read the chain itself.
                    Some(Err(ClientError::Lagged(_))) => client.chain(space, &id).await?,
                    Some(Err(e)) => return Err(anyhow::Error::from(e)),
                    None => return Ok(None),
                },
            };
            if out.json {
                json_line(&c)?;
            } else if c.state == "running" {
                let line = progress_line(&c);
                if line != shown_last {
                    outln!("{line}")?;
                    shown_last = line;
                }
            }
            if c.state != "running" {
                return Ok::<_, anyhow::Error>(Some(c));
            }
        }
    })
    .await;
    match outcome {
        Ok(Ok(Some(c))) => match c.state.as_str() {
            "completed" if !out.json => {
                let output = c.output.map(|o| o.to_string()).unwrap_or_default();
                outln!("completed: {}", shown(&output))?;
                Ok(())
            }
            "completed" => Ok(()),
            state => {
                if !out.json {
                    let reason = c.reason.map(|r| format!(": {}", shown(&r)));
                    let step = c.step.unwrap_or_default();
                    outln!("{state} at step {step}{}", reason.unwrap_or_default())?;
                }
                bail!("chain {id} {state}")
            }
        },
        Ok(Ok(None)) => bail!("the node's event stream ended before chain {id} finished"),
        Ok(Err(e)) => Err(e),
        Err(_) => bail!("chain {id} did not finish by its deadline"),
    }
}

/// `step N/M ABILITY: STATE` of the current step of a running chain (the request's state,
/// or `due`).
fn progress_line(c: &ChainView) -> String {
    let step = c.step.unwrap_or_default();
    let ability = c.steps.get(step).map_or("", |s| s.ability.as_str());
    let state = c
        .requests
        .get(step)
        .and_then(Option::as_ref)
        .map_or("due", |r| r.state.as_str());
    format!("step {step}/{} {ability}: {state}", c.steps.len())
}

/// `tim ability chains`: each chain's id, state, step and plan.
pub(crate) async fn list(client: &Client, out: Out, space: SpaceId) -> Result<()> {
    let chains = client
        .chains(space)
        .await
        .context("cannot list the chains")?;
    out.print(&chains, |chains| {
        chains.iter().try_for_each(|c| {
            let plan: Vec<&str> = c.steps.iter().map(|s| s.ability.as_str()).collect();
            let at = c.step.map(|s| format!(" at step {s}")).unwrap_or_default();
            outln!(
                "{}  {}{at}  by {}  {}",
                c.id,
                c.state,
                c.author.short(),
                plan.join(" → ")
            )?;
            match (&c.output, &c.reason) {
                (Some(o), _) => outln!("    output: {}", shown(&o.to_string())),
                (_, Some(r)) => outln!("    reason: {}", shown(r)),
                _ => Ok(()),
            }
        })
    })
}
