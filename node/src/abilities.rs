//! Abilities and requests through the node (docs/abilities.md, "Using it"): the writes the
//! engine performs as a hosted timite ([`AbilityAct`]), the API's views of the document's
//! declarations and requests, and the use cases of [`Service`] that the HTTP API and the CLI
//! call.
//!
//! **Schema version.** Abilities need a space at schema version 4. A declaration in an older
//! space by a timite who may migrate it (an admin or the owner: the `migrate` permission)
//! migrates it first, to the newest version this node knows, in a change of its own committed
//! with the declaration; anyone else is told who can. A request in an older space is refused: nobody declares anything there yet.
//!
//! **Reads act as the caller:** a private space is unknown to a non-member, as elsewhere.
//! Every reader of a space sees a request's output (it is in the space's document, which
//! every member's node holds).

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use serde_json::Value;
use tim_crdt::abilities::chains::{check_plan, PlanStep};
use tim_crdt::abilities::{
    AbilityReputation, AbilitySpec, Declaration, Input, PayloadRef, RequestState, RequestView,
    SearchHit, Target,
};
use tim_crdt::attestation::{Attestation, BadgeThreshold};
use tim_crdt::tokens::TokenPolicy;
use tim_crdt::{json_schema, schema, Applied, Space, SpaceError, Writer};
use tim_protocol::api::{
    AbilityHit, AbilityReputationView, AbilityRequest, AbilitySearchQuery, AbilityView,
    DeclareAbility, NewRequest, PayloadInfo, RequestMade, RequestsQuery, SpaceEvent,
    DEFAULT_REQUEST_TIMEOUT_SECS,
};
use tim_protocol::{ChangeHash, Did, SpaceId};

use crate::service::{Caller, Service, ServiceResult};
use crate::NodeError;

/// A write about abilities by the hosted timite; the rules decide whether it may.
#[derive(Debug, Clone)]
pub enum AbilityAct {
    /// Declare (or redeclare) an ability.
    Declare(AbilitySpec),
    /// Declare an ability carrying the credential that attests it (docs/abilities.md §13).
    DeclareAttested(AbilitySpec, String),
    /// Set the space's badge thresholds (admins, docs/abilities.md §13).
    SetBadges(BTreeMap<String, BadgeThreshold>),
    /// Set the space's token policy (admins; schema version 9, docs/governance.md "Tokens").
    SetTokenPolicy(TokenPolicy),
    /// Withdraw a declaration, by name.
    Withdraw(String),
    /// Ask for an ability.
    Request {
        /// The ability's name.
        ability: String,
        /// The input.
        input: Value,
        /// Whom to ask.
        target: Target,
        /// How long it stays open.
        timeout: Duration,
        /// Its reward in tokens (schema version 9).
        reward: Option<u64>,
    },
    /// Ask for an ability with an input held out of band (schema version 6,
    /// docs/abilities.md §14); its bytes are in the store already ([`Handle::put_payload`]).
    ///
    /// [`Handle::put_payload`]: crate::Handle::put_payload
    RequestOutOfBand {
        /// The ability's name.
        ability: String,
        /// The input's hash and size.
        input: PayloadRef,
        /// Whom to ask.
        target: Target,
        /// How long it stays open.
        timeout: Duration,
        /// Its reward in tokens (schema version 9).
        reward: Option<u64>,
    },
    /// Claim a request, by id.
    Claim(String),
    /// Post progress on a claimed request.
    Progress(String, String),
    /// Post a claimed request's result.
    Complete(String, Value),
    /// Post a claimed request's result held out of band (schema version 6), whose bytes are
    /// in the store already.
    CompleteOutOfBand(String, PayloadRef),
    /// Post that a claimed request failed, and why.
    Fail(String, String),
    /// Cancel one's own request.
    Cancel(String),
    /// Rate the outcome of one's own request, 1 to 5.
    Rate(String, u8),
    /// Make a chain of requests (docs/abilities.md §12); the node asks each step when due.
    Chain {
        /// The plan.
        steps: Vec<PlanStep>,
        /// The first step's input.
        input: Value,
        /// How long it runs.
        timeout: Duration,
    },
    /// Cancel one's own chain, by id.
    CancelChain(String),
    /// Publish a persona file in the space (schema version 7, docs/agents.md "Publishing
    /// personas"). Personas ride on this write path because a persona is an agent and the
    /// abilities it offers: they share its migration and its one-flush commit.
    PublishPersona {
        /// Its name.
        name: String,
        /// What it is for.
        description: String,
        /// The persona file.
        toml: String,
    },
    /// Delete a published persona, by id (its author, or an admin).
    DeletePersona(String),
    /// Propose an action to the space's vote (docs/governance.md).
    Propose(tim_protocol::api::NewProposal),
    /// Vote on a proposal, by id, or change one's vote.
    Vote(String, tim_protocol::api::Choice),
    /// Close a decided proposal, by id, or withdraw one's own.
    CloseProposal {
        /// The proposal's id.
        id: String,
        /// Withdraw it instead.
        withdraw: bool,
    },
}

