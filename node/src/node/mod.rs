//! The node actor: one task owns the swarm and the engine; callers hold a cheap [`Handle`]
//! whose methods send a command with a `oneshot` reply.
//!
//! The actor only moves events: API commands, swarm events, timers and work finished off the
//! loop become [`Input`]s of the engine (`crate::engine`), and the engine's [`Output`]s are
//! carried out on the swarm, the store and the callers' replies. What is the node's own rather
//! than a space's (credentials it issued or holds, its trust policy, the peer book) is kept
//! here (`passport.rs` for credentials).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use libp2p::gossipsub::{self, IdentTopic, MessageAcceptance, TopicHash};
use libp2p::request_response::{self, OutboundRequestId};
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::SwarmEvent;
use libp2p::{identify, identity, kad, mdns, Multiaddr, PeerId, Swarm};
use tim_crdt::{Space, Writer};
use tim_did::credential;
use tim_did::{Identity, Keystore};
use tim_protocol::api::{
    GossipPeers, Imported, NodeStatus, SpaceEvent, Timeline, TimelinePage, TimiteView, TrustEntry,
};
use tim_protocol::wire::SyncResponse;
use tim_protocol::{Did, Envelope, SpaceId};
use tokio::sync::{broadcast, mpsc};
use tracing::{debug, info, warn};

use crate::admission::SsiAdmission;
use crate::engine::{self, Answer, ChannelId, Engine, Input, Output, RequestId, Token, Write};
use crate::metrics::{NodeMetrics, Registries};
use crate::net::{
    build_swarm, listen_all, space_topic_params, Behaviour, BehaviourEvent, GRAYLIST_THRESHOLD,
};
use crate::store::Store;
use crate::NodeError;

mod ability_index;
mod badges;
mod delivery;
mod handle;
mod passport;
mod payloads;
mod profile_credential;
mod revocation;

use ability_index::AbilityIndex;
pub use handle::{Act, CredentialKind, Handle, NodeConfig};
use handle::{Command, Reply};
use passport::{concerns, SignedList};
use payloads::Payloads;

/// Capacity of the command channel from handles to the actor.
pub(crate) const COMMAND_CAPACITY: usize = 256;
/// Capacity of the event broadcast (slow subscribers miss events and are told so).
pub(crate) const EVENT_CAPACITY: usize = 1024;
/// How often each space syncs with one of its peers, whatever else happens.
pub(crate) const ANTI_ENTROPY_INTERVAL: Duration = Duration::from_millis(engine::ANTI_ENTROPY_MS);
/// How often remembered peers that are not connected are dialled.
pub(crate) const REDIAL_INTERVAL: Duration = Duration::from_secs(3);
/// How often expiries (ephemeral spaces, held gossip verdicts, bans) are checked.
pub(crate) const EXPIRY_CHECK_INTERVAL: Duration = Duration::from_secs(1);
/// Most remembered peers dialled per redial tick.
pub(crate) const MAX_REDIALS_PER_TICK: usize = 16;
/// Capacity of the channel on which work done off the loop comes back to the actor.
pub(crate) const INTERNAL_CAPACITY: usize = 256;
/// How often the ability index is looked at: publish this node's record if due, drop
/// expired records (`crate::index`).
pub(crate) const INDEX_CHECK_INTERVAL: Duration = Duration::from_millis(250);

/// Work done off the loop, coming back to the actor.
enum Internal {
    /// An input for the engine (a flush completed, a presentation was signed).
    Engine(Input),
    /// A local write prepared off the loop (an import whose signatures were checked).
    Write {
        who: Did,
        write: Write,
        on_done: OnDone,
    },
    /// A status list signed off the loop, to answer again while it is fresh.
    StatusListSigned(SpaceId, Did, SignedList),
    /// Status lists fetched for a revocation check, and who asked for it.
    StatusListsFetched(revocation::FetchedLists, Option<Reply<usize>>),
}

