//! The rules of published personas (schema version 7; docs/rules.md §5.5 and
//! [`crate::personas`]): a member with `post` puts a new entry, whole, in one change, under the
//! id its TOML hashes to; entries never change; the author or an admin deletes one. Every
//! verdict reads the document at the change's dependencies.

use automerge::legacy::{OpId, OpType};
use automerge::{ObjType, ScalarValue};

use super::{deny, Effect, Judge};
use crate::personas::{
    check_description, check_id, check_name, check_toml, persona_id, Personas, DESCRIPTION,
    PUBLISHED, TOML,
};
use crate::roles::Permission;
use crate::{doc, Rejection};

/// The persona this change puts, and its fields.
#[derive(Default)]
pub(super) struct PersonaBeingMade {
    map: Option<OpId>,
    id: String,
    author: bool,
    name: bool,
    description: bool,
    toml: Option<String>,
    published: bool,
}

impl Judge<'_> {
    fn personas_at(&self) -> Personas<'_> {
        Personas { view: self.at.view }
    }

    /// `personas["sha256:<hex>"]`: a member with `post` puts a new entry (one a change), in a
    /// space that is not end-to-end encrypted; its author, or an admin, deletes it.
    pub(super) fn check_personas(
        &mut self,
        op_id: &OpId,
        key: Option<&str>,
        op: &automerge::legacy::Op,
    ) -> Result<(), Rejection> {
        let Some(id) = key else {
            return deny("personas is a map".into());
        };
        check_id(id).map_err(Rejection::Unauthorized)?;
        let authors = self.personas_at().authors(id);
        match &op.action {
            OpType::Make(ObjType::Map) => {
                if self.encrypted {
                    return deny(
                        "personas are not carried in end-to-end encrypted spaces (they would \
                         be plaintext)"
                            .into(),
                    );
                }
                self.may(Permission::Post, "publishing a persona")?;
                if !authors.is_empty() {
                    return deny(format!(
                        "{}; persona {id} exists: a published persona never changes",
                        self.who
                    ));
                }
                if self.persona.is_some() {
                    return deny("a change publishes one persona at most".into());
                }
                self.persona = Some(PersonaBeingMade {
                    map: Some(op_id.clone()),
                    id: id.to_string(),
                    ..PersonaBeingMade::default()
                });
                self.effects
                    .push(Effect::PersonaPublished { id: id.to_string() });
                Ok(())
            }
            OpType::Delete => {
                if authors.is_empty() {
                    return deny(format!("no persona {id} at this change's dependencies"));
                }
                if authors.iter().all(|a| *a == self.author_str) {
                    self.member_writing("deleting a persona")?;
                } else {
                    self.may(Permission::Meta, "deleting another's persona")?;
                }
                self.effects
                    .push(Effect::PersonaDeleted { id: id.to_string() });
                Ok(())
            }
            _ => deny(format!(
                "{}; a persona is a map, put whole, or deleted by its author or an admin",
                self.who
            )),
        }
    }

    /// A field of a persona entry: only in the change that puts it.
    pub(super) fn check_persona(
        &mut self,
        id: &str,
        obj: &OpId,
        key: Option<&str>,
        op: &automerge::legacy::Op,
    ) -> Result<(), Rejection> {
        let Some(p) = self
            .persona
            .as_mut()
            .filter(|p| p.map.as_ref() == Some(obj))
        else {
            return deny(format!(
                "{}; persona {id} is written whole when it is published, and never changed",
                self.who
            ));
        };
        let checked = match (key, &op.action) {
            // (`check_op` checked that it is the author's own DID.)
            (Some(doc::AUTHOR), _) => {
                p.author = true;
                Ok(())
            }
            (Some(doc::NAME), OpType::Put(ScalarValue::Str(s))) => {
                p.name = true;
                check_name(s)
            }
            (Some(DESCRIPTION), OpType::Put(ScalarValue::Str(s))) => {
                p.description = true;
                check_description(s)
            }
            (Some(TOML), OpType::Put(ScalarValue::Str(s))) => {
                p.toml = Some(s.to_string());
                check_toml(s)
            }
            (Some(PUBLISHED), OpType::Put(ScalarValue::Timestamp(_))) => {
                p.published = true;
                Ok(())
            }
            _ => Err(
                "a persona holds author, name, description, toml (strings) and published (a \
                 timestamp)"
                    .into(),
            ),
        };
        checked.map_err(Rejection::Unauthorized)
    }

    /// A persona, once the change wrote all of it: complete, and under the id its TOML hashes
    /// to.
    pub(super) fn check_persona_made(&self, p: PersonaBeingMade) -> Result<(), Rejection> {
        let (true, true, true, Some(toml), true) =
            (p.author, p.name, p.description, p.toml, p.published)
        else {
            return deny("a persona needs author, name, description, toml and published".into());
        };
        let want = persona_id(&toml);
        if p.id != want {
            return deny(format!(
                "a persona's id is the SHA-256 of its TOML: `{want}`, not `{}`",
                p.id
            ));
        }
        Ok(())
    }
}
