//! End-to-end encrypted spaces in the document (docs/privacy.md §4.2): the clear structure
//! every node judges, whether or not it can decrypt anything.
//!
//! An encrypted space starts at schema version 3 with `meta.encryption`
//! ([`ENCRYPTION_SCHEME`]) and `meta.history`; a direct-message space also has
//! `meta.kind = "dm"`. Its members publish their public encryption keys in `keys` (each its
//! own entry), the encryption group's control messages (create, add, remove, update) are
//! elements of `group`, and its messages carry `ct` (ciphertext bytes) instead of `text`. This
//! crate stores and judges those bytes; it never decrypts them (node/src/e2ee does).

use std::collections::HashSet;

use automerge::transaction::Transactable;
use automerge::{ObjType, ReadDoc, ScalarValue, Value};
use tim_protocol::wire::{MAX_CHANGE_BYTES, MAX_TEXT_BYTES};
use tim_protocol::{ChangeHash, Did};

use crate::space::{millis, tim_hash};
use crate::{doc, schema, Applied, Space, SpaceError, Visibility, Writer};

/// The value of `meta.encryption` of an end-to-end encrypted space: p2panda-encryption 0.7.1's
/// data scheme with Tim's layouts (docs/privacy.md §4). A library upgrade that changes an inner
/// format is a new value, never a silent change.
pub const ENCRYPTION_SCHEME: &str = "p2panda-data/1";
/// The schema version an encrypted space starts at (the one that brings `keys` and `group`).
pub const ENCRYPTED_VERSION: u64 = 3;
/// Bytes of a public encryption-identity key (X25519).
pub const IDENTITY_BYTES: usize = 32;
/// Largest published key bundle.
pub const MAX_BUNDLE_BYTES: usize = 1024;
/// Largest `ct` of a message: the largest text, its bound fields and the encryption's framing.
pub const MAX_CT_BYTES: usize = MAX_TEXT_BYTES + 1024;
/// Largest `ctl` of a control message (its direct messages grow with the group: ~0.4 KB a
/// member; docs/privacy.md §4.11).
pub const MAX_CTL_BYTES: usize = MAX_CHANGE_BYTES - 4096;

/// Whether newcomers read what was written before they joined (`meta.history`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum History {
    /// A newcomer's welcome carries every group secret: it reads the whole history.
    Shared,
    /// A newcomer reads from its join on.
    SinceJoin,
}

impl History {
    /// The name in the document.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Shared => "shared",
            Self::SinceJoin => "since-join",
        }
    }

    /// Parses a name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "shared" => Some(Self::Shared),
            "since-join" => Some(Self::SinceJoin),
            _ => None,
        }
    }
}

/// How an encrypted space is encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encryption {
    /// Who reads history.
    pub history: History,
    /// A direct-message space (`meta.kind = "dm"`).
    pub dm: bool,
}

/// What a control message does, in the clear (`group[i].op`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlOp {
    /// Creates the group (the owner, once).
    Create,
    /// Adds a member (`subject`) and welcomes it.
    Add,
    /// Removes a former member (`subject`) and rotates the group secret.
    Remove,
    /// Rotates the group secret.
    Update,
}

impl ControlOp {
    /// The name in the document.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Add => "add",
            Self::Remove => "remove",
            Self::Update => "update",
        }
    }

    /// Parses a name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "create" => Some(Self::Create),
            "add" => Some(Self::Add),
            "remove" => Some(Self::Remove),
            "update" => Some(Self::Update),
            _ => None,
        }
    }

    /// Whether the operation names a subject.
    pub fn has_subject(self) -> bool {
        matches!(self, Self::Add | Self::Remove)
    }
}

/// One control message of the group, as the document holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlView {
    /// Its id: the Automerge object id of its `group` element, the same on every node.
    pub id: String,
    /// Its author.
    pub author: Did,
    /// What it does.
    pub op: ControlOp,
    /// The member it adds or removes.
    pub subject: Option<Did>,
    /// The key-agreement message (opaque here).
    pub ctl: Vec<u8>,
}

/// The bytes at `key` of `obj`, if it holds bytes there.
pub(crate) fn bytes(doc: &impl ReadDoc, obj: &automerge::ObjId, key: &str) -> Option<Vec<u8>> {
    match doc.get(obj, key).ok()?? {
        (Value::Scalar(s), _) => match s.as_ref() {
            ScalarValue::Bytes(b) => Some(b.clone()),
            _ => None,
        },
        _ => None,
    }
}

