//! The node actor: one task owns the swarm, the spaces and the store; callers hold a cheap
//! [`Handle`] whose methods send a command with a `oneshot` reply.
//!
//! Data flow of a post: `Handle::post` → the actor builds the change with
//! [`Space::post`] (signed, judged by the rules, applied) → stores the envelope → publishes it
//! on the space's gossipsub topic → flushes the store in a spawned task → replies. A peer
//! receiving it runs [`Space::ingest`] before telling gossipsub to accept (and forward) it.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use libp2p::gossipsub::{self, IdentTopic, MessageAcceptance, TopicHash};
use libp2p::request_response::{self, OutboundRequestId};
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::SwarmEvent;
use libp2p::{identify, identity, kad, mdns, Multiaddr, PeerId, Swarm};
use tim_crdt::admission::Requirement;
use tim_crdt::{
    Applied, Effect, Ingested, Role, Space, SpaceError, SyncReceived, SyncState, Visibility,
    Writer, SESSION_BYTES,
};
use tim_did::credential::{self, Check, Claim, CredentialRequest, StatusEntry};
use tim_did::{Identity, Keystore};
use tim_protocol::api::{
    Imported, MemberView, NodeStatus, Posted, SpaceEvent, SpaceSummary, Timeline, TimiteView,
    TrustEntry,
};
use tim_protocol::wire::{RefusalReason, SyncMessage, SyncResponse};
use tim_protocol::{ChangeHash, Did, Envelope, SpaceId};
use tokio::sync::{broadcast, mpsc, oneshot};
use tracing::{debug, info, warn};

use crate::admission::SsiAdmission;
use crate::metrics::NodeMetrics;
use crate::network::{build_swarm, Behaviour, BehaviourEvent, NetConfig};
use crate::store::{FlushMode, Store};
use crate::NodeError;

/// Capacity of the command channel from handles to the actor.
pub(crate) const COMMAND_CAPACITY: usize = 256;
/// Capacity of the event broadcast (slow subscribers miss events and are told so).
pub(crate) const EVENT_CAPACITY: usize = 1024;
/// Most sync rounds in one session before it is cut off.
pub(crate) const MAX_SYNC_ROUNDS: u32 = 200;
/// A snapshot is saved after this many changes applied to a space since the last one, or
/// after [`SNAPSHOT_FRACTION`] of its changes if that is more.
pub(crate) const SNAPSHOT_EVERY: usize = 1000;
/// A snapshot saves the whole document, so in a big space it waits until one change in this
/// many is new: its cost per change stays flat, and a restart replays at most that share.
pub(crate) const SNAPSHOT_FRACTION: usize = 8;
/// How often each space syncs with one of its peers, whatever else happens.
pub(crate) const ANTI_ENTROPY_INTERVAL: Duration = Duration::from_secs(10);
/// How often remembered peers that are not connected are dialled.
pub(crate) const REDIAL_INTERVAL: Duration = Duration::from_secs(3);
/// Invalid sync messages or changes a peer may serve before it is banned.
pub(crate) const MAX_STRIKES: u32 = 3;
/// How long a banned peer is refused.
pub(crate) const PEER_BAN: Duration = Duration::from_secs(600);
/// How often ephemeral spaces are checked for expiry.
pub(crate) const EXPIRY_CHECK_INTERVAL: Duration = Duration::from_secs(1);
/// Most remembered peers dialled per redial tick.
pub(crate) const MAX_REDIALS_PER_TICK: usize = 16;
/// Capacity of the channel on which work done off the loop comes back to the actor.
pub(crate) const INTERNAL_CAPACITY: usize = 256;
/// How long a gossip message whose change waits for dependencies keeps its verdict open:
/// released within this time, it is accepted and gossipsub forwards it.
pub(crate) const HELD_VERDICT: Duration = Duration::from_secs(30);
/// Most gossip messages whose verdict is held at once.
pub(crate) const MAX_HELD_VERDICTS: usize = tim_crdt::MAX_PENDING;

/// Settings of a node.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Addresses to listen on.
    pub listen: Vec<Multiaddr>,
    /// Peers to dial at start (each with `/p2p/<peer id>`).
    pub bootstrap: Vec<Multiaddr>,
    /// Network settings.
    pub net: NetConfig,
    /// How acknowledged writes reach the disk.
    pub flush: FlushMode,
}

type Reply<T> = oneshot::Sender<Result<T, NodeError>>;

/// Issuer (`urn:tim:space:<id>` or DID) → weight.
type TrustPolicy = HashMap<String, f64>;

/// A moderation act by the hosted timite; the rules decide whether it may.
#[derive(Debug, Clone)]
pub enum Act {
    /// Invite a timite to an invite-only space, valid for a while.
    Invite(Did, Duration),
    /// Set a member's role (`Role::Banned` bans).
    SetRole(Did, Role),
    /// Remove a member.
    Kick(Did),
    /// Delete a message by id.
    DeleteMessage(String),
    /// Rate a member from 1 to 5.
    Rate(Did, u8),
    /// Set the join requirements.
    SetRequirements(Vec<Requirement>),
    /// Declare the acting timite's own abilities in the space (replacing the list).
    DeclareAbilities(Vec<String>),
}

/// The kind of credential to issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialKind {
    /// Membership and role in the space.
    Membership,
    /// Reputation in the space, computed from its document.
    Reputation,
    /// An ability, attested by the issuer.
    Ability {
        /// The ability.
        ability: String,
        /// Its level.
        level: String,
    },
}

impl CredentialKind {
    fn name(&self) -> &'static str {
        match self {
            Self::Membership => "membership",
            Self::Reputation => "reputation",
            Self::Ability { .. } => "ability",
        }
    }
}

#[derive(Debug)]
enum Command {
    Status(Did, Reply<NodeStatus>),
    Timites(Reply<Vec<TimiteView>>),
    AddTimite(Reply<TimiteView>),
    ListSpaces(Reply<Vec<SpaceSummary>>),
    Space(SpaceId, Reply<SpaceSummary>),
    Create {
        who: Did,
        name: String,
        purpose: String,
        visibility: Visibility,
        ttl: Option<Duration>,
        reply: Reply<SpaceSummary>,
    },
    Moderate {
        who: Did,
        space: SpaceId,
        act: Act,
        reply: Reply<ChangeHash>,
    },
    Join {
        who: Did,
        space: SpaceId,
        via: Vec<Multiaddr>,
        present: Vec<String>,
        reply: Reply<SpaceSummary>,
    },
    Post {
        who: Did,
        space: SpaceId,
        text: String,
        reply: Reply<Posted>,
    },
    Timeline(SpaceId, Reply<Timeline>),
    Members(SpaceId, Reply<Vec<MemberView>>),
    Export(SpaceId, Reply<(Vec<u8>, Vec<Envelope>)>),
    Import {
        space: SpaceId,
        envelopes: Vec<Envelope>,
        reply: Reply<Imported>,
    },
    Dial(Multiaddr, Reply<()>),
    PublishRaw(SpaceId, Vec<u8>, Reply<()>),
    SyncRaw(PeerId, SyncMessage, Reply<()>),
    Issue {
        who: Did,
        space: SpaceId,
        subject: Did,
        kind: CredentialKind,
        valid_for: Option<Duration>,
        reply: Reply<serde_json::Value>,
    },
    Revoke(Did, String, Reply<ChangeHash>),
    Credentials(Did, Reply<Vec<serde_json::Value>>),
    Credential(Did, String, Reply<serde_json::Value>),
    ExportJwt(Did, String, Reply<String>),
    Trust(Reply<Vec<TrustEntry>>),
    SetTrust(String, Option<f64>, Reply<()>),
    HoldCredential(Did, serde_json::Value, Reply<String>),
    SpaceChecks(serde_json::Value, bool, Reply<Vec<Check>>),
    DisconnectAll(Reply<usize>),
    Shutdown(Reply<()>),
}

/// What to tell gossipsub about a message.
enum Verdict {
    /// Accept (forward), reject (penalize the sender) or ignore it now.
    Now(MessageAcceptance),
    /// Its change waits for dependencies: the verdict waits for it.
    Held(ChangeHash),
}

/// Work done off the loop, coming back to the actor.
#[derive(Debug)]
enum Internal {
    /// Local changes that are now on disk: they may leave the node.
    Durable {
        space: SpaceId,
        changes: Vec<Envelope>,
    },
}

/// A cheap, cloneable handle to a running node. The node stops when every handle is dropped.
#[derive(Debug, Clone)]
pub struct Handle {
    tx: mpsc::Sender<Command>,
    events: broadcast::Sender<SpaceEvent>,
    node_did: Did,
    timite: Did,
    store: Store,
    registry: Arc<prometheus_client::registry::Registry>,
}

