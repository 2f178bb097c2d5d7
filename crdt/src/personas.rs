//! Published personas (schema version 7, docs/agents.md "Publishing personas"): a persona is
//! the TOML file that describes an agent (its template, behaviour, abilities); a member shares
//! one as a signed entry of the space document, so that any member's node can adopt it (run
//! it as a new timite of its own).
//!
//! ```text
//! personas: Map { "sha256:<hex>": Map { author: Str(DID), name: Str, description: Str,
//!                                        toml: Str, published: Timestamp } }
//! ```
//! An entry is **content-addressed**: its key is `sha256:` and the lowercase hex SHA-256 of
//! the TOML's bytes, so the same file has the same id on every node and an entry cannot hold
//! other bytes than its id names. The rules (docs/rules.md §5.5): a member with `post` puts a
//! new entry, whole, in one change (its `author` is the change's author; `published` is the
//! author's claimed time, informational); an entry is never changed; its author, or an admin
//! (the `meta` permission), deletes it. Not carried in end-to-end encrypted spaces (a persona
//! would be plaintext there).

use automerge::transaction::Transactable;
use automerge::{ObjType, ScalarValue, Value};
use sha2::{Digest, Sha256};
use tim_protocol::wire::{MAX_NAME_BYTES, MAX_TEXT_BYTES};
use tim_protocol::Did;

use crate::doc::{self, View};
use crate::space::millis;
use crate::{schema, Applied, Space, SpaceError, Writer};

/// The prefix of a persona's id; the lowercase hex SHA-256 of its TOML follows.
pub const ID_PREFIX: &str = "sha256:";
/// Largest persona TOML, in bytes.
pub const MAX_TOML_BYTES: usize = MAX_TEXT_BYTES;
/// Largest persona name, in bytes.
pub const MAX_PERSONA_NAME_BYTES: usize = MAX_NAME_BYTES;
/// Largest persona description, in bytes.
pub const MAX_PERSONA_DESCRIPTION_BYTES: usize = 1024;

pub(crate) const DESCRIPTION: &str = "description";
pub(crate) const TOML: &str = "toml";
pub(crate) const PUBLISHED: &str = "published";

/// A published persona, as the document holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Persona {
    /// `sha256:<hex>` of the TOML.
    pub id: String,
    /// Who published it (the author of the change that put it).
    pub author: Did,
    /// Its name.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// The persona file, byte for byte.
    pub toml: String,
    /// When its author says it published it, ms since the Unix epoch (informational).
    pub published: u64,
}

