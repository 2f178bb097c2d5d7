//! Agents: hosted timites whose behaviour the node runs (docs/agents.md).
//!
//! An agent is a timite like any other (its own key, DID, roles and reputation) made by the
//! operator from a [persona](persona::Persona); the runtime (`runtime.rs`) runs its
//! behaviour, which writes only through the [`Service`] as the agent's timite, so the same
//! gate and rules judge it as any client. The operator's use cases are here: make, list,
//! show, pause, resume, tune, remove, and read an agent's log.

pub mod builtins;
pub mod persona;
mod runtime;

use tim_models::KeySource;
use tim_protocol::api::{
    AgentLogEntry, AgentLogsQuery, AgentView, BudgetUse, JoinSpace, NewAgent, TuneAgent,
};
use tim_protocol::Did;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::{Stream, StreamExt as _};

use self::persona::{check_model, check_tuning, with_endpoint, Persona, PersonaError};
pub(crate) use self::runtime::Agents;
pub use self::runtime::MODEL_BOUND;
use crate::node::now_ms;
use crate::service::{Caller, Service, ServiceError, ServiceResult};
use crate::store::{AgentRecord, Counters, MAX_AGENT_LOG};
use crate::{NodeError, StoreError};

/// Longest agent name.
pub const MAX_AGENT_NAME: usize = 64;

impl From<PersonaError> for ServiceError {
    fn from(e: PersonaError) -> Self {
        NodeError::Invalid(e.to_string()).into()
    }
}

/// RFC 3339 (UTC, whole seconds) of a time in ms.
pub(crate) fn rfc3339(ms: u64) -> String {
    tim_did::credential::format_time((ms / 1000) as i64)
}

/// A store result as the service's.
fn stored<T>(r: Result<T, StoreError>) -> ServiceResult<T> {
    r.map_err(|e| NodeError::from(e).into())
}

fn check_name(name: &str) -> ServiceResult<()> {
    let ok = (1..=MAX_AGENT_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b));
    if ok && !name.starts_with("did:") {
        Ok(())
    } else {
        Err(NodeError::Invalid(format!(
            "`{name}` is not an agent name: 1 to {MAX_AGENT_NAME} of a-z, 0-9, -, _ and ."
        ))
        .into())
    }
}

/// The status `agent show` gives, and budget use, from the stored counters at `now`.
fn budget_use(c: &Counters, r: &AgentRecord, now: u64) -> BudgetUse {
    let hour_end = c.hour_start + 3_600_000;
    let day_end = c.day_start + 24 * 3_600_000;
    let actions = if now < hour_end { c.actions } else { 0 };
    let tokens = if now < day_end { c.tokens } else { 0 };
    let over_until = [
        (actions >= r.tuning.actions_per_hour).then_some(hour_end),
        (tokens >= r.tuning.tokens_per_day && r.model.is_some()).then_some(day_end),
    ]
    .into_iter()
    .flatten()
    .max();
    BudgetUse {
        actions_this_hour: actions,
        tokens_today: tokens,
        over_until,
    }
}

impl Service {
    fn agent_view(&self, r: &AgentRecord) -> ServiceResult<AgentView> {
        let persona = Persona::parse(&r.persona)?;
        let budget = budget_use(&stored(self.node().store().counters(&r.did))?, r, now_ms());
        let status = match (r.paused, budget.over_until) {
            (true, _) => "paused".to_string(),
            (false, Some(until)) => format!("over budget until {}", rfc3339(until)),
            (false, None) => "running".to_string(),
        };
        Ok(AgentView {
            name: r.name.clone(),
            did: r.did,
            persona: persona.name,
            template: persona.template.as_str().to_string(),
            description: persona.description,
            model: r.model.clone(),
            tuning: r.tuning,
            spaces: r.spaces.clone(),
            abilities: persona.abilities.into_iter().map(|a| a.name).collect(),
            budget,
            status,
            created_at: r.created_at,
        })
    }

    /// The agent named `agent` (its name, or its DID).
    pub(crate) fn find_agent(&self, agent: &str) -> ServiceResult<AgentRecord> {
        let did = agent.parse::<Did>().ok();
        stored(self.node().store().agents())?
            .into_iter()
            .find(|r| r.name == agent || Some(r.did) == did)
            .ok_or_else(|| {
                NodeError::NotFound(format!(
                    "no agent {agent} on this node (see GET /v1/agents)"
                ))
                .into()
            })
    }

    async fn save_agent(&self, r: &AgentRecord) -> ServiceResult<()> {
        let store = self.node().store();
        stored(store.put_agent(r))?;
        stored(store.flush().await)?;
        Ok(())
    }

