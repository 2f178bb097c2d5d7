//! A client for a Tim node's HTTP API, used by the `tim` command line and the testnet.
#![deny(missing_docs)]

mod agents;
mod mcp;
mod memory;
mod messages;
mod people;
mod personas;
mod proposals;
pub mod provider;

use std::time::Duration;

use futures::{Stream, StreamExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tim_protocol::api::SetEarnedRoles;
use tim_protocol::api::SpaceLeft;
use tim_protocol::api::{
    AbilityHit, AbilityRequest, AbilitySearchQuery, AbilityView, BadgeThreshold, CreateSpace,
    CredentialsQuery, DeclareAbilities, DeclareAbility, DirectMessage, DirectMessageRequest, Done,
    GossipPeers, Imported, InviteRequest, IssueRequest, JoinSpace, Me, MemberView, MembersQuery,
    NewRequest, NewToken, NodeStatus, PostMessage, Posted, Problem, ProgressNote, RateRequest,
    RequestFailure, RequestMade, RequestRating, RequestResult, RequestsQuery, SetRole, SpaceEvent,
    SpaceSummary, Timeline, TimelinePage, TimelineQuery, TimiteView, TokenInfo, TokenIssued,
    TrustEntry, VerifyReport, MAX_TIMELINE_PAGE,
};
use tim_protocol::api::{ChainMade, ChainView, Migrate, Migrated, NewChain};
use tim_protocol::api::{NewSignInKey, SignInKey, SignInKeyRemoved};
use tim_protocol::api::{TokenBalances, TokenPolicyView};
use tim_protocol::{CredentialId, Did, SpaceId};

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The node could not be reached (why is the error's `source()`, which
    /// `anyhow`'s `{:#}` prints after it).
    #[error("cannot reach the node at {url}")]
    Unreachable {
        /// The URL tried.
        url: String,
        /// The cause.
        source: reqwest::Error,
    },
    /// The node answered with a problem document.
    #[error("{}: {}", .0.title, .0.detail)]
    Api(Problem),
    /// The answer did not decode.
    #[error("unexpected answer from the node: {0}")]
    Decode(String),
    /// The timeline changed between the pages of every attempt to read it whole.
    #[error("the timeline kept changing while it was read page by page ({0} attempts)")]
    Unsettled(usize),
    /// The event stream fell behind the node and skipped this many events: read the timeline
    /// again from the newest message seen. The stream goes on after it.
    #[error("the event stream fell behind and skipped {0} events")]
    Lagged(u64),
}

/// A page of a list sorted by a key (members by DID, credentials by id).
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T, K> {
    /// The entries, in key order.
    pub items: Vec<T>,
    /// Where the next page starts (its `after`), from the answer's `Link` header; `None` on the
    /// last page.
    pub next_after: Option<K>,
}

/// A step of a request, for [`Client::request_step`]: the last segment of its path and its
/// body.
#[derive(Debug, Clone)]
pub struct RequestStep<B> {
    name: &'static str,
    body: B,
}

impl RequestStep<serde_json::Value> {
    /// Claim it.
    pub fn claim() -> Self {
        Self {
            name: "claim",
            body: serde_json::json!({}),
        }
    }

    /// Cancel it (its requester).
    pub fn cancel() -> Self {
        Self {
            name: "cancel",
            body: serde_json::json!({}),
        }
    }
}

impl RequestStep<ProgressNote> {
    /// Post progress.
    pub fn progress(note: &str) -> Self {
        Self {
            name: "progress",
            body: ProgressNote { note: note.into() },
        }
    }
}

impl RequestStep<RequestResult> {
    /// Post the result.
    pub fn result(output: serde_json::Value) -> Self {
        Self {
            name: "result",
            body: RequestResult { output },
        }
    }
}

impl RequestStep<RequestFailure> {
    /// Post a failure.
    pub fn failure(reason: &str) -> Self {
        Self {
            name: "failure",
            body: RequestFailure {
                reason: reason.into(),
            },
        }
    }
}

impl RequestStep<RequestRating> {
    /// Rate the outcome, 1 to 5.
    pub fn rating(score: u8) -> Self {
        Self {
            name: "rating",
            body: RequestRating { score },
        }
    }
}

/// How many times [`Client::timeline`] reads the pages again when the timeline changed
/// between two of them.
const WHOLE_TIMELINE_ATTEMPTS: usize = 5;

/// The `after` parameter of the `rel="next"` link of a `Link` header, percent-decoded.
fn next_after(link: &str) -> Option<String> {
    let target = link
        .split(',')
        .find(|l| l.split(';').skip(1).any(|p| p.trim() == "rel=\"next\""))?;
    let url = target.trim().strip_prefix('<')?.split('>').next()?;
    let raw = url
        .split_once('?')?
        .1
        .split('&')
        .find_map(|kv| kv.strip_prefix("after="))?;
    percent_decode(raw)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

impl ClientError {
    /// The HTTP status of an API error.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api(p) => Some(p.status),
            _ => None,
        }
    }
}

