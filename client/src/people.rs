//! Timites' profiles and handles (schema version 11; docs/protocol.md §9.13.1): setting the
//! caller's, reading anyone's, and resolving a handle by WebFinger at the node that hosts it.

use tim_protocol::api::{Jrd, ProfileSet, ProfileView, SetTimiteProfile};
use tim_protocol::Did;

use crate::{Client, ClientError, CALL_TIMEOUT};

impl Client {
    /// `PUT /v1/profile`: sets the caller's profile and/or claims its handle.
    pub async fn set_timite_profile(
        &self,
        body: &SetTimiteProfile,
    ) -> Result<ProfileSet, ClientError> {
        self.put("/v1/profile", body).await
    }

    /// `GET /v1/profiles/{did}`: a timite's profile as the caller sees it.
    pub async fn timite_profile(&self, did: &Did) -> Result<ProfileView, ClientError> {
        self.get(&format!("/v1/profiles/{did}")).await
    }

    /// Resolves `handle@host:port` by WebFinger (RFC 7033) at `http://host:port`, the node
    /// that hosts it, without this client's token: the DID that holds the handle.
    pub async fn resolve_handle(&self, handle: &str) -> Result<Did, ClientError> {
        let Some((_, host)) = handle.rsplit_once('@') else {
            return Err(ClientError::Decode(format!(
                "`{handle}` is not a handle (NAME@HOST:PORT)"
            )));
        };
        let url = format!("http://{host}/.well-known/webfinger");
        let req = self
            .http
            .get(&url)
            .query(&[("resource", format!("acct:{handle}"))])
            .timeout(CALL_TIMEOUT);
        let resp = Self::answer(req, &url, |status, _| {
            let status =
                reqwest::StatusCode::from_u16(status).map_or(status.to_string(), |s| s.to_string());
            ClientError::Decode(format!("{url} answered {status} for {handle}"))
        })
        .await?;
        let jrd: Jrd = Self::json(resp).await?;
        jrd.subject.parse().map_err(|e| {
            ClientError::Decode(format!("{url} names `{}`, not a DID: {e}", jrd.subject))
        })
    }
}
