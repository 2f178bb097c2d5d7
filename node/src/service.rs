//! The node's use cases, whatever the transport: the HTTP API calls them today, an MCP server
//! and the agent runtime will call the same methods.
//!
//! A [`Service`] is a cheap clone around the node [`Handle`] and the API's token store
//! ([`Auth`]). Each method is one use case: it takes the [`Caller`] (the timite it acts as,
//! and whether it holds the operator's token) and typed inputs, validates them, enforces who
//! may do what, and answers typed results or a [`ServiceError`]. Nothing here knows about
//! HTTP: the API maps a [`ServiceError`] to a problem document and a status
//! (`crate::api::problem`).
//!
//! Reads of hosted spaces (summaries, timelines, members, exports, events) act as the caller
//! too: a public space is open to every timite of the node, a private (invite-only) one only
//! to its members, and to anyone else it does not exist (`docs/privacy.md`). Writes act as the
//! caller, so the space's rules judge them under the caller's key. Node-wide settings (timites, trust, peers,
//! imports, fault injection) are for the operator.

use std::sync::Arc;
use std::time::Duration;

use libp2p::Multiaddr;
use tim_crdt::admission::Requirement;
use tim_crdt::encryption::{Encryption, History};
use tim_crdt::PageFrom;
use tim_did::credential::{credentials_in, is_presentation, verify_document};
use tim_protocol::api::SpaceLeft;
use tim_protocol::api::{
    Challenge, CheckView, CreateSpace, CredentialsQuery, DirectMessage, DirectMessageRequest,
    Imported, InviteRequest, IssueRequest, JoinSpace, Login, MemberView, MembersQuery, Migrated,
    NewToken, NodeStatus, Posted, SpaceEvent, SpaceSummary, TimelinePage, TimelineQuery,
    TimiteView, TokenInfo, TokenIssued, TrustEntry, VerifyReport, DEFAULT_TIMELINE_PAGE,
    MAX_LIST_PAGE, MAX_TIMELINE_PAGE,
};
use tim_protocol::wire::ExportBundle;
use tim_protocol::{ChangeHash, CredentialId, Did, MessageId, SpaceId};
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::{Stream, StreamExt as _};

use crate::agents::Agents;
use crate::auth::{Auth, AuthError, Principal, RateLimit, MAX_LABEL_LEN};
use crate::{Act, CredentialKind, Handle, NodeError, Role, Visibility};

/// How long an invite stays valid unless the request says otherwise.
pub const DEFAULT_INVITE_VALIDITY: Duration = Duration::from_secs(7 * 24 * 3600);
/// How long a join waits for a host to answer unless the request says otherwise.
pub const JOIN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the invite to a direct-message space stays valid.
pub const DM_INVITE_VALIDITY: Duration = Duration::from_secs(30 * 24 * 3600);

/// The purpose of the direct-message space of two timites: names both, in DID order, so
/// that either finds it.
fn dm_purpose(a: &Did, b: &Did) -> String {
    let (first, second) = if a <= b { (a, b) } else { (b, a) };
    format!("direct messages between {first} and {second}")
}

/// How long a join or a post in an end-to-end encrypted space waits for the group's keys to
/// reach a member who just joined.
pub const KEYS_WAIT: Duration = Duration::from_secs(15);

/// Tries `attempt` until it answers or [`KEYS_WAIT`] has passed (its last try is told so,
/// and must answer), pausing 20 ms, doubling up to 500 ms, between tries.
async fn wait_for_keys<T, F, A>(mut attempt: F) -> T
where
    F: FnMut(bool) -> A,
    A: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + KEYS_WAIT;
    let mut pause = Duration::from_millis(20);
    loop {
        let last = tokio::time::Instant::now() >= deadline;
        if let Some(answer) = attempt(last).await {
            return answer;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(500));
    }
}
/// Longest join wait a request may ask for.
pub const MAX_JOIN_TIMEOUT: Duration = Duration::from_secs(300);

/// Who calls a use case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    /// The hosted timite the call acts as: writes are signed with its key.
    pub timite: Did,
    /// Whether the caller holds the operator's admin token.
    pub operator: bool,
}

impl Caller {
    /// A hosted timite, without the operator's rights.
    pub fn timite(timite: Did) -> Self {
        Self {
            timite,
            operator: false,
        }
    }

