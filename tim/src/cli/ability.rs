//! `tim ability …`: declare what you can do in a space, find who can do something, ask them,
//! and answer, fail or rate requests (docs/abilities.md, "Using it").

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use futures::StreamExt;
use serde_json::Value;
use tim_client::{Client, ClientError, RequestStep};
use tim_protocol::api::{
    AbilityHit, AbilityRequest, AbilitySearchQuery, BadgeThreshold, DeclareAbility, NewRequest,
    RequestsQuery,
};
use tim_protocol::api::{ChainStep, NewChain};
use tim_protocol::{Did, SpaceId};

use super::{chain, parse_duration};
use crate::output::{errln, outln, safe_json, shown, Out};

#[derive(Subcommand)]
pub(crate) enum AbilityCommand {
    /// Declare an ability in a space (a signed declaration; redeclaring replaces it). In a
    /// space made before abilities existed, an admin's first declaration migrates it.
    Declare {
        /// Space id.
        space: SpaceId,
        /// Namespaced name, e.g. text.summarize.
        name: String,
        /// What it does (1 to 1024 bytes).
        #[arg(long)]
        description: String,
        /// A file holding the JSON Schema of the input (default: any value).
        #[arg(long, value_name = "FILE")]
        input_schema: Option<PathBuf>,
        /// A file holding the JSON Schema of the output (default: any value).
        #[arg(long, value_name = "FILE")]
        output_schema: Option<PathBuf>,
        /// The id of an ability credential that attests it.
        #[arg(long, value_name = "CRED_ID")]
        attested_by: Option<String>,
        /// A file holding the attesting credential itself (a VC as JSON, or a JWT), e.g. a
        /// badge of another space that this one trusts (schema version 6).
        #[arg(long, value_name = "FILE")]
        attestation: Option<PathBuf>,
        /// Its price, in tokens.
        #[arg(long, value_name = "TOKENS")]
        price: Option<u64>,
    },
    /// Withdraw your declaration of an ability.
    Withdraw {
        /// Space id.
        space: SpaceId,
        /// The ability's name.
        name: String,
    },
    /// Find who can do something, ranked: by name and description, attestation, ratings,
    /// success rate and speed, in the spaces this node hosts.
    Search {
        /// Words to look for (quote several); "" lists every ability.
        query: String,
        /// Only this space.
        #[arg(long)]
        space: Option<SpaceId>,
        /// Also providers in public spaces this node does not host, from the network index
        /// (each hit says how to join its space).
        #[arg(long)]
        network: bool,
    },
    /// Ask for an ability; prints the request's id (the same on every node).
    Invoke {
        /// Space id.
        space: SpaceId,
        /// The ability's name.
        name: String,
        /// The input, as JSON, or @FILE (over 16 KiB it travels out of band).
        #[arg(long)]
        input: String,
        /// Ask this provider.
        #[arg(long, conflicts_with = "auto", required_unless_present = "auto")]
        to: Option<Did>,
        /// Let the space choose: the providers it ranks first, in turn.
        #[arg(long)]
        auto: bool,
        /// How long the request stays open (e.g. 30s, 10m, 2h).
        #[arg(long, value_parser = parse_duration, default_value = "10m")]
        timeout: Duration,
        /// Wait for the outcome and print it (and progress as it comes).
        #[arg(long)]
        follow: bool,
        /// With --follow: if the request fails or has no outcome by its deadline, ask again
        /// (a new request, cancelling the old one if it is still open or claimed), up to this
        /// many more times.
        #[arg(long, requires = "follow", default_value_t = 0)]
        retries: u32,
        /// Tokens held from your balance and paid to whoever completes it (schema version 9;
        /// at least the provider's price).
        #[arg(long)]
        reward: Option<u64>,
    },
    /// List a space's requests: all of them, those addressed to you, or the unclaimed ones.
    Requests {
        /// Space id.
        space: SpaceId,
        /// Only requests addressed to you.
        #[arg(long, conflicts_with = "open")]
        mine: bool,
        /// Only requests nobody claimed yet.
        #[arg(long)]
        open: bool,
    },
    /// Claim a request addressed to you.
    Claim {
        /// Space id.
        space: SpaceId,
        /// Request id.
        request: String,
    },
    /// Post the result of a request you claimed.
    Result {
        /// Space id.
        space: SpaceId,
        /// Request id.
        request: String,
        /// The output, as JSON, or @FILE (over 16 KiB it travels out of band).
        #[arg(long)]
        output: String,
    },
    /// Post that a request you claimed failed, and why.
    Fail {
        /// Space id.
        space: SpaceId,
        /// Request id.
        request: String,
        /// Why.
        #[arg(long)]
        reason: String,
    },
    /// Cancel your request while nobody has answered it.
    Cancel {
        /// Space id.
        space: SpaceId,
        /// Request id.
        request: String,
    },
    /// Rate the outcome of your request from 1 to 5.
    Rate {
        /// Space id.
        space: SpaceId,
        /// Request id.
        request: String,
        /// 1 to 5.
        #[arg(value_parser = clap::value_parser!(u8).range(1..=5))]
        score: u8,
    },
    /// Show a space's badge thresholds, or set one (admins): a provider whose rated outcomes
    /// for the ability reach it gets an ability credential, once.
    Badges {
        /// Space id.
        space: SpaceId,
        /// The ability whose threshold to set.
        #[arg(long, value_name = "ABILITY", requires_all = ["min_rated", "min_mean"])]
        set: Option<String>,
        /// Least number of rated outcomes.
        #[arg(long, value_name = "N", requires = "set")]
        min_rated: Option<u64>,
        /// Least mean rating, 1 to 5.
        #[arg(long, value_name = "X", requires = "set")]
        min_mean: Option<f64>,
    },
    /// Make a chain of requests: each step's output is the next step's input. Prints the
    /// chain's id; this node asks each step when the previous one completes.
    Chain {
        /// Space id.
        space: SpaceId,
        /// A step, in order (2 to 8): NAME to let the space choose, NAME:DID to ask one.
        #[arg(long = "step", value_name = "NAME[:DID]", required = true,
              value_parser = chain::parse_step)]
        steps: Vec<ChainStep>,
        /// The first step's input, as JSON.
        #[arg(long)]
        input: String,
        /// Build step STEP's (from 0) input from the previous output: a JSON object of field
        /// to JSON pointer, e.g. 2='{"words": "/loud"}'.
        #[arg(long = "map", value_name = "STEP=JSON", value_parser = chain::parse_map)]
        maps: Vec<(usize, BTreeMap<String, String>)>,
        /// How long the chain runs (e.g. 30s, 10m, 2h).
        #[arg(long, value_parser = parse_duration, default_value = "10m")]
        timeout: Duration,
        /// Wait for the chain to finish, printing each step's progress, then the output or
        /// the failing step and its reason (exits non-zero on failure).
        #[arg(long)]
        follow: bool,
    },
    /// List a space's chains, with their state.
    Chains {
        /// Space id.
        space: SpaceId,
    },
    /// Offer the tools of an MCP server as your abilities in a space, until Ctrl-C.
    ///
    /// Each tool is declared as PREFIX.TOOL with its description and schemas; each request
    /// for one addressed to you is answered by calling the tool. The server is a command
    /// speaking MCP on stdio (`serve-mcp SPACE -- COMMAND ARGS…`) or a streamable HTTP
    /// endpoint (`serve-mcp SPACE --url URL`).
    ServeMcp(super::serve_mcp::ServeMcpArgs),
}

