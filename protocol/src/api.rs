//! JSON types of a node's HTTP API, shared by the node, the CLI and the testnet.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{ChangeHash, CredentialId, Did, MessageId, SpaceId};

mod abilities;
pub use abilities::*;
mod chains;
pub use chains::*;
mod memory;
pub use memory::*;
mod personas;
pub use personas::*;
mod agents;
pub use agents::*;
mod balances;
pub use balances::*;
mod proposals;
pub use proposals::*;
mod profiles;
pub use profiles::*;
mod people;
pub use people::*;

/// `GET /v1/status`: who this node is and where it listens.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct NodeStatus {
    /// The node's DID (same key as its libp2p PeerId).
    pub node_did: Did,
    /// The node's libp2p PeerId.
    pub peer_id: String,
    /// The timite this node hosts and acts for.
    pub timite: Did,
    /// The node's listen addresses, each ending in `/p2p/<peer id>`.
    pub listen: Vec<String>,
    /// Peers currently connected.
    pub connected_peers: usize,
    /// Spaces hosted.
    pub spaces: usize,
    /// Incoming changes refused since the node started.
    pub rejected_changes: u64,
    /// Software version.
    pub version: String,
}

/// `GET /v1/peers/gossip/{space}` (operator): the node's gossipsub view of one space, which
/// `/metrics` does not break down by space.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct GossipPeers {
    /// Peers in the node's mesh for the space's topic.
    pub mesh: usize,
    /// Connected peers known to subscribe to the space's topic.
    pub subscribed: usize,
}

/// A space as listed by `GET /v1/spaces`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct SpaceSummary {
    /// The space id.
    pub id: SpaceId,
    /// Its name.
    pub name: String,
    /// Its purpose, possibly empty.
    pub purpose: String,
    /// The creator.
    pub created_by: Did,
    /// Creation time, milliseconds since the Unix epoch, as the creator's node stated it.
    pub created_at: u64,
    /// Number of members.
    pub members: usize,
    /// Number of messages in the timeline.
    pub messages: usize,
    /// The document's current heads, sorted.
    pub heads: Vec<ChangeHash>,
    /// Who may join: `public`, `invite-only` or `ephemeral`.
    pub visibility: String,
    /// When an ephemeral space is deleted everywhere, milliseconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    /// What joiners must present, in words (empty: nothing).
    #[serde(default)]
    pub requirements: Vec<String>,
    /// Messages are end-to-end encrypted: only members' nodes read them (docs/privacy.md).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub encrypted: bool,
    /// A direct-message space between two timites (`tim dm`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dm: bool,
    /// The asking timite is a member of this encrypted space, but the group's keys have not
    /// reached it yet: it reads and writes once a member's node adds it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub keys_pending: bool,
    /// Someone who is no longer a member still holds the group's current secret: what is
    /// written now stays readable to them until a member's node rotates it (docs/privacy.md
    /// §4.4). Only for a member of an encrypted space.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rotation_pending: bool,
    /// Its schema version (`meta.version`, docs/rules.md §4.1).
    #[serde(default)]
    pub schema_version: u64,
    /// Its profile: kind, style, initiative and requirements (docs/governance.md "Space
    /// profiles"); absent when none is set.
    #[serde(default, skip_serializing_if = "SpaceProfile::is_empty")]
    pub profile: SpaceProfile,
    /// Messages by others after the acting timite's read marker (`POST
    /// /v1/spaces/{id}/read`; all of them if it marked none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unread: u64,
    /// Of those, the ones that mention it (docs/protocol.md §9.13.2).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unread_mentions: u64,
}

