//! [`Handle`]: the cheap, cloneable front of a running node. Each method sends a [`Command`]
//! to the actor on a bounded channel and awaits its `oneshot` reply.

use std::sync::Arc;
use std::time::Duration;

use libp2p::{Multiaddr, PeerId};
use tim_crdt::admission::Requirement;
use tim_crdt::encryption::{Encryption, History};
use tim_crdt::{MemberPage, PageFrom, Role, Space, Visibility};
use tim_did::credential::Check;
use tim_did::profile_credential::ProfileClaim;
use tim_protocol::api::{
    GossipPeers, Imported, MemberView, NodeStatus, Posted, SpaceEvent, SpaceSummary, Timeline,
    TimelinePage, TimiteView, TrustEntry,
};
use tim_protocol::wire::SyncMessage;
use tim_protocol::{ChangeHash, Did, Envelope, SpaceId};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::abilities::AbilityAct;
use crate::net::NetConfig;
use crate::store::{FlushMode, Store};
use crate::NodeError;

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
    /// The base URL (`http(s)://host[:port]`) at which outside verifiers reach this node's
    /// API: credentials it issues name their status list under it
    /// (`<base>/v1/status-lists/<space>/<issuer>`). `None` for a node without a reachable
    /// API: its credentials name `urn:tim:space:<id>/status`, which only Tim nodes read.
    pub public_url: Option<String>,
}

pub(super) type Reply<T> = oneshot::Sender<Result<T, NodeError>>;

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
    /// Migrate the space to a newer schema version (the `migrate` permission: admins and the
    /// owner; docs/rules.md §4.1).
    Migrate(u64),
    /// Set the space's earned roles, replacing the list (the `meta` permission; docs/
    /// governance.md "Earned roles").
    SetEarnedRoles(Vec<tim_crdt::earned::EarnedRole>),
    /// Set fields of the space's profile (the `meta` permission; schema version 9).
    SetProfile(tim_protocol::api::SetProfile),
    /// Set the space's action budgets, whole (the `meta` permission; schema version 9).
    SetBudgets(tim_protocol::api::Budgets),
    /// Edit one of the acting timite's own messages: its id and new text (schema version 10).
    EditMessage(String, String),
    /// Put (or, with `None`, withdraw) the acting timite's reaction to a message (schema
    /// version 10).
    React(String, Option<String>),
    /// Write the acting timite's own profile, whole, into its member entry (schema version
    /// 11; docs/protocol.md §9.13.1).
    SetMemberProfile(tim_crdt::profiles::Profile),
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
    pub(super) fn name(&self) -> &'static str {
        match self {
            Self::Membership => "membership",
            Self::Reputation => "reputation",
            Self::Ability { .. } => "ability",
        }
    }
}