    /// The operator, acting as `timite`.
    pub fn operator(timite: Did) -> Self {
        Self {
            timite,
            operator: true,
        }
    }
}

impl From<&Principal> for Caller {
    fn from(p: &Principal) -> Self {
        Self {
            timite: p.did,
            operator: p.admin,
        }
    }
}

/// Why a use case failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The node refused (bad input, the space's rules, unknown space) or failed.
    #[error(transparent)]
    Node(#[from] NodeError),
    /// A token or a sign-in was refused, or a limit reached.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// Only the operator may do this.
    #[error("{0} needs the operator's admin token (api.token in the node's home)")]
    OperatorOnly(&'static str),
    /// The thing belongs to another timite.
    #[error("{0}")]
    NotYours(String),
    /// The DID is not a timite this node hosts.
    #[error("{0} is not a timite hosted on this node (see GET /v1/timites)")]
    UnknownTimite(Did),
    /// Not a space visibility.
    #[error("`{0}` is not a visibility; use public, invite-only or ephemeral")]
    InvalidVisibility(String),
    /// Not a multiaddr.
    #[error("`{addr}` is not a multiaddr: {reason}")]
    InvalidAddress {
        /// The text given.
        addr: String,
        /// Why it does not parse.
        reason: String,
    },
    /// A credential to keep failed one of its checks.
    #[error("{check}: {detail}")]
    CredentialRefused {
        /// The failed check.
        check: String,
        /// What it found.
        detail: String,
    },
    /// The bytes are not a signature bundle.
    #[error("the body is not a Tim signature bundle: {0}")]
    MalformedBundle(String),
    /// A page was asked for with a limit out of bounds, or with cursors both ways.
    #[error("{0}")]
    InvalidPage(String),
    /// Another timite of the node holds the handle.
    #[error("the handle `{handle}` is taken on this node (by {holder}); choose another")]
    HandleTaken {
        /// The handle asked for.
        handle: String,
        /// Who holds it.
        holder: Did,
    },
}

/// A page of a list sorted by a key (members by DID, credentials by id), and the key to list
/// after for the next page (none on the last page).
#[derive(Debug, Clone, PartialEq)]
pub struct ListPage<T, K> {
    /// The entries, in key order.
    pub items: Vec<T>,
    /// The key of the last entry, when more follow.
    pub next_after: Option<K>,
}

/// The number of entries a page asked for with `limit` holds: `default` if none, refused
/// outside 1 to `max`.
pub(crate) fn page_limit(limit: Option<usize>, default: usize, max: usize) -> ServiceResult<usize> {
    match limit.unwrap_or(default) {
        n @ 1.. if n <= max => Ok(n),
        n => Err(ServiceError::InvalidPage(format!(
            "limit must be 1 to {max}; {n} was asked for"
        ))),
    }
}

/// The result of a use case.
pub type ServiceResult<T> = Result<T, ServiceError>;

fn invalid(detail: impl Into<String>) -> ServiceError {
    NodeError::Invalid(detail.into()).into()
}

/// The node's use cases; see the [module documentation](self).
#[derive(Debug, Clone)]
pub struct Service {
    node: Handle,
    auth: Arc<Auth>,
    agents: Agents,
}

impl Service {
    /// The use cases of a node whose operator token is `admin_token`; each token may make
    /// `rate_limit` requests. Starts the node's agents (docs/agents.md), which run until every
    /// clone of this service is gone: make one service per node.
    pub fn new(node: Handle, admin_token: &str, rate_limit: RateLimit) -> Self {
        let auth = Auth::new(
            node.store().clone(),
            admin_token,
            node.timite(),
            node.node_did(),
            rate_limit,
        );
        let (agents, supervisor) = Agents::new();
        let service = Self {
            node,
            auth: Arc::new(auth),
            agents,
        };
        supervisor.spawn(Self {
            agents: service.agents.weak(),
            ..service.clone()
        });
        service
    }

    /// The link to the agent runtime.
    pub(crate) fn agents(&self) -> &Agents {
        &self.agents
    }

    /// The node handle.
    pub fn node(&self) -> &Handle {
        &self.node
    }

    /// The tokens, challenges and rate limits.
    pub fn auth(&self) -> &Arc<Auth> {
        &self.auth
    }

    /// The node handle acting as the caller.
    fn acting(&self, caller: &Caller) -> Handle {
        self.node.acting_as(caller.timite)
    }

    /// Refuses a caller without the operator's rights to do `what`.
    pub(crate) fn operator_only(caller: &Caller, what: &'static str) -> ServiceResult<()> {
        if caller.operator {
            Ok(())
        } else {
            Err(ServiceError::OperatorOnly(what))
        }
    }

    /// Refuses a DID this node does not host.
    pub(crate) async fn hosted(&self, did: &Did) -> ServiceResult<()> {
        if self.node.timites().await?.iter().any(|t| t.did == *did) {
            Ok(())
        } else {
            Err(ServiceError::UnknownTimite(*did))
        }
    }

    // Sign-in and tokens.

    /// A sign-in challenge for a hosted timite (anyone may ask).
    pub async fn challenge(&self, did: Did) -> ServiceResult<Challenge> {
        self.hosted(&did).await?;
        Ok(self.auth.challenge(did)?)
    }

    /// Checks a signed challenge and makes a sign-in token.
    pub async fn login(&self, login: &Login) -> ServiceResult<TokenIssued> {
        Ok(self.auth.login(login).await?)
    }

    /// Live tokens: all of them for the operator, the caller's own otherwise.
    pub fn tokens(&self, caller: &Caller) -> ServiceResult<Vec<TokenInfo>> {
        let of = (!caller.operator).then_some(&caller.timite);
        Ok(self.auth.list(of)?)
    }

    /// Makes a token for a hosted timite: the operator for anyone, a timite for itself.
    pub async fn new_token(&self, caller: &Caller, req: &NewToken) -> ServiceResult<TokenIssued> {
        if !caller.operator && req.did != caller.timite {
            return Err(ServiceError::NotYours(format!(
                "a timite makes tokens for itself only; {} is not {}",
                req.did, caller.timite
            )));
        }
        if req.label.chars().count() > MAX_LABEL_LEN {
            return Err(invalid(format!(
                "a label is at most {MAX_LABEL_LEN} characters"
            )));
        }
        if req.ttl_secs == Some(0) {
            return Err(invalid("ttl_secs must be at least 1"));
        }
        self.hosted(&req.did).await?;
        let ttl = req.ttl_secs.map(Duration::from_secs);
        Ok(self.auth.issue(req.did, &req.label, ttl).await?)
    }

    /// Revokes a token: the operator any, a timite its own.
    pub async fn revoke_token(&self, caller: &Caller, id: &str) -> ServiceResult<TokenInfo> {
        let allowed = |t: &TokenInfo| caller.operator || t.did == caller.timite;
        match self.auth.revoke(id, allowed).await? {
            Some(Ok(info)) => Ok(info),
            Some(Err(_)) => Err(ServiceError::NotYours(format!(
                "token {id} belongs to another timite"
            ))),
            None => Err(NodeError::NotFound(format!("no token {id} on this node")).into()),
        }
    }

    // The node.

    /// The timites this node hosts (operator).
    pub async fn timites(&self, caller: &Caller) -> ServiceResult<Vec<TimiteView>> {
        Self::operator_only(caller, "listing timites")?;
        Ok(self.node.timites().await?)
    }

    /// Makes a new hosted timite with a fresh key (operator).
    pub async fn add_timite(&self, caller: &Caller) -> ServiceResult<TimiteView> {
        Self::operator_only(caller, "adding a timite")?;
        Ok(self.node.add_timite().await?)
    }

    /// Who and where this node is, as the caller sees it.
    pub async fn status(&self, caller: &Caller) -> ServiceResult<NodeStatus> {
        Ok(self.acting(caller).status().await?)
    }

    /// The node's metrics (OpenMetrics text).
    pub fn metrics(&self) -> String {
        self.node.metrics()
    }

    /// Dials a peer at a multiaddr ending in `/p2p/<peer id>` (operator).
    pub async fn dial(&self, caller: &Caller, addr: &str) -> ServiceResult<()> {
        Self::operator_only(caller, "dialling a peer")?;
        Ok(self.node.dial(multiaddr(addr)?).await?)
    }

    /// Closes every connection; answers how many (operator; testnet fault injection).
    pub async fn disconnect_all(&self, caller: &Caller) -> ServiceResult<usize> {
        Self::operator_only(caller, "closing connections")?;
        Ok(self.node.disconnect_all().await?)
    }

    // Spaces.

    /// The spaces this node hosts.
    pub async fn spaces(&self, caller: &Caller) -> ServiceResult<Vec<SpaceSummary>> {
        let spaces = self.acting(caller).spaces().await?;
        Ok(self.with_unread(caller, spaces).await)
    }

    /// One hosted space.
    pub async fn space(&self, caller: &Caller, space: SpaceId) -> ServiceResult<SpaceSummary> {
        let summary = self.acting(caller).space(space).await?;
        let mut one = self.with_unread(caller, vec![summary]).await;
        Ok(one.remove(0))
    }

    /// Creates a space with the caller as owner. An ephemeral space needs a time to live; no
    /// other kind has one.
    pub async fn create_space(
        &self,
        caller: &Caller,
        req: &CreateSpace,
    ) -> ServiceResult<SpaceSummary> {
        let visibility = match req.visibility.as_deref() {
            None => Visibility::Public,
            Some(v) => Visibility::parse(v)
                .ok_or_else(|| ServiceError::InvalidVisibility(v.to_string()))?,
        };
        let ttl = req.ttl_secs.map(Duration::from_secs);
        match (visibility, ttl) {
            (Visibility::Ephemeral, None) => {
                return Err(invalid(
                    "an ephemeral space needs a time to live (ttl_secs; --ttl on the command line)",
                ));
            }
            (Visibility::Public | Visibility::InviteOnly, Some(_)) => {
                return Err(invalid("only an ephemeral space has a ttl"));
            }
            _ => {}
        }
        let handle = self.acting(caller);
        Ok(match (visibility, req.encrypted) {
            (Visibility::InviteOnly, Some(false)) => {
                handle
                    .create_private_space(&req.name, &req.purpose, None)
                    .await?
            }
            (_, Some(true)) if visibility != Visibility::InviteOnly => {
                return Err(invalid("only an invite-only space is end-to-end encrypted"))
            }
            _ => {
                handle
                    .create_space_with(&req.name, &req.purpose, visibility, ttl)
                    .await?
            }
        })
    }

    /// Joins a space as the caller: finds hosts (or dials `via`), syncs its history, presents
    /// the credentials the space asks for, and adds the caller as a member.
    pub async fn join_space(
        &self,
        caller: &Caller,
        space: SpaceId,
        req: &JoinSpace,
    ) -> ServiceResult<SpaceSummary> {
        let via = req
            .via
            .iter()
            .map(|a| multiaddr(a))
            .collect::<ServiceResult<Vec<_>>>()?;
        let timeout = req.timeout_secs.map_or(JOIN_TIMEOUT, Duration::from_secs);
        if timeout > MAX_JOIN_TIMEOUT || timeout.is_zero() {
            return Err(invalid(format!(
                "timeout_secs is from 1 to {}",
                MAX_JOIN_TIMEOUT.as_secs()
            )));
        }
        let handle = self.acting(caller);
        let joined = handle
            .join_presenting(space, via, req.present.clone(), timeout)
            .await?;
        self.write_kept_profile(caller.timite, space).await;
        if !joined.encrypted {
            return Ok(joined);
        }
        // An encrypted space: the join is done, the keys come from a member's node (its
        // inviter's, or the owner's). Wait a little for them, so that the new member reads
        // at once; without them, the summary says `keys_pending`.
        Ok(wait_for_keys(|last| {
            let handle = handle.clone();
            async move {
                match handle.space(space).await {
                    Ok(s) if s.keys_pending && !last => None,
                    r => Some(r),
                }
            }
        })
        .await?)
    }

    /// Leaves a space as the caller: removes its own member entry (the owner is refused, with
    /// the reason) or gives up its unfinished join; the node drops the space once no timite
    /// it hosts is a member (docs/operator.md "Leaving a space").
    pub async fn leave_space(&self, caller: &Caller, space: SpaceId) -> ServiceResult<SpaceLeft> {
        let (change, dropped) = self.acting(caller).leave(space).await?;
        Ok(SpaceLeft {
            space,
            change,
            dropped,
        })
    }

    /// Sets what joiners must present (the space's admins).
    pub async fn set_requirements(
        &self,
        caller: &Caller,
        space: SpaceId,
        requirements: Vec<Requirement>,
    ) -> ServiceResult<ChangeHash> {
        self.moderate(caller, space, Act::SetRequirements(requirements))
            .await
    }

    /// Migrates a space to schema version `to` (the newest this node knows if `None`) as the
    /// caller, who needs the `migrate` permission (admins and the owner): one signed change
    /// that makes the containers the versions in between introduced (docs/rules.md §4.1).
    /// Refused if the space is at that version or newer, or the version is unknown.
    pub async fn migrate(
        &self,
        caller: &Caller,
        space: SpaceId,
        to: Option<u64>,
    ) -> ServiceResult<Migrated> {
        let node = self.acting(caller);
        let from = node.read_space(space, |s| s.schema_version()).await?;
        let to = to.unwrap_or(tim_crdt::schema::LATEST_VERSION);
        let change = self.moderate(caller, space, Act::Migrate(to)).await?;
        if from < tim_crdt::schema::PEOPLE && to >= tim_crdt::schema::PEOPLE {
            self.write_kept_profiles(space).await;
        }
        Ok(Migrated { from, to, change })
    }

    /// The space's Automerge document.
    pub async fn export_document(&self, caller: &Caller, space: SpaceId) -> ServiceResult<Vec<u8>> {
        Ok(self.acting(caller).export(space).await?.0)
    }

    /// The signed envelopes of every change of the space.
    pub async fn export_signatures(
        &self,
        caller: &Caller,
        space: SpaceId,
    ) -> ServiceResult<ExportBundle> {
        let (_, envelopes) = self.acting(caller).export(space).await?;
        Ok(ExportBundle { space, envelopes })
    }

    /// Imports a signature bundle (CBOR bytes), all or nothing; each change is checked like
    /// any other (operator).
    pub async fn import(&self, caller: &Caller, bundle: &[u8]) -> ServiceResult<Imported> {
        Self::operator_only(caller, "importing a space")?;
        let bundle = ExportBundle::decode(bundle)
            .map_err(|e| ServiceError::MalformedBundle(e.to_string()))?;
        Ok(self.node.import(bundle.space, bundle.envelopes).await?)
    }

    /// The live events of a hosted space (also one still syncing), including changes from
    /// other nodes. A receiver that falls behind gets a [`BroadcastStreamRecvError::Lagged`].
    pub async fn events(
        &self,
        caller: &Caller,
        space: SpaceId,
    ) -> ServiceResult<impl Stream<Item = Result<SpaceEvent, BroadcastStreamRecvError>> + use<>>
    {
        // A space still syncing counts as private until its history has arrived: only its
        // joiner can open the stream.
        let private = match self.acting(caller).space(space).await {
            Ok(s) => s.visibility == Visibility::InviteOnly.as_str(),
            Err(NodeError::NotReady(_)) => true,
            Err(e) => return Err(e.into()),
        };
        let me = caller.timite;
        // A member removed or banned from a private space reads nothing after that.
        let shut_out = move |e: &SpaceEvent| {
            private
                && match e {
                    SpaceEvent::Removed { did, .. } => *did == me,
                    SpaceEvent::RoleChanged { did, role, .. } => {
                        *did == me && role == Role::Banned.as_str()
                    }
                    _ => false,
                }
        };
        Ok(BroadcastStream::new(self.node.subscribe())
            .filter(move |e| match e {
                Ok(event) => event.space() == space,
                Err(_) => true,
            })
            .take_while(move |e| !e.as_ref().is_ok_and(&shut_out)))
    }

    // Messages.

    /// A page of the space's timeline, newest first: the latest messages, or those just
    /// before or just after a message.
    pub async fn timeline(
        &self,
        caller: &Caller,
        space: SpaceId,
        query: &TimelineQuery,
    ) -> ServiceResult<TimelinePage> {
        let limit = page_limit(query.limit, DEFAULT_TIMELINE_PAGE, MAX_TIMELINE_PAGE)?;
        let from = match (&query.before, &query.after) {
            (None, None) => PageFrom::Latest,
            (Some(id), None) => PageFrom::Before(id.clone()),
            (None, Some(id)) => PageFrom::After(id.clone()),
            (Some(_), Some(_)) => {
                return Err(ServiceError::InvalidPage(
                    "give `before` (older messages) or `after` (newer ones), not both".into(),
                ))
            }
        };
        Ok(self
            .acting(caller)
            .timeline_page(space, from, limit)
            .await?)
    }

    /// Posts a message as the caller; answers once it is on disk. In an end-to-end encrypted
    /// space the caller just joined, it waits (up to [`KEYS_WAIT`]) for a member's node to add
    /// it to the encryption group.
    pub async fn post(&self, caller: &Caller, space: SpaceId, text: &str) -> ServiceResult<Posted> {
        let handle = self.acting(caller);
        Ok(wait_for_keys(|last| {
            let (handle, text) = (handle.clone(), text.to_string());
            async move {
                match handle.post(space, &text).await {
                    Err(NodeError::KeysPending(_)) if !last => None,
                    r => Some(r),
                }
            }
        })
        .await?)
    }

    /// Sends a direct message from the caller to another timite: posts it in their
    /// direct-message space (an end-to-end encrypted, invite-only space of two), made and the
    /// other invited if there is none yet (docs/privacy.md §4.8). The other reads it once it
    /// joins (`tim space join SPACE --via ADDR`, the line `tim dm` prints).
    pub async fn direct_message(
        &self,
        caller: &Caller,
        req: &DirectMessageRequest,
    ) -> ServiceResult<DirectMessage> {
        let (me, to) = (caller.timite, req.to);
        if to == me {
            return Err(invalid("a direct message goes to another timite"));
        }
        let handle = self.acting(caller);
        let purpose = dm_purpose(&me, &to);
        let existing = handle
            .spaces()
            .await?
            .into_iter()
            .filter(|s| s.dm && s.purpose == purpose)
            .min_by_key(|s| (s.created_at, s.id));
        let (space, created) = match existing {
            Some(s) => (s.id, false),
            None => {
                let encryption = Encryption {
                    history: History::Shared,
                    dm: true,
                };
                let s = handle
                    .create_private_space("dm", &purpose, Some(encryption))
                    .await?;
                handle
                    .moderate(s.id, Act::Invite(to, DM_INVITE_VALIDITY))
                    .await?;
                (s.id, true)
            }
        };
        let posted = self.post(caller, space, &req.text).await?;
        let waiting = !handle.members(space).await?.iter().any(|m| m.did == to);
        Ok(DirectMessage {
            space,
            created,
            waiting,
            posted,
        })
    }

    /// Deletes a message (its author, or a moderator).
    pub async fn delete_message(
        &self,
        caller: &Caller,
        space: SpaceId,
        message: &MessageId,
    ) -> ServiceResult<ChangeHash> {
        self.moderate(caller, space, Act::DeleteMessage(message.to_string()))
            .await
    }

    // Members.

    /// A page of the members, sorted by DID, with role, reputation, declared abilities and
    /// imported reputation.
    pub async fn members(
        &self,
        caller: &Caller,
        space: SpaceId,
        query: &MembersQuery,
    ) -> ServiceResult<ListPage<MemberView, Did>> {
        let limit = page_limit(query.limit, MAX_LIST_PAGE, MAX_LIST_PAGE)?;
        let page = self
            .acting(caller)
            .members_page(space, query.after, limit)
            .await?;
        Ok(ListPage {
            items: page.members,
            next_after: page.next_after,
        })
    }

    /// Removes a member (admins, outranking it).
    pub async fn kick(
        &self,
        caller: &Caller,
        space: SpaceId,
        member: Did,
    ) -> ServiceResult<ChangeHash> {
        self.moderate(caller, space, Act::Kick(member)).await
    }

    /// Sets a member's role by name; `banned` bans (admins).
    pub async fn set_role(
        &self,
        caller: &Caller,
        space: SpaceId,
        member: Did,
        role: &str,
    ) -> ServiceResult<ChangeHash> {
        let role = Role::parse(role).ok_or_else(|| {
            invalid(
                "role must be admin, moderator, member, guest, banned or a role the space defines",
            )
        })?;
        self.moderate(caller, space, Act::SetRole(member, role))
            .await
    }

    /// Sets the space's earned roles, replacing the list (admins and the owner; an empty list
    /// earns nothing). Returns the change.
    pub async fn set_earned_roles(
        &self,
        caller: &Caller,
        space: SpaceId,
        thresholds: Vec<tim_crdt::earned::EarnedRole>,
    ) -> ServiceResult<ChangeHash> {
        self.moderate(caller, space, Act::SetEarnedRoles(thresholds))
            .await
    }

    /// The space's earned roles now (members of a private space, anyone for a public one).
    pub async fn earned_roles(
        &self,
        caller: &Caller,
        space: SpaceId,
    ) -> ServiceResult<tim_protocol::api::SetEarnedRoles> {
        let earned_roles = self
            .acting(caller)
            .read_space(space, |s| s.earned_roles())
            .await?;
        Ok(tim_protocol::api::SetEarnedRoles { earned_roles })
    }

    /// Declares what the caller can do in the space (replaces its list).
    pub async fn declare_abilities(
        &self,
        caller: &Caller,
        space: SpaceId,
        abilities: Vec<String>,
    ) -> ServiceResult<ChangeHash> {
        self.moderate(caller, space, Act::DeclareAbilities(abilities))
            .await
    }

    /// Invites a timite to an invite-only space (admins), for
    /// [`DEFAULT_INVITE_VALIDITY`] unless the request says otherwise.
    pub async fn invite(
        &self,
        caller: &Caller,
        space: SpaceId,
        req: &InviteRequest,
    ) -> ServiceResult<ChangeHash> {
        let valid = req
            .expires_in_secs
            .map_or(DEFAULT_INVITE_VALIDITY, Duration::from_secs);
        self.moderate(caller, space, Act::Invite(req.did, valid))
            .await
    }

    /// Rates a member from 1 to 5 (members).
    pub async fn rate(
        &self,
        caller: &Caller,
        space: SpaceId,
        member: Did,
        score: u8,
    ) -> ServiceResult<ChangeHash> {
        self.moderate(caller, space, Act::Rate(member, score)).await
    }

    async fn moderate(
        &self,
        caller: &Caller,
        space: SpaceId,
        act: Act,
    ) -> ServiceResult<ChangeHash> {
        Ok(self.acting(caller).moderate(space, act).await?)
    }

    // Passports.

    /// Issues a credential in the space's name (its admins): `membership`, `reputation` or
    /// `ability` (with `ability` and `level`).
    pub async fn issue_credential(
        &self,
        caller: &Caller,
        space: SpaceId,
        req: &IssueRequest,
    ) -> ServiceResult<serde_json::Value> {
        let kind = match req.kind.as_str() {
            "membership" => CredentialKind::Membership,
            "reputation" => CredentialKind::Reputation,
            "ability" => match (&req.ability, &req.level) {
                (Some(ability), Some(level)) => CredentialKind::Ability {
                    ability: ability.clone(),
                    level: level.clone(),
                },
                _ => return Err(invalid("an ability credential needs `ability` and `level`")),
            },
            other => {
                return Err(invalid(format!(
                    "`{other}` is not a credential kind; use membership, reputation or ability"
                )))
            }
        };
        Ok(self
            .acting(caller)
            .issue_credential(
                space,
                req.subject,
                kind,
                req.valid_for_secs.map(Duration::from_secs),
            )
            .await?)
    }

    /// A page of the caller's passport, sorted by credential id: credentials about it, and
    /// those it issued.
    pub async fn credentials(
        &self,
        caller: &Caller,
        query: &CredentialsQuery,
    ) -> ServiceResult<ListPage<serde_json::Value, CredentialId>> {
        let limit = page_limit(query.limit, MAX_LIST_PAGE, MAX_LIST_PAGE)?;
        let id_of = |vc: &serde_json::Value| vc["id"].as_str().unwrap_or_default().to_string();
        let mut all: Vec<(String, serde_json::Value)> = self
            .acting(caller)
            .credentials()
            .await?
            .into_iter()
            .map(|vc| (id_of(&vc), vc))
            .filter(|(id, _)| {
                query
                    .after
                    .as_ref()
                    .is_none_or(|a| id.as_str() > a.as_str())
            })
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        let more = all.len() > limit;
        all.truncate(limit);
        let next_after = all
            .last()
            .filter(|_| more)
            .and_then(|(id, _)| id.parse().ok());
        Ok(ListPage {
            items: all.into_iter().map(|(_, vc)| vc).collect(),
            next_after,
        })
    }

    /// One credential of the caller's passport.
    pub async fn credential(
        &self,
        caller: &Caller,
        id: &CredentialId,
    ) -> ServiceResult<serde_json::Value> {
        Ok(self.acting(caller).credential(id.as_str()).await?)
    }

    /// The VC-JOSE JWT form of a credential the caller issued.
    pub async fn credential_jwt(
        &self,
        caller: &Caller,
        id: &CredentialId,
    ) -> ServiceResult<String> {
        Ok(self.acting(caller).credential_jwt(id.as_str()).await?)
    }

    /// Revokes a credential (an admin of the issuing space).
    pub async fn revoke_credential(
        &self,
        caller: &Caller,
        id: &CredentialId,
    ) -> ServiceResult<ChangeHash> {
        Ok(self.acting(caller).revoke_credential(id.as_str()).await?)
    }

    /// Keeps a credential about the caller after verifying it (without asking this node's
    /// trust policy: keeping one's own credential does not need the node to trust its issuer);
    /// refuses one that fails a check, or whose id is not a `urn:uuid:`.
    pub async fn hold_credential(
        &self,
        caller: &Caller,
        credential: serde_json::Value,
    ) -> ServiceResult<CredentialId> {
        let report = self.verify_report(&credential, false).await?;
        if let Some(c) = report.checks.iter().find(|c| !c.ok) {
            return Err(ServiceError::CredentialRefused {
                check: c.name.clone(),
                detail: c.detail.clone(),
            });
        }
        // A credential without an id is refused by the node, after its subject is checked.
        if let Some(id) = credential["id"].as_str() {
            id.parse::<CredentialId>()
                .map_err(|e| invalid(format!("a credential to keep needs a urn:uuid id: {e}")))?;
        }
        let id = self.acting(caller).hold_credential(credential).await?;
        id.parse::<CredentialId>()
            .map_err(|e| NodeError::Invalid(e.to_string()).into())
    }

    /// Verifies any credential or presentation: offline checks, then what the issuing space
    /// (if hosted here) says about its issuer and revocation, and this node's trust policy.
    pub async fn verify(&self, document: &serde_json::Value) -> ServiceResult<VerifyReport> {
        self.verify_report(document, true).await
    }

    async fn verify_report(
        &self,
        doc: &serde_json::Value,
        trust: bool,
    ) -> ServiceResult<VerifyReport> {
        let now = crate::node::now_ms() as i64 / 1000;
        let mut report = verify_document(doc, None, None, now).await;
        let credentials = if is_presentation(doc) {
            credentials_in(doc)
        } else {
            vec![doc.clone()]
        };
        for vc in credentials {
            report
                .checks
                .extend(self.node.space_checks(vc, trust).await?);
        }
        let verified = report.ok();
        Ok(VerifyReport {
            verified,
            checks: report
                .checks
                .into_iter()
                .map(|c| {
                    let (ok, detail) = match c.outcome {
                        Ok(d) => (true, d),
                        Err(e) => (false, e),
                    };
                    CheckView {
                        name: c.name,
                        ok,
                        detail,
                    }
                })
                .collect(),
        })
    }

    /// The node's trust policy.
    pub async fn trust(&self, _caller: &Caller) -> ServiceResult<Vec<TrustEntry>> {
        Ok(self.node.trust().await?)
    }

    /// Sets an entry of the trust policy; a weight of 0 removes it (operator).
    pub async fn set_trust(&self, caller: &Caller, entry: &TrustEntry) -> ServiceResult<()> {
        Self::operator_only(caller, "changing the trust policy")?;
        let weight = (entry.weight != 0.0).then_some(entry.weight);
        Ok(self.node.set_trust(&entry.issuer, weight).await?)
    }
}

fn multiaddr(raw: &str) -> ServiceResult<Multiaddr> {
    raw.parse()
        .map_err(|e: libp2p::multiaddr::Error| ServiceError::InvalidAddress {
            addr: raw.to_string(),
            reason: e.to_string(),
        })
}
