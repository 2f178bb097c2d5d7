//! The shape of a space document: key names and how values are encoded.
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
//! └── status_list: Map { <status index, decimal>: Boolean(true) }   (revoked credentials)
//! ```
//! Text is always an Automerge *scalar* string, never a Text object (see `docs/protocol.md`).

use automerge::{ObjId, ObjType, ReadDoc, ScalarValue, Value, ROOT};

pub(crate) const META: &str = "meta";
pub(crate) const MEMBERS: &str = "members";
pub(crate) const TIMELINE: &str = "timeline";
pub(crate) const INVITES: &str = "invites";
pub(crate) const RATINGS: &str = "ratings";
pub(crate) const ISSUED: &str = "issued";
pub(crate) const STATUS_LIST: &str = "status_list";
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

/// The document layout version written into `meta.version`.
pub(crate) const DOC_VERSION: u64 = 1;

/// The id of a map or list stored under `key` in `obj`, at `heads` (or now).
pub(crate) fn child_obj(
    doc: &impl ReadDoc,
    obj: &ObjId,
    key: &str,
    heads: Option<&[automerge::ChangeHash]>,
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

/// The root container `key` (meta, members, timeline), at `heads` (or now).
pub(crate) fn root_obj(
    doc: &impl ReadDoc,
    key: &str,
    heads: Option<&[automerge::ChangeHash]>,
) -> Option<ObjId> {
    child_obj(doc, &ROOT, key, heads)
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

/// Whether `obj` holds a string under `key` (without copying it).
pub(crate) fn has_str(doc: &impl ReadDoc, obj: &ObjId, key: &str) -> bool {
    matches!(
        doc.get(obj, key),
        Ok(Some((Value::Scalar(s), _))) if matches!(s.as_ref(), ScalarValue::Str(_))
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
