//! A message's edit history for a reader (docs/protocol.md §9.12): the versions the document
//! keeps ([`Space::edit_history`]), with those of an end-to-end encrypted space decrypted by
//! the reader's keys, or marked with why they cannot be.

use tim_crdt::messages::Content;
use tim_protocol::api::EditView;
use tim_protocol::{Did, SpaceId};

use super::Engine;
use crate::store::SpaceStore;
use crate::NodeError;

impl<S: SpaceStore> Engine<S> {
    /// Every version of message `message` of space `id` that `who` may read, oldest first. A
    /// version in ciphertext is opened as a message body of its author bound to the time the
    /// version was written; one that does not open carries the reason in `unreadable`. A
    /// message not in the timeline (never, or deleted) is [`NodeError::UnknownMessage`].
    pub fn edit_history(
        &mut self,
        who: &Did,
        id: SpaceId,
        message: &str,
    ) -> Result<Vec<EditView>, NodeError> {
        let space = self.readable_space(who, id)?;
        let unknown = |e: tim_crdt::SpaceError| NodeError::UnknownMessage(e.to_string());
        let versions = space.edit_history(message).map_err(unknown)?;
        let author = space
            .message(message)
            .map(|m| m.author)
            .ok_or_else(|| NodeError::UnknownMessage(format!("no message {message} here")))?;
        Ok(versions
            .into_iter()
            .map(|v| match v.content {
                Content::Text(text) => EditView {
                    text,
                    at: v.at,
                    unreadable: None,
                },
                Content::Ciphertext(ct) => match self.decrypt_as(who, id, &ct, &author, v.at) {
                    Ok(text) => EditView {
                        text,
                        at: v.at,
                        unreadable: None,
                    },
                    Err(why) => EditView {
                        text: String::new(),
                        at: v.at,
                        unreadable: Some(why),
                    },
                },
            })
            .collect())
    }
}
