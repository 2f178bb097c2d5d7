//! Message features (schema version 10, [`schema::MESSAGES_V2`]; docs/protocol.md §9.12):
//! replies, edits with their history, reactions, threads and search; and, from schema
//! version 11 ([`schema::PEOPLE`], docs/protocol.md §9.13.2), mentions.
//!
//! ```text
//! timeline[i]:  { author, text | ct, at,
//!                 reply_to:  Str   the parent's message id, written with the message
//!                 edits:     List  [{ text | ct, at }], the previous contents, oldest first
//!                 reactions: Map   DID → emoji (Str, 1 to 32 bytes)
//!                 mentions:  Str   JSON array of 1 to 32 member DIDs, written with the
//!                                  message (version 11)
//!                 attachment: Bytes (at most 64 KiB), attachment_name: Str,
//!                 attachment_mime: Str   a file, written with the message (version 11) }
//! ```
//! An edit replaces the message's `text` (`ct` in an end-to-end encrypted space) and, in the
//! same change, appends what it held to `edits` with the time of the edit; only the author
//! edits, and the history is append-only. Each member with `post` puts, replaces or deletes
//! its own reaction. Two concurrent edits by the same author: the content is Automerge's pick
//! of the two (the same on every node) and both history entries are kept (two first edits
//! may each make an `edits` list: readers count every one). Two concurrent first reactions
//! may each make a `reactions` map: readers merge them, a reactor's own key winning by
//! Automerge's pick.

use std::collections::{BTreeMap, HashSet};

use automerge::transaction::Transactable;
use automerge::{ObjId, ObjType, ReadDoc, ScalarValue, Value};
use tim_protocol::api::{AttachmentView, MessageView, ReactionView};
use tim_protocol::wire::MAX_TEXT_BYTES;
use tim_protocol::Did;

use crate::space::millis;
use crate::{doc, schema, Applied, Space, SpaceError, Writer};

/// A message's `reply_to`: the id of the message it replies to.
pub const REPLY_TO: &str = "reply_to";
/// A message's `edits`: the list of its previous contents.
pub const EDITS: &str = "edits";
/// A message's `reactions`: DID → emoji.
pub const REACTIONS: &str = "reactions";
/// Longest reaction, in bytes.
pub const MAX_REACTION_BYTES: usize = 32;
/// A message's `mentions` (schema version 11, docs/protocol.md §9.13.2): the DIDs it names,
/// a JSON array of did:key strings, written with the message.
pub const MENTIONS: &str = "mentions";
/// Most DIDs a message mentions.
pub const MAX_MENTIONS: usize = 32;

/// A message's attachment bytes (schema version 11, docs/protocol.md §9.13.3), with its
/// [`ATTACHMENT_NAME`] and [`ATTACHMENT_MIME`], all three written with the message.
pub const ATTACHMENT: &str = "attachment";
/// A message's attachment's file name.
pub const ATTACHMENT_NAME: &str = "attachment_name";
/// A message's attachment's media type.
pub const ATTACHMENT_MIME: &str = "attachment_mime";
/// Largest attachment, in bytes.
pub const MAX_ATTACHMENT_BYTES: usize = 64 * 1024;
/// Longest attachment name, in characters.
pub const MAX_ATTACHMENT_NAME_CHARS: usize = 128;
/// Longest media type, in bytes.
pub const MAX_MIME_BYTES: usize = 127;

/// A file a message carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// Its file name ([`valid_attachment_name`]).
    pub name: String,
    /// Its media type ([`valid_mime`]).
    pub mime: String,
    /// Its bytes, at most [`MAX_ATTACHMENT_BYTES`].
    pub data: Vec<u8>,
}

/// Whether `name` may name an attachment: 1 to [`MAX_ATTACHMENT_NAME_CHARS`] characters, no
/// path separator or control character, not `.` or `..`.
pub fn valid_attachment_name(name: &str) -> bool {
    let n = name.chars().count();
    (1..=MAX_ATTACHMENT_NAME_CHARS).contains(&n)
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control())
}

/// Whether `mime` is a media type `type/subtype` (printable ASCII without spaces, at most
/// [`MAX_MIME_BYTES`]).
pub fn valid_mime(mime: &str) -> bool {
    mime.len() <= MAX_MIME_BYTES
        && mime
            .split_once('/')
            .is_some_and(|(t, s)| !t.is_empty() && !s.is_empty())
        && mime.bytes().all(|b| b.is_ascii_graphic())
}

