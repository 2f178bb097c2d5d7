//! GraphQL at `/v1/graphql` (async-graphql): a read-only schema over the [`Service`] for
//! clients that pick the fields they need: the spaces the token's timite reads, their members,
//! messages and proposals, and the timite's passport. Every resolver calls the same use case as the REST
//! route it mirrors, acting as the token's timite, so the access rules are the same: a space
//! the timite cannot read is an error (its problem's `type` and `status` in the error's
//! `extensions`), not an empty answer.
//!
//! Queries are bounded: at most [`MAX_DEPTH`] levels of selection and [`MAX_COMPLEXITY`]
//! points, where a list field costs its page size times what each item selects. The schema
//! (SDL) is served at `GET /v1/graphql/sdl`, printed by `tim api graphql-sdl`, and checked in
//! at `docs/graphql.sdl` (a test fails when they drift).

use std::sync::LazyLock;

use async_graphql::http::parse_query_string;
use async_graphql::{
    Context, EmptyMutation, EmptySubscription, Enum, ErrorExtensions, Object, Schema, SimpleObject,
};
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use futures::future::BoxFuture;
use tim_protocol::api::{
    CredentialsQuery, MemberView, MembersQuery, MessageView, ProposalView, ProposalsQuery,
    SpaceSummary, TimelineQuery, VerifyReport, DEFAULT_TIMELINE_PAGE, MAX_LIST_PAGE,
};
use tim_protocol::{Did, MessageId, SpaceId};

use super::extract::{ApiJson, Segment};
use super::problem::{ApiError, ApiResult, Problems};
use crate::service::{Caller, Service, ServiceError, ServiceResult};

/// Deepest selection a query may make (`space { messages { reactions { by } } }` is 4).
pub const MAX_DEPTH: usize = 10;
/// Most points a query may cost: each field 1, a list field its page size times its items'.
pub const MAX_COMPLEXITY: usize = 5_000;

/// The schema: queries only.
pub type TimSchema = Schema<Query, EmptyMutation, EmptySubscription>;

static SCHEMA: LazyLock<TimSchema> = LazyLock::new(|| {
    Schema::build(Query, EmptyMutation, EmptySubscription)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .finish()
});

/// The schema, built once.
pub fn schema() -> &'static TimSchema {
    &SCHEMA
}

/// The schema in GraphQL's schema definition language (what `docs/graphql.sdl` holds).
pub fn sdl() -> String {
    schema().sdl()
}

/// A use case's error as a GraphQL error: the problem's `detail` as the message, its `type`,
/// `title` and `status` in `extensions`, as the REST route would answer.
fn refused(e: impl Into<ApiError>) -> async_graphql::Error {
    let problem = e.into().problem().clone();
    async_graphql::Error::new(problem.detail).extend_with(|_, ext| {
        ext.set("type", problem.kind);
        ext.set("title", problem.title);
        ext.set("status", problem.status);
    })
}

/// A request's service and caller.
fn acting<'a>(ctx: &Context<'a>) -> async_graphql::Result<(&'a Service, &'a Caller)> {
    Ok((ctx.data::<Service>()?, ctx.data::<Caller>()?))
}

/// A page size argument as the use case's limit (the use case refuses one out of range).
fn limit(n: Option<i32>) -> async_graphql::Result<Option<usize>> {
    n.map(|n| {
        usize::try_from(n).map_err(|_| {
            refused(ServiceError::InvalidPage(format!(
                "a page size must be positive; {n} was asked for"
            )))
        })
    })
    .transpose()
}

/// A typed id from an argument, refused as the REST route refuses it in a path.
fn parsed<T: Segment>(raw: Option<String>) -> async_graphql::Result<Option<T>> {
    raw.map(|r| T::parse(&r).map_err(refused)).transpose()
}

/// The root of every query.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query;

#[Object]
impl Query {
    /// The spaces this node hosts that the timite reads.
    async fn spaces(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Space>> {
        let (s, caller) = acting(ctx)?;
        let spaces = s.spaces(caller).await.map_err(refused)?;
        Ok(spaces.into_iter().map(Space).collect())
    }

    /// One space; an error (`tim:problem/unknown-space`, 404) if the timite cannot read it.
    async fn space(&self, ctx: &Context<'_>, id: String) -> async_graphql::Result<Space> {
        let (s, caller) = acting(ctx)?;
        let id = SpaceId::parse(&id).map_err(refused)?;
        Ok(Space(s.space(caller, id).await.map_err(refused)?))
    }

    /// The timite the token acts as.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<Me> {
        let (_, caller) = acting(ctx)?;
        Ok(Me(caller.timite))
    }
}

