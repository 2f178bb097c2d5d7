//! The node's engine: everything a node decides about its spaces and its peers, with no I/O.
//!
//! In the manner of iroh-gossip's `proto` and samod-core, the engine is a state machine:
//! [`Engine::handle`] takes an [`Input`] (a peer connected, a gossip message, a sync request
//! or response, a flush that completed, a timer, a local write) with the current time and a
//! random source, and returns the [`Output`]s to carry out (send a sync message, publish on
//! gossip, report a gossip verdict, flush the store, ban a peer, answer a caller). It holds
//! the spaces (each behind the one gate, `tim_crdt::Space::admit`), the sync sessions and
//! their Automerge sync states, join waiters, peer strikes and bans, anti-entropy, snapshot
//! and expiry policies, and the verdicts of gossip messages whose change waits.
//!
//! The node's actor (`node.rs`) only turns swarm, store, API and timer events into inputs and
//! carries outputs out; the simulator (`sim.rs`, feature `test-utils`) runs many engines in
//! one process, in virtual time, over a seeded network.
//!
//! Writes go to the store at once (a log), and become durable at the next flush. Nothing a
//! node signs leaves it before it is durable: its own changes are published, and their
//! writers answered, only when the flush that covers them completes ([`Input::Flushed`]).

mod chains;
mod e2ee;
mod edits;
mod proposals;
pub use proposals::CLOSE_GRACE_MS;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use libp2p::gossipsub::{MessageAcceptance, MessageId};
use libp2p::PeerId;
use rand::RngCore;
use tim_crdt::admission::AdmissionVerifier;
use tim_crdt::encryption::Encryption;
use tim_crdt::issuance::Issuance;
use tim_crdt::{Applied, Effect, Ingested, Space, SyncReceived, SyncState, Visibility, Writer};
use tim_protocol::api::{Imported, Posted, SpaceEvent, SpaceSummary};
use tim_protocol::wire::{RefusalReason, SyncMessage, SyncResponse};
use tim_protocol::{ChangeHash, Did, Envelope, SpaceId, SyncAccess};
use tracing::{debug, info, info_span, warn};

use crate::abilities::{self, AbilityAct, Failed, Performed};
use crate::metrics::NodeMetrics;
use crate::node::Act;
use crate::store::{Penalty, SpaceStore};
use crate::NodeError;

/// Most sync rounds in one session before it is cut off.
pub(crate) const MAX_SYNC_ROUNDS: u32 = 200;
/// A snapshot (the record of a space's judged heads, `Space::judged_heads`) is stored after
/// this many changes applied to a space since the last one: a restart judges at most these
/// again.
pub(crate) const SNAPSHOT_EVERY: usize = 1000;
/// How often each space syncs with one of its peers, whatever else happens (milliseconds).
pub(crate) const ANTI_ENTROPY_MS: u64 = 10_000;
/// Invalid sync messages or changes a peer may serve before it is banned.
pub(crate) const MAX_STRIKES: u32 = 3;
/// How long a banned peer is refused (milliseconds).
pub(crate) const PEER_BAN_MS: u64 = 600_000;
/// How long a gossip message whose change waits for dependencies keeps its verdict open
/// (milliseconds): released within this time, it is accepted and gossipsub forwards it.
pub(crate) const HELD_VERDICT_MS: u64 = 30_000;
/// Most gossip messages whose verdict is held at once.
pub(crate) const MAX_HELD_VERDICTS: usize = tim_crdt::MAX_PENDING;
/// Most expired ephemeral spaces remembered (in memory), to answer that they expired.
pub(crate) const REMEMBERED_EXPIRIES: usize = 1024;

/// Names a sync request this engine sent, to match its response.
pub type RequestId = u64;
/// Names a sync request a peer sent, to answer it.
pub type ChannelId = u64;
/// Names a caller waiting for a local write.
pub type Token = u64;
/// Names a flush the engine asked for.
pub type FlushId = u64;

/// A local write, on behalf of a hosted timite.
#[derive(Debug, Clone)]
pub enum Write {
    /// Create a space.
    Create {
        /// Name.
        name: String,
        /// Purpose.
        purpose: String,
        /// Visibility.
        visibility: Visibility,
        /// When an ephemeral space expires (milliseconds since the Unix epoch).
        expires_at: Option<u64>,
        /// End-to-end encryption (an invite-only space).
        encryption: Option<Encryption>,
    },
    /// Post a message.
    Post {
        /// The space.
        space: SpaceId,
        /// The text.
        text: String,
    },
    /// Post a reply to a message (schema version 10).
    Reply {
        /// The space.
        space: SpaceId,
        /// The id of the message replied to.
        parent: String,
        /// The text.
        text: String,
    },
    /// Post a message that mentions members or carries a file, replying to `reply_to` if
    /// given (schema version 11, docs/protocol.md §9.13.2 and §9.13.3).
    PostMentioning {
        /// The space.
        space: SpaceId,
        /// The text.
        text: String,
        /// The id of the message replied to.
        reply_to: Option<String>,
        /// The members mentioned.
        mentions: Vec<Did>,
        /// A file it carries.
        attachment: Option<tim_crdt::messages::Attachment>,
    },
    /// A moderation act.
    Moderate {
        /// The space.
        space: SpaceId,
        /// The act.
        act: Act,
    },
    /// Record the issuance of a credential in the space's name (admins).
    RecordIssued {
        /// The space.
        space: SpaceId,
        /// The credential id.
        id: String,
        /// Whom it is about.
        subject: Did,
        /// Its kind.
        kind: &'static str,
        /// The ability an ability credential attests (docs/abilities.md §13).
        ability: Option<String>,
        /// The signed credential (its JSON), delivered with the record to its subject's node.
        credential: Option<String>,
    },
    /// Put a revocation notice (docs/passports.md): an issuer's signed status list that
    /// revokes a credential presented in the space; a space below the schema version of
    /// notices is migrated first (the writer must then be an admin).
    PostNotice {
        /// The space.
        space: SpaceId,
        /// The status list credential, JSON.
        list: String,
    },
    /// Revoke the credential with this status index (admins).
    Revoke {
        /// The space.
        space: SpaceId,
        /// Its status list index.
        index: u64,
    },
    /// Join a space: wait for its history, then add the timite, presenting the given
    /// credentials (by id) if any.
    Join {
        /// The space.
        space: SpaceId,
        /// Credentials to present.
        present: Vec<String>,
    },
    /// Give up the timite's join of a space (its caller stopped waiting): a space whose
    /// history never arrived and that nobody else is joining is dropped, so that no phantom
    /// space stays hosted or comes back at the next start.
    CancelJoin {
        /// The space.
        space: SpaceId,
    },
    /// The timite's leave, once its own member entry is removed (or if its join never
    /// completed): its joins of the space are given up, and the space is dropped (unhosted,
    /// deleted from the store) if no hosted timite is a member any more and nobody is joining.
    Leave {
        /// The space.
        space: SpaceId,
    },
    /// A write about abilities: declare, withdraw, request, claim, progress, an outcome,
    /// cancel, rate (docs/abilities.md).
    Ability {
        /// The space.
        space: SpaceId,
        /// The act.
        act: AbilityAct,
    },
    /// Import signed changes of a space, all or nothing. Their signatures were checked off
    /// the engine ([`tim_crdt::check_envelopes`]: it costs ~45 µs a change).
    Import {
        /// The space.
        space: SpaceId,
        /// The changes, checked.
        checked: Vec<tim_crdt::Checked>,
    },
}

/// What a local write answers once it is durable.
#[derive(Debug, Clone)]
pub enum Answer {
    /// A space's summary (create, join), boxed: it is much larger than the other answers.
    Space(Box<SpaceSummary>),
    /// A posted message.
    Posted(Posted),
    /// The change a write made.
    Change(ChangeHash),
    /// An issuance recorded, with its status index.
    Issued {
        /// The change.
        change: ChangeHash,
        /// The status list index.
        index: u64,
    },
    /// A write about abilities: its change, and the id of the request it made, if any.
    Ability {
        /// The change (after the migration it needed, if any).
        change: ChangeHash,
        /// The new request's id.
        request: Option<String>,
    },
    /// An import.
    Imported(Imported),
    /// A join given up; whether the space was dropped with it.
    JoinCancelled {
        /// The space's history had not arrived: it is no longer hosted.
        dropped: bool,
    },
    /// A leave done; whether the space was dropped with it.
    Left {
        /// No hosted timite is a member any more: the space is no longer hosted.
        dropped: bool,
    },
}

