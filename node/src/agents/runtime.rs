//! The agent runtime: a supervisor actor owned by the [`Service`], and one task per running
//! agent (docs/agents.md, "Runtime").
//!
//! **Supervisor.** [`Service::new`] makes it: it starts every agent of the store that is not
//! paused, then starts and stops agents when the service asks ([`Agents`]). It ends, stopping
//! every agent, when every [`Service`] clone outside the runtime is gone: the runtime's own
//! clones hold only a weak link to it, so they do not keep the node alive.
//!
//! **An agent** is a task that follows the events of its spaces (through
//! [`Service::events`], so it reads what its timite may read) and acts through the same
//! [`Service`] methods as any client, as `Caller::timite(its DID)`: the space's gate judges
//! its writes like anyone's. It serves the requests whose first candidate it is (as
//! `tim_client::provider` does), and, when its proactivity is above 0, acts on its persona's
//! triggers, except that it starts nothing in a space whose profile asks agents to be reactive
//! (docs/governance.md "Space profiles"). Before each write it spends one action of its hourly
//! budget, and before each model call checks its daily tokens; over budget it writes nothing
//! and says so in its log. It handles a stop (pause, tune, remove) only between two actions,
//! so once a pause has answered, the agent writes nothing more.
//!
//! **Models.** A model call runs in its own task, bounded by [`MODEL_BOUND`]; its answer comes
//! back to the agent's loop as a message, so a slow or failing model never blocks the node, the
//! agent's other duties, or other agents. Events are seen in one place
//! ([`Agent::observe`]) and prompts built in one place ([`Agent::prompt`]), where memory plugs
//! in.

use std::collections::HashMap;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{select_all, SelectAll};
use futures::{Stream, StreamExt};
use serde_json::{json, Value};
use tim_crdt::profile::REACTIVE;
use tim_models::{Message, ModelClient, ModelError, ModelSpec, Prompt, Reply, Role};
use tim_protocol::api::{
    AbilityRequest, AgentLogEntry, AgentStyle, DeclareAbility, MembersQuery, SpaceEvent,
    SpaceProfile, TimelineQuery, MAX_TIMELINE_PAGE,
};
use tim_protocol::{Did, SpaceId};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use super::builtins;
use super::persona::{with_endpoint, McpServe, Persona, PersonaAbility, Serve, Template, Trigger};
use crate::mcp_tools::{declaration, McpServerSpec, McpTools, DEFAULT_PREFIX};
use crate::memory::{Layer, Memory};
use crate::node::now_ms;
use crate::service::{Caller, Service, ServiceResult};
use crate::store::{AgentRecord, Counters};
use crate::NodeError;

/// Most commands queued for the supervisor.
const SUPERVISOR_QUEUE: usize = 64;
/// Most model answers queued for one agent.
const MODEL_QUEUE: usize = 8;
/// Most model calls one agent has running at once; more wait for a later trigger.
const MODEL_CALLS: usize = 2;
/// Open requests an agent keeps track of per space (for `unanswered_request`).
const MAX_OPEN_TRACKED: usize = 256;
/// Log entries buffered for live readers (`GET /v1/agents/{agent}/logs/events`).
const LOG_BROADCAST: usize = 256;
/// Longest a model call may take, retries included; then it is given up and logged.
pub const MODEL_BOUND: Duration = Duration::from_secs(120);
/// Most tokens a model answer may have.
const MAX_ANSWER_TOKENS: u32 = 600;
const HOUR_MS: u64 = 3_600_000;
const DAY_MS: u64 = 24 * HOUR_MS;

type Events =
    SelectAll<Pin<Box<dyn Stream<Item = Result<SpaceEvent, BroadcastStreamRecvError>> + Send>>>;

/// What the supervisor is asked.
#[derive(Debug)]
enum Command {
    /// Start (or restart, with a new record) an agent; answered once it runs.
    Start(Box<AgentRecord>, oneshot::Sender<()>),
    /// Stop an agent between two of its actions; answered once it has stopped.
    Stop(Did, oneshot::Sender<()>),
}

#[derive(Debug, Clone)]
enum Link {
    Strong(mpsc::Sender<Command>),
    Weak(mpsc::WeakSender<Command>),
}

/// The service's link to the agent runtime: starts and stops agents, and carries their live
/// log. Clones outside the runtime keep the supervisor running.
#[derive(Debug, Clone)]
pub(crate) struct Agents {
    link: Link,
    logs: broadcast::Sender<AgentLogEntry>,
}

