//! The authorization rules: may this author make this change, in this space, at this point of
//! its history?
//!
//! Every operation of a change is judged against the document *at the change's dependencies*
//! (its causal past), never against the local state or arrival order, so every honest node that
//! has the dependencies reaches the same verdict. `docs/rules.md` states the rules in prose; in
//! short (this is the base rule set; roles beyond owner/member come with the rule engine):
//!
//! * The root is written only by the genesis change.
//! * `members`: a timite who is not a member may add its *own* entry (a map whose `role` is
//!   `member`); a member may delete its own entry (leave) or edit fields of it other than `role`.
//!   Writing another timite's entry, or any `role` other than a self-join's `member`, needs a role
//!   this rule set does not grant yet.
//! * `timeline`: a member may insert new messages (maps); only a message's author may edit or
//!   delete it.
//! * `meta`: only the owner may change it.
//! * Objects (maps and lists) can be written only by the timite who created them; an Automerge
//!   object id carries its creator's actor id, which is bound to the creator's key.
//! * A field named `author` must hold the change author's DID.
//! * No string value is longer than `MAX_TEXT_BYTES`.

use automerge::legacy::{ElementId, Key, ObjectId, OpId, OpType};
use automerge::{ActorId, Automerge, ChangeHash, ObjId, ReadDoc, ScalarValue, Value};
use tim_protocol::wire::MAX_TEXT_BYTES;
use tim_protocol::Did;

use crate::doc;
use crate::Rejection;

/// An effect of an authorized change that readers may want to know about.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Effect {
    /// A message was added; its id is the Automerge object id of its map.
    Message {
        /// Message id.
        id: String,
    },
    /// A timite added its member entry.
    Joined {
        /// The new member.
        did: Did,
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

    fn get_str(&self, obj: &ObjId, key: &str) -> Option<String> {
        match self.get(obj, key)? {
            (Value::Scalar(s), _) => match s.as_ref() {
                ScalarValue::Str(s) => Some(s.to_string()),
                _ => None,
            },
            _ => None,
        }
    }
}

fn same_obj(ex: &ObjId, op: &OpId) -> bool {
    matches!(ex, ObjId::Id(counter, actor, _) if *counter == op.counter() && actor == op.actor())
}

