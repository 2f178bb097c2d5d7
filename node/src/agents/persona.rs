//! Personas: what an agent is, as a TOML file (docs/agents.md, "Personas"). A persona names a
//! behaviour [`Template`], how proactive it is and on which [`Trigger`]s it acts, the tuning
//! defaults and budget, an optional model, and the abilities it offers with how each is served
//! ([`Serve`]). The shipped templates are in `node/personas/`, compiled in.
//!
//! [`Persona::parse`] checks everything before an agent is made: an unknown template, a value
//! out of range, a template or an ability that needs a model without one, a bad ability name
//! or schema are typed [`PersonaError`]s that say what to change.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tim_crdt::json_schema;
use tim_protocol::api::{AgentStyle, AgentTuning};

/// The personas that ship with Tim, by template name.
pub const SHIPPED: [(&str, &str); 9] = [
    ("catalyst", include_str!("../../personas/catalyst.toml")),
    ("mediator", include_str!("../../personas/mediator.toml")),
    ("specialist", include_str!("../../personas/specialist.toml")),
    ("observer", include_str!("../../personas/observer.toml")),
    (
        "devils-advocate",
        include_str!("../../personas/devils-advocate.toml"),
    ),
    (
        "brainstormer",
        include_str!("../../personas/brainstormer.toml"),
    ),
    (
        "fact-checker",
        include_str!("../../personas/fact-checker.toml"),
    ),
    ("summarizer", include_str!("../../personas/summarizer.toml")),
    ("greeter", include_str!("../../personas/greeter.toml")),
];

/// Longest persona text accepted.
pub const MAX_PERSONA_BYTES: usize = 64 * 1024;

/// A behaviour template: what the agent does when its triggers fire or it is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Template {
    /// Wakes a quiet space with a question drawn from its purpose (offline).
    Catalyst,
    /// Helps members who disagree (model).
    Mediator,
    /// Offers the abilities its persona lists.
    Specialist,
    /// Reports activity (offline).
    Observer,
    /// Argues the other side (model).
    DevilsAdvocate,
    /// Adds ideas (model).
    Brainstormer,
    /// Checks claims (model).
    FactChecker,
    /// Summarizes text (offline).
    Summarizer,
    /// Welcomes new members (offline).
    Greeter,
}

impl Template {
    /// Whether the template speaks through a language model.
    pub fn needs_model(self) -> bool {
        matches!(
            self,
            Self::Mediator | Self::DevilsAdvocate | Self::Brainstormer | Self::FactChecker
        )
    }

    /// Its name in a persona file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Catalyst => "catalyst",
            Self::Mediator => "mediator",
            Self::Specialist => "specialist",
            Self::Observer => "observer",
            Self::DevilsAdvocate => "devils-advocate",
            Self::Brainstormer => "brainstormer",
            Self::FactChecker => "fact-checker",
            Self::Summarizer => "summarizer",
            Self::Greeter => "greeter",
        }
    }
}

/// When a proactive agent acts on its own (a proactivity of 0 turns them all off).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Trigger {
    /// No message in a space for this long.
    QuietSpace {
        /// Seconds of quiet.
        after_secs: u64,
    },
    /// A timite joined a space.
    NewMember,
    /// A request in a space has been open, unclaimed, this long.
    UnansweredRequest {
        /// Seconds open.
        after_secs: u64,
    },
    /// Every this often.
    Period {
        /// Seconds between two.
        every_secs: u64,
    },
    /// A message names the agent.
    Mention,
}

/// How an ability is served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Serve {
    /// By a built-in of the node ([`BUILTINS`]), offline.
    Builtin(String),
    /// By the agent's model, with this instruction before the input.
    Prompt(String),
    /// By a tool of an MCP server (docs/mcp.md, "MCP tools as abilities"): the node reaches
    /// the server when the agent starts, declares the ability with the tool's schemas, and
    /// calls the tool for each request.
    Mcp(McpServe),
}

/// An MCP server's tool that serves an ability: in TOML,
/// `serve = { mcp = { tool = "echo", server = { command = "…", args = […] } } }` (or
/// `server = { url = "…", bearer_env = "VAR" }`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpServe {
    /// The server.
    pub server: crate::mcp_tools::McpServerSpec,
    /// The tool's name on the server.
    pub tool: String,
}

/// The built-ins an ability can be served by.
pub const BUILTINS: [&str; 3] = ["summarize", "keywords", "activity"];

/// An ability the agent offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonaAbility {
    /// Its namespaced name (`text.summarize`).
    pub name: String,
    /// What it does.
    pub description: String,
    /// JSON Schema of its input.
    #[serde(default = "any_object")]
    pub input_schema: Value,
    /// JSON Schema of its output.
    #[serde(default = "any_object")]
    pub output_schema: Value,
    /// How it is served.
    pub serve: Serve,
}

fn any_object() -> Value {
    serde_json::json!({ "type": "object" })
}

/// A persona's default budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Writes per hour.
    pub actions_per_hour: u32,
    /// Model tokens per day.
    pub tokens_per_day: u64,
}

