//! What a space's record of an issued credential says ([`crate::Space::record_issued`]):
//! the `issued` container's entries (docs/passports.md).

use tim_protocol::Did;

use crate::doc::{self, View};
use crate::{schema, Space};

/// A credential to record as issued in a space's name: its id, subject and kind, and what the
/// record may also carry.
#[derive(Debug, Clone, Copy)]
pub struct Issuance<'a> {
    /// The credential's id (the record's key).
    pub id: &'a str,
    /// Whom it is about.
    pub subject: &'a Did,
    /// Its kind: `membership`, `reputation` or `ability`.
    pub kind: &'a str,
    /// The ability an ability credential attests (what a declaration's `credential` is
    /// checked against, docs/abilities.md §13).
    pub ability: Option<&'a str>,
    /// The signed credential (its JSON), so that the subject's node receives it with the space
    /// (docs/passports.md, "Delivery to the subject").
    pub credential: Option<&'a str>,
}

impl<'a> Issuance<'a> {
    /// Credential `id` of `kind` about `subject`, naming no ability and carrying no credential.
    pub fn new(id: &'a str, subject: &'a Did, kind: &'a str) -> Self {
        Self {
            id,
            subject,
            kind,
            ability: None,
            credential: None,
        }
    }
}

impl Space {
    /// The ids of the credentials this space records as issued, in key order.
    pub fn issued_ids(&self) -> Vec<String> {
        let now = View {
            doc: self.doc(),
            heads: None,
        };
        doc::root_obj(now.doc, &schema::ISSUED, None)
            .map(|issued| now.keys(&issued))
            .unwrap_or_default()
    }
}