/// What an [`AbilityAct`] wrote: a change it made first in the same write, if any (a
/// migration, or the claim of a result posted by a candidate that had not claimed), its
/// change, and the request (or chain) it made, if any. Both are committed together.
#[derive(Debug)]
pub(crate) struct Performed {
    /// The changes made first, in order.
    pub(crate) first: Vec<Applied>,
    /// The act's change.
    pub(crate) applied: Applied,
    /// The new request's (or chain's, or published persona's) id.
    pub(crate) request: Option<String>,
}

/// Why an [`AbilityAct`] failed, and whether it left a change made first in the space that is
/// not on disk (the engine reloads the space from the store to take it back).
#[derive(Debug)]
pub(crate) struct Failed {
    pub(crate) error: NodeError,
    pub(crate) undo: bool,
}

impl From<NodeError> for Failed {
    fn from(error: NodeError) -> Self {
        Self { error, undo: false }
    }
}

impl From<SpaceError> for Failed {
    fn from(e: SpaceError) -> Self {
        NodeError::from(e).into()
    }
}

/// The schema version abilities need.
const ABILITIES_VERSION: u64 = schema::ABILITIES.since;
/// The schema version chains need.
const CHAINS_VERSION: u64 = schema::CHAINS.since;

/// Performs `act` as `me` in `s` at `now`; see the [module documentation](self) for the
/// schema version.
pub(crate) fn perform(
    s: &mut Space,
    me: &Writer,
    act: AbilityAct,
    now: u64,
) -> Result<Performed, Failed> {
    let version = s.schema_version();
    let governing = matches!(
        act,
        AbilityAct::Propose(_) | AbilityAct::Vote(..) | AbilityAct::CloseProposal { .. }
    );
    if governing && version < schema::SOCIAL {
        return Err(NodeError::Invalid(format!(
            "this space is at schema version {version}; proposals need version {} (an admin \
             migrates it: tim space migrate)",
            schema::SOCIAL
        ))
        .into());
    }
    if matches!(act, AbilityAct::SetBadges(_)) && version < schema::ABILITIES_V2 {
        // Badges need version 6; only a timite who may migrate (an admin) sets them anyway.
        let to = schema::ABILITIES_V2;
        return migrate_then(s, me, act, now, to, "badges", "badge threshold");
    }
    if let AbilityAct::PublishPersona {
        name,
        description,
        toml,
    } = &act
    {
        if version < schema::AGENTS {
            // Checked before migrating, so that a bad persona leaves the space as it was.
            crate::personas::check_persona(name, description, toml)?;
            let to = schema::LATEST_VERSION;
            return migrate_then(s, me, act, now, to, "personas", "published persona");
        }
    }
    if let AbilityAct::Chain { steps, .. } = &act {
        if version < CHAINS_VERSION {
            // Checked before migrating, so that a bad plan leaves the space as it was.
            check_plan(steps, &me.did().to_string()).map_err(NodeError::Invalid)?;
            return migrate_then(s, me, act, now, CHAINS_VERSION, "chains", "chain");
        }
    }
    if version < ABILITIES_VERSION {
        let (AbilityAct::Declare(spec) | AbilityAct::DeclareAttested(spec, _)) = &act else {
            return Err(NodeError::Invalid(format!(
                "nobody declares abilities in this space yet: it is at schema version \
                 {version}, and abilities need version {ABILITIES_VERSION} (an admin's first \
                 declaration migrates it)"
            ))
            .into());
        };
        // Checked before migrating, so that a bad declaration leaves the space as it was.
        tim_crdt::abilities::check_name(&spec.name).map_err(NodeError::Invalid)?;
        for schema in [&spec.input_schema, &spec.output_schema] {
            json_schema::check(schema).map_err(NodeError::Invalid)?;
        }
        // To the newest version this node knows, so that chains, attestations and payloads
        // held out of band work there too.
        let to = schema::LATEST_VERSION;
        return migrate_then(s, me, act, now, to, "abilities", "declaration");
    }
    act_on(s, me, act, now)
}

