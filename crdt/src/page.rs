//! Reading a big space a page at a time: the timeline newest first from a cursor, and the
//! members in DID order after a cursor, each page touching only what it shows.
//!
//! The timeline is an Automerge list of message maps, and a message's id is the object id of
//! its map. Where a message sits costs one lookup: Automerge's `parents` names an object's
//! index in its list (`Prop::Seq(i)`), for a deleted message too (the place it had, among the
//! elements still there). A page then reads its elements by index (a seek in the list's index
//! each, not a walk from the start of the list), plus one message on each side to tell whether
//! more lie beyond. So the first page of a 100k-message space reads some fifty elements, not
//! 100k.
//!
//! A page shows what [`Space::timeline`] shows, in reverse: elements that are not messages (not
//! a map, or without an author and a text) are skipped, and a deleted message is no longer in
//! the list, so no page shows it. A deleted message still works as a cursor: the pages before
//! and after it are those around its former place.
//!
//! Members are a map keyed by DID, which Automerge keeps sorted, so a page of members is a
//! range of keys after the cursor. The cursor need not be a member any more (one who left).
//! Each member's reputation counts its messages and turns, which the space's timeline index
//! keeps counted as changes arrive (`crate::timeline_index`), and (from schema version 8) the
//! ratings and rated outcomes, read once per page (as [`Space::members`] does once per call).

use std::ops::Bound;

use automerge::{ObjId, ObjType, Prop, ReadDoc, Value};
use tim_protocol::api::{MemberView, MessageView};
use tim_protocol::{Did, MessageId};

use crate::reputation::Tally;
use crate::{doc, schema, Space};

/// Where a page of the timeline starts ([`Space::timeline_page`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageFrom {
    /// The newest messages.
    Latest,
    /// The messages just older than this one.
    Before(MessageId),
    /// The messages just newer than this one (the oldest of them first to be read, so that
    /// paging `After` the newest message of each page walks forward without a gap).
    After(MessageId),
}

/// A page of the timeline.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessagePage {
    /// The messages, newest first.
    pub messages: Vec<MessageView>,
    /// The oldest message of the page, when older messages exist: the page
    /// [`PageFrom::Before`] it follows this one.
    pub next_before: Option<MessageId>,
    /// The newest message of the page, when newer messages exist: the page
    /// [`PageFrom::After`] it follows this one.
    pub next_after: Option<MessageId>,
}

/// A page of the members ([`Space::members_page`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MemberPage {
    /// The members, sorted by DID.
    pub members: Vec<MemberView>,
    /// The last member of the page, when more members follow: the cursor of the next page.
    pub next_after: Option<Did>,
}

/// Why a page cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PageError {
    /// The cursor names no message of this space's timeline.
    #[error(
        "message {0} is not in this space's timeline; page from a message id that this \
         space's timeline gave"
    )]
    UnknownMessage(MessageId),
}

impl Space {
    /// Up to `limit` messages of the timeline from `from`, newest first, with the cursors of
    /// the pages on either side. Reads about `limit` elements of the timeline, whatever its
    /// length.
    pub fn timeline_page(&self, from: &PageFrom, limit: usize) -> Result<MessagePage, PageError> {
        let Some(timeline) = doc::root_obj(self.doc(), &schema::TIMELINE, None) else {
            return match from {
                PageFrom::Latest => Ok(MessagePage::default()),
                PageFrom::Before(id) | PageFrom::After(id) => {
                    Err(PageError::UnknownMessage(id.clone()))
                }
            };
        };
        let len = self.doc().length(&timeline);
        // The page covers the elements `lo..hi`.
        let (messages, lo, hi) = match from {
            PageFrom::Latest => {
                let (messages, lo) = self.read_older(&timeline, len, limit);
                (messages, lo, len)
            }
            PageFrom::Before(id) => {
                let (at, _) = self.position(&timeline, id)?;
                let (messages, lo) = self.read_older(&timeline, at, limit);
                (messages, lo, at)
            }
            PageFrom::After(id) => {
                let (at, present) = self.position(&timeline, id)?;
                let start = if present { at + 1 } else { at };
                let (mut messages, hi) = self.read_newer(&timeline, start, len, limit);
                messages.reverse();
                (messages, start, hi)
            }
        };
        let has_message = |i: usize| self.message_in(&timeline, i).is_some();
        let next_before = messages
            .last()
            .filter(|_| (0..lo).rev().any(has_message))
            .and_then(|m| m.id.parse().ok());
        let next_after = messages
            .first()
            .filter(|_| (hi..len).any(has_message))
            .and_then(|m| m.id.parse().ok());
        Ok(MessagePage {
            messages,
            next_before,
            next_after,
        })
    }

