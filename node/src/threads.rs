//! Message features (schema version 10; docs/protocol.md §9.12): the use cases of [`Service`]
//! that the HTTP API and the CLI call for replies, edits and their history, reactions, threads
//! and search. The document side is [`tim_crdt::messages`].

use tim_crdt::messages::MAX_SEARCH_PAGE;
use tim_protocol::api::{EditHistory, Posted, SearchPage, SearchQuery, Thread};
use tim_protocol::{ChangeHash, MessageId, SpaceId};

use crate::service::{page_limit, Caller, Service, ServiceResult};
use crate::{Act, NodeError};

/// Matches in a page of search results when the query does not say.
const DEFAULT_SEARCH_PAGE: usize = 20;

impl Service {
    /// Posts a reply to message `parent` as the caller; answers once it is on disk.
    pub async fn reply(
        &self,
        caller: &Caller,
        space: SpaceId,
        parent: &str,
        text: &str,
    ) -> ServiceResult<Posted> {
        Ok(self
            .node()
            .acting_as(caller.timite)
            .reply(space, parent, text)
            .await?)
    }

    /// Edits one of the caller's own messages: the new text replaces it, the previous one is
    /// kept in its history.
    pub async fn edit_message(
        &self,
        caller: &Caller,
        space: SpaceId,
        message: &MessageId,
        text: &str,
    ) -> ServiceResult<ChangeHash> {
        let act = Act::EditMessage(message.to_string(), text.to_string());
        Ok(self
            .node()
            .acting_as(caller.timite)
            .moderate(space, act)
            .await?)
    }

    /// Puts the caller's reaction to a message, replacing its earlier one.
    pub async fn react(
        &self,
        caller: &Caller,
        space: SpaceId,
        message: &MessageId,
        emoji: &str,
    ) -> ServiceResult<ChangeHash> {
        let act = Act::React(message.to_string(), Some(emoji.to_string()));
        Ok(self
            .node()
            .acting_as(caller.timite)
            .moderate(space, act)
            .await?)
    }

    /// A message and its replies, direct and indirect, in timeline order.
    pub async fn thread(
        &self,
        caller: &Caller,
        space: SpaceId,
        message: &MessageId,
    ) -> ServiceResult<Thread> {
        let id = message.to_string();
        let (root, replies) = self
            .node()
            .acting_as(caller.timite)
            .read_space(space, move |s| s.thread(&id))
            .await?
            .map_err(|e| NodeError::UnknownMessage(e.to_string()))?;
        Ok(Thread { root, replies })
    }

    /// Every version of a message's text, oldest first: the original, then what each edit
    /// wrote (in an end-to-end encrypted space, what the caller's keys decrypt, or why not).
    /// A message not in the timeline, deleted ones included, is unknown.
    pub async fn edit_history(
        &self,
        caller: &Caller,
        space: SpaceId,
        message: &MessageId,
    ) -> ServiceResult<EditHistory> {
        let message = message.to_string();
        let edits = self
            .node()
            .acting_as(caller.timite)
            .edit_history(space, &message)
            .await?;
        Ok(EditHistory {
            space,
            message,
            edits,
        })
    }

    /// A page of the messages whose text contains the query, ignoring case, newest first.
    pub async fn search(
        &self,
        caller: &Caller,
        space: SpaceId,
        query: SearchQuery,
    ) -> ServiceResult<SearchPage> {
        let limit = page_limit(query.limit, DEFAULT_SEARCH_PAGE, MAX_SEARCH_PAGE)?;
        let before = query.before.map(|b| b.to_string());
        let found = self
            .node()
            .acting_as(caller.timite)
            .read_space(space, move |s| {
                s.search_messages(&query.q, before.as_deref(), limit)
            })
            .await?
            .map_err(NodeError::from)?;
        Ok(SearchPage {
            space,
            messages: found.messages,
            next_before: found.next_before,
        })
    }
}