/// Migrates `s` to schema version `to` as `me`, then performs `act` (`what` needs that
/// version; a `first` of them migrates); an act that fails leaves the migration to take back.
fn migrate_then(
    s: &mut Space,
    me: &Writer,
    act: AbilityAct,
    now: u64,
    to: u64,
    what: &str,
    first: &str,
) -> Result<Performed, Failed> {
    let version = s.schema_version();
    let migration = s.migrate(me, to, now).map_err(|e| match e {
        SpaceError::Refused(_) => NodeError::Refused(format!(
            "this space is at schema version {version}; {what} need version {to}, and only a \
             timite with the `migrate` permission (an admin or the owner) can migrate it: its \
             first {first} does"
        )),
        e => e.into(),
    })?;
    after(Some(migration), act_on(s, me, act, now))
}

/// `done`, with `first` made before it in the same write; if `done` failed, `first` is
/// taken back.
fn after(first: Option<Applied>, done: Result<Performed, Failed>) -> Result<Performed, Failed> {
    match done {
        Ok(mut done) => {
            done.first.splice(0..0, first);
            Ok(done)
        }
        Err(f) => Err(Failed {
            error: f.error,
            undo: first.is_some() || f.undo,
        }),
    }
}

/// An outcome (a result or a failure) posted by a candidate of an open request claims it
/// first, in the same write: an agent that answers at once saves a round trip (two changes,
/// one flush, one answer).
fn claim_first(s: &mut Space, me: &Writer, id: &str, now: u64) -> Result<Option<Applied>, Failed> {
    let open = s
        .request(id)
        .is_some_and(|r| r.state == RequestState::Open && r.candidates.contains(&me.did()));
    Ok(if open {
        Some(s.claim(me, id, now)?)
    } else {
        None
    })
}

/// Performs `act` in a space at schema version 4 or later.
fn act_on(s: &mut Space, me: &Writer, act: AbilityAct, now: u64) -> Result<Performed, Failed> {
    let one = |applied: Applied| Performed {
        first: Vec::new(),
        applied,
        request: None,
    };
    let known = |s: &Space, id: &str| {
        s.request(id)
            .map(drop)
            .ok_or_else(|| NodeError::NotFound(format!("no request {id} in this space")))
    };
    Ok(match act {
        AbilityAct::Declare(spec) => one(s.declare(me, &spec, now)?),
        AbilityAct::DeclareAttested(spec, attestation) => {
            one(s.declare_attested(me, &spec, Some(&attestation), now)?)
        }
        AbilityAct::SetBadges(badges) => one(s.set_badges(me, &badges, now)?),
        AbilityAct::SetTokenPolicy(policy) => one(s.set_token_policy(me, &policy, now)?),
        AbilityAct::Withdraw(name) => one(s.withdraw(me, &name, now)?),
        AbilityAct::Request {
            ability,
            input,
            target,
            timeout,
            reward,
        } => requested(
            s,
            me,
            &ability,
            Input::Inline(&input),
            target,
            timeout,
            reward,
            now,
        )?,
        AbilityAct::RequestOutOfBand {
            ability,
            input,
            target,
            timeout,
            reward,
        } => requested(
            s,
            me,
            &ability,
            Input::OutOfBand(input),
            target,
            timeout,
            reward,
            now,
        )?,
        AbilityAct::CompleteOutOfBand(id, output) => {
            known(s, &id)?;
            let claim = claim_first(s, me, &id, now)?;
            let done = s.complete_out_of_band(me, &id, output, now);
            return after(claim, done.map(one).map_err(Failed::from));
        }
        AbilityAct::Claim(id) => {
            known(s, &id)?;
            one(s.claim(me, &id, now)?)
        }
        AbilityAct::Progress(id, note) => {
            known(s, &id)?;
            one(s.progress(me, &id, &note, now)?)
        }
        AbilityAct::Complete(id, output) => {
            known(s, &id)?;
            let claim = claim_first(s, me, &id, now)?;
            let done = s.complete(me, &id, &output, now);
            return after(claim, done.map(one).map_err(Failed::from));
        }
        AbilityAct::Fail(id, reason) => {
            known(s, &id)?;
            let claim = claim_first(s, me, &id, now)?;
            let done = s.fail(me, &id, &reason, now);
            return after(claim, done.map(one).map_err(Failed::from));
        }
        AbilityAct::Cancel(id) => {
            known(s, &id)?;
            one(s.cancel(me, &id, now)?)
        }
        AbilityAct::Rate(id, score) => {
            known(s, &id)?;
            one(s.rate_request(me, &id, score, now)?)
        }
        AbilityAct::Chain {
            steps,
            input,
            timeout,
        } => {
            let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
            let (applied, id) = s.make_chain(me, &steps, &input, ms, now)?;
            Performed {
                first: Vec::new(),
                applied,
                request: Some(id),
            }
        }
        AbilityAct::CancelChain(id) => {
            if s.chain(&id).is_none() {
                return Err(NodeError::NotFound(format!("no chain {id} in this space")).into());
            }
            one(s.cancel_chain(me, &id, now)?)
        }
        AbilityAct::PublishPersona {
            name,
            description,
            toml,
        } => {
            let (applied, id) = s.publish_persona(me, &name, &description, &toml, now)?;
            Performed {
                first: Vec::new(),
                applied,
                request: Some(id),
            }
        }
        AbilityAct::DeletePersona(id) => {
            if s.persona(&id).is_none() {
                return Err(NodeError::NotFound(format!("no persona {id} in this space")).into());
            }
            one(s.delete_persona(me, &id, now)?)
        }
        AbilityAct::Propose(p) => {
            let (applied, id) = s.propose(me, &p, now)?;
            Performed {
                first: Vec::new(),
                applied,
                request: Some(id),
            }
        }
        AbilityAct::Vote(id, choice) => {
            crate::proposals::known(s, &id)?;
            one(s.vote(me, &id, choice, now)?)
        }
        AbilityAct::CloseProposal { id, withdraw } => {
            crate::proposals::known(s, &id)?;
            one(s.close_proposal(me, &id, withdraw, now)?.0)
        }
    })
}

