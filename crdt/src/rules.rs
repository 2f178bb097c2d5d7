//! The authorization rules: may this author make this change, in this space, at this point of
//! its history?
//!
//! Every operation of a change is judged against the document *at the change's dependencies*
//! (its causal past), never against local time or arrival order, so every honest node that has
//! the dependencies reaches the same verdict. `docs/rules.md` is the specification; this module
//! is its implementation, one `check_*` function per part of the document.
//!
//! Which rule judges a write is decided by where the written object sits: under which root
//! container of the schema ([`crate::schema`], whose table names each container's policy), and
//! how deep. Writes at the root itself are migrations ([`crate::schema`]).
//!
//! Rules judge by permissions and ranks ([`crate::roles`]): the built-in roles, highest first,
//! are `owner` (the creator), `admin`, `moderator`, `member`, `guest` (read-only) and `banned`
//! (no writes at all); a space at schema version 2 may define more.

use automerge::legacy::{ElementId, Key, ObjectId, OpId, OpType};
use automerge::{ActorId, Automerge, ObjId, Prop, ReadDoc, ScalarValue};
use tim_protocol::wire::MAX_TEXT_BYTES;
use tim_protocol::Did;

use crate::admission::{parse_requirements, AdmissionVerifier};
use crate::attestation;
use crate::doc::{self, View};
use crate::encryption::{ControlOp, IDENTITY_BYTES, MAX_BUNDLE_BYTES, MAX_CTL_BYTES, MAX_CT_BYTES};
use crate::notices::{meets_after, notice_key, NoticeCache, Notices};
use crate::roles::{Grant, Permission, Permissions, RoleName};
use crate::schema::{self, Container, Policy};
use crate::writer::{is_v1_actor, same_author};
use crate::Rejection;

pub use crate::roles::Role;

mod budgets;
mod chains;
mod earned;
mod messages;
mod personas;
mod profiles;
mod proposals;
mod requests;
mod tokens;

/// Who may join a space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// Anyone may join.
    Public,
    /// Only a timite holding an unused, unexpired invite from an admin.
    InviteOnly,
    /// Anyone may join; the space is deleted everywhere when its time to live passes.
    Ephemeral,
}

impl Visibility {
    /// The name in the document.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::InviteOnly => "invite-only",
            Self::Ephemeral => "ephemeral",
        }
    }

    /// Parses a name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "public" => Self::Public,
            "invite-only" => Self::InviteOnly,
            "ephemeral" => Self::Ephemeral,
            _ => return None,
        })
    }
}

/// An effect of an authorized change that readers may want to know about.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Effect {
    /// A message was added; its id is the Automerge object id of its map.
    Message {
        /// Message id.
        id: String,
    },
    /// A message was deleted.
    MessageDeleted,
    /// A message's author edited it (schema version 10).
    MessageEdited {
        /// Message id.
        id: String,
    },
    /// A member reacted to a message, or withdrew its reaction (schema version 10).
    Reacted {
        /// Message id.
        id: String,
    },
    /// A timite added its member entry.
    Joined {
        /// The new member.
        did: Did,
    },
    /// A member's role was set.
    RoleChanged {
        /// The member.
        did: Did,
        /// The new role.
        role: Role,
    },
    /// A member entry was removed (left or kicked).
    Removed {
        /// The former member.
        did: Did,
    },
    /// An invite was issued.
    Invited {
        /// The invitee.
        did: Did,
    },
    /// The space's meta changed.
    MetaChanged,
    /// A member rated another (or withdrew a rating).
    Rated {
        /// Who was rated.
        ratee: Did,
    },
    /// An admin recorded the issuance of a credential.
    CredentialIssued {
        /// The credential id.
        id: String,
    },
    /// An admin revoked the credential with this status index.
    Revoked {
        /// The status list index.
        index: u64,
    },
    /// A role was defined, or redefined.
    RoleDefined {
        /// Its name.
        name: RoleName,
    },
    /// A member published (or replaced) its public encryption keys.
    KeysPublished {
        /// The member.
        did: Did,
    },
    /// A control message of the encryption group was added; its id is the Automerge object id
    /// of its map.
    Control {
        /// Control message id.
        id: String,
    },
    /// A member declared (or redeclared) an ability.
    AbilityDeclared {
        /// The provider.
        provider: Did,
        /// The ability's name.
        name: String,
    },
    /// A member withdrew an ability.
    AbilityWithdrawn {
        /// The provider.
        provider: Did,
        /// The ability's name.
        name: String,
    },
    /// A request was made; its id is the Automerge object id of its map.
    Requested {
        /// Request id.
        id: String,
    },
    /// A step of a request: a claim, progress, an outcome, a cancellation or a rating.
    RequestStep {
        /// Request id.
        id: String,
        /// The step.
        step: crate::abilities::Step,
    },
    /// A member put a revocation notice (an issuer's status list that revokes a credential
    /// presented here).
    Noticed {
        /// Its key, `"<list URL> <validFrom>"`.
        key: String,
    },
    /// A chain of requests was made; its id is the Automerge object id of its map.
    Chained {
        /// Chain id.
        id: String,
    },
    /// A chain's author cancelled it.
    ChainCancelled {
        /// Chain id.
        id: String,
    },
    /// A member published a persona.
    PersonaPublished {
        /// Its id, `sha256:<hex>`.
        id: String,
    },
    /// A persona was deleted (by its author or an admin).
    PersonaDeleted {
        /// Its id.
        id: String,
    },
    /// A proposal was made; its id is the Automerge object id of its map.
    Proposed {
        /// Proposal id.
        id: String,
    },
    /// A member voted on a proposal, or changed its vote.
    Voted {
        /// Proposal id.
        id: String,
        /// The voter.
        voter: Did,
    },
    /// A proposal was closed (a passing close also carries its action's effects).
    ProposalClosed {
        /// Proposal id.
        id: String,
        /// How it ended.
        outcome: tim_protocol::api::Outcome,
    },
    /// The space's schema was migrated to a newer version.
    Migrated {
        /// The version before.
        from: u64,
        /// The version now.
        to: u64,
    },
    /// A member wrote its profile (schema version 11, docs/protocol.md §9.13.1).
    ProfileSet {
        /// The member.
        did: Did,
    },
}

/// A read view of the document at a change's dependencies, with the space's schema version
/// there.
struct At<'a> {
    view: View<'a>,
    /// The space's schema version there.
    version: u64,
}

impl<'a> std::ops::Deref for At<'a> {
    type Target = View<'a>;

    fn deref(&self) -> &View<'a> {
        &self.view
    }
}

impl At<'_> {
    /// Whether the group holds a control message `op` here.
    fn has_control(&self, roots: &Roots, op: ControlOp) -> bool {
        let Some(group) = roots.get(&schema::GROUP) else {
            return false;
        };
        self.list(group).iter().any(|i| {
            self.get_str(i, doc::OP)
                .is_some_and(|o| ControlOp::parse(&o) == Some(op))
        })
    }

    /// What `did` may do at these heads, `None` if not a member.
    fn grant(&self, members: &ObjId, did: &str) -> Option<Grant> {
        self.role(members, did).map(|r| self.resolve(r))
    }

    /// A role's rank and permissions at these heads.
    fn resolve(&self, role: Role) -> Grant {
        let def = match role {
            Role::Custom(name) => self.role_def(&name),
            _ => None,
        };
        Grant::of(role, def)
    }

    fn role_def(&self, name: &RoleName) -> Option<crate::RoleDef> {
        doc::role_def(self.doc, name, self.heads)
    }
}

fn same_obj(ex: &ObjId, op: &OpId) -> bool {
    matches!(ex, ObjId::Id(counter, actor, _) if *counter == op.counter() && actor == op.actor())
}