/// JSON given on the command line, or a reason naming the option.
/// A JSON argument: the JSON itself, or `@FILE` to read it from a file (an input or output
/// over 16 KiB is carried out of band: docs/abilities.md §14).
pub(crate) fn json_arg(option: &str, text: &str) -> Result<Value> {
    if let Some(file) = text.strip_prefix('@') {
        let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {file}"))?;
        return serde_json::from_str(&text)
            .with_context(|| format!("{file} (given to {option}) is not JSON"));
    }
    serde_json::from_str(text).with_context(|| format!("{option} is not JSON"))
}

/// A JSON Schema read from a file; none: any value.
fn schema_file(file: Option<&Path>) -> Result<Value> {
    let Some(file) = file else {
        return Ok(serde_json::json!({}));
    };
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))
}

/// `tim ability …`.
pub(crate) async fn run(client: &Client, out: Out, command: AbilityCommand) -> Result<()> {
    match command {
        AbilityCommand::Declare {
            space,
            name,
            description,
            input_schema,
            output_schema,
            attested_by,
            attestation,
            price,
        } => {
            let attestation = match attestation {
                Some(file) => Some(
                    std::fs::read_to_string(&file)
                        .with_context(|| format!("cannot read {}", file.display()))?
                        .trim()
                        .to_string(),
                ),
                None => None,
            };
            let body = DeclareAbility {
                description,
                input_schema: schema_file(input_schema.as_deref())?,
                output_schema: schema_file(output_schema.as_deref())?,
                credential: attested_by,
                attestation,
                price,
            };
            let done = client.declare_ability(space, &name, &body).await?;
            out.print(&done, |d| {
                outln!("declared {name} in {space} (change {})", d.change)
            })
        }
        AbilityCommand::Withdraw { space, name } => {
            let done = client.withdraw_ability(space, &name).await?;
            out.print(&done, |d| outln!("withdrew {name} (change {})", d.change))
        }
        AbilityCommand::Search {
            query,
            space,
            network,
        } => {
            let hits = client
                .search_abilities(&AbilitySearchQuery {
                    q: query,
                    space,
                    network,
                })
                .await?;
            out.print(&hits, |hits| {
                if hits.is_empty() {
                    errln!(
                        "(no provider found{})",
                        if network {
                            ""
                        } else {
                            " in the spaces this node hosts"
                        }
                    )?;
                }
                hits.iter().try_for_each(print_hit)
            })
        }
        AbilityCommand::Invoke {
            space,
            name,
            input,
            to,
            auto: _,
            timeout,
            follow,
            retries,
            reward,
        } => {
            let req = NewRequest {
                ability: name,
                input: json_arg("--input", &input)?,
                to,
                timeout_secs: Some(timeout.as_secs()),
                reward,
            };
            if !follow {
                let made = client.request_ability(space, &req).await?;
                return out.print(&made, |m| outln!("{}", m.id));
            }
            for attempt in 0..=retries {
                match follow_request(client, out, space, &req).await? {
                    Outcome::Final(request) if request.state != "failed" || attempt == retries => {
                        return if out.json {
                            Ok(())
                        } else {
                            print_outcome(&request)
                        };
                    }
                    Outcome::Late(id) if attempt == retries => {
                        bail!("request {id} had no outcome by its deadline")
                    }
                    Outcome::Final(request) => {
                        if !out.json {
                            print_outcome(&request)?;
                        }
                    }
                    Outcome::Late(id) => {
                        // Still open or claimed: withdrawn, so that no late result comes to it.
                        let cancel = client.request_step(space, &id, RequestStep::cancel());
                        if let Err(e) = cancel.await {
                            errln!("request {id}: not cancelled: {e}")?;
                        }
                    }
                }
                errln!("asking again ({} of {retries})", attempt + 1)?;
            }
            unreachable!("the last attempt returns")
        }
        AbilityCommand::Requests { space, mine, open } => {
            let list = client.requests(space, RequestsQuery { mine, open }).await?;
            let me = client.me().await?.did;
            out.print(&list, |list| {
                list.iter().try_for_each(|r| print_request(r, &me))
            })
        }
        AbilityCommand::Claim { space, request } => {
            step(
                client,
                out,
                space,
                &request,
                RequestStep::claim(),
                "claimed",
            )
            .await
        }
        AbilityCommand::Result {
            space,
            request,
            output,
        } => {
            let result = RequestStep::result(json_arg("--output", &output)?);
            step(client, out, space, &request, result, "answered").await
        }
        AbilityCommand::Fail {
            space,
            request,
            reason,
        } => {
            let failure = RequestStep::failure(&reason);
            step(client, out, space, &request, failure, "failed").await
        }
        AbilityCommand::Cancel { space, request } => {
            step(
                client,
                out,
                space,
                &request,
                RequestStep::cancel(),
                "cancelled",
            )
            .await
        }
        AbilityCommand::Rate {
            space,
            request,
            score,
        } => {
            let rating = RequestStep::rating(score);
            let what = format!("rated {score}/5:");
            step(client, out, space, &request, rating, &what).await
        }
        AbilityCommand::Badges {
            space,
            set,
            min_rated,
            min_mean,
        } => {
            let mut badges = client.badges(space).await?;
            if let (Some(ability), Some(min_rated), Some(min_mean_rating)) =
                (set, min_rated, min_mean)
            {
                let threshold = BadgeThreshold {
                    min_rated,
                    min_mean_rating,
                };
                badges.insert(ability, threshold);
                client.set_badges(space, &badges).await?;
            }
            out.print(&badges, |badges| {
                if badges.is_empty() {
                    outln!("no badges in {space}")?;
                }
                badges.iter().try_for_each(|(ability, t)| {
                    outln!(
                        "{}: at least {} rated outcomes with a mean of at least {}",
                        shown(ability),
                        t.min_rated,
                        t.min_mean_rating
                    )
                })
            })
        }
        AbilityCommand::Chain {
            space,
            steps,
            input,
            maps,
            timeout,
            follow,
        } => {
            let req = NewChain {
                steps,
                input: json_arg("--input", &input)?,
                timeout_secs: Some(timeout.as_secs()),
            };
            chain::make(client, out, space, req, maps, follow).await
        }
        AbilityCommand::Chains { space } => chain::list(client, out, space).await,
        AbilityCommand::ServeMcp(args) => super::serve_mcp::run(client, out, args).await,
    }
}

