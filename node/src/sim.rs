//! A deterministic simulator of many nodes (feature `test-utils`).
//!
//! Each simulated node is an [`Engine`] over a [`MemStore`]; the network between them is a
//! seeded scheduler in virtual time: every message (a sync request or response, a gossip
//! message, a subscription) is delivered after a random delay, may be lost, and so arrives
//! reordered; links can be cut by partitions; a node can crash (its memory is lost, its store
//! keeps only what was flushed) and restart. Gossip is flooded the way gossipsub does it once
//! a message is validated: a node forwards a message to its other peers only after its
//! engine accepted it, and drops message ids it has seen. Everything is drawn from one seed:
//! a failing run is replayed exactly from the seed it prints.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use ed25519_dalek::SigningKey;
use libp2p::gossipsub::{MessageAcceptance, MessageId};
use libp2p::PeerId;
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use sha2::{Digest, Sha256};
use tim_protocol::api::{MessageView, Posted, SpaceSummary};
use tim_protocol::wire::SyncMessage;
use tim_protocol::{Did, SpaceId};

use crate::engine::{
    self, Answer, ChannelId, Engine, Input, Output, RequestId, Token, Write, ANTI_ENTROPY_MS,
};
use crate::metrics::NodeMetrics;
use crate::store::MemStore;
use crate::NodeError;

/// Milliseconds of virtual time at which the simulation starts (any fixed date).
const EPOCH_MS: u64 = 1_700_000_000_000;
/// How often each node checks expiries (virtual milliseconds).
const EXPIRY_MS: u64 = 1_000;
/// How long a sync request waits for its answer before it fails (virtual milliseconds).
const REQUEST_TIMEOUT_MS: u64 = 5_000;

/// The network's behaviour.
#[derive(Debug, Clone, Copy)]
pub struct NetFaults {
    /// Shortest delivery delay, milliseconds.
    pub min_delay_ms: u64,
    /// Longest delivery delay, milliseconds.
    pub max_delay_ms: u64,
    /// Probability that a message is lost.
    pub loss: f64,
    /// Longest time a flush takes, milliseconds.
    pub max_flush_ms: u64,
}

impl Default for NetFaults {
    fn default() -> Self {
        Self {
            min_delay_ms: 1,
            max_delay_ms: 20,
            loss: 0.0,
            max_flush_ms: 5,
        }
    }
}

/// Something scheduled.
#[derive(Debug)]
enum Event {
    /// An input for a node's engine, if the node is still the same incarnation.
    Deliver {
        node: usize,
        life: u64,
        input: Box<Input>,
    },
    /// A gossip message arriving at a node.
    Gossip {
        node: usize,
        life: u64,
        from: usize,
        space: SpaceId,
        data: Vec<u8>,
    },
    /// A flush completes (the store makes what was written so far durable).
    Flush {
        node: usize,
        life: u64,
        flush: engine::FlushId,
    },
    /// A node's timers.
    AntiEntropy {
        node: usize,
        life: u64,
    },
    Expiry {
        node: usize,
        life: u64,
    },
    /// A sync request that got no answer in time.
    Timeout {
        node: usize,
        life: u64,
        request: RequestId,
    },
}

/// One simulated node.
struct SimNode {
    peer: PeerId,
    key: SigningKey,
    store: MemStore,
    engine: Option<Engine<MemStore>>,
    /// Incremented at each restart: events for an earlier life are dropped.
    life: u64,
    /// Gossip message ids seen (gossipsub's duplicate cache).
    seen: BTreeSet<Vec<u8>>,
    /// Gossip messages waiting for this node's verdict, by id: (from, space, data).
    validating: HashMap<Vec<u8>, (usize, SpaceId, Vec<u8>)>,
    /// Spaces this node hosts (its subscriptions).
    hosted: BTreeSet<SpaceId>,
    /// Peers this node refuses.
    banned: BTreeSet<usize>,
    /// Sync requests this node sent and has not had answered: request → peer.
    outstanding: BTreeMap<RequestId, usize>,
    /// Answers to local writes.
    answers: BTreeMap<Token, Result<Answer, NodeError>>,
    next_token: Token,
    /// Every sync message and gossip message delivered to this node, encoded as on the
    /// wire, with the virtual time of delivery: what a peer learns from the network.
    received: Vec<(u64, Vec<u8>)>,
}