impl Default for Budget {
    fn default() -> Self {
        Self {
            actions_per_hour: 20,
            tokens_per_day: 50_000,
        }
    }
}

/// A persona: see the [module documentation](self) and docs/agents.md for every field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Persona {
    /// Its name.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// Its behaviour template.
    pub template: Template,
    /// 0 to 1; 0 is reactive only.
    pub proactivity: f64,
    /// When it acts on its own.
    #[serde(default)]
    pub triggers: Vec<Trigger>,
    /// Recent events per prompt.
    #[serde(default = "default_memory_depth")]
    pub memory_depth: u32,
    /// Tone.
    #[serde(default = "default_style")]
    pub style: AgentStyle,
    /// Model temperature, 0 to 2.
    #[serde(default = "default_temperature")]
    pub temperature: f32,
    /// `PROVIDER:MODEL`, if the persona brings its own.
    #[serde(default)]
    pub model: Option<String>,
    /// Default budget.
    #[serde(default)]
    pub budget: Budget,
    /// Abilities offered.
    #[serde(default)]
    pub abilities: Vec<PersonaAbility>,
}

fn default_memory_depth() -> u32 {
    20
}
fn default_style() -> AgentStyle {
    AgentStyle::Casual
}
fn default_temperature() -> f32 {
    0.7
}

/// Why a persona is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PersonaError {
    /// Neither a shipped template's name nor valid TOML.
    #[error("the persona is not valid TOML ({0}); give a template name (catalyst, mediator, specialist, observer, devils-advocate, brainstormer, fact-checker, summarizer, greeter) or a persona file")]
    Toml(String),
    /// Over [`MAX_PERSONA_BYTES`].
    #[error("a persona is at most {MAX_PERSONA_BYTES} bytes")]
    TooLong,
    /// An empty name.
    #[error("a persona needs a name")]
    NoName,
    /// A number out of its range.
    #[error("{field} must be {range}; the persona says {value}")]
    OutOfRange {
        /// The field.
        field: &'static str,
        /// Its allowed range.
        range: &'static str,
        /// What was given.
        value: String,
    },
    /// A template that speaks through a model, without one.
    #[error("the {0} template needs a language model: give one with --model PROVIDER:MODEL (e.g. ollama:llama3.2) or `model` in the persona")]
    NeedsModel(&'static str),
    /// An ability served by a prompt, without a model.
    #[error("ability {0} is served by a prompt, which needs a language model: give one with --model PROVIDER:MODEL")]
    PromptNeedsModel(String),
    /// Not a built-in.
    #[error("ability {ability} names the built-in `{builtin}`; the built-ins are summarize, keywords and activity")]
    UnknownBuiltin {
        /// The ability.
        ability: String,
        /// The name given.
        builtin: String,
    },
    /// A bad ability name or schema.
    #[error("ability {ability}: {reason}")]
    BadAbility {
        /// The ability.
        ability: String,
        /// What is wrong.
        reason: String,
    },
    /// The same ability twice.
    #[error("ability {0} is listed twice")]
    DuplicateAbility(String),
    /// Not a model the clients know (`PROVIDER:MODEL[@ENDPOINT]`).
    #[error("`{0}` is not a model: {1} (PROVIDER:MODEL, e.g. ollama:llama3.2, openai:gpt-4o-mini, anthropic:claude-sonnet-4-5)")]
    BadModel(String, String),
}

impl Persona {
    /// A shipped template's persona by name, or a persona's TOML text, checked as for an agent
    /// whose model (if any) is `model` (which overrides the persona's).
    pub fn resolve(persona: &str, model: Option<&str>) -> Result<Self, PersonaError> {
        let text = SHIPPED
            .iter()
            .find(|(name, _)| *name == persona.trim())
            .map_or(persona, |(_, text)| text);
        let mut p = Self::parse(text)?;
        if let Some(m) = model {
            p.model = Some(m.to_string());
        }
        p.check()?;
        Ok(p)
    }

    /// Parses a persona's TOML text (not yet [checked](Self::check)).
    pub fn parse(text: &str) -> Result<Self, PersonaError> {
        if text.len() > MAX_PERSONA_BYTES {
            return Err(PersonaError::TooLong);
        }
        toml::from_str(text).map_err(|e| PersonaError::Toml(e.message().to_string()))
    }

