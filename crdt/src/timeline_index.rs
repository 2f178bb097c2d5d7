//! An index of the timeline, kept in memory beside a space's document, for the reads that
//! would otherwise walk every message on every request: the authors in timeline order (what
//! reputation counts, [`crate::reputation`]) and, per message, what makes it notify someone
//! (its author, mentions, the message it replies to, its time; [`crate::inbox`]).
//!
//! The index holds one entry per element of the timeline list, in list order, and the heads
//! it was read at. A read first brings it to the document's heads:
//! - a **step** when the changes since its heads are few ([`MAX_STEP`]): each new change's
//!   operations say what moved. An insert into the timeline is a new element (a message map);
//!   a delete there removes one; any operation on an element's map re-reads that element's
//!   fields (found by its place, which Automerge's `parents` gives). The new elements go in at
//!   the places Automerge gives them once every change is applied: the old elements keep
//!   their order in a list (Automerge's list is an RGA), so removing the deleted ones and
//!   inserting the new ones at their final places, lowest first, gives the list. Concurrent
//!   changes (a merge) are steps like any other.
//! - a **rebuild** (one walk of the list, the cost of one scan) for anything a step does not
//!   handle: the first read, many changes at once, a schema migration (mentions count from
//!   [`schema::PEOPLE`]), the timeline container replaced, an element overwritten in place,
//!   a delete of an element not in the index (a second, concurrent delete), or a step whose
//!   result does not have the list's length.
//!
//! So the index always says what a fresh walk of the document at its heads would say
//! (`crdt/tests/timeline_index.rs` checks this after random histories with merges). It is not
//! stored: a space loaded from the store rebuilds it on its first read (docs/benchmarks.md
//! gives the cost at 100k messages).

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use automerge::legacy::{ElementId, Key, ObjectId, OpId, OpType};
use automerge::{ActorId, Automerge, ChangeHash, ObjId, ObjType, Prop, ReadDoc, Value};
use tim_protocol::Did;

use crate::messages::{parse_mentions, MENTIONS, REPLY_TO};
use crate::reputation::run_turns;
use crate::{doc, schema, Space};

/// Most new changes brought in by a step; beyond, a rebuild.
const MAX_STEP: usize = 1_000;

/// An element of the timeline: the counter and the (interned) actor of the operation that
/// inserted it, which is also the object id of the message map it holds.
pub(crate) type ElemKey = (u64, u32);

/// What a message map says, as [`crate::Space::message_at`] and
/// [`crate::reputation::message_authors`] read it.
#[derive(Debug, Clone)]
pub(crate) struct Facts {
    /// Its `author`, when a string (interned: [`TimelineIndex::author`]).
    pub(crate) author: Option<u32>,
    /// Whether its `text` is a string (what reputation counts).
    pub(crate) text: bool,
    /// Whether [`crate::Space::timeline`] shows it: a text or a ciphertext, and an author
    /// that is a DID.
    pub(crate) shown: bool,
    /// Its time, ms (0 if none).
    pub(crate) at: u64,
    /// The message it replies to, when `reply_to` is a well-formed message id.
    pub(crate) reply_to: Option<ElemKey>,
    /// Whom it mentions (from schema version [`schema::PEOPLE`]).
    pub(crate) mentions: Vec<Did>,
}

/// One element of the timeline list.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// Its id.
    pub(crate) key: ElemKey,
    /// What it says, if it is a map.
    pub(crate) facts: Option<Facts>,
}

/// The timeline of a document at some heads, element by element ([module docs](self)).
#[derive(Debug, Default)]
pub(crate) struct TimelineIndex {
    /// The heads it was read at; empty: never read.
    heads: Vec<ChangeHash>,
    /// The schema version there.
    version: u64,
    /// The timeline container there.
    timeline: Option<ObjId>,
    /// Actors, by number.
    actors: Vec<ActorId>,
    /// The number of each actor.
    actor_ids: HashMap<ActorId, u32>,
    /// Author strings and their DIDs (if they parse), by number.
    authors: Vec<(String, Option<Did>)>,
    /// The number of each author string.
    author_ids: HashMap<String, u32>,
    /// The elements, in list order.
    entries: Vec<Entry>,
    /// Messages and turns per author, counted over `entries`.
    turns: Turns,
}

