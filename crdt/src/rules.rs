//! The authorization rules: may this author make this change, in this space, at this point of
//! its history?
//!
//! Every operation of a change is judged against the document *at the change's dependencies*
//! (its causal past), never against local time or arrival order, so every honest node that has
//! the dependencies reaches the same verdict. `docs/rules.md` is the specification; this module
//! is its implementation, one `check_*` function per part of the document.
//!
//! Roles, highest first: `owner` (the creator), `admin`, `moderator`, `member`, `guest`
//! (read-only), and `banned` (no writes at all).

use automerge::legacy::{ElementId, Key, ObjectId, OpId, OpType};
use automerge::{ActorId, Automerge, ChangeHash, ObjId, Prop, ReadDoc, ScalarValue, Value};
use tim_protocol::wire::MAX_TEXT_BYTES;
use tim_protocol::Did;

use crate::admission::{meets, parse_requirements, AdmissionVerifier};
use crate::doc;
use crate::writer::{is_v1_actor, same_author};
use crate::Rejection;

/// A member's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// May not write anything.
    Banned,
    /// May read and edit its own member entry, not post.
    Guest,
    /// May post, and edit or delete its own messages.
    Member,
    /// A member who may also delete anyone's message.
    Moderator,
    /// A moderator who may also change meta, invites and roles below admin, kick and ban.
    Admin,
    /// The creator: an admin who may also appoint and demote admins.
    Owner,
}

impl Role {
    /// The role's name in the document.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Banned => "banned",
            Self::Guest => "guest",
            Self::Member => "member",
            Self::Moderator => "moderator",
            Self::Admin => "admin",
            Self::Owner => "owner",
        }
    }

    /// Parses a role name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "banned" => Self::Banned,
            "guest" => Self::Guest,
            "member" => Self::Member,
            "moderator" => Self::Moderator,
            "admin" => Self::Admin,
            "owner" => Self::Owner,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

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
}

/// A read view of the document at a change's dependencies.
struct At<'a> {
    doc: &'a Automerge,
    /// `None` when the deps are the current heads (the fast path: no history walk).
    heads: Option<&'a [ChangeHash]>,
}

impl At<'_> {
    fn get(&self, obj: &ObjId, key: &str) -> Option<(Value<'_>, ObjId)> {
        match self.heads {
            Some(h) => self.doc.get_at(obj, key, h),
            None => self.doc.get(obj, key),
        }
        .ok()
        .flatten()
    }

    fn scalar(&self, obj: &ObjId, key: &str) -> Option<ScalarValue> {
        match self.get(obj, key)? {
            (Value::Scalar(s), _) => Some(s.into_owned()),
            _ => None,
        }
    }

    fn get_str(&self, obj: &ObjId, key: &str) -> Option<String> {
        match self.scalar(obj, key)? {
            ScalarValue::Str(s) => Some(s.to_string()),
            _ => None,
        }
    }

    fn child(&self, obj: &ObjId, key: &str) -> Option<ObjId> {
        match self.get(obj, key)? {
            (Value::Object(_), id) => Some(id),
            _ => None,
        }
    }

    /// The role of `did` at these heads, `None` if not a member.
    fn role(&self, members: &ObjId, did: &str) -> Option<Role> {
        let entry = self.child(members, did)?;
        Role::parse(&self.get_str(&entry, doc::ROLE)?)
    }
}

fn same_obj(ex: &ObjId, op: &OpId) -> bool {
    matches!(ex, ObjId::Id(counter, actor, _) if *counter == op.counter() && actor == op.actor())
}

/// What an existing (or newly made) object is, found from where it sits in the document.
#[derive(Debug, Clone, PartialEq)]
enum Place {
    Meta,
    Members,
    Timeline,
    Invites,
    /// The member entry of this DID (string as in the document).
    MemberEntry(String),
    /// A message map.
    Message,
    /// The invite for this DID.
    Invite(String),
    Ratings,
    Issued,
    /// The issuance record of this credential id.
    IssuedEntry(String),
    StatusList,
    /// Anything else (nested deeper).
    Other,
}

/// The roots' object ids.
struct Roots {
    meta: ObjId,
    members: ObjId,
    timeline: ObjId,
    invites: ObjId,
    ratings: ObjId,
    issued: ObjId,
    status_list: ObjId,
}

impl Roots {
    fn place_of_root(&self, id: &OpId) -> Option<Place> {
        [
            (&self.meta, Place::Meta),
            (&self.members, Place::Members),
            (&self.timeline, Place::Timeline),
            (&self.invites, Place::Invites),
            (&self.ratings, Place::Ratings),
            (&self.issued, Place::Issued),
            (&self.status_list, Place::StatusList),
        ]
        .into_iter()
        .find(|(ex, _)| same_obj(ex, id))
        .map(|(_, p)| p)
    }

