//! The rules of message features (schema version 10, [`schema::MESSAGES_V2`]; docs/rules.md
//! §5, docs/protocol.md §9.12): a reply's `reply_to` is written with its message and never
//! changed; only the author edits a message, and an edit appends the previous content to the
//! message's `edits` list in the same change (the list is append-only, its entries never
//! change); a reaction is the reactor's own key in the message's `reactions` map, a short
//! emoji string, written by a member with `post`. Below version 10 a message is judged as
//! before ([`Judge::check_message`]) and the objects inside it as any other nested object
//! ([`Judge::check_other`]), so nodes that do not know version 10 agree on every verdict.

use automerge::legacy::{OpId, OpType};
use automerge::{ObjId, ReadDoc, ScalarValue};

use super::{deny, Effect, Judge, Place};
use crate::doc;
use crate::encryption::MAX_CT_BYTES;
use crate::messages::{
    parse_mentions, valid_attachment_name, valid_mime, valid_reaction, ATTACHMENT, ATTACHMENT_MIME,
    ATTACHMENT_NAME, EDITS, MAX_ATTACHMENT_BYTES, MAX_MENTIONS, MAX_REACTION_BYTES, MENTIONS,
    REACTIONS, REPLY_TO,
};
use crate::roles::{Permission, Role};
use crate::schema::Policy;
use crate::writer::same_author;
use crate::{schema, Rejection};

/// What a change does to messages' content and history, checked once it has been read whole.
#[derive(Default)]
pub(super) struct Editing {
    /// Messages whose content (`text` or `ct`) this change replaces, with the key.
    edited: Vec<(OpId, &'static str)>,
    /// Entries this change appends to a message's `edits`: the message, the entry, and the
    /// content key and value it records.
    entries: Vec<EntryBeingMade>,
    /// Messages this change makes, from schema version [`schema::MESSAGE_SHAPES`].
    made: Vec<MessageBeingMade>,
}

/// A message this change makes: whether it wrote the message's content and its time.
struct MessageBeingMade {
    message: OpId,
    content: bool,
    at: bool,
}

/// An entry of a message's `edits` list that this change makes.
struct EntryBeingMade {
    message: OpId,
    entry: OpId,
    content: Option<(&'static str, ScalarValue)>,
    at: bool,
}

fn id_of(id: &OpId) -> String {
    format!("{}@{}", id.counter(), id.actor())
}

impl Judge<'_> {
    /// Whether message features apply at the change's dependencies.
    pub(super) fn messages_v2(&self) -> bool {
        self.at.version >= schema::MESSAGES_V2
    }

    /// The existing object `id`, as the document names it.
    fn existing(&self, id: &OpId) -> Option<ObjId> {
        self.doc.import(&id_of(id)).ok().map(|(o, _)| o)
    }

    /// Whether `id` names a message of the timeline at the change's dependencies (not
    /// deleted there).
    fn is_message(&self, id: &str) -> bool {
        let Ok((obj, automerge::ObjType::Map)) = self.doc.import(id) else {
            return false;
        };
        let parents = match self.at.heads {
            Some(h) => self.doc.parents_at(&obj, h),
            None => self.doc.parents(&obj),
        };
        let Some(parent) = parents.ok().and_then(|mut p| p.next()) else {
            return false;
        };
        let ObjId::Id(counter, actor, _) = parent.obj else {
            return false;
        };
        parent.visible
            && matches!(
                self.roots.place_of_root(&OpId::new(counter, &actor)),
                Some(Place::Root(c)) if c.policy == Policy::Timeline
            )
    }

