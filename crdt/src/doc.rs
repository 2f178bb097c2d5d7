//! The shape of a space document: key names and how values are encoded. The root containers,
//! their types and the schema version of each are in [`crate::schema`].
//!
//! ```text
//! ROOT
//! ├── meta: Map      { name: Str, purpose: Str, created_by: Str(DID), created_at: Timestamp,
//! │                    version: Uint, visibility: Str, expires_at?: Timestamp,
//! │                    requirements?: Str(JSON) }
//! ├── members: Map   { <DID>: Map { role: Str, joined_at: Timestamp, presentation?: Str(JSON),
//! │                                  abilities?: Str(JSON list of strings) } }
//! ├── timeline: List [ Map { author: Str(DID), text: Str, at: Timestamp } ]
//! ├── invites: Map   { <DID>: Map { by: Str(DID), expires_at: Timestamp, used: Boolean } }
//! ├── ratings: Map   { "<rater DID> <ratee DID>": Int(1..=5) }
//! ├── issued: Map    { <credential id>: Map { subject: Str(DID), kind: Str, issuer: Str(DID),
//! │                                           status_index: Uint, at: Timestamp } }
//! ├── status_list: Map { <status index, decimal>: Boolean(true) }   (revoked credentials)
//! ├── roles: Map     { <role name>: Map { rank: Uint, may: Str(JSON list of permissions) } }
//! │                  (schema version 2, made by a migration)
//! ├── keys: Map      { <DID>: Map { identity: Bytes(32), bundle: Bytes } }       (version 3)
//! └── group: List    [ Map { author: Str(DID), op: Str, subject?: Str(DID), ctl: Bytes } ]
//!                    (version 3)
//! ```
//! An end-to-end encrypted space (docs/privacy.md) starts at schema version 3 with
//! `meta.encryption` (the scheme, [`crate::encryption::ENCRYPTION_SCHEME`]), `meta.history` and, for a direct
//! message space, `meta.kind = "dm"`; its messages carry `ct: Bytes` instead of `text`:
//! ```text
//! timeline: List [ Map { author: Str(DID), ct: Bytes, at: Timestamp } ]
//! ```
//! Version 4 adds `abilities` (Map) and `requests` (List), whose layout is in
//! [`crate::abilities`]. Version 5 adds `status_notices` (Map), whose layout is in
//! [`crate::notices`]. Version 6 adds `chains` (List), whose layout is in
//! [`crate::abilities::chains`]. Version 7 adds `personas` (Map), whose layout is in
//! [`crate::personas`].
//!
//! Text is always an Automerge *scalar* string, never a Text object (see `docs/protocol.md`).

use automerge::{Automerge, ChangeHash, ObjId, ObjType, ReadDoc, ScalarValue, Value, ROOT};

use crate::roles::{Permissions, Role, RoleDef, RoleName};
use crate::schema::{self, Container};

pub(crate) const SUBJECT: &str = "subject";
pub(crate) const KIND: &str = "kind";
pub(crate) const ISSUER: &str = "issuer";
pub(crate) const STATUS_INDEX: &str = "status_index";
pub(crate) const REQUIREMENTS: &str = "requirements";
pub(crate) const PRESENTATION: &str = "presentation";
pub(crate) const VISIBILITY: &str = "visibility";
pub(crate) const EXPIRES_AT: &str = "expires_at";
pub(crate) const USED: &str = "used";
pub(crate) const BY: &str = "by";
pub(crate) const NAME: &str = "name";
pub(crate) const PURPOSE: &str = "purpose";
pub(crate) const CREATED_BY: &str = "created_by";
pub(crate) const CREATED_AT: &str = "created_at";
pub(crate) const VERSION: &str = "version";
pub(crate) const ROLE: &str = "role";
pub(crate) const JOINED_AT: &str = "joined_at";
pub(crate) const ABILITIES: &str = "abilities";
pub(crate) const AUTHOR: &str = "author";
pub(crate) const TEXT: &str = "text";
pub(crate) const AT: &str = "at";
pub(crate) const RANK: &str = "rank";
pub(crate) const MAY: &str = "may";
pub(crate) const ENCRYPTION: &str = "encryption";
pub(crate) const HISTORY: &str = "history";
pub(crate) const IDENTITY: &str = "identity";
pub(crate) const BUNDLE: &str = "bundle";
pub(crate) const OP: &str = "op";
pub(crate) const CTL: &str = "ctl";
pub(crate) const CT: &str = "ct";
pub(crate) const DM: &str = "dm";