/// The event a request's effect gives: `step` names it (`None`: the request was made).
pub(crate) fn request_event(
    space: SpaceId,
    s: &Space,
    id: &str,
    step: Option<tim_crdt::abilities::Step>,
) -> Option<SpaceEvent> {
    use tim_crdt::abilities::Step;
    let request = request_view(s.request(id)?);
    Some(match step {
        None => SpaceEvent::RequestCreated { space, request },
        Some(Step::Claim) => SpaceEvent::RequestClaimed { space, request },
        Some(Step::Progress) => SpaceEvent::RequestProgress { space, request },
        Some(Step::Result) => SpaceEvent::RequestCompleted { space, request },
        Some(Step::Failure) => SpaceEvent::RequestFailed { space, request },
        Some(Step::Cancel) => SpaceEvent::RequestCancelled { space, request },
        Some(Step::Rate) => SpaceEvent::RequestRated { space, request },
    })
}

/// A request as the API shows it.
pub(crate) fn request_view(r: RequestView) -> AbilityRequest {
    AbilityRequest {
        id: r.id,
        ability: r.ability,
        requester: r.requester,
        target: match r.target {
            Target::Did(d) => d.to_string(),
            Target::Auto => tim_crdt::abilities::AUTO.to_string(),
        },
        candidates: r.candidates,
        input: r.input,
        at: r.at,
        deadline: r.deadline,
        state: r.state.as_str().to_string(),
        claimant: r.claimant,
        claims: r.claims,
        progress: r.progress,
        output: r.output,
        failure: r.failure,
        superseded: r.superseded,
        rating: r.rating,
        step: r.chain.as_ref().map(|(_, s)| *s),
        chain: r.chain.map(|(c, _)| c),
        input_payload: r.input_payload.map(payload_info),
        output_payload: r.output_payload.map(payload_info),
        output_invalid: None,
        reward: r.reward,
        funded: r.funded,
    }
}

/// Makes a request as `me`, with a reward if it carries one (schema version 9).
#[allow(clippy::too_many_arguments)]
fn requested(
    s: &mut Space,
    me: &Writer,
    ability: &str,
    input: Input<'_>,
    target: Target,
    timeout: Duration,
    reward: Option<u64>,
    now: u64,
) -> Result<Performed, SpaceError> {
    let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
    let (applied, id) = match reward {
        Some(n) => s.request_rewarded(me, ability, input, target, n, ms, now)?,
        None => s.request_with(me, ability, input, target, ms, now)?,
    };
    Ok(Performed {
        first: Vec::new(),
        applied,
        request: Some(id),
    })
}

fn payload_info(p: PayloadRef) -> Box<PayloadInfo> {
    Box::new(PayloadInfo {
        hash: p.hash.to_string(),
        size: p.size,
    })
}