    /// Checks every field: see [`PersonaError`].
    pub fn check(&self) -> Result<(), PersonaError> {
        let out_of_range = |field, range, value: String| {
            Err(PersonaError::OutOfRange {
                field,
                range,
                value,
            })
        };
        if self.name.trim().is_empty() {
            return Err(PersonaError::NoName);
        }
        check_tuning(&self.tuning())?;
        for t in &self.triggers {
            let secs = match t {
                Trigger::QuietSpace { after_secs } | Trigger::UnansweredRequest { after_secs } => {
                    *after_secs
                }
                Trigger::Period { every_secs } => *every_secs,
                Trigger::NewMember | Trigger::Mention => 1,
            };
            if secs == 0 {
                return out_of_range("a trigger's seconds", "at least 1", "0".into());
            }
        }
        if let Some(m) = &self.model {
            check_model(m)?;
        }
        if self.template.needs_model() && self.model.is_none() {
            return Err(PersonaError::NeedsModel(self.template.as_str()));
        }
        let mut seen = std::collections::HashSet::new();
        for a in &self.abilities {
            if !seen.insert(a.name.as_str()) {
                return Err(PersonaError::DuplicateAbility(a.name.clone()));
            }
            let bad = |reason: String| PersonaError::BadAbility {
                ability: a.name.clone(),
                reason,
            };
            tim_crdt::abilities::check_name(&a.name).map_err(bad)?;
            for schema in [&a.input_schema, &a.output_schema] {
                json_schema::check(schema).map_err(bad)?;
            }
            match &a.serve {
                Serve::Builtin(b) if !BUILTINS.contains(&b.as_str()) => {
                    return Err(PersonaError::UnknownBuiltin {
                        ability: a.name.clone(),
                        builtin: b.clone(),
                    })
                }
                Serve::Prompt(_) if self.model.is_none() => {
                    return Err(PersonaError::PromptNeedsModel(a.name.clone()))
                }
                Serve::Builtin(_) | Serve::Prompt(_) | Serve::Mcp(_) => {}
            }
        }
        Ok(())
    }

    /// The tuning it starts with.
    pub fn tuning(&self) -> AgentTuning {
        AgentTuning {
            proactivity: self.proactivity,
            temperature: self.temperature,
            memory_depth: self.memory_depth,
            style: self.style,
            actions_per_hour: self.budget.actions_per_hour,
            tokens_per_day: self.budget.tokens_per_day,
        }
    }
}

/// Checks tuning values against their ranges (a persona's, or a `tune`).
pub fn check_tuning(t: &AgentTuning) -> Result<(), PersonaError> {
    let bad = |field, range, value: String| {
        Err(PersonaError::OutOfRange {
            field,
            range,
            value,
        })
    };
    if !(0.0..=1.0).contains(&t.proactivity) {
        return bad("proactivity", "0 to 1", t.proactivity.to_string());
    }
    if !(0.0..=2.0).contains(&t.temperature) {
        return bad("temperature", "0 to 2", t.temperature.to_string());
    }
    if !(1..=1000).contains(&t.memory_depth) {
        return bad("memory_depth", "1 to 1000", t.memory_depth.to_string());
    }
    if t.actions_per_hour == 0 || t.actions_per_hour > 10_000 {
        return bad(
            "actions_per_hour",
            "1 to 10000",
            t.actions_per_hour.to_string(),
        );
    }
    Ok(())
}

/// Checks the shape `PROVIDER:MODEL` (the model client parses the rest when it is made).
pub fn check_model(m: &str) -> Result<(), PersonaError> {
    m.parse::<tim_models::ModelSpec>()
        .map(drop)
        .map_err(|e| PersonaError::BadModel(m.to_string(), e.to_string()))
}

/// `model` with `endpoint` after an `@` (the form `ModelSpec` reads), unless `model` names an
/// endpoint itself.
pub fn with_endpoint(model: &str, endpoint: Option<&str>) -> String {
    match endpoint {
        Some(e) if !model.contains('@') => format!("{model}@{e}"),
        _ => model.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_persona_parses_and_the_offline_ones_pass_without_a_model() {
        for (name, text) in SHIPPED {
            let p = Persona::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(p.template.as_str(), name);
            let checked = Persona::resolve(name, None);
            if p.template.needs_model() {
                assert_eq!(checked, Err(PersonaError::NeedsModel(p.template.as_str())));
                Persona::resolve(name, Some("ollama:llama3.2")).unwrap();
            } else {
                checked.unwrap();
            }
        }
    }

    #[test]
    fn bad_personas_get_typed_errors() {
        let base = |extra: &str| format!("name = \"x\"\ndescription = \"d\"\n{extra}");
        let unknown = Persona::resolve(&base("template = \"poet\"\nproactivity = 0.1"), None);
        assert!(matches!(unknown, Err(PersonaError::Toml(_))), "{unknown:?}");
        let range = Persona::resolve(&base("template = \"greeter\"\nproactivity = 1.5"), None);
        assert!(
            matches!(
                range,
                Err(PersonaError::OutOfRange {
                    field: "proactivity",
                    ..
                })
            ),
            "{range:?}"
        );
        let builtin = base(
            "template = \"specialist\"\nproactivity = 0.0\n[[abilities]]\nname = \"a.b\"\n\
             description = \"d\"\nserve = { builtin = \"dance\" }",
        );
        assert!(matches!(
            Persona::resolve(&builtin, None),
            Err(PersonaError::UnknownBuiltin { .. })
        ));
        let prompt = base(
            "template = \"specialist\"\nproactivity = 0.0\n[[abilities]]\nname = \"a.b\"\n\
             description = \"d\"\nserve = { prompt = \"answer\" }",
        );
        assert!(matches!(
            Persona::resolve(&prompt, None),
            Err(PersonaError::PromptNeedsModel(_))
        ));
        assert!(matches!(
            Persona::resolve("mediator", Some("llama")),
            Err(PersonaError::BadModel(..))
        ));
    }
}