/// The DIDs of a `mentions` value: a JSON array of 1 to [`MAX_MENTIONS`] distinct did:key
/// strings; `None` if it is anything else.
pub fn parse_mentions(json: &str) -> Option<Vec<Did>> {
    let list: Vec<String> = serde_json::from_str(json).ok()?;
    if list.is_empty() || list.len() > MAX_MENTIONS {
        return None;
    }
    let mut seen = HashSet::new();
    list.iter()
        .map(|s| s.parse::<Did>().ok().filter(|d| seen.insert(*d)))
        .collect()
}
/// Most matches a page of [`Space::search_messages`] holds.
pub const MAX_SEARCH_PAGE: usize = 100;

/// Whether `e` is an acceptable reaction: 1 to [`MAX_REACTION_BYTES`] bytes, without
/// whitespace or control characters.
pub fn valid_reaction(e: &str) -> bool {
    !e.is_empty()
        && e.len() <= MAX_REACTION_BYTES
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// What one version of a message held ([`Version`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// Its text.
    Text(String),
    /// Its ciphertext, in an end-to-end encrypted space: the reader's to decrypt.
    Ciphertext(Vec<u8>),
}

/// One version of a message's content, in its edit history ([`Space::edit_history`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// What the message held.
    pub content: Content,
    /// When it was written (milliseconds since the Unix epoch): the message's time for the
    /// original, the time of the edit that wrote it for a later one.
    pub at: u64,
}

/// A page of [`Space::search_messages`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchResults {
    /// The matching messages, newest first.
    pub messages: Vec<MessageView>,
    /// The oldest match of the page, when older matches may exist: where the next page starts.
    pub next_before: Option<String>,
}

impl Space {
    fn message_features(&self, what: &str) -> Result<(), SpaceError> {
        if self.schema_version() < schema::MESSAGES_V2 {
            return Err(SpaceError::Invalid(format!(
                "this space is at schema version {}; {what} from version {}: migrate it first \
                 (`tim space migrate`)",
                self.schema_version(),
                schema::MESSAGES_V2
            )));
        }
        Ok(())
    }

    /// The message map `id`, if it is one of this space's messages (in the timeline now).
    fn message_obj(&self, id: &str) -> Result<ObjId, SpaceError> {
        let timeline = doc::root_obj(&self.doc, &schema::TIMELINE, None);
        let in_timeline = |obj: &ObjId| {
            let parent = self.doc.parents(obj).ok().and_then(|mut p| p.next());
            parent.is_some_and(|p| p.visible && Some(p.obj) == timeline)
        };
        match self.doc.import(id) {
            Ok((obj, ObjType::Map)) if in_timeline(&obj) && self.message_at(&obj).is_some() => {
                Ok(obj)
            }
            _ => Err(SpaceError::Invalid(format!(
                "no message {id} in this space"
            ))),
        }
    }

    /// Posts a reply to message `parent` as `who` (schema version 10). Returns the applied
    /// change and the reply's id.
    pub fn reply(
        &mut self,
        who: &Writer,
        parent: &str,
        text: &str,
        at_ms: u64,
    ) -> Result<(Applied, String), SpaceError> {
        self.message_features("replies are")?;
        self.message_obj(parent)?;
        if self.encryption().is_some() {
            return Err(SpaceError::Invalid(
                "replies in end-to-end encrypted spaces are not supported yet: post a message"
                    .into(),
            ));
        }
        let (applied, id) = self.post_with(who, text, at_ms, |tx, msg| {
            tx.put(msg, REPLY_TO, parent)?;
            Ok(())
        })?;
        Ok((applied, id))
    }