fn reputation_view(r: &AbilityReputation) -> AbilityReputationView {
    AbilityReputationView {
        completed: r.completed,
        failed: r.failed,
        ratings: r.ratings,
        rating_sum: r.rating_sum,
        in_flight: r.in_flight,
        mean_response_ms: r.mean_response_ms,
        rating_score: r.rating_score(),
        success_score: r.success_score(),
        speed_score: r.speed_score(),
    }
}

fn ability_view(s: &Space, d: Declaration) -> AbilityView {
    let reputation = reputation_view(&s.ability_reputation(&d.provider, &d.spec.name));
    let (attestation, refused) = match s.attestation_of(&d) {
        Attestation::Unattested => ("unattested", None),
        Attestation::Attested => ("attested", None),
        Attestation::Refused(why) => ("refused", Some(why)),
    };
    AbilityView {
        active: s
            .role_of(&d.provider)
            .is_some_and(|r| r != tim_crdt::Role::Banned),
        provider: d.provider,
        name: d.spec.name,
        description: d.spec.description,
        input_schema: d.spec.input_schema,
        output_schema: d.spec.output_schema,
        credential: d.spec.credential,
        price: d.spec.price,
        at: d.at,
        reputation,
        attestation: attestation.into(),
        refused,
    }
}

fn hit_view(space: SpaceId, space_name: &str, via: &[String], h: SearchHit) -> AbilityHit {
    let d = h.declaration;
    AbilityHit {
        provider: d.provider,
        name: d.spec.name,
        description: d.spec.description,
        space,
        space_name: space_name.to_string(),
        score: h.score,
        text: h.text,
        attested: h.attested,
        price: d.spec.price,
        reputation: reputation_view(&h.reputation),
        via: via.to_vec(),
        available: None,
    }
}

/// Most hits a search takes from the network index.
const MAX_NETWORK_HITS: usize = 200;

/// A provider the network index knows, as a search hit: no history (reputation is known only
/// inside the space), joined through the publishing node's addresses.
fn network_hit_view(n: crate::index::NetworkHit) -> AbilityHit {
    AbilityHit {
        provider: n.provider,
        name: n.ability,
        description: n.description,
        space: n.space,
        space_name: n.space_name,
        score: n.score,
        text: n.text,
        attested: n.attested,
        price: n.price,
        reputation: reputation_view(&AbilityReputation::default()),
        via: n.addrs.iter().map(ToString::to_string).collect(),
        available: None,
    }
}

/// How much an unreachable provider's score drops: the weight of the speed term (docs/
/// abilities.md §6), so reachability orders providers otherwise alike without hiding a far
/// better one.
const UNREACHABLE_PENALTY: u64 = 100;

/// Longest request a caller may ask for, in seconds.
pub(crate) const MAX_TIMEOUT_SECS: u64 = tim_crdt::abilities::MAX_TIMEOUT_MS / 1000;

/// The largest input or output (JSON text) carried inline in the document: the document's
/// string bound. Above it, a space at schema version 6 carries it out of band (§14).
pub(crate) const INLINE_MAX_BYTES: usize = tim_protocol::wire::MAX_TEXT_BYTES;

/// `provider`'s declaration of `ability` in `s`.
fn declared(s: &Space, provider: &Did, ability: &str) -> Option<Declaration> {
    s.abilities()
        .into_iter()
        .find(|d| d.provider == *provider && d.spec.name == ability)
}

/// The payload `hash` (text form) of `space`, fetched if needed, as JSON: `None` if its bytes
/// are not JSON.
async fn fetch_json(
    handle: &crate::Handle,
    space: SpaceId,
    hash: &str,
) -> Result<Option<Value>, NodeError> {
    let hash = hash.parse().map_err(NodeError::Invalid)?;
    let bytes = handle.payload(space, hash).await?;
    Ok(serde_json::from_slice(&bytes).ok())
}

impl Service {
    pub(crate) async fn ability_act(
        &self,
        caller: &Caller,
        space: SpaceId,
        act: AbilityAct,
    ) -> ServiceResult<(ChangeHash, Option<String>)> {
        Ok(self
            .node()
            .acting_as(caller.timite)
            .ability(space, act)
            .await?)
    }

    pub(crate) async fn ability_step(
        &self,
        caller: &Caller,
        space: SpaceId,
        act: AbilityAct,
    ) -> ServiceResult<ChangeHash> {
        Ok(self.ability_act(caller, space, act).await?.0)
    }