    /// Up to `limit` members after `after` (all from the first if `None`), sorted by DID, with
    /// the cursor of the next page.
    pub fn members_page(&self, after: Option<&Did>, limit: usize) -> MemberPage {
        let Some(members) = doc::root_obj(self.doc(), &schema::MEMBERS, None) else {
            return MemberPage::default();
        };
        let start = after.map_or(Bound::Unbounded, |d| Bound::Excluded(d.to_string()));
        let mut entries = self
            .doc()
            .map_range(&members, (start, Bound::Unbounded))
            .filter_map(|item| {
                let did: Did = item.key.parse().ok()?;
                let entry = doc::child_obj(self.doc(), &members, item.key, None)?;
                // A member has a role ([`Space::member_view`] needs it).
                doc::get_str(self.doc(), &entry, doc::ROLE).map(|_| (did, entry))
            })
            .take(limit.saturating_add(1))
            .collect::<Vec<_>>();
        let more = entries.len() > limit;
        entries.truncate(limit);
        if entries.is_empty() {
            return MemberPage::default();
        }
        let tally = Tally::of(self);
        let earning = self.earning_now();
        let members: Vec<MemberView> = entries
            .into_iter()
            .filter_map(|(did, entry)| self.member_view(did, &entry, &tally, &earning))
            .collect();
        let next_after = members.last().filter(|_| more).map(|m| m.did);
        MemberPage {
            members,
            next_after,
        }
    }

    /// The message at index `i` of the timeline, if that element is one.
    fn message_in(&self, timeline: &ObjId, i: usize) -> Option<MessageView> {
        match self.doc().get(timeline, i) {
            Ok(Some((Value::Object(ObjType::Map), obj))) => self.message_at(&obj),
            _ => None,
        }
    }

    /// Up to `limit` messages before index `end`, newest first, and the index of the oldest
    /// element read (0 if the start of the list was reached).
    fn read_older(&self, timeline: &ObjId, end: usize, limit: usize) -> (Vec<MessageView>, usize) {
        let mut out = Vec::with_capacity(limit.min(end));
        for i in (0..end).rev() {
            if out.len() == limit {
                return (out, i + 1);
            }
            out.extend(self.message_in(timeline, i));
        }
        (out, 0)
    }

    /// Up to `limit` messages from index `start` on, oldest first, and the index after the
    /// newest element read (`len` if the end of the list was reached).
    fn read_newer(
        &self,
        timeline: &ObjId,
        start: usize,
        len: usize,
        limit: usize,
    ) -> (Vec<MessageView>, usize) {
        let mut out = Vec::with_capacity(limit.min(len.saturating_sub(start)));
        for i in start..len {
            if out.len() == limit {
                return (out, i);
            }
            out.extend(self.message_in(timeline, i));
        }
        (out, len)
    }