/// What an existing (or newly made) object is, found from where it sits in the document.
#[derive(Debug, Clone)]
enum Place {
    /// A root container of the schema.
    Root(&'static Container),
    /// The member entry of this DID (string as in the document).
    MemberEntry(String),
    /// A message map.
    Message,
    /// The invite for this DID.
    Invite(String),
    /// The issuance record of this credential id.
    IssuedEntry(String),
    /// The definition of this role.
    RoleDef(String),
    /// The published encryption keys of this DID.
    KeysEntry(String),
    /// A control message of the encryption group.
    Control,
    /// The declaration under this key (`"<provider> <name>"`).
    Declaration(String),
    /// An ability request.
    Request,
    /// A chain of requests.
    Chain,
    /// The published persona under this id.
    Persona(String),
    /// A proposal.
    Proposal,
    /// The votes of the proposal with this id.
    Votes(String),
    /// The vote of this DID (second) on the proposal with this id (first).
    Vote(String, String),
    /// The close of a proposal.
    Closed,
    /// The edit history of this message (schema version 10).
    Edits(OpId),
    /// An entry of this message's edit history.
    EditEntry(OpId),
    /// The reactions to this message (schema version 10).
    Reactions(OpId),
    /// A member's profile map (schema version 11).
    Profile,
    /// The avatar map of a member's profile (schema version 11).
    Avatar,
    /// Anything else (nested deeper).
    Other,
}

/// The root containers' object ids: every copy of each (concurrent migrations may each have
/// made one), found in the current document. Nothing but a migration writes at the root, and
/// a migration makes only containers absent at its causal past, so no root object is ever
/// overwritten: every one is here.
struct Roots {
    all: Vec<(ObjId, &'static Container)>,
}

impl Roots {
    fn new(doc: &Automerge) -> Self {
        let all = schema::CONTAINERS
            .iter()
            .flat_map(|c| {
                doc::root_objs(doc, c, None)
                    .into_iter()
                    .map(move |id| (id, *c))
            })
            .collect();
        Self { all }
    }

    /// The copy of `c` Automerge shows.
    fn get(&self, c: &Container) -> Option<&ObjId> {
        self.all
            .iter()
            .find(|(_, d)| d.name == c.name)
            .map(|(id, _)| id)
    }

    fn place_of_root(&self, id: &OpId) -> Option<Place> {
        self.all
            .iter()
            .find(|(ex, _)| same_obj(ex, id))
            .map(|(_, c)| Place::Root(c))
    }

    /// The place of a child of `parent` at `key`.
    fn child_place(parent: &Place, key: Option<&str>) -> Place {
        match (parent, key) {
            (Place::Root(c), Some(k)) => match c.policy {
                Policy::Members => Place::MemberEntry(k.to_string()),
                Policy::Invites => Place::Invite(k.to_string()),
                Policy::Issued => Place::IssuedEntry(k.to_string()),
                Policy::Roles => Place::RoleDef(k.to_string()),
                Policy::Keys => Place::KeysEntry(k.to_string()),
                Policy::Abilities => Place::Declaration(k.to_string()),
                Policy::Personas => Place::Persona(k.to_string()),
                _ => Place::Other,
            },
            (Place::Root(c), None) if c.policy == Policy::Timeline => Place::Message,
            (Place::Root(c), None) if c.policy == Policy::Group => Place::Control,
            (Place::Root(c), None) if c.policy == Policy::Requests => Place::Request,
            (Place::Root(c), None) if c.policy == Policy::Chains => Place::Chain,
            (Place::Root(c), None) if c.policy == Policy::Proposals => Place::Proposal,
            _ => Place::Other,
        }
    }

    /// The place of a child of `parent` (whose id is `parent_id`) at `key`: below a proposal,
    /// its votes and close, which name the proposal; elsewhere as [`Self::child_place`].
    fn child_place_in(parent: &Place, parent_id: &OpId, key: Option<&str>) -> Place {
        let pid = || format!("{}@{}", parent_id.counter(), parent_id.actor());
        match (parent, key) {
            (Place::Proposal, Some(crate::proposals::VOTES)) => Place::Votes(pid()),
            (Place::Proposal, Some(crate::proposals::CLOSED)) => Place::Closed,
            (Place::Votes(p), Some(did)) => Place::Vote(p.clone(), did.to_string()),
            (Place::Message, Some(crate::messages::EDITS)) => Place::Edits(parent_id.clone()),
            (Place::Message, Some(crate::messages::REACTIONS)) => {
                Place::Reactions(parent_id.clone())
            }
            (Place::Edits(m), None) => Place::EditEntry(m.clone()),
            (Place::MemberEntry(_), Some(crate::profiles::PROFILE)) => Place::Profile,
            (Place::Profile, Some(crate::profiles::AVATAR)) => Place::Avatar,
            _ => Self::child_place(parent, key),
        }
    }

    /// The place of an object that existed before this change.
    fn place_of_existing(&self, doc: &Automerge, id: &OpId) -> Result<Option<Place>, Rejection> {
        if let Some(p) = self.place_of_root(id) {
            return Ok(Some(p));
        }
        let Ok((ex, _)) = doc.import(&format!("{}@{}", id.counter(), id.actor())) else {
            return Ok(None);
        };
        let Some(parent) = doc.parents(&ex).ok().and_then(|mut p| p.next()) else {
            return Ok(None);
        };
        let key = match &parent.prop {
            Prop::Map(k) => Some(k.as_str()),
            Prop::Seq(_) => None,
        };
        let (parent_place, parent_id) = match &parent.obj {
            // A root object the schema does not have (no rule lets one in).
            ObjId::Root => {
                return Err(Rejection::UnknownContainer(
                    key.unwrap_or_default().to_string(),
                ))
            }
            ObjId::Id(c, a, _) => {
                let parent_id = OpId::new(*c, a);
                let place = match self.place_of_root(&parent_id) {
                    Some(p) => p,
                    // Proposals nest: their votes' maps sit two levels below the root; so do
                    // messages' edit histories and reactions.
                    None => match self.place_of_existing(doc, &parent_id).ok().flatten() {
                        Some(
                            p @ (Place::Proposal
                            | Place::Votes(_)
                            | Place::Message
                            | Place::Edits(_)
                            | Place::MemberEntry(_)
                            | Place::Profile),
                        ) => p,
                        _ => Place::Other,
                    },
                };
                (place, parent_id)
            }
        };
        Ok(Some(Self::child_place_in(&parent_place, &parent_id, key)))
    }
}

/// Checks every operation of a (non-genesis) change by `author` against the document at the
/// change's dependencies, which must all be present in `doc`. Returns the change's effects.
pub fn authorize(
    doc: &Automerge,
    change: &automerge::Change,
    author: &Did,
    context: &Context<'_>,
) -> Result<Vec<Effect>, Rejection> {
    let fresh = NoticeCache::default();
    let cache = context.notices.unwrap_or(&fresh);
    Judge::new(doc, change, author, context, cache)?.run(change)
}

/// What the rules need to know beyond the document and the change.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    /// The space (the domain a joiner's presentation must be bound to).
    pub space: tim_protocol::SpaceId,
    /// Checks presentations; without one, joins into spaces with requirements are refused.
    pub verifier: Option<&'a dyn AdmissionVerifier>,
    /// Verdicts on revocation notices already made (without one, they are made again).
    pub notices: Option<&'a NoticeCache>,
}

impl std::fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("space", &self.space)
            .field("verifier", &self.verifier.is_some())
            .finish()
    }
}

struct Judge<'a> {
    at: At<'a>,
    space: tim_protocol::SpaceId,
    verifier: Option<&'a dyn AdmissionVerifier>,
    cache: &'a NoticeCache,
    author: Did,
    doc: &'a Automerge,
    roots: Roots,
    /// The `meta` and `members` containers.
    meta: ObjId,
    members: ObjId,
    author_str: String,
    actor: ActorId,
    /// The author's assigned role (its member entry's), at the change's dependencies.
    role: Option<Role>,
    /// What the author's assigned role lets it do, at the change's dependencies; what it may
    /// do is its effective role's [`Judge::grant`], which earned roles may raise.
    assigned: Option<Grant>,
    /// Earned roles and reputation at the change's dependencies, read when first needed.
    earned: earned::EarnedAt,
    visibility: Visibility,
    who: String,
    start_op: u64,
    /// Places of objects this change creates.
    made: Vec<(OpId, Place)>,
    effects: Vec<Effect>,
    /// This change creates the author's own member entry.
    self_join: bool,
    /// This change marks the author's invite as used.
    used_invite: bool,
    /// The time the author's node stamped on the change (milliseconds since the Unix epoch).
    time: i64,
    /// The presentation a self-join carries, if any.
    presentation: Option<String>,
    /// The change's dependencies, hex: the challenges a presentation may answer.
    deps: Vec<String>,
    /// Role definitions this change makes: each must get a `rank` and a `may`.
    defining: Vec<RoleBeingDefined>,
    /// The space is end-to-end encrypted (`meta.encryption`, set at its genesis).
    encrypted: bool,
    /// The keys entry this change makes, and whether it got its identity and bundle.
    keys_made: Option<(OpId, bool, bool)>,
    /// The control message this change makes (one at most), and its fields.
    control: Option<ControlBeingMade>,
    /// Ability declarations this change makes.
    declaring: Vec<requests::DeclarationBeingMade>,
    /// The request this change makes (one at most), and its fields.
    request: Option<requests::RequestBeingMade>,
    /// The chain this change makes (one at most), and its fields.
    chain: Option<chains::ChainBeingMade>,
    /// The persona this change publishes (one at most), and its fields.
    persona: Option<personas::PersonaBeingMade>,
    /// The results this change posts, inline or out of band.
    results_made: Vec<requests::ResultBeingMade>,
    /// The proposal, vote and close this change makes, and its role and meta writes.
    gov: proposals::Governance,
    /// What this change spends of its author's budget.
    spending: budgets::Spending,
    /// The message edits and edit history entries this change makes.
    editing: messages::Editing,
    /// The profile this change makes (one at most), and its fields.
    profile: Option<profiles::ProfileBeingMade>,
}