/// `POST /v1/spaces`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct CreateSpace {
    /// Name, 1 to 200 bytes.
    pub name: String,
    /// Purpose, up to 2000 bytes.
    #[serde(default)]
    pub purpose: String,
    /// `public` (default), `invite-only` or `ephemeral`.
    #[serde(default)]
    pub visibility: Option<String>,
    /// Time to live of an ephemeral space, in seconds (required for, and only for, ephemeral).
    #[serde(default)]
    pub ttl_secs: Option<u64>,
    /// Whether an invite-only space is end-to-end encrypted (docs/privacy.md): default yes;
    /// `false` keeps it readable by the nodes its members' nodes sync with. Other spaces are
    /// never encrypted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted: Option<bool>,
}

/// `POST /v1/spaces/{id}/invites`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct InviteRequest {
    /// The timite invited.
    pub did: Did,
    /// How long the invite stays valid, in seconds (default 7 days).
    #[serde(default)]
    pub expires_in_secs: Option<u64>,
}

/// `PUT /v1/spaces/{id}/members/{did}/role`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct SetRole {
    /// `admin`, `moderator`, `member`, `guest` or `banned`.
    pub role: String,
}

/// `POST /v1/spaces/{id}/ratings`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct RateRequest {
    /// The member rated.
    pub did: Did,
    /// 1 to 5.
    pub score: u8,
}

/// `POST /v1/spaces/{id}/credentials`: issue a credential in the space's name.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct IssueRequest {
    /// The subject.
    pub subject: Did,
    /// `membership`, `reputation` or `ability`.
    pub kind: String,
    /// For `ability`: the ability's name.
    #[serde(default)]
    pub ability: Option<String>,
    /// For `ability`: its level.
    #[serde(default)]
    pub level: Option<String>,
    /// How long it stays valid, in seconds (no expiry if absent).
    #[serde(default)]
    pub valid_for_secs: Option<u64>,
}

/// One check of a verification.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct CheckView {
    /// What was checked.
    pub name: String,
    /// Whether it passed.
    pub ok: bool,
    /// What was found, or why it failed.
    pub detail: String,
}

/// `POST /v1/passport/verify` answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct VerifyReport {
    /// Whether every check passed.
    pub verified: bool,
    /// Every check, in order.
    pub checks: Vec<CheckView>,
}

/// The answer to a moderation act (invite, role, kick, ban, delete).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct Done {
    /// The hash of the signed change that made it.
    pub change: ChangeHash,
}

/// `POST /v1/spaces/{id}/migrate`: the schema version to migrate to (default: the newest the
/// node knows).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default, ToSchema)]
pub struct Migrate {
    /// The version; absent for the newest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<u64>,
}

/// The answer to a migration.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct Migrated {
    /// The version the space was at.
    pub from: u64,
    /// The version it is at now.
    pub to: u64,
    /// The hash of the signed change that migrated it.
    pub change: ChangeHash,
}

/// `POST /v1/spaces/{id}/join`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default, ToSchema)]
pub struct JoinSpace {
    /// Multiaddrs of peers to ask first (each with `/p2p/<peer id>`); Kademlia is asked too.
    #[serde(default)]
    pub via: Vec<String>,
    /// Ids of credentials (in this node's passport) to present for the space's requirements.
    #[serde(default)]
    pub present: Vec<String>,
    /// How long to wait for a host to answer, in seconds (default 30, at most 300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(maximum = 300)]
    pub timeout_secs: Option<u64>,
}

/// The answer to `POST /v1/spaces/{id}/leave`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct SpaceLeft {
    /// The space.
    pub space: SpaceId,
    /// The signed change that removed the timite's member entry; none if its join had not
    /// completed (there was no entry to remove).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<ChangeHash>,
    /// Whether the node stopped hosting the space and deleted its copy (no timite it hosts
    /// is a member any more, and none is joining).
    pub dropped: bool,
}

/// `POST /v1/spaces/{id}/messages`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct PostMessage {
    /// The text, 1 to 16 KiB.
    pub text: String,
    /// The id of the message this one replies to (schema version 10, docs/protocol.md §9.12).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// Members it mentions, at most 32 (schema version 11, docs/protocol.md §9.13.2): each is
    /// notified.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<Did>,
    /// A file it carries (schema version 11, docs/protocol.md §9.13.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<NewAttachment>,
}