impl Space {
    /// Creates an end-to-end encrypted space (invite-only, schema version 3).
    pub fn create_encrypted(
        who: &Writer,
        name: &str,
        purpose: &str,
        encryption: Encryption,
        at_ms: u64,
    ) -> Result<(Self, Applied), SpaceError> {
        Self::create_inner(
            who,
            name,
            purpose,
            Visibility::InviteOnly,
            None,
            Some(encryption),
            at_ms,
        )
    }

    /// How the space is encrypted, if it is (`meta.encryption` names the scheme this node
    /// knows).
    pub fn encryption(&self) -> Option<Encryption> {
        let meta = doc::root_obj(&self.doc, &schema::META, None)?;
        if doc::get_str(&self.doc, &meta, doc::ENCRYPTION)? != ENCRYPTION_SCHEME {
            return None;
        }
        Some(Encryption {
            history: doc::get_str(&self.doc, &meta, doc::HISTORY)
                .and_then(|h| History::parse(&h))
                .unwrap_or(History::Shared),
            dm: doc::get_str(&self.doc, &meta, doc::KIND).as_deref() == Some(doc::DM),
        })
    }

    /// The public encryption identity key and key bundle `did` published, if any.
    pub fn keys_of(&self, did: &Did) -> Option<([u8; IDENTITY_BYTES], Vec<u8>)> {
        let keys = doc::root_obj(&self.doc, &schema::KEYS, None)?;
        let entry = doc::child_obj(&self.doc, &keys, &did.to_string(), None)?;
        let identity = bytes(&self.doc, &entry, doc::IDENTITY)?.try_into().ok()?;
        Some((identity, bytes(&self.doc, &entry, doc::BUNDLE)?))
    }

    /// Publishes `who`'s public encryption keys: its entry in `keys`, made with `identity`
    /// the first time, its bundle replaced after (the identity never changes).
    pub fn publish_keys(
        &mut self,
        who: &Writer,
        identity: &[u8; IDENTITY_BYTES],
        bundle: &[u8],
        at_ms: u64,
    ) -> Result<Applied, SpaceError> {
        let keys = self.encrypted_root(&schema::KEYS)?;
        let me = who.did();
        let existing = doc::child_obj(&self.doc, &keys, &me.to_string(), None);
        self.local_write(who, at_ms, |tx| {
            let entry = match existing {
                Some(e) => e,
                None => {
                    let e = tx.put_object(&keys, me.to_string(), ObjType::Map)?;
                    tx.put(&e, doc::IDENTITY, ScalarValue::Bytes(identity.to_vec()))?;
                    e
                }
            };
            tx.put(&entry, doc::BUNDLE, ScalarValue::Bytes(bundle.to_vec()))?;
            Ok(())
        })
        .map(|(a, ())| a)
    }

    /// Appends a control message to the group, as `who`. Returns the change and the
    /// message's id.
    pub fn write_control(
        &mut self,
        who: &Writer,
        op: ControlOp,
        subject: Option<&Did>,
        ctl: &[u8],
        at_ms: u64,
    ) -> Result<(Applied, String), SpaceError> {
        let group = self.encrypted_root(&schema::GROUP)?;
        let len = self.doc.length(&group);
        let author = who.did();
        self.local_write(who, at_ms, |tx| {
            let c = tx.insert_object(&group, len, ObjType::Map)?;
            tx.put(&c, doc::AUTHOR, author.to_string())?;
            tx.put(&c, doc::OP, op.as_str())?;
            if let Some(s) = subject {
                tx.put(&c, doc::SUBJECT, s.to_string())?;
            }
            tx.put(&c, doc::CTL, ScalarValue::Bytes(ctl.to_vec()))?;
            Ok(c.to_string())
        })
    }

    /// One control message by id.
    pub fn control(&self, id: &str) -> Option<ControlView> {
        let (obj, ObjType::Map) = self.doc.import(id).ok()? else {
            return None;
        };
        self.control_at(&obj)
    }

    fn control_at(&self, obj: &automerge::ObjId) -> Option<ControlView> {
        Some(ControlView {
            id: obj.to_string(),
            author: doc::get_str(&self.doc, obj, doc::AUTHOR)?.parse().ok()?,
            op: ControlOp::parse(&doc::get_str(&self.doc, obj, doc::OP)?)?,
            subject: doc::get_str(&self.doc, obj, doc::SUBJECT).and_then(|s| s.parse().ok()),
            ctl: bytes(&self.doc, obj, doc::CTL)?,
        })
    }