    /// Declares (or redeclares) ability `name` as the caller, migrating the space to schema
    /// version 4 first if it is older and the caller may.
    pub async fn declare_ability(
        &self,
        caller: &Caller,
        space: SpaceId,
        name: &str,
        req: &DeclareAbility,
    ) -> ServiceResult<ChangeHash> {
        let spec = AbilitySpec {
            name: name.to_string(),
            description: req.description.clone(),
            input_schema: req.input_schema.clone(),
            output_schema: req.output_schema.clone(),
            credential: req.credential.clone(),
            price: req.price,
        };
        let act = match &req.attestation {
            Some(a) => AbilityAct::DeclareAttested(spec, a.clone()),
            None => AbilityAct::Declare(spec),
        };
        self.ability_step(caller, space, act).await
    }

    /// Sets the space's badge thresholds as the caller (an admin; schema version 6): a node
    /// hosting an admin issues the badges they make due (docs/abilities.md §13).
    pub async fn set_badges(
        &self,
        caller: &Caller,
        space: SpaceId,
        badges: BTreeMap<String, BadgeThreshold>,
    ) -> ServiceResult<ChangeHash> {
        self.ability_step(caller, space, AbilityAct::SetBadges(badges))
            .await
    }

    /// The space's badge thresholds.
    pub async fn badges(
        &self,
        caller: &Caller,
        space: SpaceId,
    ) -> ServiceResult<BTreeMap<String, BadgeThreshold>> {
        Ok(self
            .node()
            .acting_as(caller.timite)
            .read_space(space, |s| s.badges())
            .await?)
    }

    /// Withdraws the caller's declaration of `name`.
    pub async fn withdraw_ability(
        &self,
        caller: &Caller,
        space: SpaceId,
        name: &str,
    ) -> ServiceResult<ChangeHash> {
        self.ability_step(caller, space, AbilityAct::Withdraw(name.to_string()))
            .await
    }

    /// Every declaration in the space, with its provider's record, by name then provider.
    pub async fn abilities(
        &self,
        caller: &Caller,
        space: SpaceId,
    ) -> ServiceResult<Vec<AbilityView>> {
        Ok(self
            .node()
            .acting_as(caller.timite)
            .read_space(space, |s| {
                s.abilities()
                    .into_iter()
                    .map(|d| ability_view(s, d))
                    .collect()
            })
            .await?)
    }

    /// Searches the abilities of active members in the spaces of this node the caller may
    /// read (or in `space` only), best first (docs/abilities.md §6). Each hit names the space
    /// and this node's addresses, to join it through. (`--network` search, across nodes,
    /// builds on this.)
    pub async fn search_abilities(
        &self,
        caller: &Caller,
        query: &AbilitySearchQuery,
    ) -> ServiceResult<Vec<AbilityHit>> {
        let handle = self.node().acting_as(caller.timite);
        let spaces = match query.space {
            Some(id) => vec![handle.space(id).await?],
            None => handle.spaces().await?,
        };
        let via = handle.status().await?.listen;
        let mut hits = Vec::new();
        for summary in spaces {
            let (id, name, q, via) = (summary.id, summary.name, query.q.clone(), via.clone());
            let found = handle.read_space(id, move |s| {
                s.search(&q)
                    .into_iter()
                    .map(|h| hit_view(id, &name, &via, h))
                    .collect::<Vec<_>>()
            });
            match found.await {
                Ok(found) => hits.extend(found),
                // A space listed a moment ago and gone since (left, expired) has nothing.
                Err(NodeError::UnknownSpace(_) | NodeError::Expired(_))
                    if query.space.is_none() => {}
                Err(e) => return Err(e.into()),
            }
        }
        if query.network {
            let here: HashSet<(Did, String, SpaceId)> = hits
                .iter()
                .map(|h| (h.provider, h.name.clone(), h.space))
                .collect();
            let found = handle.network_search(&query.q, MAX_NETWORK_HITS).await?;
            hits.extend(
                found
                    .into_iter()
                    .filter(|n| query.space.is_none_or(|s| s == n.space))
                    .filter(|n| !here.contains(&(n.provider, n.ability.clone(), n.space)))
                    .map(network_hit_view),
            );
        }
        let providers: Vec<Did> = hits.iter().map(|h| h.provider).collect();
        for (h, available) in hits.iter_mut().zip(handle.availability(providers).await?) {
            h.available = available;
            if available == Some(false) {
                h.score = h.score.saturating_sub(UNREACHABLE_PENALTY);
            }
        }
        hits.sort_by(|a, b| {
            b.score
                .cmp(&a.score)
                .then_with(|| a.name.cmp(&b.name))
                .then_with(|| a.provider.cmp(&b.provider))
                .then_with(|| a.space.cmp(&b.space))
        });
        Ok(hits)
    }

