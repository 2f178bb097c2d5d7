//! Mentions, notifications and unread counts (docs/protocol.md §9.13.2): the use cases of
//! [`Service`] that the HTTP API and the CLI call. A notification is a message by someone
//! else that mentions the acting timite or replies to one of its messages; it is read from
//! the spaces' documents (through each space's timeline index, kept in memory and brought to
//! the document's heads as changes arrive: [`tim_crdt::Space::inbox`]), not stored. What the timite has read is its read marker per space,
//! kept in this node's store (`read_markers`), never in a document: unread counts and the
//! `seen` flag are the messages after it.

use std::collections::HashSet;

use futures::{Stream, StreamExt};
use tim_crdt::inbox::{notification_kind, Inbox};
use tim_crdt::messages::Attachment;
use tim_protocol::api::{
    MessageView, Notification, NotificationKind, NotificationsQuery, PostMessage, Posted,
    SpaceSummary,
};
use tim_protocol::{Did, SpaceId};
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;

use crate::service::{Caller, Service, ServiceResult};
use crate::NodeError;

/// Most notifications one answer holds.
const MAX_NOTIFICATIONS: usize = 1000;

/// Notifications in an answer when the query does not say.
const DEFAULT_NOTIFICATIONS: usize = 100;

/// Why `message` notifies `me`, given the ids of `me`'s messages in its space.
fn kind_for(message: &MessageView, me: Did, mine: &HashSet<&str>) -> Option<NotificationKind> {
    let reply_to_mine = message
        .reply_to
        .as_deref()
        .is_some_and(|p| mine.contains(p));
    notification_kind(&me, &message.author, &message.mentions, reply_to_mine)
}

impl Service {
    /// Posts a message as the caller: with `mentions` or an `attachment`, a message that names
    /// them or carries it (schema version 11), replying to `reply_to` if given; else a post or
    /// a reply.
    pub async fn post_message(
        &self,
        caller: &Caller,
        space: SpaceId,
        body: &PostMessage,
    ) -> ServiceResult<Posted> {
        let plain = body.mentions.is_empty() && body.attachment.is_none();
        match (&body.reply_to, plain) {
            (Some(parent), true) => self.reply(caller, space, parent, &body.text).await,
            (None, true) => self.post(caller, space, &body.text).await,
            (reply_to, false) => Ok(self
                .node()
                .acting_as(caller.timite)
                .post_mentioning(
                    space,
                    &body.text,
                    reply_to.as_deref(),
                    body.mentions.clone(),
                    body.attachment.clone().map(|a| Attachment {
                        name: a.name,
                        mime: a.mime,
                        data: a.data,
                    }),
                )
                .await?),
        }
    }

    /// What `space` holds for the caller past its read marker, the notifications too if
    /// `notifications` (from the space's timeline index: no walk of its messages).
    async fn scan(&self, me: Did, space: SpaceId, notifications: bool) -> ServiceResult<Inbox> {
        let marker = self
            .node()
            .store()
            .read_marker(&me, &space)
            .map_err(NodeError::from)?;
        Ok(self
            .node()
            .acting_as(me)
            .read_space(space, move |s| {
                s.inbox(&me, marker.as_deref(), notifications)
            })
            .await?)
    }

    /// `summaries` with the caller's unread counts filled in (left at 0 for a space whose
    /// timeline cannot be read for it now: the summary still answers).
    pub(crate) async fn with_unread(
        &self,
        caller: &Caller,
        mut summaries: Vec<SpaceSummary>,
    ) -> Vec<SpaceSummary> {
        for s in &mut summaries {
            if let Ok(scan) = self.scan(caller.timite, s.id, false).await {
                s.unread = scan.unread;
                s.unread_mentions = scan.unread_mentions;
            }
        }
        summaries
    }

    /// The caller's notifications in every space it reads, newest first.
    pub async fn notifications(
        &self,
        caller: &Caller,
        query: &NotificationsQuery,
    ) -> ServiceResult<Vec<Notification>> {
        let limit = query
            .limit
            .unwrap_or(DEFAULT_NOTIFICATIONS)
            .clamp(1, MAX_NOTIFICATIONS);
        let mut all = Vec::new();
        for summary in self.node().acting_as(caller.timite).spaces().await? {
            match self.scan(caller.timite, summary.id, true).await {
                Ok(scan) => all.extend(scan.notifications),
                // A space still syncing, or left meanwhile, has nothing to say yet.
                Err(_) => continue,
            }
        }
        all.retain(|n| !(query.unseen && n.seen));
        all.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| b.message.cmp(&a.message)));
        all.truncate(limit);
        Ok(all)
    }

    /// Moves the caller's read marker in `space` to message `up_to` (a message of the
    /// space); durable when this returns.
    pub async fn mark_read(
        &self,
        caller: &Caller,
        space: SpaceId,
        up_to: &str,
    ) -> ServiceResult<()> {
        let id = up_to.to_string();
        let known = self
            .node()
            .acting_as(caller.timite)
            .read_space(space, move |s| s.message(&id).is_some())
            .await?;
        if !known {
            return Err(
                NodeError::UnknownMessage(format!("no message {up_to} in space {space}")).into(),
            );
        }
        let store = self.node().store();
        store
            .set_read_marker(&caller.timite, &space, up_to)
            .map_err(NodeError::from)?;
        store.flush().await.map_err(NodeError::from)?;
        Ok(())
    }

    /// The caller's notifications as they arrive (its `seen` is false), including messages
    /// from other nodes. A receiver that falls behind gets a
    /// [`BroadcastStreamRecvError::Lagged`] and should read `GET /v1/notifications` again.
    pub fn notification_events(
        &self,
        caller: &Caller,
    ) -> impl Stream<Item = Result<Notification, BroadcastStreamRecvError>> + Send + use<> {
        let me = caller.timite;
        let handle = self.node().acting_as(me);
        BroadcastStream::new(self.node().subscribe()).filter_map(move |e| {
            let handle = handle.clone();
            async move {
                let (space, message) = match e {
                    Ok(tim_protocol::api::SpaceEvent::Message { space, message }) => {
                        (space, message)
                    }
                    Ok(_) => return None,
                    Err(lagged) => return Some(Err(lagged)),
                };
                let parent = message.reply_to.clone();
                let parent_mine = match parent {
                    Some(p) => handle
                        .read_space(space, move |s| {
                            s.message(&p).is_some_and(|m| m.author == me)
                        })
                        .await
                        .unwrap_or(false),
                    None => false,
                };
                let mine: HashSet<&str> = match &message.reply_to {
                    Some(p) if parent_mine => [p.as_str()].into(),
                    _ => HashSet::new(),
                };
                let kind = kind_for(&message, me, &mine)?;
                handle.space(space).await.ok()?;
                Some(Ok(Notification {
                    space,
                    message: message.id.clone(),
                    author: message.author,
                    kind,
                    at: message.at,
                    text: message.text.clone(),
                    seen: false,
                }))
            }
        })
    }
}
