//! Message features (schema version 10, docs/protocol.md §9.12): replies, edits and their
//! history, reactions, threads and search; mentions, notifications and read markers (schema
//! version 11, §9.13.2).

use futures::Stream;
use tim_protocol::api::{
    Done, EditHistory, EditMessage, MarkRead, Notification, NotificationsQuery, PostMessage,
    Posted, React, SearchPage, SearchQuery, Thread,
};
use tim_protocol::SpaceId;

use crate::{Client, ClientError, CALL_TIMEOUT};

impl Client {
    /// `POST /v1/spaces/{id}/messages` with `reply_to`: a reply to message `parent`.
    pub async fn reply(
        &self,
        id: SpaceId,
        parent: &str,
        text: &str,
    ) -> Result<Posted, ClientError> {
        let body = PostMessage {
            text: text.into(),
            reply_to: Some(parent.into()),
            mentions: Vec::new(),
            attachment: None,
        };
        self.post(&format!("/v1/spaces/{id}/messages"), &body).await
    }

    /// `PUT /v1/spaces/{id}/messages/{message}`: edits one of the caller's own messages.
    pub async fn edit_message(
        &self,
        id: SpaceId,
        message: &str,
        text: &str,
    ) -> Result<Done, ClientError> {
        let body = EditMessage { text: text.into() };
        self.put(&format!("/v1/spaces/{id}/messages/{message}"), &body)
            .await
    }

    /// `POST /v1/spaces/{id}/messages/{message}/reactions`: the caller's reaction.
    pub async fn react(
        &self,
        id: SpaceId,
        message: &str,
        emoji: &str,
    ) -> Result<Done, ClientError> {
        let body = React {
            emoji: emoji.into(),
        };
        self.post(
            &format!("/v1/spaces/{id}/messages/{message}/reactions"),
            &body,
        )
        .await
    }

    /// `GET /v1/spaces/{id}/messages/{message}/thread`: a message and its replies.
    pub async fn thread(&self, id: SpaceId, message: &str) -> Result<Thread, ClientError> {
        self.get(&format!("/v1/spaces/{id}/messages/{message}/thread"))
            .await
    }

    /// `GET /v1/spaces/{id}/messages/{message}/edits`: every version of a message's text,
    /// oldest first.
    pub async fn edit_history(
        &self,
        id: SpaceId,
        message: &str,
    ) -> Result<EditHistory, ClientError> {
        self.get(&format!("/v1/spaces/{id}/messages/{message}/edits"))
            .await
    }

    /// `GET /v1/spaces/{id}/search`: a page of the messages that contain `query.q`.
    pub async fn search_messages(
        &self,
        id: SpaceId,
        query: &SearchQuery,
    ) -> Result<SearchPage, ClientError> {
        let url = format!("{}/v1/spaces/{id}/search", self.base);
        let req = self.http.get(&url).query(query).timeout(CALL_TIMEOUT);
        Self::json(self.send(req, &url).await?).await
    }

    /// `POST /v1/spaces/{id}/messages` with everything a post may carry: a reply's parent and
    /// the members it mentions (schema version 11).
    pub async fn post_full(&self, id: SpaceId, body: &PostMessage) -> Result<Posted, ClientError> {
        self.post(&format!("/v1/spaces/{id}/messages"), body).await
    }

    /// `GET /v1/notifications`: the acting timite's mentions and replies to its messages,
    /// newest first.
    pub async fn notifications(
        &self,
        query: &NotificationsQuery,
    ) -> Result<Vec<Notification>, ClientError> {
        let url = format!("{}/v1/notifications", self.base);
        let req = self.http.get(&url).query(query).timeout(CALL_TIMEOUT);
        Self::json(self.send(req, &url).await?).await
    }

    /// `GET /v1/notifications/events`: the acting timite's notifications as they arrive.
    pub async fn notification_events(
        &self,
    ) -> Result<impl Stream<Item = Result<Notification, ClientError>>, ClientError> {
        let url = format!("{}/v1/notifications/events", self.base);
        let resp = self.send(self.http.get(&url), &url).await?;
        Ok(crate::sse_stream(resp))
    }

    /// `POST /v1/spaces/{id}/read`: moves the acting timite's read marker to message `up_to`.
    pub async fn mark_read(&self, id: SpaceId, up_to: &str) -> Result<(), ClientError> {
        let url = format!("{}/v1/spaces/{id}/read", self.base);
        let body = MarkRead {
            up_to: up_to.into(),
        };
        let req = self.http.post(&url).json(&body).timeout(CALL_TIMEOUT);
        self.send(req, &url).await.map(drop)
    }

    /// `GET /v1/spaces/{id}/messages/{message}/attachment`: the name (from
    /// `Content-Disposition`), media type and bytes of the file a message carries.
    pub async fn attachment(
        &self,
        id: SpaceId,
        message: &str,
    ) -> Result<(Option<String>, String, Vec<u8>), ClientError> {
        let url = format!("{}/v1/spaces/{id}/messages/{message}/attachment", self.base);
        let resp = self
            .send(self.http.get(&url).timeout(CALL_TIMEOUT), &url)
            .await?;
        let mime = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/octet-stream")
            .to_string();
        let name = resp
            .headers()
            .get(reqwest::header::CONTENT_DISPOSITION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once("filename=\""))
            .and_then(|(_, rest)| rest.strip_suffix('"'))
            .map(String::from);
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| ClientError::Decode(e.to_string()))?;
        Ok((name, mime, bytes.to_vec()))
    }
}