/// A file a new message carries (schema version 11): at most 64 KiB.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct NewAttachment {
    /// Its file name: 1 to 128 characters, no path separator or control character.
    pub name: String,
    /// Its media type, `type/subtype`.
    pub mime: String,
    /// Its bytes, base64 (standard alphabet, padded).
    #[serde(with = "base64_bytes")]
    #[schema(value_type = String, format = Byte)]
    pub data: Vec<u8>,
}

/// Bytes as base64 text in JSON.
mod base64_bytes {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(serde::de::Error::custom)
    }
}

/// What `MessageView.attachment` says of a message's file (schema version 11).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct AttachmentView {
    /// Its file name.
    pub name: String,
    /// Its media type.
    pub mime: String,
    /// Its size in bytes.
    pub size: u64,
}

/// `PUT /v1/spaces/{id}/messages/{mid}`: its author's new text; the previous text is kept in
/// the message's edit history (schema version 10).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct EditMessage {
    /// The new text, 1 to 16 KiB.
    pub text: String,
}

/// `POST /v1/spaces/{id}/messages/{mid}/reactions`: the caller's reaction (schema version
/// 10); it replaces the caller's earlier reaction to the message.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct React {
    /// An emoji, 1 to 32 bytes, without spaces or control characters.
    pub emoji: String,
}

/// One emoji's reactions to a message.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct ReactionView {
    /// The emoji.
    pub emoji: String,
    /// How many timites reacted with it.
    pub count: u64,
    /// Who, sorted by DID.
    pub by: Vec<Did>,
}

/// A message and its replies, and theirs: what `GET /v1/spaces/{id}/messages/{mid}/thread`
/// answers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct Thread {
    /// The message the thread starts at.
    pub root: MessageView,
    /// Its replies, direct and indirect, in timeline order.
    pub replies: Vec<MessageView>,
}

/// One version of a message's text in its edit history.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct EditView {
    /// The text (empty when it is `unreadable`).
    pub text: String,
    /// When it was written (milliseconds since the Unix epoch): the message's time for the
    /// original, the time of the edit that wrote it for a later version.
    pub at: u64,
    /// In an end-to-end encrypted space, why the reader cannot decrypt this version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
}

/// `GET /v1/spaces/{id}/messages/{mid}/edits`: every version of a message's text, oldest
/// first: the original, then what each edit wrote, the last being its text now
/// (docs/protocol.md §9.12).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct EditHistory {
    /// The space.
    pub space: SpaceId,
    /// The message's id.
    pub message: String,
    /// The versions, oldest first; one for a message never edited.
    pub edits: Vec<EditView>,
}

/// `GET /v1/spaces/{id}/search?q=`: the messages whose text contains the query, ignoring
/// case, newest first, a page at a time.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct SearchPage {
    /// The space.
    pub space: SpaceId,
    /// The matching messages, newest first.
    pub messages: Vec<MessageView>,
    /// The oldest message of the page, when older matches may exist: pass it as `before` for
    /// the next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_before: Option<String>,
}

/// `POST /v1/dms`: a direct message.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct DirectMessageRequest {
    /// To whom.
    pub to: Did,
    /// The text, 1 to 16 KiB.
    pub text: String,
}

/// The answer to a direct message: the two timites' encrypted space, and the post.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct DirectMessage {
    /// The direct-message space (end-to-end encrypted, invite-only, two members).
    pub space: SpaceId,
    /// The space was made by this message (and the other timite invited to it).
    pub created: bool,
    /// The other timite has not joined yet: it reads the message once it joins.
    pub waiting: bool,
    /// The post.
    pub posted: Posted,
}

/// The answer to a post: returned only once the change is flushed to disk.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct Posted {
    /// The message id (the Automerge object id of its timeline entry).
    pub id: String,
    /// The hash of the signed change that added it.
    pub change: ChangeHash,
    /// The time it was posted, milliseconds since the Unix epoch.
    pub at: u64,
}