/// A space, as `GET /v1/spaces/{id}` summarises it.
#[derive(Debug)]
pub struct Space(SpaceSummary);

#[Object]
impl Space {
    /// The space id.
    async fn id(&self) -> String {
        self.0.id.to_string()
    }

    /// Its name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Its purpose, possibly empty.
    async fn purpose(&self) -> &str {
        &self.0.purpose
    }

    /// Who may join: `public`, `invite-only` or `ephemeral`.
    async fn visibility(&self) -> &str {
        &self.0.visibility
    }

    /// Its schema version (docs/rules.md §4.1).
    async fn schema_version(&self) -> u64 {
        self.0.schema_version
    }

    /// How many members it has.
    async fn member_count(&self) -> usize {
        self.0.members
    }

    /// A page of its members, sorted by DID: `first` of them (1 to 1000, default 1000) after
    /// the DID `after` (the last of the previous page).
    #[graphql(complexity = "first.unwrap_or(1000).max(1) as usize * child_complexity")]
    async fn members(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Vec<Member>> {
        let (s, caller) = acting(ctx)?;
        let query = MembersQuery {
            limit: limit(first)?,
            after: parsed::<Did>(after)?,
        };
        let page = s
            .members(caller, self.0.id, &query)
            .await
            .map_err(refused)?;
        Ok(page.items.into_iter().map(Member).collect())
    }

    /// A page of its timeline, newest first: the `last` messages (1 to 500, default 50),
    /// or those just older than the message `before`.
    #[graphql(complexity = "last.unwrap_or(50).max(1) as usize * child_complexity")]
    async fn messages(
        &self,
        ctx: &Context<'_>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Vec<Message>> {
        let (s, caller) = acting(ctx)?;
        let query = TimelineQuery {
            limit: Some(limit(last)?.unwrap_or(DEFAULT_TIMELINE_PAGE)),
            before: parsed::<MessageId>(before)?,
            after: None,
        };
        let page = s
            .timeline(caller, self.0.id, &query)
            .await
            .map_err(refused)?;
        Ok(page.messages.into_iter().map(Message).collect())
    }

    /// Its proposals (docs/governance.md); only the open ones if `open`.
    async fn proposals(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] open: bool,
    ) -> async_graphql::Result<Vec<Proposal>> {
        let (s, caller) = acting(ctx)?;
        let proposals = s
            .proposals(caller, self.0.id, ProposalsQuery { open })
            .await
            .map_err(refused)?;
        Ok(proposals.into_iter().map(Proposal).collect())
    }
}

/// A proposal put to a space's vote.
#[derive(Debug)]
pub struct Proposal(ProposalView);

#[Object]
impl Proposal {
    /// Its id.
    async fn id(&self) -> &str {
        &self.0.id
    }

    /// Who proposed it.
    async fn author(&self) -> String {
        self.0.author.to_string()
    }

    /// What passing does, as the JSON `action` of `GET /v1/spaces/{id}/proposals/{pid}`.
    async fn action(&self) -> String {
        serde_json::to_string(&self.0.action).unwrap_or_default()
    }

    /// When its author says it proposed it, milliseconds since the Unix epoch.
    async fn at(&self) -> f64 {
        self.0.at as f64
    }

    /// Yes votes (the close's figures once closed, else the live tally).
    async fn yes(&self) -> u64 {
        self.0.tally.yes
    }

    /// No votes.
    async fn no(&self) -> u64 {
        self.0.tally.no
    }

    /// Abstentions.
    async fn abstain(&self) -> u64 {
        self.0.tally.abstain
    }

    /// Members eligible to vote.
    async fn eligible(&self) -> u64 {
        self.0.tally.eligible
    }

    /// How it ended (`passed`, `failed`, `withdrawn`); none while open.
    async fn outcome(&self) -> Option<&str> {
        self.0.outcome.map(|o| o.as_str())
    }