/// The simulation.
pub struct Sim {
    seed: u64,
    rng: StdRng,
    now: u64,
    nodes: Vec<SimNode>,
    /// Events by (time, sequence): a total order, so a seed replays exactly.
    queue: BTreeMap<(u64, u64), Event>,
    seq: u64,
    faults: NetFaults,
    /// Partition: each node's side; nodes on different sides cannot talk.
    side: Vec<u8>,
    /// Links cut one by one (both directions), beside partitions.
    cut: BTreeSet<(usize, usize)>,
    /// Gossip messages each node sent on (published or forwarded), by message id.
    sent: BTreeSet<(usize, Vec<u8>)>,
    /// Sync requests in flight: the responder's channel → (requester, its request id).
    channels: BTreeMap<(usize, ChannelId), (usize, RequestId)>,
    next_channel: ChannelId,
    /// Posts acknowledged to their writer (durable on its node): (node, message id).
    acknowledged: Vec<(usize, Posted)>,
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim")
            .field("seed", &self.seed)
            .field("now", &self.now)
            .field("nodes", &self.nodes.len())
            .finish_non_exhaustive()
    }
}

fn message_id(data: &[u8]) -> Vec<u8> {
    Sha256::digest(data).to_vec()
}

impl Sim {
    /// `n` nodes, all connected, with keys and randomness drawn from `seed`.
    pub fn new(seed: u64, n: usize, faults: NetFaults) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut nodes = Vec::with_capacity(n);
        for _ in 0..n {
            let mut seed_bytes = [0u8; 32];
            rng.fill_bytes(&mut seed_bytes);
            let key = SigningKey::from_bytes(&seed_bytes);
            let peer = libp2p::identity::Keypair::ed25519_from_bytes(seed_bytes)
                .expect("32 bytes")
                .public()
                .to_peer_id();
            nodes.push(SimNode {
                peer,
                key,
                store: MemStore::default(),
                engine: None,
                life: 0,
                seen: BTreeSet::new(),
                validating: HashMap::new(),
                hosted: BTreeSet::new(),
                banned: BTreeSet::new(),
                outstanding: BTreeMap::new(),
                answers: BTreeMap::new(),
                received: Vec::new(),
                next_token: 0,
            });
        }
        let mut sim = Self {
            seed,
            rng,
            now: EPOCH_MS,
            nodes,
            queue: BTreeMap::new(),
            seq: 0,
            faults,
            side: vec![0; n],
            cut: BTreeSet::new(),
            sent: BTreeSet::new(),
            channels: BTreeMap::new(),
            next_channel: 0,
            acknowledged: Vec::new(),
        };
        for i in 0..n {
            sim.boot(i);
        }
        sim
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Changes how the network behaves from now on.
    pub fn set_faults(&mut self, faults: NetFaults) {
        self.faults = faults;
    }

    /// Virtual time now, milliseconds since the Unix epoch.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// The DID of node `i`'s timite.
    pub fn did(&self, i: usize) -> Did {
        Did::from_key(&self.nodes[i].key.verifying_key())
    }

    /// Node `i`'s timite key (to play that timite turning hostile).
    pub fn key(&self, i: usize) -> &SigningKey {
        &self.nodes[i].key
    }

