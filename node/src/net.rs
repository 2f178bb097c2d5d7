//! The libp2p side: the composed behaviour, the sync codec and swarm construction.

use std::collections::HashMap;
use std::io;
use std::marker::PhantomData;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, StreamExt};
use libp2p::gossipsub::{
    self, AllowAllSubscriptionFilter, IdentityTransform, MaxCountSubscriptionFilter,
    MessageAuthenticity, ValidationMode,
};
use libp2p::multiaddr::Protocol;
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{
    identify, identity, kad, mdns, noise, ping, tcp, yamux, Multiaddr, StreamProtocol, Swarm,
};
use sha2::{Digest, Sha256};
use tim_protocol::payload::{
    PayloadRequest, PayloadResponse, MAX_PAYLOAD_MESSAGE_BYTES, MAX_PAYLOAD_REQUEST_BYTES,
    PAYLOAD_PROTOCOL,
};
use tim_protocol::wire::{
    SyncDecodeError, SyncMessage, SyncResponse, IDENTIFY_PROTOCOL, KAD_PROTOCOL, MAX_GOSSIP_BYTES,
    MAX_SYNC_MESSAGE_BYTES, SYNC_PROTOCOL,
};

use crate::metrics::Registries;

/// Most topics (spaces) a remote peer may subscribe to, as seen by this node.
pub(crate) const MAX_TOPICS_PER_PEER: usize = 10_000;
/// How long one sync request may take before it fails.
pub(crate) const SYNC_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Concurrent sync streams per connection.
pub(crate) const MAX_CONCURRENT_SYNC_STREAMS: usize = 16;
/// How long one payload request may take before it fails (8 MiB over a slow link).
pub(crate) const PAYLOAD_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Concurrent payload streams per connection.
pub(crate) const MAX_CONCURRENT_PAYLOAD_STREAMS: usize = 4;
/// How long an idle connection stays open.
pub(crate) const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(120);

/// Gossipsub's score below which it suppresses gossip (IHAVE/IWANT) with a peer.
pub(crate) const GOSSIP_THRESHOLD: f64 = -10.0;
/// Score below which this node stops publishing and forwarding to a peer.
pub(crate) const PUBLISH_THRESHOLD: f64 = -50.0;
/// Score below which gossipsub ignores everything a peer sends; the node also bans it.
pub(crate) const GRAYLIST_THRESHOLD: f64 = -80.0;
/// Most positive score a peer earns from all topics together, so that a long honest record
/// cannot pay for many invalid messages (10 credits ≈ one more invalid message before the
/// graylist).
pub(crate) const TOPIC_SCORE_CAP: f64 = 10.0;

/// The peer score: the thresholds above, no IP colocation penalty (loopback testnets and
/// nodes behind one NAT share an address), mild behaviour penalties (re-grafting during a
/// backoff, broken IWANT promises: honest nodes meet a few while reconnecting). The topics'
/// parameters are [`space_topic_params`], set for each space as it is hosted. docs/protocol.md
/// §6.3 gives the reasons for each value.
pub(crate) fn peer_score_settings() -> (gossipsub::PeerScoreParams, gossipsub::PeerScoreThresholds)
{
    let params = gossipsub::PeerScoreParams {
        topic_score_cap: TOPIC_SCORE_CAP,
        app_specific_weight: 0.0,
        ip_colocation_factor_weight: 0.0,
        behaviour_penalty_weight: -1.0,
        behaviour_penalty_threshold: 3.0,
        behaviour_penalty_decay: gossipsub::score_parameter_decay(Duration::from_secs(60)),
        ..gossipsub::PeerScoreParams::default()
    };
    let thresholds = gossipsub::PeerScoreThresholds {
        gossip_threshold: GOSSIP_THRESHOLD,
        publish_threshold: PUBLISH_THRESHOLD,
        graylist_threshold: GRAYLIST_THRESHOLD,
        accept_px_threshold: 10.0,
        opportunistic_graft_threshold: 1.0,
    };
    (params, thresholds)
}

/// Score parameters of a space's topic: invalid messages (P4) weigh `-n²` and are forgotten
/// over an hour; first deliveries (P2) earn 0.5 each, at most 10, forgotten over ten minutes;
/// time in mesh (P1) and mesh delivery rates (P3, P3b) count nothing, since a quiet space
/// delivers nothing for hours and gossipsub cannot tell quiet from withholding.
pub(crate) fn space_topic_params() -> gossipsub::TopicScoreParams {
    gossipsub::TopicScoreParams {
        topic_weight: 1.0,
        time_in_mesh_weight: 0.0,
        time_in_mesh_quantum: Duration::from_secs(1),
        time_in_mesh_cap: 0.0,
        first_message_deliveries_weight: 0.5,
        first_message_deliveries_decay: gossipsub::score_parameter_decay(Duration::from_secs(600)),
        first_message_deliveries_cap: 20.0,
        mesh_message_deliveries_weight: 0.0,
        mesh_failure_penalty_weight: 0.0,
        invalid_message_deliveries_weight: -1.0,
        invalid_message_deliveries_decay: gossipsub::score_parameter_decay(Duration::from_secs(
            3600,
        )),
        ..gossipsub::TopicScoreParams::default()
    }
}