    /// How a close would end it now, if it is decided but open.
    async fn decided(&self) -> Option<&str> {
        self.0.decided.map(|o| o.as_str())
    }
}

/// A member of a space.
#[derive(Debug)]
pub struct Member(MemberView);

#[Object]
impl Member {
    /// The member's DID.
    async fn did(&self) -> String {
        self.0.did.to_string()
    }

    /// Its role (earned or assigned).
    async fn role(&self) -> &str {
        &self.0.role
    }

    /// Reputation earned in this space (docs/reputation.md).
    async fn reputation(&self) -> u64 {
        self.0.reputation
    }

    /// When it joined, milliseconds since the Unix epoch (a `Float`: GraphQL's `Int` has 32
    /// bits).
    async fn joined_at(&self) -> f64 {
        self.0.joined_at as f64
    }

    /// Abilities it declares in this space.
    async fn abilities(&self) -> &[String] {
        &self.0.abilities
    }
}

/// A message of a timeline.
#[derive(Debug)]
pub struct Message(MessageView);

#[Object]
impl Message {
    /// The message id.
    async fn id(&self) -> &str {
        &self.0.id
    }

    /// The author's DID.
    async fn author(&self) -> String {
        self.0.author.to_string()
    }

    /// The text (in an end-to-end encrypted space, what the timite decrypted).
    async fn text(&self) -> &str {
        &self.0.text
    }

    /// When its author's node says it was posted, milliseconds since the Unix epoch (a
    /// `Float`: GraphQL's `Int` has 32 bits).
    async fn at(&self) -> f64 {
        self.0.at as f64
    }

    /// The id of the message it replies to.
    async fn reply_to(&self) -> Option<&str> {
        self.0.reply_to.as_deref()
    }

    /// How many times its author edited it.
    async fn edits(&self) -> u64 {
        self.0.edits
    }

    /// Its reactions, by emoji (most first).
    async fn reactions(&self) -> Vec<Reaction> {
        self.0
            .reactions
            .iter()
            .map(|r| Reaction {
                emoji: r.emoji.clone(),
                count: r.count,
                by: r.by.iter().map(ToString::to_string).collect(),
            })
            .collect()
    }
}

/// The reactions of one emoji to a message.
#[derive(Debug, SimpleObject)]
pub struct Reaction {
    /// The emoji.
    emoji: String,
    /// How many timites reacted with it.
    count: u64,
    /// Who, sorted by DID.
    by: Vec<String>,
}

/// The timite a token acts as.
#[derive(Debug)]
pub struct Me(Did);

#[Object]
impl Me {
    /// Its DID.
    async fn did(&self) -> String {
        self.0.to_string()
    }

    /// Its passport: credentials about it, and those it issued.
    async fn passport(&self) -> Passport {
        Passport
    }
}

/// The timite's passport (`GET /v1/passport`).
#[derive(Debug, Clone, Copy)]
pub struct Passport;

#[Object]
impl Passport {
    /// A page of its credentials, sorted by id: `first` of them (1 to 1000, default 1000)
    /// after the id `after`.
    #[graphql(complexity = "first.unwrap_or(1000).max(1) as usize * child_complexity")]
    async fn credentials(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Vec<Credential>> {
        let (s, caller) = acting(ctx)?;
        let query = CredentialsQuery {
            limit: Some(limit(first)?.unwrap_or(MAX_LIST_PAGE)),
            after: parsed(after)?,
        };
        let page = s.credentials(caller, &query).await.map_err(refused)?;
        Ok(page.items.into_iter().map(Credential).collect())
    }
}

/// A W3C verifiable credential of the passport.
#[derive(Debug)]
pub struct Credential(serde_json::Value);

/// What the node's checks say of a credential now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum CredentialState {
    /// Every check passes.
    Valid,
    /// Its issuer revoked it (the issuing space's status list).
    Revoked,
    /// Outside its validity period (expired, or not valid yet).
    Expired,
    /// Another check fails (its proof, its issuing space's rules).
    Invalid,
}

#[Object]
impl Credential {
    /// The credential's id.
    async fn id(&self) -> &str {
        self.0["id"].as_str().unwrap_or_default()
    }