/// A read view of the document at `heads` (or now): what the rules see at a change's
/// dependencies, and what readers see now.
#[derive(Debug, Clone, Copy)]
pub(crate) struct View<'a> {
    pub(crate) doc: &'a Automerge,
    /// `None` reads the current state (the fast path: no history walk).
    pub(crate) heads: Option<&'a [ChangeHash]>,
}

impl View<'_> {
    /// The value under `key` in `obj`.
    pub(crate) fn get(&self, obj: &ObjId, key: &str) -> Option<(Value<'_>, ObjId)> {
        match self.heads {
            Some(h) => self.doc.get_at(obj, key, h),
            None => self.doc.get(obj, key),
        }
        .ok()
        .flatten()
    }

    /// The scalar under `key` in `obj`.
    pub(crate) fn scalar(&self, obj: &ObjId, key: &str) -> Option<ScalarValue> {
        match self.get(obj, key)? {
            (Value::Scalar(s), _) => Some(s.into_owned()),
            _ => None,
        }
    }

    /// The scalar string under `key` in `obj`.
    pub(crate) fn get_str(&self, obj: &ObjId, key: &str) -> Option<String> {
        match self.scalar(obj, key)? {
            ScalarValue::Str(s) => Some(s.to_string()),
            _ => None,
        }
    }

    /// The object under `key` in `obj`.
    pub(crate) fn child(&self, obj: &ObjId, key: &str) -> Option<ObjId> {
        match self.get(obj, key)? {
            (Value::Object(_), id) => Some(id),
            _ => None,
        }
    }

    /// The keys of map `obj`.
    pub(crate) fn keys(&self, obj: &ObjId) -> Vec<String> {
        match self.heads {
            Some(h) => self.doc.keys_at(obj, h).collect(),
            None => self.doc.keys(obj).collect(),
        }
    }

    /// The elements of list `obj`, in order.
    pub(crate) fn list(&self, obj: &ObjId) -> Vec<ObjId> {
        match self.heads {
            Some(h) => self.doc.list_range_at(obj, .., h).map(|i| i.id).collect(),
            None => self.doc.list_range(obj, ..).map(|i| i.id).collect(),
        }
    }

    /// The role of `did` in the members map `members`, `None` if not a member.
    pub(crate) fn role(&self, members: &ObjId, did: &str) -> Option<Role> {
        let entry = self.child(members, did)?;
        Role::parse(&self.get_str(&entry, ROLE)?)
    }
}

/// The id of a map or list stored under `key` in `obj`, at `heads` (or now).
pub(crate) fn child_obj(
    doc: &impl ReadDoc,
    obj: &ObjId,
    key: &str,
    heads: Option<&[ChangeHash]>,
) -> Option<ObjId> {
    let got = match heads {
        Some(h) => doc.get_at(obj, key, h),
        None => doc.get(obj, key),
    };
    match got.ok()? {
        Some((Value::Object(ObjType::Map | ObjType::List), id)) => Some(id),
        _ => None,
    }
}

/// The root container `c`, at `heads` (or now). Two concurrent migrations may each have made a
/// container: this is the one Automerge shows ([`root_objs`] lists them all).
pub(crate) fn root_obj(
    doc: &impl ReadDoc,
    c: &Container,
    heads: Option<&[ChangeHash]>,
) -> Option<ObjId> {
    child_obj(doc, &ROOT, c.name, heads)
}

/// Every value under `key` in `obj` at `heads` (or now): one, or several after concurrent
/// writes, the one Automerge shows first.
pub(crate) fn all_values<'a>(
    doc: &'a impl ReadDoc,
    obj: &ObjId,
    key: &str,
    heads: Option<&[ChangeHash]>,
) -> Vec<(Value<'a>, ObjId)> {
    let mut all = match heads {
        Some(h) => doc.get_all_at(obj, key, h),
        None => doc.get_all(obj, key),
    }
    .unwrap_or_default();
    // Automerge lists conflicting values in operation order and shows the last.
    all.reverse();
    all
}