    /// Posts a message as `who` that mentions `mentions` (each a member now, at most
    /// [`MAX_MENTIONS`], duplicates dropped) and carries `attachment`, if given (schema
    /// version 11, not in an end-to-end encrypted space), replying to `reply_to` if given.
    /// Returns the applied change and the message's id.
    pub fn post_mentioning(
        &mut self,
        who: &Writer,
        text: &str,
        reply_to: Option<&str>,
        mentions: &[Did],
        attachment: Option<&Attachment>,
        at_ms: u64,
    ) -> Result<(Applied, String), SpaceError> {
        if self.schema_version() < schema::PEOPLE {
            return Err(SpaceError::Invalid(format!(
                "this space is at schema version {}; mentions and attachments are from version \
                 {}: migrate it first (`tim space migrate`)",
                self.schema_version(),
                schema::PEOPLE
            )));
        }
        if self.encryption().is_some() {
            return Err(SpaceError::Invalid(
                "mentions and attachments in end-to-end encrypted spaces are not supported yet \
                 (they would be readable by the space's hosts): post without them"
                    .into(),
            ));
        }
        if let Some(parent) = reply_to {
            self.message_obj(parent)?;
        }
        let mut seen = HashSet::new();
        let mentions: Vec<Did> = mentions
            .iter()
            .filter(|d| seen.insert(**d))
            .copied()
            .collect();
        if mentions.len() > MAX_MENTIONS || (mentions.is_empty() && attachment.is_none()) {
            return Err(SpaceError::Invalid(format!(
                "a message mentions 1 to {MAX_MENTIONS} timites"
            )));
        }
        if let Some(a) = attachment {
            if a.data.len() > MAX_ATTACHMENT_BYTES {
                return Err(SpaceError::Invalid(format!(
                    "an attachment is at most {MAX_ATTACHMENT_BYTES} bytes; this one is {}",
                    a.data.len()
                )));
            }
            if !valid_attachment_name(&a.name) {
                return Err(SpaceError::Invalid(format!(
                    "an attachment's name is 1 to {MAX_ATTACHMENT_NAME_CHARS} characters without \
                     a path separator or control character"
                )));
            }
            if !valid_mime(&a.mime) {
                return Err(SpaceError::Invalid(
                    "an attachment's media type is `type/subtype`".into(),
                ));
            }
        }
        if let Some(d) = mentions.iter().find(|d| !self.is_member(d)) {
            return Err(SpaceError::Invalid(format!(
                "{d} is not a member of this space; only members are mentioned"
            )));
        }
        let json = serde_json::to_string(&mentions.iter().map(Did::to_string).collect::<Vec<_>>())
            .map_err(|e| SpaceError::Invalid(e.to_string()))?;
        self.post_with(who, text, at_ms, |tx, msg| {
            if let Some(parent) = reply_to {
                tx.put(msg, REPLY_TO, parent)?;
            }
            if !mentions.is_empty() {
                tx.put(msg, MENTIONS, json)?;
            }
            if let Some(a) = attachment {
                tx.put(msg, ATTACHMENT_NAME, a.name.as_str())?;
                tx.put(msg, ATTACHMENT_MIME, a.mime.as_str())?;
                tx.put(msg, ATTACHMENT, ScalarValue::Bytes(a.data.clone()))?;
            }
            Ok(())
        })
    }

    /// The attachment of message `id`, if it carries one (schema version 11).
    pub fn attachment(&self, id: &str) -> Result<Option<Attachment>, SpaceError> {
        let obj = self.message_obj(id)?;
        Ok(self.attachment_at(&obj))
    }

    fn attachment_at(&self, obj: &ObjId) -> Option<Attachment> {
        if self.schema_version() < schema::PEOPLE {
            return None;
        }
        let data = match self.doc.get(obj, ATTACHMENT).ok()?? {
            (Value::Scalar(v), _) => match v.as_ref() {
                ScalarValue::Bytes(b) => b.clone(),
                _ => return None,
            },
            _ => return None,
        };
        Some(Attachment {
            name: doc::get_str(&self.doc, obj, ATTACHMENT_NAME)?,
            mime: doc::get_str(&self.doc, obj, ATTACHMENT_MIME)?,
            data,
        })
    }

    /// Edits message `id`, as its author `who` (schema version 10): replaces its text and
    /// appends the previous one, with `at_ms`, to its history.
    pub fn edit(
        &mut self,
        who: &Writer,
        id: &str,
        text: &str,
        at_ms: u64,
    ) -> Result<Applied, SpaceError> {
        self.message_features("edits are")?;
        if text.trim().is_empty() || text.len() > MAX_TEXT_BYTES {
            return Err(SpaceError::Invalid(format!(
                "a message must be 1 to {MAX_TEXT_BYTES} bytes"
            )));
        }
        let msg = self.message_obj(id)?;
        if doc::get_str(&self.doc, &msg, doc::AUTHOR) != Some(who.did().to_string()) {
            return Err(SpaceError::Invalid(format!(
                "message {id} is not yours: only its author edits a message"
            )));
        }
        let Some(previous) = doc::get_str(&self.doc, &msg, doc::TEXT) else {
            return Err(SpaceError::Invalid(
                "editing end-to-end encrypted messages is not supported yet".into(),
            ));
        };
        let edits = doc::child_obj(&self.doc, &msg, EDITS, None);
        let at = millis(at_ms);
        self.local_write(who, at_ms, |tx| {
            let edits = match edits {
                Some(e) => e,
                None => tx.put_object(&msg, EDITS, ObjType::List)?,
            };
            let n = tx.length(&edits);
            let entry = tx.insert_object(&edits, n, ObjType::Map)?;
            tx.put(&entry, doc::TEXT, previous)?;
            tx.put(&entry, doc::AT, ScalarValue::Timestamp(at))?;
            tx.put(&msg, doc::TEXT, text)?;
            Ok(())
        })
        .map(|(a, ())| a)
    }

