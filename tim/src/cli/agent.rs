//! `tim agent …`: agents, hosted timites whose behaviour the node runs (docs/agents.md). All
//! need the operator's token.

use std::path::Path;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use futures::StreamExt;
use tim_client::{Client, ClientError};
use tim_protocol::api::{AgentLogEntry, AgentStyle, AgentView, NewAgent, TuneAgent};
use tim_protocol::SpaceId;

use crate::output::{format_date, outln, safe_json, shown, Out};

#[derive(Subcommand)]
pub(crate) enum AgentCommand {
    /// Make an agent: a new timite of the node running a persona; prints its DID.
    New {
        /// Its name on this node (a-z, 0-9, -, _ and .).
        name: String,
        /// A template (catalyst, mediator, specialist, observer, devils-advocate,
        /// brainstormer, fact-checker, summarizer, greeter) or a persona file (TOML).
        #[arg(long)]
        persona: String,
        #[command(flatten)]
        model: ModelArgs,
        /// A space it joins and acts in (repeatable).
        #[arg(long = "space")]
        spaces: Vec<SpaceId>,
        /// Address of a node hosting those spaces (repeatable).
        #[arg(long)]
        via: Vec<String>,
    },
    /// List the node's agents.
    List,
    /// Show an agent: DID, persona, tuning, spaces, budget use and status.
    Show {
        /// Its name or DID.
        agent: String,
    },
    /// Pause an agent: once this returns, it writes nothing until resumed.
    Pause {
        /// Its name or DID.
        agent: String,
    },
    /// Resume a paused agent.
    Resume {
        /// Its name or DID.
        agent: String,
    },
    /// Print an agent's log: what it did or refused, and when.
    Logs {
        /// Its name or DID.
        agent: String,
        /// Keep printing entries as they come.
        #[arg(long)]
        follow: bool,
    },
    /// Remove an agent (its timite stays, with what it wrote).
    Remove {
        /// Its name or DID.
        agent: String,
    },
    /// Change an agent's tuning.
    Tune {
        /// Its name or DID.
        agent: String,
        /// 0 (answers only what it is asked) to 1.
        #[arg(long)]
        proactivity: Option<f64>,
        /// The model's temperature, 0 to 2.
        #[arg(long)]
        temperature: Option<f32>,
        /// Recent events per prompt.
        #[arg(long)]
        memory_depth: Option<u32>,
        /// formal or casual.
        #[arg(long, value_parser = parse_style)]
        style: Option<AgentStyle>,
        /// Most writes per hour.
        #[arg(long)]
        actions_per_hour: Option<u32>,
        /// Most model tokens per day.
        #[arg(long)]
        tokens_per_day: Option<u64>,
    },
}

fn parse_style(s: &str) -> Result<AgentStyle, String> {
    match s {
        "formal" => Ok(AgentStyle::Formal),
        "casual" => Ok(AgentStyle::Casual),
        _ => Err(format!("`{s}` is not a style; use formal or casual")),
    }
}

/// A template's name as it is; a file's persona as its text.
/// The model an agent uses: `agent new`'s and `persona adopt`'s flags.
#[derive(clap::Args)]
pub(crate) struct ModelArgs {
    /// Its model, PROVIDER:MODEL (e.g. ollama:llama3.2).
    #[arg(long)]
    model: Option<String>,
    /// The model's base URL, if not the provider's.
    #[arg(long)]
    endpoint: Option<String>,
    /// An environment variable of the node's process that holds the model's key.
    #[arg(long, conflicts_with = "key_file")]
    key_env: Option<String>,
    /// A file the node can read that holds the model's key.
    #[arg(long)]
    key_file: Option<String>,
}

impl ModelArgs {
    /// The request that makes agent `name` from `persona` (TOML) with this model.
    pub(crate) fn request(
        self,
        name: String,
        persona: String,
        spaces: Vec<SpaceId>,
        via: Vec<String>,
    ) -> NewAgent {
        NewAgent {
            name,
            persona,
            model: self.model,
            endpoint: self.endpoint,
            key_env: self.key_env,
            key_file: self.key_file,
            spaces,
            via,
        }
    }
}

/// Makes an agent and prints its DID.
pub(crate) async fn new_agent(client: &Client, out: Out, req: NewAgent) -> Result<()> {
    let a = client.new_agent(&req).await?;
    out.print(&a, |a| outln!("{}", a.did))?;
    Ok(())
}

