//! Attachments of bounded size (schema version 11, docs/protocol.md §9.13.3): the use case of
//! [`Service`] that serves a message's file. Posting one is [`Service::post_message`]; the
//! document side is [`tim_crdt::messages`].

use tim_crdt::messages::Attachment;
use tim_protocol::{MessageId, SpaceId};

use crate::service::{Caller, Service, ServiceResult};
use crate::NodeError;

impl Service {
    /// The file message `message` of `space` carries, for a caller who may read the space.
    pub async fn attachment(
        &self,
        caller: &Caller,
        space: SpaceId,
        message: &MessageId,
    ) -> ServiceResult<Attachment> {
        let id = message.to_string();
        let found = self
            .node()
            .acting_as(caller.timite)
            .read_space(space, move |s| s.attachment(&id))
            .await?
            .map_err(|e| NodeError::UnknownMessage(e.to_string()))?;
        Ok(found.ok_or_else(|| {
            NodeError::NotFound(format!("message {message} carries no attachment"))
        })?)
    }
}
