//! Read markers (docs/protocol.md §9.13.2, "Unread counts"): per timite and space, the id of
//! the last message the timite read. They are the reader's own, kept in this node's store and
//! never written into a space's document.

use tim_protocol::{Did, SpaceId};

use super::{Store, StoreError};

fn key(who: &Did, space: &SpaceId) -> Vec<u8> {
    let mut k = who.to_string().into_bytes();
    k.push(0);
    k.extend_from_slice(space.as_bytes());
    k
}

impl Store {
    /// Moves `who`'s read marker in `space` to message `up_to`; durable at the next flush.
    pub(crate) fn set_read_marker(
        &self,
        who: &Did,
        space: &SpaceId,
        up_to: &str,
    ) -> Result<(), StoreError> {
        self.read_markers
            .insert(key(who, space), up_to.as_bytes())?;
        Ok(())
    }

    /// The id of the last message `who` read in `space`, if it marked any.
    pub(crate) fn read_marker(
        &self,
        who: &Did,
        space: &SpaceId,
    ) -> Result<Option<String>, StoreError> {
        Ok(self
            .read_markers
            .get(key(who, space))?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }
}