/// A client of one node.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

/// How long an ordinary call may take (joins wait for sync, up to the node's own limit).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(60);

impl Client {
    /// A client of the node whose API is at `base` (e.g. `http://127.0.0.1:7411`).
    pub fn new(base: &str, token: &str) -> Self {
        Self {
            http: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("a plain HTTP client builds"),
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
        }
    }

    /// The node's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    async fn send(
        &self,
        req: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<reqwest::Response, ClientError> {
        Self::answer(req.bearer_auth(&self.token), url, |status, bytes| {
            ClientError::Api(Problem {
                kind: "about:blank".into(),
                title: format!("HTTP {status}"),
                status,
                detail: match String::from_utf8_lossy(bytes).trim() {
                    "" => "the node gave no reason".into(),
                    body => body.to_string(),
                },
            })
        })
        .await
    }

    /// Sends `req` to `url` and answers its response when it succeeded; otherwise the
    /// problem document it carries, or `other(status, body)` when it carries none.
    pub(crate) async fn answer(
        req: reqwest::RequestBuilder,
        url: &str,
        other: impl FnOnce(u16, &[u8]) -> ClientError,
    ) -> Result<reqwest::Response, ClientError> {
        let resp = req
            .send()
            .await
            .map_err(|source| ClientError::Unreachable {
                url: url.to_string(),
                source,
            })?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.unwrap_or_default();
        Err(match serde_json::from_slice::<Problem>(&bytes) {
            Ok(p) => ClientError::Api(p),
            Err(_) => other(status, &bytes),
        })
    }

    async fn json<T: DeserializeOwned>(resp: reqwest::Response) -> Result<T, ClientError> {
        resp.json()
            .await
            .map_err(|e| ClientError::Decode(e.to_string()))
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let url = format!("{}{path}", self.base);
        let resp = self
            .send(self.http.get(&url).timeout(CALL_TIMEOUT), &url)
            .await?;
        Self::json(resp).await
    }