/// One message of a timeline.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct MessageView {
    /// The message id, stable across nodes.
    pub id: String,
    /// The author.
    pub author: Did,
    /// The text: in an end-to-end encrypted space, what the reading timite decrypted (empty
    /// when it cannot, with `unreadable` saying why).
    pub text: String,
    /// When the author's node says it was posted, milliseconds since the Unix epoch.
    pub at: u64,
    /// The message is end-to-end encrypted: stored and relayed as ciphertext
    /// (docs/privacy.md).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub encrypted: bool,
    /// Why the reading timite cannot decrypt an encrypted message (e.g. written before it
    /// joined a space that keeps history from newcomers, or its keys have not arrived yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
    /// The id of the message this one replies to (docs/protocol.md §9.12).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// How many times its author edited it.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub edits: u64,
    /// When its author last edited it, milliseconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<u64>,
    /// Its reactions, by emoji (most first, then by emoji).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<ReactionView>,
    /// The author's profile name at the reader's heads (docs/protocol.md §9.13.1), when it
    /// has set one; names are not unique, the DID is who wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_name: Option<String>,
    /// The members it mentions (schema version 11, docs/protocol.md §9.13.2).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<Did>,
    /// The file it carries (schema version 11, docs/protocol.md §9.13.3); its bytes are at
    /// `GET /v1/spaces/{id}/messages/{mid}/attachment`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<AttachmentView>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A space's whole timeline, oldest first: what a node holds, and what a client gets by reading
/// every page of `GET /v1/spaces/{id}/messages` ([`TimelinePage`]).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct Timeline {
    /// The space.
    pub space: SpaceId,
    /// The document heads this view was read at.
    pub heads: Vec<ChangeHash>,
    /// Messages in timeline order.
    pub messages: Vec<MessageView>,
}

/// Messages in a timeline page unless the request's `limit` says otherwise.
pub const DEFAULT_TIMELINE_PAGE: usize = 50;
/// Most messages one timeline page holds.
pub const MAX_TIMELINE_PAGE: usize = 500;
/// Entries in a page of members or credentials unless the request's `limit` says otherwise,
/// and at most.
pub const MAX_LIST_PAGE: usize = 1000;

/// The query of `GET /v1/spaces/{id}/messages`: which page of the timeline. With neither
/// `before` nor `after`, the newest messages.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TimelineQuery {
    /// How many messages, 1 to 500 (default 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<usize>,
    /// The messages just older than this one (a page's `next_before`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<MessageId>,
    /// The messages just newer than this one (a page's `next_after`, or the newest message a
    /// reader has): the `limit` oldest of them, listed newest first like every page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<MessageId>,
}

/// The query of `GET /v1/spaces/{id}/search`: what to look for, and which page.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// The text to find in messages, ignoring case.
    pub q: String,
    /// How many matches, 1 to 100 (default 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<usize>,
    /// Matches older than this message (a page's `next_before`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<MessageId>,
}

/// `GET /v1/spaces/{id}/messages`: a page of the timeline, newest first, with the cursors of
/// the pages on either side.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct TimelinePage {
    /// The space.
    pub space: SpaceId,
    /// The document heads this page was read at.
    pub heads: Vec<ChangeHash>,
    /// Messages, newest first.
    pub messages: Vec<MessageView>,
    /// The oldest message of this page, when older messages exist: pass it as `before` for
    /// the next older page. `null` when this page reaches the start of the timeline (or is
    /// empty).
    pub next_before: Option<MessageId>,
    /// The newest message of this page, when newer messages exist: pass it as `after` for the
    /// next newer page. `null` when this page reaches the newest message (or is empty: after
    /// the newest message, ask again later with the same `after`).
    pub next_after: Option<MessageId>,
}