/// The supervisor's end, before it runs.
#[derive(Debug)]
pub(crate) struct Supervisor {
    commands: mpsc::Receiver<Command>,
}

impl Agents {
    /// A link and the supervisor it reaches ([`Supervisor::spawn`] runs it).
    pub(crate) fn new() -> (Self, Supervisor) {
        let (tx, commands) = mpsc::channel(SUPERVISOR_QUEUE);
        let (logs, _) = broadcast::channel(LOG_BROADCAST);
        let link = Link::Strong(tx);
        (Self { link, logs }, Supervisor { commands })
    }

    /// The same link, weak: what the runtime's own [`Service`] clones hold.
    pub(crate) fn weak(&self) -> Self {
        let link = match &self.link {
            Link::Strong(tx) => Link::Weak(tx.downgrade()),
            weak @ Link::Weak(_) => weak.clone(),
        };
        Self {
            link,
            logs: self.logs.clone(),
        }
    }

    async fn ask(&self, make: impl FnOnce(oneshot::Sender<()>) -> Command) -> ServiceResult<()> {
        // The runtime stops only with the node's last service.
        let gone = || NodeError::Gone;
        let tx = match &self.link {
            Link::Strong(tx) => tx.clone(),
            Link::Weak(tx) => tx.upgrade().ok_or_else(gone)?,
        };
        let (reply, done) = oneshot::channel();
        tx.send(make(reply)).await.map_err(|_| gone())?;
        done.await.map_err(|_| gone())?;
        Ok(())
    }

    /// Starts an agent (stopping it first if it runs); returns once it runs.
    pub(crate) async fn start(&self, record: AgentRecord) -> ServiceResult<()> {
        self.ask(|r| Command::Start(Box::new(record), r)).await
    }

    /// Stops an agent between two of its actions; returns once it has stopped.
    pub(crate) async fn stop(&self, did: Did) -> ServiceResult<()> {
        self.ask(|r| Command::Stop(did, r)).await
    }

    /// The live log of every agent.
    pub(crate) fn log_events(&self) -> broadcast::Receiver<AgentLogEntry> {
        self.logs.subscribe()
    }
}

/// A running agent, as the supervisor holds it.
#[derive(Debug)]
struct Running {
    stop: mpsc::Sender<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Running {
    async fn stop(self) {
        let (ack, stopped) = oneshot::channel();
        if self.stop.send(ack).await.is_ok() {
            let _ = stopped.await;
        }
        let _ = self.task.await;
    }
}

impl Supervisor {
    /// Runs the supervisor for `service` (whose link must be [weak](Agents::weak)).
    pub(crate) fn spawn(self, service: Service) {
        tokio::spawn(self.run(service));
    }