/// Every copy of the root container `c` at `heads` (or now), the one Automerge shows first.
/// A container made by two concurrent migrations has two copies; readers of the `roles`
/// container read them all (docs/rules.md §6).
pub(crate) fn root_objs(
    doc: &impl ReadDoc,
    c: &Container,
    heads: Option<&[ChangeHash]>,
) -> Vec<ObjId> {
    all_values(doc, &ROOT, c.name, heads)
        .into_iter()
        .filter(|(v, _)| matches!(v, Value::Object(t) if c.kind.is(*t)))
        .map(|(_, id)| id)
        .collect()
}

/// The space's schema version at `heads` (or now): the greatest unsigned integer among the
/// values of `meta.version` (concurrent migrations may leave several); with none, the genesis
/// version.
pub(crate) fn schema_version(doc: &impl ReadDoc, heads: Option<&[ChangeHash]>) -> u64 {
    let Some(meta) = root_obj(doc, &schema::META, heads) else {
        return schema::GENESIS_VERSION;
    };
    all_values(doc, &meta, VERSION, heads)
        .into_iter()
        .filter_map(|(v, _)| match v {
            Value::Scalar(s) => match s.as_ref() {
                ScalarValue::Uint(u) => Some(*u),
                _ => None,
            },
            _ => None,
        })
        .max()
        .unwrap_or(schema::GENESIS_VERSION)
}

/// The definition of role `name` at `heads` (or now), from the first copy of the `roles`
/// container that defines it ([`root_objs`]); `None` if none does, or if the definition is
/// not a map with a `rank` (Uint) and a valid `may`.
pub(crate) fn role_def(
    doc: &impl ReadDoc,
    name: &RoleName,
    heads: Option<&[ChangeHash]>,
) -> Option<RoleDef> {
    let version = schema_version(doc, heads);
    root_objs(doc, &schema::ROLES, heads)
        .into_iter()
        .find_map(|roles| child_obj(doc, &roles, name.as_str(), heads))
        .and_then(|def| {
            let scalar = |key| match all_values(doc, &def, key, heads).into_iter().next() {
                Some((Value::Scalar(s), _)) => Some(s.into_owned()),
                _ => None,
            };
            let Some(ScalarValue::Uint(rank)) = scalar(RANK) else {
                return None;
            };
            let Some(ScalarValue::Str(may)) = scalar(MAY) else {
                return None;
            };
            Some(RoleDef {
                name: *name,
                rank,
                may: Permissions::from_json(&may, version).ok()?,
            })
        })
}

/// The names of the roles defined at `heads` (or now), sorted, each once.
pub(crate) fn role_names(doc: &impl ReadDoc, heads: Option<&[ChangeHash]>) -> Vec<RoleName> {
    let mut names: Vec<RoleName> = root_objs(doc, &schema::ROLES, heads)
        .into_iter()
        .flat_map(|roles| match heads {
            Some(h) => doc.keys_at(&roles, h).collect::<Vec<_>>(),
            None => doc.keys(&roles).collect(),
        })
        .filter_map(|k| RoleName::parse(&k).ok())
        .collect();
    names.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    names.dedup();
    names
}

/// A scalar string under `key` in `obj`.
pub(crate) fn get_str(doc: &impl ReadDoc, obj: &ObjId, key: &str) -> Option<String> {
    match doc.get(obj, key).ok()?? {
        (Value::Scalar(s), _) => match s.as_ref() {
            ScalarValue::Str(s) => Some(s.to_string()),
            _ => None,
        },
        _ => None,
    }
}

/// Whether `obj` holds the boolean `true` under `key`.
pub(crate) fn is_true(doc: &impl ReadDoc, obj: &ObjId, key: &str) -> bool {
    matches!(
        doc.get(obj, key),
        Ok(Some((Value::Scalar(s), _))) if matches!(s.as_ref(), ScalarValue::Boolean(true))
    )
}

/// A timestamp (or unsigned integer) under `key` in `obj`, as milliseconds.
pub(crate) fn get_millis(doc: &impl ReadDoc, obj: &ObjId, key: &str) -> Option<u64> {
    match doc.get(obj, key).ok()?? {
        (Value::Scalar(s), _) => match s.as_ref() {
            ScalarValue::Timestamp(t) | ScalarValue::Int(t) => u64::try_from(*t).ok(),
            ScalarValue::Uint(u) => Some(*u),
            _ => None,
        },
        _ => None,
    }
}