/// A control message this change makes, and what it wrote into it.
struct ControlBeingMade {
    map: OpId,
    author: bool,
    op: Option<ControlOp>,
    subject: Option<String>,
    ctl: bool,
}

/// A role definition this change makes, and which of its fields it wrote.
struct RoleBeingDefined {
    map: OpId,
    name: String,
    rank: bool,
    may: bool,
}

fn deny<T>(why: String) -> Result<T, Rejection> {
    Err(Rejection::Unauthorized(why))
}

fn bad_migration<T>(why: String) -> Result<T, Rejection> {
    Err(Rejection::BadMigration(why))
}

impl<'a> Judge<'a> {
    fn new(
        doc: &'a Automerge,
        change: &'a automerge::Change,
        author: &Did,
        context: &Context<'a>,
        cache: &'a NoticeCache,
    ) -> Result<Self, Rejection> {
        let deps = change.deps();
        let mut current = doc.get_heads();
        current.sort();
        let mut sorted_deps = deps.to_vec();
        sorted_deps.sort();
        let heads = (sorted_deps != current).then_some(deps);
        let at = At {
            view: View { doc, heads },
            version: doc::schema_version(doc, heads),
        };
        let roots = Roots::new(doc);
        let (Some(meta), Some(members)) = (
            roots.get(&schema::META).cloned(),
            roots.get(&schema::MEMBERS).cloned(),
        ) else {
            return deny("the space has no genesis at this change's dependencies".into());
        };
        let author_str = author.to_string();
        let role = at.role(&members, &author_str);
        let assigned = role.map(|r| at.resolve(r));
        let visibility = at
            .get_str(&meta, doc::VISIBILITY)
            .and_then(|v| Visibility::parse(&v))
            .unwrap_or(Visibility::Public);
        let encrypted = at.get_str(&meta, doc::ENCRYPTION).is_some();
        let who = match role {
            Some(r) => format!("{} is {}", author.short(), article(&r)),
            None => format!("{} is not a member", author.short()),
        };
        Ok(Self {
            space: context.space,
            verifier: context.verifier,
            cache,
            author: *author,
            doc,
            roots,
            meta,
            members,
            actor: change.actor_id().clone(),
            role,
            assigned,
            earned: earned::EarnedAt::default(),
            visibility,
            who,
            start_op: change.start_op().get(),
            made: Vec::new(),
            effects: Vec::new(),
            self_join: false,
            used_invite: false,
            time: change.timestamp(),
            presentation: None,
            deps: change.deps().iter().map(|d| d.to_string()).collect(),
            defining: Vec::new(),
            encrypted,
            keys_made: None,
            control: None,
            declaring: Vec::new(),
            request: None,
            chain: None,
            persona: None,
            results_made: Vec::new(),
            gov: proposals::Governance::default(),
            spending: budgets::Spending::default(),
            editing: messages::Editing::default(),
            profile: None,
            author_str,
            at,
        })
    }

    fn run(mut self, change: &automerge::Change) -> Result<Vec<Effect>, Rejection> {
        if self.role == Some(Role::Banned) {
            return deny(format!("{}; banned timites may not write", self.who));
        }
        if self.role.is_some() {
            if let Some(why) = self
                .notices()
                .no_longer_admitted(&self.members, &self.author_str)
            {
                return deny(format!(
                    "{}; it is {why}, so it is treated as banned",
                    self.who
                ));
            }
        }
        let expanded = change.decode();
        if expanded.operations.iter().any(|op| self.is_schema_op(op)) {
            self.check_migration(&expanded.operations)?;
            return Ok(self.effects);
        }
        for (i, op) in expanded.operations.iter().enumerate() {
            let op_id = OpId::new(self.start_op + i as u64, &self.actor);
            self.check_op(op_id, op)?;
        }
        self.check_budgets()?;
        if let Some(d) = self.defining.iter().find(|d| !d.rank || !d.may) {
            return deny(format!(
                "the definition of role `{}` needs both `rank` and `may`",
                d.name
            ));
        }
        if let Some((_, identity, bundle)) = self.keys_made {
            if !identity || !bundle {
                return deny(format!(
                    "{}; a keys entry is made with its `identity` and `bundle`",
                    self.who
                ));
            }
        }
        if let Some(c) = self.control.take() {
            self.check_control_made(c)?;
        }
        self.check_declarations_made()?;
        if let Some(r) = self.request.take() {
            self.check_request_made(r)?;
        }
        if let Some(c) = self.chain.take() {
            self.check_chain_made(c)?;
        }
        if let Some(p) = self.persona.take() {
            self.check_persona_made(p)?;
        }
        self.check_results_made()?;
        self.check_governance_made()?;
        self.check_edits_made()?;
        self.check_messages_made()?;
        self.check_profile_made()?;
        if self.self_join {
            self.check_admission()?;
        }
        if self.self_join && self.visibility == Visibility::InviteOnly && !self.used_invite {
            let invite = self.in_root(&schema::INVITES, &self.author_str);
            let used = invite.is_some_and(|i| {
                matches!(
                    self.at.scalar(&i, doc::USED),
                    Some(ScalarValue::Boolean(true))
                )
            });
            return deny(if used {
                format!("{}; its invite was already used", self.who)
            } else {
                format!(
                    "{}; this space is invite-only and the join does not use an invite",
                    self.who
                )
            });
        }
        Ok(self.effects)
    }

    /// A self-join into a space with requirements must carry a presentation that meets them.
    fn check_admission(&self) -> Result<(), Rejection> {
        let requirements = match self.at.get_str(&self.meta, doc::REQUIREMENTS) {
            Some(json) => parse_requirements(&json).map_err(Rejection::Unauthorized)?,
            None => return Ok(()),
        };
        if requirements.is_empty() {
            return Ok(());
        }
        let wanted = requirements
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        let Some(presentation) = &self.presentation else {
            return deny(format!(
                "{}; this space requires {wanted}: join with a presentation (--present)",
                self.who
            ));
        };
        let Some(verifier) = self.verifier else {
            return deny("this replica cannot check presentations".into());
        };
        let domain = self.space.iri();
        let credentials = verifier
            .verify(presentation, &domain, &self.deps, &self.author, self.time)
            .map_err(|e| {
                Rejection::Unauthorized(format!("{}; its presentation fails: {e}", self.who))
            })?;
        // A notice the join can see counts, even if the presentation's own list is older.
        meets_after(
            &requirements,
            &credentials,
            &self.notices().revoking_lists(),
        )
        .map_err(|e| Rejection::Unauthorized(format!("{}; {e}", self.who)))
    }

