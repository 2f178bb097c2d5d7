//! A space's profile (schema version 9, [`schema::SOCIAL`]; docs/governance.md "Space
//! profiles"): what kind of space it is and what it expects of its timites, people and agents
//! alike.
//!
//! ```text
//! meta.kind:        Str   goal | social | problem-solving | creative
//! meta.style:       Str   formal | casual
//! meta.initiative:  Str   reactive | proactive
//! meta.requirements (exists already): what joiners present
//! ```
//! Admins (the `meta` permission) or a passed proposal set them, one value at a time; the rules
//! check each value with [`check_field`]. `meta.kind` is also where an end-to-end encrypted
//! direct-message space says `dm` at its genesis: such a space never takes a profile kind, and
//! [`Space::profile`] never shows `dm` as one.

use automerge::transaction::Transactable;
use tim_protocol::api::{SetProfile, SpaceProfile};

use crate::doc;
use crate::{schema, Applied, Space, SpaceError, Writer};

/// `meta.kind`: the kind of space.
pub const KIND: &str = doc::KIND;
/// `meta.style`: how timites write there.
pub const STYLE: &str = "style";
/// `meta.initiative`: whether agents start conversations there or only answer.
pub const INITIATIVE: &str = "initiative";
/// The kinds a space may state.
pub const KINDS: [&str; 4] = ["goal", "social", "problem-solving", "creative"];
/// The styles a space may ask for.
pub const STYLES: [&str; 2] = ["formal", "casual"];
/// The initiatives a space may ask for.
pub const INITIATIVES: [&str; 2] = [REACTIVE, "proactive"];
/// The initiative under which agents answer but never start anything.
pub const REACTIVE: &str = "reactive";

/// The values field `key` of the profile may take, `None` if `key` is not a profile field.
pub fn values_of(key: &str) -> Option<&'static [&'static str]> {
    match key {
        KIND => Some(&KINDS),
        STYLE => Some(&STYLES),
        INITIATIVE => Some(&INITIATIVES),
        _ => None,
    }
}

/// Checks one profile field: `value` must be one that `key` takes. The one source of truth
/// for the format of `meta.kind`, `meta.style` and `meta.initiative`.
pub fn check_field(key: &str, value: &str) -> Result<(), String> {
    let values = values_of(key).ok_or_else(|| format!("`{key}` is not a profile field"))?;
    if values.contains(&value) {
        Ok(())
    } else {
        Err(format!(
            "meta.{key} is one of {}, not `{value}`",
            values.join(", ")
        ))
    }
}

impl Space {
    /// The space's profile now: its kind, style and initiative (each if set) and its join
    /// requirements, in words.
    pub fn profile(&self) -> SpaceProfile {
        let field = |key: &str| {
            let meta = doc::root_obj(self.doc(), &schema::META, None)?;
            doc::get_str(self.doc(), &meta, key).filter(|v| check_field(key, v).is_ok())
        };
        SpaceProfile {
            kind: field(KIND),
            style: field(STYLE),
            initiative: field(INITIATIVE),
            requirements: self
                .requirements()
                .iter()
                .map(ToString::to_string)
                .collect(),
        }
    }

    /// Sets the given fields of the profile, in one change, as `who` (the `meta` permission:
    /// admins and the owner; schema version 9).
    pub fn set_profile(
        &mut self,
        who: &Writer,
        profile: &SetProfile,
        at_ms: u64,
    ) -> Result<Applied, SpaceError> {
        let fields: Vec<(&str, &String)> = [
            (KIND, &profile.kind),
            (STYLE, &profile.style),
            (INITIATIVE, &profile.initiative),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
        .collect();
        if fields.is_empty() {
            return Err(SpaceError::Invalid(
                "name a kind, a style or an initiative to set".into(),
            ));
        }
        for (k, v) in &fields {
            check_field(k, v).map_err(SpaceError::Invalid)?;
        }
        let meta = self.social_meta("a space profile")?;
        self.local_write(who, at_ms, |tx| {
            for (k, v) in fields {
                tx.put(&meta, k, v.as_str())?;
            }
            Ok(())
        })
        .map(|(a, ())| a)
    }

    /// The `meta` container, if the space is at schema version 9 ([`schema::SOCIAL`]) where
    /// `what` lives.
    pub(crate) fn social_meta(&self, what: &str) -> Result<automerge::ObjId, SpaceError> {
        if self.schema_version() < schema::SOCIAL {
            return Err(SpaceError::Invalid(format!(
                "this space is at schema version {}; {what} needs version {} (tim space \
                 migrate)",
                self.schema_version(),
                schema::SOCIAL
            )));
        }
        doc::root_obj(self.doc(), &schema::META, None).ok_or(SpaceError::NotReady(self.id()))
    }
}