    /// Every control message, in the group's order.
    pub fn controls(&self) -> Vec<ControlView> {
        self.control_ids(None)
            .iter()
            .filter_map(|id| self.control(id))
            .collect()
    }

    fn control_ids(&self, heads: Option<&[automerge::ChangeHash]>) -> Vec<String> {
        let Some(group) = doc::root_obj(&self.doc, &schema::GROUP, heads) else {
            return Vec::new();
        };
        let items: Vec<_> = match heads {
            Some(h) => self.doc.list_range_at(&group, .., h).collect(),
            None => self.doc.list_range(&group, ..).collect(),
        };
        items
            .into_iter()
            .filter(|i| matches!(i.value, Value::Object(ObjType::Map)))
            .map(|i| i.id.to_string())
            .collect()
    }

    /// The change that made control message `id` and the ids of the control messages in its
    /// causal past (the group's elements at that change's dependencies; elements are never
    /// deleted, so this is exactly its causal past among control messages).
    pub fn control_past(&self, id: &str) -> Option<(ChangeHash, HashSet<String>)> {
        let (automerge::ObjId::Id(counter, actor, _), ObjType::Map) = self.doc.import(id).ok()?
        else {
            return None;
        };
        let change = self.doc.get_changes(&[]).into_iter().find(|c| {
            c.actor_id() == &actor
                && c.start_op().get() <= counter
                && counter < c.start_op().get() + c.len() as u64
        })?;
        let past = self.control_ids(Some(change.deps())).into_iter().collect();
        Some((tim_hash(&change.hash()), past))
    }

    /// Every member and its role (banned ones included), by DID: what the encryption group
    /// follows, without counting anyone's messages.
    pub fn member_roles(&self) -> Vec<(Did, crate::Role)> {
        let Some(members) = doc::root_obj(&self.doc, &schema::MEMBERS, None) else {
            return Vec::new();
        };
        self.doc
            .map_range(&members, ..)
            .filter_map(|item| {
                let did: Did = item.key.parse().ok()?;
                let entry = doc::child_obj(&self.doc, &members, item.key, None)?;
                let role = crate::Role::parse(&doc::get_str(&self.doc, &entry, doc::ROLE)?)?;
                Some((did, role))
            })
            .collect()
    }

    /// Who issued `did`'s invite, if it has one.
    pub fn invited_by(&self, did: &Did) -> Option<Did> {
        let invites = doc::root_obj(&self.doc, &schema::INVITES, None)?;
        let invite = doc::child_obj(&self.doc, &invites, &did.to_string(), None)?;
        doc::get_str(&self.doc, &invite, doc::BY)?.parse().ok()
    }

    /// Posts ciphertext (`ct`, made by the author's encryption group) as `who`. Returns the
    /// applied change and the message id.
    pub fn post_encrypted(
        &mut self,
        who: &Writer,
        ct: &[u8],
        at_ms: u64,
    ) -> Result<(Applied, String), SpaceError> {
        if self.encryption().is_none() {
            return Err(SpaceError::Invalid(
                "this space is not end-to-end encrypted: post text".into(),
            ));
        }
        if ct.len() > MAX_CT_BYTES {
            return Err(SpaceError::Invalid(format!(
                "an encrypted message must be at most {MAX_CT_BYTES} bytes"
            )));
        }
        let author = who.did();
        let timeline = self.encrypted_root(&schema::TIMELINE)?;
        let len = self.doc.length(&timeline);
        self.local_write(who, at_ms, |tx| {
            let msg = tx.insert_object(&timeline, len, ObjType::Map)?;
            tx.put(&msg, doc::AUTHOR, author.to_string())?;
            tx.put(&msg, doc::CT, ScalarValue::Bytes(ct.to_vec()))?;
            tx.put(&msg, doc::AT, ScalarValue::Timestamp(millis(at_ms)))?;
            Ok(msg.to_string())
        })
    }

    /// The ciphertext of message `id`, if it is encrypted.
    pub fn ciphertext(&self, id: &str) -> Option<Vec<u8>> {
        let (obj, ObjType::Map) = self.doc.import(id).ok()? else {
            return None;
        };
        bytes(&self.doc, &obj, doc::CT)
    }

    /// Root container `c` of an encrypted space.
    fn encrypted_root(&self, c: &schema::Container) -> Result<automerge::ObjId, SpaceError> {
        if self.encryption().is_none() {
            return Err(SpaceError::Invalid(
                "this space is not end-to-end encrypted".into(),
            ));
        }
        doc::root_obj(&self.doc, c, None).ok_or(SpaceError::NotReady(self.id))
    }
}