    /// The random source of the simulation (for scenarios drawn from the seed).
    pub fn rng(&mut self) -> &mut StdRng {
        &mut self.rng
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Whether node `i` is running.
    pub fn is_up(&self, i: usize) -> bool {
        self.nodes[i].engine.is_some()
    }

    /// Node `i`'s engine, if it runs.
    pub fn engine(&self, i: usize) -> Option<&Engine<MemStore>> {
        self.nodes[i].engine.as_ref()
    }

    /// Space `space`'s timeline as node `i`'s timite reads it (encrypted messages decrypted
    /// with its group, or marked unreadable); empty if the node does not run or hold it.
    pub fn read(&mut self, i: usize, space: SpaceId) -> Vec<MessageView> {
        let who = self.did(i);
        let Some(engine) = self.nodes[i].engine.as_mut() else {
            return Vec::new();
        };
        let mut messages = engine
            .space(&space)
            .map(|s| s.timeline())
            .unwrap_or_default();
        engine.reveal(&who, space, &mut messages);
        messages
    }

    /// Space `space`'s summary as node `i`'s timite sees it.
    pub fn summary(&mut self, i: usize, space: SpaceId) -> Option<SpaceSummary> {
        let who = self.did(i);
        self.nodes[i].engine.as_mut()?.summary_for(&who, space).ok()
    }

    /// What node `i`'s timite decrypts of ciphertext `ct`, a message by `author` at `at` in
    /// `space`.
    pub fn decrypt(
        &mut self,
        i: usize,
        space: SpaceId,
        ct: &[u8],
        author: &Did,
        at: u64,
    ) -> Result<String, String> {
        let who = self.did(i);
        match self.nodes[i].engine.as_mut() {
            Some(e) => e.decrypt_as(&who, space, ct, author, at),
            None => Err("the node is down".into()),
        }
    }

    /// Posts acknowledged so far, with the node that made them.
    pub fn acknowledged(&self) -> &[(usize, Posted)] {
        &self.acknowledged
    }

    fn after(&mut self, delay: u64, event: Event) {
        self.seq += 1;
        self.queue.insert((self.now + delay, self.seq), event);
    }

    fn delay(&mut self) -> u64 {
        self.rng
            .gen_range(self.faults.min_delay_ms..=self.faults.max_delay_ms)
    }

    fn lost(&mut self) -> bool {
        self.faults.loss > 0.0 && self.rng.gen_bool(self.faults.loss)
    }

    /// Whether `a` and `b` can talk now.
    fn linked(&self, a: usize, b: usize) -> bool {
        a != b
            && self.is_up(a)
            && self.is_up(b)
            && self.side[a] == self.side[b]
            && !self.cut.contains(&(a.min(b), a.max(b)))
            && !self.nodes[a].banned.contains(&b)
            && !self.nodes[b].banned.contains(&a)
    }

    /// Starts node `i` on its store: a new engine (new sessions), spaces loaded, connected to
    /// every reachable node.
    fn boot(&mut self, i: usize) {
        let writer = engine::new_writer(&self.nodes[i].key, &mut self.rng);
        let mut e = Engine::new(
            self.nodes[i].peer,
            self.nodes[i].store.clone(),
            [writer],
            None,
            NodeMetrics::default(),
        );
        let loaded = e.load().expect("a simulated store always loads");
        let node = &mut self.nodes[i];
        node.engine = Some(e);
        node.life += 1;
        node.hosted.clear();
        node.validating.clear();
        node.outstanding.clear();
        let life = node.life;
        self.carry_out(i, loaded);
        for j in 0..self.nodes.len() {
            if self.linked(i, j) {
                self.connect(i, j);
            }
        }
        let first = self.rng.gen_range(0..ANTI_ENTROPY_MS);
        self.after(first, Event::AntiEntropy { node: i, life });
        self.after(EXPIRY_MS, Event::Expiry { node: i, life });
    }

    /// Tells both ends of a new link about each other and their subscriptions.
    fn connect(&mut self, a: usize, b: usize) {
        for (x, y) in [(a, b), (b, a)] {
            let peer = self.nodes[y].peer;
            self.deliver_later(x, Input::Connected { peer, first: true });
            for space in self.nodes[y].hosted.clone() {
                self.deliver_later(x, Input::Subscribed(peer, space));
            }
        }
    }

    fn deliver_later(&mut self, node: usize, input: Input) {
        let life = self.nodes[node].life;
        // Connection events keep their order (a close before the next open), as libp2p
        // reports them: they are delivered at once, in the order they happen.
        let d = match input {
            Input::Connected { .. }
            | Input::Disconnected(_)
            | Input::Subscribed(..)
            | Input::Unsubscribed(..) => 0,
            _ => self.delay(),
        };
        let input = Box::new(input);
        self.after(d, Event::Deliver { node, life, input });
    }

    /// Crashes node `i`: its memory is lost, its store keeps only what was flushed.
    pub fn crash(&mut self, i: usize) {
        if !self.is_up(i) {
            return;
        }
        let node = &mut self.nodes[i];
        node.engine = None;
        node.store = node.store.after_crash();
        node.seen.clear();
        let peer = node.peer;
        for j in 0..self.nodes.len() {
            if j != i && self.is_up(j) {
                self.deliver_later(j, Input::Disconnected(peer));
            }
        }
    }

    /// Restarts a crashed node `i` on what its store kept.
    pub fn restart(&mut self, i: usize) {
        if !self.is_up(i) {
            self.boot(i);
        }
    }

    /// Splits the nodes into two sides (by `left`); nodes on different sides cannot talk.
    pub fn partition(&mut self, left: &[usize]) {
        let old = self.side.clone();
        for (i, s) in self.side.iter_mut().enumerate() {
            *s = u8::from(!left.contains(&i));
        }
        self.relink(&old);
    }

    /// Heals every partition and cut link.
    pub fn heal(&mut self) {
        let old = self.side.clone();
        self.side = vec![0; self.nodes.len()];
        let cut = std::mem::take(&mut self.cut);
        self.relink(&old);
        for (a, b) in cut {
            if self.linked(a, b) {
                self.connect(a, b);
            }
        }
    }

    /// Cuts the link between `a` and `b` (they no longer talk; others still do).
    pub fn cut(&mut self, a: usize, b: usize) {
        if self.cut.insert((a.min(b), a.max(b))) && self.is_up(a) && self.is_up(b) {
            let (pa, pb) = (self.nodes[a].peer, self.nodes[b].peer);
            self.deliver_later(a, Input::Disconnected(pb));
            self.deliver_later(b, Input::Disconnected(pa));
        }
    }

    /// Whether node `i` sent this gossip message on (published or forwarded it).
    pub fn sent_gossip(&self, i: usize, data: &[u8]) -> bool {
        self.sent.contains(&(i, message_id(data)))
    }

    fn relink(&mut self, old: &[u8]) {
        let n = self.nodes.len();
        for a in 0..n {
            for b in a + 1..n {
                let was = old[a] == old[b];
                let is = self.side[a] == self.side[b];
                if was && !is && self.is_up(a) && self.is_up(b) {
                    let (pa, pb) = (self.nodes[a].peer, self.nodes[b].peer);
                    self.deliver_later(a, Input::Disconnected(pb));
                    self.deliver_later(b, Input::Disconnected(pa));
                } else if !was && is && self.linked(a, b) {
                    self.connect(a, b);
                }
            }
        }
    }

    /// A local write on node `i` by its timite; returns the token its answer comes under.
    pub fn write(&mut self, i: usize, write: Write) -> Token {
        let node = &mut self.nodes[i];
        node.next_token += 1;
        let token = node.next_token;
        let who = Did::from_key(&node.key.verifying_key());
        self.input(i, Input::Write { token, who, write });
        token
    }

    /// Whether any sync or gossip message delivered to node `i` at or after virtual time
    /// `since` contains `bytes` (a message text, say): what the node could learn from the
    /// network, whether or not it kept it.
    pub fn received_bytes(&self, i: usize, since: u64, bytes: &[u8]) -> bool {
        self.nodes[i]
            .received
            .iter()
            .filter(|(t, _)| *t >= since)
            .any(|(_, wire)| wire.windows(bytes.len()).any(|w| w == bytes))
    }

    /// The answer to a local write, once it has come.
    pub fn answer(&self, i: usize, token: Token) -> Option<&Result<Answer, NodeError>> {
        self.nodes[i].answers.get(&token)
    }

    /// Hands a gossip message to node `i` as if a peer outside the simulation sent it (a
    /// hostile node).
    pub fn inject_gossip(&mut self, i: usize, space: SpaceId, data: Vec<u8>) {
        if !self.is_up(i) {
            return;
        }
        let id = message_id(&data);
        if !self.nodes[i].seen.insert(id.clone()) {
            return;
        }
        let rogue = PeerId::random();
        self.input(
            i,
            Input::Gossip {
                from: rogue,
                id: MessageId::new(&id),
                space,
                data,
            },
        );
    }

    /// Hands a gossip message to node `i` as if node `from` forwarded it.
    pub fn inject_gossip_from(&mut self, i: usize, from: usize, space: SpaceId, data: Vec<u8>) {
        let life = self.nodes[i].life;
        self.after(
            0,
            Event::Gossip {
                node: i,
                life,
                from,
                space,
                data,
            },
        );
    }

    /// Hands a sync request to node `i` as if node `from` sent it (a node turned hostile),
    /// or, with `None`, a peer outside the simulation.
    pub fn inject_sync(&mut self, i: usize, from: Option<usize>, msg: SyncMessage) {
        if !self.is_up(i) {
            return;
        }
        self.next_channel += 1;
        let channel = self.next_channel;
        let from = from.map_or_else(PeerId::random, |j| self.nodes[j].peer);
        self.input(i, Input::SyncRequest { from, channel, msg });
    }

    /// Whether node `i` refuses node `j` (banned it).
    pub fn refuses(&self, i: usize, j: usize) -> bool {
        self.nodes[i].banned.contains(&j)
    }

    fn input(&mut self, i: usize, input: Input) {
        let now = self.now;
        let Some(engine) = self.nodes[i].engine.as_mut() else {
            return;
        };
        let outputs = engine.handle(input, now, &mut self.rng);
        self.carry_out(i, outputs);
    }

    fn node_of(&self, peer: &PeerId) -> Option<usize> {
        self.nodes.iter().position(|n| n.peer == *peer)
    }

    fn carry_out(&mut self, i: usize, outputs: Vec<Output>) {
        let life = self.nodes[i].life;
        for output in outputs {
            match output {
                Output::SendSync { to, request, msg } => {
                    let Some(j) = self.node_of(&to) else { continue };
                    self.nodes[i].outstanding.insert(request, j);
                    self.after(
                        REQUEST_TIMEOUT_MS,
                        Event::Timeout {
                            node: i,
                            life,
                            request,
                        },
                    );
                    if !self.linked(i, j) || self.lost() {
                        continue;
                    }
                    self.next_channel += 1;
                    let channel = self.next_channel;
                    self.channels.insert((j, channel), (i, request));
                    let from = self.nodes[i].peer;
                    self.deliver_later(j, Input::SyncRequest { from, channel, msg });
                }
                Output::Respond { channel, response } => {
                    let Some((j, request)) = self.channels.remove(&(i, channel)) else {
                        continue;
                    };
                    if !self.linked(i, j) || self.lost() {
                        continue;
                    }
                    self.deliver_later(j, Input::SyncResponse { request, response });
                }
                Output::Publish { space, data } => {
                    // Gossipsub refuses to publish a message it has seen (`Duplicate`).
                    if self.nodes[i].seen.insert(message_id(&data)) {
                        self.flood(i, None, space, data);
                    }
                }
                Output::Verdict { id, verdict, .. } => {
                    let key = id.0.clone();
                    if let Some((from, space, data)) = self.nodes[i].validating.remove(&key) {
                        if verdict == MessageAcceptance::Accept {
                            self.flood(i, Some(from), space, data);
                        }
                    }
                }
                Output::Flush(flush) => {
                    let d = self.rng.gen_range(0..=self.faults.max_flush_ms);
                    self.after(
                        d,
                        Event::Flush {
                            node: i,
                            life,
                            flush,
                        },
                    );
                }
                Output::Host(space) => {
                    self.nodes[i].hosted.insert(space);
                    let peer = self.nodes[i].peer;
                    for j in 0..self.nodes.len() {
                        if self.linked(i, j) {
                            self.deliver_later(j, Input::Subscribed(peer, space));
                        }
                    }
                }
                Output::Unhost(space) => {
                    self.nodes[i].hosted.remove(&space);
                    let peer = self.nodes[i].peer;
                    for j in 0..self.nodes.len() {
                        if self.linked(i, j) {
                            self.deliver_later(j, Input::Unsubscribed(peer, space));
                        }
                    }
                }
                Output::Ban(peer) => {
                    if let Some(j) = self.node_of(&peer) {
                        self.nodes[i].banned.insert(j);
                        let me = self.nodes[i].peer;
                        self.deliver_later(i, Input::Disconnected(peer));
                        self.deliver_later(j, Input::Disconnected(me));
                    }
                }
                Output::Unban(peer) => {
                    if let Some(j) = self.node_of(&peer) {
                        self.nodes[i].banned.remove(&j);
                        if self.linked(i, j) {
                            self.connect(i, j);
                        }
                    }
                }
                Output::Present {
                    token, who, space, ..
                } => {
                    let presentation = Err(NodeError::Invalid(
                        "the simulator signs no presentations".into(),
                    ));
                    let input = Input::Presented {
                        token,
                        who,
                        space,
                        presentation,
                    };
                    self.deliver_later(i, input);
                }
                Output::Done { token, result } => {
                    if let Ok(Answer::Posted(p)) = &result {
                        self.acknowledged.push((i, p.clone()));
                    }
                    self.nodes[i].answers.insert(token, result);
                }
                Output::FindHosts(_) | Output::Event(_) | Output::CredentialRecorded { .. } => {}
            }
        }
    }

    /// Sends a gossip message from node `i` to every linked peer that hosts the space and has
    /// not seen it (except where it came from).
    fn flood(&mut self, i: usize, except: Option<usize>, space: SpaceId, data: Vec<u8>) {
        self.sent.insert((i, message_id(&data)));
        for j in 0..self.nodes.len() {
            if Some(j) == except
                || !self.linked(i, j)
                || !self.nodes[j].hosted.contains(&space)
                || self.lost()
            {
                continue;
            }
            let life = self.nodes[j].life;
            let d = self.delay();
            self.after(
                d,
                Event::Gossip {
                    node: j,
                    life,
                    from: i,
                    space,
                    data: data.clone(),
                },
            );
        }
    }

    /// Runs events until virtual time `until` (or the queue is empty).
    pub fn run_until(&mut self, until: u64) {
        while let Some(entry) = self.queue.first_entry() {
            let (at, _) = *entry.key();
            if at > until {
                break;
            }
            let event = entry.remove();
            self.now = self.now.max(at);
            self.step(event);
        }
        self.now = self.now.max(until);
    }

    /// Runs for `ms` virtual milliseconds.
    pub fn run_for(&mut self, ms: u64) {
        let until = self.now + ms;
        self.run_until(until);
    }

    fn alive(&self, node: usize, life: u64) -> bool {
        self.is_up(node) && self.nodes[node].life == life
    }

    fn step(&mut self, event: Event) {
        match event {
            Event::Deliver { node, life, input } => {
                if self.alive(node, life) {
                    if let Input::SyncResponse { request, .. } = input.as_ref() {
                        if self.nodes[node].outstanding.remove(request).is_none() {
                            return;
                        }
                    }
                    let wire = match input.as_ref() {
                        Input::SyncRequest { msg, .. } => Some(msg.encode()),
                        Input::SyncResponse { response, .. } => Some(response.encode()),
                        _ => None,
                    };
                    if let Some(wire) = wire {
                        self.nodes[node].received.push((self.now, wire));
                    }
                    self.input(node, *input);
                }
            }
            Event::Gossip {
                node,
                life,
                from,
                space,
                data,
            } => {
                if !self.alive(node, life) || !self.linked(from, node) {
                    return;
                }
                let id = message_id(&data);
                if !self.nodes[node].seen.insert(id.clone()) {
                    return;
                }
                self.nodes[node].received.push((self.now, data.clone()));
                self.nodes[node]
                    .validating
                    .insert(id.clone(), (from, space, data.clone()));
                let peer = self.nodes[from].peer;
                let input = Input::Gossip {
                    from: peer,
                    id: MessageId::new(&id),
                    space,
                    data,
                };
                self.input(node, input);
            }
            Event::Flush { node, life, flush } => {
                if self.alive(node, life) {
                    self.nodes[node].store.flush();
                    let input = Input::Flushed {
                        flush,
                        result: Ok(()),
                    };
                    self.input(node, input);
                }
            }
            Event::AntiEntropy { node, life } => {
                if self.alive(node, life) {
                    self.input(node, Input::AntiEntropy);
                    self.after(ANTI_ENTROPY_MS, Event::AntiEntropy { node, life });
                }
            }
            Event::Expiry { node, life } => {
                if self.alive(node, life) {
                    self.input(node, Input::Expiry);
                    self.after(EXPIRY_MS, Event::Expiry { node, life });
                }
            }
            Event::Timeout {
                node,
                life,
                request,
            } => {
                if self.alive(node, life) && self.nodes[node].outstanding.remove(&request).is_some()
                {
                    self.input(node, Input::SyncFailed(request));
                }
            }
        }
    }

    /// Runs until every running node hosting `space` has the same heads and at least
    /// `messages` messages, or `limit_ms` of virtual time pass; returns whether they did.
    pub fn settle(&mut self, space: SpaceId, messages: usize, limit_ms: u64) -> bool {
        let deadline = self.now + limit_ms;
        while self.now < deadline {
            self.run_for(100);
            if self.converged(space, messages) {
                return true;
            }
        }
        false
    }

    /// Each node's view of `space`, one line each (for failure reports).
    pub fn describe(&self, space: SpaceId) -> String {
        let mut out = String::new();
        for (i, n) in self.nodes.iter().enumerate() {
            let line = match n.engine.as_ref() {
                None => "down".to_string(),
                Some(e) => match e.space(&space) {
                    None => "does not host the space".to_string(),
                    Some(s) => format!(
                        "ready {} members {} messages {} changes {} waiting {} heads {:?}",
                        s.is_ready(),
                        s.member_count(),
                        s.message_count(),
                        s.change_count(),
                        s.pending_count(),
                        s.heads()
                            .iter()
                            .map(|h| h.to_string()[..8].to_string())
                            .collect::<Vec<_>>()
                    ),
                },
            };
            out.push_str(&format!(
                "node {i} (life {}, refuses {:?}): {line}\n",
                n.life, n.banned
            ));
        }
        out
    }

    /// Whether every running node has `space` ready, with identical heads and at least
    /// `messages` messages.
    pub fn converged(&self, space: SpaceId, messages: usize) -> bool {
        let mut heads = None;
        for e in self.nodes.iter().filter_map(|n| n.engine.as_ref()) {
            let Ok(s) = e.ready_space(space) else {
                return false;
            };
            if s.message_count() < messages {
                return false;
            }
            let h = s.heads();
            if heads.get_or_insert_with(|| h.clone()) != &h {
                return false;
            }
        }
        true
    }
}