/// The query of `GET /v1/spaces/{id}/members`: members sorted by DID, a page at a time. The
/// next page's address is in the answer's `Link` header (`rel="next"`), absent on the last.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MembersQuery {
    /// How many members, 1 to 1000 (default 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    /// The members whose DIDs sort after this one (the last DID of the previous page; it need
    /// not be a member).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Did>,
}

/// The query of `GET /v1/passport`: credentials sorted by id, a page at a time. The next
/// page's address is in the answer's `Link` header (`rel="next"`), absent on the last.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CredentialsQuery {
    /// How many credentials, 1 to 1000 (default 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    /// The credentials whose ids sort after this one (the last id of the previous page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<CredentialId>,
}

/// A member of a space.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct MemberView {
    /// The member.
    pub did: Did,
    /// Their role.
    pub role: String,
    /// When they joined, milliseconds since the Unix epoch.
    pub joined_at: u64,
    /// Reputation the member brought from other spaces (the reputation credentials in its join
    /// presentation), weighted by this node's trust policy; absent when none counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported_reputation: Option<f64>,
    /// Reputation earned in this space (docs/reputation.md).
    #[serde(default)]
    pub reputation: u64,
    /// Abilities the member declares in this space.
    #[serde(default)]
    pub abilities: Vec<String>,
    /// Why the member is no longer admitted, when revocation notices undid the admission its
    /// join presentation earned (its `role` then reads `banned`; docs/passports.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_longer_admitted: Option<String>,
    /// How the member holds `role`: assigned by its member entry, or earned by meeting a
    /// threshold of the space's earned roles (docs/governance.md, "Earned roles").
    #[serde(default)]
    pub held: RoleHeld,
    /// The role its member entry assigns, when an earned role outranks it (`role` is then
    /// the earned one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_role: Option<String>,
    /// The threshold the member meets that earns it `role`, when `held` is `earned`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub earned_by: Option<EarnedRole>,
    /// The member's profile name in this space (docs/protocol.md §9.13.1), when it has set
    /// one; names are not unique.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// How a member holds its role (docs/governance.md, "Earned roles").
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoleHeld {
    /// Its member entry assigns it.
    #[default]
    Assigned,
    /// Its reputation meets a threshold of the space's earned roles.
    Earned,
}

/// One threshold of a space's earned roles (`meta.earned_roles`, docs/governance.md): a
/// member whose reputation meets it holds `role`. Exactly one of `min_reputation`, or
/// `ability` with `min_ability_reputation`, is set.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EarnedRole {
    /// The role earned: `moderator`, `member`, or a role the space defines below `admin`.
    pub role: String,
    /// The reputation score (points) that earns it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_reputation: Option<u64>,
    /// The ability whose reputation earns it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ability: Option<String>,
    /// The reputation in `ability` (points of rated outcomes, docs/reputation.md) that earns
    /// it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_ability_reputation: Option<u64>,
}

/// `PUT /v1/spaces/{id}/earned-roles` body: the space's whole new list of thresholds (empty:
/// no role is earned).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct SetEarnedRoles {
    /// The thresholds, at most 16.
    pub earned_roles: Vec<EarnedRole>,
}

/// One entry of a node's trust policy.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct TrustEntry {
    /// An issuing space (`urn:tim:space:<id>`) or an issuer DID.
    pub issuer: String,
    /// How much its credentials count (0 to 1; 0 = not at all).
    pub weight: f64,
}

/// `POST /v1/spaces/import` answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct Imported {
    /// The space imported.
    pub space: SpaceId,
    /// Changes that were new to this node.
    pub applied: usize,
    /// Changes this node already had.
    pub known: usize,
}