    async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        self.with_json(reqwest::Method::POST, path, body).await
    }

    async fn put<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        self.with_json(reqwest::Method::PUT, path, body).await
    }

    /// A call with a JSON body and a JSON answer.
    async fn with_json<B: Serialize, T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        let url = format!("{}{path}", self.base);
        let req = self
            .http
            .request(method, &url)
            .json(body)
            .timeout(CALL_TIMEOUT);
        Self::json(self.send(req, &url).await?).await
    }

    /// A page of a list: the JSON array and the cursor of its `Link: <…>; rel="next"`.
    async fn get_page<Q: Serialize, T: DeserializeOwned, K: std::str::FromStr>(
        &self,
        path: &str,
        query: &Q,
    ) -> Result<Page<T, K>, ClientError> {
        let url = format!("{}{path}", self.base);
        let req = self.http.get(&url).query(query).timeout(CALL_TIMEOUT);
        let resp = self.send(req, &url).await?;
        let next_after = match resp.headers().get(reqwest::header::LINK) {
            Some(link) => {
                let after = link.to_str().ok().and_then(next_after).ok_or_else(|| {
                    ClientError::Decode(format!("a Link header without a next page: {link:?}"))
                })?;
                Some(after.parse().map_err(|_| {
                    ClientError::Decode(format!("`{after}` is not the key of a page"))
                })?)
            }
            None => None,
        };
        Ok(Page {
            items: Self::json(resp).await?,
            next_after,
        })
    }

    async fn get_bytes(&self, path: &str) -> Result<Vec<u8>, ClientError> {
        let url = format!("{}{path}", self.base);
        let resp = self
            .send(self.http.get(&url).timeout(CALL_TIMEOUT), &url)
            .await?;
        Ok(resp
            .bytes()
            .await
            .map_err(|e| ClientError::Decode(e.to_string()))?
            .to_vec())
    }

    /// `GET /v1/status`.
    pub async fn status(&self) -> Result<NodeStatus, ClientError> {
        self.get("/v1/status").await
    }

    /// `GET /metrics` (operator): the node's metrics, OpenMetrics text.
    pub async fn metrics(&self) -> Result<String, ClientError> {
        let bytes = self.get_bytes("/metrics").await?;
        String::from_utf8(bytes).map_err(|e| ClientError::Decode(e.to_string()))
    }

    /// `GET /v1/peers/gossip/{space}` (operator): the node's gossipsub mesh and known
    /// subscribers for the space's topic.
    pub async fn gossip_peers(&self, space: SpaceId) -> Result<GossipPeers, ClientError> {
        self.get(&format!("/v1/peers/gossip/{space}")).await
    }

    /// `GET /v1/spaces`.
    pub async fn spaces(&self) -> Result<Vec<SpaceSummary>, ClientError> {
        self.get("/v1/spaces").await
    }

    /// `GET /v1/spaces/{id}`.
    pub async fn space(&self, id: SpaceId) -> Result<SpaceSummary, ClientError> {
        self.get(&format!("/v1/spaces/{id}")).await
    }

    /// `POST /v1/spaces`: a public space.
    pub async fn create_space(
        &self,
        name: &str,
        purpose: &str,
    ) -> Result<SpaceSummary, ClientError> {
        let body = CreateSpace {
            name: name.into(),
            purpose: purpose.into(),
            visibility: None,
            ttl_secs: None,
            encrypted: None,
        };
        self.create_space_with(&body).await
    }

    /// `POST /v1/spaces` with every option.
    pub async fn create_space_with(&self, body: &CreateSpace) -> Result<SpaceSummary, ClientError> {
        self.post("/v1/spaces", body).await
    }

    /// `POST /v1/spaces/{id}/invites`.
    pub async fn invite(&self, id: SpaceId, req: &InviteRequest) -> Result<Done, ClientError> {
        self.post(&format!("/v1/spaces/{id}/invites"), req).await
    }

    /// `PUT /v1/spaces/{id}/members/{did}/role` (role `banned` bans).
    pub async fn set_role(&self, id: SpaceId, did: &Did, role: &str) -> Result<Done, ClientError> {
        self.put(
            &format!("/v1/spaces/{id}/members/{did}/role"),
            &SetRole { role: role.into() },
        )
        .await
    }

    /// `DELETE /v1/spaces/{id}/members/{did}`: kick.
    pub async fn kick(&self, id: SpaceId, did: &Did) -> Result<Done, ClientError> {
        self.delete(&format!("/v1/spaces/{id}/members/{did}")).await
    }

    /// `DELETE /v1/spaces/{id}/messages/{message}`.
    pub async fn delete_message(&self, id: SpaceId, message: &str) -> Result<Done, ClientError> {
        self.delete(&format!("/v1/spaces/{id}/messages/{message}"))
            .await
    }

    /// `POST /v1/spaces/{id}/ratings`.
    pub async fn rate(&self, id: SpaceId, did: Did, score: u8) -> Result<Done, ClientError> {
        self.post(
            &format!("/v1/spaces/{id}/ratings"),
            &RateRequest { did, score },
        )
        .await
    }

    /// `POST /v1/spaces/{id}/credentials`: issue a credential in the space's name.
    pub async fn issue_credential(
        &self,
        id: SpaceId,
        req: &IssueRequest,
    ) -> Result<serde_json::Value, ClientError> {
        self.post(&format!("/v1/spaces/{id}/credentials"), req)
            .await
    }

    /// `GET /v1/passport`: one page of the passport, sorted by credential id.
    pub async fn credentials_page(
        &self,
        query: &CredentialsQuery,
    ) -> Result<Page<serde_json::Value, CredentialId>, ClientError> {
        self.get_page("/v1/passport", query).await
    }

    /// The whole passport: every page of `GET /v1/passport`.
    pub async fn credentials(&self) -> Result<Vec<serde_json::Value>, ClientError> {
        let mut query = CredentialsQuery::default();
        let mut all = Vec::new();
        loop {
            let page = self.credentials_page(&query).await?;
            all.extend(page.items);
            match page.next_after {
                Some(after) => query.after = Some(after),
                None => return Ok(all),
            }
        }
    }

    /// `GET /v1/passport/{cid}`.
    pub async fn credential(&self, cid: &str) -> Result<serde_json::Value, ClientError> {
        self.get(&format!("/v1/passport/{cid}")).await
    }

    /// `GET /v1/passport/{cid}/jwt`: the credential as a VC-JOSE JWT.
    pub async fn credential_jwt(&self, cid: &str) -> Result<String, ClientError> {
        let bytes = self.get_bytes(&format!("/v1/passport/{cid}/jwt")).await?;
        String::from_utf8(bytes).map_err(|e| ClientError::Decode(e.to_string()))
    }

    /// `POST /v1/passport`: keep a credential after the node verifies it.
    pub async fn hold_credential(
        &self,
        vc: &serde_json::Value,
    ) -> Result<serde_json::Value, ClientError> {
        self.post("/v1/passport", vc).await
    }

    /// `POST /v1/passport/{cid}/revoke`.
    pub async fn revoke_credential(&self, cid: &str) -> Result<Done, ClientError> {
        self.post(
            &format!("/v1/passport/{cid}/revoke"),
            &serde_json::json!({}),
        )
        .await
    }

    /// `POST /v1/passport/verify`.
    pub async fn verify(&self, doc: &serde_json::Value) -> Result<VerifyReport, ClientError> {
        self.post("/v1/passport/verify", doc).await
    }

    /// `GET /v1/trust`.
    pub async fn trust(&self) -> Result<Vec<TrustEntry>, ClientError> {
        self.get("/v1/trust").await
    }

    /// `PUT /v1/trust` (a weight of 0 removes the entry).
    pub async fn set_trust(&self, entry: &TrustEntry) -> Result<(), ClientError> {
        let url = format!("{}/v1/trust", self.base);
        let req = self.http.put(&url).json(entry).timeout(CALL_TIMEOUT);
        self.send(req, &url).await.map(drop)
    }

    async fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let url = format!("{}{path}", self.base);
        let resp = self
            .send(self.http.delete(&url).timeout(CALL_TIMEOUT), &url)
            .await?;
        Self::json(resp).await
    }

    /// `GET /v1/me`: the timite this client's token acts as.
    pub async fn me(&self) -> Result<Me, ClientError> {
        self.get("/v1/me").await
    }

    /// `GET /v1/timites`: the timites the node hosts.
    pub async fn timites(&self) -> Result<Vec<TimiteView>, ClientError> {
        self.get("/v1/timites").await
    }

    /// `POST /v1/timites`: the node makes and hosts a new timite (admin token).
    pub async fn new_timite(&self) -> Result<TimiteView, ClientError> {
        self.post("/v1/timites", &serde_json::json!({})).await
    }

    /// `GET /v1/timites/{did}/keys`: the keys allowed to sign in as a hosted timite.
    pub async fn sign_in_keys(&self, did: &Did) -> Result<Vec<SignInKey>, ClientError> {
        self.get(&format!("/v1/timites/{did}/keys")).await
    }

    /// `POST /v1/timites/{did}/keys`: allows a did:key to sign in as a hosted timite.
    pub async fn add_sign_in_key(
        &self,
        did: &Did,
        req: &NewSignInKey,
    ) -> Result<SignInKey, ClientError> {
        self.post(&format!("/v1/timites/{did}/keys"), req).await
    }

    /// `DELETE /v1/timites/{did}/keys/{key}`: the key stops signing in, and the tokens it
    /// signed in for stop working.
    pub async fn remove_sign_in_key(
        &self,
        did: &Did,
        key: &Did,
    ) -> Result<SignInKeyRemoved, ClientError> {
        self.delete(&format!("/v1/timites/{did}/keys/{key}")).await
    }

    /// `POST /v1/tokens`: a token for a hosted timite; its secret is in the answer only.
    pub async fn new_token(&self, req: &NewToken) -> Result<TokenIssued, ClientError> {
        self.post("/v1/tokens", req).await
    }

    /// `GET /v1/tokens`: the tokens the node knows, without their secrets.
    pub async fn tokens(&self) -> Result<Vec<TokenInfo>, ClientError> {
        self.get("/v1/tokens").await
    }

    /// `DELETE /v1/tokens/{id}`: the token stops working at once.
    pub async fn revoke_token(&self, id: &str) -> Result<(), ClientError> {
        let url = format!("{}/v1/tokens/{id}", self.base);
        let req = self.http.delete(&url).timeout(CALL_TIMEOUT);
        self.send(req, &url).await.map(drop)
    }

    /// `POST /v1/spaces/{id}/join`.
    pub async fn join(
        &self,
        id: SpaceId,
        via: Vec<String>,
        present: Vec<String>,
    ) -> Result<SpaceSummary, ClientError> {
        self.join_within(id, via, present, None).await
    }

    /// `POST /v1/spaces/{id}/join`, waiting at most `timeout` (whole seconds, 1 to 300) for a
    /// host to answer (default: the node's, 30 s). A join that fails leaves no trace on the
    /// node.
    pub async fn join_within(
        &self,
        id: SpaceId,
        via: Vec<String>,
        present: Vec<String>,
        timeout: Option<Duration>,
    ) -> Result<SpaceSummary, ClientError> {
        let url = format!("{}/v1/spaces/{id}/join", self.base);
        let body = JoinSpace {
            via,
            present,
            timeout_secs: timeout.map(|t| t.as_secs()),
        };
        // The node answers within the join's own timeout; the call waits a margin longer.
        let wait = timeout.map_or(CALL_TIMEOUT, |t| t + CALL_TIMEOUT);
        let req = self.http.post(&url).json(&body).timeout(wait);
        Self::json(self.send(req, &url).await?).await
    }

    /// `POST /v1/spaces/{id}/leave`: leave the space (its own member entry removed; the
    /// owner is refused) or give up an unfinished join; the node drops the space once no
    /// timite it hosts is a member.
    pub async fn leave(&self, id: SpaceId) -> Result<SpaceLeft, ClientError> {
        let url = format!("{}/v1/spaces/{id}/leave", self.base);
        let req = self.http.post(&url).timeout(CALL_TIMEOUT);
        Self::json(self.send(req, &url).await?).await
    }

    /// `POST /v1/spaces/{id}/migrate`: migrate the space to schema version `to` (default the
    /// newest the node knows; admins and the owner).
    pub async fn migrate(&self, id: SpaceId, to: Option<u64>) -> Result<Migrated, ClientError> {
        self.post(&format!("/v1/spaces/{id}/migrate"), &Migrate { to })
            .await
    }

    /// `GET /v1/spaces/{id}/earned-roles`: the thresholds at which members earn roles.
    pub async fn earned_roles(&self, id: SpaceId) -> Result<SetEarnedRoles, ClientError> {
        self.get(&format!("/v1/spaces/{id}/earned-roles")).await
    }

    /// `PUT /v1/spaces/{id}/earned-roles`: replaces the thresholds (admins and the owner).
    pub async fn set_earned_roles(
        &self,
        id: SpaceId,
        earned: &SetEarnedRoles,
    ) -> Result<Done, ClientError> {
        self.put(&format!("/v1/spaces/{id}/earned-roles"), earned)
            .await
    }

    /// `GET /v1/spaces/{id}/profile`: the space's kind, style, initiative and requirements.
    pub async fn profile(
        &self,
        id: SpaceId,
    ) -> Result<tim_protocol::api::SpaceProfile, ClientError> {
        self.get(&format!("/v1/spaces/{id}/profile")).await
    }

    /// `PUT /v1/spaces/{id}/profile`: set the fields of the profile given (admins).
    pub async fn set_profile(
        &self,
        id: SpaceId,
        profile: &tim_protocol::api::SetProfile,
    ) -> Result<Done, ClientError> {
        self.put(&format!("/v1/spaces/{id}/profile"), profile).await
    }

    /// `GET /v1/spaces/{id}/budgets`: the space's action budgets (`None`: none set).
    pub async fn budgets(
        &self,
        id: SpaceId,
    ) -> Result<Option<tim_protocol::api::Budgets>, ClientError> {
        self.get(&format!("/v1/spaces/{id}/budgets")).await
    }

    /// `PUT /v1/spaces/{id}/budgets`: replace the space's action budgets (admins).
    pub async fn set_budgets(
        &self,
        id: SpaceId,
        budgets: &tim_protocol::api::Budgets,
    ) -> Result<Done, ClientError> {
        self.put(&format!("/v1/spaces/{id}/budgets"), budgets).await
    }

    /// `PUT /v1/spaces/{id}/requirements`: what joiners must present (admins).
    pub async fn set_requirements(
        &self,
        id: SpaceId,
        requirements: &serde_json::Value,
    ) -> Result<Done, ClientError> {
        self.put(&format!("/v1/spaces/{id}/requirements"), requirements)
            .await
    }

    /// `PUT /v1/spaces/{id}/abilities`: the abilities the acting timite declares in the space
    /// (replaces its list; an empty list clears it).
    pub async fn declare_abilities(
        &self,
        id: SpaceId,
        abilities: Vec<String>,
    ) -> Result<Done, ClientError> {
        self.put(
            &format!("/v1/spaces/{id}/abilities"),
            &DeclareAbilities { abilities },
        )
        .await
    }

    /// `PUT /v1/spaces/{id}/abilities/{name}`: declare (or redeclare) an ability.
    pub async fn declare_ability(
        &self,
        id: SpaceId,
        name: &str,
        body: &DeclareAbility,
    ) -> Result<Done, ClientError> {
        self.put(&format!("/v1/spaces/{id}/abilities/{name}"), body)
            .await
    }

    /// `GET /v1/spaces/{id}/badges`: the space's badge thresholds.
    pub async fn badges(
        &self,
        id: SpaceId,
    ) -> Result<std::collections::BTreeMap<String, BadgeThreshold>, ClientError> {
        self.get(&format!("/v1/spaces/{id}/badges")).await
    }

    /// `PUT /v1/spaces/{id}/badges`: set the space's badge thresholds (admins).
    pub async fn set_badges(
        &self,
        id: SpaceId,
        badges: &std::collections::BTreeMap<String, BadgeThreshold>,
    ) -> Result<Done, ClientError> {
        self.put(&format!("/v1/spaces/{id}/badges"), badges).await
    }

    /// `DELETE /v1/spaces/{id}/abilities/{name}`: withdraw a declaration.
    pub async fn withdraw_ability(&self, id: SpaceId, name: &str) -> Result<Done, ClientError> {
        self.delete(&format!("/v1/spaces/{id}/abilities/{name}"))
            .await
    }

    /// `GET /v1/spaces/{id}/abilities`: every declaration in the space.
    pub async fn abilities(&self, id: SpaceId) -> Result<Vec<AbilityView>, ClientError> {
        self.get(&format!("/v1/spaces/{id}/abilities")).await
    }

    /// `GET /v1/abilities/search`: ranked providers in the spaces the node hosts.
    pub async fn search_abilities(
        &self,
        query: &AbilitySearchQuery,
    ) -> Result<Vec<AbilityHit>, ClientError> {
        let page: Page<AbilityHit, String> = self.get_page("/v1/abilities/search", query).await?;
        Ok(page.items)
    }

    /// `POST /v1/spaces/{id}/requests`: ask for an ability.
    pub async fn request_ability(
        &self,
        id: SpaceId,
        req: &NewRequest,
    ) -> Result<RequestMade, ClientError> {
        self.post(&format!("/v1/spaces/{id}/requests"), req).await
    }

    /// `GET /v1/spaces/{id}/requests`.
    pub async fn requests(
        &self,
        id: SpaceId,
        query: RequestsQuery,
    ) -> Result<Vec<AbilityRequest>, ClientError> {
        let path = format!("/v1/spaces/{id}/requests");
        let page: Page<AbilityRequest, String> = self.get_page(&path, &query).await?;
        Ok(page.items)
    }

    /// `GET /v1/spaces/{id}/requests/{rid}`.
    pub async fn request(&self, id: SpaceId, rid: &str) -> Result<AbilityRequest, ClientError> {
        self.get(&format!("/v1/spaces/{id}/requests/{rid}")).await
    }

    /// `GET /v1/spaces/{id}/tokens[?did=DID]`: the space's token balances, and `did`'s ledger.
    pub async fn token_balances(
        &self,
        id: SpaceId,
        did: Option<&Did>,
    ) -> Result<TokenBalances, ClientError> {
        let query = did.map(|d| format!("?did={d}")).unwrap_or_default();
        self.get(&format!("/v1/spaces/{id}/tokens{query}")).await
    }

    /// `PUT /v1/spaces/{id}/tokens/policy`: set the space's token policy (an admin).
    pub async fn set_token_policy(
        &self,
        id: SpaceId,
        policy: &TokenPolicyView,
    ) -> Result<Done, ClientError> {
        self.put(&format!("/v1/spaces/{id}/tokens/policy"), policy)
            .await
    }

    /// `POST /v1/spaces/{id}/chains`: make a chain of requests.
    pub async fn make_chain(&self, id: SpaceId, req: &NewChain) -> Result<ChainMade, ClientError> {
        self.post(&format!("/v1/spaces/{id}/chains"), req).await
    }

    /// `GET /v1/spaces/{id}/chains`.
    pub async fn chains(&self, id: SpaceId) -> Result<Vec<ChainView>, ClientError> {
        self.get(&format!("/v1/spaces/{id}/chains")).await
    }

    /// `GET /v1/spaces/{id}/chains/{chain}`.
    pub async fn chain(&self, id: SpaceId, chain: &str) -> Result<ChainView, ClientError> {
        self.get(&format!("/v1/spaces/{id}/chains/{chain}")).await
    }

    /// `POST /v1/spaces/{id}/requests/{rid}/{step}`: a step of a request (`claim`, `progress`,
    /// `result`, `failure`, `cancel`, `rating`) with its body.
    pub async fn request_step<B: Serialize>(
        &self,
        id: SpaceId,
        rid: &str,
        step: RequestStep<B>,
    ) -> Result<Done, ClientError> {
        let path = format!("/v1/spaces/{id}/requests/{rid}/{}", step.name);
        self.post(&path, &step.body).await
    }

    /// `POST /v1/spaces/{id}/messages`.
    pub async fn post_message(&self, id: SpaceId, text: &str) -> Result<Posted, ClientError> {
        let body = PostMessage {
            text: text.into(),
            reply_to: None,
            mentions: Vec::new(),
            attachment: None,
        };
        self.post(&format!("/v1/spaces/{id}/messages"), &body).await
    }

    /// `POST /v1/dms`: a direct message to `to` (in their encrypted space of two, made if
    /// need be).
    pub async fn direct_message(&self, to: Did, text: &str) -> Result<DirectMessage, ClientError> {
        let body = DirectMessageRequest {
            to,
            text: text.into(),
        };
        self.post("/v1/dms", &body).await
    }

    /// `GET /v1/spaces/{id}/messages`: one page of the timeline, newest first.
    pub async fn timeline_page(
        &self,
        id: SpaceId,
        query: &TimelineQuery,
    ) -> Result<TimelinePage, ClientError> {
        let path = format!("/v1/spaces/{id}/messages");
        let url = format!("{}{path}", self.base);
        let req = self.http.get(&url).query(query).timeout(CALL_TIMEOUT);
        Self::json(self.send(req, &url).await?).await
    }

    /// The whole timeline, oldest first: every page of `GET /v1/spaces/{id}/messages`, from the
    /// newest back, all read at the same heads (read again if the timeline changed in
    /// between; [`ClientError::Unsettled`] if it changed every time). For tools and tests: a
    /// big space's timeline is big.
    pub async fn timeline(&self, id: SpaceId) -> Result<Timeline, ClientError> {
        'attempt: for _ in 0..WHOLE_TIMELINE_ATTEMPTS {
            let mut query = TimelineQuery {
                limit: Some(MAX_TIMELINE_PAGE),
                ..TimelineQuery::default()
            };
            let first = self.timeline_page(id, &query).await?;
            let (space, heads) = (first.space, first.heads);
            let mut messages = first.messages;
            let mut before = first.next_before;
            while let Some(cursor) = before {
                query.before = Some(cursor);
                let page = self.timeline_page(id, &query).await?;
                if page.heads != heads {
                    continue 'attempt;
                }
                messages.extend(page.messages);
                before = page.next_before;
            }
            messages.reverse();
            return Ok(Timeline {
                space,
                heads,
                messages,
            });
        }
        Err(ClientError::Unsettled(WHOLE_TIMELINE_ATTEMPTS))
    }

    /// `GET /v1/spaces/{id}/members`: one page of the members, sorted by DID.
    pub async fn members_page(
        &self,
        id: SpaceId,
        query: &MembersQuery,
    ) -> Result<Page<MemberView, Did>, ClientError> {
        self.get_page(&format!("/v1/spaces/{id}/members"), query)
            .await
    }

    /// Every member of a space: every page of `GET /v1/spaces/{id}/members`.
    pub async fn members(&self, id: SpaceId) -> Result<Vec<MemberView>, ClientError> {
        let mut query = MembersQuery::default();
        let mut all = Vec::new();
        loop {
            let page = self.members_page(id, &query).await?;
            all.extend(page.items);
            match page.next_after {
                Some(after) => query.after = Some(after),
                None => return Ok(all),
            }
        }
    }

    /// `GET /v1/spaces/{id}/export/document`: the Automerge document.
    pub async fn export_document(&self, id: SpaceId) -> Result<Vec<u8>, ClientError> {
        self.get_bytes(&format!("/v1/spaces/{id}/export/document"))
            .await
    }

    /// `GET /v1/spaces/{id}/export/signatures`: the signature bundle.
    pub async fn export_signatures(&self, id: SpaceId) -> Result<Vec<u8>, ClientError> {
        self.get_bytes(&format!("/v1/spaces/{id}/export/signatures"))
            .await
    }

    /// `POST /v1/import` with a signature bundle.
    pub async fn import(&self, bundle: Vec<u8>) -> Result<Imported, ClientError> {
        let url = format!("{}/v1/import", self.base);
        let req = self
            .http
            .post(&url)
            .header("content-type", "application/cbor")
            .body(bundle)
            .timeout(CALL_TIMEOUT);
        Self::json(self.send(req, &url).await?).await
    }

    /// `POST /v1/peers`: dial a peer.
    pub async fn add_peer(&self, addr: &str) -> Result<(), ClientError> {
        let url = format!("{}/v1/peers", self.base);
        let req = self
            .http
            .post(&url)
            .json(&serde_json::json!({ "addr": addr }))
            .timeout(CALL_TIMEOUT);
        self.send(req, &url).await.map(drop)
    }

    /// `POST /v1/faults/disconnect`: close every connection of the node.
    pub async fn disconnect_all(&self) -> Result<(), ClientError> {
        let url = format!("{}/v1/faults/disconnect", self.base);
        self.send(self.http.post(&url).timeout(CALL_TIMEOUT), &url)
            .await
            .map(drop)
    }

    /// `POST /v1/faults/flood`: the node publishes `count` invalid changes on the space's
    /// topic at `per_sec` (operator; answers once the flood has started).
    pub async fn flood(&self, space: SpaceId, count: u32, per_sec: f64) -> Result<(), ClientError> {
        let url = format!("{}/v1/faults/flood", self.base);
        let body = serde_json::json!({ "space": space, "count": count, "per_sec": per_sec });
        let req = self.http.post(&url).json(&body).timeout(CALL_TIMEOUT);
        self.send(req, &url).await.map(drop)
    }

    /// `GET /v1/spaces/{id}/events`: live events, parsed from server-sent events. An item
    /// [`ClientError::Lagged`] says the stream skipped events (the node's buffer overflowed);
    /// the stream goes on after it.
    pub async fn events(
        &self,
        id: SpaceId,
    ) -> Result<impl Stream<Item = Result<SpaceEvent, ClientError>>, ClientError> {
        let url = format!("{}/v1/spaces/{id}/events", self.base);
        let resp = self.send(self.http.get(&url), &url).await?;
        Ok(sse_stream(resp))
    }
}