/// Gossipsub with a bounded subscription filter.
pub(crate) type Gossipsub =
    gossipsub::Behaviour<IdentityTransform, MaxCountSubscriptionFilter<AllowAllSubscriptionFilter>>;

/// Everything a Tim node speaks.
#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    pub(crate) gossipsub: Gossipsub,
    pub(crate) sync: request_response::Behaviour<SyncCodec>,
    pub(crate) payload: request_response::Behaviour<PayloadCodec>,
    pub(crate) kad: kad::Behaviour<kad::store::MemoryStore>,
    pub(crate) identify: identify::Behaviour,
    pub(crate) ping: ping::Behaviour,
    pub(crate) mdns: Toggle<mdns::tokio::Behaviour>,
}

/// A message of a Tim request-response protocol: CBOR, one per stream, read to the end of the
/// stream and bounded.
pub(crate) trait Framed: Sized + Send + 'static {
    /// Most bytes one may take.
    const MAX: usize;
    /// What it is, for errors.
    const WHAT: &'static str;
    /// Its bytes.
    fn encode(&self) -> Vec<u8>;
    /// It, from its bytes.
    fn decode(bytes: &[u8]) -> Result<Self, SyncDecodeError>;
}

macro_rules! framed {
    ($($t:ty: $max:expr, $what:literal;)*) => {$(
        impl Framed for $t {
            const MAX: usize = $max;
            const WHAT: &'static str = $what;
            fn encode(&self) -> Vec<u8> {
                <$t>::encode(self)
            }
            fn decode(bytes: &[u8]) -> Result<Self, SyncDecodeError> {
                <$t>::decode(bytes)
            }
        }
    )*};
}

framed! {
    SyncMessage: MAX_SYNC_MESSAGE_BYTES, "sync message";
    SyncResponse: MAX_SYNC_MESSAGE_BYTES, "sync message";
    PayloadRequest: MAX_PAYLOAD_REQUEST_BYTES, "payload request";
    PayloadResponse: MAX_PAYLOAD_MESSAGE_BYTES, "payload";
}

/// The codec of a request-response protocol whose request and response are [`Framed`].
pub(crate) struct Codec<Req, Res>(PhantomData<fn() -> (Req, Res)>);

impl<Req, Res> Default for Codec<Req, Res> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<Req, Res> Clone for Codec<Req, Res> {
    fn clone(&self) -> Self {
        Self::default()
    }
}

/// The `/tim/sync/1` codec: one [`SyncMessage`] per request stream and one [`SyncResponse`]
/// per response, each at most [`MAX_SYNC_MESSAGE_BYTES`].
pub(crate) type SyncCodec = Codec<SyncMessage, SyncResponse>;

/// The `/tim/payload/1` codec: one [`PayloadRequest`] per request stream (at most
/// [`MAX_PAYLOAD_REQUEST_BYTES`]) and one [`PayloadResponse`] per response (at most
/// [`MAX_PAYLOAD_MESSAGE_BYTES`]).
pub(crate) type PayloadCodec = Codec<PayloadRequest, PayloadResponse>;

/// Reads a stream to its end, refusing more than `M::MAX` bytes, and decodes it.
async fn read_framed<M: Framed, T: AsyncRead + Unpin + Send>(io: &mut T) -> io::Result<M> {
    let mut buf = Vec::new();
    io.take(M::MAX as u64 + 1).read_to_end(&mut buf).await?;
    if buf.len() > M::MAX {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} over the size limit", M::WHAT),
        ));
    }
    M::decode(&buf).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))
}

/// Writes `m` and closes the stream.
async fn write_framed<M: Framed, T: AsyncWrite + Unpin + Send>(io: &mut T, m: M) -> io::Result<()> {
    io.write_all(&m.encode()).await?;
    io.close().await
}

impl<Req: Framed, Res: Framed> request_response::Codec for Codec<Req, Res> {
    type Protocol = StreamProtocol;
    type Request = Req;
    type Response = Res;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Req>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_framed(io).await
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Res>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_framed(io).await
    }

    async fn write_request<T>(&mut self, _: &StreamProtocol, io: &mut T, req: Req) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_framed(io, req).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: Res,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_framed(io, res).await
    }
}