/// An event on `GET /v1/spaces/{id}/events` (server-sent events, one JSON object per event).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum SpaceEvent {
    /// A message was added to the timeline (locally or from another node).
    Message {
        /// The space.
        space: SpaceId,
        /// The message.
        message: MessageView,
    },
    /// A timite joined.
    Joined {
        /// The space.
        space: SpaceId,
        /// The new member.
        member: MemberView,
    },
    /// A member's role changed (a ban is the role `banned`).
    RoleChanged {
        /// The space.
        space: SpaceId,
        /// The member.
        did: Did,
        /// The new role.
        role: String,
    },
    /// A member left or was removed.
    Removed {
        /// The space.
        space: SpaceId,
        /// The former member.
        did: Did,
    },
    /// A message was deleted.
    MessageDeleted {
        /// The space.
        space: SpaceId,
    },
    /// A message's author edited it (docs/protocol.md §9.12).
    MessageEdited {
        /// The space.
        space: SpaceId,
        /// The message, as it is now.
        message: MessageView,
    },
    /// A member reacted to a message, or withdrew its reaction.
    Reacted {
        /// The space.
        space: SpaceId,
        /// The message, as it is now.
        message: MessageView,
    },
    /// A request for an ability was made.
    RequestCreated {
        /// The space.
        space: SpaceId,
        /// The request, as it is now.
        request: AbilityRequest,
    },
    /// A provider claimed a request.
    RequestClaimed {
        /// The space.
        space: SpaceId,
        /// The request, as it is now.
        request: AbilityRequest,
    },
    /// The claimant posted progress on a request.
    RequestProgress {
        /// The space.
        space: SpaceId,
        /// The request, as it is now.
        request: AbilityRequest,
    },
    /// A claimant posted a result (`request.state` is `completed` unless it lost a
    /// concurrent claim).
    RequestCompleted {
        /// The space.
        space: SpaceId,
        /// The request, as it is now.
        request: AbilityRequest,
    },
    /// A claimant posted a failure.
    RequestFailed {
        /// The space.
        space: SpaceId,
        /// The request, as it is now.
        request: AbilityRequest,
    },
    /// The requester cancelled a request.
    RequestCancelled {
        /// The space.
        space: SpaceId,
        /// The request, as it is now.
        request: AbilityRequest,
    },
    /// The requester rated an outcome.
    RequestRated {
        /// The space.
        space: SpaceId,
        /// The request, as it is now.
        request: AbilityRequest,
    },
    /// A chain was made.
    ChainCreated {
        /// The space.
        space: SpaceId,
        /// The chain, as it is now.
        chain: ChainView,
    },
    /// A step of a running chain was asked, claimed, or completed (the next step is due).
    ChainProgress {
        /// The space.
        space: SpaceId,
        /// The chain, as it is now.
        chain: ChainView,
    },
    /// A chain's last step completed: its output is the chain's.
    ChainCompleted {
        /// The space.
        space: SpaceId,
        /// The chain, as it is now.
        chain: ChainView,
    },
    /// A chain failed: a step failed, or its input could not be built.
    ChainFailed {
        /// The space.
        space: SpaceId,
        /// The chain, as it is now.
        chain: ChainView,
    },
    /// A chain was cancelled (by its author, or a step's request).
    ChainCancelled {
        /// The space.
        space: SpaceId,
        /// The chain, as it is now.
        chain: ChainView,
    },
    /// A proposal was made (docs/governance.md).
    Proposal {
        /// The space.
        space: SpaceId,
        /// The proposal, with its live tally.
        proposal: ProposalView,
    },
    /// A member voted on a proposal, or changed its vote.
    Vote {
        /// The space.
        space: SpaceId,
        /// The voter.
        voter: Did,
        /// The proposal, with its live tally.
        proposal: ProposalView,
    },
    /// A proposal was closed: passed (its action enacted), failed or withdrawn.
    ProposalClosed {
        /// The space.
        space: SpaceId,
        /// The proposal, with its outcome and the close's tally.
        proposal: ProposalView,
    },
    /// A member wrote its profile (schema version 11, locally or on another node): clients
    /// show its new name on every message and member of that DID they show.
    Profile {
        /// The space.
        space: SpaceId,
        /// The member.
        did: Did,
        /// Its display name as the space reads it after the change (none if it no longer
        /// has one there, e.g. it left concurrently).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
}