/// Something that happened, for the engine to decide on.
#[derive(Debug)]
pub enum Input {
    /// A connection to a peer was established (the first one, or another).
    Connected {
        /// The peer.
        peer: PeerId,
        /// Whether it is the first connection to it.
        first: bool,
    },
    /// The last connection to a peer closed.
    Disconnected(PeerId),
    /// Gossipsub's score of a peer fell below the graylist threshold (it delivered invalid
    /// messages): the peer is banned like one that struck out by sync.
    Graylisted(PeerId),
    /// A peer subscribed to a space's topic.
    Subscribed(PeerId, SpaceId),
    /// A peer unsubscribed from a space's topic.
    Unsubscribed(PeerId, SpaceId),
    /// A gossip message on a space's topic; the engine answers with a verdict.
    Gossip {
        /// The peer it came from.
        from: PeerId,
        /// Its id.
        id: MessageId,
        /// The space whose topic it came on.
        space: SpaceId,
        /// Its bytes.
        data: Vec<u8>,
    },
    /// A peer's sync request, to answer on `channel`.
    SyncRequest {
        /// The peer.
        from: PeerId,
        /// Where to answer.
        channel: ChannelId,
        /// The message.
        msg: SyncMessage,
    },
    /// The answer to a sync request this engine sent.
    SyncResponse {
        /// The request.
        request: RequestId,
        /// The answer.
        response: SyncResponse,
    },
    /// A sync request this engine sent failed (the peer is gone, timed out).
    SyncFailed(RequestId),
    /// A flush the engine asked for completed.
    Flushed {
        /// The flush.
        flush: FlushId,
        /// Whether it worked.
        result: Result<(), String>,
    },
    /// Time for anti-entropy: each space syncs with one of its hosts.
    AntiEntropy,
    /// Time to check expiries (ephemeral spaces, held verdicts, bans).
    Expiry,
    /// A local write by a hosted timite.
    Write {
        /// Who waits for the answer.
        token: Token,
        /// The hosted timite.
        who: Did,
        /// What to write.
        write: Write,
    },
    /// The presentation asked for by [`Output::Present`], made off the loop.
    Presented {
        /// The join's caller.
        token: Token,
        /// The hosted timite joining.
        who: Did,
        /// The space.
        space: SpaceId,
        /// The presentation (JSON), or why it could not be made.
        presentation: Result<String, NodeError>,
    },
    /// A hosted timite's key arrived (a new timite): it writes in a new session.
    AddWriter(Writer),
    /// A raw sync message to send, untracked (fault injection: a rogue node).
    SyncRaw {
        /// The peer.
        to: PeerId,
        /// The message.
        msg: SyncMessage,
    },
}

/// What the engine decided, for the node to carry out.
#[derive(Debug)]
pub enum Output {
    /// Send a sync request.
    SendSync {
        /// The peer.
        to: PeerId,
        /// Its id, to match the response.
        request: RequestId,
        /// The message.
        msg: SyncMessage,
    },
    /// Answer a peer's sync request.
    Respond {
        /// The request's channel.
        channel: ChannelId,
        /// The answer.
        response: SyncResponse,
    },
    /// Publish a change on a space's topic (it is on disk).
    Publish {
        /// The space.
        space: SpaceId,
        /// The encoded envelope.
        data: Vec<u8>,
    },
    /// Tell gossipsub what to do with a message.
    Verdict {
        /// The message.
        id: MessageId,
        /// The peer it came from.
        from: PeerId,
        /// Accept (forward), reject (penalize) or ignore.
        verdict: MessageAcceptance,
    },
    /// Make every write so far durable, then answer with [`Input::Flushed`].
    Flush(FlushId),
    /// Start hosting a space: subscribe to its topic, announce it.
    Host(SpaceId),
    /// Stop hosting a space.
    Unhost(SpaceId),
    /// Look for hosts of a space (Kademlia providers).
    FindHosts(SpaceId),
    /// Refuse a peer: disconnect it and blacklist it on gossip.
    Ban(PeerId),
    /// A ban ended.
    Unban(PeerId),
    /// A live event for API streams (boxed: a request event carries the whole request).
    Event(Box<SpaceEvent>),
    /// A joiner's presentation is needed: sign one (off the loop) for these credentials,
    /// bound to the space and this challenge, and answer with [`Input::Presented`].
    Present {
        /// The join's caller.
        token: Token,
        /// The hosted timite joining.
        who: Did,
        /// The space.
        space: SpaceId,
        /// The challenge (one of the space's heads).
        challenge: String,
        /// Credential ids to present.
        credentials: Vec<String>,
    },
    /// A space recorded the issuance of a credential (locally or from a peer): if its subject
    /// is hosted here, the node verifies the credential the record carries and keeps it
    /// (docs/passports.md, "Delivery to the subject").
    CredentialRecorded {
        /// The space.
        space: SpaceId,
        /// The credential id.
        id: String,
    },
    /// A local write is done (durable) or failed.
    Done {
        /// Who waits.
        token: Token,
        /// The answer.
        result: Result<Answer, NodeError>,
    },
}

/// A caller waiting for a join to complete.
#[derive(Debug)]
struct JoinWaiter {
    token: Token,
    who: Did,
    present: Vec<String>,
}

/// What to do when a flush completes.
#[derive(Debug, Default)]
struct AfterFlush {
    publish: Vec<(SpaceId, Envelope)>,
    /// The peer the changes came from (a private space's changes are not pushed back).
    from: Option<PeerId>,
    answers: Vec<(Token, Answer)>,
}

/// The node's engine over a store `S`.
pub struct Engine<S> {
    /// This node's libp2p identity (the accesses it shows are bound to it).
    me: PeerId,
    store: S,
    verifier: Option<Arc<dyn AdmissionVerifier>>,
    metrics: NodeMetrics,
    /// The hosted timites' writers in this session.
    writers: HashMap<Did, Writer>,
    spaces: HashMap<SpaceId, Space>,
    /// One Automerge sync state per peer and space, kept while the peer is connected.
    sync_states: HashMap<(PeerId, SpaceId), SyncState>,
    /// Outbound sync sessions under way, with their round count.
    sessions: HashMap<(PeerId, SpaceId), u32>,
    requests: HashMap<RequestId, (PeerId, SpaceId)>,
    next_request: RequestId,
    /// Callers waiting for a join to complete.
    joins: HashMap<SpaceId, Vec<JoinWaiter>>,
    connected: HashSet<PeerId>,
    /// Spaces each peer is known to host (from its subscriptions and syncs).
    hosts: HashMap<PeerId, HashSet<SpaceId>>,
    /// Peers subscribed to each space's topic.
    subscribers: HashMap<SpaceId, HashSet<PeerId>>,
    /// For private spaces: the timite whose access each peer showed last, checked again
    /// before anything is pushed to the peer (`docs/privacy.md`).
    vouchers: HashMap<(PeerId, SpaceId), Did>,
    /// Sync requests that push a private space's new changes (their answers end there).
    pushes: HashSet<RequestId>,
    /// Spaces where a rating of a request was applied since the node last looked: where a
    /// badge may have come due (docs/abilities.md §13).
    pub(crate) rated: BTreeSet<SpaceId>,
    /// The time of the input being handled.
    now: u64,
    /// Invalid things each peer served by sync (gossip has its own peer scoring). Kept in the
    /// store with the bans (`SpaceStore::put_penalty`), so a restart forgives no one.
    strikes: HashMap<PeerId, u32>,
    /// Peers refused until the given time (milliseconds): struck out by sync, or graylisted
    /// by gossipsub's score.
    banned: HashMap<PeerId, u64>,
    /// Spaces loaded at start and not synced with any peer since: possibly behind.
    stale: HashSet<SpaceId>,
    /// Gossip messages whose change waits for dependencies, by change hash.
    held: HashMap<ChangeHash, (MessageId, PeerId, u64)>,
    /// Ephemeral spaces deleted when they expired since the start, the latest last.
    expired: std::collections::VecDeque<SpaceId>,
    since_snapshot: HashMap<SpaceId, usize>,
    flushes: HashMap<FlushId, AfterFlush>,
    next_flush: FlushId,
    /// Hosted timites' encryption keys, opened from the store.
    e2ee_keys: HashMap<Did, crate::e2ee::Keys>,
    /// Hosted members' encryption states of encrypted spaces, opened from the store.
    e2ee: HashMap<(SpaceId, Did), crate::e2ee::MemberState>,
    /// Encrypted spaces whose changes the encryption duties have not looked at yet.
    e2ee_dirty: BTreeSet<SpaceId>,
    /// Spaces whose chains may have a step due for a hosted author (engine/chains.rs).
    chains_dirty: BTreeSet<SpaceId>,
    /// Spaces whose proposals a change may have decided (engine/proposals.rs).
    proposals_dirty: BTreeSet<SpaceId>,
    /// Proposals a remote vote decided at its own heads: its voter's node closes them; this
    /// node closes one still open at the time given (engine/proposals.rs).
    proposals_left: BTreeMap<(SpaceId, String), u64>,
    /// Members a hosted timite removed or banned from an encrypted space, whose rotation
    /// falls to it (engine/e2ee.rs).
    e2ee_removals: HashMap<(SpaceId, Did), BTreeSet<Did>>,
    /// The key agreement's random source (engine/e2ee.rs).
    lib_rng: crate::e2ee::Rng,
    /// Whether anyone follows live events (building some of them reads the space).
    pub(crate) listening: bool,
    out: Vec<Output>,
}

impl<S> std::fmt::Debug for Engine<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("spaces", &self.spaces.len())
            .field("connected", &self.connected.len())
            .field("sessions", &self.sessions.len())
            .finish_non_exhaustive()
    }
}

/// A writer for a hosted timite in a new session: a fresh random actor id, so that nothing
/// this node signed before a crash can share an actor and sequence number with what it signs
/// now (tim_crdt's `writer` module).
pub fn new_writer(key: &ed25519_dalek::SigningKey, rng: &mut impl RngCore) -> Writer {
    let mut session = [0u8; tim_crdt::SESSION_BYTES];
    rng.fill_bytes(&mut session);
    Writer::new(key.clone(), session)
}