    /// Asks for an ability as the caller: of `req.to`, or of the providers the space ranks
    /// first (`auto`). Answers the request's id once the change is on disk.
    pub async fn request_ability(
        &self,
        caller: &Caller,
        space: SpaceId,
        req: &NewRequest,
    ) -> ServiceResult<RequestMade> {
        let secs = req.timeout_secs.unwrap_or(DEFAULT_REQUEST_TIMEOUT_SECS);
        if secs == 0 || secs > MAX_TIMEOUT_SECS {
            return Err(NodeError::Invalid(format!(
                "timeout_secs is from 1 to {MAX_TIMEOUT_SECS} (30 days); {secs} was asked for"
            ))
            .into());
        }
        let (ability, target) = (
            req.ability.clone(),
            req.to.map_or(Target::Auto, Target::Did),
        );
        let timeout = Duration::from_secs(secs);
        let act = match self.out_of_band(caller, space, &req.input, "input").await? {
            Some(input) => AbilityAct::RequestOutOfBand {
                ability,
                input,
                target,
                timeout,
                reward: req.reward,
            },
            None => AbilityAct::Request {
                ability,
                input: req.input.clone(),
                target,
                timeout,
                reward: req.reward,
            },
        };
        let (change, id) = self.ability_act(caller, space, act).await?;
        let id = id.ok_or_else(|| NodeError::Invalid("the request made no id".into()))?;
        Ok(RequestMade { id, change })
    }

    /// The space's requests, in the space's order: all, those addressed to the caller
    /// (`mine`), or the open ones.
    pub async fn requests(
        &self,
        caller: &Caller,
        space: SpaceId,
        query: RequestsQuery,
    ) -> ServiceResult<Vec<AbilityRequest>> {
        let me = caller.timite;
        Ok(self
            .node()
            .acting_as(me)
            .read_space(space, move |s| {
                s.requests()
                    .into_iter()
                    .filter(|r| !query.mine || r.candidates.contains(&me))
                    .filter(|r| !query.open || r.state == RequestState::Open)
                    .map(request_view)
                    .collect()
            })
            .await?)
    }

    /// One request.
    pub async fn request(
        &self,
        caller: &Caller,
        space: SpaceId,
        id: &str,
    ) -> ServiceResult<AbilityRequest> {
        let rid = id.to_string();
        let handle = self.node().acting_as(caller.timite);
        let (mut view, output_schema) = handle
            .read_space(space, move |s| {
                let r = s.request(&rid)?;
                let schema = r
                    .claimant
                    .and_then(|c| declared(s, &c, &r.ability))
                    .map(|d| d.spec.output_schema);
                Some((request_view(r), schema))
            })
            .await?
            .ok_or_else(|| NodeError::NotFound(format!("no request {id} in space {space}")))?;
        // Payloads held out of band are fetched (or waited for) and shown; the result is
        // checked against the provider's output schema here, since the rules never saw it.
        if let Some(p) = &view.input_payload {
            view.input = fetch_json(&handle, space, &p.hash)
                .await?
                .unwrap_or(Value::Null);
        }
        if let Some(p) = view.output_payload.clone() {
            match fetch_json(&handle, space, &p.hash).await? {
                Some(output) => match output_schema.map(|s| json_schema::validate(&s, &output)) {
                    Some(Err(e)) => {
                        view.output_invalid = Some(format!(
                            "the result fails {}'s output schema: {e}",
                            view.ability
                        ))
                    }
                    _ => view.output = Some(output),
                },
                None => view.output_invalid = Some("the result is not JSON".into()),
            }
        }
        Ok(view)
    }

    /// Keeps `value` out of band if its JSON text is over what the document carries inline
    /// ([`INLINE_MAX_BYTES`]), in a space at schema version 6 or later; returns its
    /// reference, or `None` to carry it inline.
    async fn out_of_band(
        &self,
        caller: &Caller,
        space: SpaceId,
        value: &Value,
        what: &str,
    ) -> ServiceResult<Option<PayloadRef>> {
        let text = value.to_string();
        if text.len() <= INLINE_MAX_BYTES {
            return Ok(None);
        }
        let handle = self.node().acting_as(caller.timite);
        let version = handle.read_space(space, |s| s.schema_version()).await?;
        if version < schema::ABILITIES_V2 {
            return Err(NodeError::Invalid(format!(
                "the {what} is {} bytes, over the {INLINE_MAX_BYTES} carried inline; this space \
                 is at schema version {version}, and payloads held out of band need version {}",
                text.len(),
                schema::ABILITIES_V2
            ))
            .into());
        }
        Ok(Some(handle.put_payload(space, text.as_bytes())?))
    }