/// Posts a step of a request and says `what` was done.
async fn step<B: serde::Serialize>(
    client: &Client,
    out: Out,
    space: SpaceId,
    request: &str,
    step: RequestStep<B>,
    what: &str,
) -> Result<()> {
    let done = client.request_step(space, request, step).await?;
    out.print(&done, |d| outln!("{what} {request} (change {})", d.change))
}

/// `tim ability invoke`: makes the request and prints its id; with `follow`, waits (until
/// its deadline) for its outcome on the space's event stream and prints it, with progress.
/// How a followed request ended.
enum Outcome {
    /// Completed, failed or cancelled.
    Final(Box<AbilityRequest>),
    /// No outcome by its deadline: its id.
    Late(String),
}

/// Makes the request, prints its id, and follows it until its outcome or its deadline.
async fn follow_request(
    client: &Client,
    out: Out,
    space: SpaceId,
    req: &NewRequest,
) -> Result<Outcome> {
    // Listening before the request is made, so that no step of it is missed.
    let events = client.events(space).await?;
    let made = client.request_ability(space, req).await?;
    if out.json {
        json_line(&made)?;
    } else {
        outln!("{}", made.id)?;
    }
    let id = made.id;
    let wait = until(client.request(space, &id).await?.deadline);
    let mut events = Box::pin(events);
    let outcome = tokio::time::timeout(wait, async {
        while let Some(e) = events.next().await {
            let request = match e {
                Ok(e) => match e.request() {
                    Some(r) if r.id == id => r.clone(),
                    _ => continue,
                },
                // Events were skipped: read the request itself.
                Err(ClientError::Lagged(_)) => client.request(space, &id).await?,
                Err(e) => return Err(anyhow::Error::from(e)),
            };
            if out.json {
                json_line(&request)?;
            } else if let Some(note) = request.progress.as_deref().filter(|_| !is_final(&request)) {
                outln!("progress: {}", shown(note))?;
            }
            if is_final(&request) {
                return Ok(Some(request));
            }
        }
        Ok::<_, anyhow::Error>(None)
    })
    .await;
    match outcome {
        Ok(Ok(Some(request))) => Ok(Outcome::Final(Box::new(request))),
        Ok(Ok(None)) => bail!("the node's event stream ended before request {id} had an outcome"),
        Ok(Err(e)) => Err(e),
        Err(_) => Ok(Outcome::Late(id)),
    }
}