impl<S: SpaceStore> Engine<S> {
    /// An engine over `store`, writing as `writers`, checking join presentations with
    /// `verifier`. Spaces in the store are loaded ([`Engine::load`]) before anything else.
    pub(crate) fn new(
        me: PeerId,
        store: S,
        writers: impl IntoIterator<Item = Writer>,
        verifier: Option<Arc<dyn AdmissionVerifier>>,
        metrics: NodeMetrics,
    ) -> Self {
        Self {
            me,
            store,
            verifier,
            metrics,
            writers: writers.into_iter().map(|w| (w.did(), w)).collect(),
            spaces: HashMap::new(),
            sync_states: HashMap::new(),
            sessions: HashMap::new(),
            requests: HashMap::new(),
            next_request: 0,
            joins: HashMap::new(),
            connected: HashSet::new(),
            hosts: HashMap::new(),
            subscribers: HashMap::new(),
            vouchers: HashMap::new(),
            pushes: HashSet::new(),
            rated: BTreeSet::new(),
            now: 0,
            strikes: HashMap::new(),
            banned: HashMap::new(),
            stale: HashSet::new(),
            held: HashMap::new(),
            expired: Default::default(),
            since_snapshot: HashMap::new(),
            flushes: HashMap::new(),
            next_flush: 0,
            e2ee_keys: HashMap::new(),
            e2ee: HashMap::new(),
            e2ee_dirty: BTreeSet::new(),
            chains_dirty: BTreeSet::new(),
            proposals_dirty: BTreeSet::new(),
            proposals_left: BTreeMap::new(),
            e2ee_removals: HashMap::new(),
            lib_rng: crate::e2ee::Rng::default(),
            listening: false,
            out: Vec::new(),
        }
    }

    /// Loads every space of the store (a node always starts from its own store: changes
    /// missing a dependency wait for sync, refused ones are deleted) and returns the outputs
    /// that host them.
    pub fn load(&mut self) -> Result<Vec<Output>, NodeError> {
        self.load_penalties()?;
        for id in self.store.spaces()? {
            let space = self.restore(id)?;
            if !space.is_ready() {
                // A join cut short (the node stopped before the history came): nobody waits
                // for it any more, so no phantom space is hosted.
                info!(space = %id, "a join that never completed: dropped");
                self.store.remove_space(&id)?;
                continue;
            }
            for peer in self.store.private_hosts(&id)? {
                if let Ok(peer) = PeerId::from_bytes(&peer) {
                    self.hosts.entry(peer).or_default().insert(id);
                }
            }
            self.stale.insert(id);
            self.host(space);
            // Duties a crash may have cut short are done at the first input.
            self.e2ee_touch(id, &[]);
            self.chains_touch(id, &[]);
        }
        Ok(std::mem::take(&mut self.out))
    }