/// Checks every operation of a (non-genesis) change by `author` against the document at the
/// change's dependencies, which must all be present in `doc`. Returns the change's effects.
pub fn authorize(
    doc: &Automerge,
    change: &automerge::Change,
    author: &Did,
) -> Result<Vec<Effect>, Rejection> {
    let deps = change.deps();
    let mut current = doc.get_heads();
    current.sort();
    let mut sorted_deps = deps.to_vec();
    sorted_deps.sort();
    let at = At {
        doc,
        heads: (sorted_deps != current).then_some(deps),
    };
    let deny = |why: String| Err(Rejection::Unauthorized(why));

    let (Some(meta), Some(members), Some(timeline)) = (
        doc::root_obj(doc, doc::META, None),
        doc::root_obj(doc, doc::MEMBERS, None),
        doc::root_obj(doc, doc::TIMELINE, None),
    ) else {
        return deny("the space has no genesis at this change's dependencies".into());
    };
    let author_str = author.to_string();
    let actor = ActorId::from(author.public_bytes().as_slice());
    let member_entry = match at.get(&members, &author_str) {
        Some((Value::Object(_), id)) => Some(id),
        _ => None,
    };
    let role = member_entry
        .as_ref()
        .and_then(|e| at.get_str(e, doc::ROLE))
        .unwrap_or_default();
    let is_member = member_entry.is_some();
    let who = if is_member {
        format!("{} ({role})", author.short())
    } else {
        format!("{} (not a member)", author.short())
    };

    let expanded = change.decode();
    let start_op = change.start_op().get();
    let created_here = |id: &OpId| id.actor() == &actor && id.counter() >= start_op;
    // Member-entry maps this change creates for its author (a self-join).
    let mut new_entries: Vec<OpId> = Vec::new();
    let mut effects = Vec::new();

    for (i, op) in expanded.operations.iter().enumerate() {
        let op_id = OpId::new(start_op + i as u64, &actor);
        let key_name = match &op.key {
            Key::Map(k) => Some(k.as_str()),
            Key::Seq(_) => None,
        };
        if matches!(&op.action, OpType::Put(ScalarValue::Str(s)) if s.len() > MAX_TEXT_BYTES) {
            return deny(format!("{who} wrote a string over {MAX_TEXT_BYTES} bytes"));
        }
        if let Some(name) = key_name {
            if name == doc::AUTHOR {
                match &op.action {
                    OpType::Put(ScalarValue::Str(s)) if s.as_str() == author_str => {}
                    OpType::Delete => {}
                    _ => {
                        return deny(format!(
                            "{who} wrote an `author` field that is not its own DID"
                        ))
                    }
                }
            }
        }
        let obj = match &op.obj {
            ObjectId::Root => {
                return deny(format!(
                    "{who} wrote the document root; it is fixed at genesis"
                ))
            }
            ObjectId::Id(id) => id,
        };
        if same_obj(&members, obj) {
            let Some(name) = key_name else {
                return deny("members is a map; sequence keys are invalid".into());
            };
            if name != author_str {
                return deny(format!(
                    "{who} wrote the member entry of {name}; a timite may only write its own entry"
                ));
            }
            match &op.action {
                OpType::Make(automerge::ObjType::Map) if !is_member => {
                    new_entries.push(op_id);
                    effects.push(Effect::Joined { did: *author });
                }
                OpType::Make(_) => {
                    return deny(format!(
                        "{who} is already a member; it cannot replace its entry"
                    ))
                }
                OpType::Delete => {}
                _ => return deny("a member entry must be a map".into()),
            }
        } else if same_obj(&timeline, obj) {
            if !is_member {
                return deny(format!("{who} may not post; join the space first"));
            }
            if op.insert {
                match &op.action {
                    OpType::Make(automerge::ObjType::Map) => effects.push(Effect::Message {
                        id: format!("{}@{}", op_id.counter(), actor),
                    }),
                    _ => return deny("timeline entries must be maps".into()),
                }
            } else {
                match &op.key {
                    Key::Seq(ElementId::Id(elem)) if elem.actor() == &actor => {}
                    _ => {
                        return deny(format!(
                            "{who} changed a message it did not write; only its author may"
                        ))
                    }
                }
            }
        } else if same_obj(&meta, obj) {
            if role != doc::ROLE_OWNER {
                return deny(format!(
                    "{who} changed the space's meta; that needs the owner"
                ));
            }
        } else if obj.actor() == &actor {
            if !is_member && !created_here(obj) {
                return deny(format!(
                    "{who} wrote an object of a space it is not a member of"
                ));
            }
            if key_name == Some(doc::ROLE) {
                let self_join = new_entries.iter().any(|e| e == obj);
                let value_ok = matches!(&op.action, OpType::Put(ScalarValue::Str(s)) if s.as_str() == doc::ROLE_MEMBER);
                if !(self_join && value_ok) {
                    return deny(format!(
                        "{who} set a role; a self-join sets `member`, changing roles needs an admin"
                    ));
                }
            }
        } else {
            return deny(format!(
                "{who} wrote object {}@{}, created by another timite",
                obj.counter(),
                obj.actor()
            ));
        }
    }
    Ok(effects)
}

/// Checks a genesis change applied alone to `doc` (a fresh document): the root holds exactly
/// `meta`, `members` and `timeline`; `meta.created_by` is the author; the author is the only
/// member, as owner; the timeline is empty.
pub fn check_genesis(doc: &Automerge, author: &Did) -> Result<(), Rejection> {
    let bad = |why: &str| Err(Rejection::BadGenesis(why.to_string()));
    let keys: Vec<String> = doc.keys(automerge::ROOT).collect();
    if keys != [doc::MEMBERS, doc::META, doc::TIMELINE] {
        return bad("the root must hold exactly meta, members and timeline");
    }
    let (Some(meta), Some(members), Some(timeline)) = (
        doc::root_obj(doc, doc::META, None),
        doc::root_obj(doc, doc::MEMBERS, None),
        doc::root_obj(doc, doc::TIMELINE, None),
    ) else {
        return bad("meta and members must be maps, timeline a list");
    };
    if doc.object_type(&timeline) != Ok(automerge::ObjType::List) || doc.length(&timeline) != 0 {
        return bad("the timeline must be an empty list");
    }
    if doc::get_str(doc, &meta, doc::CREATED_BY).as_deref() != Some(author.to_string().as_str()) {
        return bad("meta.created_by must be the author of the genesis change");
    }
    let name = doc::get_str(doc, &meta, doc::NAME).unwrap_or_default();
    if name.is_empty() || name.len() > tim_protocol::wire::MAX_NAME_BYTES {
        return bad("meta.name must be 1 to 200 bytes");
    }
    let member_keys: Vec<String> = doc.keys(&members).collect();
    if member_keys != [author.to_string()] {
        return bad("the creator must be the only member");
    }
    let entry = doc::child_obj(doc, &members, &member_keys[0], None);
    if entry
        .and_then(|e| doc::get_str(doc, &e, doc::ROLE))
        .as_deref()
        != Some(doc::ROLE_OWNER)
    {
        return bad("the creator's role must be owner");
    }
    Ok(())
}