impl std::fmt::Debug for Internal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Engine(input) => f.debug_tuple("Engine").field(input).finish(),
            Self::Write { who, .. } => f.debug_struct("Write").field("who", who).finish(),
            Self::StatusListSigned(space, issuer, _) => f
                .debug_tuple("StatusListSigned")
                .field(space)
                .field(issuer)
                .finish(),
            Self::StatusListsFetched(lists, _) => f
                .debug_tuple("StatusListsFetched")
                .field(&lists.len())
                .finish(),
        }
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
    let mut registries = Registries::default();
    let metrics = NodeMetrics::default();
    metrics.register(&mut registries.node);
    let mut swarm = build_swarm(to_libp2p_keypair(&keys.node), &cfg.net, &mut registries)?;
    let listening = listen_all(&mut swarm, &cfg.listen, cfg.net.reuse_port).await?;
    let (tx, rx) = mpsc::channel(COMMAND_CAPACITY);
    let (internal, internal_rx) = mpsc::channel(INTERNAL_CAPACITY);
    let (events, _) = broadcast::channel(EVENT_CAPACITY);
    let handle = Handle {
        tx,
        events: events.clone(),
        node_did: keys.node.did(),
        timite: keys.timite.did(),
        store: store.clone(),
        registries: Arc::new(registries),
    };
    let mut rng = rand::thread_rng();
    let writers: Vec<Writer> = keys
        .timites()
        .map(|t| engine::new_writer(t.signing_key(), &mut rng))
        .collect();
    let verifier: Arc<dyn tim_crdt::admission::AdmissionVerifier> = Arc::new(SsiAdmission);
    let mut engine = Engine::new(
        *swarm.local_peer_id(),
        store.clone(),
        writers,
        Some(verifier),
        metrics.clone(),
    );
    let loaded = engine.load()?;
    let mut actor = Actor {
        swarm,
        engine,
        store,
        timites: keys.timites().map(|t| (t.did(), t.clone())).collect(),
        node_did: keys.node.did(),
        keys,
        internal,
        topics: HashMap::new(),
        requests: HashMap::new(),
        channels: HashMap::new(),
        next_channel: 0,
        replies: HashMap::new(),
        next_token: 0,
        listen: Vec::new(),
        events,
        remembered: HashMap::new(),
        metrics,
        public_url: cfg.public_url,
        status_lists: HashMap::new(),
        checking_revocations: false,
        index: AbilityIndex::new(cfg.net.index_refresh.as_millis() as u64),
        payloads: Payloads::default(),
    };
    actor.join_index();
    for event in listening {
        actor.on_swarm_event(event);
    }
    actor.carry_out(loaded);
    actor.redeliver();
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

/// What to do with the answer to a local write: send it, converted, to the caller.
type OnDone = Box<dyn FnOnce(Result<Answer, NodeError>) + Send>;

/// A reply that expects one kind of [`Answer`].
fn expect<T: Send + 'static>(
    reply: Reply<T>,
    pick: impl FnOnce(Answer) -> Option<T> + Send + 'static,
) -> OnDone {
    Box::new(move |r| {
        let r = r.and_then(|a| {
            pick(a).ok_or_else(|| NodeError::Invalid("unexpected answer from the engine".into()))
        });
        let _ = reply.send(r);
    })
}