    async fn run(mut self, service: Service) {
        let mut running: HashMap<Did, Running> = HashMap::new();
        match service.node().store().agents() {
            Ok(records) => {
                for r in records.into_iter().filter(|r| !r.paused) {
                    running.insert(r.did, start(&service, r, None));
                }
            }
            Err(e) => tracing::error!("cannot read the agents from the store: {e}"),
        }
        while let Some(command) = self.commands.recv().await {
            match command {
                Command::Start(record, reply) => {
                    if let Some(r) = running.remove(&record.did) {
                        r.stop().await;
                    }
                    let (ready, following) = oneshot::channel();
                    running.insert(record.did, start(&service, *record, Some(ready)));
                    // Answered once it follows its spaces (or could not start).
                    let _ = following.await;
                    let _ = reply.send(());
                }
                Command::Stop(did, reply) => {
                    if let Some(r) = running.remove(&did) {
                        r.stop().await;
                    }
                    let _ = reply.send(());
                }
            }
        }
        for (_, r) in running.drain() {
            r.stop().await;
        }
    }
}

/// Starts an agent's task; `ready` is told once it follows its spaces' events.
fn start(service: &Service, record: AgentRecord, ready: Option<oneshot::Sender<()>>) -> Running {
    let (stop, stops) = mpsc::channel(1);
    let task = tokio::spawn(run_agent(service.clone(), record, stops, ready));
    Running { stop, task }
}

/// What a model call was for.
#[derive(Debug)]
enum Purpose {
    /// A message to post.
    Post,
    /// The result of a request.
    Answer(String),
}

/// A model call's outcome, back in the agent's loop.
#[derive(Debug)]
struct ModelDone {
    space: SpaceId,
    purpose: Purpose,
    reply: Result<Reply, ModelError>,
}

/// What an agent keeps about one of its spaces.
#[derive(Debug)]
struct SpaceState {
    /// The last message (or the agent's start).
    last_activity: Instant,
    /// Whether the agent wrote the last message.
    last_was_mine: bool,
    /// Requests not yet claimed, with when they were seen and whether they were nudged.
    open: HashMap<String, (Instant, bool)>,
    /// When the next period report is due.
    next_period: Option<Instant>,
}

struct Agent {
    service: Service,
    record: AgentRecord,
    persona: Persona,
    me: Caller,
    counters: Counters,
    /// Whether the agent said it is over budget in the current window.
    said_over: bool,
    spaces: HashMap<SpaceId, SpaceState>,
    /// What it remembers (docs/agents.md, "Memory"): every event it sees goes there, and its
    /// prompts are built from it.
    memory: Memory,
    /// The MCP servers its abilities are served by, reached when it starts.
    mcp: Vec<(McpServerSpec, Arc<McpTools>)>,
    model: Option<ModelClient>,
    models: mpsc::Sender<ModelDone>,
    calls: usize,
}

async fn run_agent(
    service: Service,
    record: AgentRecord,
    mut stops: mpsc::Receiver<oneshot::Sender<()>>,
    ready: Option<oneshot::Sender<()>>,
) {
    let hosted = match service.node().timites().await {
        Ok(all) if all.iter().any(|t| t.did == record.did) => Ok(()),
        Ok(_) => Err("its key is not on this node (timites/ in the node's home)".to_string()),
        Err(e) => Err(e.to_string()),
    };
    let persona = hosted.and_then(|()| Persona::parse(&record.persona).map_err(|e| e.to_string()));
    let opened = persona.and_then(|p| {
        let memory = service.node().memory().map_err(|e| e.to_string())?;
        Ok((p, memory))
    });
    let (persona, memory) = match opened {
        Ok(opened) => opened,
        Err(e) => {
            log(
                &service,
                record.did,
                "refused",
                format!("cannot start: {e}"),
            );
            // Wait for the stop, so that a pause answers as for any agent.
            if let Some(ack) = stops.recv().await {
                let _ = ack.send(());
            }
            return;
        }
    };
    let (models, mut answers) = mpsc::channel(MODEL_QUEUE);
    let mut agent = Agent {
        me: Caller::timite(record.did),
        counters: service
            .node()
            .store()
            .counters(&record.did)
            .unwrap_or_default(),
        said_over: false,
        spaces: HashMap::new(),
        memory,
        mcp: Vec::new(),
        model: None,
        models,
        calls: 0,
        persona,
        record,
        service,
    };
    agent.model = agent.model_client();
    agent.reach_mcp_servers().await;
    let mut events = agent.open_spaces().await;
    agent.log(
        "started",
        format!("following {} spaces", agent.spaces.len()),
    );
    if let Some(ready) = ready {
        let _ = ready.send(());
    }
    agent.declare_abilities().await;
    loop {
        let due = agent.next_due();
        tokio::select! {
            biased;
            ack = stops.recv() => {
                agent.log("stopped", "stopped".into());
                if let Some(ack) = ack {
                    let _ = ack.send(());
                }
                return;
            }
            Some(done) = answers.recv() => agent.on_model(done).await,
            event = events.next(), if !events.is_empty() => match event {
                Some(Ok(e)) => agent.on_event(e).await,
                Some(Err(BroadcastStreamRecvError::Lagged(n))) => {
                    agent.log("refused", format!("fell behind its spaces' events and missed {n}"));
                }
                None => {}
            },
            _ = sleep_until(due) => agent.on_due().await,
        }
    }
}

/// Sleeps until `due`, or forever.
async fn sleep_until(due: Option<Instant>) {
    match due {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// Records a log entry: in the store (bounded) and to live readers.
fn log(service: &Service, agent: Did, kind: &str, text: String) {
    let entry = AgentLogEntry {
        agent,
        at: now_ms(),
        kind: kind.into(),
        text,
    };
    tracing::debug!(%agent, kind, "{}", entry.text);
    if let Err(e) = service.node().store().push_agent_log(&entry) {
        tracing::warn!(%agent, "cannot keep a log entry: {e}");
    }
    let _ = service.agents().logs.send(entry);
}

impl Agent {
    fn log(&self, kind: &str, text: String) {
        log(&self.service, self.record.did, kind, text);
    }

    fn model_client(&self) -> Option<ModelClient> {
        let model = self.record.model.as_deref()?;
        let model = with_endpoint(model, self.record.endpoint.as_deref());
        let made = ModelSpec::from_str(&model).and_then(|mut spec| {
            spec.key = self.record.key.clone();
            ModelClient::new(spec)
        });
        match made {
            Ok(client) => Some(client),
            Err(e) => {
                self.log("model", format!("no model: {e}"));
                None
            }
        }
    }

    /// Reaches each MCP server its abilities are served by (once per server); one it cannot
    /// reach is logged, and its abilities are not declared.
    async fn reach_mcp_servers(&mut self) {
        for a in &self.persona.abilities {
            let Serve::Mcp(m) = &a.serve else { continue };
            if self.mcp.iter().any(|(spec, _)| *spec == m.server) {
                continue;
            }
            match McpTools::connect(&m.server).await {
                Ok(tools) => self.mcp.push((m.server.clone(), Arc::new(tools))),
                Err(e) => log(
                    &self.service,
                    self.record.did,
                    "refused",
                    format!("cannot reach the MCP server {}: {e}", m.server),
                ),
            }
        }
    }

    /// The tools of the MCP server an ability is served by, if it was reached.
    fn mcp_tools(&self, m: &McpServe) -> Option<Arc<McpTools>> {
        let found = self.mcp.iter().find(|(spec, _)| *spec == m.server);
        found.map(|(_, tools)| tools.clone())
    }

    /// Follows the events of its spaces; a space it cannot read is logged and left out.
    async fn open_spaces(&mut self) -> Events {
        let mut streams = Vec::new();
        let now = Instant::now();
        let period = self.persona.triggers.iter().find_map(|t| match t {
            Trigger::Period { every_secs } => Some(Duration::from_secs(*every_secs)),
            _ => None,
        });
        for space in self.record.spaces.clone() {
            match self.service.events(&self.me, space).await {
                Ok(s) => {
                    let s: Pin<Box<dyn Stream<Item = _> + Send>> = Box::pin(s);
                    streams.push(s);
                    self.spaces.insert(
                        space,
                        SpaceState {
                            last_activity: now,
                            last_was_mine: false,
                            open: HashMap::new(),
                            next_period: period.map(|p| now + p),
                        },
                    );
                }
                Err(e) => self.log("refused", format!("cannot follow space {space}: {e}")),
            }
        }
        select_all(streams)
    }

    /// Declares its abilities in each space where it has not yet, as they are.
    async fn declare_abilities(&mut self) {
        let spaces: Vec<SpaceId> = self.spaces.keys().copied().collect();
        for space in spaces {
            let declared = self
                .service
                .abilities(&self.me, space)
                .await
                .unwrap_or_default();
            for mut a in self.persona.abilities.clone() {
                if let Serve::Mcp(m) = &a.serve {
                    // The tool's own schemas, as `tim ability serve-mcp` declares them.
                    let tools = self.mcp_tools(m);
                    let imported = tools.as_ref().map(|t| {
                        t.tool(&m.tool)
                            .and_then(|tool| declaration(DEFAULT_PREFIX, tool))
                    });
                    match imported {
                        Some(Ok((_, d))) => {
                            (a.input_schema, a.output_schema) = (d.input_schema, d.output_schema)
                        }
                        Some(Err(e)) => {
                            self.log("refused", format!("cannot offer {}: {e}", a.name));
                            continue;
                        }
                        None => continue,
                    }
                }
                let same = declared.iter().any(|d| {
                    d.provider == self.record.did
                        && d.name == a.name
                        && d.description == a.description
                });
                if same {
                    continue;
                }
                let req = DeclareAbility {
                    description: a.description.clone(),
                    input_schema: a.input_schema.clone(),
                    output_schema: a.output_schema.clone(),
                    credential: None,
                    attestation: None,
                    price: None,
                };
                let service = self.service.clone();
                let me = self.me;
                self.write(format!("declared {} in {space}", a.name), async move {
                    service.declare_ability(&me, space, &a.name, &req).await
                })
                .await;
            }
        }
    }

    /// The one place where the agent sees an event of its spaces.
    async fn observe(&mut self, event: &SpaceEvent) {
        let me = self.record.did;
        let Some(state) = self.spaces.get_mut(&event.space()) else {
            return;
        };
        if let Err(e) = self.memory.observe(&me, event) {
            log(&self.service, me, "memory", format!("cannot remember: {e}"));
        }
        match event {
            SpaceEvent::Message { message, .. } => {
                state.last_activity = Instant::now();
                state.last_was_mine = message.author == me;
            }
            SpaceEvent::RequestCreated { request, .. } => {
                if request.claimant.is_none() && request.state == "open" {
                    if state.open.len() >= MAX_OPEN_TRACKED {
                        // Requests that expire unclaimed send no event: the oldest goes.
                        let oldest = state.open.iter().min_by_key(|(_, (seen, _))| *seen);
                        if let Some(id) = oldest.map(|(id, _)| id.clone()) {
                            state.open.remove(&id);
                        }
                    }
                    state
                        .open
                        .insert(request.id.clone(), (Instant::now(), false));
                }
            }
            e => {
                if let Some(r) = e.request() {
                    state.open.remove(&r.id);
                }
            }
        }
    }

    async fn on_event(&mut self, event: SpaceEvent) {
        self.observe(&event).await;
        let proactive = self.record.tuning.proactivity > 0.0;
        match event {
            SpaceEvent::RequestCreated { space, request } => self.serve(space, request).await,
            SpaceEvent::Joined { space, member }
                if proactive
                    && member.did != self.record.did
                    && self.has_trigger(|t| matches!(t, Trigger::NewMember)) =>
            {
                self.greet(space, member.did).await;
            }
            SpaceEvent::Message { space, message }
                if proactive
                    && message.author != self.record.did
                    && self.has_trigger(|t| matches!(t, Trigger::Mention))
                    && message
                        .text
                        .to_lowercase()
                        .contains(&self.record.name.to_lowercase()) =>
            {
                self.ask_model(
                    space,
                    Purpose::Post,
                    "You were mentioned; answer the latest message.".into(),
                )
                .await;
            }
            _ => {}
        }
    }

    fn has_trigger(&self, f: impl Fn(&Trigger) -> bool) -> bool {
        self.persona.triggers.iter().any(f)
    }

    /// When a trigger is next due, if ever (a reactive agent: never).
    fn next_due(&self) -> Option<Instant> {
        if self.record.tuning.proactivity <= 0.0 {
            return None;
        }
        let mut due: Option<Instant> = None;
        let mut at = |t: Instant| due = Some(due.map_or(t, |d| d.min(t)));
        for t in &self.persona.triggers {
            for s in self.spaces.values() {
                match t {
                    Trigger::QuietSpace { after_secs } if !s.last_was_mine => {
                        at(s.last_activity + Duration::from_secs(*after_secs));
                    }
                    Trigger::UnansweredRequest { after_secs } => {
                        for (seen, nudged) in s.open.values() {
                            if !nudged {
                                at(*seen + Duration::from_secs(*after_secs));
                            }
                        }
                    }
                    Trigger::Period { .. } => {
                        if let Some(p) = s.next_period {
                            at(p);
                        }
                    }
                    _ => {}
                }
            }
        }
        due
    }

    /// Acts on the triggers that are due.
    async fn on_due(&mut self) {
        let now = Instant::now();
        let triggers = self.persona.triggers.clone();
        let spaces: Vec<SpaceId> = self.spaces.keys().copied().collect();
        for space in spaces {
            for t in &triggers {
                let Some(s) = self.spaces.get_mut(&space) else {
                    continue;
                };
                match *t {
                    Trigger::QuietSpace { after_secs }
                        if !s.last_was_mine
                            && s.last_activity + Duration::from_secs(after_secs) <= now =>
                    {
                        // Whatever comes of it, the space is not woken twice for one quiet.
                        s.last_activity = now;
                        s.last_was_mine = true;
                        self.wake(space).await;
                    }
                    Trigger::UnansweredRequest { after_secs } => {
                        let due: Vec<String> = s
                            .open
                            .iter_mut()
                            .filter(|(_, (seen, nudged))| {
                                !*nudged && *seen + Duration::from_secs(after_secs) <= now
                            })
                            .map(|(id, (_, nudged))| {
                                *nudged = true;
                                id.clone()
                            })
                            .collect();
                        for id in due {
                            self.nudge(space, &id).await;
                        }
                    }
                    Trigger::Period { every_secs } if s.next_period.is_some_and(|p| p <= now) => {
                        s.next_period = Some(now + Duration::from_secs(every_secs));
                        self.report(space, every_secs).await;
                    }
                    _ => {}
                }
            }
        }
    }

    /// Posts, signed as an agent ([`builtins::signed`]), spending an action first.
    async fn post(&mut self, space: SpaceId, text: String) {
        let text = builtins::signed(&text, &self.record.name);
        let (service, me) = (self.service.clone(), self.me);
        let what = format!("posted in {space}: {text}");
        let said = text.clone();
        let posted = self
            .write(what, async move { service.post(&me, space, &text).await })
            .await;
        if posted.is_some() {
            if let Err(e) = self
                .memory
                .note(&self.record.did, Some(space), Layer::Session, &said)
            {
                self.log("memory", format!("cannot remember: {e}"));
            }
        }
    }

    /// Spends an action, then performs `op` and logs what came of it; over budget, performs
    /// nothing and says so (once per window).
    async fn write<T>(
        &mut self,
        what: String,
        op: impl std::future::Future<Output = ServiceResult<T>>,
    ) -> Option<T> {
        if let Err(until) = self.spend_action() {
            if !self.said_over {
                self.said_over = true;
                self.log(
                    "budget",
                    format!(
                        "over budget: {} actions this hour (limit {}); stopped acting until {}",
                        self.counters.actions,
                        self.record.tuning.actions_per_hour,
                        super::rfc3339(until)
                    ),
                );
            }
            return None;
        }
        match op.await {
            Ok(v) => {
                self.log("acted", what);
                Some(v)
            }
            Err(e) => {
                self.log("refused", format!("{what}: refused: {e}"));
                None
            }
        }
    }

    /// Takes one action from the hourly budget, or says until when there is none (ms).
    fn spend_action(&mut self) -> Result<(), u64> {
        let now = now_ms();
        let c = &mut self.counters;
        if now >= c.hour_start + HOUR_MS {
            c.hour_start = now;
            c.actions = 0;
            self.said_over = false;
        }
        if c.actions >= self.record.tuning.actions_per_hour {
            return Err(c.hour_start + HOUR_MS);
        }
        c.actions += 1;
        self.save_counters();
        Ok(())
    }

    /// Whether the daily tokens are not all used (the day's window starts now if it ended).
    fn tokens_left(&mut self) -> bool {
        let now = now_ms();
        let c = &mut self.counters;
        if now >= c.day_start + DAY_MS {
            c.day_start = now;
            c.tokens = 0;
        }
        c.tokens < self.record.tuning.tokens_per_day
    }

    fn save_counters(&self) {
        if let Err(e) = self
            .service
            .node()
            .store()
            .put_counters(&self.record.did, &self.counters)
        {
            tracing::warn!(agent = %self.record.did, "cannot keep budget counters: {e}");
        }
    }

    async fn summary(&self, space: SpaceId) -> Option<(String, String, usize)> {
        match self.service.space(&self.me, space).await {
            Ok(s) => Some((s.name, s.purpose, s.messages)),
            Err(e) => {
                self.log("refused", format!("cannot read space {space}: {e}"));
                None
            }
        }
    }

    /// The space's profile (docs/governance.md "Space profiles"); empty if it cannot be read.
    async fn profile(&self, space: SpaceId) -> SpaceProfile {
        self.service
            .space(&self.me, space)
            .await
            .map(|s| s.profile)
            .unwrap_or_default()
    }

    /// Whether the agent may start something (`what`) in `space` on its own: not where the
    /// space's profile asks agents to be reactive, where it still answers mentions and serves
    /// requests. Logs (`reactive`) what it leaves out.
    async fn initiates(&self, space: SpaceId, what: &str) -> bool {
        let reactive = self.profile(space).await.initiative.as_deref() == Some(REACTIVE);
        if reactive {
            self.log(
                "reactive",
                format!("left out {what} in {space}: the space asks agents to be reactive"),
            );
        }
        !reactive
    }

    /// A quiet space is due: the catalyst asks its question; a model persona asks its model.
    async fn wake(&mut self, space: SpaceId) {
        if !self.initiates(space, "waking the quiet space").await {
            return;
        }
        if self.persona.template == Template::Catalyst {
            if let Some((name, purpose, messages)) = self.summary(space).await {
                let q = builtins::catalyst_question(
                    &space,
                    messages,
                    &name,
                    &purpose,
                    self.record.tuning.style,
                );
                self.post(space, q).await;
            }
        } else if self.model.is_some() {
            let task = "The space has been quiet. Ask one short question that helps it go on.";
            self.ask_model(space, Purpose::Post, task.into()).await;
        }
    }

    async fn greet(&mut self, space: SpaceId, member: Did) {
        if !self.initiates(space, "a greeting").await {
            return;
        }
        if self.persona.template == Template::Greeter || self.model.is_none() {
            if let Some((name, purpose, _)) = self.summary(space).await {
                let text = builtins::greeting(&member, &name, &purpose, self.record.tuning.style);
                self.post(space, text).await;
            }
        } else {
            let task = format!("{member} just joined. Welcome them in one or two sentences.");
            self.ask_model(space, Purpose::Post, task).await;
        }
    }

    async fn nudge(&mut self, space: SpaceId, id: &str) {
        if !self.initiates(space, "a nudge").await {
            return;
        }
        let request = self.service.request(&self.me, space, id).await;
        let Ok(r) = request else { return };
        if r.state != "open" {
            return;
        }
        let text = format!(
            "A request for {} by {} is still open; can anyone take it?",
            r.ability,
            builtins::short_did(&r.requester)
        );
        self.post(space, text).await;
    }

    async fn report(&mut self, space: SpaceId, window_secs: u64) {
        if !self.initiates(space, "an activity report").await {
            return;
        }
        match self.activity(space, window_secs).await {
            Ok(text) => self.post(space, text).await,
            Err(e) => self.log("refused", format!("cannot read space {space}: {e}")),
        }
    }

    async fn activity(&self, space: SpaceId, window_secs: u64) -> ServiceResult<String> {
        let query = TimelineQuery {
            limit: Some(MAX_TIMELINE_PAGE),
            ..TimelineQuery::default()
        };
        let page = self.service.timeline(&self.me, space, &query).await?;
        let members = self
            .service
            .members(&self.me, space, &MembersQuery::default())
            .await?;
        let since = now_ms().saturating_sub(window_secs.saturating_mul(1000));
        Ok(builtins::activity_report(
            &page.messages,
            &members.items,
            since,
            window_secs,
        ))
    }

    /// Serves a request whose first candidate it is, for an ability its persona offers.
    async fn serve(&mut self, space: SpaceId, mut request: AbilityRequest) {
        if request.candidates.first() != Some(&self.record.did) || request.state != "open" {
            return;
        }
        let Some(ability) = self
            .persona
            .abilities
            .iter()
            .find(|a| a.name == request.ability)
            .cloned()
        else {
            return;
        };
        if request.input_payload.is_some() {
            match self.service.request(&self.me, space, &request.id).await {
                Ok(full) => request = full,
                Err(e) => {
                    self.log(
                        "refused",
                        format!("cannot read request {}: {e}", request.id),
                    );
                    return;
                }
            }
        }
        // One dispatch for every way an ability is served.
        let outcome = match &ability.serve {
            Serve::Builtin(b) => self.builtin(space, b, &request.input).await,
            Serve::Prompt(instruction) => {
                let task = format!("{instruction}\n\nInput (JSON): {}", request.input);
                self.ask_model(space, Purpose::Answer(request.id.clone()), task)
                    .await;
                return;
            }
            Serve::Mcp(m) => match self.mcp_tools(m) {
                Some(tools) => tools.answer(&m.tool, request.input.clone()).await,
                None => Err(format!("the MCP server {} is not reachable", m.server)),
            },
        };
        self.answer(space, &ability, &request.id, outcome).await;
    }

    async fn builtin(&self, space: SpaceId, name: &str, input: &Value) -> Result<Value, String> {
        match name {
            "summarize" => builtins::summarize(input).map_err(|e| e.to_string()),
            "keywords" => builtins::keywords(input).map_err(|e| e.to_string()),
            "activity" => {
                let window = input["window_secs"].as_u64().unwrap_or(86_400).max(1);
                self.activity(space, window)
                    .await
                    .map(|report| json!({ "report": report }))
                    .map_err(|e| e.to_string())
            }
            other => Err(format!("no built-in `{other}`")),
        }
    }

    /// Posts a request's result, or its failure.
    async fn answer(
        &mut self,
        space: SpaceId,
        ability: &PersonaAbility,
        id: &str,
        outcome: Result<Value, String>,
    ) {
        let (service, me, rid) = (self.service.clone(), self.me, id.to_string());
        match outcome {
            Ok(output) => {
                let what = format!("answered {} request {id} in {space}", ability.name);
                self.write(what, async move {
                    service.request_result(&me, space, &rid, output).await
                })
                .await;
            }
            Err(reason) => {
                let what = format!("failed {} request {id} in {space}: {reason}", ability.name);
                self.write(what, async move {
                    service.request_failure(&me, space, &rid, &reason).await
                })
                .await;
            }
        };
    }

    /// The one place where a prompt is built: the persona, its tuning, the space's profile
    /// (whose style, if set, wins over the agent's own), and the space's recent events (as
    /// many as its memory depth), then the task.
    fn prompt(&self, space: SpaceId, task: String, profile: &SpaceProfile) -> Prompt {
        let space_style = match profile.style.as_deref() {
            Some("formal") => Some(AgentStyle::Formal),
            Some("casual") => Some(AgentStyle::Casual),
            _ => None,
        };
        let style = match space_style.unwrap_or(self.record.tuning.style) {
            AgentStyle::Formal => "Write formally, in full sentences.",
            AgentStyle::Casual => "Write casually and briefly.",
        };
        let expected = crate::profiles::expectations(profile);
        let depth = self.record.tuning.memory_depth as usize;
        let remembered = self
            .memory
            .context(&self.record.did, space, depth)
            .unwrap_or_else(|e| {
                self.log("memory", format!("cannot recall: {e}"));
                String::new()
            });
        Prompt {
            system: format!(
                "You are {}, an AI agent (a {}) taking part in a Tim space as the timite {}. \
                 {} {expected}{style} Say that you are an agent if asked.",
                self.record.name,
                self.persona.template.as_str(),
                self.record.did,
                self.persona.description
            ),
            messages: vec![Message {
                role: Role::User,
                content: format!("{remembered}\n{task}"),
                tool_calls: Vec::new(),
                tool_call_id: None,
            }],
            tools: Vec::new(),
            temperature: self.record.tuning.temperature,
            max_tokens: MAX_ANSWER_TOKENS,
        }
    }

    /// Asks the model in its own task (bounded by [`MODEL_BOUND`]); the answer comes back to
    /// [`Agent::on_model`]. Without a model, tokens or a free call slot, logs why and does
    /// nothing.
    async fn ask_model(&mut self, space: SpaceId, purpose: Purpose, task: String) {
        let Some(client) = self.model.clone() else {
            self.log("model", "no model to ask".into());
            return;
        };
        if !self.tokens_left() {
            if !self.said_over {
                self.said_over = true;
                self.log(
                    "budget",
                    format!(
                        "over budget: {} model tokens today (limit {}); no model call until {}",
                        self.counters.tokens,
                        self.record.tuning.tokens_per_day,
                        super::rfc3339(self.counters.day_start + DAY_MS)
                    ),
                );
            }
            return;
        }
        if self.calls >= MODEL_CALLS {
            self.log("model", "busy: a model call was left out".into());
            return;
        }
        self.calls += 1;
        let profile = self.profile(space).await;
        let prompt = self.prompt(space, task, &profile);
        let answers = self.models.clone();
        tokio::spawn(async move {
            let reply = match tokio::time::timeout(MODEL_BOUND, client.complete(&prompt)).await {
                Ok(r) => r,
                Err(_) => Err(ModelError::Timeout(MODEL_BOUND)),
            };
            let _ = answers
                .send(ModelDone {
                    space,
                    purpose,
                    reply,
                })
                .await;
        });
    }

    async fn on_model(&mut self, done: ModelDone) {
        self.calls = self.calls.saturating_sub(1);
        let reply = match done.reply {
            Ok(r) => r,
            Err(e) => {
                self.log("model", format!("the model failed: {e}"));
                if let Purpose::Answer(id) = &done.purpose {
                    self.fail_prompt(done.space, id, format!("the model failed: {e}"))
                        .await;
                }
                return;
            }
        };
        let used = reply.usage.input_tokens + reply.usage.output_tokens;
        self.counters.tokens = self.counters.tokens.saturating_add(used);
        self.save_counters();
        match done.purpose {
            Purpose::Post if !reply.text.trim().is_empty() => {
                self.post(done.space, reply.text).await;
            }
            Purpose::Post => self.log("model", "the model answered nothing".into()),
            Purpose::Answer(id) => {
                let output = json!({ "answer": reply.text });
                let ability = self.prompt_ability(done.space, &id).await;
                if let Some(a) = ability {
                    self.answer(done.space, &a, &id, Ok(output)).await;
                }
            }
        }
    }

    async fn prompt_ability(&self, space: SpaceId, id: &str) -> Option<PersonaAbility> {
        let r = self.service.request(&self.me, space, id).await.ok()?;
        self.persona
            .abilities
            .iter()
            .find(|a| a.name == r.ability)
            .cloned()
    }

    async fn fail_prompt(&mut self, space: SpaceId, id: &str, reason: String) {
        if let Some(a) = self.prompt_ability(space, id).await {
            self.answer(space, &a, id, Err(reason)).await;
        }
    }
}
