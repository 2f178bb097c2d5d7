//! The node's MCP endpoint (`POST /mcp`, streamable HTTP, stateless) as a message pipe: one
//! JSON-RPC message in, the messages the node answers with out. `tim mcp` bridges stdio to it.

use serde_json::Value;
use tim_protocol::api::Problem;

use crate::{Client, ClientError, CALL_TIMEOUT};

/// The path of the node's MCP endpoint.
const MCP_PATH: &str = "/mcp";
/// How long one MCP exchange may take: a tool may wait up to two minutes for a request's
/// outcome (`wait_seconds`), on top of an ordinary call.
const MCP_TIMEOUT: std::time::Duration = CALL_TIMEOUT.saturating_mul(3);

/// The JSON-RPC messages of a server-sent event stream: the `data` of each event, skipping
/// comments and events without data (keep-alives, priming events).
fn sse_messages(body: &str) -> Result<Vec<Value>, ClientError> {
    body.replace("\r\n", "\n")
        .split("\n\n")
        .filter_map(|event| {
            let data: Vec<&str> = event
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(|d| d.strip_prefix(' ').unwrap_or(d))
                .collect();
            let data = data.join("\n");
            (!data.trim().is_empty()).then_some(data)
        })
        .map(|data| serde_json::from_str(&data).map_err(|e| ClientError::Decode(e.to_string())))
        .collect()
}

impl Client {
    /// Sends one JSON-RPC `message` to the node's MCP server, as the token's timite, naming the
    /// negotiated `protocol_version` once there is one; answers the JSON-RPC messages the node
    /// sends back (none for a notification). A refused token, a rate limit or a refusal
    /// without a JSON-RPC body is [`ClientError::Api`]; a node that does not answer,
    /// [`ClientError::Unreachable`].
    pub async fn mcp(
        &self,
        message: Vec<u8>,
        protocol_version: Option<&str>,
    ) -> Result<Vec<Value>, ClientError> {
        let url = format!("{}{MCP_PATH}", self.base);
        let mut req = self
            .http
            .post(&url)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(message)
            .timeout(MCP_TIMEOUT);
        if let Some(v) = protocol_version {
            req = req.header("mcp-protocol-version", v);
        }
        let resp = req
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|source| ClientError::Unreachable {
                url: url.clone(),
                source,
            })?;
        let status = resp.status();
        let sse = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("text/event-stream"));
        let body = resp
            .text()
            .await
            .map_err(|e| ClientError::Decode(e.to_string()))?;
        if sse {
            return sse_messages(&body);
        }
        if body.trim().is_empty() && status.is_success() {
            return Ok(Vec::new());
        }
        match serde_json::from_str::<Value>(&body) {
            Ok(v) if v.get("jsonrpc").is_some() => Ok(vec![v]),
            Ok(v) => Err(match serde_json::from_value::<Problem>(v) {
                Ok(p) => ClientError::Api(p),
                Err(e) => ClientError::Decode(e.to_string()),
            }),
            Err(_) => Err(ClientError::Api(Problem {
                kind: "about:blank".into(),
                title: format!("HTTP {}", status.as_u16()),
                status: status.as_u16(),
                detail: body.trim().to_string(),
            })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::sse_messages;

    #[test]
    fn an_event_stream_gives_the_data_of_each_event() {
        let body = "id: 0\nretry: 3000\ndata: \n\n: keep-alive\n\n\
                    event: message\r\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"n\"}\r\n\r\n\
                    data: {\"jsonrpc\":\"2.0\",\r\ndata: \"id\":1,\"result\":{}}\n\n";
        let messages = sse_messages(body).unwrap();
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0]["method"], "n");
        assert_eq!(messages[1]["id"], 1);
        assert!(sse_messages("data: {not json\n\n").is_err());
    }
}