    /// Puts `who`'s reaction `emoji` on message `id` (schema version 10), replacing its
    /// earlier one; `None` withdraws it.
    pub fn react(
        &mut self,
        who: &Writer,
        id: &str,
        emoji: Option<&str>,
        at_ms: u64,
    ) -> Result<Applied, SpaceError> {
        self.message_features("reactions are")?;
        if emoji.is_some_and(|e| !valid_reaction(e)) {
            return Err(SpaceError::Invalid(format!(
                "a reaction is an emoji of 1 to {MAX_REACTION_BYTES} bytes, without spaces"
            )));
        }
        let msg = self.message_obj(id)?;
        let reactions = doc::child_obj(&self.doc, &msg, REACTIONS, None);
        let me = who.did().to_string();
        self.local_write(who, at_ms, |tx| {
            let reactions = match reactions {
                Some(r) => r,
                None => tx.put_object(&msg, REACTIONS, ObjType::Map)?,
            };
            match emoji {
                Some(e) => tx.put(&reactions, &me, e)?,
                None => tx.delete(&reactions, &me)?,
            }
            Ok(())
        })
        .map(|(a, ())| a)
    }

    /// Adds the message features of message map `obj` to its view: `reply_to`, the edits and
    /// the reactions.
    pub(crate) fn add_message_features(&self, obj: &ObjId, view: &mut MessageView) {
        view.reply_to = doc::get_str(&self.doc, obj, REPLY_TO);
        if self.schema_version() >= schema::PEOPLE {
            view.mentions = doc::get_str(&self.doc, obj, MENTIONS)
                .and_then(|m| parse_mentions(&m))
                .unwrap_or_default();
            view.attachment = self.attachment_at(obj).map(|a| AttachmentView {
                name: a.name,
                mime: a.mime,
                size: a.data.len() as u64,
            });
        }
        let entries = self.edit_entries(obj);
        view.edits = entries.len() as u64;
        view.edited_at = entries
            .iter()
            .filter_map(|e| doc::get_millis(&self.doc, e, doc::AT))
            .max();
        let mut by_emoji: BTreeMap<String, Vec<Did>> = BTreeMap::new();
        let mut seen = HashSet::new();
        for map in self.objects(obj, REACTIONS) {
            for item in self.doc.map_range(&map, ..) {
                let (Value::Scalar(s), Ok(did)) = (&item.value, item.key.parse::<Did>()) else {
                    continue;
                };
                if let ScalarValue::Str(e) = s.as_ref() {
                    if valid_reaction(e) && seen.insert(did) {
                        by_emoji.entry(e.to_string()).or_default().push(did);
                    }
                }
            }
        }
        let mut reactions: Vec<ReactionView> = by_emoji
            .into_iter()
            .map(|(emoji, mut by)| {
                by.sort_by_key(|d| d.to_string());
                ReactionView {
                    emoji,
                    count: by.len() as u64,
                    by,
                }
            })
            .collect();
        reactions.sort_by(|a, b| b.count.cmp(&a.count).then(a.emoji.cmp(&b.emoji)));
        view.reactions = reactions;
    }