    /// Where message `id` sits in the timeline: its index, and whether it is still there (a
    /// deleted message gives the index of the element that followed it).
    pub(crate) fn position(
        &self,
        timeline: &ObjId,
        id: &MessageId,
    ) -> Result<(usize, bool), PageError> {
        let unknown = || PageError::UnknownMessage(id.clone());
        // (A `MessageId` is always well formed: `import` would panic on bad hexadecimal.)
        let (obj, ObjType::Map) = self.doc().import(&id.to_string()).map_err(|_| unknown())? else {
            return Err(unknown());
        };
        let parent = self
            .doc()
            .parents(&obj)
            .map_err(|_| unknown())?
            .next()
            .ok_or_else(unknown)?;
        match parent.prop {
            Prop::Seq(i) if parent.obj == *timeline => Ok((i, parent.visible)),
            _ => Err(unknown()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_utils::writer;

    fn texts(page: &MessagePage) -> Vec<&str> {
        page.messages.iter().map(|m| m.text.as_str()).collect()
    }

    fn id(s: &str) -> MessageId {
        s.parse().unwrap()
    }

    /// A space with messages `m0` … `m{n-1}`, oldest first, and their ids.
    fn space_with(n: usize) -> (Space, Vec<String>) {
        let alice = writer(1);
        let (mut space, _) = Space::create(&alice, "pages", "", 0).unwrap();
        let ids = (0..n)
            .map(|i| space.post(&alice, &format!("m{i}"), i as u64).unwrap().1)
            .collect();
        (space, ids)
    }

    #[test]
    fn pages_walk_the_timeline_both_ways_and_agree_with_the_whole() {
        let (space, ids) = space_with(7);
        let first = space.timeline_page(&PageFrom::Latest, 3).unwrap();
        assert_eq!(texts(&first), ["m6", "m5", "m4"]);
        assert_eq!(first.next_before, Some(id(&ids[4])));
        assert_eq!(first.next_after, None);

        let second = space
            .timeline_page(&PageFrom::Before(id(&ids[4])), 3)
            .unwrap();
        assert_eq!(texts(&second), ["m3", "m2", "m1"]);
        assert_eq!(second.next_before, Some(id(&ids[1])));
        assert_eq!(second.next_after, Some(id(&ids[3])));

        let last = space
            .timeline_page(&PageFrom::Before(id(&ids[1])), 3)
            .unwrap();
        assert_eq!(texts(&last), ["m0"]);
        assert_eq!(last.next_before, None);
        assert_eq!(last.next_after, Some(id(&ids[0])));
        let none = space
            .timeline_page(&PageFrom::Before(id(&ids[0])), 3)
            .unwrap();
        assert_eq!(none, MessagePage::default());

        // Forward from the oldest: the messages just after it, still newest first.
        let up = space
            .timeline_page(&PageFrom::After(id(&ids[0])), 2)
            .unwrap();
        assert_eq!(texts(&up), ["m2", "m1"]);
        assert_eq!(up.next_before, Some(id(&ids[1])));
        assert_eq!(up.next_after, Some(id(&ids[2])));
        let top = space
            .timeline_page(&PageFrom::After(id(&ids[4])), 5)
            .unwrap();
        assert_eq!(texts(&top), ["m6", "m5"]);
        assert_eq!(top.next_after, None);
        let caught_up = space
            .timeline_page(&PageFrom::After(id(&ids[6])), 5)
            .unwrap();
        assert_eq!(caught_up, MessagePage::default());

        // Every page, read back to the start, is the whole timeline reversed.
        let mut all = Vec::new();
        let mut from = PageFrom::Latest;
        loop {
            let page = space.timeline_page(&from, 2).unwrap();
            all.extend(page.messages);
            match page.next_before {
                Some(c) => from = PageFrom::Before(c),
                None => break,
            }
        }
        all.reverse();
        assert_eq!(all, space.timeline());
        // A limit beyond the length gives everything.
        let everything = space.timeline_page(&PageFrom::Latest, 100).unwrap();
        assert_eq!(everything.messages.len(), 7);
        assert_eq!(
            (everything.next_before, everything.next_after),
            (None, None)
        );
    }

    #[test]
    fn deleted_messages_are_skipped_but_still_work_as_cursors() {
        let (mut space, ids) = space_with(5);
        space
            .delete_message(&writer(1), &ids[2], 10)
            .expect("the author deletes");
        let page = space.timeline_page(&PageFrom::Latest, 10).unwrap();
        assert_eq!(texts(&page), ["m4", "m3", "m1", "m0"]);
        let older = space
            .timeline_page(&PageFrom::Before(id(&ids[2])), 10)
            .unwrap();
        assert_eq!(texts(&older), ["m1", "m0"]);
        let newer = space
            .timeline_page(&PageFrom::After(id(&ids[2])), 10)
            .unwrap();
        assert_eq!(texts(&newer), ["m4", "m3"]);
        // The last message of the timeline, deleted, as the cursor of a reader catching up.
        space.delete_message(&writer(1), &ids[4], 11).unwrap();
        let after_last = space
            .timeline_page(&PageFrom::After(id(&ids[4])), 10)
            .unwrap();
        assert!(after_last.messages.is_empty());
        let before_last = space
            .timeline_page(&PageFrom::Before(id(&ids[4])), 1)
            .unwrap();
        assert_eq!(texts(&before_last), ["m3"]);
        assert_eq!(before_last.next_before, Some(id(&ids[3])));
        assert_eq!(before_last.next_after, None);
    }

    #[test]
    fn a_cursor_that_is_not_a_message_of_this_timeline_is_refused() {
        let (space, ids) = space_with(2);
        let unknown_actor = id(&format!("1@{}", "ab".repeat(32)));
        let err = space
            .timeline_page(&PageFrom::Before(unknown_actor.clone()), 5)
            .unwrap_err();
        assert_eq!(err, PageError::UnknownMessage(unknown_actor));
        assert!(err.to_string().contains("not in this space's timeline"));
        // Known actor, no such object.
        let actor = ids[0].split_once('@').unwrap().1;
        let missing = id(&format!("999999@{actor}"));
        assert!(space.timeline_page(&PageFrom::After(missing), 5).is_err());
        // A map that is not a message: the owner's member entry.
        let members = doc::root_obj(space.doc(), &schema::MEMBERS, None).unwrap();
        let (_, entry) = space
            .doc()
            .get(
                &members,
                Did::from_key(&writer(1).verifying_key()).to_string(),
            )
            .unwrap()
            .unwrap();
        let not_a_message = id(&entry.to_string());
        assert!(space
            .timeline_page(&PageFrom::Before(not_a_message), 5)
            .is_err());
        // Another space's message.
        let (other, other_ids) = {
            let bob = writer(2);
            let (mut s, _) = Space::create(&bob, "other", "", 0).unwrap();
            let (_, m) = s.post(&bob, "elsewhere", 1).unwrap();
            (s, vec![m])
        };
        assert!(other
            .timeline_page(&PageFrom::Before(id(&other_ids[0])), 1)
            .is_ok());
        assert!(space
            .timeline_page(&PageFrom::Before(id(&other_ids[0])), 1)
            .is_err());
        // An empty space has no cursor to page from, but a latest page.
        let empty = Space::empty(space.id());
        assert_eq!(
            empty.timeline_page(&PageFrom::Latest, 5).unwrap(),
            MessagePage::default()
        );
        assert!(empty
            .timeline_page(&PageFrom::After(id(&ids[0])), 5)
            .is_err());
    }

    #[test]
    fn members_page_in_did_order_after_any_cursor() {
        let (mut space, _) = space_with(0);
        for seed in 2..7 {
            space.join(&writer(seed), 1).unwrap();
        }
        let all = space.members();
        assert_eq!(all.len(), 6);
        let mut paged = Vec::new();
        let mut after = None;
        loop {
            let page = space.members_page(after.as_ref(), 4);
            assert!(page.members.len() <= 4);
            paged.extend(page.members);
            match page.next_after {
                Some(d) => after = Some(d),
                None => break,
            }
        }
        assert_eq!(paged, all);
        assert_eq!(space.members_page(None, 6).next_after, None);
        assert_eq!(
            space.members_page(None, 5).next_after,
            Some(all[4].did),
            "a page that stops short of the end names its last member"
        );
        // A cursor that is no member (any DID) starts after its place in the order.
        let stranger = Did::from_key(&writer(99).verifying_key());
        let rest = space.members_page(Some(&stranger), 10);
        let s = stranger.to_string();
        let expected: Vec<_> = all.iter().filter(|m| m.did.to_string() > s).collect();
        assert_eq!(rest.members.iter().collect::<Vec<_>>(), expected);
        assert!(space.members_page(Some(&all[5].did), 10).members.is_empty());
        assert!(space.members_page(None, 0).members.is_empty());
    }
}
