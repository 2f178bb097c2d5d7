//! Calls about personas published in a space (docs/agents.md "Publishing personas").

use tim_protocol::api::{Done, PersonaPublished, PersonaView, PublishPersona};
use tim_protocol::SpaceId;

use crate::{Client, ClientError};

impl Client {
    /// `POST /v1/spaces/{id}/personas`: publish a persona file (TOML), byte for byte.
    pub async fn publish_persona(
        &self,
        id: SpaceId,
        toml: &str,
    ) -> Result<PersonaPublished, ClientError> {
        let body = PublishPersona {
            toml: toml.to_string(),
        };
        self.post(&format!("/v1/spaces/{id}/personas"), &body).await
    }

    /// `GET /v1/spaces/{id}/personas`: the personas published in the space.
    pub async fn personas(&self, id: SpaceId) -> Result<Vec<PersonaView>, ClientError> {
        self.get(&format!("/v1/spaces/{id}/personas")).await
    }

    /// `GET /v1/spaces/{id}/personas/{persona}`: one persona, with its file.
    pub async fn persona(&self, id: SpaceId, persona: &str) -> Result<PersonaView, ClientError> {
        self.get(&format!("/v1/spaces/{id}/personas/{persona}"))
            .await
    }

    /// `DELETE /v1/spaces/{id}/personas/{persona}`: delete one (its author, or an admin).
    pub async fn delete_persona(&self, id: SpaceId, persona: &str) -> Result<Done, ClientError> {
        self.delete(&format!("/v1/spaces/{id}/personas/{persona}"))
            .await
    }
}