    /// A write into message map `obj` from schema version 10: its author writes its fields
    /// (a content key replaced later is an edit), `reply_to` only with the message, `edits`
    /// once; any member with `post` makes its `reactions` map once.
    pub(super) fn check_message_v2(
        &mut self,
        obj: &OpId,
        key: Option<&str>,
        op: &automerge::legacy::Op,
    ) -> Result<(), Rejection> {
        let fresh = self.created_here(obj);
        if key == Some(REACTIONS) {
            self.may(Permission::Post, "reacting to a message")?;
            let absent = self
                .existing(obj)
                .is_none_or(|m| fresh || self.at.get(&m, REACTIONS).is_none());
            return match &op.action {
                OpType::Make(automerge::ObjType::Map) if absent => Ok(()),
                _ => deny(format!(
                    "{}; a message's `reactions` is a map, made once and never replaced",
                    self.who
                )),
            };
        }
        self.check_message(obj, key, op)?;
        if self.at.version >= schema::MESSAGE_SHAPES {
            self.check_message_shape(obj, fresh, key, op)?;
        }
        match (key, &op.action) {
            (Some(MENTIONS), _) if self.at.version >= schema::PEOPLE => {
                self.check_mentions(fresh, op)
            }
            (Some(k @ (ATTACHMENT | ATTACHMENT_NAME | ATTACHMENT_MIME)), _)
                if self.at.version >= schema::PEOPLE =>
            {
                self.check_attachment(k, fresh, op)
            }
            (Some(REPLY_TO), OpType::Put(ScalarValue::Str(s))) if fresh && self.is_message(s) => {
                Ok(())
            }
            (Some(REPLY_TO), _) => deny(format!(
                "{}; `reply_to` is a message id written with the reply, never changed",
                self.who
            )),
            (Some(EDITS), OpType::Make(automerge::ObjType::List))
                if !fresh
                    && self
                        .existing(obj)
                        .is_some_and(|m| self.at.get(&m, EDITS).is_none()) =>
            {
                Ok(())
            }
            (Some(EDITS), _) => deny(format!(
                "{}; a message's `edits` is a list, made by its first edit and never replaced",
                self.who
            )),
            (Some(k @ (doc::TEXT | doc::CT)), OpType::Put(_)) if !fresh => {
                let k = if k == doc::TEXT { doc::TEXT } else { doc::CT };
                self.editing.edited.push((obj.clone(), k));
                self.effects.push(Effect::MessageEdited { id: id_of(obj) });
                Ok(())
            }
            (Some(doc::TEXT | doc::CT | doc::AUTHOR | doc::AT), OpType::Delete) => deny(format!(
                "{}; a message's fields are not deleted (delete the message)",
                self.who
            )),
            _ => Ok(()),
        }
    }

    /// A message's `mentions` (schema version 11): written with the message, a JSON array of
    /// 1 to [`MAX_MENTIONS`] distinct DIDs, each a member (not banned) at the change's
    /// dependencies.
    fn check_mentions(&mut self, fresh: bool, op: &automerge::legacy::Op) -> Result<(), Rejection> {
        let why = format!(
            "{}; `mentions` is a JSON array of 1 to {MAX_MENTIONS} distinct member DIDs, \
             written with the message",
            self.who
        );
        let OpType::Put(ScalarValue::Str(json)) = &op.action else {
            return deny(why);
        };
        let Some(dids) = parse_mentions(json).filter(|_| fresh) else {
            return deny(why);
        };
        for d in dids {
            let role = self.at.role(&self.members, &d.to_string());
            if !matches!(role, Some(r) if r != Role::Banned) {
                return deny(format!(
                    "{}; it mentions {}, who is not a member",
                    self.who,
                    d.short()
                ));
            }
        }
        Ok(())
    }

    /// A message's attachment (schema version 11): its `attachment` (bytes, at most
    /// [`MAX_ATTACHMENT_BYTES`]), `attachment_name` and `attachment_mime`, written with the
    /// message, never in an end-to-end encrypted space.
    fn check_attachment(
        &mut self,
        key: &str,
        fresh: bool,
        op: &automerge::legacy::Op,
    ) -> Result<(), Rejection> {
        if self.encrypted {
            return deny(format!(
                "{}; attachments are not carried in an end-to-end encrypted space",
                self.who
            ));
        }
        let ok = fresh
            && match (&op.action, key) {
                (OpType::Put(ScalarValue::Bytes(b)), ATTACHMENT) => b.len() <= MAX_ATTACHMENT_BYTES,
                (OpType::Put(ScalarValue::Str(s)), ATTACHMENT_NAME) => valid_attachment_name(s),
                (OpType::Put(ScalarValue::Str(s)), ATTACHMENT_MIME) => valid_mime(s),
                _ => false,
            };
        if ok {
            Ok(())
        } else {
            deny(format!(
                "{}; a message's attachment is written with it: `attachment` bytes (at most \
                 {MAX_ATTACHMENT_BYTES}), `attachment_name` (1 to 128 characters, no path \
                 separator or control character) and `attachment_mime` (`type/subtype`)",
                self.who
            ))
        }
    }