/// The id of a persona whose TOML is `toml`: `sha256:` and the lowercase hex of its SHA-256.
pub fn persona_id(toml: &str) -> String {
    let digest = Sha256::digest(toml.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{ID_PREFIX}{hex}")
}

/// Whether `id` has the form of a persona id (`sha256:` and 64 lowercase hex digits).
pub fn check_id(id: &str) -> Result<(), String> {
    let ok = id.strip_prefix(ID_PREFIX).is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{id}` is not a persona id: `{ID_PREFIX}` and the 64 lowercase hex digits of the \
             SHA-256 of its TOML"
        ))
    }
}

/// Checks a persona's name: 1 to [`MAX_PERSONA_NAME_BYTES`] bytes, not blank.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() || name.len() > MAX_PERSONA_NAME_BYTES {
        return Err(format!(
            "a persona's name is 1 to {MAX_PERSONA_NAME_BYTES} bytes of text"
        ));
    }
    Ok(())
}

/// Checks a persona's description: at most [`MAX_PERSONA_DESCRIPTION_BYTES`] bytes.
pub fn check_description(description: &str) -> Result<(), String> {
    if description.len() > MAX_PERSONA_DESCRIPTION_BYTES {
        return Err(format!(
            "a persona's description is at most {MAX_PERSONA_DESCRIPTION_BYTES} bytes"
        ));
    }
    Ok(())
}

/// Checks a persona's TOML text: 1 to [`MAX_TOML_BYTES`] bytes (a Rust string is UTF-8).
pub fn check_toml(toml: &str) -> Result<(), String> {
    if toml.trim().is_empty() || toml.len() > MAX_TOML_BYTES {
        return Err(format!(
            "a persona's TOML is 1 to {MAX_TOML_BYTES} bytes; this one is {}",
            toml.len()
        ));
    }
    Ok(())
}

/// The personas of a document at some heads.
pub(crate) struct Personas<'a> {
    pub(crate) view: View<'a>,
}

impl Personas<'_> {
    /// Every persona here, by publication time then id: of every copy of the container
    /// (concurrent migrations may each make one), the value Automerge shows under each key.
    pub(crate) fn all(&self) -> Vec<Persona> {
        let mut out: Vec<Persona> = Vec::new();
        for copy in doc::root_objs(self.view.doc, &schema::PERSONAS, self.view.heads) {
            for id in self.view.keys(&copy) {
                if out.iter().any(|p| p.id == id) {
                    continue;
                }
                if let Some(p) = self.view.child(&copy, &id).and_then(|e| self.read(&id, &e)) {
                    out.push(p);
                }
            }
        }
        out.sort_by(|a, b| (a.published, &a.id).cmp(&(b.published, &b.id)));
        out
    }

    /// Persona `id`, if any copy of the container holds it.
    pub(crate) fn get(&self, id: &str) -> Option<Persona> {
        doc::root_objs(self.view.doc, &schema::PERSONAS, self.view.heads)
            .iter()
            .find_map(|copy| self.read(id, &self.view.child(copy, id)?))
    }

    /// The authors of every value under `id` in every copy (two members may put the same
    /// TOML concurrently: each value is its own entry).
    pub(crate) fn authors(&self, id: &str) -> Vec<String> {
        doc::root_objs(self.view.doc, &schema::PERSONAS, self.view.heads)
            .iter()
            .flat_map(|copy| doc::all_values(self.view.doc, copy, id, self.view.heads))
            .filter_map(|(v, entry)| match v {
                Value::Object(ObjType::Map) => self.view.get_str(&entry, doc::AUTHOR),
                _ => None,
            })
            .collect()
    }

    fn read(&self, id: &str, entry: &automerge::ObjId) -> Option<Persona> {
        let published = match self.view.scalar(entry, PUBLISHED)? {
            ScalarValue::Timestamp(t) => u64::try_from(t).ok()?,
            _ => return None,
        };
        Some(Persona {
            id: id.to_string(),
            author: self.view.get_str(entry, doc::AUTHOR)?.parse().ok()?,
            name: self.view.get_str(entry, doc::NAME)?,
            description: self.view.get_str(entry, DESCRIPTION)?,
            toml: self.view.get_str(entry, TOML)?,
            published,
        })
    }
}

impl Space {
    fn personas_now(&self) -> Personas<'_> {
        Personas {
            view: View {
                doc: self.doc(),
                heads: None,
            },
        }
    }

    /// Every persona published here, by publication time then id.
    pub fn personas(&self) -> Vec<Persona> {
        self.personas_now().all()
    }

    /// Persona `id`, if published here.
    pub fn persona(&self, id: &str) -> Option<Persona> {
        self.personas_now().get(id)
    }

    /// Publishes a persona as `who` (a member with `post`), in a space at schema version 7 or
    /// later. Returns the change and the persona's id ([`persona_id`] of `toml`).
    pub fn publish_persona(
        &mut self,
        who: &Writer,
        name: &str,
        description: &str,
        toml: &str,
        at_ms: u64,
    ) -> Result<(Applied, String), SpaceError> {
        check_name(name)
            .and_then(|()| check_description(description))
            .and_then(|()| check_toml(toml))
            .map_err(SpaceError::Invalid)?;
        let personas = doc::root_obj(self.doc(), &schema::PERSONAS, None).ok_or_else(|| {
            SpaceError::Invalid(format!(
                "this space is at schema version {}; personas need version {} (migrate it)",
                self.schema_version(),
                schema::PERSONAS.since
            ))
        })?;
        let id = persona_id(toml);
        if self.persona(&id).is_some() {
            return Err(SpaceError::Invalid(format!(
                "persona {id} is published here already"
            )));
        }
        let author = who.did().to_string();
        self.local_write(who, at_ms, |tx| {
            let p = tx.put_object(&personas, id.as_str(), ObjType::Map)?;
            tx.put(&p, doc::AUTHOR, author)?;
            tx.put(&p, doc::NAME, name)?;
            tx.put(&p, DESCRIPTION, description)?;
            tx.put(&p, TOML, toml)?;
            tx.put(&p, PUBLISHED, ScalarValue::Timestamp(millis(at_ms)))?;
            Ok(id.clone())
        })
    }

    /// Deletes persona `id` as `who` (its author, or an admin).
    pub fn delete_persona(
        &mut self,
        who: &Writer,
        id: &str,
        at_ms: u64,
    ) -> Result<Applied, SpaceError> {
        let copy = doc::root_objs(self.doc(), &schema::PERSONAS, None)
            .into_iter()
            .find(|copy| doc::child_obj(self.doc(), copy, id, None).is_some())
            .ok_or_else(|| SpaceError::Invalid(format!("no persona {id} in this space")))?;
        self.local_write(who, at_ms, |tx| Ok(tx.delete(&copy, id)?))
            .map(|(a, ())| a)
    }
}