    /// Makes an agent (operator): a new hosted timite that joins `spaces` as itself, then runs
    /// the persona's behaviour. Refuses a bad persona, name or model before anything is made.
    pub async fn create_agent(&self, caller: &Caller, req: &NewAgent) -> ServiceResult<AgentView> {
        Self::operator_only(caller, "making an agent")?;
        check_name(&req.name)?;
        if self.find_agent(&req.name).is_ok() {
            return Err(NodeError::Invalid(format!(
                "an agent named {} exists already on this node",
                req.name
            ))
            .into());
        }
        if let Some(m) = &req.model {
            check_model(&with_endpoint(m, req.endpoint.as_deref()))?;
        }
        let persona = Persona::resolve(&req.persona, req.model.as_deref())?;
        let text = match persona::SHIPPED
            .iter()
            .find(|(n, _)| *n == req.persona.trim())
        {
            Some((_, text)) => text.to_string(),
            None => req.persona.clone(),
        };
        let key = match (&req.key_env, &req.key_file) {
            (Some(_), Some(_)) => {
                return Err(NodeError::Invalid(
                    "give the model's key by an environment variable or a file, not both".into(),
                )
                .into())
            }
            (Some(var), None) => KeySource::Env(var.clone()),
            (None, Some(path)) => KeySource::File(path.into()),
            (None, None) => KeySource::None,
        };
        let did = self.add_timite(caller).await?.did;
        let me = Caller::timite(did);
        let join = JoinSpace {
            via: req.via.clone(),
            ..JoinSpace::default()
        };
        for space in &req.spaces {
            self.join_space(&me, *space, &join).await?;
        }
        let record = AgentRecord {
            name: req.name.clone(),
            did,
            persona: text,
            tuning: persona.tuning(),
            spaces: req.spaces.clone(),
            paused: false,
            model: persona.model.clone(),
            endpoint: req.endpoint.clone(),
            key,
            created_at: now_ms(),
        };
        self.save_agent(&record).await?;
        self.agents().start(record.clone()).await?;
        self.agent_view(&record)
    }

    /// Every agent of this node, by DID (operator).
    pub async fn list_agents(&self, caller: &Caller) -> ServiceResult<Vec<AgentView>> {
        Self::operator_only(caller, "listing agents")?;
        stored(self.node().store().agents())?
            .iter()
            .map(|r| self.agent_view(r))
            .collect()
    }

    /// One agent, by name or DID (operator).
    pub async fn agent(&self, caller: &Caller, agent: &str) -> ServiceResult<AgentView> {
        Self::operator_only(caller, "showing an agent")?;
        self.agent_view(&self.find_agent(agent)?)
    }

    /// Pauses an agent (operator): once this answers, it writes nothing more until resumed.
    pub async fn pause_agent(&self, caller: &Caller, agent: &str) -> ServiceResult<AgentView> {
        Self::operator_only(caller, "pausing an agent")?;
        let mut r = self.find_agent(agent)?;
        self.agents().stop(r.did).await?;
        r.paused = true;
        self.save_agent(&r).await?;
        self.agent_view(&r)
    }

    /// Resumes a paused agent (operator).
    pub async fn resume_agent(&self, caller: &Caller, agent: &str) -> ServiceResult<AgentView> {
        Self::operator_only(caller, "resuming an agent")?;
        let mut r = self.find_agent(agent)?;
        r.paused = false;
        self.save_agent(&r).await?;
        self.agents().start(r.clone()).await?;
        self.agent_view(&r)
    }

    /// Changes an agent's tuning (operator); a running agent restarts with it.
    pub async fn tune_agent(
        &self,
        caller: &Caller,
        agent: &str,
        tune: &TuneAgent,
    ) -> ServiceResult<AgentView> {
        Self::operator_only(caller, "tuning an agent")?;
        let mut r = self.find_agent(agent)?;
        let t = &mut r.tuning;
        t.proactivity = tune.proactivity.unwrap_or(t.proactivity);
        t.temperature = tune.temperature.unwrap_or(t.temperature);
        t.memory_depth = tune.memory_depth.unwrap_or(t.memory_depth);
        t.style = tune.style.unwrap_or(t.style);
        t.actions_per_hour = tune.actions_per_hour.unwrap_or(t.actions_per_hour);
        t.tokens_per_day = tune.tokens_per_day.unwrap_or(t.tokens_per_day);
        check_tuning(t)?;
        self.save_agent(&r).await?;
        if !r.paused {
            self.agents().start(r.clone()).await?;
        }
        self.agent_view(&r)
    }

    /// Removes an agent (operator): it stops, and its record, budget and log are deleted. Its
    /// timite stays hosted (its key signed its changes; spaces keep them).
    pub async fn remove_agent(&self, caller: &Caller, agent: &str) -> ServiceResult<AgentView> {
        Self::operator_only(caller, "removing an agent")?;
        let r = self.find_agent(agent)?;
        let view = self.agent_view(&r)?;
        self.agents().stop(r.did).await?;
        let store = self.node().store();
        stored(store.remove_agent(&r.did))?;
        // What it remembered goes with it (docs/agents.md, "Memory").
        let forgotten = self
            .node()
            .memory()
            .and_then(|m| m.forget(&r.did, None, None));
        forgotten.map_err(NodeError::from)?;
        stored(store.flush().await)?;
        Ok(view)
    }

    /// An agent's newest log entries, oldest first (operator).
    pub async fn agent_logs(
        &self,
        caller: &Caller,
        agent: &str,
        query: AgentLogsQuery,
    ) -> ServiceResult<Vec<AgentLogEntry>> {
        Self::operator_only(caller, "reading an agent's log")?;
        let r = self.find_agent(agent)?;
        let limit = query.limit.unwrap_or(MAX_AGENT_LOG).min(MAX_AGENT_LOG);
        stored(self.node().store().agent_log(&r.did, limit))
    }

    /// An agent's log entries as they come (operator).
    pub async fn agent_log_events(
        &self,
        caller: &Caller,
        agent: &str,
    ) -> ServiceResult<impl Stream<Item = Result<AgentLogEntry, BroadcastStreamRecvError>> + use<>>
    {
        Self::operator_only(caller, "reading an agent's log")?;
        let did = self.find_agent(agent)?.did;
        Ok(BroadcastStream::new(self.agents().log_events())
            .filter(move |e| e.as_ref().map_or(true, |e| e.agent == did)))
    }
}