    /// A write into the `edits` list of `message`: its author appends entries (maps), never
    /// replaces or deletes one.
    pub(super) fn check_edits(
        &mut self,
        message: &OpId,
        obj: &OpId,
        op: &automerge::legacy::Op,
    ) -> Result<(), Rejection> {
        if !self.messages_v2() {
            return self.check_other(obj);
        }
        if !same_author(message.actor(), &self.actor) {
            return deny(format!("{}; only a message's author may edit it", self.who));
        }
        self.may(Permission::Post, "editing a message")?;
        match &op.action {
            OpType::Make(automerge::ObjType::Map) if op.insert => Ok(()),
            _ => deny(format!(
                "{}; a message's edit history is append-only: entries are added, never \
                 changed or removed",
                self.who
            )),
        }
    }

    /// A write into an entry of `message`'s `edits`: made in this change, with the previous
    /// content under the message's content key and `at`.
    pub(super) fn check_edit_entry(
        &mut self,
        message: &OpId,
        obj: &OpId,
        key: Option<&str>,
        op: &automerge::legacy::Op,
    ) -> Result<(), Rejection> {
        if !self.messages_v2() {
            return self.check_other(obj);
        }
        if !same_author(message.actor(), &self.actor) || !self.created_here(obj) {
            return deny(format!(
                "{}; an entry of a message's edit history is written once, by the message's \
                 author",
                self.who
            ));
        }
        let i = match self.editing.entries.iter().position(|e| e.entry == *obj) {
            Some(i) => i,
            None => {
                self.editing.entries.push(EntryBeingMade {
                    message: message.clone(),
                    entry: obj.clone(),
                    content: None,
                    at: false,
                });
                self.editing.entries.len() - 1
            }
        };
        let entry = &mut self.editing.entries[i];
        match (key, &op.action) {
            (Some(doc::TEXT), OpType::Put(v @ ScalarValue::Str(_))) if !self.encrypted => {
                entry.content = Some((doc::TEXT, v.clone()));
            }
            (Some(doc::CT), OpType::Put(v @ ScalarValue::Bytes(b)))
                if self.encrypted && b.len() <= MAX_CT_BYTES =>
            {
                entry.content = Some((doc::CT, v.clone()));
            }
            (Some(doc::AT), OpType::Put(ScalarValue::Timestamp(_))) => entry.at = true,
            _ => {
                return deny(format!(
                    "an edit history entry holds the previous `{}` and `at`",
                    if self.encrypted { doc::CT } else { doc::TEXT }
                ))
            }
        }
        Ok(())
    }

    /// A write into the `reactions` map of `message`: a member with `post` puts or deletes
    /// its own reaction, a short emoji string.
    pub(super) fn check_reactions(
        &mut self,
        message: &OpId,
        obj: &OpId,
        key: Option<&str>,
        op: &automerge::legacy::Op,
    ) -> Result<(), Rejection> {
        if !self.messages_v2() {
            return self.check_other(obj);
        }
        if key != Some(self.author_str.as_str()) {
            return deny(format!(
                "{}; a timite reacts only under its own DID",
                self.who
            ));
        }
        self.may(Permission::Post, "reacting to a message")?;
        match &op.action {
            OpType::Put(ScalarValue::Str(e)) if valid_reaction(e) => {}
            OpType::Delete => {}
            _ => {
                return deny(format!(
                    "a reaction is an emoji of 1 to {MAX_REACTION_BYTES} bytes, without \
                     spaces or control characters"
                ))
            }
        }
        self.effects.push(Effect::Reacted { id: id_of(message) });
        Ok(())
    }