/// The node's actor: it owns the swarm and the engine, and only moves events between them,
/// the store, the API and timers (plus credentials and trust, which are the node's own, not
/// a space's).
struct Actor {
    swarm: Swarm<Behaviour>,
    engine: Engine<Store>,
    store: Store,
    /// The hosted timites' keys, written to when a new timite is made.
    keys: Keystore,
    /// The hosted timites by DID.
    timites: HashMap<Did, Identity>,
    node_did: Did,
    /// Work done off the loop comes back here.
    internal: mpsc::Sender<Internal>,
    topics: HashMap<TopicHash, SpaceId>,
    /// Sync requests sent, by swarm id → the engine's id.
    requests: HashMap<OutboundRequestId, RequestId>,
    /// Sync requests received, waiting for the engine's answer.
    channels: HashMap<ChannelId, request_response::ResponseChannel<SyncResponse>>,
    next_channel: ChannelId,
    /// Callers waiting for local writes.
    replies: HashMap<Token, OnDone>,
    next_token: Token,
    listen: Vec<Multiaddr>,
    events: broadcast::Sender<SpaceEvent>,
    /// The peer book: a dialable address per known peer.
    remembered: HashMap<PeerId, Multiaddr>,
    /// Counters served at `GET /metrics`.
    metrics: NodeMetrics,
    /// Where outside verifiers reach this node's API (status lists).
    public_url: Option<String>,
    /// The status list signed last per space and issuer (one entry per issuer that issued
    /// there and was asked for its list).
    status_lists: HashMap<(SpaceId, Did), SignedList>,
    /// A revocation check is fetching status lists.
    checking_revocations: bool,
    /// The network index of abilities: this node's record and the verified records of peers.
    index: AbilityIndex,
    /// Payloads held out of band being fetched.
    payloads: Payloads,
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
        let mut revocations = tokio::time::interval_at(
            tokio::time::Instant::now() + revocation::REVOCATION_CHECK_INTERVAL,
            revocation::REVOCATION_CHECK_INTERVAL,
        );
        let mut index = tokio::time::interval(INDEX_CHECK_INTERVAL);
        let mut fetches = tokio::time::interval(payloads::FETCH_CHECK_INTERVAL);
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
                Some(done) = internal.recv() => match done {
                    Internal::Engine(input) => self.input(input),
                    Internal::Write { who, write, on_done } => self.write(who, write, on_done),
                    Internal::StatusListSigned(space, issuer, signed) => {
                        self.status_lists.insert((space, issuer), signed);
                    }
                    Internal::StatusListsFetched(lists, reply) => {
                        self.on_status_lists_fetched(lists, reply);
                    }
                },
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                _ = anti_entropy.tick() => self.input(Input::AntiEntropy),
                _ = redial.tick() => self.redial(),
                _ = revocations.tick() => self.check_revocations(None),
                _ = index.tick() => self.publish_index(),
                _ = fetches.tick() => self.fetches_due(),
                _ = expiry.tick() => {
                    self.drop_graylisted();
                    self.input(Input::Expiry);
                }
            }
        }
        self.stop().await;
    }

    async fn stop(&mut self) {
        self.engine.snapshot_all();
        if let Err(e) = self.store.flush().await {
            warn!("final flush failed: {e}");
        }
        info!("node stopped");
    }

    /// Feeds the engine one input and carries out what it decides.
    fn input(&mut self, input: Input) {
        self.engine.listening = self.events.receiver_count() > 0;
        let outputs = self.engine.handle(input, now_ms(), &mut rand::thread_rng());
        self.carry_out(outputs);
        self.after_ratings();
    }

    /// A local write on behalf of `who`; `on_done` gets its answer once it is durable.
    fn write(&mut self, who: Did, write: Write, on_done: OnDone) {
        self.next_token += 1;
        let token = self.next_token;
        self.replies.insert(token, on_done);
        self.input(Input::Write { token, who, write });
    }

    fn carry_out(&mut self, outputs: Vec<Output>) {
        for output in outputs {
            match output {
                Output::SendSync { to, request, msg } => {
                    let id = self.swarm.behaviour_mut().sync.send_request(&to, msg);
                    self.requests.insert(id, request);
                }
                Output::Respond { channel, response } => {
                    if let Some(ch) = self.channels.remove(&channel) {
                        let _ = self.swarm.behaviour_mut().sync.send_response(ch, response);
                    }
                }
                Output::Publish { space, data } => {
                    match self
                        .swarm
                        .behaviour_mut()
                        .gossipsub
                        .publish(IdentTopic::new(space.topic()), data)
                    {
                        Ok(_) | Err(gossipsub::PublishError::NoPeersSubscribedToTopic) => {}
                        Err(e) => debug!(%space, "publish: {e}"),
                    }
                }
                Output::Verdict { id, from, verdict } => {
                    let reject = verdict == MessageAcceptance::Reject;
                    self.swarm
                        .behaviour_mut()
                        .gossipsub
                        .report_message_validation_result(&id, &from, verdict);
                    if reject {
                        self.drop_if_graylisted(from);
                    }
                }
                Output::Flush(flush) => {
                    // The flush thread hands the result straight back to the loop.
                    let internal = self.internal.clone();
                    self.store.flush_then(move |r| {
                        let result = r.map_err(|e| e.to_string());
                        let input = Input::Flushed { flush, result };
                        let _ = internal.blocking_send(Internal::Engine(input));
                    });
                }
                Output::Host(id) => {
                    let topic = IdentTopic::new(id.topic());
                    let gossipsub = &mut self.swarm.behaviour_mut().gossipsub;
                    if let Err(e) = gossipsub.set_topic_params(topic.clone(), space_topic_params())
                    {
                        warn!(space = %id, "cannot score the space topic: {e}");
                    }
                    if let Err(e) = gossipsub.subscribe(&topic) {
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
                }
                Output::Unhost(id) => {
                    let topic = IdentTopic::new(id.topic());
                    self.topics.remove(&topic.hash());
                    self.swarm.behaviour_mut().gossipsub.unsubscribe(&topic);
                    self.swarm
                        .behaviour_mut()
                        .kad
                        .stop_providing(&kad::RecordKey::new(id.as_bytes()));
                }
                Output::FindHosts(id) => {
                    self.swarm
                        .behaviour_mut()
                        .kad
                        .get_providers(kad::RecordKey::new(id.as_bytes()));
                }
                Output::Ban(peer) => {
                    self.swarm.behaviour_mut().gossipsub.blacklist_peer(&peer);
                    let _ = self.swarm.disconnect_peer_id(peer);
                }
                Output::Unban(peer) => {
                    self.swarm
                        .behaviour_mut()
                        .gossipsub
                        .remove_blacklisted_peer(&peer);
                }
                Output::Event(e) => {
                    self.prefetch(&e);
                    let _ = self.events.send(*e);
                }
                Output::Present {
                    token,
                    who,
                    space,
                    challenge,
                    credentials,
                } => self.present(token, who, space, challenge, credentials),
                Output::CredentialRecorded { space, id } => self.deliver(space, id),
                Output::Done { token, result } => {
                    if let Some(on_done) = self.replies.remove(&token) {
                        on_done(result);
                    }
                }
            }
        }
    }

    /// Signs a joiner's presentation off the loop (JSON-LD canonicalisation costs
    /// milliseconds) and hands it back to the engine. The presentation also carries the
    /// issuers' current status lists of the credentials that name one (fetched over HTTP), so
    /// that every node of the space can check they were not revoked, and the joiner's profile
    /// credential, if it holds one and did not name it.
    fn present(
        &mut self,
        token: Token,
        who: Did,
        space: SpaceId,
        challenge: String,
        ids: Vec<String>,
    ) {
        let prepared = self.identity(&who).and_then(|me| {
            let mut credentials = ids
                .iter()
                .map(|cid| self.own_credential(&who, cid))
                .collect::<Result<Vec<_>, _>>()?;
            // The timite's profile travels with its passport (docs/passports.md).
            if !credentials
                .iter()
                .any(tim_did::profile_credential::is_profile_credential)
            {
                let held = profile_credential::held_profiles(&self.store, &who)?;
                credentials.extend(held.into_iter().take(1));
            }
            Ok((me, credentials))
        });
        let internal = self.internal.clone();
        let (me, credentials) = match prepared {
            Ok(p) => p,
            Err(e) => {
                let input = Input::Presented {
                    token,
                    who,
                    space,
                    presentation: Err(e),
                };
                return self.input(input);
            }
        };
        tokio::spawn(async move {
            let domain = credential::space_iri(&space);
            let presentation = async {
                let mut carried = passport::fetch_status_lists(&credentials).await?;
                carried.splice(0..0, credentials);
                credential::present(&me, carried, &domain, &challenge)
                    .await
                    .map(|vp| vp.to_string())
                    .map_err(|e| NodeError::Invalid(e.to_string()))
            }
            .await;
            let input = Input::Presented {
                token,
                who,
                space,
                presentation,
            };
            let _ = internal.send(Internal::Engine(input)).await;
        });
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
                    .map_err(|e| NodeError::Storage(e.to_string()));
                let r = r.map(|id| {
                    let did = id.did();
                    info!(timite = %did, "new hosted timite");
                    let writer = engine::new_writer(id.signing_key(), &mut rand::thread_rng());
                    self.timites.insert(did, id);
                    self.input(Input::AddWriter(writer));
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
                    spaces: self.engine.spaces().count(),
                    rejected_changes: self.metrics.changes_rejected.get(),
                    version: env!("CARGO_PKG_VERSION").to_string(),
                }));
            }
            Command::ListSpaces(who, reply) => {
                let mut ids: Vec<SpaceId> = self.engine.spaces().map(Space::id).collect();
                ids.sort();
                let list = ids
                    .into_iter()
                    .filter_map(|id| self.engine.summary_for(&who, id).ok())
                    .collect();
                self.reply_when_durable(reply, list);
            }
            Command::Space(who, id, reply) => {
                let summary = self.engine.summary_for(&who, id);
                self.reply_durable(reply, summary);
            }
            Command::Create {
                who,
                name,
                purpose,
                visibility,
                ttl,
                encryption,
                reply,
            } => {
                let write = Write::Create {
                    name,
                    purpose,
                    visibility,
                    expires_at: ttl.map(|t| now_ms() + t.as_millis() as u64),
                    encryption,
                };
                let on_done = expect(reply, |a| match a {
                    Answer::Space(s) => Some(*s),
                    _ => None,
                });
                self.write(who, write, on_done);
            }
            Command::Join {
                who,
                space,
                via,
                present,
                reply,
            } => {
                if let Err(e) = self.identity(&who) {
                    return drop(reply.send(Err(e)));
                }
                for addr in via {
                    self.dial(addr);
                }
                let on_done = expect(reply, |a| match a {
                    Answer::Space(s) => Some(*s),
                    _ => None,
                });
                self.write(who, Write::Join { space, present }, on_done);
            }
            Command::CancelJoin { who, space, reply } => {
                let on_done = expect(reply, |a| match a {
                    Answer::JoinCancelled { .. } => Some(()),
                    _ => None,
                });
                self.write(who, Write::CancelJoin { space }, on_done);
            }
            Command::Leave { who, space, reply } => {
                let on_done = expect(reply, |a| match a {
                    Answer::Left { dropped } => Some(dropped),
                    _ => None,
                });
                self.write(who, Write::Leave { space }, on_done);
            }
            Command::Moderate {
                who,
                space,
                act,
                reply,
            } => {
                let on_done = expect(reply, |a| match a {
                    Answer::Change(h) => Some(h),
                    _ => None,
                });
                self.write(who, Write::Moderate { space, act }, on_done);
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
                let located = self.own_credential(&who, &id).and_then(|vc| {
                    let space = credential::credential_space(&vc).ok_or_else(|| {
                        NodeError::Invalid(format!("credential {id} names no Tim space"))
                    })?;
                    let rec = self.engine.ready_space(space)?.issued(&id).ok_or_else(|| {
                        NodeError::Invalid(format!(
                            "space {space} has no record of credential {id}"
                        ))
                    })?;
                    Ok((space, rec.status_index))
                });
                match located {
                    Ok((space, index)) => {
                        let on_done = expect(reply, |a| match a {
                            Answer::Change(h) => Some(h),
                            _ => None,
                        });
                        self.write(who, Write::Revoke { space, index }, on_done);
                    }
                    Err(e) => drop(reply.send(Err(e))),
                }
            }
            Command::StatusList(space, issuer, reply) => self.status_list(space, issuer, reply),
            Command::CheckRevocations(reply) => self.check_revocations(Some(reply)),
            Command::CheckBadges(reply) => {
                let hosted: Vec<SpaceId> = self.engine.spaces().map(|s| s.id()).collect();
                let _ = reply.send(Ok(self.issue_badges(hosted)));
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
            Command::IssueProfileCredential(who, claim, reply) => {
                self.issue_profile_credential(who, claim, reply)
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
                self.input(Input::SyncRaw { to: peer, msg });
                let _ = reply.send(Ok(()));
            }
            Command::Post {
                who,
                space,
                text,
                reply_to,
                mentions,
                attachment,
                reply,
            } => {
                let on_done = expect(reply, |a| match a {
                    Answer::Posted(p) => Some(p),
                    _ => None,
                });
                let write = match reply_to {
                    _ if !mentions.is_empty() || attachment.is_some() => Write::PostMentioning {
                        space,
                        text,
                        reply_to,
                        mentions,
                        attachment,
                    },
                    Some(parent) => Write::Reply {
                        space,
                        parent,
                        text,
                    },
                    None => Write::Post { space, text },
                };
                self.write(who, write, on_done);
            }
            Command::Timeline(who, id, reply) => {
                let r = self.engine.readable_space(&who, id).map(|s| Timeline {
                    space: id,
                    heads: s.heads(),
                    messages: s.timeline(),
                });
                let r = r.map(|mut t| {
                    self.engine.reveal(&who, id, &mut t.messages);
                    t
                });
                self.reply_durable(reply, r);
            }
            Command::TimelinePage {
                who,
                space,
                from,
                limit,
                reply,
            } => {
                let r = self.engine.readable_space(&who, space).and_then(|s| {
                    let page = s
                        .timeline_page(&from, limit)
                        .map_err(|e| NodeError::UnknownMessage(e.to_string()))?;
                    Ok(TimelinePage {
                        space,
                        heads: s.heads(),
                        messages: page.messages,
                        next_before: page.next_before,
                        next_after: page.next_after,
                    })
                });
                let r = r.map(|mut p| {
                    self.engine.reveal(&who, space, &mut p.messages);
                    p
                });
                self.reply_durable(reply, r);
            }
            Command::Members {
                who,
                space,
                after,
                limit,
                reply,
            } => {
                let r = self.engine.readable_space(&who, space).map(|space| {
                    let mut page = space.members_page(after.as_ref(), limit);
                    let policy = self.trust_policy();
                    for m in &mut page.members {
                        m.imported_reputation = self.imported_reputation(&policy, space, &m.did);
                    }
                    page
                });
                self.reply_durable(reply, r);
            }
            Command::EditHistory {
                who,
                space,
                message,
                reply,
            } => {
                let r = self.engine.edit_history(&who, space, &message);
                self.reply_durable(reply, r);
            }
            Command::Export(who, id, reply) => {
                let r = self
                    .engine
                    .readable_space(&who, id)
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
            Command::Ability {
                who,
                space,
                act,
                reply,
            } => {
                let on_done = expect(reply, |a| match a {
                    Answer::Ability { change, request } => Some((change, request)),
                    _ => None,
                });
                self.write(who, Write::Ability { space, act }, on_done);
            }
            Command::Read { who, space, read } => {
                let answer = (read.0)(self.engine.readable_space(&who, space));
                let store = self.store.clone();
                tokio::spawn(async move { answer(store.flush().await.map_err(NodeError::from)) });
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
            Command::GossipPeers(space, reply) => {
                let topic = IdentTopic::new(space.topic()).hash();
                let gossipsub = &self.swarm.behaviour().gossipsub;
                let peers = GossipPeers {
                    mesh: gossipsub.mesh_peers(&topic).count(),
                    subscribed: gossipsub
                        .all_peers()
                        .filter(|(_, topics)| topics.contains(&&topic))
                        .count(),
                };
                let _ = reply.send(Ok(peers));
            }
            Command::Payload {
                space,
                hash,
                only,
                reply,
            } => self.fetch_payload(space, hash, only, Some(reply)),
            Command::NetworkSearch {
                query,
                limit,
                reply,
            } => {
                let _ = reply.send(Ok(self.network_search(&query, limit)));
            }
            Command::Availability(providers, reply) => {
                let _ = reply.send(Ok(self.availability(&providers)));
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

    /// Imports a file's changes: their signatures are checked off the loop (on every core),
    /// then the engine tries them, all or nothing.
    fn import(&mut self, space: SpaceId, envelopes: Vec<Envelope>, reply: Reply<Imported>) {
        // Imports are checked by the node, not written as a timite.
        let who = self.keys.timite.did();
        let internal = self.internal.clone();
        tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            let mut checked = Vec::with_capacity(envelopes.len());
            for (i, r) in tim_crdt::check_envelopes(envelopes).into_iter().enumerate() {
                match r {
                    Ok(c) => checked.push(c),
                    Err((author, r)) => {
                        warn!(%space, %author, reason = r.code(), "import refused: {r}");
                        let e = NodeError::Refused(format!(
                            "change {} of the file (by {author}) fails verification: {r}; nothing was imported",
                            i + 1
                        ));
                        return drop(reply.send(Err(e)));
                    }
                }
            }
            info!(%space, changes = checked.len(), check_ms = started.elapsed().as_millis() as u64, "import: signatures checked");
            let on_done = expect(reply, |a| match a {
                Answer::Imported(i) => Some(i),
                _ => None,
            });
            let write = Write::Import { space, checked };
            let _ = internal.blocking_send(Internal::Write {
                who,
                write,
                on_done,
            });
        });
    }

    /// The key of a hosted timite.
    fn identity(&self, who: &Did) -> Result<Identity, NodeError> {
        self.timites.get(who).cloned().ok_or_else(|| {
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

    /// Bans a peer whose gossipsub score is below the graylist threshold (gossipsub already
    /// ignores what it sends; the ban also closes its connections and refuses its syncs).
    fn drop_if_graylisted(&mut self, peer: PeerId) {
        if self.engine.banned(&peer, now_ms()) {
            return; // Already dropped; its connections are closing.
        }
        let score = self.swarm.behaviour().gossipsub.peer_score(&peer);
        if let Some(score) = score.filter(|s| *s < GRAYLIST_THRESHOLD) {
            warn!(%peer, score, "peer graylisted by its gossipsub score");
            self.metrics.peers_graylisted.inc();
            self.input(Input::Graylisted(peer));
        }
    }

    /// [`Actor::drop_if_graylisted`] for every connected peer: scores also fall for reasons
    /// other than a rejected message (broken promises, re-grafting during a backoff).
    fn drop_graylisted(&mut self) {
        let peers: Vec<PeerId> = self.swarm.connected_peers().copied().collect();
        for peer in peers {
            self.drop_if_graylisted(peer);
        }
    }

    fn redial(&mut self) {
        let now = now_ms();
        let disconnected: Vec<Multiaddr> = self
            .remembered
            .iter()
            .filter(|(p, _)| !self.swarm.is_connected(p) && !self.engine.banned(p, now))
            .map(|(_, a)| a.clone())
            .take(MAX_REDIALS_PER_TICK)
            .collect();
        for addr in disconnected {
            self.dial(addr);
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
                if self.engine.banned(&peer_id, now_ms()) {
                    debug!(peer = %peer_id, "refusing a banned peer");
                    self.metrics.peers_refused.inc();
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
                self.input(Input::Connected {
                    peer: peer_id,
                    first: num_established.get() == 1,
                });
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } => {
                info!(peer = %peer_id, "peer disconnected");
                self.input(Input::Disconnected(peer_id));
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
            }) if message.topic == self.index.topic => {
                self.on_index_message(propagation_source, message_id, &message.data)
            }
            BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            }) => match self.topics.get(&message.topic) {
                Some(&space) => self.input(Input::Gossip {
                    from: propagation_source,
                    id: message_id,
                    space,
                    data: message.data,
                }),
                None => {
                    self.swarm
                        .behaviour_mut()
                        .gossipsub
                        .report_message_validation_result(
                            &message_id,
                            &propagation_source,
                            MessageAcceptance::Ignore,
                        );
                }
            },
            BehaviourEvent::Gossipsub(gossipsub::Event::Subscribed { topic, .. })
                if topic == self.index.topic =>
            {
                self.index.publisher.newcomer();
            }
            BehaviourEvent::Gossipsub(gossipsub::Event::Subscribed { peer_id, topic, .. }) => {
                if let Some(&id) = self.topics.get(&topic) {
                    self.input(Input::Subscribed(peer_id, id));
                }
            }
            BehaviourEvent::Gossipsub(gossipsub::Event::Unsubscribed { peer_id, topic }) => {
                if let Some(&id) = self.topics.get(&topic) {
                    self.input(Input::Unsubscribed(peer_id, id));
                }
            }
            BehaviourEvent::Sync(request_response::Event::Message { peer, message, .. }) => {
                match message {
                    request_response::Message::Request {
                        request, channel, ..
                    } => {
                        self.next_channel += 1;
                        let id = self.next_channel;
                        self.channels.insert(id, channel);
                        self.input(Input::SyncRequest {
                            from: peer,
                            channel: id,
                            msg: request,
                        });
                    }
                    request_response::Message::Response {
                        request_id,
                        response,
                    } => {
                        if let Some(request) = self.requests.remove(&request_id) {
                            self.input(Input::SyncResponse { request, response });
                        }
                    }
                }
            }
            BehaviourEvent::Sync(request_response::Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            }) => {
                if let Some(request) = self.requests.remove(&request_id) {
                    debug!(%peer, "sync request failed: {error}");
                    self.input(Input::SyncFailed(request));
                }
            }
            BehaviourEvent::Sync(request_response::Event::InboundFailure {
                peer, error, ..
            }) => {
                debug!(%peer, "inbound sync failed: {error}");
            }
            event @ BehaviourEvent::Payload(_) => self.on_payload_event(event),
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