impl Handle {
    async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, NodeError> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(make(tx)).await.map_err(|_| NodeError::Gone)?;
        rx.await.map_err(|_| NodeError::Gone)?
    }

    /// The node's DID.
    pub fn node_did(&self) -> Did {
        self.node_did
    }

    /// The hosted timite this handle acts as (at first, the node's first timite).
    pub fn timite(&self) -> Did {
        self.timite
    }

    /// A handle acting as another hosted timite: its writes are signed with that timite's key.
    /// Calls fail with [`NodeError::Forbidden`] if the node does not host it.
    pub fn acting_as(&self, timite: Did) -> Self {
        Self {
            timite,
            ..self.clone()
        }
    }

    /// The node's store (the API keeps its tokens there).
    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// The node's metrics in the OpenMetrics text format.
    pub fn metrics(&self) -> String {
        crate::metrics::encode(&self.registry)
    }

    /// The timites this node hosts.
    pub async fn timites(&self) -> Result<Vec<TimiteView>, NodeError> {
        self.call(Command::Timites).await
    }

    /// Makes a new hosted timite (its key saved in the home's `timites/` directory).
    pub async fn add_timite(&self) -> Result<TimiteView, NodeError> {
        self.call(Command::AddTimite).await
    }

    /// Who and where this node is.
    pub async fn status(&self) -> Result<NodeStatus, NodeError> {
        self.call(|r| Command::Status(self.timite, r)).await
    }

    /// Hosted spaces.
    pub async fn spaces(&self) -> Result<Vec<SpaceSummary>, NodeError> {
        self.call(Command::ListSpaces).await
    }

    /// One hosted space.
    pub async fn space(&self, space: SpaceId) -> Result<SpaceSummary, NodeError> {
        self.call(|r| Command::Space(space, r)).await
    }

    /// Creates a public space with the hosted timite as owner; returns once it is durable.
    pub async fn create_space(&self, name: &str, purpose: &str) -> Result<SpaceSummary, NodeError> {
        self.create_space_with(name, purpose, Visibility::Public, None)
            .await
    }

    /// Creates a space with a visibility; an ephemeral one needs a time to live.
    pub async fn create_space_with(
        &self,
        name: &str,
        purpose: &str,
        visibility: Visibility,
        ttl: Option<Duration>,
    ) -> Result<SpaceSummary, NodeError> {
        self.call(|reply| Command::Create {
            who: self.timite,
            name: name.to_string(),
            purpose: purpose.to_string(),
            visibility,
            ttl,
            reply,
        })
        .await
    }

    /// Performs a moderation act as the hosted timite; returns the change once durable.
    pub async fn moderate(&self, space: SpaceId, act: Act) -> Result<ChangeHash, NodeError> {
        self.call(|reply| Command::Moderate {
            who: self.timite,
            space,
            act,
            reply,
        })
        .await
    }

    /// Issues a credential in a space's name as the hosted timite (an admin): the issuance is
    /// recorded in the space (so every node can tell the issuer was an admin), then signed.
    pub async fn issue_credential(
        &self,
        space: SpaceId,
        subject: Did,
        kind: CredentialKind,
        valid_for: Option<Duration>,
    ) -> Result<serde_json::Value, NodeError> {
        self.call(|reply| Command::Issue {
            who: self.timite,
            space,
            subject,
            kind,
            valid_for,
            reply,
        })
        .await
    }

    /// Every credential this node issued or holds.
    pub async fn credentials(&self) -> Result<Vec<serde_json::Value>, NodeError> {
        self.call(|r| Command::Credentials(self.timite, r)).await
    }

    /// One credential by id.
    pub async fn credential(&self, id: &str) -> Result<serde_json::Value, NodeError> {
        self.call(|r| Command::Credential(self.timite, id.to_string(), r))
            .await
    }

    /// The JWT (VC-JOSE, EdDSA) form of a credential this node's timite issued.
    pub async fn credential_jwt(&self, id: &str) -> Result<String, NodeError> {
        self.call(|r| Command::ExportJwt(self.timite, id.to_string(), r))
            .await
    }

    /// Keeps a credential (already verified by the caller); returns its id.
    pub async fn hold_credential(&self, vc: serde_json::Value) -> Result<String, NodeError> {
        self.call(|r| Command::HoldCredential(self.timite, vc, r))
            .await
    }

    /// Revokes a credential this node issued, in its space's status list (admins).
    pub async fn revoke_credential(&self, id: &str) -> Result<ChangeHash, NodeError> {
        self.call(|r| Command::Revoke(self.timite, id.to_string(), r))
            .await
    }

    /// The checks only the issuing space can answer: the issuer was an admin when it issued
    /// (the issuance is recorded), and the credential is not revoked (none when this node does
    /// not host the issuing space); with `trust`, also whether this node's trust policy counts
    /// the issuer.
    pub async fn space_checks(
        &self,
        credential: serde_json::Value,
        trust: bool,
    ) -> Result<Vec<Check>, NodeError> {
        self.call(|r| Command::SpaceChecks(credential, trust, r))
            .await
    }

    /// The node's trust policy.
    pub async fn trust(&self) -> Result<Vec<TrustEntry>, NodeError> {
        self.call(Command::Trust).await
    }

    /// Sets the weight (0 to 1) of an issuing space (`urn:tim:space:<id>`) or issuer DID, or
    /// removes it with `None`.
    pub async fn set_trust(&self, issuer: &str, weight: Option<f64>) -> Result<(), NodeError> {
        self.call(|r| Command::SetTrust(issuer.to_string(), weight, r))
            .await
    }

    /// Sends a raw sync message to a connected peer (fault injection: a rogue node serving
    /// changes by sync).
    pub async fn sync_raw(&self, peer: PeerId, msg: SyncMessage) -> Result<(), NodeError> {
        self.call(|r| Command::SyncRaw(peer, msg, r)).await
    }

    /// Joins a space: finds hosts (the `via` peers, connected peers, Kademlia providers), syncs
    /// its history, adds the timite as a member. Fails after `timeout` if no host answers.
    pub async fn join(
        &self,
        space: SpaceId,
        via: Vec<Multiaddr>,
        timeout: Duration,
    ) -> Result<SpaceSummary, NodeError> {
        self.join_presenting(space, via, vec![], timeout).await
    }

    /// Joins presenting credentials (by id, from this node's passport) for the space's
    /// requirements: a presentation bound to the space and to its current heads goes into the
    /// join change, and every node checks it.
    pub async fn join_presenting(
        &self,
        space: SpaceId,
        via: Vec<Multiaddr>,
        present: Vec<String>,
        timeout: Duration,
    ) -> Result<SpaceSummary, NodeError> {
        let call = self.call(|reply| Command::Join {
            who: self.timite,
            space,
            via,
            present,
            reply,
        });
        tokio::time::timeout(timeout, call).await.map_err(|_| {
            NodeError::Timeout(format!(
                "no host of space {space} answered within {}s; pass --via with the address of a \
                 node that hosts it",
                timeout.as_secs()
            ))
        })?
    }

    /// Posts a message as the hosted timite; returns once it is durable.
    pub async fn post(&self, space: SpaceId, text: &str) -> Result<Posted, NodeError> {
        self.call(|reply| Command::Post {
            who: self.timite,
            space,
            text: text.to_string(),
            reply,
        })
        .await
    }

    /// The timeline of a space.
    pub async fn timeline(&self, space: SpaceId) -> Result<Timeline, NodeError> {
        self.call(|r| Command::Timeline(space, r)).await
    }

    /// The members of a space.
    pub async fn members(&self, space: SpaceId) -> Result<Vec<MemberView>, NodeError> {
        self.call(|r| Command::Members(space, r)).await
    }

    /// The Automerge document of a space and the envelope of every change in it.
    pub async fn export(&self, space: SpaceId) -> Result<(Vec<u8>, Vec<Envelope>), NodeError> {
        self.call(|r| Command::Export(space, r)).await
    }

    /// Imports signed changes of a space; each goes through the same checks as any other.
    pub async fn import(
        &self,
        space: SpaceId,
        envelopes: Vec<Envelope>,
    ) -> Result<Imported, NodeError> {
        self.call(|reply| Command::Import {
            space,
            envelopes,
            reply,
        })
        .await
    }

    /// Dials a peer.
    pub async fn dial(&self, addr: Multiaddr) -> Result<(), NodeError> {
        self.call(|r| Command::Dial(addr, r)).await
    }

    /// Closes every connection (fault injection); remembered peers are redialled later.
    pub async fn disconnect_all(&self) -> Result<usize, NodeError> {
        self.call(Command::DisconnectAll).await
    }

    /// Publishes raw bytes on a space's topic without any check (fault injection: lets a
    /// testnet play a rogue node).
    pub async fn publish_raw(&self, space: SpaceId, bytes: Vec<u8>) -> Result<(), NodeError> {
        self.call(|r| Command::PublishRaw(space, bytes, r)).await
    }

    /// Saves snapshots, flushes the store and stops the node.
    pub async fn shutdown(&self) -> Result<(), NodeError> {
        self.call(Command::Shutdown).await
    }

    /// Makes the node's store refuse writes of changes (or accept them again): fault
    /// injection for tests.
    #[cfg(feature = "test-utils")]
    pub fn fail_store_writes(&self, on: bool) {
        self.store.fail_writes(on);
    }

    /// Live events of every hosted space.
    pub fn subscribe(&self) -> broadcast::Receiver<SpaceEvent> {
        self.events.subscribe()
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn to_libp2p_keypair(id: &Identity) -> identity::Keypair {
    identity::Keypair::ed25519_from_bytes(id.signing_key().to_bytes())
        .expect("an Ed25519 seed is 32 bytes")
}

/// The PeerId of a node key: the same Ed25519 key as its DID.
pub fn peer_id_of(id: &Identity) -> PeerId {
    to_libp2p_keypair(id).public().to_peer_id()
}

/// Starts a node with the keys of `keys` and its store in `data_dir`. Spaces in the store are
/// loaded before the network starts, so they are served at once.
pub async fn start(keys: Keystore, data_dir: &Path, cfg: NodeConfig) -> anyhow::Result<Handle> {
    let store = Store::open_with(data_dir, cfg.flush)?;
    let mut registry = prometheus_client::registry::Registry::default();
    let metrics = NodeMetrics::default();
    metrics.register(&mut registry);
    let mut swarm = build_swarm(to_libp2p_keypair(&keys.node), &cfg.net, &mut registry)?;
    for addr in &cfg.listen {
        swarm.listen_on(addr.clone())?;
    }
    let (tx, rx) = mpsc::channel(COMMAND_CAPACITY);
    let (internal, internal_rx) = mpsc::channel(INTERNAL_CAPACITY);
    let (events, _) = broadcast::channel(EVENT_CAPACITY);
    let handle = Handle {
        tx,
        events: events.clone(),
        node_did: keys.node.did(),
        timite: keys.timite.did(),
        store: store.clone(),
        registry: Arc::new(registry),
    };
    let mut actor = Actor {
        swarm,
        store,
        timites: keys.timites().map(|t| (t.did(), t.clone())).collect(),
        writers: keys.timites().map(|t| (t.did(), new_writer(t))).collect(),
        internal,
        held: HashMap::new(),
        node_did: keys.node.did(),
        keys,
        spaces: HashMap::new(),
        topics: HashMap::new(),
        sync_states: HashMap::new(),
        sessions: HashMap::new(),
        requests: HashMap::new(),
        joins: HashMap::new(),
        admission: Arc::new(SsiAdmission),
        listen: Vec::new(),
        events,
        since_snapshot: HashMap::new(),
        remembered: HashMap::new(),
        metrics,
        stale: HashSet::new(),
        hosts: HashMap::new(),
        strikes: HashMap::new(),
        banned: HashMap::new(),
    };
    actor.load_spaces()?;
    for addr in cfg.bootstrap {
        actor.dial(addr);
    }
    for addr in actor.store.peers()? {
        if let Ok(addr) = addr.parse() {
            actor.remember(addr);
        }
    }
    tokio::spawn(async move { actor.run(rx, internal_rx).await });
    Ok(handle)
}

/// A writer for a hosted timite in a new session: a fresh random actor id, so that nothing
/// this node signed before a crash can share an actor and sequence number with what it signs
/// now (tim_crdt's `writer` module).
fn new_writer(id: &Identity) -> Writer {
    Writer::new(
        id.signing_key().clone(),
        rand::random::<[u8; SESSION_BYTES]>(),
    )
}

/// A caller waiting for a join to complete: who joins, presenting which credentials.
struct JoinWaiter {
    who: Did,
    present: Vec<String>,
    reply: Reply<SpaceSummary>,
}

struct Actor {
    swarm: Swarm<Behaviour>,
    store: Store,
    /// The hosted timites' keys, written to when a new timite is made.
    keys: Keystore,
    /// The hosted timites by DID.
    timites: HashMap<Did, Identity>,
    /// Their writers in this session (one actor id each per node start).
    writers: HashMap<Did, Writer>,
    /// Work done off the loop comes back here.
    internal: mpsc::Sender<Internal>,
    /// Gossip messages whose change waits for dependencies, by change hash: their verdict is
    /// given once the change is released (then gossipsub forwards it) or given up.
    held: HashMap<ChangeHash, (gossipsub::MessageId, PeerId, tokio::time::Instant)>,
    node_did: Did,
    spaces: HashMap<SpaceId, Space>,
    topics: HashMap<TopicHash, SpaceId>,
    /// One Automerge sync state per peer and space, kept while the peer is connected.
    sync_states: HashMap<(PeerId, SpaceId), SyncState>,
    /// Outbound sync sessions under way, with their round count.
    sessions: HashMap<(PeerId, SpaceId), u32>,
    requests: HashMap<OutboundRequestId, (PeerId, SpaceId)>,
    /// Callers waiting for a join to complete, with the credentials to present.
    joins: HashMap<SpaceId, Vec<JoinWaiter>>,
    /// Checks presentations in joins.
    admission: Arc<SsiAdmission>,
    listen: Vec<Multiaddr>,
    events: broadcast::Sender<SpaceEvent>,
    since_snapshot: HashMap<SpaceId, usize>,
    /// The peer book: a dialable address per known peer.
    remembered: HashMap<PeerId, Multiaddr>,
    /// Counters served at `GET /metrics`.
    metrics: NodeMetrics,
    /// Spaces loaded at start and not synced with any peer since: possibly behind.
    stale: HashSet<SpaceId>,
    /// Spaces each peer is known to host (from its subscriptions and syncs), so that a
    /// reconnection resumes sync at once, whatever gossipsub re-announces.
    hosts: HashMap<PeerId, HashSet<SpaceId>>,
    /// Invalid things each peer served by sync (gossip has its own peer scoring).
    strikes: HashMap<PeerId, u32>,
    /// Peers refused until the given time.
    banned: HashMap<PeerId, tokio::time::Instant>,
}

/// Whether a credential is about `who` (its subject) or was issued by `who`.
fn concerns(vc: &serde_json::Value, who: &Did) -> bool {
    let who = who.to_string();
    vc["credentialSubject"]["id"].as_str() == Some(who.as_str())
        || vc["issuer"].as_str() == Some(who.as_str())
}

/// The issuing space and status list index of a Tim credential.
fn credential_location(vc: &serde_json::Value) -> Option<(SpaceId, u64)> {
    let space = credential::credential_space(vc)?;
    let index = vc["credentialStatus"]["statusListIndex"]
        .as_str()?
        .parse()
        .ok()?;
    Some((space, index))
}

fn peer_of(addr: &Multiaddr) -> Option<PeerId> {
    addr.iter().find_map(|p| match p {
        libp2p::multiaddr::Protocol::P2p(id) => Some(id),
        _ => None,
    })
}

impl Actor {
    async fn run(
        &mut self,
        mut rx: mpsc::Receiver<Command>,
        mut internal: mpsc::Receiver<Internal>,
    ) {
        let mut anti_entropy = tokio::time::interval(ANTI_ENTROPY_INTERVAL);
        let mut redial = tokio::time::interval(REDIAL_INTERVAL);
        let mut expiry = tokio::time::interval(EXPIRY_CHECK_INTERVAL);
        loop {
            tokio::select! {
                biased;
                cmd = rx.recv() => match cmd {
                    Some(Command::Shutdown(reply)) => {
                        self.stop().await;
                        let _ = reply.send(Ok(()));
                        return;
                    }
                    Some(cmd) => self.on_command(cmd),
                    None => break,
                },
                Some(done) = internal.recv() => self.on_internal(done),
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                _ = anti_entropy.tick() => self.anti_entropy(),
                _ = redial.tick() => self.redial(),
                _ = expiry.tick() => {
                    self.expire_spaces();
                    self.expire_held_verdicts();
                }
            }
        }
        self.stop().await;
    }

    async fn stop(&mut self) {
        for id in self.spaces.keys().copied().collect::<Vec<_>>() {
            self.snapshot(id);
        }
        if let Err(e) = self.store.flush().await {
            warn!("final flush failed: {e}");
        }
        info!("node stopped");
    }

    fn load_spaces(&mut self) -> Result<(), NodeError> {
        for id in self.store.spaces()? {
            let t = Instant::now();
            let snapshot = self.store.snapshot(&id)?;
            let envelopes = self.store.envelopes(&id)?;
            let read = t.elapsed();
            let count = envelopes.len();
            let restored = Space::load_stored(id, snapshot.as_deref(), envelopes)?;
            if let Some(e) = &restored.snapshot_error {
                warn!(space = %id, "the snapshot does not load ({e}); rebuilt from the changes");
            }
            if !restored.waiting.is_empty() {
                warn!(space = %id, changes = restored.waiting.len(), "stored changes wait for dependencies; sync brings them");
            }
            if !restored.refused.is_empty() {
                for (hash, r) in &restored.refused {
                    warn!(space = %id, change = %hash, reason = r.code(), "stored change refused; deleted: {r}");
                }
                self.store
                    .remove_envelopes(&id, restored.refused.iter().map(|(h, _)| h))?;
            }
            let space = restored.space;
            info!(
                space = %id,
                changes = count,
                read_ms = read.as_millis() as u64,
                total_ms = t.elapsed().as_millis() as u64,
                "restored space from disk"
            );
            self.stale.insert(id);
            self.host(space);
        }
        Ok(())
    }

    /// Starts hosting a space: subscribe to its topic, announce it on Kademlia.
    fn host(&mut self, mut space: Space) {
        space.set_verifier(self.admission.clone());
        let id = space.id();
        let topic = IdentTopic::new(id.topic());
        if let Err(e) = self.swarm.behaviour_mut().gossipsub.subscribe(&topic) {
            warn!(space = %id, "cannot subscribe to the space topic: {e}");
        }
        if let Err(e) = self
            .swarm
            .behaviour_mut()
            .kad
            .start_providing(kad::RecordKey::new(id.as_bytes()))
        {
            warn!(space = %id, "cannot announce the space on Kademlia: {e}");
        }
        self.topics.insert(topic.hash(), id);
        self.spaces.insert(id, space);
    }

    fn summary(&self, id: SpaceId) -> Result<SpaceSummary, NodeError> {
        let space = self.spaces.get(&id).ok_or(NodeError::UnknownSpace(id))?;
        let meta = space.meta().ok_or(NodeError::NotReady(id))?;
        Ok(SpaceSummary {
            id,
            name: meta.name,
            purpose: meta.purpose,
            created_by: meta.created_by,
            created_at: meta.created_at,
            members: space.member_count(),
            messages: space.message_count(),
            heads: space.heads(),
            visibility: meta.visibility.as_str().to_string(),
            expires_at: meta.expires_at,
            requirements: space
                .requirements()
                .iter()
                .map(ToString::to_string)
                .collect(),
        })
    }

    fn ready_space(&mut self, id: SpaceId) -> Result<&mut Space, NodeError> {
        let space = self
            .spaces
            .get_mut(&id)
            .ok_or(NodeError::UnknownSpace(id))?;
        if space.is_ready() {
            Ok(space)
        } else {
            Err(NodeError::NotReady(id))
        }
    }

    /// Replies with a read once what it shows is on disk (changes from peers are not flushed
    /// when they arrive; a read must not show what a `kill -9` would lose).
    fn reply_durable<T: Send + 'static>(&self, reply: Reply<T>, read: Result<T, NodeError>) {
        match read {
            Ok(value) => self.reply_when_durable(reply, value),
            Err(e) => drop(reply.send(Err(e))),
        }
    }

    /// Replies once everything written so far is on disk.
    fn reply_when_durable<T: Send + 'static>(&self, reply: Reply<T>, value: T) {
        let store = self.store.clone();
        tokio::spawn(async move {
            let result = store.flush().await.map(|()| value).map_err(NodeError::from);
            let _ = reply.send(result);
        });
    }

    fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::Timites(reply) => {
                let _ = reply.send(Ok(self.timite_views()));
            }
            Command::AddTimite(reply) => {
                let r = self
                    .keys
                    .add_timite()
                    .map_err(|e| NodeError::Storage(e.to_string()))
                    .map(|id| {
                        let did = id.did();
                        info!(timite = %did, "new hosted timite");
                        self.writers.insert(did, new_writer(&id));
                        self.timites.insert(did, id);
                        TimiteView {
                            did,
                            default: false,
                        }
                    });
                let _ = reply.send(r);
            }
            Command::Status(who, reply) => {
                let peer_id = *self.swarm.local_peer_id();
                let _ = reply.send(Ok(NodeStatus {
                    node_did: self.node_did,
                    peer_id: peer_id.to_string(),
                    timite: who,
                    listen: self
                        .listen
                        .iter()
                        .map(|a| format!("{a}/p2p/{peer_id}"))
                        .collect(),
                    connected_peers: self.swarm.connected_peers().count(),
                    spaces: self.spaces.len(),
                    rejected_changes: self.metrics.changes_rejected.get(),
                    version: env!("CARGO_PKG_VERSION").to_string(),
                }));
            }
            Command::ListSpaces(reply) => {
                let mut ids: Vec<_> = self.spaces.keys().copied().collect();
                ids.sort();
                let list = ids
                    .into_iter()
                    .filter_map(|id| self.summary(id).ok())
                    .collect();
                self.reply_when_durable(reply, list);
            }
            Command::Space(id, reply) => self.reply_durable(reply, self.summary(id)),
            Command::Create {
                who,
                name,
                purpose,
                visibility,
                ttl,
                reply,
            } => match self.writer(&who).and_then(|me| {
                Space::create_with(
                    &me,
                    &name,
                    &purpose,
                    visibility,
                    ttl.map(|t| now_ms() + t.as_millis() as u64),
                    now_ms(),
                )
                .map_err(NodeError::from)
            }) {
                Ok((space, genesis)) => {
                    let id = space.id();
                    if let Err(e) = self.store.add_space(&id) {
                        let _ = reply.send(Err(e.into()));
                        return;
                    }
                    self.host(space);
                    info!(space = %id, name, "space created");
                    match self.summary(id) {
                        Ok(s) => self.commit(id, vec![genesis], reply, s),
                        Err(e) => drop(reply.send(Err(e))),
                    }
                }
                Err(e) => drop(reply.send(Err(e))),
            },
            Command::Join {
                who,
                space,
                via,
                present,
                reply,
            } => self.join(who, space, via, present, reply),
            Command::Moderate {
                who,
                space,
                act,
                reply,
            } => {
                let now = now_ms();
                let result = self.writer(&who).and_then(|me| {
                    let key = &me;
                    let s = self.ready_space(space)?;
                    match act {
                        Act::Invite(did, valid) => {
                            s.invite(key, &did, now + valid.as_millis() as u64, now)
                        }
                        Act::SetRole(did, role) => s.set_role(key, &did, role, now),
                        Act::Kick(did) => s.kick(key, &did, now),
                        Act::DeleteMessage(id) => s.delete_message(key, &id, now),
                        Act::Rate(did, score) => s.rate(key, &did, score, now),
                        Act::SetRequirements(r) => s.set_requirements(key, &r, now),
                        Act::DeclareAbilities(a) => s.declare_abilities(key, &a, now),
                    }
                    .map_err(NodeError::from)
                });
                match result {
                    Ok(applied) => {
                        let hash = applied.hash;
                        self.commit(space, vec![applied], reply, hash);
                    }
                    Err(e) => drop(reply.send(Err(e))),
                }
            }
            Command::Issue {
                who,
                space,
                subject,
                kind,
                valid_for,
                reply,
            } => self.issue(who, space, subject, kind, valid_for, reply),
            Command::Revoke(who, id, reply) => {
                let r = self.revoke(&who, &id);
                match r {
                    Ok((space, applied)) => {
                        let hash = applied.hash;
                        self.commit(space, vec![applied], reply, hash);
                    }
                    Err(e) => drop(reply.send(Err(e))),
                }
            }
            Command::Credentials(who, reply) => {
                let r = self
                    .store
                    .credentials()
                    .map_err(NodeError::from)
                    .map(|all| {
                        all.iter()
                            .filter_map(|b| serde_json::from_slice(b).ok())
                            .filter(|vc| concerns(vc, &who))
                            .collect()
                    });
                let _ = reply.send(r);
            }
            Command::Credential(who, id, reply) => {
                let _ = reply.send(self.own_credential(&who, &id));
            }
            Command::ExportJwt(who, id, reply) => {
                let prepared = self.own_credential(&who, &id).and_then(|vc| {
                    if vc["issuer"].as_str() == Some(who.to_string().as_str()) {
                        Ok((vc, self.identity(&who)?))
                    } else {
                        Err(NodeError::Forbidden(format!(
                            "credential {id} was issued by {}; only its issuer can sign its JWT form",
                            vc["issuer"].as_str().unwrap_or("someone else")
                        )))
                    }
                });
                let (vc, identity) = match prepared {
                    Ok(p) => p,
                    Err(e) => return drop(reply.send(Err(e))),
                };
                tokio::spawn(async move {
                    let r = credential::issue_jwt(&identity, &vc).await.map_err(|e| {
                        NodeError::Invalid(format!("{e} (only the issuer's node can)"))
                    });
                    let _ = reply.send(r);
                });
            }
            Command::HoldCredential(who, vc, reply) => {
                if !concerns(&vc, &who) {
                    return drop(reply.send(Err(NodeError::Forbidden(format!(
                        "the credential is about {}, not {who}; a passport keeps its holder's own credentials",
                        vc["credentialSubject"]["id"].as_str().unwrap_or("someone else")
                    )))));
                }
                let Some(id) = vc["id"].as_str().map(String::from) else {
                    return drop(reply.send(Err(NodeError::Invalid(
                        "a credential to keep needs an id".into(),
                    ))));
                };
                match serde_json::to_vec(&vc) {
                    Ok(bytes) => match self.store.put_credential(&id, &bytes) {
                        Ok(()) => self.reply_when_durable(reply, id),
                        Err(e) => drop(reply.send(Err(e.into()))),
                    },
                    Err(e) => drop(reply.send(Err(NodeError::Invalid(e.to_string())))),
                }
            }
            Command::SpaceChecks(vc, trust, reply) => {
                let mut checks = self.space_checks(&vc);
                if trust {
                    checks.push(self.trust_check(&vc));
                }
                let _ = reply.send(Ok(checks));
            }
            Command::Trust(reply) => {
                let _ = reply.send(self.store.trust().map_err(NodeError::from).map(|all| {
                    all.into_iter()
                        .map(|(issuer, weight)| TrustEntry { issuer, weight })
                        .collect()
                }));
            }
            Command::SetTrust(issuer, weight, reply) => {
                let valid = SpaceId::from_iri(&issuer).is_some() || issuer.parse::<Did>().is_ok();
                let r = if !valid {
                    Err(NodeError::Invalid(format!(
                        "`{issuer}` is neither urn:tim:space:<id> nor a did:key"
                    )))
                } else if weight.is_some_and(|w| !(0.0..=1.0).contains(&w)) {
                    Err(NodeError::Invalid("a weight is from 0 to 1".into()))
                } else {
                    self.store
                        .set_trust(&issuer, weight)
                        .map_err(NodeError::from)
                };
                match r {
                    Ok(()) => self.reply_when_durable(reply, ()),
                    Err(e) => drop(reply.send(Err(e))),
                }
            }
            Command::SyncRaw(peer, msg, reply) => {
                // Not tracked as a session: the answer is dropped.
                self.send_sync(peer, msg);
                let _ = reply.send(Ok(()));
            }
            Command::Post {
                who,
                space,
                text,
                reply,
            } => {
                let at = now_ms();
                let result = self.writer(&who).and_then(|me| {
                    self.ready_space(space)?
                        .post(&me, &text, at)
                        .map_err(NodeError::from)
                });
                match result {
                    Ok((applied, id)) => {
                        let posted = Posted {
                            id,
                            change: applied.hash,
                            at,
                        };
                        self.commit(space, vec![applied], reply, posted);
                    }
                    Err(e) => drop(reply.send(Err(e))),
                }
            }
            Command::Timeline(id, reply) => {
                let r = self.ready_space(id).map(|s| Timeline {
                    space: id,
                    heads: s.heads(),
                    messages: s.timeline(),
                });
                self.reply_durable(reply, r);
            }
            Command::Members(id, reply) => {
                let r = self
                    .ready_space(id)
                    .map(|s| s.members())
                    .map(|mut members| {
                        let space = &self.spaces[&id];
                        let policy = self.trust_policy();
                        for m in &mut members {
                            m.imported_reputation =
                                self.imported_reputation(&policy, space, &m.did);
                        }
                        members
                    });
                self.reply_durable(reply, r);
            }
            Command::Export(id, reply) => {
                let r = self
                    .ready_space(id)
                    .map(|s| (s.save(), s.envelopes_in_order()));
                self.reply_durable(reply, r);
            }
            Command::Import {
                space,
                envelopes,
                reply,
            } => self.import(space, envelopes, reply),
            Command::Dial(addr, reply) => {
                let r = match peer_of(&addr) {
                    Some(_) => {
                        self.dial(addr);
                        Ok(())
                    }
                    None => Err(NodeError::Invalid(format!(
                        "{addr} has no /p2p/<peer id> part; copy the full address the node printed"
                    ))),
                };
                let _ = reply.send(r);
            }
            Command::Shutdown(reply) => drop(reply.send(Ok(()))),
            Command::PublishRaw(space, bytes, reply) => {
                let r = self
                    .swarm
                    .behaviour_mut()
                    .gossipsub
                    .publish(IdentTopic::new(space.topic()), bytes)
                    .map(drop)
                    .map_err(|e| NodeError::Invalid(format!("publish: {e}")));
                let _ = reply.send(r);
            }
            Command::DisconnectAll(reply) => {
                let peers: Vec<PeerId> = self.swarm.connected_peers().copied().collect();
                for p in &peers {
                    let _ = self.swarm.disconnect_peer_id(*p);
                }
                let _ = reply.send(Ok(peers.len()));
            }
        }
    }

    fn join(
        &mut self,
        who: Did,
        id: SpaceId,
        via: Vec<Multiaddr>,
        present: Vec<String>,
        reply: Reply<SpaceSummary>,
    ) {
        if let Err(e) = self.identity(&who) {
            return drop(reply.send(Err(e)));
        }
        if let Some(space) = self.spaces.get(&id) {
            if space.is_ready() && space.is_member(&who) {
                let _ = reply.send(self.summary(id));
                return;
            }
        } else {
            if let Err(e) = self.store.add_space(&id) {
                let _ = reply.send(Err(e.into()));
                return;
            }
            self.host(Space::empty(id));
        }
        info!(space = %id, via = via.len(), "joining space");
        self.joins.entry(id).or_default().push(JoinWaiter {
            who,
            present,
            reply,
        });
        self.swarm
            .behaviour_mut()
            .kad
            .get_providers(kad::RecordKey::new(id.as_bytes()));
        for addr in via {
            self.dial(addr);
        }
        let connected: Vec<PeerId> = self.swarm.connected_peers().copied().collect();
        for peer in connected {
            self.start_sync(peer, id);
        }
        // A space whose history is already here (an import) completes at once.
        self.maybe_complete_join(id);
    }

    /// Imports a file's changes all or nothing: they are first tried on a copy of the space,
    /// and nothing is stored unless every one passes every check.
    fn import(&mut self, id: SpaceId, envelopes: Vec<Envelope>, reply: Reply<Imported>) {
        let trial = match self.spaces.get(&id) {
            Some(space) => space.try_copy(),
            None => Ok(Space::empty(id)),
        };
        let mut trial = match trial {
            Ok(mut t) => {
                t.set_verifier(self.admission.clone());
                t
            }
            Err(e) => return drop(reply.send(Err(e.into()))),
        };
        let started = Instant::now();
        // Every signature, known change or not, checked once (on every core).
        let mut checked = Vec::with_capacity(envelopes.len());
        for (i, r) in tim_crdt::check_envelopes(envelopes).into_iter().enumerate() {
            match r {
                Ok(c) => checked.push(c),
                Err((author, r)) => {
                    warn!(space = %id, %author, reason = r.code(), "import refused: {r}");
                    return drop(reply.send(Err(NodeError::Refused(format!(
                        "change {} of the file (by {author}) fails verification: {r}; nothing was imported",
                        i + 1
                    )))));
                }
            }
        }
        let check_ms = started.elapsed().as_millis() as u64;
        let tried = trial.ingest_checked(checked);
        let apply_ms = started.elapsed().as_millis() as u64 - check_ms;
        if let Some((author, r)) = tried.rejected.into_iter().next() {
            warn!(space = %id, %author, reason = r.code(), "import refused: {r}");
            return drop(reply.send(Err(NodeError::Refused(format!(
                "a change of the file (by {author}) is refused: {r}; nothing was imported"
            )))));
        }
        if trial.pending_count() > 0 || !trial.is_ready() {
            return drop(reply.send(Err(NodeError::Invalid(format!(
                "the file is incomplete: {} changes lack their dependencies; nothing was imported",
                trial.pending_count()
            )))));
        }
        // The trial passed: it becomes the space (no second ingestion).
        if let Some(space) = self.spaces.get_mut(&id) {
            *space = trial;
        } else {
            if let Err(e) = self.store.add_space(&id) {
                return drop(reply.send(Err(e.into())));
            }
            self.host(trial);
        }
        let (applied, known) = (tried.applied, tried.duplicates);
        let imported = Imported {
            space: id,
            applied: applied.len(),
            known,
        };
        // Not gossiped one by one: peers hosting the space get them by sync.
        let stored = Instant::now();
        if let Err(e) = self.absorb(id, applied) {
            return drop(reply.send(Err(e)));
        }
        info!(
            space = %id,
            applied = imported.applied,
            known,
            check_ms,
            apply_ms,
            store_ms = stored.elapsed().as_millis() as u64,
            "imported space file"
        );
        let hosts: Vec<PeerId> = self
            .hosts
            .iter()
            .filter(|(_, spaces)| spaces.contains(&id))
            .map(|(p, _)| *p)
            .collect();
        for peer in hosts {
            self.start_sync(peer, id);
        }
        self.maybe_complete_join(id);
        self.reply_when_durable(reply, imported);
    }

    /// Sends a sync request, counted as one round trip.
    fn send_sync(&mut self, peer: PeerId, msg: SyncMessage) -> OutboundRequestId {
        self.metrics.sync_requests.inc();
        self.swarm.behaviour_mut().sync.send_request(&peer, msg)
    }

    /// Stores changes that a space applied and announces them to event streams. If the store
    /// fails, the write fails: the space is reloaded from the store, so that the document is
    /// never ahead of the disk, and nothing is published. (Publishing waits until the changes
    /// are on disk: [`Actor::commit`], [`Actor::publish_when_durable`].)
    fn absorb(&mut self, id: SpaceId, applied: Vec<Applied>) -> Result<(), NodeError> {
        if applied.is_empty() {
            return Ok(());
        }
        if let Err(e) = self
            .store
            .put_envelopes(applied.iter().map(|a| (&a.hash, &a.envelope)))
        {
            warn!(space = %id, changes = applied.len(), "cannot store changes: {e}; the space is reloaded from the store");
            self.reload(id);
            return Err(e.into());
        }
        self.metrics.changes_stored.inc_by(applied.len() as u64);
        for a in &applied {
            self.emit(id, a);
        }
        let total = self.spaces.get(&id).map_or(0, Space::change_count);
        let count = self.since_snapshot.entry(id).or_default();
        *count += applied.len();
        if *count >= SNAPSHOT_EVERY.max(total / SNAPSHOT_FRACTION) {
            self.snapshot(id);
        }
        Ok(())
    }

    /// Rebuilds a space from the store after a failed write (what the store holds is what
    /// the node has).
    fn reload(&mut self, id: SpaceId) {
        let restored = self.store.snapshot(&id).and_then(|snapshot| {
            let envelopes = self.store.envelopes(&id)?;
            Ok(Space::load_stored(id, snapshot.as_deref(), envelopes))
        });
        match restored {
            Ok(Ok(r)) => {
                let mut space = r.space;
                space.set_verifier(self.admission.clone());
                self.spaces.insert(id, space);
            }
            Ok(Err(e)) => warn!(space = %id, "cannot reload the space from the store: {e}"),
            Err(e) => warn!(space = %id, "cannot read the space from the store: {e}"),
        }
    }

    /// Stores local changes; once they are on disk, publishes them (nothing leaves the node
    /// before it is durable) and replies with `value`.
    fn commit<T: Send + 'static>(
        &mut self,
        id: SpaceId,
        applied: Vec<Applied>,
        reply: Reply<T>,
        value: T,
    ) {
        let changes: Vec<Envelope> = applied.iter().map(|a| a.envelope.clone()).collect();
        if let Err(e) = self.absorb(id, applied) {
            return drop(reply.send(Err(e)));
        }
        let store = self.store.clone();
        let internal = self.internal.clone();
        tokio::spawn(async move {
            match store.flush().await {
                Ok(()) => {
                    let _ = internal
                        .send(Internal::Durable { space: id, changes })
                        .await;
                    let _ = reply.send(Ok(value));
                }
                Err(e) => {
                    warn!(space = %id, "flush failed: {e}; the changes are not published");
                    let _ = reply.send(Err(e.into()));
                }
            }
        });
    }

    /// Publishes stored changes once they are on disk.
    fn publish_when_durable(&self, id: SpaceId, changes: Vec<Envelope>) {
        if changes.is_empty() {
            return;
        }
        let store = self.store.clone();
        let internal = self.internal.clone();
        tokio::spawn(async move {
            match store.flush().await {
                Ok(()) => {
                    let _ = internal
                        .send(Internal::Durable { space: id, changes })
                        .await;
                }
                Err(e) => warn!(space = %id, "flush failed: {e}; the changes are not published"),
            }
        });
    }

    fn on_internal(&mut self, done: Internal) {
        match done {
            Internal::Durable { space, changes } => {
                if !self.spaces.contains_key(&space) {
                    return;
                }
                let topic = IdentTopic::new(space.topic());
                for env in changes {
                    match self
                        .swarm
                        .behaviour_mut()
                        .gossipsub
                        .publish(topic.clone(), env.encode())
                    {
                        Ok(_) | Err(gossipsub::PublishError::NoPeersSubscribedToTopic) => {}
                        Err(e) => debug!(%space, "publish: {e}"),
                    }
                }
            }
        }
    }

    /// Gives up the held verdicts of gossip messages whose change was not released in time
    /// (gossipsub has forgotten them by then; sync brings the change).
    fn expire_held_verdicts(&mut self) {
        let now = tokio::time::Instant::now();
        let expired: Vec<ChangeHash> = self
            .held
            .iter()
            .filter(|(_, (_, _, at))| now.duration_since(*at) > HELD_VERDICT)
            .map(|(h, _)| *h)
            .collect();
        for hash in expired {
            if let Some((msg_id, source, _)) = self.held.remove(&hash) {
                self.swarm
                    .behaviour_mut()
                    .gossipsub
                    .report_message_validation_result(&msg_id, &source, MessageAcceptance::Ignore);
            }
        }
    }

    fn emit(&self, id: SpaceId, applied: &Applied) {
        let Some(space) = self.spaces.get(&id) else {
            return;
        };
        // Nobody follows the events (no API stream open): reading each one back is waste.
        let listened = self.events.receiver_count() > 0;
        for effect in &applied.effects {
            let event = match effect {
                Effect::Message { id: msg } if listened => space
                    .message(msg)
                    .map(|message| SpaceEvent::Message { space: id, message }),
                Effect::Joined { did } => {
                    info!(space = %id, member = %did, "member joined");
                    // A member's view counts its messages: a scan of the timeline.
                    listened
                        .then(|| space.member(did))
                        .flatten()
                        .map(|member| SpaceEvent::Joined { space: id, member })
                }
                Effect::RoleChanged { did, role } => {
                    info!(space = %id, member = %did, %role, "role changed");
                    Some(SpaceEvent::RoleChanged {
                        space: id,
                        did: *did,
                        role: role.to_string(),
                    })
                }
                Effect::Removed { did } => {
                    info!(space = %id, member = %did, "member removed");
                    Some(SpaceEvent::Removed {
                        space: id,
                        did: *did,
                    })
                }
                Effect::MessageDeleted => Some(SpaceEvent::MessageDeleted { space: id }),
                _ => None,
            };
            if let Some(e) = event {
                let _ = self.events.send(e);
            }
        }
    }

    fn issue(
        &mut self,
        who: Did,
        id: SpaceId,
        subject: Did,
        kind: CredentialKind,
        valid_for: Option<Duration>,
        reply: Reply<serde_json::Value>,
    ) {
        let (identity, key) = match self
            .identity(&who)
            .and_then(|i| Ok((i, self.writer(&who)?)))
        {
            Ok(i) => i,
            Err(e) => return drop(reply.send(Err(e))),
        };
        let me = who;
        let now = now_ms();
        let secs = |ms: u64| credential::format_time((ms / 1000) as i64);
        let prepared = self.ready_space(id).and_then(|s| {
            let member = s
                .member(&subject)
                .ok_or_else(|| NodeError::Invalid(format!("{subject} is not a member of {id}")))?;
            let claim = match &kind {
                CredentialKind::Membership => Claim::Membership {
                    role: member.role,
                    since: secs(member.joined_at),
                },
                CredentialKind::Reputation => {
                    let r = s.reputation(&subject);
                    Claim::Reputation {
                        score: r.score,
                        contributions: r.contributions,
                        ratings_received: r.ratings_received,
                        average_rating: r.average_rating,
                        period_start: secs(s.meta().map_or(0, |m| m.created_at)),
                        period_end: secs(now),
                    }
                }
                CredentialKind::Ability { ability, level } => Claim::Ability {
                    ability: ability.clone(),
                    level: level.clone(),
                    attested_by: me,
                },
            };
            let cid = credential::new_credential_id();
            let (applied, index) = s.record_issued(&key, &cid, &subject, kind.name(), now)?;
            let req = CredentialRequest {
                id: cid,
                space: id,
                subject,
                claim,
                valid_from: secs(now),
                valid_until: valid_for.map(|d| secs(now + d.as_millis() as u64)),
                status: Some(StatusEntry { index }),
            };
            Ok((applied, req))
        });
        let (applied, req) = match prepared {
            Ok(p) => p,
            Err(e) => return drop(reply.send(Err(e))),
        };
        info!(space = %id, credential = %req.id, subject = %subject, kind = kind.name(), "credential issued");
        let changes = vec![applied.envelope.clone()];
        if let Err(e) = self.absorb(id, vec![applied]) {
            return drop(reply.send(Err(e)));
        }
        self.publish_when_durable(id, changes);
        let store = self.store.clone();
        tokio::spawn(async move {
            let result = async {
                let vc = credential::issue(&identity, &req)
                    .await
                    .map_err(|e| NodeError::Invalid(e.to_string()))?;
                let bytes =
                    serde_json::to_vec(&vc).map_err(|e| NodeError::Invalid(e.to_string()))?;
                store.put_credential(&req.id, &bytes)?;
                store.flush().await?;
                Ok(vc)
            }
            .await;
            let _ = reply.send(result);
        });
    }

    /// The issuing space and status index of a stored credential.
    /// A credential this node issued or holds.
    fn stored_credential(&self, id: &str) -> Result<serde_json::Value, NodeError> {
        let bytes = self
            .store
            .credential(id)?
            .ok_or_else(|| NodeError::NotFound(format!("no credential {id} on this node")))?;
        serde_json::from_slice(&bytes).map_err(|e| NodeError::Storage(e.to_string()))
    }

    /// A stored credential that `who` holds (its subject) or issued.
    fn own_credential(&self, who: &Did, id: &str) -> Result<serde_json::Value, NodeError> {
        let vc = self.stored_credential(id)?;
        if concerns(&vc, who) {
            Ok(vc)
        } else {
            Err(NodeError::Forbidden(format!(
                "credential {id} belongs to another timite"
            )))
        }
    }

    /// The key of a hosted timite.
    fn identity(&self, who: &Did) -> Result<Identity, NodeError> {
        self.timites.get(who).cloned().ok_or_else(|| {
            NodeError::Forbidden(format!("{who} is not a timite hosted on this node"))
        })
    }

    /// The writer of a hosted timite in this session.
    fn writer(&self, who: &Did) -> Result<Writer, NodeError> {
        self.writers.get(who).cloned().ok_or_else(|| {
            NodeError::Forbidden(format!("{who} is not a timite hosted on this node"))
        })
    }

    fn timite_views(&self) -> Vec<TimiteView> {
        self.keys
            .timites()
            .map(|t| TimiteView {
                did: t.did(),
                default: t.did() == self.keys.timite.did(),
            })
            .collect()
    }

    fn revoke(&mut self, who: &Did, id: &str) -> Result<(SpaceId, Applied), NodeError> {
        let vc = self.own_credential(who, id)?;
        let (space, index) = credential_location(&vc).ok_or_else(|| {
            NodeError::Invalid(format!("credential {id} has no Tim status entry"))
        })?;
        let me = self.writer(who)?;
        let applied = self.ready_space(space)?.revoke(&me, index, now_ms())?;
        info!(space = %space, credential = id, index, "credential revoked");
        Ok((space, applied))
    }

    fn space_checks(&self, vc: &serde_json::Value) -> Vec<Check> {
        let check = |name: &str, outcome: Result<String, String>| Check {
            name: name.to_string(),
            outcome,
        };
        let Some(space) = credential::credential_space(vc) else {
            return vec![];
        };
        let Some(s) = self.spaces.get(&space).filter(|s| s.is_ready()) else {
            return vec![];
        };
        let id = vc["id"].as_str().unwrap_or_default();
        let mut out = vec![match s.issued(id) {
            Some(rec)
                if vc["issuer"].as_str() == Some(rec.issuer.to_string().as_str())
                    && vc["credentialSubject"]["id"].as_str()
                        == Some(rec.subject.to_string().as_str()) =>
            {
                check(
                    "issued by an admin of the space",
                    Ok(format!("recorded in space {space} by {}", rec.issuer)),
                )
            }
            Some(_) => check(
                "issued by an admin of the space",
                Err("the space's record names another issuer or subject".into()),
            ),
            None => check(
                "issued by an admin of the space",
                Err(format!(
                    "space {space} has no record of {id}: its issuer was not an admin there"
                )),
            ),
        }];
        if let Some((_, index)) = credential_location(vc) {
            out.push(if s.is_revoked(index) {
                check(
                    "revocation",
                    Err(format!("revoked (status list index {index})")),
                )
            } else {
                check(
                    "revocation",
                    Ok(format!("not revoked (status list index {index})")),
                )
            });
        }
        out
    }

    /// How much this node counts credentials of an issuing space and issuer: the policy's
    /// weight for the space, else for the issuer DID, else 1 for spaces this node hosts (it can
    /// check their admins and revocations), else 0.
    fn trust_weight(&self, policy: &TrustPolicy, space: Option<SpaceId>, issuer: &str) -> f64 {
        space
            .and_then(|s| policy.get(&credential::space_iri(&s)).copied())
            .or_else(|| policy.get(issuer).copied())
            .unwrap_or_else(|| {
                if space.is_some_and(|s| self.spaces.contains_key(&s)) {
                    1.0
                } else {
                    0.0
                }
            })
    }

    /// The trust policy, read once per use.
    fn trust_policy(&self) -> TrustPolicy {
        self.store.trust().unwrap_or_default().into_iter().collect()
    }

    fn trust_check(&self, vc: &serde_json::Value) -> Check {
        let space = credential::credential_space(vc);
        let issuer = vc["issuer"].as_str().unwrap_or_default();
        let weight = self.trust_weight(&self.trust_policy(), space, issuer);
        Check {
            name: "trusted by this node".into(),
            outcome: if weight > 0.0 {
                Ok(format!("weight {weight}"))
            } else {
                Err(format!(
                    "this node's trust policy does not count {} (tim trust set)",
                    space.map_or_else(|| issuer.to_string(), |s| credential::space_iri(&s))
                ))
            },
        }
    }

    /// Reputation a member brought in its join presentation, weighted by the trust policy
    /// (revoked credentials of hosted spaces count nothing).
    fn imported_reputation(&self, policy: &TrustPolicy, space: &Space, did: &Did) -> Option<f64> {
        let vp: serde_json::Value = serde_json::from_str(&space.presentation_of(did)?).ok()?;
        let mut total = None;
        for vc in credential::credentials_in(&vp) {
            let is_reputation = credential::has_type(&vc, "TimReputationCredential");
            let Some(score) = vc["credentialSubject"]["score"]
                .as_f64()
                .filter(|_| is_reputation)
            else {
                continue;
            };
            let revoked = credential_location(&vc)
                .is_some_and(|(s, i)| self.spaces.get(&s).is_some_and(|s| s.is_revoked(i)));
            let weight = self.trust_weight(
                policy,
                credential::credential_space(&vc),
                vc["issuer"].as_str().unwrap_or_default(),
            );
            if weight > 0.0 && !revoked {
                *total.get_or_insert(0.0) += weight * score;
            }
        }
        total
    }

    /// Deletes every ephemeral space whose time to live has passed: it is no longer served,
    /// announced or stored.
    fn expire_spaces(&mut self) {
        let now = now_ms();
        let expired: Vec<SpaceId> = self
            .spaces
            .iter()
            .filter(|(_, s)| {
                s.meta()
                    .and_then(|m| m.expires_at)
                    .is_some_and(|t| t <= now)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            for w in self.joins.remove(&id).unwrap_or_default() {
                let _ = w
                    .reply
                    .send(Err(NodeError::Invalid(format!("space {id} has expired"))));
            }
            match self.drop_space(id) {
                Ok(n) => info!(space = %id, changes = n, "ephemeral space expired; deleted"),
                Err(e) => warn!(space = %id, "cannot delete expired space: {e}"),
            }
        }
    }

    /// Stops hosting a space and deletes it from the store; returns the changes deleted.
    fn drop_space(&mut self, id: SpaceId) -> Result<usize, NodeError> {
        self.spaces.remove(&id);
        let topic = IdentTopic::new(id.topic());
        self.topics.remove(&topic.hash());
        self.swarm.behaviour_mut().gossipsub.unsubscribe(&topic);
        self.swarm
            .behaviour_mut()
            .kad
            .stop_providing(&kad::RecordKey::new(id.as_bytes()));
        self.sync_states.retain(|(_, s), _| *s != id);
        self.sessions.retain(|(_, s), _| *s != id);
        self.since_snapshot.remove(&id);
        for h in self.hosts.values_mut() {
            h.remove(&id);
        }
        Ok(self.store.remove_space(&id)?)
    }

    fn snapshot(&mut self, id: SpaceId) {
        if let Some(space) = self.spaces.get(&id) {
            if space.is_ready() {
                if let Err(e) = self.store.put_snapshot(&id, &space.save()) {
                    warn!(space = %id, "snapshot failed: {e}");
                }
            }
        }
        self.since_snapshot.insert(id, 0);
    }

    fn dial(&mut self, addr: Multiaddr) {
        if let Some(peer) = peer_of(&addr) {
            self.swarm
                .behaviour_mut()
                .kad
                .add_address(&peer, addr.clone());
            let opts = DialOpts::peer_id(peer)
                .addresses(vec![addr])
                .condition(PeerCondition::DisconnectedAndNotDialing)
                .build();
            if let Err(e) = self.swarm.dial(opts) {
                debug!(%peer, "dial: {e}");
            }
        } else if let Err(e) = self.swarm.dial(addr.clone()) {
            warn!(%addr, "dial: {e}");
        }
    }

    fn remember(&mut self, addr: Multiaddr) {
        let Some(peer) = peer_of(&addr) else { return };
        if peer == *self.swarm.local_peer_id() {
            return;
        }
        if self.remembered.get(&peer) != Some(&addr) {
            if let Err(e) = self.store.put_peer(&peer.to_bytes(), &addr.to_string()) {
                warn!(%peer, "cannot remember peer: {e}");
            }
            self.remembered.insert(peer, addr);
        }
    }

    fn redial(&mut self) {
        let disconnected: Vec<Multiaddr> = self
            .remembered
            .iter()
            .filter(|(p, _)| !self.swarm.is_connected(p) && !self.banned.contains_key(p))
            .map(|(_, a)| a.clone())
            .take(MAX_REDIALS_PER_TICK)
            .collect();
        for addr in disconnected {
            self.dial(addr);
        }
    }

    /// Every space syncs with one of its connected hosts (known from gossipsub subscriptions
    /// and earlier syncs), in turn.
    fn anti_entropy(&mut self) {
        let mut by_space: HashMap<SpaceId, Vec<PeerId>> = HashMap::new();
        for (peer, topics) in self.swarm.behaviour().gossipsub.all_peers() {
            for t in topics {
                if let Some(&id) = self.topics.get(t) {
                    by_space.entry(id).or_default().push(*peer);
                }
            }
        }
        for (peer, spaces) in &self.hosts {
            if self.swarm.is_connected(peer) {
                for id in spaces {
                    by_space.entry(*id).or_default().push(*peer);
                }
            }
        }
        let turn = (now_ms() / ANTI_ENTROPY_INTERVAL.as_millis() as u64) as usize;
        for (id, mut peers) in by_space {
            peers.sort();
            peers.dedup();
            let pick = peers[turn % peers.len()];
            self.start_sync(pick, id);
        }
    }

    fn start_sync(&mut self, peer: PeerId, id: SpaceId) {
        if self.sessions.contains_key(&(peer, id)) {
            return;
        }
        let Some(space) = self.spaces.get(&id) else {
            return;
        };
        let state = self.sync_states.entry((peer, id)).or_default();
        let msg = space.generate_sync(state).unwrap_or(SyncMessage {
            // Nothing new for this peer, but ask anyway: the peer may have news.
            space: id,
            automerge: None,
            envelopes: vec![],
        });
        let rid = self.send_sync(peer, msg);
        self.requests.insert(rid, (peer, id));
        self.sessions.insert((peer, id), 1);
    }

    fn maybe_complete_join(&mut self, id: SpaceId) {
        if !self.joins.contains_key(&id) || !self.spaces.get(&id).is_some_and(Space::is_ready) {
            return;
        }
        let waiters = self.joins.remove(&id).unwrap_or_default();
        let mut refused = None;
        for JoinWaiter {
            who,
            present,
            reply,
        } in waiters
        {
            match self.join_as(id, &who, &present) {
                Ok(()) => match self.summary(id) {
                    Ok(s) => self.reply_when_durable(reply, s),
                    Err(e) => drop(reply.send(Err(e))),
                },
                Err(e) => {
                    let _ = reply.send(Err(e.clone()));
                    refused = Some(e);
                }
            }
        }
        // Refused (e.g. not invited): do not keep a space no hosted timite could join.
        let space = &self.spaces[&id];
        if refused.is_some() && !self.timites.keys().any(|t| space.is_member(t)) {
            if let Err(d) = self.drop_space(id) {
                warn!(space = %id, "cannot drop the space after a refused join: {d}");
            }
        }
    }

    /// Adds `who` to a ready space (a no-op for a member), presenting credentials if asked.
    fn join_as(&mut self, id: SpaceId, who: &Did, present: &[String]) -> Result<(), NodeError> {
        let me = self.identity(who)?;
        if self.spaces[&id].is_member(who) {
            return Ok(());
        }
        let presentation = self.presentation_for(&me, id, present)?;
        let writer = self.writer(who)?;
        let space = self
            .spaces
            .get_mut(&id)
            .ok_or(NodeError::UnknownSpace(id))?;
        let applied = space.join_presenting(&writer, presentation.as_deref(), now_ms())?;
        info!(space = %id, timite = %who, "joined space");
        let changes = vec![applied.envelope.clone()];
        self.absorb(id, vec![applied])?;
        self.publish_when_durable(id, changes);
        Ok(())
    }

    /// A presentation of the given credentials (from this node's store) bound to the space and
    /// its current heads, or `None` when nothing is to be presented.
    fn presentation_for(
        &self,
        me: &Identity,
        id: SpaceId,
        present: &[String],
    ) -> Result<Option<String>, NodeError> {
        if present.is_empty() {
            return Ok(None);
        }
        let mut credentials = Vec::new();
        for cid in present {
            credentials.push(self.own_credential(&me.did(), cid)?);
        }
        let space = self.spaces.get(&id).ok_or(NodeError::UnknownSpace(id))?;
        let domain = credential::space_iri(&id);
        // Signing is CPU work without I/O; it completes when polled.
        let vp = futures::executor::block_on(credential::present(
            me,
            credentials,
            &domain,
            &space.challenge(),
        ))
        .map_err(|e| NodeError::Invalid(e.to_string()))?;
        Ok(Some(vp.to_string()))
    }

    /// Counts something invalid a peer served by sync; at [`MAX_STRIKES`] the peer is
    /// disconnected and refused for [`PEER_BAN`]. Honest nodes never serve a change the rules
    /// refuse (they judged it themselves before keeping it).
    fn strike(&mut self, peer: PeerId, why: &str) {
        let n = self.strikes.entry(peer).or_default();
        *n += 1;
        if *n >= MAX_STRIKES {
            warn!(%peer, "peer banned for {} s: it served invalid data by sync ({why})", PEER_BAN.as_secs());
            self.strikes.remove(&peer);
            self.banned
                .insert(peer, tokio::time::Instant::now() + PEER_BAN);
            self.swarm.behaviour_mut().gossipsub.blacklist_peer(&peer);
            let _ = self.swarm.disconnect_peer_id(peer);
        }
    }

    fn is_banned(&mut self, peer: &PeerId) -> bool {
        match self.banned.get(peer) {
            Some(until) if *until > tokio::time::Instant::now() => true,
            Some(_) => {
                self.banned.remove(peer);
                self.swarm
                    .behaviour_mut()
                    .gossipsub
                    .remove_blacklisted_peer(peer);
                false
            }
            None => false,
        }
    }

    /// Applies what a peer sent by sync and logs refusals.
    fn absorb_sync(&mut self, id: SpaceId, received: SyncReceived, peer: PeerId) {
        if let Some((_, r)) = received.rejected.iter().find(|(_, r)| r.blames_sender()) {
            self.strike(peer, r.code());
        }
        self.metrics
            .changes_rejected
            .inc_by(received.rejected.len() as u64);
        for (author, r) in &received.rejected {
            warn!(%peer, space = %id, %author, reason = r.code(), "change rejected: {r}");
        }
        if let Err(e) = self.absorb(id, received.applied) {
            warn!(%peer, space = %id, "changes received by sync are not kept: {e}");
        }
    }

    fn on_sync_request(
        &mut self,
        peer: PeerId,
        msg: SyncMessage,
        channel: request_response::ResponseChannel<SyncResponse>,
    ) {
        let id = msg.space;
        let Some(space) = self.spaces.get_mut(&id) else {
            let _ = self
                .swarm
                .behaviour_mut()
                .sync
                .send_response(channel, SyncResponse::UnknownSpace(id));
            return;
        };
        self.hosts.entry(peer).or_default().insert(id);
        let state = self.sync_states.entry((peer, id)).or_default();
        let response = match space.receive_sync(state, msg) {
            Ok(received) => {
                let next = space.generate_sync(state).unwrap_or(SyncMessage {
                    space: id,
                    automerge: None,
                    envelopes: vec![],
                });
                self.absorb_sync(id, received, peer);
                SyncResponse::Sync(next)
            }
            Err(e) => {
                warn!(%peer, space = %id, "bad sync message: {e}");
                self.strike(peer, "malformed sync message");
                let reason = match e {
                    SpaceError::Automerge(_) => RefusalReason::Internal,
                    _ => RefusalReason::Malformed,
                };
                SyncResponse::Refused { space: id, reason }
            }
        };
        let _ = self
            .swarm
            .behaviour_mut()
            .sync
            .send_response(channel, response);
        self.maybe_complete_join(id);
    }

    fn on_sync_response(&mut self, rid: OutboundRequestId, response: SyncResponse) {
        let Some((peer, id)) = self.requests.remove(&rid) else {
            return;
        };
        let msg = match response {
            SyncResponse::Sync(msg) if msg.space == id => msg,
            SyncResponse::Sync(_) => {
                warn!(%peer, space = %id, "sync response names another space");
                self.sessions.remove(&(peer, id));
                return;
            }
            SyncResponse::UnknownSpace(_) => {
                self.sessions.remove(&(peer, id));
                if let Some(h) = self.hosts.get_mut(&peer) {
                    h.remove(&id);
                }
                return;
            }
            SyncResponse::Refused { reason, .. } => {
                warn!(%peer, space = %id, "sync request refused: {reason}");
                self.sessions.remove(&(peer, id));
                // The refused request's changes count as sent in this state; start afresh.
                self.sync_states.remove(&(peer, id));
                return;
            }
        };
        let Some(space) = self.spaces.get_mut(&id) else {
            return;
        };
        let state = self.sync_states.entry((peer, id)).or_default();
        let received = match space.receive_sync(state, msg) {
            Ok(r) => r,
            Err(e) => {
                warn!(%peer, space = %id, "bad sync response: {e}");
                self.strike(peer, "malformed sync response");
                self.sessions.remove(&(peer, id));
                return;
            }
        };
        let next = space.generate_sync(state);
        let rejected = !received.rejected.is_empty();
        self.absorb_sync(id, received, peer);
        let rounds = self.sessions.get(&(peer, id)).copied().unwrap_or(0) + 1;
        match next {
            Some(msg) if rounds <= MAX_SYNC_ROUNDS && !rejected => {
                let rid = self.send_sync(peer, msg);
                self.requests.insert(rid, (peer, id));
                self.sessions.insert((peer, id), rounds);
            }
            _ => {
                self.sessions.remove(&(peer, id));
                // Caught up with a peer since start.
                self.stale.remove(&id);
                self.maybe_complete_join(id);
            }
        }
    }

    fn on_gossip(
        &mut self,
        source: PeerId,
        msg_id: gossipsub::MessageId,
        message: gossipsub::Message,
    ) {
        let verdict = match self.judge_gossip(source, &message) {
            Verdict::Now(v) => v,
            Verdict::Held(hash) => {
                if self.held.len() < MAX_HELD_VERDICTS {
                    let now = tokio::time::Instant::now();
                    self.held.insert(hash, (msg_id, source, now));
                    return;
                }
                MessageAcceptance::Ignore
            }
        };
        self.swarm
            .behaviour_mut()
            .gossipsub
            .report_message_validation_result(&msg_id, &source, verdict);
    }

    fn judge_gossip(&mut self, source: PeerId, message: &gossipsub::Message) -> Verdict {
        let Some(&id) = self.topics.get(&message.topic) else {
            return Verdict::Now(MessageAcceptance::Ignore);
        };
        let env = match Envelope::decode(&message.data) {
            Ok(env) => env,
            Err(e) => {
                self.metrics.changes_rejected.inc();
                warn!(peer = %source, space = %id, reason = "malformed_envelope", "change rejected: {e}");
                return Verdict::Now(MessageAcceptance::Reject);
            }
        };
        let author = env.author;
        let Some(space) = self.spaces.get_mut(&id) else {
            return Verdict::Now(MessageAcceptance::Ignore);
        };
        match space.ingest(env) {
            Ok(Ingested::Applied {
                mut applied,
                late_rejections,
            }) => {
                for (a, r) in late_rejections {
                    self.metrics.changes_rejected.inc();
                    warn!(peer = %source, space = %id, author = %a, reason = r.code(), "change rejected: {r}");
                }
                let released = applied.split_off(1.min(applied.len()));
                let hashes: Vec<ChangeHash> = released.iter().map(|a| a.hash).collect();
                let to_publish: Vec<Envelope> = released
                    .iter()
                    .filter(|a| !self.held.contains_key(&a.hash))
                    .map(|a| a.envelope.clone())
                    .collect();
                applied.extend(released);
                if let Err(e) = self.absorb(id, applied) {
                    warn!(peer = %source, space = %id, "change not kept: {e}");
                    return Verdict::Now(MessageAcceptance::Ignore);
                }
                // The waiting changes it released: those that came by gossip are accepted now
                // (their verdict was held), so gossipsub forwards them; the others are
                // published, or peers behind this node would only get them by sync.
                for hash in hashes {
                    if let Some((msg_id, from, _)) = self.held.remove(&hash) {
                        self.swarm
                            .behaviour_mut()
                            .gossipsub
                            .report_message_validation_result(
                                &msg_id,
                                &from,
                                MessageAcceptance::Accept,
                            );
                    }
                }
                self.publish_when_durable(id, to_publish);
                Verdict::Now(MessageAcceptance::Accept)
            }
            Ok(Ingested::Duplicate) => Verdict::Now(MessageAcceptance::Ignore),
            Ok(Ingested::Pending { hash, missing }) => {
                debug!(peer = %source, space = %id, missing = missing.len(), "change waits for dependencies; syncing");
                self.start_sync(source, id);
                Verdict::Held(hash)
            }
            Err(r) => {
                self.metrics.changes_rejected.inc();
                warn!(peer = %source, space = %id, %author, reason = r.code(), "change rejected: {r}");
                Verdict::Now(if r.blames_sender() {
                    MessageAcceptance::Reject
                } else {
                    MessageAcceptance::Ignore
                })
            }
        }
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                info!(%address, "listening");
                self.listen.push(address);
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                endpoint,
                num_established,
                ..
            } => {
                if self.is_banned(&peer_id) {
                    debug!(peer = %peer_id, "refusing a banned peer");
                    let _ = self.swarm.disconnect_peer_id(peer_id);
                    return;
                }
                if num_established.get() == 1 {
                    info!(peer = %peer_id, addr = %endpoint.get_remote_address(), "peer connected");
                }
                if endpoint.is_dialer() {
                    let addr = endpoint.get_remote_address().clone();
                    let addr = if peer_of(&addr).is_some() {
                        addr
                    } else {
                        addr.with(libp2p::multiaddr::Protocol::P2p(peer_id))
                    };
                    self.remember(addr);
                }
                let mut to_sync: Vec<SpaceId> = self.joins.keys().copied().collect();
                if num_established.get() == 1 {
                    to_sync.extend(self.hosts.get(&peer_id).into_iter().flatten().copied());
                }
                for id in to_sync {
                    self.start_sync(peer_id, id);
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } => {
                info!(peer = %peer_id, "peer disconnected");
                self.sync_states.retain(|(p, _), _| *p != peer_id);
                self.sessions.retain(|(p, _), _| *p != peer_id);
            }
            SwarmEvent::Behaviour(event) => self.on_behaviour_event(event),
            _ => {}
        }
    }

    fn on_behaviour_event(&mut self, event: BehaviourEvent) {
        match event {
            BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            }) => self.on_gossip(propagation_source, message_id, message),
            BehaviourEvent::Gossipsub(gossipsub::Event::Subscribed { peer_id, topic, .. }) => {
                if let Some(&id) = self.topics.get(&topic) {
                    // A peer we knew to host it (a reconnection), or our copy may be behind
                    // (loaded at start, not synced since): catch up now. A new joiner starts
                    // its own sync; starting one towards it too would send it everything twice.
                    let known = !self.hosts.entry(peer_id).or_default().insert(id);
                    if known || self.stale.contains(&id) {
                        self.start_sync(peer_id, id);
                    }
                }
            }
            BehaviourEvent::Gossipsub(gossipsub::Event::Unsubscribed { peer_id, topic }) => {
                if let Some(id) = self.topics.get(&topic) {
                    if let Some(h) = self.hosts.get_mut(&peer_id) {
                        h.remove(id);
                    }
                }
            }
            BehaviourEvent::Sync(request_response::Event::Message { peer, message, .. }) => {
                match message {
                    request_response::Message::Request {
                        request, channel, ..
                    } => self.on_sync_request(peer, request, channel),
                    request_response::Message::Response {
                        request_id,
                        response,
                    } => self.on_sync_response(request_id, response),
                }
            }
            BehaviourEvent::Sync(request_response::Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            }) => {
                if let Some((_, id)) = self.requests.remove(&request_id) {
                    debug!(%peer, space = %id, "sync request failed: {error}");
                    self.sessions.remove(&(peer, id));
                }
            }
            BehaviourEvent::Sync(request_response::Event::InboundFailure {
                peer, error, ..
            }) => {
                debug!(%peer, "inbound sync failed: {error}");
            }
            BehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. }) => {
                for addr in info.listen_addrs.iter().take(8) {
                    self.swarm
                        .behaviour_mut()
                        .kad
                        .add_address(&peer_id, addr.clone());
                }
            }
            BehaviourEvent::Kad(kad::Event::OutboundQueryProgressed {
                result:
                    kad::QueryResult::GetProviders(Ok(kad::GetProvidersOk::FoundProviders {
                        providers,
                        ..
                    })),
                ..
            }) => {
                let me = *self.swarm.local_peer_id();
                for p in providers.into_iter().filter(|p| *p != me) {
                    if !self.swarm.is_connected(&p) {
                        let _ = self.swarm.dial(p);
                    }
                }
            }
            BehaviourEvent::Mdns(mdns::Event::Discovered(found)) => {
                for (peer, addr) in found {
                    self.dial(addr.with(libp2p::multiaddr::Protocol::P2p(peer)));
                }
            }
            _ => {}
        }
    }
}