    /// The revocation notices at the change's dependencies.
    fn notices(&self) -> Notices<'_> {
        Notices {
            view: self.at.view,
            space: self.space,
            verifier: self.verifier,
            cache: self.cache,
        }
    }

    /// `status_notices["<list URL> <validFrom>"]`: any member puts an issuer's signed
    /// revocation list that revokes a credential presented here; never changed or deleted.
    fn check_status_notices(
        &mut self,
        key: Option<&str>,
        op: &automerge::legacy::Op,
    ) -> Result<(), Rejection> {
        self.member_writing("posting a revocation notice")?;
        let Some(k) = key else {
            return deny("status_notices is a map".into());
        };
        let OpType::Put(ScalarValue::Str(json)) = &op.action else {
            return deny(format!(
                "{}; a revocation notice is put once, as a status list credential (a string), \
                 and never changed or deleted",
                self.who
            ));
        };
        let exists = doc::root_objs(self.doc, &schema::STATUS_NOTICES, self.at.heads)
            .iter()
            .any(|copy| self.at.get(copy, k).is_some());
        if exists {
            return deny(format!(
                "{}; the notice `{k}` exists: notices are never changed",
                self.who
            ));
        }
        let Some(verifier) = self.verifier else {
            return deny("this replica cannot check status lists".into());
        };
        let list = verifier.verify_status_list(json).map_err(|e| {
            Rejection::Unauthorized(format!("{}; its notice's status list fails: {e}", self.who))
        })?;
        let want = notice_key(&list.id, &list.valid_from);
        if k != want {
            return deny(format!(
                "{}; a notice's key is `<list id> <validFrom>`: `{want}`, not `{k}`",
                self.who
            ));
        }
        if list.purpose != "revocation" {
            return deny(format!(
                "{}; {} is not a revocation list (statusPurpose `{}`)",
                self.who, list.id, list.purpose
            ));
        }
        let revokes = self.notices().revokes_a_member(&self.members, &list)
            || (self.at.version >= schema::ABILITIES_V2 && self.revokes_a_declaration(&list));
        if !revokes {
            return deny(format!(
                "{}; the list `{k}` revokes no credential presented in this space",
                self.who
            ));
        }
        self.effects.push(Effect::Noticed { key: want });
        Ok(())
    }

    /// Whether `list` revokes a credential that a declaration here carries
    /// (docs/abilities.md §13).
    fn revokes_a_declaration(&self, list: &crate::admission::VerifiedStatusList) -> bool {
        self.attesting().revokes_a_declaration(list)
    }

    /// The author's rank (0 for a non-member, like `banned`).
    fn rank(&self) -> u64 {
        self.grant().map_or(0, |g| g.rank)
    }

    /// The author's role must have permission `p`.
    fn may(&self, p: Permission, what: &str) -> Result<(), Rejection> {
        let has = |g: Option<Grant>| g.is_some_and(|g| g.may.contains(p));
        if has(self.assigned) || has(self.grant()) {
            return Ok(());
        }
        deny(format!(
            "{}; {what} needs {} (permission `{p}`)",
            self.who,
            article(&p.lowest_builtin())
        ))
    }

    /// The author must be a member, with any role (banned authors were refused already).
    fn member_writing(&self, what: &str) -> Result<(), Rejection> {
        match self.assigned {
            Some(_) => Ok(()),
            None => deny(format!("{}; {what} needs membership", self.who)),
        }
    }

    /// The object of container `c` under `key`, at the change's dependencies.
    fn in_root(&self, c: &Container, key: &str) -> Option<ObjId> {
        self.at.child(self.roots.get(c)?, key)
    }

    fn place_of(&self, id: &OpId) -> Result<Place, Rejection> {
        if let Some((_, p)) = self.made.iter().find(|(m, _)| m == id) {
            return Ok(p.clone());
        }
        if id.actor() == &self.actor && id.counter() >= self.start_op {
            return Ok(Place::Other);
        }
        self.roots.place_of_existing(self.doc, id)?.map_or_else(
            || {
                deny(format!(
                    "object {}@{} does not exist",
                    id.counter(),
                    id.actor()
                ))
            },
            Ok,
        )
    }

    fn created_here(&self, id: &OpId) -> bool {
        id.actor() == &self.actor && id.counter() >= self.start_op
    }

    fn check_op(&mut self, op_id: OpId, op: &automerge::legacy::Op) -> Result<(), Rejection> {
        let key = match &op.key {
            Key::Map(k) => Some(k.to_string()),
            Key::Seq(_) => None,
        };
        if let OpType::Put(ScalarValue::Str(s)) = &op.action {
            if s.len() > MAX_TEXT_BYTES {
                return deny(format!(
                    "{} wrote a string over {MAX_TEXT_BYTES} bytes",
                    self.who
                ));
            }
        }
        if key.as_deref() == Some(doc::AUTHOR) {
            match &op.action {
                OpType::Put(ScalarValue::Str(s)) if s.as_str() == self.author_str => {}
                _ => {
                    return deny(format!(
                        "{}; it wrote an `author` field that is not its own DID",
                        self.who
                    ))
                }
            }
        }
        let obj = match &op.obj {
            // (`run` sends every change that writes at the root to `check_migration`.)
            ObjectId::Root => {
                return bad_migration(format!(
                    "{}; the document root changes only in a migration",
                    self.who
                ))
            }
            ObjectId::Id(id) => id.clone(),
        };
        let place = self.place_of(&obj)?;
        if let Place::Root(c) = &place {
            if c.since > self.at.version {
                return deny(format!(
                    "`{}` is not in this space's schema (version {}) at this change's \
                     dependencies",
                    c.name, self.at.version
                ));
            }
        }
        // Non-members may only join: write their own entry and its fields, and use their invite.
        if self.role.is_none() {
            let allowed = matches!(&place, Place::Root(c) if c.policy == Policy::Members && key.as_deref() == Some(self.author_str.as_str()))
                || matches!(&place, Place::MemberEntry(d) if *d == self.author_str && self.created_here(&obj))
                || matches!(&place, Place::Invite(d) if *d == self.author_str);
            if !allowed {
                return deny(format!("{}; join the space first", self.who));
            }
        }
        let made_place = match &op.action {
            OpType::Make(_) => Some(Roots::child_place_in(&place, &obj, key.as_deref())),
            _ => None,
        };
        let key = key.as_deref();
        match &place {
            // The policy of each root container, as the schema names it.
            Place::Root(c) => match c.policy {
                Policy::Meta => self.check_meta(key, op)?,
                Policy::Members => self.check_members(key, op)?,
                Policy::Timeline => self.check_timeline(&op_id, op)?,
                Policy::Invites => self.check_invites(key, op)?,
                Policy::Ratings => self.check_rating(key, op)?,
                Policy::Issued => self.check_issued(key, op)?,
                Policy::StatusList => self.check_status_list(key, op)?,
                Policy::Roles => self.check_roles(&op_id, key, op)?,
                Policy::Keys => self.check_keys(&op_id, key, op)?,
                Policy::Group => self.check_group(&op_id, op)?,
                Policy::Abilities => self.check_abilities(&op_id, key, op)?,
                Policy::Requests => self.check_requests(&op_id, op)?,
                Policy::StatusNotices => self.check_status_notices(key, op)?,
                Policy::Chains => self.check_chains(&op_id, op)?,
                Policy::Personas => self.check_personas(&op_id, key, op)?,
                Policy::Proposals => self.check_proposals(&op_id, op)?,
            },
            Place::MemberEntry(did) if key == Some(crate::profiles::PROFILE) && self.people() => {
                self.check_profile_make(did, &op_id, op)?
            }
            Place::MemberEntry(did) => self.check_member_entry(did, &obj, key, op)?,
            Place::Message if self.messages_v2() => self.check_message_v2(&obj, key, op)?,
            Place::Message => self.check_message(&obj, key, op)?,
            Place::Invite(did) => self.check_invite(did, &obj, key, op)?,
            Place::IssuedEntry(id) => self.check_issued_entry(id, &obj, key, op)?,
            Place::RoleDef(name) => self.check_role_def(name, &obj, key, op)?,
            Place::KeysEntry(did) => self.check_keys_entry(did, &obj, key, op)?,
            Place::Control => self.check_control(&obj, key, op)?,
            Place::Declaration(k) => self.check_declaration(k, &obj, key, op)?,
            Place::Request => self.check_request(&obj, key, op)?,
            Place::Chain => self.check_chain(&obj, key, op)?,
            Place::Persona(id) => self.check_persona(id, &obj, key, op)?,
            Place::Proposal => self.check_proposal(&op_id, &obj, key, op)?,
            Place::Votes(pid) => self.check_votes(pid, &op_id, key, op)?,
            Place::Vote(pid, did) => self.check_vote(pid, did, &obj, key, op)?,
            Place::Closed => self.check_closed(&obj, key, op)?,
            Place::Edits(m) => self.check_edits(m, &obj, op)?,
            Place::EditEntry(m) => self.check_edit_entry(m, &obj, key, op)?,
            Place::Reactions(m) => self.check_reactions(m, &obj, key, op)?,
            Place::Profile if self.people() => self.check_profile(&obj, &op_id, key, op)?,
            Place::Avatar if self.people() => self.check_profile_avatar(&obj, key, op)?,
            Place::Profile | Place::Avatar => self.check_other(&obj)?,
            Place::Other => self.check_other(&obj)?,
        }
        if let Some(p) = made_place {
            self.made.push((op_id, p));
        }
        Ok(())
    }

    fn check_meta(
        &mut self,
        key: Option<&str>,
        op: &automerge::legacy::Op,
    ) -> Result<(), Rejection> {
        // From schema version 9 a passing close of a proposal lets in a meta write the author's
        // role does not allow ([`Self::note_write`]); the value is checked alike.
        let permitted = match self.may(Permission::Meta, "changing the space's meta") {
            Err(e) if self.at.version < schema::SOCIAL => return Err(e),
            p => p,
        };
        match (key, &op.action) {
            (Some(doc::NAME | doc::PURPOSE), OpType::Put(ScalarValue::Str(_))) => {}
            (Some(doc::VISIBILITY), OpType::Put(ScalarValue::Str(v)))
                if Visibility::parse(v).is_some() => {}
            (Some(doc::EXPIRES_AT), OpType::Put(ScalarValue::Timestamp(_))) => {}
            (Some(doc::REQUIREMENTS), OpType::Put(ScalarValue::Str(r))) => {
                parse_requirements(r).map_err(Rejection::Unauthorized)?;
            }
            (
                Some(k @ (attestation::BADGES | attestation::ATTESTERS)),
                OpType::Put(ScalarValue::Str(j)),
            ) if self.at.version >= schema::ABILITIES_V2 => {
                let checked = if k == attestation::BADGES {
                    attestation::parse_badges(j).map(drop)
                } else {
                    attestation::parse_attesters(j).map(drop)
                };
                checked.map_err(Rejection::Unauthorized)?;
            }
            (Some(crate::tokens::TOKENS), OpType::Put(v)) => self.check_token_policy(v)?,
            (Some(crate::earned::EARNED_ROLES), OpType::Put(ScalarValue::Str(j)))
                if self.at.version >= schema::SOCIAL =>
            {
                self.check_earned_roles(j)?;
            }
            (Some(k), OpType::Put(ScalarValue::Str(v))) if self.is_social_meta(k) => {
                self.check_social_meta(k, v)?;
            }
            (Some(k), _) => return deny(format!("meta.{k} cannot be changed this way")),
            (None, _) => return deny("meta is a map".into()),
        }
        let value = match &op.action {
            OpType::Put(ScalarValue::Str(v)) => Some(v.to_string()),
            _ => None,
        };
        let key = key.unwrap_or_default().to_string();
        self.note_write(proposals::Enacted::Meta { key, value }, permitted)?;
        self.effects.push(Effect::MetaChanged);
        Ok(())
    }

    fn target_did(k: &str) -> Result<Did, Rejection> {
        k.parse::<Did>()
            .map_err(|e| Rejection::Unauthorized(format!("member key `{k}` is not a DID: {e}")))
    }

    fn check_members(
        &mut self,
        key: Option<&str>,
        op: &automerge::legacy::Op,
    ) -> Result<(), Rejection> {
        let Some(k) = key else {
            return deny("members is a map".into());
        };
        let target = Self::target_did(k)?;
        let own = k == self.author_str;
        match &op.action {
            OpType::Make(automerge::ObjType::Map) if own && self.role.is_none() => {
                self.self_join = true;
                self.effects.push(Effect::Joined { did: target });
                Ok(())
            }
            OpType::Make(_) if own => {
                deny(format!("{}; it cannot replace its own entry", self.who))
            }
            OpType::Make(_) => deny(format!(
                "{}; timites join by themselves, nobody can add another",
                self.who
            )),
            OpType::Delete if own => {
                if self.role == Some(Role::Owner) {
                    return deny("the owner cannot leave its own space".into());
                }
                self.effects.push(Effect::Removed { did: target });
                Ok(())
            }
            OpType::Delete => {
                self.may(Permission::Kick, "removing a member")?;
                self.outranks(self.target_grant(k), "remove")?;
                self.effects.push(Effect::Removed { did: target });
                Ok(())
            }
            _ => deny("a member entry must be a map".into()),
        }
    }

    /// The author must rank above a target's current role.
    fn outranks(&self, target: Option<Grant>, what: &str) -> Result<(), Rejection> {
        match target {
            Some(t) if self.rank() <= t.rank => deny(format!(
                "{}; it cannot {what} {} who ranks as high",
                self.who,
                article(&t.role)
            )),
            _ => Ok(()),
        }
    }

    fn check_member_entry(
        &mut self,
        did: &str,
        obj: &OpId,
        key: Option<&str>,
        op: &automerge::legacy::Op,
    ) -> Result<(), Rejection> {
        let own = did == self.author_str;
        let fresh = self.created_here(obj);
        match key {
            Some(doc::ROLE) => {
                let OpType::Put(ScalarValue::Str(v)) = &op.action else {
                    return deny("a role is a string".into());
                };
                let Some(new) = Role::parse(v) else {
                    return deny(format!("`{v}` is not a role"));
                };
                if own && fresh {
                    // A self-join sets `member`.
                    if new != Role::Member {
                        return deny(format!(
                            "{}; joining makes a member, not {}",
                            self.who,
                            article(&new)
                        ));
                    }
                    return Ok(());
                }
                let permitted = (|| {
                    self.may(Permission::Roles, "changing roles")?;
                    let current = self.target_grant(did);
                    self.outranks(current, "change the role of")?;
                    if let Role::Custom(name) = new {
                        if self.at.role_def(&name).is_none() {
                            return deny(format!("role `{name}` is not defined in this space"));
                        }
                    }
                    if self.at.resolve(new).rank >= self.rank() {
                        return deny(format!(
                            "{}; it cannot make anyone {}",
                            self.who,
                            article(&new)
                        ));
                    }
                    Ok(())
                })();
                // From schema version 9 a role write the author's role does not allow stands
                // as the enactment of a passed proposal closed in this change (§5.6).
                match permitted {
                    Err(why) => self.enact_role(did, new, why)?,
                    Ok(()) => {
                        let write = proposals::Enacted::Role {
                            did: did.to_string(),
                            role: new,
                        };
                        self.note_write(write, Ok(()))?;
                    }
                }
                self.effects.push(Effect::RoleChanged {
                    did: Self::target_did(did)?,
                    role: new,
                });
                Ok(())
            }
            Some(doc::JOINED_AT) if own && fresh => Ok(()),
            Some(doc::PRESENTATION) if own && fresh => match &op.action {
                OpType::Put(ScalarValue::Str(p)) => {
                    self.presentation = Some(p.to_string());
                    Ok(())
                }
                _ => deny("a presentation is a JSON string".into()),
            },
            Some(doc::PRESENTATION) => deny("a presentation is given once, when joining".into()),
            Some(doc::JOINED_AT) => deny("joined_at is set once, when joining".into()),
            _ if own => Ok(()),
            _ => deny(format!(
                "{}; a timite edits only its own member entry",
                self.who
            )),
        }
    }

    fn check_timeline(
        &mut self,
        op_id: &OpId,
        op: &automerge::legacy::Op,
    ) -> Result<(), Rejection> {
        if op.insert {
            self.may(Permission::Post, "posting")?;
            return match &op.action {
                OpType::Make(automerge::ObjType::Map) => {
                    self.message_made(op_id);
                    self.spending.posts += 1;
                    self.effects.push(Effect::Message {
                        id: format!("{}@{}", op_id.counter(), self.actor),
                    });
                    Ok(())
                }
                _ => deny("timeline entries must be maps".into()),
            };
        }
        let own =
            matches!(&op.key, Key::Seq(ElementId::Id(e)) if same_author(e.actor(), &self.actor));
        match &op.action {
            OpType::Delete if own => {
                self.member_writing("deleting a message")?;
            }
            OpType::Delete => self.may(Permission::Moderate, "deleting another's message")?,
            _ => return deny(format!("{}; timeline entries cannot be replaced", self.who)),
        }
        self.effects.push(Effect::MessageDeleted);
        Ok(())
    }

    fn check_message(
        &mut self,
        obj: &OpId,
        key: Option<&str>,
        op: &automerge::legacy::Op,
    ) -> Result<(), Rejection> {
        if !same_author(obj.actor(), &self.actor) {
            return deny(format!("{}; only a message's author may edit it", self.who));
        }
        self.may(Permission::Post, "editing a message")?;
        match (key, &op.action) {
            (Some(doc::TEXT), _) if self.encrypted => deny(format!(
                "{}; this space is end-to-end encrypted: a message carries `ct`, not `text`",
                self.who
            )),
            (Some(doc::CT), _) if !self.encrypted => {
                deny("`ct` is for end-to-end encrypted spaces only".into())
            }
            (Some(doc::CT), OpType::Put(ScalarValue::Bytes(b))) if b.len() <= MAX_CT_BYTES => {
                Ok(())
            }
            (Some(doc::CT), _) => deny(format!("`ct` is at most {MAX_CT_BYTES} bytes")),
            _ => Ok(()),
        }
    }

    /// The encryption containers are written only in an encrypted space.
    fn encrypted_only(&self, what: &str) -> Result<(), Rejection> {
        if self.encrypted {
            Ok(())
        } else {
            deny(format!("{what} is for end-to-end encrypted spaces only"))
        }
    }

    /// `keys`: each member makes its own entry, once (its identity key never changes).
    fn check_keys(
        &mut self,
        op_id: &OpId,
        key: Option<&str>,
        op: &automerge::legacy::Op,
    ) -> Result<(), Rejection> {
        self.encrypted_only("`keys`")?;
        if key != Some(self.author_str.as_str()) {
            return deny(format!(
                "{}; a timite publishes only its own keys",
                self.who
            ));
        }
        match &op.action {
            OpType::Make(automerge::ObjType::Map) => {}
            _ => return deny("a keys entry is a map, never deleted".into()),
        }
        if self.in_root(&schema::KEYS, &self.author_str).is_some() {
            return deny(format!(
                "{}; its keys entry exists: an encryption identity never changes",
                self.who
            ));
        }
        self.keys_made = Some((op_id.clone(), false, false));
        Ok(())
    }

    fn check_keys_entry(
        &mut self,
        did: &str,
        obj: &OpId,
        key: Option<&str>,
        op: &automerge::legacy::Op,
    ) -> Result<(), Rejection> {
        if did != self.author_str {
            return deny(format!(
                "{}; a timite publishes only its own keys",
                self.who
            ));
        }
        let fresh = self.created_here(obj);
        match (key, &op.action) {
            (Some(doc::IDENTITY), OpType::Put(ScalarValue::Bytes(b)))
                if fresh && b.len() == IDENTITY_BYTES =>
            {
                if let Some(k) = self.keys_made.as_mut() {
                    k.1 = true;
                }
            }
            (Some(doc::IDENTITY), _) => {
                return deny(format!(
                    "an identity key is {IDENTITY_BYTES} bytes, set once with its entry"
                ))
            }
            (Some(doc::BUNDLE), OpType::Put(ScalarValue::Bytes(b)))
                if b.len() <= MAX_BUNDLE_BYTES =>
            {
                if let Some(k) = self.keys_made.as_mut() {
                    k.2 = true;
                }
            }
            (Some(doc::BUNDLE), _) => {
                return deny(format!("a key bundle is at most {MAX_BUNDLE_BYTES} bytes"))
            }
            _ => return deny("a keys entry holds `identity` and `bundle` only".into()),
        }
        self.effects.push(Effect::KeysPublished {
            did: Self::target_did(did)?,
        });
        Ok(())
    }

    /// `group`: members insert control messages (one a change), never edit or delete them.
    fn check_group(&mut self, op_id: &OpId, op: &automerge::legacy::Op) -> Result<(), Rejection> {
        self.encrypted_only("`group`")?;
        self.member_writing("a control message")?;
        if !op.insert || !matches!(op.action, OpType::Make(automerge::ObjType::Map)) {
            return deny(format!(
                "{}; control messages are only inserted, as maps, never edited or deleted",
                self.who
            ));
        }
        if self.control.is_some() {
            return deny("a change carries one control message at most".into());
        }
        self.control = Some(ControlBeingMade {
            map: op_id.clone(),
            author: false,
            op: None,
            subject: None,
            ctl: false,
        });
        self.effects.push(Effect::Control {
            id: format!("{}@{}", op_id.counter(), self.actor),
        });
        Ok(())
    }

    fn check_control(
        &mut self,
        obj: &OpId,
        key: Option<&str>,
        op: &automerge::legacy::Op,
    ) -> Result<(), Rejection> {
        let Some(c) = self.control.as_mut().filter(|c| &c.map == obj) else {
            return deny(format!("{}; control messages are never edited", self.who));
        };
        match (key, &op.action) {
            // (`check_op` checked that it is the author's own DID.)
            (Some(doc::AUTHOR), _) => c.author = true,
            (Some(doc::OP), OpType::Put(ScalarValue::Str(v))) if ControlOp::parse(v).is_some() => {
                c.op = ControlOp::parse(v);
            }
            (Some(doc::SUBJECT), OpType::Put(ScalarValue::Str(v))) => {
                Self::target_did(v)?;
                c.subject = Some(v.to_string());
            }
            (Some(doc::CTL), OpType::Put(ScalarValue::Bytes(b))) if b.len() <= MAX_CTL_BYTES => {
                c.ctl = true;
            }
            _ => {
                return deny(format!(
                    "a control message is `author`, `op` (create, add, remove, update),                      `subject` (a DID) and `ctl` (at most {MAX_CTL_BYTES} bytes)"
                ))
            }
        }
        Ok(())
    }

    /// A control message, once the change wrote all of it: complete, and allowed at the
    /// change's dependencies (docs/rules.md §5: the group follows `members`).
    fn check_control_made(&self, c: ControlBeingMade) -> Result<(), Rejection> {
        let (true, Some(op), true) = (c.author, c.op, c.ctl) else {
            return deny("a control message needs `author`, `op` and `ctl`".into());
        };
        if op.has_subject() != c.subject.is_some() {
            return deny(format!(
                "a control message `{}` {} a `subject`",
                op.as_str(),
                if op.has_subject() { "needs" } else { "has no" }
            ));
        }
        match (op, c.subject) {
            (ControlOp::Create, _) => {
                if self.role != Some(Role::Owner) {
                    return deny(format!("{}; only the owner creates the group", self.who));
                }
                if self.at.has_control(&self.roots, ControlOp::Create) {
                    return deny("the group is created once".into());
                }
            }
            (ControlOp::Add, Some(x)) => {
                self.may(Permission::Invite, "adding a member to the group")?;
                if !matches!(self.at.role(&self.members, &x), Some(r) if r != Role::Banned) {
                    return deny(format!(
                        "{}; only a member is added to the group, after its join",
                        self.who
                    ));
                }
            }
            (ControlOp::Remove, Some(x)) => {
                if matches!(self.at.role(&self.members, &x), Some(r) if r != Role::Banned) {
                    return deny(format!(
                        "{}; a member is removed from the group only after it left, was                          removed or banned",
                        self.who
                    ));
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn check_invites(
        &mut self,
        key: Option<&str>,
        op: &automerge::legacy::Op,
    ) -> Result<(), Rejection> {
        let Some(k) = key else {
            return deny("invites is a map".into());
        };
        let target = Self::target_did(k)?;
        self.may(Permission::Invite, "inviting")?;
        if let OpType::Make(_) = op.action {
            self.spending.invites.push(k.to_string());
            self.effects.push(Effect::Invited { did: target });
        }
        Ok(())
    }

    fn check_invite(
        &mut self,
        did: &str,
        obj: &OpId,
        key: Option<&str>,
        op: &automerge::legacy::Op,
    ) -> Result<(), Rejection> {
        if did == self.author_str && self.role.is_none() {
            // The invitee uses its invite: only `used = true`, only while joining, only if the
            // invite (as the admin wrote it) is unused and unexpired at the join's time.
            if key != Some(doc::USED)
                || !matches!(op.action, OpType::Put(ScalarValue::Boolean(true)))
            {
                return deny(format!(
                    "{}; an invitee may only mark its invite used",
                    self.who
                ));
            }
            let (ex, _) = self
                .doc
                .import(&format!("{}@{}", obj.counter(), obj.actor()))
                .map_err(|e| Rejection::Unauthorized(format!("invite: {e}")))?;
            let used = matches!(
                self.at.scalar(&ex, doc::USED),
                Some(ScalarValue::Boolean(true))
            );
            let expires = match self.at.scalar(&ex, doc::EXPIRES_AT) {
                Some(ScalarValue::Timestamp(t)) => t,
                _ => i64::MAX,
            };
            if used {
                return deny(format!("{}; its invite was already used", self.who));
            }
            if self.join_time_ms() > expires {
                return deny(format!("{}; its invite expired", self.who));
            }
            self.used_invite = true;
            return Ok(());
        }
        self.may(Permission::Invite, "changing invites")
    }

    /// `ratings["<rater> <ratee>"]`: a member rates another member 1 to 5 (one live rating per
    /// pair: the key), or withdraws its rating.
    fn check_rating(
        &mut self,
        key: Option<&str>,
        op: &automerge::legacy::Op,
    ) -> Result<(), Rejection> {
        self.may(Permission::Rate, "rating")?;
        let Some((rater, ratee)) = key.and_then(|k| k.split_once(' ')) else {
            return deny("a rating key is `<rater DID> <ratee DID>`".into());
        };
        if rater != self.author_str {
            return deny(format!(
                "{}; a timite may only give its own ratings",
                self.who
            ));
        }
        if ratee == rater {
            return deny(format!("{}; nobody rates themself", self.who));
        }
        let ratee_did = Self::target_did(ratee)?;
        if self.at.role(&self.members, ratee).is_none() {
            return deny(format!("{ratee} is not a member; only members are rated"));
        }
        match &op.action {
            OpType::Put(ScalarValue::Int(1..=5) | ScalarValue::Uint(1..=5)) | OpType::Delete => {}
            _ => return deny("a rating is an integer from 1 to 5".into()),
        }
        self.effects.push(Effect::Rated { ratee: ratee_did });
        Ok(())
    }

    /// `issued[<credential id>]`: an admin records a credential it issues in the space's name.
    /// Recording is what proves, to any node holding the space, that the issuer was an admin
    /// when it issued: the rules judged this change at its own causal past.
    fn check_issued(
        &mut self,
        key: Option<&str>,
        op: &automerge::legacy::Op,
    ) -> Result<(), Rejection> {
        self.may(Permission::Issue, "issuing credentials")?;
        let Some(id) = key else {
            return deny("issued is a map".into());
        };
        match &op.action {
            OpType::Make(automerge::ObjType::Map) => {
                if self.in_root(&schema::ISSUED, id).is_some() {
                    return deny(format!("credential {id} is already recorded"));
                }
                self.effects
                    .push(Effect::CredentialIssued { id: id.to_string() });
                Ok(())
            }
            _ => deny("issuance records are never changed; revoke through the status list".into()),
        }
    }

    /// The fields of an issuance record are written once, in the change that creates it (a
    /// `credential` among them, any version: the signed credential delivered to its subject).
    /// From schema version 11 its `issuer` is the change's author. Its status index is the one derived from the credential id
    /// ([`tim_protocol::SpaceId::status_index`]), so concurrent issuers never share one
    /// (records made by version 1 actors, before sessions, counted records instead).
    fn check_issued_entry(
        &mut self,
        id: &str,
        obj: &OpId,
        key: Option<&str>,
        op: &automerge::legacy::Op,
    ) -> Result<(), Rejection> {
        if !self.created_here(obj) {
            return deny(
                "issuance records are never changed; revoke through the status list".into(),
            );
        }
        // From people's features on, a record names its author as its issuer: the signer a
        // delivered credential must verify under (docs/passports.md, "Delivery to the subject").
        if key == Some(doc::ISSUER) && self.at.version >= schema::PEOPLE {
            let named = matches!(&op.action, OpType::Put(ScalarValue::Str(s)) if s.as_str() == self.author_str);
            if !named {
                return deny(format!(
                    "the issuer of credential {id} must be its recorder, {}",
                    self.author_str
                ));
            }
        }
        if key == Some(doc::STATUS_INDEX) && !is_v1_actor(&self.actor) {
            let want = self.space.status_index(id);
            if !matches!(op.action, OpType::Put(ScalarValue::Uint(i)) if i == want) {
                return deny(format!(
                    "the status index of credential {id} must be {want}, derived from its id"
                ));
            }
        }
        Ok(())
    }

    /// `status_list[<index>] = true`: an admin revokes the credential with that status index.
    /// Revocation is final.
    fn check_status_list(
        &mut self,
        key: Option<&str>,
        op: &automerge::legacy::Op,
    ) -> Result<(), Rejection> {
        self.may(Permission::Revoke, "revoking credentials")?;
        let index = key.and_then(|k| k.parse::<u64>().ok()).ok_or_else(|| {
            Rejection::Unauthorized("a status list key is a decimal index".into())
        })?;
        match &op.action {
            OpType::Put(ScalarValue::Boolean(true)) => {
                self.effects.push(Effect::Revoked { index });
                Ok(())
            }
            _ => deny("a revocation sets `true` and is never undone".into()),
        }
    }

    /// The time the author's node stamped on this change, in milliseconds. Author-claimed:
    /// an invitee could backdate its join to beat an expiry (see docs/rules.md).
    fn join_time_ms(&self) -> i64 {
        self.time
    }

    /// `roles[<name>]`: a timite with the `roles` permission defines a role that ranks below
    /// its own, by making its definition map whole (redefining replaces it). Roles are never
    /// removed; a built-in role is never redefined.
    fn check_roles(
        &mut self,
        op_id: &OpId,
        key: Option<&str>,
        op: &automerge::legacy::Op,
    ) -> Result<(), Rejection> {
        self.may(Permission::Roles, "defining roles")?;
        let Some(k) = key else {
            return deny("roles is a map".into());
        };
        let name = RoleName::parse(k).map_err(Rejection::Unauthorized)?;
        match &op.action {
            OpType::Make(automerge::ObjType::Map) => {
                if let Some(old) = self.at.role_def(&name) {
                    if old.rank >= self.rank() {
                        return deny(format!(
                            "{}; it cannot redefine `{name}`, which ranks as high",
                            self.who
                        ));
                    }
                }
                self.defining.push(RoleBeingDefined {
                    map: op_id.clone(),
                    name: k.to_string(),
                    rank: false,
                    may: false,
                });
                self.effects.push(Effect::RoleDefined { name });
                Ok(())
            }
            OpType::Delete => {
                deny("a role is never removed; redefine it with no permissions instead".into())
            }
            _ => deny("a role definition is a map { rank, may }".into()),
        }
    }

    /// The fields of a role definition, written in the change that makes it: `rank`, from 1 to
    /// below the author's own rank, and `may`, permissions the author has itself.
    fn check_role_def(
        &mut self,
        name: &str,
        obj: &OpId,
        key: Option<&str>,
        op: &automerge::legacy::Op,
    ) -> Result<(), Rejection> {
        let Some(i) = self.defining.iter().position(|d| d.map == *obj) else {
            return deny(format!(
                "role `{name}` is defined whole, in the change that makes its definition: \
                 redefine it to change it"
            ));
        };
        match (key, &op.action) {
            (Some(doc::RANK), OpType::Put(ScalarValue::Uint(r))) => {
                if *r == 0 || *r >= self.rank() {
                    return deny(format!(
                        "{}; a role it defines ranks from 1 to below its own rank ({}), not {r}",
                        self.who,
                        self.rank()
                    ));
                }
                self.defining[i].rank = true;
            }
            (Some(doc::MAY), OpType::Put(ScalarValue::Str(json))) => {
                let may = Permissions::from_json(json, self.at.version)
                    .map_err(Rejection::Unauthorized)?;
                let mine = self.grant().map_or(Permissions::NONE, |g| g.may);
                if !mine.covers(may) {
                    return deny(format!(
                        "{}; it cannot grant permissions it does not have",
                        self.who
                    ));
                }
                self.defining[i].may = true;
            }
            _ => {
                return deny(
                    "a role definition holds `rank` (an unsigned integer) and `may` (a JSON \
                     list of permission names)"
                        .into(),
                )
            }
        }
        Ok(())
    }

    /// Whether `op` changes the schema: it writes at the document root, or `meta.version`.
    fn is_schema_op(&self, op: &automerge::legacy::Op) -> bool {
        match &op.obj {
            ObjectId::Root => true,
            ObjectId::Id(id) => {
                same_obj(&self.meta, id)
                    && matches!(&op.key, Key::Map(k) if k.as_str() == doc::VERSION)
            }
        }
    }

    /// A migration (docs/rules.md §4.1): by a timite with the `migrate` permission, one change
    /// that sets `meta.version` to a version `to` above the space's `from` (at the change's
    /// dependencies) and makes, at the root, exactly the containers that the versions after
    /// `from` up to `to` introduced, each of its type and empty (the change holds nothing
    /// else). A node that does not know `to` refuses it as [`Rejection::UnknownSchema`].
    fn check_migration(&mut self, ops: &[automerge::legacy::Op]) -> Result<(), Rejection> {
        self.may(Permission::Migrate, "migrating the schema")?;
        let from = self.at.version;
        let mut to = None;
        let mut made: Vec<(String, automerge::ObjType)> = Vec::new();
        for op in ops {
            let key = match &op.key {
                Key::Map(k) => Some(k.to_string()),
                Key::Seq(_) => None,
            };
            match (&op.obj, key, &op.action) {
                (ObjectId::Root, Some(k), OpType::Make(t)) if !op.insert => made.push((k, *t)),
                (ObjectId::Root, _, _) => {
                    return bad_migration(format!(
                        "{}; the document root changes only by making containers",
                        self.who
                    ))
                }
                (_, _, OpType::Put(ScalarValue::Uint(n))) if self.is_schema_op(op) => {
                    if to.replace(*n).is_some() {
                        return bad_migration("a migration sets meta.version once".into());
                    }
                }
                _ if self.is_schema_op(op) => {
                    return bad_migration("meta.version is an unsigned integer".into())
                }
                _ => {
                    return bad_migration(
                        "a migration only makes root containers and sets meta.version; write \
                         into the new containers in a later change"
                            .into(),
                    )
                }
            }
        }
        let Some(to) = to else {
            return bad_migration(format!(
                "{}; the document root changes only in a migration, which raises meta.version",
                self.who
            ));
        };
        if to <= from {
            return bad_migration(format!(
                "the space is at schema version {from}; a migration raises it, it cannot set {to}"
            ));
        }
        if !schema::is_known(to) {
            return Err(Rejection::UnknownSchema { version: to });
        }
        let mut names: Vec<&str> = Vec::new();
        for (k, t) in &made {
            let Some(c) = schema::container(k) else {
                return Err(Rejection::UnknownContainer(k.clone()));
            };
            if !(from < c.since && c.since <= to) {
                return bad_migration(format!(
                    "`{k}` belongs to schema version {}, not to a migration from {from} to {to}",
                    c.since
                ));
            }
            if !c.kind.is(*t) {
                return bad_migration(format!("`{k}` must be a {:?}", c.kind));
            }
            if names.contains(&c.name) {
                return bad_migration(format!("`{k}` is made twice"));
            }
            names.push(c.name);
        }
        let missing: Vec<&str> = schema::added_between(from, to)
            .map(|c| c.name)
            .filter(|n| !names.contains(n))
            .collect();
        if !missing.is_empty() {
            return bad_migration(format!(
                "a migration from schema version {from} to {to} must also make {}",
                missing.join(", ")
            ));
        }
        self.effects.push(Effect::Migrated { from, to });
        Ok(())
    }

    fn check_other(&mut self, obj: &OpId) -> Result<(), Rejection> {
        if !same_author(obj.actor(), &self.actor) {
            return deny(format!(
                "{}; object {}@{} was created by another timite",
                self.who,
                obj.counter(),
                obj.actor()
            ));
        }
        self.member_writing("writing")
    }
}

fn article(r: &Role) -> String {
    match r {
        Role::Banned => "banned".to_string(),
        r if r.as_str().starts_with(['a', 'e', 'i', 'o', 'u']) => format!("an {r}"),
        r => format!("a {r}"),
    }
}

/// Checks a genesis change applied alone to `doc` (a fresh document): `meta.version` is a
/// schema version this node knows (absent, it is the genesis version) and the root holds
/// exactly that version's containers ([`schema::containers_at`]), each of its type; all but
/// `meta` and `members` are empty; `meta.created_by` is the author; the author is the only
/// member, as owner; the visibility is valid.
pub fn check_genesis(doc: &Automerge, author: &Did) -> Result<(), Rejection> {
    let bad = |why: &str| Err(Rejection::BadGenesis(why.to_string()));
    let version = doc::schema_version(doc, None);
    if version > schema::LATEST_VERSION {
        return Err(Rejection::UnknownSchema { version });
    }
    if !schema::is_known(version) {
        return bad("meta.version must be a schema version");
    }
    let keys: Vec<String> = doc.keys(automerge::ROOT).collect();
    if let Some(k) = keys.iter().find(|k| schema::container(k).is_none()) {
        return Err(Rejection::UnknownContainer(k.clone()));
    }
    let mut expected: Vec<&str> = schema::containers_at(version).map(|c| c.name).collect();
    expected.sort_unstable();
    if keys != expected {
        return Err(Rejection::BadGenesis(format!(
            "the root must hold exactly {} (schema version {version})",
            expected.join(", ")
        )));
    }
    for c in schema::containers_at(version) {
        let Some(o) = doc::root_obj(doc, c, None).filter(|o| {
            doc.object_type(o)
                .is_ok_and(|t| c.kind.is(t) && t != automerge::ObjType::Table)
        }) else {
            return Err(Rejection::BadGenesis(format!(
                "{} must be a {:?}",
                c.name, c.kind
            )));
        };
        let empty = doc.length(&o) == 0 && doc.keys(&o).next().is_none();
        if !matches!(c.policy, Policy::Meta | Policy::Members) && !empty {
            return Err(Rejection::BadGenesis(format!("{} must be empty", c.name)));
        }
    }
    let (Some(meta), Some(members)) = (
        doc::root_obj(doc, &schema::META, None),
        doc::root_obj(doc, &schema::MEMBERS, None),
    ) else {
        return bad("meta and members must be maps");
    };
    if doc::get_str(doc, &meta, doc::CREATED_BY).as_deref() != Some(author.to_string().as_str()) {
        return bad("meta.created_by must be the author of the genesis change");
    }
    let name = doc::get_str(doc, &meta, doc::NAME).unwrap_or_default();
    if name.is_empty() || name.len() > tim_protocol::wire::MAX_NAME_BYTES {
        return bad("meta.name must be 1 to 200 bytes");
    }
    let visibility = doc::get_str(doc, &meta, doc::VISIBILITY).unwrap_or_default();
    match Visibility::parse(&visibility) {
        Some(Visibility::Ephemeral) if doc::get_millis(doc, &meta, doc::EXPIRES_AT).is_none() => {
            return bad("an ephemeral space needs meta.expires_at");
        }
        Some(_) => {}
        None => return bad("meta.visibility must be public, invite-only or ephemeral"),
    }
    if let Some(scheme) = doc::get_str(doc, &meta, doc::ENCRYPTION) {
        if scheme != crate::encryption::ENCRYPTION_SCHEME {
            return Err(Rejection::BadGenesis(format!(
                "meta.encryption `{scheme}` is not a scheme this node knows"
            )));
        }
        if version < crate::encryption::ENCRYPTED_VERSION
            || Visibility::parse(&visibility) != Some(Visibility::InviteOnly)
        {
            return bad("an encrypted space is invite-only, at schema version 3 or later");
        }
        if doc::get_str(doc, &meta, doc::HISTORY)
            .and_then(|h| crate::encryption::History::parse(&h))
            .is_none()
        {
            return bad("an encrypted space's meta.history is shared or since-join");
        }
    } else if doc::get_str(doc, &meta, doc::HISTORY).is_some() {
        return bad("meta.history is for encrypted spaces");
    }
    if doc::get_str(doc, &meta, doc::KIND).is_some_and(|k| k != doc::DM)
        || (doc::get_str(doc, &meta, doc::KIND).is_some()
            && doc::get_str(doc, &meta, doc::ENCRYPTION).is_none())
    {
        return bad("meta.kind is `dm`, for encrypted spaces only");
    }
    let member_keys: Vec<String> = doc.keys(&members).collect();
    if member_keys != [author.to_string()] {
        return bad("the creator must be the only member");
    }
    let entry = doc::child_obj(doc, &members, &member_keys[0], None);
    if entry
        .and_then(|e| doc::get_str(doc, &e, doc::ROLE))
        .as_deref()
        != Some(Role::Owner.as_str())
    {
        return bad("the creator's role must be owner");
    }
    Ok(())
}