/// How long until `deadline` (ms since the Unix epoch); zero if it passed.
pub(crate) fn until(deadline: u64) -> Duration {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    Duration::from_millis(deadline.saturating_sub(now))
}

/// One JSON object on a line (`invoke --follow --json`, `chain --follow --json`).
pub(crate) fn json_line<T: serde::Serialize>(value: &T) -> Result<()> {
    outln!("{}", safe_json(serde_json::to_string(value)?))?;
    Ok(())
}

/// Whether nothing but a rating follows.
fn is_final(r: &AbilityRequest) -> bool {
    matches!(r.state.as_str(), "completed" | "failed" | "cancelled")
}

/// `completed: OUTPUT`, `failed: REASON` or `cancelled`.
fn print_outcome(r: &AbilityRequest) -> Result<()> {
    match (&r.output, &r.failure) {
        (Some(output), _) => outln!("completed: {}", shown(&output.to_string()))?,
        (_, Some(reason)) => outln!("failed: {}", shown(reason))?,
        _ => outln!("{}", r.state)?,
    }
    Ok(())
}

/// `NAME  by …PROVIDER in SPACE_NAME (SPACE)  score S …`, then the description.
fn print_hit(h: &AbilityHit) -> std::io::Result<()> {
    let rep = &h.reputation;
    outln!(
        "{}  by {} in {} ({})  score {} (text {}, rating {}, success {}, speed {}{}){}",
        h.name,
        h.provider,
        shown(&h.space_name),
        h.space,
        h.score,
        h.text,
        rep.rating_score,
        rep.success_score,
        rep.speed_score,
        if h.attested { ", attested" } else { "" },
        h.price.map(|p| format!("  price {p}")).unwrap_or_default()
    )?;
    outln!("    {}", shown(&h.description))
}

