//! The libp2p side: the composed behaviour, the sync codec and swarm construction.

use std::io;
use std::time::Duration;

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::gossipsub::{
    self, AllowAllSubscriptionFilter, IdentityTransform, MaxCountSubscriptionFilter,
    MessageAuthenticity, ValidationMode,
};
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::NetworkBehaviour;
use libp2p::{identify, identity, kad, mdns, noise, ping, tcp, yamux, StreamProtocol, Swarm};
use sha2::{Digest, Sha256};
use tim_protocol::wire::{
    SyncMessage, SyncResponse, IDENTIFY_PROTOCOL, KAD_PROTOCOL, MAX_GOSSIP_BYTES,
    MAX_SYNC_MESSAGE_BYTES, SYNC_PROTOCOL,
};

/// Most topics (spaces) a remote peer may subscribe to, as seen by this node.
pub(crate) const MAX_TOPICS_PER_PEER: usize = 10_000;
/// How long one sync request may take before it fails.
pub(crate) const SYNC_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Concurrent sync streams per connection.
pub(crate) const MAX_CONCURRENT_SYNC_STREAMS: usize = 16;
/// How long an idle connection stays open.
pub(crate) const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(120);

/// Gossipsub with a bounded subscription filter.
pub(crate) type Gossipsub =
    gossipsub::Behaviour<IdentityTransform, MaxCountSubscriptionFilter<AllowAllSubscriptionFilter>>;

/// Everything a Tim node speaks.
#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    pub(crate) gossipsub: Gossipsub,
    pub(crate) sync: request_response::Behaviour<SyncCodec>,
    pub(crate) kad: kad::Behaviour<kad::store::MemoryStore>,
    pub(crate) identify: identify::Behaviour,
    pub(crate) ping: ping::Behaviour,
    pub(crate) mdns: Toggle<mdns::tokio::Behaviour>,
}

/// The `/tim/sync/1` codec: one CBOR [`SyncMessage`] per request stream and one CBOR
/// [`SyncResponse`] per response, each read to the end of the stream and bounded by
/// [`MAX_SYNC_MESSAGE_BYTES`].
#[derive(Debug, Clone, Default)]
pub(crate) struct SyncCodec;

async fn read_bounded<T: AsyncRead + Unpin + Send>(io: &mut T) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    io.take(MAX_SYNC_MESSAGE_BYTES as u64 + 1)
        .read_to_end(&mut buf)
        .await?;
    if buf.len() > MAX_SYNC_MESSAGE_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "sync message over the size limit",
        ));
    }
    Ok(buf)
}

fn invalid(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

impl request_response::Codec for SyncCodec {
    type Protocol = StreamProtocol;
    type Request = SyncMessage;
    type Response = SyncResponse;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<SyncMessage>
    where
        T: AsyncRead + Unpin + Send,
    {
        SyncMessage::decode(&read_bounded(io).await?).map_err(invalid)
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<SyncResponse>
    where
        T: AsyncRead + Unpin + Send,
    {
        SyncResponse::decode(&read_bounded(io).await?).map_err(invalid)
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: SyncMessage,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        io.write_all(&req.encode()).await?;
        io.close().await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: SyncResponse,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        io.write_all(&res.encode()).await?;
        io.close().await
    }
}

/// Network settings of a node.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// Discover peers on the LAN with mDNS.
    pub mdns: bool,
    /// Gossipsub heartbeat.
    pub heartbeat: Duration,
}

impl Default for NetConfig {
    fn default() -> Self {
        Self {
            mdns: false,
            heartbeat: Duration::from_millis(500),
        }
    }
}

/// Builds the swarm: TCP and QUIC, Noise, Yamux, and the behaviours above.
/// Builds the swarm; its bandwidth (`libp2p_bandwidth_bytes_total`) and gossipsub metrics
/// (`gossipsub_*`) are registered in `registry`.
pub(crate) fn build_swarm(
    keypair: identity::Keypair,
    cfg: &NetConfig,
    registry: &mut prometheus_client::registry::Registry,
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
        .with_bandwidth_metrics(registry)
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
            let gossipsub = gossipsub::Behaviour::new_with_subscription_filter(
                MessageAuthenticity::Signed(key.clone()),
                gs_config,
                filter,
            )
            .map_err(|e| anyhow::anyhow!("gossipsub: {e}"))?
            .with_metrics(
                registry.sub_registry_with_prefix("gossipsub"),
                gossipsub::MetricsConfig::default(),
            );
            let sync = request_response::Behaviour::with_codec(
                SyncCodec,
                [(StreamProtocol::new(SYNC_PROTOCOL), ProtocolSupport::Full)],
                request_response::Config::default()
                    .with_request_timeout(SYNC_REQUEST_TIMEOUT)
                    .with_max_concurrent_streams(MAX_CONCURRENT_SYNC_STREAMS),
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