    /// Notes a message this change makes (a map inserted into the timeline), for
    /// [`Judge::check_messages_made`].
    pub(super) fn message_made(&mut self, message: &OpId) {
        if self.at.version >= schema::MESSAGE_SHAPES {
            self.editing.made.push(MessageBeingMade {
                message: message.clone(),
                content: false,
                at: false,
            });
        }
    }

    /// From schema version [`schema::MESSAGE_SHAPES`] (docs/protocol.md §9.12.1): a message's
    /// content is `text` (a Str) or `ct` (Bytes) and may be replaced (an edit); `author` (a Str)
    /// and `at` (a Timestamp) are written only with the message, as are `reply_to`,
    /// `mentions` and the attachment's fields (typed by their own checks); `edits` and
    /// `reactions` are the objects their checks allow; no other key, and no field deleted.
    fn check_message_shape(
        &mut self,
        obj: &OpId,
        fresh: bool,
        key: Option<&str>,
        op: &automerge::legacy::Op,
    ) -> Result<(), Rejection> {
        let content = matches!(
            (key, &op.action),
            (Some(doc::TEXT), OpType::Put(ScalarValue::Str(_)))
                | (Some(doc::CT), OpType::Put(ScalarValue::Bytes(_)))
        );
        let at = matches!(
            (key, &op.action),
            (Some(doc::AT), OpType::Put(ScalarValue::Timestamp(_)))
        );
        let typed = content
            || (fresh && at)
            || match (key, &op.action) {
                (Some(doc::AUTHOR), OpType::Put(ScalarValue::Str(_))) => fresh,
                (
                    Some(REPLY_TO | MENTIONS | ATTACHMENT | ATTACHMENT_NAME | ATTACHMENT_MIME),
                    OpType::Put(_),
                ) => fresh,
                (Some(EDITS), OpType::Make(automerge::ObjType::List)) => true,
                _ => false,
            };
        if !typed {
            let what = match &op.action {
                OpType::Delete => "deletes",
                OpType::Put(_) if !fresh => "rewrites",
                _ => "writes",
            };
            return deny(format!(
                "{}; it {what} `{}` of a message: from schema version {} a message holds its \
                 content (`text` Str or `ct` Bytes, which an edit replaces), `author`, `at` (a \
                 Timestamp) and its optional fields, written with it, and nothing else",
                self.who,
                key.unwrap_or("a list position"),
                schema::MESSAGE_SHAPES
            ));
        }
        if let Some(m) = self.editing.made.iter_mut().find(|m| m.message == *obj) {
            m.content |= content;
            m.at |= at;
        }
        Ok(())
    }

    /// From schema version [`schema::MESSAGE_SHAPES`], every message this change makes holds
    /// its content and its time.
    pub(super) fn check_messages_made(&self) -> Result<(), Rejection> {
        if self.editing.made.iter().any(|m| !m.content || !m.at) {
            return deny(format!(
                "{}; a message is made with its content (`text` or `ct`) and `at`",
                self.who
            ));
        }
        Ok(())
    }

    /// Every edit this change makes records the content it replaces, as the message held it
    /// at the change's dependencies, in a complete new entry of its history; and every new
    /// entry records an edit of this change.
    pub(super) fn check_edits_made(&self) -> Result<(), Rejection> {
        for e in &self.editing.entries {
            if e.content.is_none() || !e.at {
                return deny("an edit history entry holds the previous content and `at`".into());
            }
            if !self.editing.edited.iter().any(|(m, _)| *m == e.message) {
                return deny(format!(
                    "{}; an edit history entry is added only with the edit it records",
                    self.who
                ));
            }
        }
        for (message, key) in &self.editing.edited {
            let before = self.existing(message).and_then(|m| self.at.scalar(&m, key));
            let kept = self.editing.entries.iter().any(|e| {
                e.message == *message
                    && e.content.as_ref().map(|(k, v)| (*k, Some(v)))
                        == Some((key, before.as_ref()))
            });
            if !kept {
                return deny(format!(
                    "{}; an edit appends the message's previous `{key}` to its `edits` in the \
                     same change",
                    self.who
                ));
            }
        }
        Ok(())
    }
}
