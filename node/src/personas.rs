//! Personas published in spaces (docs/agents.md "Publishing personas"): the use cases of
//! [`Service`] that the HTTP API and the CLI call. A persona file is shared byte for byte as
//! a signed, content-addressed entry of the space document (schema version 7,
//! [`tim_crdt::personas`]); its name and description come from the file's top-level `name`
//! and `description`. A publication in an older space by a timite who may migrate it (an
//! admin or the owner) migrates it first, in a change committed with the publication, as the
//! first declaration of an ability does.

use tim_crdt::personas::{self, Persona};
use tim_protocol::api::{PersonaPublished, PersonaView, PublishPersona};
use tim_protocol::{ChangeHash, SpaceId};

use crate::abilities::AbilityAct;
use crate::service::{Caller, Service, ServiceResult};
use crate::NodeError;

/// Checks a persona's name, description and file as the rules will.
pub(crate) fn check_persona(name: &str, description: &str, toml: &str) -> Result<(), NodeError> {
    personas::check_name(name)
        .and_then(|()| personas::check_description(description))
        .and_then(|()| personas::check_toml(toml))
        .map_err(NodeError::Invalid)
}

/// The top-level `name` and `description` (empty if absent) of a persona file; a file that
/// is not TOML, or has no `name`, is refused.
fn named(toml: &str) -> Result<(String, String), NodeError> {
    let table: toml::Table = toml
        .parse()
        .map_err(|e| NodeError::Invalid(format!("the persona file is not TOML: {e}")))?;
    let text = |key: &str| match table.get(key) {
        None => Ok(None),
        Some(toml::Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(NodeError::Invalid(format!(
            "the persona file's `{key}` is not a string"
        ))),
    };
    let name = text("name")?
        .ok_or_else(|| NodeError::Invalid("the persona file has no top-level `name`".into()))?;
    Ok((name, text("description")?.unwrap_or_default()))
}

fn persona_view(p: Persona) -> PersonaView {
    PersonaView {
        id: p.id,
        author: p.author,
        name: p.name,
        description: p.description,
        published: p.published,
        toml: p.toml,
    }
}

impl Service {
    /// Publishes a persona file in `space` as the caller (a member with `post`), migrating
    /// the space to schema version 7 first if it is older and the caller may.
    pub async fn publish_persona(
        &self,
        caller: &Caller,
        space: SpaceId,
        req: &PublishPersona,
    ) -> ServiceResult<PersonaPublished> {
        let (name, description) = named(&req.toml)?;
        check_persona(&name, &description, &req.toml)?;
        let act = AbilityAct::PublishPersona {
            name,
            description,
            toml: req.toml.clone(),
        };
        let (change, id) = self.ability_act(caller, space, act).await?;
        let id = id.ok_or_else(|| NodeError::Invalid("the publication made no id".into()))?;
        Ok(PersonaPublished { id, change })
    }

    /// The personas published in `space`, by publication time then id.
    pub async fn personas(
        &self,
        caller: &Caller,
        space: SpaceId,
    ) -> ServiceResult<Vec<PersonaView>> {
        Ok(self
            .node()
            .acting_as(caller.timite)
            .read_space(space, |s| {
                s.personas().into_iter().map(persona_view).collect()
            })
            .await?)
    }

    /// Persona `id` of `space`, with its file byte for byte.
    pub async fn persona(
        &self,
        caller: &Caller,
        space: SpaceId,
        id: &str,
    ) -> ServiceResult<PersonaView> {
        let pid = id.to_string();
        self.node()
            .acting_as(caller.timite)
            .read_space(space, move |s| s.persona(&pid).map(persona_view))
            .await?
            .ok_or_else(|| NodeError::NotFound(format!("no persona {id} in space {space}")).into())
    }

    /// Deletes persona `id` of `space` as the caller (its author, or an admin).
    pub async fn delete_persona(
        &self,
        caller: &Caller,
        space: SpaceId,
        id: &str,
    ) -> ServiceResult<ChangeHash> {
        let act = AbilityAct::DeletePersona(id.to_string());
        Ok(self.ability_act(caller, space, act).await?.0)
    }
}