    /// Its types (e.g. `VerifiableCredential`, `TimMembershipCredential`).
    async fn types(&self) -> Vec<&str> {
        let t = &self.0["type"];
        match t.as_array() {
            Some(all) => all.iter().filter_map(|v| v.as_str()).collect(),
            None => t.as_str().into_iter().collect(),
        }
    }

    /// Its issuer's id (a did:key).
    async fn issuer(&self) -> &str {
        let issuer = &self.0["issuer"];
        issuer
            .as_str()
            .or_else(|| issuer["id"].as_str())
            .unwrap_or_default()
    }

    /// Its subject's id.
    async fn subject(&self) -> Option<&str> {
        self.0["credentialSubject"]["id"].as_str()
    }

    /// What the node's checks say of it now (as `POST /v1/passport/verify` reports them).
    async fn state(&self, ctx: &Context<'_>) -> async_graphql::Result<CredentialState> {
        let (s, _) = acting(ctx)?;
        // Boxed: the verification's future is deep enough to overflow the check that the
        // resolver's future is `Send`.
        let verify: BoxFuture<'_, ServiceResult<VerifyReport>> = Box::pin(s.verify(&self.0));
        let report = verify.await.map_err(refused)?;
        let failed = |name: &str| report.checks.iter().any(|c| !c.ok && c.name == name);
        Ok(if report.verified {
            CredentialState::Valid
        } else if failed("revocation") {
            CredentialState::Revoked
        } else if failed("validity period") {
            CredentialState::Expired
        } else {
            CredentialState::Invalid
        })
    }

    /// The whole credential, as JSON text.
    async fn json(&self) -> String {
        self.0.to_string()
    }
}

/// Runs `request` as `caller`.
async fn execute(
    s: Service,
    caller: Caller,
    request: async_graphql::Request,
) -> Json<async_graphql::Response> {
    Json(schema().execute(request.data(s).data(caller)).await)
}

/// Runs a GraphQL query (`query`, optional `variables` and `operationName`), acting as the
/// token's timite. The answer is a GraphQL response: `data`, and `errors` whose `extensions`
/// carry the problem `type` and `status` the REST route would answer. The schema is at
/// `GET /v1/graphql/sdl`.
#[utoipa::path(post, path = "/v1/graphql", tag = "graphql",
    request_body(content = Object,
        description = "A GraphQL request: `query`, and optional `variables` and `operationName`"),
    responses((status = 200, description = "A GraphQL response: `data` and `errors`",
               body = Object), Problems))]
pub(super) async fn post(
    State(s): State<Service>,
    caller: Caller,
    ApiJson(request): ApiJson<async_graphql::Request>,
) -> impl IntoResponse {
    execute(s, caller, request).await
}

/// Runs a GraphQL query given in the query string (`query`, and optional `variables` as JSON
/// text and `operationName`), as `POST /v1/graphql` does.
#[utoipa::path(get, path = "/v1/graphql", tag = "graphql",
    params(("query" = String, Query, description = "The GraphQL query"),
           ("variables" = Option<String>, Query, description = "Its variables, as JSON text"),
           ("operationName" = Option<String>, Query, description = "The operation to run")),
    responses((status = 200, description = "A GraphQL response: `data` and `errors`",
               body = Object), Problems))]
pub(super) async fn get(
    State(s): State<Service>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> ApiResult<impl IntoResponse> {
    let request = parse_query_string(query.as_deref().unwrap_or_default())
        .map_err(|e| ApiError::bad_value("invalid-query", "Bad query", e.to_string()))?;
    Ok(execute(s, caller, request).await)
}

/// The GraphQL schema in its schema definition language.
#[utoipa::path(get, path = "/v1/graphql/sdl", tag = "graphql", security(()),
    responses((status = 200, description = "The schema (SDL)", body = String,
               content_type = "text/plain"), Problems))]
pub(super) async fn sdl_route() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], sdl())
}

#[cfg(test)]
mod tests {
    /// `docs/graphql.sdl` is the schema the node serves; regenerate it with
    /// `tim api graphql-sdl > docs/graphql.sdl`.
    #[test]
    fn the_checked_in_sdl_is_the_served_one() {
        let checked_in = include_str!("../../../docs/graphql.sdl");
        assert!(
            checked_in == super::sdl(),
            "docs/graphql.sdl drifted from the schema: run `tim api graphql-sdl > docs/graphql.sdl`"
        );
    }
}
