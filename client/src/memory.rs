//! Calls about agents' memory (docs/agents.md "Memory"), for the operator's token.

use tim_protocol::api::{Forgotten, MemoryEntry, MemoryQuery};

use crate::{Client, ClientError};

/// The query string of `q` (space ids, layer names and numbers need no escaping).
fn query(q: &MemoryQuery) -> String {
    let parts: Vec<String> = [
        q.space.map(|s| format!("space={s}")),
        q.layer.map(|l| format!("layer={l}")),
        q.limit.map(|n| format!("limit={n}")),
    ]
    .into_iter()
    .flatten()
    .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

impl Client {
    /// `GET /v1/agents/{agent}/memory`: the agent's newest entries, oldest first.
    pub async fn memory(
        &self,
        agent: &str,
        q: &MemoryQuery,
    ) -> Result<Vec<MemoryEntry>, ClientError> {
        self.get(&format!("/v1/agents/{agent}/memory{}", query(q)))
            .await
    }

    /// `DELETE /v1/agents/{agent}/memory`: erase the agent's entries (of a space, a layer).
    pub async fn forget_memory(
        &self,
        agent: &str,
        q: &MemoryQuery,
    ) -> Result<Forgotten, ClientError> {
        let q = MemoryQuery { limit: None, ..*q };
        self.delete(&format!("/v1/agents/{agent}/memory{}", query(&q)))
            .await
    }
}