/// Network settings of a node.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// Discover peers on the LAN with mDNS.
    pub mdns: bool,
    /// Gossipsub heartbeat.
    pub heartbeat: Duration,
    /// Let a TCP listen port be shared with another process (libp2p's TCP listeners set
    /// `SO_REUSEPORT`, so without the check of [`listen_all`] a second node on the same port
    /// starts and the kernel splits incoming connections between the two).
    pub reuse_port: bool,
    /// How often a node publishes its unchanged ability index record (`index.rs`); a record
    /// lives three of these.
    pub index_refresh: Duration,
}

impl Default for NetConfig {
    fn default() -> Self {
        Self {
            mdns: false,
            heartbeat: Duration::from_millis(500),
            reuse_port: false,
            index_refresh: Duration::from_millis(crate::index::DEFAULT_REFRESH_MS),
        }
    }
}

/// How long the listeners may take to bind before the node gives up starting.
pub(crate) const LISTEN_TIMEOUT: Duration = Duration::from_secs(10);

/// The IP socket address and transport (`tcp` or `udp`) of a listen multiaddr, if it has a
/// fixed port.
fn fixed_port(addr: &Multiaddr) -> Option<(SocketAddr, &'static str)> {
    let mut ip = None;
    for p in addr.iter() {
        match p {
            Protocol::Ip4(a) => ip = Some(IpAddr::from(a)),
            Protocol::Ip6(a) => ip = Some(IpAddr::from(a)),
            Protocol::Tcp(port) if port != 0 => return Some((SocketAddr::new(ip?, port), "tcp")),
            Protocol::Udp(port) if port != 0 => return Some((SocketAddr::new(ip?, port), "udp")),
            _ => {}
        }
    }
    None
}

fn port_in_use(at: SocketAddr, proto: &str) -> anyhow::Error {
    if proto == "tcp" {
        anyhow::anyhow!(
            "the P2P port {at} is in use (another node?); stop it, choose another --listen \
             port, or pass --reuse-port to share it on purpose"
        )
    } else {
        anyhow::anyhow!(
            "the QUIC P2P port {at} is in use (another node?); stop it or choose another \
             --listen port"
        )
    }
}

/// Listens on every address and waits until each listener is bound (or failed): `listen_on`
/// returns before some transports report their errors. A fixed port already taken is refused
/// with a clear error: each is first bound by a plain socket, which fails while another
/// socket holds it. For TCP this is the only check (libp2p binds TCP listeners with
/// `SO_REUSEPORT`, which lets a second node share the port silently), skipped if
/// `reuse_port`. Returns the swarm events seen meanwhile (the listen addresses), for the
/// actor to handle.
pub(crate) async fn listen_all(
    swarm: &mut Swarm<Behaviour>,
    addrs: &[Multiaddr],
    reuse_port: bool,
) -> anyhow::Result<Vec<SwarmEvent<BehaviourEvent>>> {
    let mut pending = HashMap::new();
    for addr in addrs {
        let fixed = fixed_port(addr);
        let probe = match fixed {
            Some((at, "tcp")) if !reuse_port => std::net::TcpListener::bind(at).map(drop),
            Some((at, "udp")) => std::net::UdpSocket::bind(at).map(drop),
            _ => Ok(()),
        };
        match (probe, fixed) {
            (Err(e), Some((at, proto))) if e.kind() == io::ErrorKind::AddrInUse => {
                return Err(port_in_use(at, proto))
            }
            (Err(e), _) => anyhow::bail!("cannot listen on {addr}: {e}"),
            (Ok(()), _) => {}
        }
        let id = swarm
            .listen_on(addr.clone())
            .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
        pending.insert(id, (addr.clone(), fixed));
    }
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + LISTEN_TIMEOUT;
    while !pending.is_empty() {
        let Ok(event) = tokio::time::timeout_at(deadline, swarm.select_next_some()).await else {
            let addrs: Vec<String> = pending.values().map(|(a, _)| a.to_string()).collect();
            anyhow::bail!(
                "no listen address within {} s for {}",
                LISTEN_TIMEOUT.as_secs(),
                addrs.join(", ")
            );
        };
        match &event {
            SwarmEvent::NewListenAddr { listener_id, .. } => {
                pending.remove(listener_id);
            }
            SwarmEvent::ListenerError { listener_id, error } => {
                if let Some((addr, fixed)) = pending.remove(listener_id) {
                    return Err(match fixed {
                        Some((at, proto)) if error.kind() == io::ErrorKind::AddrInUse => {
                            port_in_use(at, proto)
                        }
                        _ => anyhow::anyhow!("cannot listen on {addr}: {error}"),
                    });
                }
            }
            SwarmEvent::ListenerClosed {
                listener_id,
                reason,
                ..
            } => {
                if let Some((addr, _)) = pending.remove(listener_id) {
                    let why = match reason {
                        Ok(()) => "closed".to_string(),
                        Err(e) => e.to_string(),
                    };
                    anyhow::bail!("cannot listen on {addr}: {why}");
                }
            }
            _ => {}
        }
        seen.push(event);
    }
    Ok(seen)
}

