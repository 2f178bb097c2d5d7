//! Helpers for in-process node tests: real nodes on 127.0.0.1 with sled stores in temp dirs.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use libp2p::Multiaddr;
use tim_did::{Identity, Keystore};
use tim_node::{start, Handle, NetConfig, NodeConfig};
use tim_protocol::SpaceId;

pub(crate) struct TestNode {
    pub(crate) handle: Handle,
    pub(crate) addr: Multiaddr,
    pub(crate) dir: PathBuf,
    pub(crate) keys: Keystore,
}

pub(crate) fn keys(seed: u8) -> Keystore {
    Keystore::in_memory(
        Identity::from_seed([seed; 32]),
        Identity::from_seed([seed.wrapping_add(100); 32]),
    )
}

fn config(bootstrap: Vec<Multiaddr>) -> NodeConfig {
    NodeConfig {
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        bootstrap,
        net: NetConfig {
            mdns: false,
            heartbeat: Duration::from_millis(200),
            // Ability index records of a node that went away expire within 6 s.
            index_refresh: Duration::from_secs(2),
            ..NetConfig::default()
        },
        flush: tim_node::FlushMode::Group,
        public_url: None,
    }
}

/// Starts a node whose store lives in `dir` and waits for its listen address.
pub(crate) async fn node_in(dir: PathBuf, keys: Keystore, bootstrap: Vec<Multiaddr>) -> TestNode {
    let handle = start(keys.clone(), &dir, config(bootstrap)).await.unwrap();
    listening(handle, dir, keys).await
}

/// Starts a node whose public URL is its own API, served (with `admin_token`) on a fresh
/// 127.0.0.1 port; returns the node and the API's base URL.
pub(crate) async fn node_with_api(
    tmp: &tempfile::TempDir,
    seed: u8,
    admin_token: &str,
) -> (TestNode, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let cfg = NodeConfig {
        public_url: Some(base.clone()),
        ..config(vec![])
    };
    let dir = tmp.path().join(format!("n{seed}"));
    let handle = start(keys(seed), &dir, cfg).await.unwrap();
    let app = tim_node::api::router(handle.clone(), admin_token.to_string());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (listening(handle, dir, keys(seed)).await, base)
}

/// Waits until a started node listens.
async fn listening(handle: Handle, dir: PathBuf, keys: Keystore) -> TestNode {
    // Logs go to the test's captured output (shown when it fails); RUST_LOG filters them.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
    let addr = poll(10, "the node to listen", || async {
        let status = handle.status().await.unwrap();
        status.listen.first().map(|a| a.parse().unwrap())
    })
    .await;
    TestNode {
        addr,
        handle,
        dir,
        keys,
    }
}

pub(crate) async fn node(tmp: &tempfile::TempDir, seed: u8) -> TestNode {
    node_in(tmp.path().join(format!("n{seed}")), keys(seed), vec![]).await
}