    /// The entries of every `edits` list of message `obj` (two concurrent first edits make
    /// two lists), in document order.
    fn edit_entries(&self, obj: &ObjId) -> Vec<ObjId> {
        self.objects(obj, EDITS)
            .into_iter()
            .flat_map(|l| {
                self.doc
                    .list_range(&l, ..)
                    .map(|i| i.id)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Every version of message `id`'s content, oldest first: the original, then what each
    /// edit wrote, the last being what it holds now (schema version 10, docs/protocol.md
    /// §9.12). Each entry of `edits` holds the content an edit replaced and the edit's time, so
    /// version `i` is entry `i`'s content, written at entry `i - 1`'s time (the message's own
    /// time for the original). Entries of every `edits` list (two concurrent first edits make
    /// two) are merged by time, in document order among equal times, so every replica answers
    /// the same. Two concurrent edits both record the content they replaced (two versions of
    /// the same text in a row); the text of the one Automerge does not show is no version. A
    /// message not in the timeline (never, or deleted) is an error: a deleted message's
    /// history goes with it.
    pub fn edit_history(&self, id: &str) -> Result<Vec<Version>, SpaceError> {
        let obj = self.message_obj(id)?;
        let content = |o: &ObjId| match doc::get_str(&self.doc, o, doc::TEXT) {
            Some(t) => Some(Content::Text(t)),
            None => crate::encryption::bytes(&self.doc, o, doc::CT).map(Content::Ciphertext),
        };
        let mut entries: Vec<(u64, Content)> = self
            .edit_entries(&obj)
            .into_iter()
            .filter_map(|e| Some((doc::get_millis(&self.doc, &e, doc::AT)?, content(&e)?)))
            .collect();
        entries.sort_by_key(|(at, _)| *at);
        let now = content(&obj).ok_or_else(|| {
            SpaceError::Invalid(format!("message {id} holds neither text nor ciphertext"))
        })?;
        let mut at = doc::get_millis(&self.doc, &obj, doc::AT).unwrap_or(0);
        let mut versions = Vec::with_capacity(entries.len() + 1);
        for (replaced_at, content) in entries {
            versions.push(Version { content, at });
            at = replaced_at;
        }
        versions.push(Version { content: now, at });
        Ok(versions)
    }

    /// Every object under `key` in `obj` (concurrent makes leave several).
    fn objects(&self, obj: &ObjId, key: &str) -> Vec<ObjId> {
        self.doc
            .get_all(obj, key)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(v, id)| matches!(v, Value::Object(_)).then_some(id))
            .collect()
    }

    /// Message `id` and its replies, direct and indirect, in timeline order.
    pub fn thread(&self, id: &str) -> Result<(MessageView, Vec<MessageView>), SpaceError> {
        let obj = self.message_obj(id)?;
        let root = self
            .message_at(&obj)
            .ok_or_else(|| SpaceError::Invalid(format!("no message {id} in this space")))?;
        let mut ids = HashSet::from([root.id.clone()]);
        let replies = self
            .timeline()
            .into_iter()
            .filter(|m| {
                let member = m.reply_to.as_ref().is_some_and(|p| ids.contains(p));
                if member {
                    ids.insert(m.id.clone());
                }
                member
            })
            .collect();
        Ok((root, replies))
    }

    /// The messages whose text contains `query`, ignoring case, newest first: at most `limit`
    /// (1 to [`MAX_SEARCH_PAGE`]) older than message `before` (or the newest).
    pub fn search_messages(
        &self,
        query: &str,
        before: Option<&str>,
        limit: usize,
    ) -> Result<SearchResults, SpaceError> {
        let needle = query.trim().to_lowercase();
        if needle.is_empty() || needle.len() > MAX_TEXT_BYTES {
            return Err(SpaceError::Invalid(format!(
                "a search query is 1 to {MAX_TEXT_BYTES} bytes"
            )));
        }
        if self.encryption().is_some() {
            return Err(SpaceError::Invalid(
                "an end-to-end encrypted space's messages are not searched: its node holds \
                 only ciphertext"
                    .into(),
            ));
        }
        let limit = limit.clamp(1, MAX_SEARCH_PAGE);
        let Some(timeline) = doc::root_obj(self.doc(), &schema::TIMELINE, None) else {
            return Ok(SearchResults::default());
        };
        let no_such = |b: &str| SpaceError::Invalid(format!("no message {b} in this space"));
        let end = match before {
            Some(b) => {
                let id = b.parse().map_err(|_| no_such(b))?;
                self.position(&timeline, &id).map_err(|_| no_such(b))?.0
            }
            None => self.doc().length(&timeline),
        };
        // From the newest end, reading each element's text alone and a whole view only for a
        // match: a page of recent hits costs what it reads, not the space's size
        // (docs/benchmarks.md B12).
        let mut matches = (0..end).rev().filter_map(|i| {
            let obj = match self.doc().get(&timeline, i) {
                Ok(Some((Value::Object(ObjType::Map), obj))) => obj,
                _ => return None,
            };
            doc::get_str(self.doc(), &obj, doc::TEXT)
                .filter(|t| t.to_lowercase().contains(&needle))
                .and_then(|_| self.message_at(&obj))
        });
        let messages: Vec<MessageView> = matches.by_ref().take(limit).collect();
        let next_before = (messages.len() == limit && matches.next().is_some())
            .then(|| messages.last().map(|m| m.id.clone()))
            .flatten();
        Ok(SearchResults {
            messages,
            next_before,
        })
    }
}