#[derive(Debug)]
pub(super) enum Command {
    Status(Did, Reply<NodeStatus>),
    Timites(Reply<Vec<TimiteView>>),
    AddTimite(Reply<TimiteView>),
    ListSpaces(Did, Reply<Vec<SpaceSummary>>),
    Space(Did, SpaceId, Reply<SpaceSummary>),
    Create {
        who: Did,
        name: String,
        purpose: String,
        visibility: Visibility,
        ttl: Option<Duration>,
        encryption: Option<Encryption>,
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
    CancelJoin {
        who: Did,
        space: SpaceId,
        reply: Reply<()>,
    },
    Leave {
        who: Did,
        space: SpaceId,
        reply: Reply<bool>,
    },
    Post {
        who: Did,
        space: SpaceId,
        text: String,
        reply_to: Option<String>,
        /// Members mentioned (schema version 11); none for a plain post or reply.
        mentions: Vec<Did>,
        /// A file it carries (schema version 11).
        attachment: Option<tim_crdt::messages::Attachment>,
        reply: Reply<Posted>,
    },
    Timeline(Did, SpaceId, Reply<Timeline>),
    TimelinePage {
        who: Did,
        space: SpaceId,
        from: PageFrom,
        limit: usize,
        reply: Reply<TimelinePage>,
    },
    Members {
        who: Did,
        space: SpaceId,
        after: Option<Did>,
        limit: usize,
        reply: Reply<MemberPage>,
    },
    EditHistory {
        who: Did,
        space: SpaceId,
        message: String,
        reply: Reply<Vec<tim_protocol::api::EditView>>,
    },
    Export(Did, SpaceId, Reply<(Vec<u8>, Vec<Envelope>)>),
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
    StatusList(SpaceId, Did, Reply<serde_json::Value>),
    CheckRevocations(Reply<usize>),
    CheckBadges(Reply<usize>),
    Credentials(Did, Reply<Vec<serde_json::Value>>),
    Credential(Did, String, Reply<serde_json::Value>),
    IssueProfileCredential(Did, ProfileClaim, Reply<serde_json::Value>),
    ExportJwt(Did, String, Reply<String>),
    Trust(Reply<Vec<TrustEntry>>),
    SetTrust(String, Option<f64>, Reply<()>),
    HoldCredential(Did, serde_json::Value, Reply<String>),
    SpaceChecks(serde_json::Value, bool, Reply<Vec<Check>>),
    DisconnectAll(Reply<usize>),
    Payload {
        space: SpaceId,
        hash: tim_protocol::payload::PayloadHash,
        only: Option<PeerId>,
        reply: Reply<Vec<u8>>,
    },
    NetworkSearch {
        query: String,
        limit: usize,
        reply: Reply<Vec<crate::index::NetworkHit>>,
    },
    Availability(Vec<Did>, Reply<Vec<Option<bool>>>),
    GossipPeers(SpaceId, Reply<GossipPeers>),
    Ability {
        who: Did,
        space: SpaceId,
        act: AbilityAct,
        reply: Reply<(ChangeHash, Option<String>)>,
    },
    Read {
        who: Did,
        space: SpaceId,
        read: SpaceRead,
    },
    Shutdown(Reply<()>),
}

/// A read of one space on the node's loop ([`Handle::read_space`]): given the space (or why
/// the acting timite may not read it), it reads what it needs and gives back how to answer
/// once what it read is on disk.
pub(super) struct SpaceRead(pub(super) Box<dyn FnOnce(Readable<'_>) -> ReadAnswer + Send>);

/// What a [`SpaceRead`] is given: the space, or why the acting timite may not read it.
pub(super) type Readable<'a> = Result<&'a Space, NodeError>;

/// How a [`SpaceRead`] answers, told whether the flush after it worked.
pub(super) type ReadAnswer = Box<dyn FnOnce(Result<(), NodeError>) + Send>;

impl std::fmt::Debug for SpaceRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SpaceRead")
    }
}

/// A cheap, cloneable handle to a running node. The node stops when every handle is dropped.
#[derive(Debug, Clone)]
pub struct Handle {
    pub(super) tx: mpsc::Sender<Command>,
    pub(super) events: broadcast::Sender<SpaceEvent>,
    pub(super) node_did: Did,
    pub(super) timite: Did,
    pub(super) store: Store,
    pub(super) registries: Arc<crate::metrics::Registries>,
}

/// Gives up a timite's join when dropped armed: the future waiting for the join was dropped
/// (its API caller went away), so no phantom space is left behind.
struct GiveUpJoin {
    tx: Option<mpsc::Sender<Command>>,
    who: Did,
    space: SpaceId,
}

impl GiveUpJoin {
    /// The join was answered (or timed out, and its caller gives it up itself).
    fn disarm(mut self) {
        self.tx = None;
    }
}

impl Drop for GiveUpJoin {
    fn drop(&mut self) {
        let (Some(tx), Ok(runtime)) = (self.tx.take(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        let (who, space) = (self.who, self.space);
        runtime.spawn(async move {
            let (reply, answered) = oneshot::channel();
            if tx
                .send(Command::CancelJoin { who, space, reply })
                .await
                .is_ok()
            {
                let _ = answered.await;
            }
        });
    }
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
        crate::metrics::encode(&self.registries)
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

    /// Hosted spaces the hosted timite may read (a private space only if it is a member).
    pub async fn spaces(&self) -> Result<Vec<SpaceSummary>, NodeError> {
        self.call(|r| Command::ListSpaces(self.timite, r)).await
    }

    /// One hosted space. Reads answer [`NodeError::UnknownSpace`] for a private space the
    /// hosted timite may not read (`docs/privacy.md`), as they do for one not hosted.
    pub async fn space(&self, space: SpaceId) -> Result<SpaceSummary, NodeError> {
        self.call(|r| Command::Space(self.timite, space, r)).await
    }

    /// Creates a public space with the hosted timite as owner; returns once it is durable.
    pub async fn create_space(&self, name: &str, purpose: &str) -> Result<SpaceSummary, NodeError> {
        self.create_space_with(name, purpose, Visibility::Public, None)
            .await
    }

    /// Creates a space with a visibility; an ephemeral one needs a time to live. An
    /// invite-only space is end-to-end encrypted, with history shared with newcomers
    /// (docs/privacy.md).
    pub async fn create_space_with(
        &self,
        name: &str,
        purpose: &str,
        visibility: Visibility,
        ttl: Option<Duration>,
    ) -> Result<SpaceSummary, NodeError> {
        let encryption = (visibility == Visibility::InviteOnly).then_some(Encryption {
            history: History::Shared,
            dm: false,
        });
        self.create(name, purpose, visibility, ttl, encryption)
            .await
    }

    /// Creates an invite-only space, end-to-end encrypted as `encryption` says, or not at all
    /// (`None`: members' nodes and the nodes they sync with read it in the clear).
    pub async fn create_private_space(
        &self,
        name: &str,
        purpose: &str,
        encryption: Option<Encryption>,
    ) -> Result<SpaceSummary, NodeError> {
        self.create(name, purpose, Visibility::InviteOnly, None, encryption)
            .await
    }

    async fn create(
        &self,
        name: &str,
        purpose: &str,
        visibility: Visibility,
        ttl: Option<Duration>,
        encryption: Option<Encryption>,
    ) -> Result<SpaceSummary, NodeError> {
        self.call(|reply| Command::Create {
            who: self.timite,
            name: name.to_string(),
            purpose: purpose.to_string(),
            visibility,
            ttl,
            encryption,
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

    /// Issues the hosted timite's self-issued profile credential saying `claim`, keeps it in
    /// its passport in place of the older one, and answers it once durable.
    pub async fn issue_profile_credential(
        &self,
        claim: ProfileClaim,
    ) -> Result<serde_json::Value, NodeError> {
        self.call(|r| Command::IssueProfileCredential(self.timite, claim, r))
            .await
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

    /// Checks revocations now rather than at the next period: fetches the status lists that
    /// members' presented credentials name and posts a notice of each that revokes one
    /// (docs/passports.md). Answers how many notices it posted, once the lists are back.
    pub async fn check_revocations(&self) -> Result<usize, NodeError> {
        self.call(Command::CheckRevocations).await
    }

    /// Issues now the badges due in the spaces this node hosts an admin of
    /// (docs/abilities.md §13), as it does after each applied rating. Answers how many it
    /// started; each is recorded in its space at once and stored once signed.
    pub async fn check_badges(&self) -> Result<usize, NodeError> {
        self.call(Command::CheckBadges).await
    }

    /// `issuer`'s signed status list (a `BitstringStatusListCredential`) for the credentials
    /// it issued in `space`, if this node holds the issuer's key and has a public URL.
    pub async fn status_list(
        &self,
        space: SpaceId,
        issuer: Did,
    ) -> Result<serde_json::Value, NodeError> {
        self.call(|r| Command::StatusList(space, issuer, r)).await
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
        // A caller that stops waiting (a closed API connection) gives the join up too.
        let abandoned = GiveUpJoin {
            tx: Some(self.tx.clone()),
            who: self.timite,
            space,
        };
        let waited = tokio::time::timeout(timeout, call).await;
        abandoned.disarm();
        let Ok(joined) = waited else {
            // Give the join up, so that a space whose history never came is not kept.
            let _ = self
                .call(|reply| Command::CancelJoin {
                    who: self.timite,
                    space,
                    reply,
                })
                .await;
            return Err(NodeError::Timeout(format!(
                "no host of space {space} answered within {}s; pass --via with the address of a \
                 node that hosts it (an invite-only space is not announced, and its hosts answer \
                 only its members and invitees)",
                timeout.as_secs()
            )));
        };
        joined
    }

    /// Leaves a space: removes the hosted timite's own member entry (the rules refuse the
    /// owner, with the reason), gives up its join if that never completed, and drops the
    /// space (unhosted, deleted from the store) if no hosted timite is a member any more.
    /// Returns the change that removed the entry, if any, and whether the space was dropped.
    pub async fn leave(&self, space: SpaceId) -> Result<(Option<ChangeHash>, bool), NodeError> {
        let (change, not_joined) = match self.moderate(space, Act::Kick(self.timite)).await {
            Ok(h) => (Some(h), None),
            // No history yet (a join under way or abandoned): there is no entry to remove.
            Err(e @ (NodeError::NotReady(_) | NodeError::UnknownSpace(_))) => (None, Some(e)),
            Err(e) => return Err(e),
        };
        let dropped = self
            .call(|reply| Command::Leave {
                who: self.timite,
                space,
                reply,
            })
            .await?;
        match not_joined {
            // Neither a member nor joining: the caller had nothing to leave.
            Some(e) if !dropped => Err(e),
            _ => Ok((change, dropped)),
        }
    }

    /// Posts a message as the hosted timite; returns once it is durable.
    pub async fn post(&self, space: SpaceId, text: &str) -> Result<Posted, NodeError> {
        self.call(|reply| Command::Post {
            who: self.timite,
            space,
            text: text.to_string(),
            reply_to: None,
            mentions: Vec::new(),
            attachment: None,
            reply,
        })
        .await
    }

    /// Posts a message that mentions `mentions` and carries `attachment` as the hosted
    /// timite (schema version 11), replying to `reply_to` if given; returns once it is durable.
    pub async fn post_mentioning(
        &self,
        space: SpaceId,
        text: &str,
        reply_to: Option<&str>,
        mentions: Vec<Did>,
        attachment: Option<tim_crdt::messages::Attachment>,
    ) -> Result<Posted, NodeError> {
        self.call(|reply| Command::Post {
            who: self.timite,
            space,
            text: text.to_string(),
            reply_to: reply_to.map(String::from),
            mentions,
            attachment,
            reply,
        })
        .await
    }

    /// Posts a reply to message `parent` as the hosted timite (schema version 10); returns
    /// once it is durable.
    pub async fn reply(
        &self,
        space: SpaceId,
        parent: &str,
        text: &str,
    ) -> Result<Posted, NodeError> {
        self.call(|reply| Command::Post {
            who: self.timite,
            space,
            text: text.to_string(),
            reply_to: Some(parent.to_string()),
            mentions: Vec::new(),
            attachment: None,
            reply,
        })
        .await
    }

    /// The whole timeline of a space, oldest first (the API serves it a page at a time:
    /// [`Handle::timeline_page`]).
    pub async fn timeline(&self, space: SpaceId) -> Result<Timeline, NodeError> {
        self.call(|r| Command::Timeline(self.timite, space, r))
            .await
    }

    /// Up to `limit` messages of a space's timeline from `from`, newest first, with the
    /// cursors of the pages on either side; reads only those messages, however long the
    /// timeline. A cursor that names no message of the timeline is
    /// [`NodeError::UnknownMessage`].
    pub async fn timeline_page(
        &self,
        space: SpaceId,
        from: PageFrom,
        limit: usize,
    ) -> Result<TimelinePage, NodeError> {
        self.call(|reply| Command::TimelinePage {
            who: self.timite,
            space,
            from,
            limit,
            reply,
        })
        .await
    }

    /// Every version of a message's text that the hosted timite may read, oldest first
    /// ([`crate::engine::Engine::edit_history`]).
    pub async fn edit_history(
        &self,
        space: SpaceId,
        message: &str,
    ) -> Result<Vec<tim_protocol::api::EditView>, NodeError> {
        self.call(|reply| Command::EditHistory {
            who: self.timite,
            space,
            message: message.to_string(),
            reply,
        })
        .await
    }

    /// Every member of a space, sorted by DID.
    pub async fn members(&self, space: SpaceId) -> Result<Vec<MemberView>, NodeError> {
        Ok(self.members_page(space, None, usize::MAX).await?.members)
    }

    /// Up to `limit` members of a space whose DIDs sort after `after`, with the cursor of the
    /// next page.
    pub async fn members_page(
        &self,
        space: SpaceId,
        after: Option<Did>,
        limit: usize,
    ) -> Result<MemberPage, NodeError> {
        self.call(|reply| Command::Members {
            who: self.timite,
            space,
            after,
            limit,
            reply,
        })
        .await
    }

    /// The Automerge document of a space and the envelope of every change in it.
    pub async fn export(&self, space: SpaceId) -> Result<(Vec<u8>, Vec<Envelope>), NodeError> {
        self.call(|r| Command::Export(self.timite, space, r)).await
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

    /// Performs a write about abilities as the hosted timite; returns the change (and the id
    /// of the request it made, if any) once durable.
    pub async fn ability(
        &self,
        space: SpaceId,
        act: AbilityAct,
    ) -> Result<(ChangeHash, Option<String>), NodeError> {
        self.call(|reply| Command::Ability {
            who: self.timite,
            space,
            act,
            reply,
        })
        .await
    }

    /// Reads a space the hosted timite may read with `read`, on the node's loop; answers once
    /// what it read is on disk. A private space it may not read is
    /// [`NodeError::UnknownSpace`], as for [`Handle::space`].
    pub async fn read_space<T: Send + 'static>(
        &self,
        space: SpaceId,
        read: impl FnOnce(&Space) -> T + Send + 'static,
    ) -> Result<T, NodeError> {
        self.call(|reply| Command::Read {
            who: self.timite,
            space,
            read: SpaceRead(Box::new(move |s: Readable<'_>| -> ReadAnswer {
                let value = s.map(read);
                Box::new(move |flushed: Result<(), NodeError>| {
                    drop(reply.send(flushed.and(value)));
                })
            })),
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

    /// The node's gossipsub mesh and known subscribers for a space's topic.
    pub async fn gossip_peers(&self, space: SpaceId) -> Result<GossipPeers, NodeError> {
        self.call(|r| Command::GossipPeers(space, r)).await
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

    /// Makes the node's store refuse writes of credentials (or accept them again), while it
    /// still writes changes: fault injection for tests.
    #[cfg(feature = "test-utils")]
    pub fn fail_credential_writes(&self, on: bool) {
        self.store.fail_credential_writes(on);
    }

    /// Providers of abilities matching `query` across the network, best first, at most
    /// `limit`: from the verified index records of every node (this one's too), each with the
    /// space and the addresses of the node to join through (`crate::index`). Answered
    /// locally, without asking peers.
    pub async fn network_search(
        &self,
        query: &str,
        limit: usize,
    ) -> Result<Vec<crate::index::NetworkHit>, NodeError> {
        let query = query.to_string();
        self.call(|reply| Command::NetworkSearch {
            query,
            limit,
            reply,
        })
        .await
    }

    /// Whether each provider's node is reachable from this one, as far as this node knows
    /// (hosted here, or listed in the index record of a connected node; `None`: unknown).
    pub async fn availability(&self, providers: Vec<Did>) -> Result<Vec<Option<bool>>, NodeError> {
        self.call(|reply| Command::Availability(providers, reply))
            .await
    }

    /// The payload `hash` of `space` held out of band (docs/abilities.md §14): from this
    /// node's store, else fetched from the peers hosting the space (each in turn, then again
    /// after a backoff), checked against its hash and stored. Fails with
    /// [`NodeError::NotFound`] saying why once every round failed.
    pub async fn payload(
        &self,
        space: SpaceId,
        hash: tim_protocol::payload::PayloadHash,
    ) -> Result<Vec<u8>, NodeError> {
        self.payload_from(space, hash, None).await
    }

    /// [`Handle::payload`], asking only `peer` if it is not in the store.
    pub async fn payload_from(
        &self,
        space: SpaceId,
        hash: tim_protocol::payload::PayloadHash,
        only: Option<PeerId>,
    ) -> Result<Vec<u8>, NodeError> {
        self.call(|reply| Command::Payload {
            space,
            hash,
            only,
            reply,
        })
        .await
    }

    /// Keeps `bytes` as a payload of `space` held out of band, before a change names it: the
    /// change's flush makes both durable, so nothing naming it leaves the node before the
    /// bytes are on disk. Returns its reference.
    pub fn put_payload(
        &self,
        space: SpaceId,
        bytes: &[u8],
    ) -> Result<tim_crdt::abilities::PayloadRef, NodeError> {
        let max = tim_protocol::payload::MAX_PAYLOAD_BYTES;
        if bytes.len() as u64 > max {
            return Err(NodeError::Invalid(format!(
                "a payload is at most {max} bytes; this one is {}",
                bytes.len()
            )));
        }
        let payload = tim_crdt::abilities::PayloadRef::of(bytes);
        self.store.put_payload(&space, &payload.hash, bytes)?;
        Ok(payload)
    }

    /// Overwrites a stored payload with other bytes, as a faulty disk or a dishonest node
    /// would (tests of the fetcher's hash check).
    #[cfg(feature = "test-utils")]
    pub fn corrupt_payload(
        &self,
        space: SpaceId,
        hash: tim_protocol::payload::PayloadHash,
        bytes: &[u8],
    ) -> Result<(), NodeError> {
        Ok(self.store.put_payload(&space, &hash, bytes)?)
    }

    /// Live events of every hosted space.
    pub fn subscribe(&self) -> broadcast::Receiver<SpaceEvent> {
        self.events.subscribe()
    }
}