/// Polls `get` until it gives a value, or panics after `secs` seconds with `what`: every
/// wait of these tests is on a condition, with a deadline.
pub(crate) async fn poll<T, F, Fut>(secs: u64, what: &str, mut get: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = get().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Waits until `check` holds, or panics after `secs` seconds with `what`.
pub(crate) async fn eventually<F, Fut>(secs: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let check = &mut check;
    poll(secs, what, || {
        let ready = check();
        async move { ready.await.then_some(()) }
    })
    .await
}

/// Waits until every node has the space with identical heads and `messages` messages.
pub(crate) async fn converged(nodes: &[&Handle], space: SpaceId, messages: usize) {
    eventually(30, "convergence", || async {
        let mut heads = Vec::new();
        for n in nodes {
            match n.timeline(space).await {
                Ok(t) if t.messages.len() == messages => heads.push(t.heads),
                _ => return false,
            }
        }
        heads.windows(2).all(|w| w[0] == w[1])
    })
    .await;
}

/// Connected peers the node knows to subscribe to the space's topic: those it publishes to
/// even if it is not subscribed.
pub(crate) async fn topic_peers(node: &Handle, space: SpaceId) -> usize {
    node.gossip_peers(space).await.unwrap().subscribed
}

/// Restarts a node on its store once the previous node (every handle dropped) has released
/// it.
pub(crate) async fn restart(dir: PathBuf, keys: Keystore) -> TestNode {
    let handle = poll(10, "the store to be released", || async {
        start(keys.clone(), &dir, config(vec![])).await.ok()
    })
    .await;
    listening(handle, dir, keys).await
}

/// How long a test join may take.
pub(crate) const JOIN: Duration = Duration::from_secs(20);

/// Serves a node's API (with `cfg`) on a fresh 127.0.0.1 port; returns its base URL.
pub(crate) async fn serve_api(
    handle: &Handle,
    admin_token: &str,
    cfg: tim_node::api::ApiConfig,
) -> String {
    let app = tim_node::api::router_with(handle.clone(), admin_token.to_string(), cfg);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// One node's `Service` (admin token `admin`, default limits), its operator, and a public
/// space named `name` the operator made and migrated to schema version `version`. Keep the
/// node alive as long as the service is used.
pub(crate) async fn service_space(
    tmp: &tempfile::TempDir,
    name: &str,
    version: u64,
) -> (
    TestNode,
    tim_node::service::Service,
    tim_node::service::Caller,
    SpaceId,
) {
    use tim_node::api::RateLimit;
    use tim_node::service::{Caller, Service};
    let n = node(tmp, 1).await;
    let service = Service::new(n.handle.clone(), "admin", RateLimit::default());
    let owner = Caller::operator(n.handle.timite());
    let create = tim_protocol::api::CreateSpace {
        name: name.into(),
        purpose: String::new(),
        visibility: None,
        ttl_secs: None,
        encrypted: None,
    };
    let space = service.create_space(&owner, &create).await.unwrap().id;
    service.migrate(&owner, space, Some(version)).await.unwrap();
    (n, service, owner, space)
}

/// Two real nodes (node 2 bootstraps from node 1) with an operator service and its caller on
/// each: ann on node 1, bob on node 2.
pub(crate) struct ServicePair {
    pub(crate) n1: TestNode,
    pub(crate) n2: TestNode,
    pub(crate) s1: tim_node::service::Service,
    pub(crate) s2: tim_node::service::Service,
    pub(crate) ann: tim_node::service::Caller,
    pub(crate) bob: tim_node::service::Caller,
}

pub(crate) async fn service_pair(tmp: &tempfile::TempDir) -> ServicePair {
    use tim_node::api::RateLimit;
    use tim_node::service::{Caller, Service};
    let n1 = node(tmp, 1).await;
    let n2 = node_in(tmp.path().join("n2"), keys(2), vec![n1.addr.clone()]).await;
    ServicePair {
        s1: Service::new(n1.handle.clone(), "admin", RateLimit::default()),
        s2: Service::new(n2.handle.clone(), "admin", RateLimit::default()),
        ann: Caller::operator(n1.handle.timite()),
        bob: Caller::operator(n2.handle.timite()),
        n1,
        n2,
    }
}

/// A public space `name` made by `owner`, migrated to schema `version` when one is given.
pub(crate) async fn space_at(
    service: &tim_node::service::Service,
    owner: &tim_node::service::Caller,
    name: &str,
    version: Option<u64>,
) -> SpaceId {
    let create = tim_protocol::api::CreateSpace {
        name: name.into(),
        purpose: String::new(),
        visibility: None,
        ttl_secs: None,
        encrypted: None,
    };
    let id = service.create_space(owner, &create).await.unwrap().id;
    if let Some(v) = version {
        service.migrate(owner, id, Some(v)).await.unwrap();
    }
    id
}