/// `ID  STATE  ABILITY  from …REQUESTER to …TARGET[, claimed by …][, rated N/5]`, and for the
/// requester, the output or the reason of the outcome.
fn print_request(r: &AbilityRequest, me: &Did) -> std::io::Result<()> {
    let target = match r.target.parse::<Did>() {
        Ok(d) => d.short(),
        Err(_) => r.target.clone(),
    };
    let claimant = r
        .claimant
        .map(|c| format!(", claimed by {}", c.short()))
        .unwrap_or_default();
    let rating = r
        .rating
        .map(|s| format!(", rated {s}/5"))
        .unwrap_or_default();
    let reward = super::balances::reward_note(r);
    outln!(
        "{}  {}  {}  from {} to {}{claimant}{rating}{reward}",
        r.id,
        r.state,
        r.ability,
        r.requester.short(),
        shown(&target)
    )?;
    if r.requester == *me {
        match (&r.output, &r.failure, &r.output_payload) {
            (Some(output), _, _) => outln!("    output: {}", shown(&output.to_string()))?,
            (_, Some(reason), _) => outln!("    failure: {}", shown(reason))?,
            (_, _, Some(p)) => outln!(
                "    output: held out of band, {} ({} bytes)",
                p.hash,
                p.size
            )?,
            _ => {}
        }
    }
    Ok(())
}