    /// Checks, before claiming, an input held out of band against the claimant's input
    /// schema (the rules never saw it): an input that fails it is claimed and failed at
    /// once, with the reason, and the caller is told.
    async fn check_input_before_claim(
        &self,
        caller: &Caller,
        space: SpaceId,
        id: &str,
    ) -> ServiceResult<()> {
        let (me, rid) = (caller.timite, id.to_string());
        let handle = self.node().acting_as(me);
        // A request this node does not know yet is not claimed: its input is unknown too (it
        // could arrive between this check and the claim).
        let found = handle
            .read_space(space, move |s| {
                let r = s.request(&rid)?;
                let schema = declared(s, &me, &r.ability).map(|d| d.spec.input_schema);
                Some(r.input_payload.map(|p| (p, r.ability, schema)))
            })
            .await?
            .ok_or_else(|| NodeError::NotFound(format!("no request {id} in this space")))?;
        let Some((input, ability, schema)) = found else {
            return Ok(());
        };
        let hash = input.hash.to_string();
        let why = match fetch_json(&handle, space, &hash).await? {
            None => "is not JSON".to_string(),
            Some(v) => match schema.map(|s| json_schema::validate(&s, &v)) {
                Some(Err(e)) => format!("fails {ability}'s input schema: {e}"),
                _ => return Ok(()),
            },
        };
        let reason = format!("the input held out of band {why}");
        self.ability_step(caller, space, AbilityAct::Claim(id.to_string()))
            .await?;
        let fail = AbilityAct::Fail(id.to_string(), reason.clone());
        self.ability_step(caller, space, fail).await?;
        Err(NodeError::Refused(format!(
            "{reason}: the request is claimed and failed with this reason"
        ))
        .into())
    }

    /// Claims a request as the caller (its target, or an `auto` candidate whose turn came).
    pub async fn claim_request(
        &self,
        caller: &Caller,
        space: SpaceId,
        id: &str,
    ) -> ServiceResult<ChangeHash> {
        self.check_input_before_claim(caller, space, id).await?;
        self.ability_step(caller, space, AbilityAct::Claim(id.to_string()))
            .await
    }

    /// Posts progress on a request the caller won.
    pub async fn request_progress(
        &self,
        caller: &Caller,
        space: SpaceId,
        id: &str,
        note: &str,
    ) -> ServiceResult<ChangeHash> {
        let act = AbilityAct::Progress(id.to_string(), note.to_string());
        self.ability_step(caller, space, act).await
    }

    /// Posts the result of a request the caller won.
    pub async fn request_result(
        &self,
        caller: &Caller,
        space: SpaceId,
        id: &str,
        output: Value,
    ) -> ServiceResult<ChangeHash> {
        let act = match self.out_of_band(caller, space, &output, "output").await? {
            Some(p) => AbilityAct::CompleteOutOfBand(id.to_string(), p),
            None => AbilityAct::Complete(id.to_string(), output),
        };
        self.ability_step(caller, space, act).await
    }

    /// Posts that a request the caller won failed, and why.
    pub async fn request_failure(
        &self,
        caller: &Caller,
        space: SpaceId,
        id: &str,
        reason: &str,
    ) -> ServiceResult<ChangeHash> {
        let act = AbilityAct::Fail(id.to_string(), reason.to_string());
        self.ability_step(caller, space, act).await
    }

    /// Cancels the caller's own request.
    pub async fn cancel_request(
        &self,
        caller: &Caller,
        space: SpaceId,
        id: &str,
    ) -> ServiceResult<ChangeHash> {
        self.ability_step(caller, space, AbilityAct::Cancel(id.to_string()))
            .await
    }

    /// Rates the outcome of the caller's own request, 1 to 5.
    pub async fn rate_request(
        &self,
        caller: &Caller,
        space: SpaceId,
        id: &str,
        score: u8,
    ) -> ServiceResult<ChangeHash> {
        if !(1..=5).contains(&score) {
            return Err(NodeError::Invalid(format!("a rating is 1 to 5, not {score}")).into());
        }
        self.ability_step(caller, space, AbilityAct::Rate(id.to_string(), score))
            .await
    }
}