impl SpaceEvent {
    /// The space the event belongs to.
    pub fn space(&self) -> SpaceId {
        match self {
            Self::Message { space, .. }
            | Self::Joined { space, .. }
            | Self::RoleChanged { space, .. }
            | Self::Removed { space, .. }
            | Self::MessageDeleted { space } => *space,
            Self::MessageEdited { space, .. } | Self::Reacted { space, .. } => *space,
            Self::RequestCreated { space, .. }
            | Self::RequestClaimed { space, .. }
            | Self::RequestProgress { space, .. }
            | Self::RequestCompleted { space, .. }
            | Self::RequestFailed { space, .. }
            | Self::RequestCancelled { space, .. }
            | Self::RequestRated { space, .. } => *space,
            Self::ChainCreated { space, .. }
            | Self::ChainProgress { space, .. }
            | Self::ChainCompleted { space, .. }
            | Self::ChainFailed { space, .. }
            | Self::ChainCancelled { space, .. } => *space,
            Self::Proposal { space, .. }
            | Self::Vote { space, .. }
            | Self::ProposalClosed { space, .. } => *space,
            Self::Profile { space, .. } => *space,
        }
    }

    /// The request an event is about, as it is after it.
    pub fn request(&self) -> Option<&AbilityRequest> {
        match self {
            Self::RequestCreated { request, .. }
            | Self::RequestClaimed { request, .. }
            | Self::RequestProgress { request, .. }
            | Self::RequestCompleted { request, .. }
            | Self::RequestFailed { request, .. }
            | Self::RequestCancelled { request, .. }
            | Self::RequestRated { request, .. } => Some(request),
            _ => None,
        }
    }

    /// The chain an event is about, as it is after it.
    pub fn chain(&self) -> Option<&ChainView> {
        match self {
            Self::ChainCreated { chain, .. }
            | Self::ChainProgress { chain, .. }
            | Self::ChainCompleted { chain, .. }
            | Self::ChainFailed { chain, .. }
            | Self::ChainCancelled { chain, .. } => Some(chain),
            _ => None,
        }
    }
}

/// An RFC 9457 problem document, the body of every error response.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type, e.g. `tim:problem/not-found`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the problem type.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong with this request, and what to do.
    pub detail: String,
}

/// Who a request acts as: the answer of `GET /v1/me`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct Me {
    /// The timite the token acts as.
    pub did: Did,
    /// Whether this is the operator's admin token (`api.token` in the node's home).
    pub admin: bool,
    /// The token's id (none for the admin token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_id: Option<String>,
}

/// A timite hosted by a node (the node holds its key and signs its changes).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct TimiteView {
    /// Its DID.
    pub did: Did,
    /// Whether it is the node's first timite, the one the admin token acts as.
    pub default: bool,
}

/// Body of `POST /v1/tokens`: a token for a hosted timite.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct NewToken {
    /// The timite the token acts as.
    pub did: Did,
    /// A note for the operator ("laptop", "research agent").
    #[serde(default)]
    pub label: String,
    /// Lifetime in seconds; none means until revoked.
    #[serde(default)]
    pub ttl_secs: Option<u64>,
}

/// A token's record, without the secret.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct TokenInfo {
    /// Its id (the first 16 hex digits of the secret's SHA-256), used to revoke it.
    pub id: String,
    /// The timite it acts as.
    pub did: Did,
    /// The operator's note.
    pub label: String,
    /// When it was made (ms since the Unix epoch).
    pub created_at: u64,
    /// When it stops working (ms), if ever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    /// The sign-in key that made it, when that was not the timite's own key (removing the
    /// key revokes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Did>,
}

/// A new token: the secret is shown once; the node keeps only its hash.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct TokenIssued {
    /// The bearer token.
    pub token: String,
    /// Its record.
    #[serde(flatten)]
    pub info: TokenInfo,
}