/// Builds the swarm: TCP and QUIC, Noise, Yamux, and the behaviours above. Its bandwidth
/// (`libp2p_bandwidth_bytes_total`) and gossipsub metrics (`gossipsub_*`, labelled by topic
/// until `metrics::encode` sums them) are registered in `registries`.
pub(crate) fn build_swarm(
    keypair: identity::Keypair,
    cfg: &NetConfig,
    registries: &mut Registries,
) -> anyhow::Result<Swarm<Behaviour>> {
    let mdns_enabled = cfg.mdns;
    let heartbeat = cfg.heartbeat;
    let swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )?
        .with_quic()
        .with_bandwidth_metrics(&mut registries.node)
        .with_behaviour(|key| {
            let peer_id = key.public().to_peer_id();
            // Content-addressed message ids: the same envelope has the same id whoever
            // publishes it, so duplicates are dropped.
            let message_id_fn = |m: &gossipsub::Message| {
                gossipsub::MessageId::from(Sha256::digest(&m.data).to_vec())
            };
            // Small-network mesh degrees (see docs/architecture.md): D=6, Dlo=5, Dhi=12.
            let gs_config = gossipsub::ConfigBuilder::default()
                .heartbeat_interval(heartbeat)
                .validation_mode(ValidationMode::Strict)
                .validate_messages()
                .message_id_fn(message_id_fn)
                .max_transmit_size(MAX_GOSSIP_BYTES)
                .mesh_n(6)
                .mesh_n_low(5)
                .mesh_n_high(12)
                .mesh_outbound_min(2)
                .build()
                .map_err(|e| anyhow::anyhow!("gossipsub config: {e}"))?;
            let filter = MaxCountSubscriptionFilter {
                filter: AllowAllSubscriptionFilter {},
                max_subscribed_topics: MAX_TOPICS_PER_PEER,
                max_subscriptions_per_request: MAX_TOPICS_PER_PEER,
            };
            let (score, thresholds) = peer_score_settings();
            let mut metrics_cfg = gossipsub::MetricsConfig {
                max_topics: MAX_TOPICS_PER_PEER,
                max_never_subscribed_topics: 0,
                ..gossipsub::MetricsConfig::default()
            };
            metrics_cfg.buckets_using_scoring_thresholds(&thresholds);
            let mut gossipsub = gossipsub::Behaviour::new_with_subscription_filter(
                MessageAuthenticity::Signed(key.clone()),
                gs_config,
                filter,
            )
            .map_err(|e| anyhow::anyhow!("gossipsub: {e}"))?
            .with_metrics(
                registries.gossipsub.sub_registry_with_prefix("gossipsub"),
                metrics_cfg,
            );
            gossipsub
                .with_peer_score(score, thresholds)
                .map_err(|e| anyhow::anyhow!("gossipsub peer score: {e}"))?;
            let sync = request_response::Behaviour::with_codec(
                SyncCodec::default(),
                [(StreamProtocol::new(SYNC_PROTOCOL), ProtocolSupport::Full)],
                request_response::Config::default()
                    .with_request_timeout(SYNC_REQUEST_TIMEOUT)
                    .with_max_concurrent_streams(MAX_CONCURRENT_SYNC_STREAMS),
            );
            let payload = request_response::Behaviour::with_codec(
                PayloadCodec::default(),
                [(StreamProtocol::new(PAYLOAD_PROTOCOL), ProtocolSupport::Full)],
                request_response::Config::default()
                    .with_request_timeout(PAYLOAD_REQUEST_TIMEOUT)
                    .with_max_concurrent_streams(MAX_CONCURRENT_PAYLOAD_STREAMS),
            );
            let mut kad = kad::Behaviour::with_config(
                peer_id,
                kad::store::MemoryStore::new(peer_id),
                kad::Config::new(StreamProtocol::new(KAD_PROTOCOL)),
            );
            kad.set_mode(Some(kad::Mode::Server));
            let identify = identify::Behaviour::new(identify::Config::new(
                IDENTIFY_PROTOCOL.to_string(),
                key.public(),
            ));
            let mdns = if mdns_enabled {
                Some(mdns::tokio::Behaviour::new(
                    mdns::Config::default(),
                    peer_id,
                )?)
            } else {
                None
            };
            Ok(Behaviour {
                gossipsub,
                sync,
                payload,
                kad,
                identify,
                ping: ping::Behaviour::default(),
                mdns: mdns.into(),
            })
        })?
        .with_swarm_config(|c| c.with_idle_connection_timeout(IDLE_CONNECTION_TIMEOUT))
        .build();
    Ok(swarm)
}