    /// The place of a child of `parent` at `key`.
    fn child_place(parent: &Place, key: Option<&str>) -> Place {
        match (parent, key) {
            (Place::Members, Some(k)) => Place::MemberEntry(k.to_string()),
            (Place::Invites, Some(k)) => Place::Invite(k.to_string()),
            (Place::Issued, Some(k)) => Place::IssuedEntry(k.to_string()),
            (Place::Timeline, None) => Place::Message,
            _ => Place::Other,
        }
    }

    /// The place of an object that existed before this change.
    fn place_of_existing(&self, doc: &Automerge, id: &OpId) -> Option<Place> {
        if let Some(p) = self.place_of_root(id) {
            return Some(p);
        }
        let (ex, _) = doc
            .import(&format!("{}@{}", id.counter(), id.actor()))
            .ok()?;
        let parent = doc.parents(&ex).ok()?.next()?;
        let parent_place = match &parent.obj {
            ObjId::Root => return Some(Place::Other),
            ObjId::Id(c, a, _) => self
                .place_of_root(&OpId::new(*c, a))
                .unwrap_or(Place::Other),
        };
        let key = match &parent.prop {
            Prop::Map(k) => Some(k.as_str()),
            Prop::Seq(_) => None,
        };
        Some(Self::child_place(&parent_place, key))
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
    Judge::new(doc, change, author, context.space)?.run(change, context.verifier)
}

/// What the rules need to know beyond the document and the change.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    /// The space (the domain a joiner's presentation must be bound to).
    pub space: tim_protocol::SpaceId,
    /// Checks presentations; without one, joins into spaces with requirements are refused.
    pub verifier: Option<&'a dyn AdmissionVerifier>,
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
    author: Did,
    doc: &'a Automerge,
    roots: Roots,
    author_str: String,
    actor: ActorId,
    role: Option<Role>,
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
    join_time: i64,
    /// The presentation a self-join carries, if any.
    presentation: Option<String>,
    /// The change's dependencies, hex: the challenges a presentation may answer.
    deps: Vec<String>,
}

fn deny<T>(why: String) -> Result<T, Rejection> {
    Err(Rejection::Unauthorized(why))
}

impl<'a> Judge<'a> {
    fn new(
        doc: &'a Automerge,
        change: &'a automerge::Change,
        author: &Did,
        space: tim_protocol::SpaceId,
    ) -> Result<Self, Rejection> {
        let deps = change.deps();
        let mut current = doc.get_heads();
        current.sort();
        let mut sorted_deps = deps.to_vec();
        sorted_deps.sort();
        let at = At {
            doc,
            heads: (sorted_deps != current).then_some(deps),
        };
        let root = |k| doc::root_obj(doc, k, None);
        let roots = match (
            root(doc::META),
            root(doc::MEMBERS),
            root(doc::TIMELINE),
            root(doc::INVITES),
            root(doc::RATINGS),
            root(doc::ISSUED),
            root(doc::STATUS_LIST),
        ) {
            (
                Some(meta),
                Some(members),
                Some(timeline),
                Some(invites),
                Some(ratings),
                Some(issued),
                Some(status_list),
            ) => Roots {
                meta,
                members,
                timeline,
                invites,
                ratings,
                issued,
                status_list,
            },
            _ => return deny("the space has no genesis at this change's dependencies".into()),
        };
        let author_str = author.to_string();
        let role = at.role(&roots.members, &author_str);
        let visibility = at
            .get_str(&roots.meta, doc::VISIBILITY)
            .and_then(|v| Visibility::parse(&v))
            .unwrap_or(Visibility::Public);
        let who = match role {
            Some(r) => format!("{} is {}", author.short(), article(r)),
            None => format!("{} is not a member", author.short()),
        };
        Ok(Self {
            space,
            author: *author,
            doc,
            roots,
            actor: change.actor_id().clone(),
            role,
            visibility,
            who,
            start_op: change.start_op().get(),
            made: Vec::new(),
            effects: Vec::new(),
            self_join: false,
            used_invite: false,
            join_time: change.timestamp(),
            presentation: None,
            deps: change.deps().iter().map(|d| d.to_string()).collect(),
            author_str,
            at,
        })
    }