/// The events of a server-sent event answer, each parsed as JSON (see [`sse_frames`]).
fn sse_stream<T: DeserializeOwned>(
    resp: reqwest::Response,
) -> impl Stream<Item = Result<T, ClientError>> {
    let mut buf = String::new();
    resp.bytes_stream().flat_map(move |chunk| {
        let out = match chunk {
            Ok(bytes) => {
                buf.push_str(&String::from_utf8_lossy(&bytes));
                sse_frames(&mut buf)
            }
            Err(e) => vec![Err(ClientError::Decode(e.to_string()))],
        };
        futures::stream::iter(out)
    })
}

/// Takes the complete server-sent event frames off the front of `buf`: each event of a stream
/// (a space's events, an agent's log), or [`ClientError::Lagged`] for a `lagged` frame.
/// Keep-alive comments give nothing.
fn sse_frames<T: DeserializeOwned>(buf: &mut String) -> Vec<Result<T, ClientError>> {
    let mut out = Vec::new();
    while let Some(end) = buf.find("\n\n") {
        let frame: String = buf.drain(..end + 2).collect();
        let data: String = frame
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(str::trim_start)
            .collect();
        let kind = frame
            .lines()
            .find_map(|l| l.strip_prefix("event:"))
            .map(str::trim);
        if kind == Some("lagged") {
            out.push(Err(data.parse().map_or_else(
                |_| ClientError::Decode(format!("a lagged event with data {data:?}")),
                ClientError::Lagged,
            )));
        } else if kind.is_none() && !data.is_empty() {
            out.push(serde_json::from_str(&data).map_err(|e| ClientError::Decode(e.to_string())));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_page_is_read_from_the_link_header() {
        let link = "</v1/spaces/ab/members?after=did%3Akey%3Az6Mk&limit=2>; rel=\"next\"";
        assert_eq!(next_after(link).as_deref(), Some("did:key:z6Mk"));
        let two = "</a?after=x>; rel=\"prev\", </b?limit=1&after=y%2Dz>; rel=\"next\"";
        assert_eq!(next_after(two).as_deref(), Some("y-z"));
        assert_eq!(next_after("</a?after=x>; rel=\"prev\""), None);
        assert_eq!(next_after("</a?limit=3>; rel=\"next\""), None);
        assert_eq!(percent_decode("%zz"), None);
    }

    #[test]
    fn a_lagged_frame_is_an_error_item_and_the_stream_goes_on() {
        let mut buf = String::from(
            ": keep-alive\n\nevent: lagged\ndata: 1791\n\nevent: lagged\ndata: soon\n\ndata: {\"not\": \"an event\"}\n\ndata: {\"partial",
        );
        let items = sse_frames::<SpaceEvent>(&mut buf);
        assert_eq!(items.len(), 3, "{items:?}");
        assert!(
            matches!(items[0], Err(ClientError::Lagged(1791))),
            "{items:?}"
        );
        assert!(matches!(items[1], Err(ClientError::Decode(_))), "{items:?}");
        assert!(matches!(items[2], Err(ClientError::Decode(_))), "{items:?}");
        // The incomplete frame waits for the rest.
        assert_eq!(buf, "data: {\"partial");
    }
}