/// Body of `POST /v1/auth/challenge`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct ChallengeRequest {
    /// The hosted timite that will sign in.
    pub did: Did,
}

/// A sign-in challenge to sign with the timite's key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct Challenge {
    /// Random hex; sign `tim/auth/v1\0` + node DID + `\0` + challenge (UTF-8 bytes).
    pub challenge: String,
    /// The node's DID (part of what is signed).
    pub node_did: Did,
    /// When the challenge stops being accepted (ms).
    pub expires_at: u64,
}

/// Body of `POST /v1/auth/login`: a signed challenge.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct Login {
    /// The timite signing in.
    pub did: Did,
    /// The challenge from `POST /v1/auth/challenge`.
    pub challenge: String,
    /// Hex Ed25519 signature (64 bytes) over the bytes described in [`Challenge`].
    pub signature: String,
    /// The did:key that signed, when it is not the timite's own: one of its sign-in keys
    /// (`GET /v1/timites/{did}/keys`). None means the timite's own key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Did>,
}

/// A key allowed to sign in as a hosted timite (as a line of SSH's `authorized_keys`): a
/// browser's or a device's did:key, so that it need not hold the timite's own key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct SignInKey {
    /// The key, as a did:key (Ed25519).
    pub key: Did,
    /// The operator's note ("Ann's laptop browser").
    pub label: String,
    /// When it was added (ms since the Unix epoch).
    pub added_at: u64,
}

/// Answer of `DELETE /v1/timites/{did}/keys/{key}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct SignInKeyRemoved {
    /// The removed key.
    pub removed: Did,
    /// The ids of the sign-in tokens it had made, now revoked.
    pub revoked_tokens: Vec<String>,
}

/// Body of `POST /v1/timites/{did}/keys`: a key to allow.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct NewSignInKey {
    /// The key, as a did:key (Ed25519).
    pub key: Did,
    /// A note for the operator.
    #[serde(default)]
    pub label: String,
}

/// The bytes a timite signs to sign in.
pub fn login_message(node_did: &Did, challenge: &str) -> Vec<u8> {
    let mut m = b"tim/auth/v1\0".to_vec();
    m.extend_from_slice(node_did.to_string().as_bytes());
    m.push(0);
    m.extend_from_slice(challenge.as_bytes());
    m
}

/// Body of `PUT /v1/spaces/{id}/abilities`: what the timite declares it can do.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct DeclareAbilities {
    /// Short ability names ("rust", "translation", "summarize").
    pub abilities: Vec<String>,
}

/// `POST /v1/spaces/{id}/read`: moves the acting timite's read marker in the space
/// (docs/protocol.md §9.13.2); the marker is kept on its node, never in the document.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct MarkRead {
    /// The id of the last message read.
    pub up_to: String,
}

/// What a notification is about.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// The message mentions the timite.
    Mention,
    /// The message replies to one of the timite's messages.
    Reply,
}

/// One of `GET /v1/notifications`: a message by someone else that mentions the acting
/// timite or replies to one of its messages (docs/protocol.md §9.13.2).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct Notification {
    /// The space.
    pub space: SpaceId,
    /// The message's id.
    pub message: String,
    /// Its author.
    pub author: Did,
    /// A mention or a reply (a reply that also mentions is a mention).
    pub kind: NotificationKind,
    /// The message's time, ms since the Unix epoch (its author's clock).
    pub at: u64,
    /// Its text (empty when end-to-end encrypted and not readable here).
    pub text: String,
    /// Whether it is at or before the timite's read marker in the space.
    pub seen: bool,
}

/// `GET /v1/notifications` query.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, IntoParams, ToSchema)]
pub struct NotificationsQuery {
    /// At most this many, newest first (1 to 1000, default 100).
    pub limit: Option<usize>,
    /// Only those not seen.
    #[serde(default)]
    pub unseen: bool,
}