    fn run(
        mut self,
        change: &automerge::Change,
        verifier: Option<&dyn AdmissionVerifier>,
    ) -> Result<Vec<Effect>, Rejection> {
        if self.role == Some(Role::Banned) {
            return deny(format!("{}; banned timites may not write", self.who));
        }
        let expanded = change.decode();
        for (i, op) in expanded.operations.iter().enumerate() {
            let op_id = OpId::new(self.start_op + i as u64, &self.actor);
            self.check_op(op_id, op)?;
        }
        if self.self_join {
            self.check_admission(verifier)?;
        }
        if self.self_join && self.visibility == Visibility::InviteOnly && !self.used_invite {
            let invite = self.at.child(&self.roots.invites, &self.author_str);
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
    fn check_admission(&self, verifier: Option<&dyn AdmissionVerifier>) -> Result<(), Rejection> {
        let requirements = match self.at.get_str(&self.roots.meta, doc::REQUIREMENTS) {
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
        let Some(verifier) = verifier else {
            return deny("this replica cannot check presentations".into());
        };
        let domain = self.space.iri();
        let credentials = verifier
            .verify(
                presentation,
                &domain,
                &self.deps,
                &self.author,
                self.join_time,
            )
            .map_err(|e| {
                Rejection::Unauthorized(format!("{}; its presentation fails: {e}", self.who))
            })?;
        meets(&requirements, &credentials)
            .map_err(|e| Rejection::Unauthorized(format!("{}; {e}", self.who)))
    }

    fn rank(&self) -> Option<Role> {
        self.role
    }

    fn at_least(&self, min: Role, what: &str) -> Result<(), Rejection> {
        match self.role {
            Some(r) if r >= min => Ok(()),
            _ => deny(format!("{}; {what} needs {}", self.who, article(min))),
        }
    }

    fn place_of(&self, id: &OpId) -> Result<Place, Rejection> {
        if let Some((_, p)) = self.made.iter().find(|(m, _)| m == id) {
            return Ok(p.clone());
        }
        if id.actor() == &self.actor && id.counter() >= self.start_op {
            return Ok(Place::Other);
        }
        self.roots.place_of_existing(self.doc, id).map_or_else(
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
            ObjectId::Root => {
                return deny(format!(
                    "{}; the document root is fixed at genesis",
                    self.who
                ))
            }
            ObjectId::Id(id) => id.clone(),
        };
        let place = self.place_of(&obj)?;
        // Non-members may only join: write their own entry and its fields, and use their invite.
        if self.role.is_none() {
            let allowed = matches!(&place, Place::Members if key.as_deref() == Some(self.author_str.as_str()))
                || matches!(&place, Place::MemberEntry(d) if *d == self.author_str && self.created_here(&obj))
                || matches!(&place, Place::Invite(d) if *d == self.author_str);
            if !allowed {
                return deny(format!("{}; join the space first", self.who));
            }
        }
        let made_place = match &op.action {
            OpType::Make(_) => Some(Roots::child_place(&place, key.as_deref())),
            _ => None,
        };
        match &place {
            Place::Meta => self.check_meta(key.as_deref(), op)?,
            Place::Members => self.check_members(key.as_deref(), op)?,
            Place::MemberEntry(did) => self.check_member_entry(did, &obj, key.as_deref(), op)?,
            Place::Timeline => self.check_timeline(&op_id, op)?,
            Place::Message => self.check_message(&obj)?,
            Place::Invites => self.check_invites(key.as_deref(), op)?,
            Place::Invite(did) => self.check_invite(did, &obj, key.as_deref(), op)?,
            Place::Ratings => self.check_rating(key.as_deref(), op)?,
            Place::Issued => self.check_issued(key.as_deref(), op)?,
            Place::IssuedEntry(id) => self.check_issued_entry(id, &obj, key.as_deref(), op)?,
            Place::StatusList => self.check_status_list(key.as_deref(), op)?,
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
        self.at_least(Role::Admin, "changing the space's meta")?;
        match (key, &op.action) {
            (Some(doc::NAME | doc::PURPOSE), OpType::Put(ScalarValue::Str(_))) => {}
            (Some(doc::VISIBILITY), OpType::Put(ScalarValue::Str(v)))
                if Visibility::parse(v).is_some() => {}
            (Some(doc::EXPIRES_AT), OpType::Put(ScalarValue::Timestamp(_))) => {}
            (Some(doc::REQUIREMENTS), OpType::Put(ScalarValue::Str(r))) => {
                parse_requirements(r).map_err(Rejection::Unauthorized)?;
            }
            (Some(k), _) => return deny(format!("meta.{k} cannot be changed this way")),
            (None, _) => return deny("meta is a map".into()),
        }
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
        let target_role = self.at.role(&self.roots.members, k);
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
                self.at_least(Role::Admin, "removing a member")?;
                self.outranks(target_role, "remove")?;
                self.effects.push(Effect::Removed { did: target });
                Ok(())
            }
            _ => deny("a member entry must be a map".into()),
        }
    }

    /// The author must rank above a target's current role.
    fn outranks(&self, target: Option<Role>, what: &str) -> Result<(), Rejection> {
        match (self.rank(), target) {
            (Some(me), Some(t)) if me > t => Ok(()),
            (_, None) => Ok(()),
            (_, Some(t)) => deny(format!(
                "{}; it cannot {what} {} who ranks as high",
                self.who,
                article(t)
            )),
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
                            article(new)
                        ));
                    }
                    return Ok(());
                }
                self.at_least(Role::Admin, "changing roles")?;
                let current = self.at.role(&self.roots.members, did);
                self.outranks(current, "change the role of")?;
                let me = self.rank().unwrap_or(Role::Banned);
                if new >= me {
                    return deny(format!(
                        "{}; it cannot make anyone {}",
                        self.who,
                        article(new)
                    ));
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
            self.at_least(Role::Member, "posting")?;
            return match &op.action {
                OpType::Make(automerge::ObjType::Map) => {
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
                self.at_least(Role::Guest, "deleting a message")?;
            }
            OpType::Delete => self.at_least(Role::Moderator, "deleting another's message")?,
            _ => return deny(format!("{}; timeline entries cannot be replaced", self.who)),
        }
        self.effects.push(Effect::MessageDeleted);
        Ok(())
    }