    /// Rebuilds a space from the store: its snapshot and changes. Changes that wait for a
    /// dependency are kept (sync brings it); changes refused are deleted from the store.
    fn restore(&mut self, id: SpaceId) -> Result<Space, NodeError> {
        let t = std::time::Instant::now();
        let snapshot = self.store.snapshot(&id)?;
        let envelopes = self.store.envelopes(&id)?;
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
            let refused: Vec<ChangeHash> = restored.refused.iter().map(|(h, _)| *h).collect();
            self.store.remove_envelopes(&id, &refused)?;
        }
        info!(
            space = %id,
            changes = count,
            total_ms = t.elapsed().as_millis() as u64,
            "restored space from disk"
        );
        Ok(restored.space)
    }

    /// Handles one input at time `now` (milliseconds since the Unix epoch, virtual in the
    /// simulator) and returns what to do.
    pub fn handle(&mut self, input: Input, now: u64, rng: &mut impl RngCore) -> Vec<Output> {
        self.now = now;
        match input {
            Input::Connected { peer, first } => self.on_connected(peer, first, now),
            Input::Disconnected(peer) => {
                self.connected.remove(&peer);
                self.sync_states.retain(|(p, _), _| *p != peer);
                self.sessions.retain(|(p, _), _| *p != peer);
                for s in self.subscribers.values_mut() {
                    s.remove(&peer);
                }
                self.vouchers.retain(|(p, _), _| *p != peer);
            }
            Input::Subscribed(peer, id) => self.on_subscribed(peer, id),
            Input::Unsubscribed(peer, id) => {
                if let Some(h) = self.hosts.get_mut(&peer) {
                    h.remove(&id);
                }
                if let Some(s) = self.subscribers.get_mut(&id) {
                    s.remove(&peer);
                }
            }
            Input::Gossip {
                from,
                id,
                space,
                data,
            } => self.on_gossip(from, id, space, &data, now),
            Input::SyncRequest { from, channel, msg } => {
                self.on_sync_request(from, channel, msg, now)
            }
            Input::SyncResponse { request, response } => {
                self.on_sync_response(request, response, now)
            }
            Input::SyncFailed(request) => {
                self.pushes.remove(&request);
                if let Some((peer, id)) = self.requests.remove(&request) {
                    debug!(%peer, space = %id, "sync request failed");
                    self.sessions.remove(&(peer, id));
                }
            }
            Input::Flushed { flush, result } => self.on_flushed(flush, result),
            Input::AntiEntropy => self.anti_entropy(rng),
            Input::Expiry => self.expire(now),
            Input::Graylisted(peer) => {
                if !self.banned(&peer, now) {
                    self.ban(peer, "graylisted by the gossipsub peer score", now);
                }
            }
            Input::Write { token, who, write } => self.on_write(token, who, write, now, rng),
            Input::Presented {
                token,
                who,
                space,
                presentation,
            } => match presentation {
                Ok(p) => self.join_as(token, who, space, Some(p), now),
                Err(e) => self.done(token, Err(e)),
            },
            Input::AddWriter(w) => {
                self.writers.insert(w.did(), w);
            }
            Input::SyncRaw { to, msg } => {
                // Not tracked as a session: the answer is dropped.
                let request = self.request_id();
                self.out.push(Output::SendSync { to, request, msg });
            }
        }
        self.e2ee_duties(rng);
        self.chain_duties();
        self.proposal_duties();
        std::mem::take(&mut self.out)
    }

    /// A hosted space, for reading.
    pub fn space(&self, id: &SpaceId) -> Option<&Space> {
        self.spaces.get(id)
    }

    /// Every hosted space.
    pub fn spaces(&self) -> impl Iterator<Item = &Space> {
        self.spaces.values()
    }

    /// A hosted space whose history has arrived.
    pub fn ready_space(&self, id: SpaceId) -> Result<&Space, NodeError> {
        let space = self.spaces.get(&id).ok_or_else(|| self.unknown(id))?;
        if space.is_ready() {
            Ok(space)
        } else {
            Err(NodeError::NotReady(id))
        }
    }

    /// A hosted space whose history has arrived, if `who` may read it (`Space::may_read`).
    /// A private space `who` may not read is [`NodeError::UnknownSpace`], as is one still
    /// syncing that `who` is not joining: its existence does not leak.
    pub fn readable_space(&self, who: &Did, id: SpaceId) -> Result<&Space, NodeError> {
        match self.ready_space(id) {
            Ok(space) if space.may_read(who) => Ok(space),
            Err(NodeError::NotReady(_))
                if self
                    .joins
                    .get(&id)
                    .is_some_and(|w| w.iter().any(|w| w.who == *who)) =>
            {
                Err(NodeError::NotReady(id))
            }
            Ok(_) | Err(NodeError::NotReady(_)) => Err(NodeError::UnknownSpace(id)),
            Err(e) => Err(e),
        }
    }

    /// The summary of a space `who` may read ([`Engine::readable_space`]).
    pub fn summary_for(&mut self, who: &Did, id: SpaceId) -> Result<SpaceSummary, NodeError> {
        let mut summary = self
            .readable_space(who, id)
            .and_then(|_| self.summary(id))?;
        if summary.encrypted && self.spaces[&id].is_member(who) {
            summary.keys_pending = !self.keys_ready(who, id);
            summary.rotation_pending = self.rotation_pending(who, id);
        }
        Ok(summary)
    }

    /// [`Engine::readable_space`], for a write as `who`.
    fn readable_space_mut(&mut self, who: &Did, id: SpaceId) -> Result<&mut Space, NodeError> {
        self.readable_space(who, id)?;
        self.ready_space_mut(id)
    }

    fn ready_space_mut(&mut self, id: SpaceId) -> Result<&mut Space, NodeError> {
        if !self.spaces.contains_key(&id) {
            return Err(self.unknown(id));
        }
        let space = self.spaces.get_mut(&id).expect("checked above");
        if space.is_ready() {
            Ok(space)
        } else {
            Err(NodeError::NotReady(id))
        }
    }

    /// A space's summary.
    pub fn summary(&self, id: SpaceId) -> Result<SpaceSummary, NodeError> {
        let space = self.spaces.get(&id).ok_or_else(|| self.unknown(id))?;
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
            encrypted: space.encryption().is_some(),
            dm: space.encryption().is_some_and(|e| e.dm),
            keys_pending: false,
            rotation_pending: false,
            schema_version: space.schema_version(),
            profile: space.profile(),
            // The reader's own, from its node's store (crate::notifications).
            unread: 0,
            unread_mentions: 0,
        })
    }

    /// Why a space is not here: it expired (if remembered), or was never hosted.
    fn unknown(&self, id: SpaceId) -> NodeError {
        if self.expired.contains(&id) {
            NodeError::Expired(id)
        } else {
            NodeError::UnknownSpace(id)
        }
    }

    /// Stores the snapshot of every space (at shutdown).
    pub fn snapshot_all(&mut self) {
        let ids: Vec<SpaceId> = self.spaces.keys().copied().collect();
        for id in ids {
            self.snapshot(id);
        }
    }

    /// The store (the node reads its other trees through it).
    pub fn store(&self) -> &S {
        &self.store
    }

    fn request_id(&mut self) -> RequestId {
        self.next_request += 1;
        self.next_request
    }

    fn done(&mut self, token: Token, result: Result<Answer, NodeError>) {
        self.out.push(Output::Done { token, result });
    }

    fn writer(&self, who: &Did) -> Result<Writer, NodeError> {
        self.writers.get(who).cloned().ok_or_else(|| {
            NodeError::Forbidden(format!("{who} is not a timite hosted on this node"))
        })
    }

    /// Starts hosting a space.
    fn host(&mut self, mut space: Space) {
        if let Some(v) = &self.verifier {
            space.set_verifier(v.clone());
        }
        let id = space.id();
        // A private space (or one whose history has not arrived) gets no gossipsub topic and
        // no provider record: its changes go by sync to peers that show an access.
        if !space.is_private() {
            self.out.push(Output::Host(id));
        }
        self.spaces.insert(id, space);
    }

    fn on_connected(&mut self, peer: PeerId, first: bool, now: u64) {
        if self.is_banned(&peer, now) {
            self.out.push(Output::Ban(peer));
            return;
        }
        self.connected.insert(peer);
        let mut to_sync: Vec<SpaceId> = self.joins.keys().copied().collect();
        if first {
            to_sync.extend(self.hosts.get(&peer).into_iter().flatten().copied());
        }
        // Outputs come in a fixed order, so that a seeded simulation replays exactly.
        to_sync.sort();
        to_sync.dedup();
        for id in to_sync {
            self.start_sync(peer, id);
        }
    }

    fn on_subscribed(&mut self, peer: PeerId, id: SpaceId) {
        if !self.spaces.contains_key(&id) {
            return;
        }
        self.subscribers.entry(id).or_default().insert(peer);
        // A peer we knew to host it (a reconnection), or our copy may be behind (loaded at
        // start, not synced since): catch up now. A new joiner starts its own sync; starting
        // one towards it too would send it everything twice.
        let known = !self.hosts.entry(peer).or_default().insert(id);
        if known || self.stale.contains(&id) {
            self.start_sync(peer, id);
        }
    }

    fn is_banned(&mut self, peer: &PeerId, now: u64) -> bool {
        match self.banned.get(peer) {
            Some(until) if *until > now => true,
            Some(_) => {
                self.unban(*peer);
                false
            }
            None => false,
        }
    }

    /// Strikes and bans recorded before a restart (bans run out as they would have).
    fn load_penalties(&mut self) -> Result<(), NodeError> {
        for (bytes, penalty) in self.store.penalties()? {
            let Ok(peer) = PeerId::from_bytes(&bytes) else {
                warn!("a stored peer penalty names no valid peer; forgotten");
                self.store.put_penalty(&bytes, None)?;
                continue;
            };
            if penalty.strikes > 0 {
                self.strikes.insert(peer, penalty.strikes);
            }
            if penalty.banned_until > 0 {
                self.banned.insert(peer, penalty.banned_until);
            }
        }
        Ok(())
    }

    /// Records a peer's strikes and ban in the store, so a restart does not forgive it.
    fn save_penalty(&self, peer: PeerId) {
        let strikes = self.strikes.get(&peer).copied().unwrap_or(0);
        let banned_until = self.banned.get(&peer).copied().unwrap_or(0);
        let penalty = (strikes > 0 || banned_until > 0).then_some(Penalty {
            strikes,
            banned_until,
        });
        if let Err(e) = self.store.put_penalty(&peer.to_bytes(), penalty) {
            warn!(%peer, "cannot record the peer's strikes or ban: {e}");
        }
    }

    /// Counts something invalid a peer served by sync; at [`MAX_STRIKES`] the peer is
    /// refused for [`PEER_BAN_MS`]. Honest nodes never serve a change the rules refuse (they
    /// judged it themselves before keeping it).
    fn strike(&mut self, peer: PeerId, why: &str, now: u64) {
        let n = self.strikes.entry(peer).or_default();
        *n += 1;
        if *n >= MAX_STRIKES {
            self.ban(
                peer,
                &format!("it served invalid data by sync ({why})"),
                now,
            );
        } else {
            self.save_penalty(peer);
        }
    }

    /// Refuses a peer for [`PEER_BAN_MS`] (its strikes start again after).
    fn ban(&mut self, peer: PeerId, why: &str, now: u64) {
        warn!(%peer, "peer banned for {} s: {why}", PEER_BAN_MS / 1000);
        self.strikes.remove(&peer);
        self.banned.insert(peer, now + PEER_BAN_MS);
        self.connected.remove(&peer);
        self.save_penalty(peer);
        self.out.push(Output::Ban(peer));
    }

    /// Ends a peer's ban.
    fn unban(&mut self, peer: PeerId) {
        self.banned.remove(&peer);
        self.save_penalty(peer);
        self.out.push(Output::Unban(peer));
    }

    // ---- local writes ----

    fn on_write(&mut self, token: Token, who: Did, write: Write, now: u64, rng: &mut impl RngCore) {
        let span = info_span!("write", timite = %who);
        let _enter = span.enter();
        let me = match self.writer(&who) {
            Ok(w) => w,
            Err(e) => return self.done(token, Err(e)),
        };
        match write {
            Write::Create {
                name,
                purpose,
                visibility,
                expires_at,
                encryption,
            } => {
                let created = match encryption {
                    Some(e) if visibility == Visibility::InviteOnly => {
                        Space::create_encrypted(&me, &name, &purpose, e, now)
                    }
                    Some(_) => Err(tim_crdt::SpaceError::Invalid(
                        "only an invite-only space is end-to-end encrypted".into(),
                    )),
                    None => Space::create_with(&me, &name, &purpose, visibility, expires_at, now),
                }
                .map_err(NodeError::from);
                let (space, genesis) = match created {
                    Ok(c) => c,
                    Err(e) => return self.done(token, Err(e)),
                };
                let id = space.id();
                if let Err(e) = self.store.add_space(&id) {
                    return self.done(token, Err(e.into()));
                }
                self.host(space);
                info!(space = %id, name, "space created");
                match self.summary(id) {
                    Ok(s) => self.commit(id, vec![genesis], token, Answer::Space(Box::new(s))),
                    Err(e) => self.done(token, Err(e)),
                }
            }
            Write::Post { space, text } => {
                let encrypted = self
                    .readable_space(&who, space)
                    .map(|s| s.encryption().is_some());
                let r = match encrypted {
                    Ok(true) => self
                        .e2ee_encrypt(space, who, &text, now, rng)
                        .and_then(|ct| self.readable_space_mut(&who, space).map(|s| (s, ct)))
                        .and_then(|(s, ct)| {
                            s.post_encrypted(&me, &ct, now).map_err(NodeError::from)
                        }),
                    Ok(false) => self
                        .readable_space_mut(&who, space)
                        .and_then(|s| s.post(&me, &text, now).map_err(NodeError::from)),
                    Err(e) => Err(e),
                };
                self.posted(space, r, token, now);
            }
            Write::Reply {
                space,
                parent,
                text,
            } => {
                let r = self
                    .readable_space_mut(&who, space)
                    .and_then(|s| s.reply(&me, &parent, &text, now).map_err(NodeError::from));
                self.posted(space, r, token, now);
            }
            Write::PostMentioning {
                space,
                text,
                reply_to,
                mentions,
                attachment,
            } => {
                let r = self.readable_space_mut(&who, space).and_then(|s| {
                    s.post_mentioning(
                        &me,
                        &text,
                        reply_to.as_deref(),
                        &mentions,
                        attachment.as_ref(),
                        now,
                    )
                    .map_err(NodeError::from)
                });
                self.posted(space, r, token, now);
            }
            Write::Moderate { space, act } => {
                let r = self
                    .readable_space_mut(&who, space)
                    .and_then(|s| moderate(s, &me, act, now).map_err(NodeError::from));
                match r {
                    Ok(applied) => {
                        let hash = applied.hash;
                        self.commit(space, vec![applied], token, Answer::Change(hash));
                    }
                    Err(e) => self.done(token, Err(e)),
                }
            }
            Write::RecordIssued {
                space,
                id,
                subject,
                kind,
                ability,
                credential,
            } => {
                let r = self.readable_space_mut(&who, space).and_then(|s| {
                    let issued = Issuance {
                        ability: ability.as_deref(),
                        credential: credential.as_deref(),
                        ..Issuance::new(&id, &subject, kind)
                    };
                    s.record_issued(&me, &issued, now).map_err(NodeError::from)
                });
                match r {
                    Ok((applied, index)) => {
                        let change = applied.hash;
                        self.commit(
                            space,
                            vec![applied],
                            token,
                            Answer::Issued { change, index },
                        );
                    }
                    Err(e) => self.done(token, Err(e)),
                }
            }
            Write::Revoke { space, index } => {
                let r = self
                    .readable_space_mut(&who, space)
                    .and_then(|s| s.revoke(&me, index, now).map_err(NodeError::from));
                match r {
                    Ok(applied) => {
                        info!(%space, index, "credential revoked");
                        let hash = applied.hash;
                        self.commit(space, vec![applied], token, Answer::Change(hash));
                    }
                    Err(e) => self.done(token, Err(e)),
                }
            }
            Write::Ability { space, act } => {
                let r = self.readable_space_mut(&who, space).map_err(Failed::from);
                match r.and_then(|s| abilities::perform(s, &me, act, now)) {
                    Ok(Performed {
                        first,
                        applied,
                        request,
                    }) => {
                        let change = applied.hash;
                        let applied = first.into_iter().chain([applied]).collect();
                        self.commit(space, applied, token, Answer::Ability { change, request });
                    }
                    Err(Failed { error, undo }) => {
                        // The change it made first is not on disk: take it back.
                        if undo {
                            self.reload(space);
                        }
                        self.done(token, Err(error));
                    }
                }
            }
            Write::PostNotice { space, list } => {
                let r = self
                    .readable_space_mut(&who, space)
                    .map(|s| post_notice(s, &me, &list, now));
                match r {
                    Ok((applied, Ok(hash))) => {
                        self.commit(space, applied, token, Answer::Change(hash));
                    }
                    Ok((migrated, Err(e))) => {
                        // A migration made for a refused notice is not kept either.
                        if !migrated.is_empty() {
                            self.reload(space);
                        }
                        self.done(token, Err(e.into()));
                    }
                    Err(e) => self.done(token, Err(e)),
                }
            }
            Write::Join { space, present } => self.join(token, who, space, present, now),
            Write::CancelJoin { space } => self.cancel_join(token, who, space),
            Write::Leave { space } => self.leave(token, who, space),
            Write::Import { space, checked } => self.import(token, space, checked),
        }
    }

    /// Stores changes that a space applied and announces them to event streams. If the store
    /// fails, the write fails: the space is reloaded from the store, so that the document is
    /// never ahead of the disk, and nothing is published.
    fn absorb(&mut self, id: SpaceId, applied: &[Applied]) -> Result<(), NodeError> {
        if applied.is_empty() {
            return Ok(());
        }
        let stored = self
            .store
            .put_envelopes(&mut applied.iter().map(|a| (&a.hash, &a.envelope)));
        if let Err(e) = stored {
            warn!(space = %id, changes = applied.len(), "cannot store changes: {e}; the space is reloaded from the store");
            self.reload(id);
            return Err(e.into());
        }
        self.metrics.changes_stored.inc_by(applied.len() as u64);
        self.e2ee_touch(id, applied);
        self.chains_touch(id, applied);
        self.proposals_touch(id, applied);
        for a in applied {
            self.emit(id, a);
        }
        let count = self.since_snapshot.entry(id).or_default();
        *count += applied.len();
        if *count >= SNAPSHOT_EVERY {
            self.snapshot(id);
        }
        Ok(())
    }

    /// Rebuilds a space from the store after a failed write (what the store holds is what
    /// the node has).
    fn reload(&mut self, id: SpaceId) {
        match self.restore(id) {
            Ok(mut space) => {
                if let Some(v) = &self.verifier {
                    space.set_verifier(v.clone());
                }
                self.spaces.insert(id, space);
            }
            Err(e) => warn!(space = %id, "cannot reload the space from the store: {e}"),
        }
    }

    /// Stores local changes; once they are on disk, publishes them (nothing leaves the node
    /// before it is durable) and answers `token`.
    /// Commits a post (or reply) made at `now`, answering with where it went.
    fn posted(
        &mut self,
        space: SpaceId,
        r: Result<(Applied, String), NodeError>,
        token: Token,
        now: u64,
    ) {
        match r {
            Ok((applied, id)) => {
                let posted = Posted {
                    id,
                    change: applied.hash,
                    at: now,
                };
                self.commit(space, vec![applied], token, Answer::Posted(posted));
            }
            Err(e) => self.done(token, Err(e)),
        }
    }

    fn commit(&mut self, id: SpaceId, applied: Vec<Applied>, token: Token, answer: Answer) {
        if let Err(e) = self.absorb(id, &applied) {
            return self.done(token, Err(e));
        }
        let publish = applied.into_iter().map(|a| (id, a.envelope)).collect();
        self.after_flush(AfterFlush {
            publish,
            from: None,
            answers: vec![(token, answer)],
        });
    }

    /// Asks for a flush and what to do once it completes.
    fn after_flush(&mut self, then: AfterFlush) {
        self.next_flush += 1;
        self.flushes.insert(self.next_flush, then);
        self.out.push(Output::Flush(self.next_flush));
    }

    fn on_flushed(&mut self, flush: FlushId, result: Result<(), String>) {
        let Some(then) = self.flushes.remove(&flush) else {
            return;
        };
        match result {
            Ok(()) => {
                for (space, env) in then.publish {
                    match self.spaces.get(&space).map(Space::is_private) {
                        Some(false) => self.out.push(Output::Publish {
                            space,
                            data: env.encode(),
                        }),
                        Some(true) => self.push(space, env, then.from),
                        None => {}
                    }
                }
                for (token, answer) in then.answers {
                    self.done(token, Ok(answer));
                }
            }
            Err(e) => {
                warn!("flush failed: {e}; the changes are not published");
                for (token, _) in then.answers {
                    self.done(
                        token,
                        Err(NodeError::Storage(format!("flushing to disk failed: {e}"))),
                    );
                }
            }
        }
    }

    fn emit(&mut self, id: SpaceId, applied: &Applied) {
        for effect in &applied.effects {
            if let Effect::RequestStep {
                step: tim_crdt::abilities::Step::Rate,
                ..
            } = effect
            {
                self.rated.insert(id);
            }
            let Some(space) = self.spaces.get(&id) else {
                return;
            };
            let event = match effect {
                Effect::Message { id: msg } if self.listening => {
                    let Some(mut message) = space.message(msg) else {
                        continue;
                    };
                    if message.encrypted {
                        self.reveal_for_event(id, &mut message);
                    }
                    Some(SpaceEvent::Message { space: id, message })
                }
                Effect::Joined { did } => {
                    info!(space = %id, member = %did, "member joined");
                    // A member's view counts its messages: a scan of the timeline.
                    self.listening
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
                Effect::ProfileSet { did } => Some(SpaceEvent::Profile {
                    space: id,
                    did: *did,
                    name: space.member_name(did),
                }),
                Effect::MessageEdited { id: msg } | Effect::Reacted { id: msg }
                    if self.listening =>
                {
                    let Some(mut message) = space.message(msg) else {
                        continue;
                    };
                    if message.encrypted {
                        self.reveal_for_event(id, &mut message);
                    }
                    Some(match effect {
                        Effect::Reacted { .. } => SpaceEvent::Reacted { space: id, message },
                        _ => SpaceEvent::MessageEdited { space: id, message },
                    })
                }
                // Request events go out even with nobody listening: the actor prefetches the
                // payloads they name (docs/abilities.md §14).
                Effect::Requested { id: request } => {
                    abilities::request_event(id, space, request, None)
                }
                Effect::RequestStep { id: request, step } => {
                    abilities::request_event(id, space, request, Some(*step))
                }
                Effect::CredentialIssued { id: credential } => {
                    self.out.push(Output::CredentialRecorded {
                        space: id,
                        id: credential.clone(),
                    });
                    None
                }
                _ => None,
            };
            if let Some(e) = event {
                self.out.push(Output::Event(Box::new(e)));
            }
            let chain = self.listening.then(|| self.spaces.get(&id)).flatten();
            if let Some(e) = chain.and_then(|s| crate::proposals::proposal_event(id, s, effect)) {
                self.out.push(Output::Event(Box::new(e)));
            }
            if let Some(e) = chain.and_then(|s| crate::chains::chain_event(id, s, effect)) {
                self.out.push(Output::Event(Box::new(e)));
            }
        }
    }

    // ---- joins and imports ----

    fn join(&mut self, token: Token, who: Did, id: SpaceId, present: Vec<String>, now: u64) {
        if self.expired.contains(&id) {
            return self.done(token, Err(NodeError::Expired(id)));
        }
        if let Some(space) = self.spaces.get(&id) {
            if space.is_ready() && space.is_member(&who) {
                let r = self.joined(&who, id);
                return self.done(token, r);
            }
        } else {
            if let Err(e) = self.store.add_space(&id) {
                return self.done(token, Err(e.into()));
            }
            self.host(Space::empty(id));
        }
        info!(space = %id, "joining space");
        self.joins.entry(id).or_default().push(JoinWaiter {
            token,
            who,
            present,
        });
        self.out.push(Output::FindHosts(id));
        let mut connected: Vec<PeerId> = self.connected.iter().copied().collect();
        connected.sort();
        for peer in connected {
            self.start_sync(peer, id);
        }
        // A space whose history is already here (an import) completes at once.
        self.maybe_complete_join(id, now);
    }

    /// Fails the pending joins of space `id` by `who` (its caller stopped waiting, or left).
    fn give_up_joins(&mut self, who: Did, id: SpaceId) {
        if let Some(waiters) = self.joins.remove(&id) {
            let (gone, kept): (Vec<_>, Vec<_>) = waiters.into_iter().partition(|w| w.who == who);
            for w in gone {
                let e = NodeError::Timeout(format!("the join of space {id} was given up"));
                self.done(w.token, Err(e));
            }
            if !kept.is_empty() {
                self.joins.insert(id, kept);
            }
        }
    }

    fn leave(&mut self, token: Token, who: Did, id: SpaceId) {
        if !self.spaces.contains_key(&id) {
            return self.done(token, Err(self.unknown(id)));
        }
        self.give_up_joins(who, id);
        let space = &self.spaces[&id];
        let unused = !self.joins.contains_key(&id)
            && (!space.is_ready() || !self.writers.keys().any(|w| space.is_member(w)));
        if !unused {
            return self.done(token, Ok(Answer::Left { dropped: false }));
        }
        info!(space = %id, "left; no hosted timite is a member: dropped");
        match self.drop_space(id) {
            Ok(_) => self.after_flush(AfterFlush {
                publish: vec![],
                from: None,
                answers: vec![(token, Answer::Left { dropped: true })],
            }),
            Err(e) => self.done(token, Err(e)),
        }
    }

    fn cancel_join(&mut self, token: Token, who: Did, id: SpaceId) {
        self.give_up_joins(who, id);
        let phantom =
            self.spaces.get(&id).is_some_and(|s| !s.is_ready()) && !self.joins.contains_key(&id);
        if !phantom {
            return self.done(token, Ok(Answer::JoinCancelled { dropped: false }));
        }
        info!(space = %id, "join given up; the space's history never arrived: dropped");
        match self.drop_space(id) {
            // Answered once the drop is on disk.
            Ok(_) => self.after_flush(AfterFlush {
                publish: vec![],
                from: None,
                answers: vec![(token, Answer::JoinCancelled { dropped: true })],
            }),
            Err(e) => self.done(token, Err(e)),
        }
    }

    fn maybe_complete_join(&mut self, id: SpaceId, now: u64) {
        if !self.joins.contains_key(&id) || !self.spaces.get(&id).is_some_and(Space::is_ready) {
            return;
        }
        if !self.spaces[&id].is_private() {
            self.out.push(Output::Host(id));
        }
        for JoinWaiter {
            token,
            who,
            present,
        } in self.joins.remove(&id).unwrap_or_default()
        {
            if self.spaces[&id].is_member(&who) {
                let r = self.joined(&who, id);
                self.done(token, r);
            } else if present.is_empty() {
                self.join_as(token, who, id, None, now);
            } else {
                let challenge = self.spaces[&id].challenge();
                self.out.push(Output::Present {
                    token,
                    who,
                    space: id,
                    challenge,
                    credentials: present,
                });
            }
        }
    }

    /// The answer to `who` joining a ready space it already has an entry in: the space, unless
    /// the entry is a ban (which a join does not lift).
    fn joined(&self, who: &Did, id: SpaceId) -> Result<Answer, NodeError> {
        if self.spaces[&id].role_of(who) == Some(tim_crdt::Role::Banned) {
            return Err(NodeError::Forbidden(format!(
                "{who} is banned from space {id}; it may join again only once an admin gives it another role"
            )));
        }
        self.summary(id).map(|s| Answer::Space(Box::new(s)))
    }

    /// Adds `who` to a ready space, with a presentation if it carries one.
    fn join_as(
        &mut self,
        token: Token,
        who: Did,
        id: SpaceId,
        presentation: Option<String>,
        now: u64,
    ) {
        let me = match self.writer(&who) {
            Ok(w) => w,
            Err(e) => return self.done(token, Err(e)),
        };
        let r = self.ready_space_mut(id).and_then(|s| {
            s.join_presenting(&me, presentation.as_deref(), now)
                .map_err(NodeError::from)
        });
        match r {
            Ok(applied) => {
                info!(space = %id, timite = %who, "joined space");
                // The summary counts the new member once the change is kept.
                if let Err(e) = self.absorb(id, std::slice::from_ref(&applied)) {
                    return self.done(token, Err(e));
                }
                match self.summary(id) {
                    Ok(s) => self.after_flush(AfterFlush {
                        publish: vec![(id, applied.envelope)],
                        from: None,
                        answers: vec![(token, Answer::Space(Box::new(s)))],
                    }),
                    Err(e) => self.done(token, Err(e)),
                }
            }
            Err(e) => {
                self.done(token, Err(e));
                // Refused (e.g. not invited): do not keep a space no hosted timite could join.
                let space = &self.spaces[&id];
                let waiting = self.joins.contains_key(&id);
                if !waiting && !self.writers.keys().any(|t| space.is_member(t)) {
                    if let Err(d) = self.drop_space(id) {
                        warn!(space = %id, "cannot drop the space after a refused join: {d}");
                    }
                }
            }
        }
    }

    /// Imports a file's changes all or nothing: they are first tried on a copy of the space,
    /// and nothing is stored unless every one passes every check.
    fn import(&mut self, token: Token, id: SpaceId, checked: Vec<tim_crdt::Checked>) {
        let trial = match self.spaces.get(&id) {
            Some(space) => space.try_copy(),
            None => Ok(Space::empty(id)),
        };
        let mut trial = match trial {
            Ok(t) => t,
            Err(e) => return self.done(token, Err(e.into())),
        };
        if let Some(v) = &self.verifier {
            trial.set_verifier(v.clone());
        }
        let started = std::time::Instant::now();
        let tried = trial.ingest_checked(checked);
        if let Some((author, r)) = tried.rejected.into_iter().next() {
            warn!(space = %id, %author, reason = r.code(), "import refused: {r}");
            return self.done(
                token,
                Err(NodeError::Refused(format!(
                    "a change of the file (by {author}) is refused: {r}; nothing was imported"
                ))),
            );
        }
        if trial.pending_count() > 0 || !trial.is_ready() {
            return self.done(
                token,
                Err(NodeError::Invalid(format!(
                    "the file is incomplete: {} changes lack their dependencies; nothing was imported",
                    trial.pending_count()
                ))),
            );
        }
        // The trial passed: it becomes the space (no second ingestion).
        if let Some(space) = self.spaces.get_mut(&id) {
            *space = trial;
        } else {
            if let Err(e) = self.store.add_space(&id) {
                return self.done(token, Err(e.into()));
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
        if let Err(e) = self.absorb(id, &applied) {
            return self.done(token, Err(e));
        }
        info!(space = %id, applied = imported.applied, known, apply_ms = started.elapsed().as_millis() as u64, "imported space file");
        let mut hosts: Vec<PeerId> = self
            .hosts
            .iter()
            .filter(|(p, spaces)| spaces.contains(&id) && self.connected.contains(p))
            .map(|(p, _)| *p)
            .collect();
        hosts.sort();
        for peer in hosts {
            self.start_sync(peer, id);
        }
        self.after_flush(AfterFlush {
            publish: vec![],
            from: None,
            answers: vec![(token, Answer::Imported(imported))],
        });
    }

    // ---- gossip ----

    fn on_gossip(&mut self, from: PeerId, msg: MessageId, id: SpaceId, data: &[u8], now: u64) {
        let span = info_span!("gossip", space = %id, peer = %from);
        let _enter = span.enter();
        let verdict = match self.judge_gossip(from, id, data) {
            Some(v) => v,
            None => return,
        };
        match verdict {
            Held::Now(verdict) => self.out.push(Output::Verdict {
                id: msg,
                from,
                verdict,
            }),
            Held::Until(hash) => {
                if self.held.len() < MAX_HELD_VERDICTS {
                    self.held.insert(hash, (msg, from, now));
                } else {
                    self.out.push(Output::Verdict {
                        id: msg,
                        from,
                        verdict: MessageAcceptance::Ignore,
                    });
                }
            }
        }
    }

    fn judge_gossip(&mut self, from: PeerId, id: SpaceId, data: &[u8]) -> Option<Held> {
        let env = match Envelope::decode(data) {
            Ok(env) => env,
            Err(e) => {
                self.metrics.changes_rejected.inc();
                warn!(reason = "malformed_envelope", "change rejected: {e}");
                return Some(Held::Now(MessageAcceptance::Reject));
            }
        };
        let author = env.author;
        let Some(space) = self.spaces.get_mut(&id) else {
            return Some(Held::Now(MessageAcceptance::Ignore));
        };
        Some(match space.ingest(env) {
            Ok(Ingested::Applied {
                mut applied,
                late_rejections,
            }) => {
                for (a, r) in late_rejections {
                    self.metrics.changes_rejected.inc();
                    warn!(author = %a, reason = r.code(), "change rejected: {r}");
                }
                if let Some(first) = applied.first() {
                    debug!(change = %first.hash, %author, "change applied");
                }
                let released = applied.split_off(1.min(applied.len()));
                let hashes: Vec<ChangeHash> = released.iter().map(|a| a.hash).collect();
                let to_publish: Vec<(SpaceId, Envelope)> = released
                    .iter()
                    .filter(|a| !self.held.contains_key(&a.hash))
                    .map(|a| (id, a.envelope.clone()))
                    .collect();
                applied.extend(released);
                if let Err(e) = self.absorb(id, &applied) {
                    warn!("change not kept: {e}");
                    return Some(Held::Now(MessageAcceptance::Ignore));
                }
                // The waiting changes it released: those that came by gossip are accepted now
                // (their verdict was held), so gossipsub forwards them; the others are
                // published once on disk, or peers behind this node would only get them by
                // sync.
                for hash in hashes {
                    if let Some((msg, from, _)) = self.held.remove(&hash) {
                        self.out.push(Output::Verdict {
                            id: msg,
                            from,
                            verdict: MessageAcceptance::Accept,
                        });
                    }
                }
                if !to_publish.is_empty() {
                    self.after_flush(AfterFlush {
                        publish: to_publish,
                        from: Some(from),
                        answers: vec![],
                    });
                }
                Held::Now(MessageAcceptance::Accept)
            }
            Ok(Ingested::Duplicate) => Held::Now(MessageAcceptance::Ignore),
            Ok(Ingested::Pending { hash, missing }) => {
                debug!(change = %hash, missing = missing.len(), "change waits for dependencies; syncing");
                self.start_sync(from, id);
                Held::Until(hash)
            }
            Err(r) => {
                self.metrics.changes_rejected.inc();
                warn!(%author, reason = r.code(), "change rejected: {r}");
                Held::Now(if r.blames_sender() {
                    MessageAcceptance::Reject
                } else {
                    MessageAcceptance::Ignore
                })
            }
        })
    }

    // ---- sync ----

    fn start_sync(&mut self, peer: PeerId, id: SpaceId) {
        if self.sessions.contains_key(&(peer, id)) {
            return;
        }
        let Some(space) = self.spaces.get(&id) else {
            return;
        };
        let msg = if self.entitled(peer, id) {
            let state = self.sync_states.entry((peer, id)).or_default();
            // Nothing new for this peer, but ask anyway: the peer may have news.
            space
                .generate_sync(state)
                .unwrap_or_else(|| SyncMessage::empty(id))
        } else {
            // A private space, and the peer has not shown an access that holds: only this
            // node's access goes out (no heads, no changes); the peer's answer shows its own.
            SyncMessage::empty(id)
        };
        if self.send_sync(peer, id, msg).is_some() {
            self.sessions.insert((peer, id), 1);
        }
    }

    /// Sends a sync request, counted as one round trip, with this node's access if the space
    /// is private; returns its id, or `None` if no hosted timite may sync the space.
    fn send_sync(&mut self, peer: PeerId, id: SpaceId, mut msg: SyncMessage) -> Option<RequestId> {
        if self.private_ready(id) {
            // A current access, else the one the caller gave (a leave's: `push`).
            msg.access = Some(self.access(id).or_else(|| msg.access.take())?);
        } else if let Some(waiter) = self.joins.get(&id).and_then(|w| w.first()) {
            // A joiner's node has no history yet: it shows the joiner's access (an open
            // invite, for a private space; a public space's host ignores it).
            let who = waiter.who;
            msg.access = self.sign_access(&who, id);
        }
        self.metrics.sync_requests.inc();
        let request = self.request_id();
        self.requests.insert(request, (peer, id));
        self.out.push(Output::SendSync {
            to: peer,
            request,
            msg,
        });
        Some(request)
    }

    /// Whether this node may send `peer` what it holds of the space `id`: always for a public
    /// space (or one whose history has not arrived); for a private one, only if the peer
    /// showed an access whose timite may still sync it.
    fn entitled(&self, peer: PeerId, id: SpaceId) -> bool {
        !self.private_ready(id)
            || self.vouchers.get(&(peer, id)).is_some_and(|who| {
                self.spaces
                    .get(&id)
                    .is_some_and(|s| s.may_sync(who, self.now))
            })
    }

    /// Whether `id` is a private space whose history is here.
    fn private_ready(&self, id: SpaceId) -> bool {
        self.spaces
            .get(&id)
            .is_some_and(|s| s.is_ready() && s.is_private())
    }

    /// This node's access to the private space `id`: signed, for this node, by the first
    /// hosted timite (by DID) that may sync it now.
    fn access(&self, id: SpaceId) -> Option<SyncAccess> {
        let space = self.spaces.get(&id)?;
        let mut timites: Vec<&Did> = self
            .writers
            .keys()
            .filter(|t| space.may_sync(t, self.now))
            .collect();
        timites.sort();
        let who = **timites.first()?;
        self.sign_access(&who, id)
    }

    fn sign_access(&self, who: &Did, id: SpaceId) -> Option<SyncAccess> {
        let w = self.writers.get(who)?;
        Some(SyncAccess::sign(w.signing_key(), &id, &self.me.to_bytes()))
    }

    /// Whether `peer` may be served the space `id`: always for a public space (or one whose
    /// history has not arrived: there is nothing to leak); for a private one, only with an
    /// access signed for `peer` by a timite that may sync it now. A peer whose access holds
    /// is recorded as a host (on disk, so that the two sync again after a restart); one whose
    /// access fails is forgotten.
    fn admit(&mut self, peer: PeerId, id: SpaceId, access: Option<&SyncAccess>) -> bool {
        if !self.private_ready(id) {
            return true;
        }
        let space = &self.spaces[&id];
        let voucher = access
            .filter(|a| a.verifies(&id, &peer.to_bytes()) && space.may_sync(&a.timite, self.now))
            .map(|a| a.timite);
        let Some(voucher) = voucher else {
            debug!(%peer, space = %id, "no valid access to a private space; not served");
            self.forget_host(peer, id);
            return false;
        };
        if self.vouchers.insert((peer, id), voucher).is_none() {
            self.hosts.entry(peer).or_default().insert(id);
            if let Err(e) = self.store.put_private_host(&id, &peer.to_bytes()) {
                warn!(%peer, space = %id, "cannot record the private space's host: {e}");
            }
        }
        true
    }

    fn forget_host(&mut self, peer: PeerId, id: SpaceId) {
        self.vouchers.remove(&(peer, id));
        if let Some(h) = self.hosts.get_mut(&peer) {
            h.remove(&id);
        }
        // Only a private space's hosts are on disk (a public space's answer costs no write).
        if !self.private_ready(id) {
            return;
        }
        if let Err(e) = self.store.remove_private_host(&id, &peer.to_bytes()) {
            warn!(%peer, space = %id, "cannot forget the private space's host: {e}");
        }
    }

    /// Pushes a private space's change (on disk already) to every connected peer whose
    /// access still holds, except the one it came from: the live path of a private space,
    /// which has no gossipsub topic. Each node pushes a change once, when it first keeps it.
    fn push(&mut self, id: SpaceId, env: Envelope, from: Option<PeerId>) {
        let Some(space) = self.spaces.get(&id) else {
            return;
        };
        let mut to: Vec<PeerId> = self
            .vouchers
            .iter()
            .filter(|((p, s), who)| {
                *s == id
                    && Some(*p) != from
                    && self.connected.contains(p)
                    && space.may_sync(who, self.now)
            })
            .map(|((p, _), _)| *p)
            .collect();
        to.sort();
        // A hosted timite's own leave ends this node's access: that change goes out under its
        // author's access, which holds at the receivers until they apply it.
        let leaving = self
            .writers
            .contains_key(&env.author)
            .then(|| self.sign_access(&env.author, id))
            .flatten();
        for peer in to {
            let msg = SyncMessage {
                envelopes: vec![env.clone()],
                access: leaving.clone(),
                ..SyncMessage::empty(id)
            };
            if let Some(request) = self.send_sync(peer, id, msg) {
                self.pushes.insert(request);
            }
        }
    }

    /// Keeps what a peer sent by sync and logs refusals. A private space's new changes are
    /// pushed on to its other hosts once on disk.
    fn absorb_sync(&mut self, id: SpaceId, received: SyncReceived, peer: PeerId, now: u64) {
        if let Some((_, r)) = received.rejected.iter().find(|(_, r)| r.blames_sender()) {
            let code = r.code();
            self.strike(peer, code, now);
        }
        self.metrics
            .changes_rejected
            .inc_by(received.rejected.len() as u64);
        for (author, r) in &received.rejected {
            warn!(%peer, space = %id, %author, reason = r.code(), "change rejected: {r}");
        }
        if let Err(e) = self.absorb(id, &received.applied) {
            warn!(%peer, space = %id, "changes received by sync are not kept: {e}");
        } else if self.private_ready(id) && !received.applied.is_empty() {
            let publish = received
                .applied
                .into_iter()
                .map(|a| (id, a.envelope))
                .collect();
            self.after_flush(AfterFlush {
                publish,
                from: Some(peer),
                answers: vec![],
            });
        }
    }

    fn on_sync_request(&mut self, peer: PeerId, channel: ChannelId, msg: SyncMessage, now: u64) {
        let id = msg.space;
        let span = info_span!("sync_request", space = %id, %peer);
        let _enter = span.enter();
        // A private space is not served without an access that holds, and its existence
        // does not leak: the answer is the same as for a space this node does not host.
        if !self.spaces.contains_key(&id) || !self.admit(peer, id, msg.access.as_ref()) {
            self.out.push(Output::Respond {
                channel,
                response: SyncResponse::UnknownSpace(id),
            });
            return;
        }
        self.hosts.entry(peer).or_default().insert(id);
        let private = self.private_ready(id);
        // A push (a private space's new changes, no Automerge part) gets an empty answer.
        let pushed = msg.automerge.is_none() && !msg.envelopes.is_empty();
        let sent = msg.envelopes.len();
        let space = self.spaces.get_mut(&id).expect("checked above");
        let state = self.sync_states.entry((peer, id)).or_default();
        let response = match space.receive_sync(state, msg) {
            Ok(received) => {
                let waiting =
                    received.applied.len() + received.duplicates + received.rejected.len() < sent;
                let mut next = if pushed {
                    SyncMessage::empty(id)
                } else {
                    space
                        .generate_sync(state)
                        .unwrap_or_else(|| SyncMessage::empty(id))
                };
                self.absorb_sync(id, received, peer, now);
                if private {
                    next.access = self.access(id);
                }
                if pushed && waiting {
                    // A pushed change waits for what this node lacks: ask the pusher.
                    self.start_sync(peer, id);
                }
                SyncResponse::Sync(next)
            }
            Err(e) => {
                warn!("bad sync message: {e}");
                self.strike(peer, "malformed sync message", now);
                let reason = match e {
                    tim_crdt::SpaceError::Automerge(_) => RefusalReason::Internal,
                    _ => RefusalReason::Malformed,
                };
                SyncResponse::Refused { space: id, reason }
            }
        };
        self.out.push(Output::Respond { channel, response });
    }

    fn on_sync_response(&mut self, request: RequestId, response: SyncResponse, now: u64) {
        let Some((peer, id)) = self.requests.remove(&request) else {
            return;
        };
        if self.pushes.remove(&request) {
            // A push's answer says nothing; an unknown space means the access failed there.
            if matches!(response, SyncResponse::UnknownSpace(_)) {
                self.forget_host(peer, id);
            }
            return;
        }
        let span = info_span!("sync_response", space = %id, %peer);
        let _enter = span.enter();
        let msg = match response {
            SyncResponse::Sync(msg) if msg.space == id => msg,
            SyncResponse::Sync(_) => {
                warn!("sync response names another space");
                self.sessions.remove(&(peer, id));
                return;
            }
            SyncResponse::UnknownSpace(_) => {
                self.sessions.remove(&(peer, id));
                self.forget_host(peer, id);
                return;
            }
            SyncResponse::Refused { reason, .. } => {
                warn!("sync request refused: {reason}");
                self.sessions.remove(&(peer, id));
                // The refused request's changes count as sent in this state; start afresh.
                self.sync_states.remove(&(peer, id));
                return;
            }
        };
        if !self.spaces.contains_key(&id) || !self.admit(peer, id, msg.access.as_ref()) {
            // A peer that serves a private space without an access that holds gets nothing
            // more of it from this node.
            self.sessions.remove(&(peer, id));
            return;
        }
        let was_ready = self.private_ready(id);
        let access = msg.access.clone();
        let space = self.spaces.get_mut(&id).expect("checked above");
        let state = self.sync_states.entry((peer, id)).or_default();
        let received = match space.receive_sync(state, msg) {
            Ok(r) => r,
            Err(e) => {
                warn!("bad sync response: {e}");
                self.strike(peer, "malformed sync response", now);
                self.sessions.remove(&(peer, id));
                return;
            }
        };
        let next = space.generate_sync(state);
        let rejected = !received.rejected.is_empty();
        self.absorb_sync(id, received, peer, now);
        if !was_ready && self.private_ready(id) {
            // A joiner's node that just received a private space's history can now check
            // the access its host showed, and record the host to push to.
            self.admit(peer, id, access.as_ref());
        }
        let rounds = self.sessions.get(&(peer, id)).copied().unwrap_or(0) + 1;
        let continued = match next {
            Some(msg)
                if rounds <= MAX_SYNC_ROUNDS && !rejected && self.connected.contains(&peer) =>
            {
                self.send_sync(peer, id, msg).is_some()
            }
            _ => false,
        };
        if continued {
            self.sessions.insert((peer, id), rounds);
        } else {
            self.sessions.remove(&(peer, id));
            // Caught up with a peer since start.
            self.stale.remove(&id);
            self.maybe_complete_join(id, now);
        }
    }

    /// Every space syncs with one of its connected hosts (known from gossipsub subscriptions
    /// and earlier syncs), picked at random.
    fn anti_entropy(&mut self, rng: &mut impl RngCore) {
        let mut by_space: HashMap<SpaceId, Vec<PeerId>> = HashMap::new();
        for (id, peers) in &self.subscribers {
            for p in peers.iter().filter(|p| self.connected.contains(p)) {
                by_space.entry(*id).or_default().push(*p);
            }
        }
        for (peer, spaces) in &self.hosts {
            if self.connected.contains(peer) {
                for id in spaces {
                    by_space.entry(*id).or_default().push(*peer);
                }
            }
        }
        let mut plan: Vec<(SpaceId, Vec<PeerId>)> = by_space.into_iter().collect();
        plan.sort_by_key(|(id, _)| *id);
        for (id, mut peers) in plan {
            peers.sort();
            peers.dedup();
            let pick = peers[rng.next_u32() as usize % peers.len()];
            self.start_sync(pick, id);
        }
    }

    // ---- expiry, snapshots ----

    fn expire(&mut self, now: u64) {
        // Ephemeral spaces whose time to live has passed: no longer served, announced or
        // stored.
        let mut expired: Vec<SpaceId> = self
            .spaces
            .iter()
            .filter(|(_, s)| {
                s.meta()
                    .and_then(|m| m.expires_at)
                    .is_some_and(|t| t <= now)
            })
            .map(|(id, _)| *id)
            .collect();
        expired.sort();
        for id in expired {
            for w in self.joins.remove(&id).unwrap_or_default() {
                self.done(w.token, Err(NodeError::Expired(id)));
            }
            if self.expired.len() == REMEMBERED_EXPIRIES {
                self.expired.pop_front();
            }
            self.expired.push_back(id);
            match self.drop_space(id) {
                Ok(n) => info!(space = %id, changes = n, "ephemeral space expired; deleted"),
                Err(e) => warn!(space = %id, "cannot delete expired space: {e}"),
            }
        }
        // Held gossip verdicts given up (gossipsub has forgotten the messages by then; sync
        // brings the changes).
        let mut given_up: Vec<ChangeHash> = self
            .held
            .iter()
            .filter(|(_, (_, _, at))| now.saturating_sub(*at) > HELD_VERDICT_MS)
            .map(|(h, _)| *h)
            .collect();
        given_up.sort();
        for hash in given_up {
            if let Some((id, from, _)) = self.held.remove(&hash) {
                self.out.push(Output::Verdict {
                    id,
                    from,
                    verdict: MessageAcceptance::Ignore,
                });
            }
        }
        // Bans that ended.
        let mut ended: Vec<PeerId> = self
            .banned
            .iter()
            .filter(|(_, until)| **until <= now)
            .map(|(p, _)| *p)
            .collect();
        ended.sort();
        for peer in ended {
            self.unban(peer);
        }
    }

    /// The connected peers known to host the space `id`, in a stable order: whom a node asks
    /// for a payload of the space (docs/abilities.md §14). For a private space, only peers
    /// whose access held ([`Self::entitled`]): this node's own access is shown to no one else.
    pub(crate) fn payload_peers(&self, id: SpaceId) -> Vec<PeerId> {
        let mut peers: Vec<PeerId> = self
            .hosts
            .iter()
            .filter(|(_, spaces)| spaces.contains(&id))
            .map(|(p, _)| *p)
            .chain(self.subscribers.get(&id).into_iter().flatten().copied())
            .filter(|p| self.connected.contains(p) && self.entitled(*p, id))
            .collect();
        peers.sort();
        peers.dedup();
        peers
    }

    /// Whether `peer` may be sent a payload of the space `id`: this node hosts the space and
    /// would serve it `peer` by sync (any peer for a public space; for a private one, a peer
    /// whose access holds, as in [`Self::admit`]).
    pub(crate) fn serves_payload(
        &mut self,
        peer: PeerId,
        id: SpaceId,
        access: Option<&SyncAccess>,
    ) -> bool {
        self.spaces.contains_key(&id) && (self.entitled(peer, id) || self.admit(peer, id, access))
    }

    /// This node's access to show when it asks for a payload of the space `id`: `None` for a
    /// public space.
    pub(crate) fn payload_access(&self, id: SpaceId) -> Option<SyncAccess> {
        self.private_ready(id).then(|| self.access(id)).flatten()
    }

    /// Whether a peer is refused now.
    pub fn banned(&self, peer: &PeerId, now: u64) -> bool {
        self.banned.get(peer).is_some_and(|until| *until > now)
    }

    /// Stops hosting a space and deletes it from the store; returns the changes deleted.
    fn drop_space(&mut self, id: SpaceId) -> Result<usize, NodeError> {
        self.spaces.remove(&id);
        self.out.push(Output::Unhost(id));
        self.sync_states.retain(|(_, s), _| *s != id);
        self.sessions.retain(|(_, s), _| *s != id);
        self.since_snapshot.remove(&id);
        self.subscribers.remove(&id);
        self.vouchers.retain(|(_, s), _| *s != id);
        for h in self.hosts.values_mut() {
            h.remove(&id);
        }
        Ok(self.store.remove_space(&id)?)
    }

    /// Stores the record of a space's judged heads, right after the changes below them (the
    /// store keeps writes in order, so the record is never ahead of the changes).
    fn snapshot(&mut self, id: SpaceId) {
        if let Some(space) = self.spaces.get(&id).filter(|s| s.is_ready()) {
            if let Err(e) = self.store.put_snapshot(&id, &space.judged_heads()) {
                warn!(space = %id, "snapshot failed: {e}");
            }
        }
        self.since_snapshot.insert(id, 0);
    }
}

/// A gossip verdict now, or once the change is released.
enum Held {
    Now(MessageAcceptance),
    Until(ChangeHash),
}

/// Puts a revocation notice as `me`, migrating the space first to the schema version that has
/// notices if it is below (the rules decide whether `me` may do either). Returns the changes
/// applied, and the notice's hash or why it failed (after a migration, if one was made).
fn post_notice(
    s: &mut Space,
    me: &Writer,
    list: &str,
    now: u64,
) -> (Vec<Applied>, Result<ChangeHash, tim_crdt::SpaceError>) {
    let mut applied = Vec::new();
    let version = tim_crdt::schema::STATUS_NOTICES.since;
    if s.schema_version() < version {
        match s.migrate(me, version, now) {
            Ok(m) => applied.push(m),
            Err(e) => return (applied, Err(e)),
        }
    }
    let notice = s.post_notice(me, list, now).map(|n| {
        let hash = n.hash;
        applied.push(n);
        hash
    });
    (applied, notice)
}

/// Performs a moderation act as `me`; the rules decide whether it may.
fn moderate(
    s: &mut Space,
    me: &Writer,
    act: Act,
    now: u64,
) -> Result<Applied, tim_crdt::SpaceError> {
    match act {
        Act::Invite(did, valid) => s.invite(me, &did, now + valid.as_millis() as u64, now),
        Act::SetRole(did, role) => s.set_role(me, &did, role, now),
        Act::Kick(did) => s.kick(me, &did, now),
        Act::DeleteMessage(id) => s.delete_message(me, &id, now),
        Act::Rate(did, score) => s.rate(me, &did, score, now),
        Act::SetRequirements(r) => s.set_requirements(me, &r, now),
        Act::DeclareAbilities(a) => s.declare_abilities(me, &a, now),
        Act::Migrate(to) => s.migrate(me, to, now),
        Act::SetEarnedRoles(t) => s.set_earned_roles(me, &t, now),
        Act::SetProfile(p) => s.set_profile(me, &p, now),
        Act::SetBudgets(b) => s.set_budgets(me, &b, now),
        Act::EditMessage(id, text) => s.edit(me, &id, &text, now),
        Act::React(id, emoji) => s.react(me, &id, emoji.as_deref(), now),
        Act::SetMemberProfile(p) => s.set_member_profile(me, &p, now),
    }
}
