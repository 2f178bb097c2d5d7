//! `tim ability serve-mcp`: offers the tools of an MCP server as abilities of the home's
//! timite in a space, and answers the requests for them by calling the tools (docs/mcp.md,
//! "MCP tools as abilities").

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::Serialize;
use serde_json::Value;
use tim_client::provider::{serve_only, Served};
use tim_client::Client;
use tim_node::mcp_tools::{declaration, McpServerSpec, McpTools, DEFAULT_PREFIX};
use tim_protocol::api::{AbilityRequest, DeclareAbility};
use tim_protocol::SpaceId;
use tokio::sync::watch;

use super::ability::json_line;
use super::parse_duration;
use crate::output::{errln, outln, shown, Out};

/// How long the request in hand may take to get its failure posted once the server is gone.
const POST_GRACE: Duration = Duration::from_secs(10);

/// `tim ability serve-mcp`'s arguments.
#[derive(clap::Args)]
pub(crate) struct ServeMcpArgs {
    /// Space id.
    space: SpaceId,
    /// The namespace of the abilities' names: PREFIX.TOOL (the tool's name lowercased).
    #[arg(long, default_value = DEFAULT_PREFIX)]
    prefix: String,
    /// Offer only this tool (repeat for several); default: every tool that maps onto an
    /// ability.
    #[arg(long = "tool", value_name = "NAME")]
    tools: Vec<String>,
    /// The MCP server's streamable HTTP endpoint (instead of a command).
    #[arg(long, conflicts_with = "command", required_unless_present = "command")]
    url: Option<String>,
    /// With --url: the environment variable that holds its bearer token.
    #[arg(long, requires = "url", value_name = "VAR")]
    bearer_env: Option<String>,
    /// How long one tool call may take before the request fails.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "60s")]
    call_timeout: Duration,
    /// The MCP server's command and its arguments, after `--` (it speaks MCP on stdio).
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<String>,
}

/// One declaration made (`--json`).
#[derive(Serialize)]
struct Declared<'a> {
    declared: &'a str,
    tool: &'a str,
    change: String,
}

/// One request served (`--json`).
#[derive(Serialize)]
struct Answered<'a> {
    request: &'a str,
    ability: &'a str,
    requester: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure: Option<&'a str>,
    ms: u128,
}