    fn check_message(&mut self, obj: &OpId) -> Result<(), Rejection> {
        if !same_author(obj.actor(), &self.actor) {
            return deny(format!("{}; only a message's author may edit it", self.who));
        }
        self.at_least(Role::Member, "editing a message")
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
        self.at_least(Role::Admin, "inviting")?;
        if let OpType::Make(_) = op.action {
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
        self.at_least(Role::Admin, "changing invites")
    }

    /// `ratings["<rater> <ratee>"]`: a member rates another member 1 to 5 (one live rating per
    /// pair: the key), or withdraws its rating.
    fn check_rating(
        &mut self,
        key: Option<&str>,
        op: &automerge::legacy::Op,
    ) -> Result<(), Rejection> {
        self.at_least(Role::Member, "rating")?;
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
        if self.at.role(&self.roots.members, ratee).is_none() {
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
        self.at_least(Role::Admin, "issuing credentials")?;
        let Some(id) = key else {
            return deny("issued is a map".into());
        };
        match &op.action {
            OpType::Make(automerge::ObjType::Map) => {
                if self.at.child(&self.roots.issued, id).is_some() {
                    return deny(format!("credential {id} is already recorded"));
                }
                self.effects
                    .push(Effect::CredentialIssued { id: id.to_string() });
                Ok(())
            }
            _ => deny("issuance records are never changed; revoke through the status list".into()),
        }
    }

    /// The fields of an issuance record are written once, in the change that creates it. Its
    /// status index is the one derived from the credential id
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
        self.at_least(Role::Admin, "revoking credentials")?;
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
        self.join_time
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
        self.at_least(Role::Guest, "writing")
    }
}

fn article(r: Role) -> String {
    match r {
        Role::Admin | Role::Owner => format!("an {r}"),
        Role::Banned => "banned".to_string(),
        _ => format!("a {r}"),
    }
}

/// Checks a genesis change applied alone to `doc` (a fresh document): the root holds exactly
/// `meta`, `members`, `timeline` and `invites`; `meta.created_by` is the author; the author is
/// the only member, as owner; the timeline and invites are empty; the visibility is valid.
pub fn check_genesis(doc: &Automerge, author: &Did) -> Result<(), Rejection> {
    let bad = |why: &str| Err(Rejection::BadGenesis(why.to_string()));
    let keys: Vec<String> = doc.keys(automerge::ROOT).collect();
    let expected = [
        doc::INVITES,
        doc::ISSUED,
        doc::MEMBERS,
        doc::META,
        doc::RATINGS,
        doc::STATUS_LIST,
        doc::TIMELINE,
    ];
    if keys != expected {
        return bad(
            "the root must hold exactly meta, members, timeline, invites, ratings, issued and \
             status_list",
        );
    }
    for k in [doc::RATINGS, doc::ISSUED, doc::STATUS_LIST] {
        match doc::root_obj(doc, k, None) {
            Some(o)
                if doc.object_type(&o) == Ok(automerge::ObjType::Map)
                    && doc.keys(&o).next().is_none() => {}
            _ => return bad("ratings, issued and status_list must be empty maps"),
        }
    }
    let (Some(meta), Some(members), Some(timeline), Some(invites)) = (
        doc::root_obj(doc, doc::META, None),
        doc::root_obj(doc, doc::MEMBERS, None),
        doc::root_obj(doc, doc::TIMELINE, None),
        doc::root_obj(doc, doc::INVITES, None),
    ) else {
        return bad("meta, members and invites must be maps, timeline a list");
    };
    if doc.object_type(&timeline) != Ok(automerge::ObjType::List) || doc.length(&timeline) != 0 {
        return bad("the timeline must be an empty list");
    }
    if doc.keys(&invites).next().is_some() {
        return bad("invites must be empty");
    }
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
