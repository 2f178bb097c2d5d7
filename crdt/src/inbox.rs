//! What a space holds for one timite past its read marker: the unread counts and the
//! notifications (a message by someone else that mentions the timite or replies to one of its
//! messages; docs/protocol.md §9.13.2).
//!
//! Read from an index of the timeline kept beside the document ([`crate::timeline_index`]),
//! not from a walk of every message view: the answers are those of a scan of
//! [`Space::timeline`], which `crdt/tests/timeline_index.rs` checks after random histories.

use std::collections::HashSet;

use tim_protocol::api::{Notification, NotificationKind};
use tim_protocol::Did;

use crate::timeline_index::Facts;
use crate::{doc, Space};

/// What a space holds for a timite past its read marker ([`Space::inbox`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inbox {
    /// Messages by others after the marker.
    pub unread: u64,
    /// Of those, the ones that mention the timite.
    pub unread_mentions: u64,
    /// Mentions of the timite and replies to its messages, in timeline order.
    pub notifications: Vec<Notification>,
}

/// Why a message by `author` that mentions `mentions` notifies `me`; `reply_to_mine`: it
/// replies to one of `me`'s messages. A reply that also mentions is a mention; one's own
/// messages notify nobody.
pub fn notification_kind(
    me: &Did,
    author: &Did,
    mentions: &[Did],
    reply_to_mine: bool,
) -> Option<NotificationKind> {
    if author == me {
        None
    } else if mentions.contains(me) {
        Some(NotificationKind::Mention)
    } else if reply_to_mine {
        Some(NotificationKind::Reply)
    } else {
        None
    }
}

impl Space {
    /// What this space holds for `me` past its read marker `marker` (a message id; one whose
    /// message is gone, or no message id, counts as none): the unread counts, and with
    /// `notifications` the notifications too (else that list is left empty). Reads the
    /// timeline index, and a message's text only for the notifications returned: the counts
    /// alone cost a walk back from the newest message to the marker; the notifications, one
    /// pass over the index.
    pub fn inbox(&self, me: &Did, marker: Option<&str>, notifications: bool) -> Inbox {
        let index = self.timeline_index();
        let shown = |e| index.shown(e);
        let marker = marker.and_then(|m| index.key_of(m));
        let mut out = Inbox::default();
        let mut count = |f: &Facts, author: Did| {
            if author != *me {
                out.unread += 1;
                if notification_kind(me, &author, &f.mentions, false)
                    == Some(NotificationKind::Mention)
                {
                    out.unread_mentions += 1;
                }
            }
        };
        if !notifications {
            for (key, f, author) in index.entries().iter().rev().filter_map(shown) {
                if Some(key) == marker {
                    break;
                }
                count(f, author);
            }
            return out;
        }
        let all = || index.entries().iter().filter_map(shown);
        let read_up_to = marker.and_then(|m| all().position(|(key, _, _)| key == m));
        let mine: HashSet<_> = all()
            .filter(|(_, _, author)| author == me)
            .map(|(key, _, _)| key)
            .collect();
        let mut found = Vec::new();
        for (i, (key, f, author)) in all().enumerate() {
            let seen = read_up_to.is_some_and(|r| i <= r);
            if !seen {
                count(f, author);
            }
            let reply_to_mine = f.reply_to.is_some_and(|p| mine.contains(&p));
            if let Some(kind) = notification_kind(me, &author, &f.mentions, reply_to_mine) {
                found.push((key, author, kind, f.at, seen));
            }
        }
        out.notifications = found
            .into_iter()
            .map(|(key, author, kind, at, seen)| {
                let obj = index.obj(key);
                Notification {
                    space: self.id(),
                    message: obj.to_string(),
                    author,
                    kind,
                    at,
                    text: doc::get_str(self.doc(), &obj, doc::TEXT).unwrap_or_default(),
                    seen,
                }
            })
            .collect();
        out
    }
}