/// `tim ability serve-mcp`: connects, declares the chosen tools, then serves until Ctrl-C (or
/// SIGTERM) or until the MCP server is gone (an error).
pub(crate) async fn run(client: &Client, out: Out, args: ServeMcpArgs) -> Result<()> {
    let spec = match (args.url, args.command.split_first()) {
        (Some(url), _) => McpServerSpec::Http {
            url,
            bearer_env: args.bearer_env,
        },
        (None, Some((command, rest))) => McpServerSpec::Stdio {
            command: command.clone(),
            args: rest.to_vec(),
            env: BTreeMap::new(),
        },
        (None, None) => bail!("give the MCP server: --url URL, or -- COMMAND ARGS…"),
    };
    let spinner = out.spinner(format!("starting the MCP server {spec}"));
    let tools = McpTools::connect(&spec).await?;
    spinner.finish_and_clear();
    let tools = tools.with_call_timeout(args.call_timeout);
    let chosen = choose(&tools, &args.prefix, &args.tools)?;
    let me = client.me().await?.did;
    let space = args.space;
    for (ability, (tool, decl)) in &chosen {
        let done = client
            .declare_ability(space, ability, decl)
            .await
            .with_context(|| format!("declaring {ability} (tool {tool})"))?;
        if out.json {
            json_line(&Declared {
                declared: ability,
                tool,
                change: done.change.to_string(),
            })?;
        } else {
            outln!("declared {ability} (tool {}) in {space}", shown(tool))?;
        }
    }
    let n = chosen.len();
    let abilities = if n == 1 { "ability" } else { "abilities" };
    errln!("serving {n} {abilities} of the MCP server {spec} as {me} in {space}; Ctrl-C stops")?;

    // Whether a request is in hand (taken, its outcome not posted yet).
    let (busy_tx, mut busy) = watch::channel(false);
    let tool_of = |ability: &str| chosen.get(ability).map(|(tool, _)| tool.clone());
    let work = |request: AbilityRequest| {
        busy_tx.send_replace(true);
        let tool = tool_of(&request.ability);
        let (tools, request_id) = (&tools, request.id.clone());
        async move {
            let tool = tool.ok_or("this ability is not served here")?;
            let input = match request.input_payload {
                // Held out of band (docs/abilities.md §14): the node fetches it.
                Some(_) => {
                    let whole = client.request(space, &request_id).await;
                    whole
                        .map_err(|e| format!("its input could not be fetched: {e}"))?
                        .input
                }
                None => request.input,
            };
            tools.answer(&tool, input).await
        }
    };
    let report = |s: Served| {
        busy_tx.send_replace(false);
        let ms = s.answered.duration_since(s.seen).as_millis();
        let r = &s.request;
        let printed = if out.json {
            json_line(&Answered {
                request: &r.id,
                ability: &r.ability,
                requester: r.requester.to_string(),
                output: s.outcome.as_ref().ok(),
                failure: s.outcome.as_ref().err().map(String::as_str),
                ms,
            })
        } else {
            let outcome = match &s.outcome {
                Ok(output) => format!("answered {}", shown(&output.to_string())),
                Err(why) => format!("failed: {}", shown(why)),
            };
            let (id, ability, from) = (&r.id, &r.ability, r.requester.short());
            outln!("{id}  {ability}  from {from}  in {ms} ms: {outcome}").map_err(Into::into)
        };
        if let Err(e) = printed {
            tracing::warn!("cannot print a served request: {e}");
        }
    };
    let mut serving = std::pin::pin!(serve_only(
        client,
        space,
        me,
        |ability| chosen.contains_key(ability),
        work,
        report,
    ));
    tokio::select! {
        served = &mut serving => {
            served?;
            bail!("the node's event stream ended (is the node still running?)")
        }
        gone = tools.closed() => {
            // The request in hand gets its failure (the server is gone) posted first.
            let posted = async {
                tokio::select! {
                    _ = &mut serving => {}
                    _ = busy.wait_for(|busy| !*busy) => {}
                }
            };
            let _ = tokio::time::timeout(POST_GRACE, posted).await;
            Err(gone.into())
        }
        _ = super::node::shutdown_signal() => {
            errln!("stopped; the declarations stay (tim ability withdraw {space} NAME)")?;
            Ok(())
        }
    }
}

/// The abilities to declare, by name: the tools named by `--tool` (each must exist and map),
/// else every tool that maps (the others are skipped with a note).
fn choose(
    tools: &McpTools,
    prefix: &str,
    wanted: &[String],
) -> Result<BTreeMap<String, (String, DeclareAbility)>> {
    let listed = || {
        let names: Vec<_> = tools.tools().iter().map(|t| t.name.as_str()).collect();
        names.join(", ")
    };
    let mut chosen: BTreeMap<String, (String, DeclareAbility)> = BTreeMap::new();
    for tool in tools.tools() {
        let named = wanted.contains(&tool.name);
        if !wanted.is_empty() && !named {
            continue;
        }
        let (ability, decl) = match declaration(prefix, tool) {
            Ok(mapped) => mapped,
            Err(e) if named => return Err(e.into()),
            Err(e) => {
                errln!("skipped: {}", shown(&e.to_string()))?;
                continue;
            }
        };
        if let Some((other, _)) = chosen.get(&ability) {
            let e = format!(
                "tools `{}` and `{}` both map onto {ability}",
                shown(other),
                shown(&tool.name)
            );
            if named {
                bail!("{e}");
            }
            errln!("skipped: {e}")?;
            continue;
        }
        chosen.insert(ability, (tool.name.clone(), decl));
    }
    if let Some(missing) = wanted
        .iter()
        .find(|w| !tools.tools().iter().any(|t| &t.name == *w))
    {
        bail!(
            "the MCP server has no tool `{}` (it has: {})",
            shown(missing),
            shown(&listed())
        );
    }
    if chosen.is_empty() {
        bail!(
            "no tool of the MCP server maps onto an ability (it has: {})",
            shown(&listed())
        );
    }
    Ok(chosen)
}