/// Messages and turns per author (interned), counted one message at a time in timeline order:
/// a message by the author of the run before it lengthens that run, any other starts one
/// ([`run_turns`] says what a run is worth). Only messages with a string `text` and an
/// `author` count, as in [`crate::reputation::message_authors`]; other elements leave the runs
/// as they are.
#[derive(Debug, Default)]
struct Turns {
    /// Per author: (messages, turns).
    by_author: HashMap<u32, (u64, u64)>,
    /// The last run: its author and length.
    last: Option<(u32, u64)>,
}

impl Turns {
    /// Counts over `entries`, from nothing.
    fn of(entries: &[Entry]) -> Self {
        let mut turns = Self::default();
        for e in entries {
            turns.push(e);
        }
        turns
    }

    /// Counts element `e`, the next in timeline order.
    fn push(&mut self, e: &Entry) {
        let Some(author) = e.facts.as_ref().filter(|f| f.text).and_then(|f| f.author) else {
            return;
        };
        let (messages, turns) = self.by_author.entry(author).or_default();
        *messages += 1;
        match &mut self.last {
            Some((a, run)) if *a == author => {
                *turns = *turns - run_turns(*run) + run_turns(*run + 1);
                *run += 1;
            }
            last => {
                *turns += run_turns(1);
                *last = Some((author, 1));
            }
        }
    }
}

/// A space's [`TimelineIndex`], brought to the document's heads when read.
#[derive(Debug, Default)]
pub(crate) struct TimelineCell(Mutex<TimelineIndex>);

impl TimelineCell {
    /// The index at `doc`'s heads. Held locked while the guard lives: never ask for it twice
    /// at once.
    pub(crate) fn now(&self, doc: &Automerge) -> MutexGuard<'_, TimelineIndex> {
        let mut index = self.0.lock().unwrap_or_else(|poisoned| {
            // A panic while it was held may have left it mid-step: read it all again.
            let mut index = poisoned.into_inner();
            *index = TimelineIndex::default();
            index
        });
        index.update(doc);
        index
    }
}

impl Space {
    /// The timeline index at the current heads ([`TimelineCell::now`]).
    pub(crate) fn timeline_index(&self) -> MutexGuard<'_, TimelineIndex> {
        self.timeline_index.now(&self.doc)
    }
}