fn persona_text(persona: &str) -> Result<String> {
    let path = Path::new(persona);
    if path.is_file() {
        std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the persona file {}", path.display()))
    } else if persona.ends_with(".toml") {
        bail!("no persona file {persona}")
    } else {
        Ok(persona.to_string())
    }
}

fn print_agent(a: &AgentView) -> std::io::Result<()> {
    let t = &a.tuning;
    outln!("{}  {}", shown(&a.name), a.did)?;
    outln!(
        "  persona     {} ({}): {}",
        shown(&a.persona),
        a.template,
        shown(&a.description)
    )?;
    if let Some(m) = &a.model {
        outln!("  model       {}", shown(m))?;
    }
    outln!(
        "  tuning      proactivity {} temperature {} memory depth {} style {}",
        t.proactivity,
        t.temperature,
        t.memory_depth,
        match t.style {
            AgentStyle::Formal => "formal",
            AgentStyle::Casual => "casual",
        }
    )?;
    outln!(
        "  budget      {}/{} actions this hour, {}/{} model tokens today",
        a.budget.actions_this_hour,
        t.actions_per_hour,
        a.budget.tokens_today,
        t.tokens_per_day
    )?;
    for s in &a.spaces {
        outln!("  space       {s}")?;
    }
    for ability in &a.abilities {
        outln!("  ability     {}", shown(ability))?;
    }
    outln!("  status      {}", a.status)
}

fn print_entry(out: Out, e: &AgentLogEntry) -> Result<()> {
    if out.json {
        outln!("{}", safe_json(serde_json::to_string(e)?))?;
    } else {
        outln!("{}  {:<8} {}", format_date(e.at), e.kind, shown(&e.text))?;
    }
    Ok(())
}

/// `tim agent …`.
pub(crate) async fn run(client: &Client, out: Out, command: AgentCommand) -> Result<()> {
    match command {
        AgentCommand::New {
            name,
            persona,
            model,
            spaces,
            via,
        } => {
            let persona = persona_text(&persona)?;
            new_agent(client, out, model.request(name, persona, spaces, via)).await?;
        }
        AgentCommand::List => {
            let all = client.agents().await?;
            out.print(&all, |all| {
                if all.is_empty() {
                    outln!("no agents yet (tim agent new NAME --persona TEMPLATE)")?;
                }
                for a in all {
                    outln!(
                        "{:<16} {:<16} {}  {}",
                        shown(&a.name).to_string(),
                        a.template,
                        a.did,
                        a.status
                    )?;
                }
                Ok(())
            })?;
        }
        AgentCommand::Show { agent } => {
            let a = client.agent(&agent).await?;
            out.print(&a, print_agent)?;
        }
        AgentCommand::Pause { agent } => {
            let a = client.pause_agent(&agent).await?;
            out.print(&a, |a| outln!("{} paused", shown(&a.name)))?;
        }
        AgentCommand::Resume { agent } => {
            let a = client.resume_agent(&agent).await?;
            out.print(&a, |a| outln!("{} {}", shown(&a.name), a.status))?;
        }
        AgentCommand::Remove { agent } => {
            let a = client.remove_agent(&agent).await?;
            out.print(&a, |a| outln!("removed {} ({})", shown(&a.name), a.did))?;
        }
        AgentCommand::Tune {
            agent,
            proactivity,
            temperature,
            memory_depth,
            style,
            actions_per_hour,
            tokens_per_day,
        } => {
            let tune = TuneAgent {
                proactivity,
                temperature,
                memory_depth,
                style,
                actions_per_hour,
                tokens_per_day,
            };
            let a = client.tune_agent(&agent, &tune).await?;
            out.print(&a, print_agent)?;
        }
        AgentCommand::Logs { agent, follow } => {
            // Follow from before the past is read, so that nothing falls between the two.
            let live = if follow {
                Some(Box::pin(client.agent_log_events(&agent).await?))
            } else {
                None
            };
            let past = client.agent_logs(&agent).await?;
            match (&live, out.json) {
                (None, true) => out.print(&past, |_| Ok(()))?,
                _ => {
                    for e in &past {
                        print_entry(out, e)?;
                    }
                }
            }
            if let Some(mut live) = live {
                while let Some(e) = live.next().await {
                    match e {
                        // Entries already printed from the past are not printed twice.
                        Ok(e) if past.contains(&e) => {}
                        Ok(e) => print_entry(out, &e)?,
                        Err(ClientError::Lagged(n)) => {
                            crate::output::errln!("(missed {n} entries)")?;
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
    }
    Ok(())
}
