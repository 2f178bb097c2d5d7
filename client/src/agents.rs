//! Agents (docs/agents.md): the operator's calls under `/v1/agents`.

use futures::Stream;
use tim_protocol::api::{AgentLogEntry, AgentView, NewAgent, TuneAgent};

use crate::{sse_stream, Client, ClientError};

/// `{agent}` in a path: a name (`a-z 0-9 - _ .`) or a DID (`did:key:…`), both path-safe.
fn path(agent: &str) -> String {
    format!("/v1/agents/{agent}")
}

impl Client {
    /// `POST /v1/agents`: make an agent (admin token); answers it with its DID.
    pub async fn new_agent(&self, req: &NewAgent) -> Result<AgentView, ClientError> {
        self.post("/v1/agents", req).await
    }

    /// `GET /v1/agents`.
    pub async fn agents(&self) -> Result<Vec<AgentView>, ClientError> {
        self.get("/v1/agents").await
    }

    /// `GET /v1/agents/{agent}`, by name or DID.
    pub async fn agent(&self, agent: &str) -> Result<AgentView, ClientError> {
        self.get(&path(agent)).await
    }

    /// `POST /v1/agents/{agent}/pause`: once it answers, the agent writes nothing.
    pub async fn pause_agent(&self, agent: &str) -> Result<AgentView, ClientError> {
        let p = format!("{}/pause", path(agent));
        self.post(&p, &serde_json::json!({})).await
    }

    /// `POST /v1/agents/{agent}/resume`.
    pub async fn resume_agent(&self, agent: &str) -> Result<AgentView, ClientError> {
        let p = format!("{}/resume", path(agent));
        self.post(&p, &serde_json::json!({})).await
    }

    /// `PATCH /v1/agents/{agent}`: change its tuning.
    pub async fn tune_agent(
        &self,
        agent: &str,
        tune: &TuneAgent,
    ) -> Result<AgentView, ClientError> {
        self.with_json(reqwest::Method::PATCH, &path(agent), tune)
            .await
    }

    /// `DELETE /v1/agents/{agent}`.
    pub async fn remove_agent(&self, agent: &str) -> Result<AgentView, ClientError> {
        self.delete(&path(agent)).await
    }

    /// `GET /v1/agents/{agent}/logs`: its log, oldest first.
    pub async fn agent_logs(&self, agent: &str) -> Result<Vec<AgentLogEntry>, ClientError> {
        self.get(&format!("{}/logs", path(agent))).await
    }

    /// `GET /v1/agents/{agent}/logs/events`: its log entries as they come, parsed from
    /// server-sent events ([`ClientError::Lagged`] when some were missed).
    pub async fn agent_log_events(
        &self,
        agent: &str,
    ) -> Result<impl Stream<Item = Result<AgentLogEntry, ClientError>>, ClientError> {
        let url = format!("{}{}/logs/events", self.base, path(agent));
        let resp = self.send(self.http.get(&url), &url).await?;
        Ok(sse_stream(resp))
    }
}