impl TimelineIndex {
    /// The elements, in list order.
    pub(crate) fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Element `e`, if [`crate::Space::timeline`] shows it: its id, facts and author.
    pub(crate) fn shown<'a>(&self, e: &'a Entry) -> Option<(ElemKey, &'a Facts, Did)> {
        let f = e.facts.as_ref().filter(|f| f.shown)?;
        let author = *self.authors[f.author? as usize].1.as_ref()?;
        Some((e.key, f, author))
    }

    /// Messages and turns per author, as [`crate::reputation`] counts them from the authors
    /// of the messages with a string `text` in timeline order: by DID, for the authors that
    /// are DIDs (two spellings of one DID each give their own row).
    pub(crate) fn turns_by_did(&self) -> Vec<(Did, u64, u64)> {
        self.turns
            .by_author
            .iter()
            .filter_map(|(a, (messages, turns))| {
                Some((*self.authors[*a as usize].1.as_ref()?, *messages, *turns))
            })
            .collect()
    }

    /// The object id of element `key`.
    pub(crate) fn obj(&self, key: ElemKey) -> ObjId {
        ObjId::Id(key.0, self.actors[key.1 as usize].clone(), usize::MAX)
    }

    /// The element a message id names, if the id is well formed and its actor known here.
    pub(crate) fn key_of(&self, id: &str) -> Option<ElemKey> {
        let (ctr, actor) = parse_id(id)?;
        Some((ctr, *self.actor_ids.get(&actor)?))
    }

    /// Brings the index to `doc`'s heads: a step if it can, else a rebuild.
    fn update(&mut self, doc: &Automerge) {
        let heads = doc.get_heads();
        if !self.heads.is_empty() && heads == self.heads {
            return;
        }
        if self.heads.is_empty() || self.step(doc).is_none() {
            self.rebuild(doc);
        }
        self.heads = heads;
    }

    /// Reads the whole timeline again.
    fn rebuild(&mut self, doc: &Automerge) {
        self.version = doc::schema_version(doc, None);
        self.timeline = doc::root_obj(doc, &schema::TIMELINE, None);
        self.entries.clear();
        let Some(timeline) = self.timeline.clone() else {
            return;
        };
        let items: Vec<(ObjId, bool)> = doc
            .list_range(&timeline, ..)
            .map(|item| {
                let map = matches!(item.value, Value::Object(ObjType::Map));
                (item.id, map)
            })
            .collect();
        self.entries.reserve(items.len());
        for (obj, map) in items {
            let ObjId::Id(ctr, actor, _) = &obj else {
                continue;
            };
            let key = (*ctr, self.intern_actor(actor));
            let facts = map.then(|| self.facts(doc, &obj));
            self.entries.push(Entry { key, facts });
        }
        self.turns = Turns::of(&self.entries);
    }

    /// Brings the index from its heads to the document's by the changes in between; `None`
    /// if a rebuild is needed (nothing changed then that a rebuild would not redo).
    fn step(&mut self, doc: &Automerge) -> Option<()> {
        if self
            .heads
            .iter()
            .any(|h| doc.get_change_by_hash(h).is_none())
            || doc::schema_version(doc, None) != self.version
            || doc::root_obj(doc, &schema::TIMELINE, None) != self.timeline
        {
            return None;
        }
        let timeline = self.timeline.clone()?;
        let changes = doc.get_changes(&self.heads);
        if changes.len() > MAX_STEP {
            return None;
        }
        let timeline_id = legacy_id(&timeline)?;
        let mut inserted = Vec::new();
        let mut deleted = HashSet::new();
        let mut touched = HashSet::new();
        for change in changes {
            let expanded = change.decode();
            for (i, op) in expanded.operations.iter().enumerate() {
                let op_id = OpId::new(change.start_op().get() + i as u64, change.actor_id());
                match &op.obj {
                    ObjectId::Root => {
                        if matches!(&op.key, Key::Map(k) if k.as_str() == schema::TIMELINE.name) {
                            return None;
                        }
                    }
                    ObjectId::Id(obj) if *obj == timeline_id => match (&op.action, &op.key) {
                        (OpType::Make(ObjType::Map), _) if op.insert => inserted.push(op_id),
                        (OpType::Delete, Key::Seq(ElementId::Id(e))) if !op.insert => {
                            deleted.insert(e.clone());
                        }
                        _ => return None,
                    },
                    ObjectId::Id(obj) => {
                        touched.insert(obj.clone());
                    }
                }
            }
        }
        let inserted: Vec<ElemKey> = inserted
            .into_iter()
            .filter(|id| !deleted.remove(id))
            .map(|OpId(ctr, actor)| (ctr, self.intern_actor(&actor)))
            .collect();
        let deleted: HashSet<ElemKey> = deleted
            .into_iter()
            .map(|OpId(ctr, actor)| Some((ctr, *self.actor_ids.get(&actor)?)))
            .collect::<Option<_>>()?;
        let before = self.entries.len();
        self.entries.retain(|e| !deleted.contains(&e.key));
        if before - self.entries.len() != deleted.len() {
            return None;
        }
        // Whether the step only added elements at the end: then the counts go on from there.
        let kept = self.entries.len();
        let mut appended = deleted.is_empty();
        let mut placed = Vec::with_capacity(inserted.len());
        for key in inserted {
            if let (i, true) = self.place(doc, &timeline, &self.obj(key))? {
                placed.push((i, key));
            }
        }
        placed.sort_unstable();
        for (i, key) in placed {
            if i > self.entries.len() {
                return None;
            }
            appended &= i == self.entries.len();
            let facts = Some(self.facts(doc, &self.obj(key)));
            self.entries.insert(i, Entry { key, facts });
        }
        if self.entries.len() != doc.length(&timeline) {
            return None;
        }
        for OpId(ctr, actor) in touched {
            let obj = ObjId::Id(ctr, actor.clone(), usize::MAX);
            // Not an element of the timeline (another container, or an object inside a
            // message, whose changes leave the message's own fields as they were).
            let Some((i, true)) = self.place(doc, &timeline, &obj) else {
                continue;
            };
            let key = (ctr, *self.actor_ids.get(&actor)?);
            if self.entries.get(i).map(|e| e.key) != Some(key) {
                return None;
            }
            let facts = Some(self.facts(doc, &obj));
            self.entries[i].facts = facts;
            appended &= i >= kept;
        }
        if appended {
            for e in &self.entries[kept..] {
                self.turns.push(e);
            }
        } else {
            self.turns = Turns::of(&self.entries);
        }
        Some(())
    }

    /// Where `obj` sits in the timeline, and whether it is there now; `None` if it is not an
    /// element of the timeline (outer `None`) or its parent is not the timeline.
    fn place(&self, doc: &Automerge, timeline: &ObjId, obj: &ObjId) -> Option<(usize, bool)> {
        let parent = doc.parents(obj).ok()?.next()?;
        match parent.prop {
            Prop::Seq(i) if parent.obj == *timeline => Some((i, parent.visible)),
            _ => None,
        }
    }

    /// What message map `obj` says now.
    fn facts(&mut self, doc: &Automerge, obj: &ObjId) -> Facts {
        let author = doc::get_str(doc, obj, doc::AUTHOR).map(|a| self.intern_author(a));
        let text = matches!(doc.get(obj, doc::TEXT), Ok(Some((Value::Scalar(s), _))) if s.is_str());
        let ciphertext = matches!(doc.get(obj, doc::CT), Ok(Some(_)));
        let did = author.and_then(|a| self.authors[a as usize].1);
        let reply_to = doc::get_str(doc, obj, REPLY_TO)
            .and_then(|p| parse_id(&p))
            .map(|(ctr, actor)| (ctr, self.intern_actor(&actor)));
        let mentions = if self.version >= schema::PEOPLE {
            doc::get_str(doc, obj, MENTIONS)
                .and_then(|m| parse_mentions(&m))
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        Facts {
            author,
            text,
            shown: (text || ciphertext) && did.is_some(),
            at: doc::get_millis(doc, obj, doc::AT).unwrap_or(0),
            reply_to,
            mentions,
        }
    }

    /// `actor`'s number here, given on first sight.
    fn intern_actor(&mut self, actor: &ActorId) -> u32 {
        if let Some(i) = self.actor_ids.get(actor) {
            return *i;
        }
        let i = u32::try_from(self.actors.len()).unwrap_or(u32::MAX);
        self.actors.push(actor.clone());
        self.actor_ids.insert(actor.clone(), i);
        i
    }

    /// `author`'s number here, given on first sight (its DID parsed then, once).
    fn intern_author(&mut self, author: String) -> u32 {
        if let Some(i) = self.author_ids.get(&author) {
            return *i;
        }
        let i = u32::try_from(self.authors.len()).unwrap_or(u32::MAX);
        let did = author.parse().ok();
        self.author_ids.insert(author.clone(), i);
        self.authors.push((author, did));
        i
    }
}

/// The legacy form of an object id (what a decoded change names objects by).
fn legacy_id(obj: &ObjId) -> Option<OpId> {
    match obj {
        ObjId::Id(ctr, actor, _) => Some(OpId::new(*ctr, actor)),
        ObjId::Root => None,
    }
}

/// The counter and actor of a message id (`<counter>@<actor in hex>`, as Automerge writes an
/// object id), only if the id is written exactly that way: another spelling of the same
/// numbers is not the same message id.
fn parse_id(id: &str) -> Option<(u64, ActorId)> {
    let (ctr, hex) = id.split_once('@')?;
    if !hex.is_ascii() || hex.len() % 2 != 0 {
        return None;
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    let out = (ctr.parse().ok()?, ActorId::from(bytes));
    (ObjId::Id(out.0, out.1.clone(), 0).to_string() == id).then_some(out)
}
