//! The rules of abilities and requests (schema version 4; docs/rules.md §5.3 and
//! docs/abilities.md §3–§5): each provider declares and withdraws its own abilities; members
//! with `post` make requests; the target or an `auto` candidate whose turn came claims an open
//! request; only the winning claimant posts progress and an outcome, validated against its
//! output schema; only the requester cancels and rates; nothing but a rating follows an
//! outcome. Every verdict reads the document at the change's dependencies only.

use automerge::legacy::{OpId, OpType};
use automerge::{ObjType, ScalarValue};
use serde_json::Value;

use super::{deny, Effect, Judge};
use crate::abilities::chains::{CHAIN, STEP};
use crate::abilities::{
    self, Abilities, PayloadRef, Record, RequestState, Step, AUTO, AUTO_TURN_MS, CANDIDATES,
    CREDENTIAL, DEADLINE, DESCRIPTION, INPUT, INPUT_HASH, INPUT_SCHEMA, INPUT_SIZE,
    MAX_DECLARATIONS, MAX_DESCRIPTION_BYTES, MAX_TIMEOUT_MS, OUTPUT_SCHEMA, PRICE, RESULT_HASH,
    RESULT_SIZE, TARGET,
};
use crate::attestation::{Attestation, Attesting, Claimed, ATTESTATION, MAX_ATTESTATION_BYTES};
use crate::roles::Permission;
use crate::tokens::REWARD;
use crate::{doc, json_schema, schema, Rejection};

/// A declaration this change makes, and which of its required fields it wrote.
pub(super) struct DeclarationBeingMade {
    map: OpId,
    name: String,
    description: bool,
    input_schema: bool,
    output_schema: bool,
    /// Its `credential` and `attestation` (docs/abilities.md §13).
    credential: Option<String>,
    attestation: Option<String>,
}

/// A request this change makes, and its fields.
#[derive(Default)]
pub(super) struct RequestBeingMade {
    map: Option<OpId>,
    author: bool,
    ability: Option<String>,
    input: Option<String>,
    input_hash: Option<String>,
    input_size: Option<u64>,
    target: Option<String>,
    candidates: Option<String>,
    at: Option<i64>,
    deadline: Option<i64>,
    /// The chain it is a step of, and the step (schema version 6).
    chain: Option<String>,
    step: Option<u64>,
    /// Its reward in tokens (schema version 9).
    reward: Option<u64>,
}

/// A result this change posts on a request: inline (`result <D>`) or out of band
/// (`result_hash <D>` and `result_size <D>`, which come together, without the inline form).
#[derive(Default)]
pub(super) struct ResultBeingMade {
    /// The request's id.
    id: String,
    inline: bool,
    hash: Option<String>,
    size: Option<u64>,
}

fn json(what: &str, s: &str) -> Result<Value, Rejection> {
    serde_json::from_str(s).map_err(|e| Rejection::Unauthorized(format!("{what} is not JSON: {e}")))
}

impl Judge<'_> {
    pub(super) fn abilities(&self) -> Abilities<'_> {
        Abilities::new(self.at.view).judging(self.space, self.verifier, self.cache)
    }

    /// `abilities["<A> <name>"]`: a member declares (makes the map, whole) or withdraws
    /// (deletes it) its own ability, at most [`MAX_DECLARATIONS`] of them.
    pub(super) fn check_abilities(
        &mut self,
        op_id: &OpId,
        key: Option<&str>,
        op: &automerge::legacy::Op,
    ) -> Result<(), Rejection> {
        let name = match key.and_then(|k| k.split_once(' ')) {
            Some((did, name)) if did == self.author_str => name.to_string(),
            _ => {
                return deny(format!(
                    "{}; a timite declares and withdraws only its own abilities, under \
                     `<its DID> <name>`",
                    self.who
                ))
            }
        };
        abilities::check_name(&name).map_err(Rejection::Unauthorized)?;
        self.member_writing("declaring an ability")?;
        let provider = self.author;
        match &op.action {
            OpType::Make(ObjType::Map) => {
                let a = self.abilities();
                if a.declaration(&self.author_str, &name).is_none()
                    && a.count_of(&self.author_str) + self.declaring.len() >= MAX_DECLARATIONS
                {
                    return deny(format!(
                        "{}; a timite declares at most {MAX_DECLARATIONS} abilities in a space",
                        self.who
                    ));
                }
                self.declaring.push(DeclarationBeingMade {
                    map: op_id.clone(),
                    name: name.clone(),
                    description: false,
                    input_schema: false,
                    output_schema: false,
                    credential: None,
                    attestation: None,
                });
                self.effects
                    .push(Effect::AbilityDeclared { provider, name });
            }
            OpType::Delete => self
                .effects
                .push(Effect::AbilityWithdrawn { provider, name }),
            _ => {
                return deny("a declaration is a map, made whole, or deleted to withdraw it".into())
            }
        }
        Ok(())
    }

    /// The fields of a declaration, written in the change that makes it.
    pub(super) fn check_declaration(
        &mut self,
        k: &str,
        obj: &OpId,
        key: Option<&str>,
        op: &automerge::legacy::Op,
    ) -> Result<(), Rejection> {
        let Some(i) = self.declaring.iter().position(|d| d.map == *obj) else {
            return deny(format!(
                "{}; declaration `{k}` is written whole, in the change that makes it: declare \
                 again to change it",
                self.who
            ));
        };
        let d = &mut self.declaring[i];
        match (key, &op.action) {
            (Some(DESCRIPTION), OpType::Put(ScalarValue::Str(s)))
                if !s.trim().is_empty() && s.len() <= MAX_DESCRIPTION_BYTES =>
            {
                d.description = true;
            }
            (Some(DESCRIPTION), _) => {
                return deny(format!(
                    "a description is 1 to {MAX_DESCRIPTION_BYTES} bytes of text"
                ))
            }
            (Some(k @ (INPUT_SCHEMA | OUTPUT_SCHEMA)), OpType::Put(ScalarValue::Str(s))) => {
                json_schema::check(&json(k, s)?)
                    .map_err(|e| Rejection::Unauthorized(format!("{k}: {e}")))?;
                if k == INPUT_SCHEMA {
                    d.input_schema = true;
                } else {
                    d.output_schema = true;
                }
            }
            (Some(CREDENTIAL), OpType::Put(ScalarValue::Str(s))) if !s.is_empty() => {
                d.credential = Some(s.to_string());
            }
            (Some(ATTESTATION), OpType::Put(ScalarValue::Str(s)))
                if self.at.version >= schema::ABILITIES_V2
                    && !s.is_empty()
                    && s.len() <= MAX_ATTESTATION_BYTES =>
            {
                d.attestation = Some(s.to_string());
            }
            (Some(PRICE), OpType::Put(ScalarValue::Uint(_))) => {}
            (Some(doc::AT), OpType::Put(ScalarValue::Timestamp(_))) => {}
            _ => {
                return deny(
                    "a declaration holds description, input_schema and output_schema (JSON \
                     Schemas, as strings), and optionally credential, price (unsigned) and at \
                     (a timestamp)"
                        .into(),
                )
            }
        }
        Ok(())
    }

    /// Every declaration this change makes has its required fields.
    pub(super) fn check_declarations_made(&self) -> Result<(), Rejection> {
        match self
            .declaring
            .iter()
            .find(|d| !(d.description && d.input_schema && d.output_schema))
        {
            Some(d) => deny(format!(
                "the declaration of `{}` needs description, input_schema and output_schema",
                d.name
            )),
            None => self.check_attestations_made(),
        }
    }

    /// The document at the change's dependencies, for verdicts on attestations.
    pub(super) fn attesting(&self) -> Attesting<'_> {
        Attesting {
            view: self.at.view,
            space: self.space,
            verifier: self.verifier,
            cache: self.cache,
        }
    }

    /// From schema version 6, every declaration this change makes that names or carries a
    /// credential is attested by it, judged at the change's dependencies and time
    /// (docs/abilities.md §13).
    fn check_attestations_made(&self) -> Result<(), Rejection> {
        if self.at.version < schema::ABILITIES_V2 {
            return Ok(());
        }
        let attesting = self.attesting();
        for d in &self.declaring {
            let verdict = attesting.verdict(&Claimed {
                provider: &self.author,
                name: &d.name,
                credential: d.credential.as_deref(),
                attestation: d.attestation.as_deref(),
                at_ms: self.time,
            });
            if let Attestation::Refused(why) = verdict {
                return deny(format!(
                    "{}; its declaration of `{}` is {why}",
                    self.who, d.name
                ));
            }
        }
        Ok(())
    }

    /// An append to an insert-only list of maps that members with `post` write (`requests`,
    /// `chains`): refused in an end-to-end encrypted space, and unless it inserts a map.
    pub(super) fn check_appended(
        &self,
        op: &automerge::legacy::Op,
        things: &str,
        short: &str,
        doing: &str,
    ) -> Result<(), Rejection> {
        if self.encrypted {
            return deny(format!(
                "{things} are not carried in end-to-end encrypted spaces yet \
                 (docs/abilities.md §9)"
            ));
        }
        if !op.insert || !matches!(op.action, OpType::Make(ObjType::Map)) {
            return deny(format!(
                "{}; {short} are only appended, as maps, never replaced or deleted",
                self.who
            ));
        }
        self.may(Permission::Post, doing)
    }

    /// `requests`: a member with `post` appends a request (one a change), in a space that is
    /// not end-to-end encrypted; requests are never replaced or deleted.
    pub(super) fn check_requests(
        &mut self,
        op_id: &OpId,
        op: &automerge::legacy::Op,
    ) -> Result<(), Rejection> {
        self.check_appended(op, "ability requests", "requests", "requesting an ability")?;
        if self.request.is_some() {
            return deny("a change makes one request at most".into());
        }
        self.request = Some(RequestBeingMade {
            map: Some(op_id.clone()),
            ..RequestBeingMade::default()
        });
        self.effects.push(Effect::Requested {
            id: format!("{}@{}", op_id.counter(), self.actor),
        });
        Ok(())
    }

    /// A write into a request map: a field of the request this change makes, or a step of an
    /// existing one.
    pub(super) fn check_request(
        &mut self,
        obj: &OpId,
        key: Option<&str>,
        op: &automerge::legacy::Op,
    ) -> Result<(), Rejection> {
        if let Some(r) = self
            .request
            .as_mut()
            .filter(|r| r.map.as_ref() == Some(obj))
        {
            match (key, &op.action) {
                // (`check_op` checked that it is the author's own DID.)
                (Some(doc::AUTHOR), _) => r.author = true,
                (Some(k), OpType::Put(ScalarValue::Str(s)))
                    if [abilities::ABILITY, INPUT, TARGET, CANDIDATES].contains(&k) =>
                {
                    let field = match k {
                        abilities::ABILITY => &mut r.ability,
                        INPUT => &mut r.input,
                        TARGET => &mut r.target,
                        _ => &mut r.candidates,
                    };
                    *field = Some(s.to_string());
                }
                (Some(INPUT_HASH), OpType::Put(ScalarValue::Str(s))) => {
                    r.input_hash = Some(s.to_string())
                }
                (Some(INPUT_SIZE), OpType::Put(ScalarValue::Uint(n))) => r.input_size = Some(*n),
                (Some(doc::AT), OpType::Put(ScalarValue::Timestamp(t))) => r.at = Some(*t),
                (Some(DEADLINE), OpType::Put(ScalarValue::Timestamp(t))) => r.deadline = Some(*t),
                (Some(CHAIN), OpType::Put(ScalarValue::Str(s)))
                    if self.at.version >= schema::ABILITIES_V2 =>
                {
                    r.chain = Some(s.to_string())
                }
                (Some(STEP), OpType::Put(ScalarValue::Uint(i)))
                    if self.at.version >= schema::ABILITIES_V2 =>
                {
                    r.step = Some(*i)
                }
                (Some(REWARD), OpType::Put(ScalarValue::Uint(n)))
                    if self.at.version >= schema::SOCIAL =>
                {
                    r.reward = Some(*n)
                }
                _ => {
                    return deny(
                        "a new request holds author, ability, input (or input_hash, a string, \
                         and input_size, unsigned), target, candidates, at and deadline; its \
                         steps come in later changes"
                            .into(),
                    )
                }
            }
            return Ok(());
        }
        let id = format!("{}@{}", obj.counter(), obj.actor());
        let (ex, _) = self
            .doc
            .import(&id)
            .map_err(|e| Rejection::Unauthorized(format!("request {id}: {e}")))?;
        let Some(rec) = Record::read(&self.at.view, &ex) else {
            return deny(format!(
                "{}; request {id} is not complete at this change's dependencies",
                self.who
            ));
        };
        let k = key.unwrap_or_default();
        if let Some((kind @ (RESULT_HASH | RESULT_SIZE), keyed_by)) = k.split_once(' ') {
            return self.check_result_ref(id, &rec, kind, keyed_by, &op.action);
        }
        let Some((step, keyed_by)) = Step::of_key(k) else {
            return deny(format!("`{k}` is not a step of a request"));
        };
        if matches!(op.action, OpType::Delete) {
            return deny(format!("{}; a request's steps are never undone", self.who));
        }
        if step != Step::Rate && keyed_by.is_some_and(|d| d != self.author_str) {
            return deny(format!(
                "{}; a timite writes only its own claim, progress and outcome",
                self.who
            ));
        }
        let state = rec.state();
        match step {
            Step::Claim | Step::Progress | Step::Result | Step::Failure => {
                self.check_provider_step(&id, &rec, step, &op.action)?;
                if step == Step::Result {
                    self.result_made(&id).inline = true;
                }
            }
            Step::Cancel | Step::Rate => {
                if rec.requester != self.author_str {
                    return deny(format!(
                        "{}; only the requester cancels or rates request {id}",
                        self.who
                    ));
                }
                let ok = match (step, &op.action) {
                    (Step::Cancel, OpType::Put(ScalarValue::Timestamp(_))) => {
                        if state.is_final() {
                            return deny(format!(
                                "request {id} is {}: it can no longer be cancelled",
                                state.as_str()
                            ));
                        }
                        true
                    }
                    (Step::Rate, OpType::Put(ScalarValue::Int(s))) => {
                        self.may(Permission::Rate, "rating an outcome")?;
                        if !matches!(state, RequestState::Completed | RequestState::Failed) {
                            return deny(format!(
                                "request {id} is {}: only an outcome is rated",
                                state.as_str()
                            ));
                        }
                        if keyed_by != rec.winner() {
                            return deny(format!(
                                "a rating of request {id} rates its winning claimant's outcome"
                            ));
                        }
                        if keyed_by.is_some_and(|w| rec.ratings.contains_key(w)) {
                            return deny(format!("request {id} is rated already"));
                        }
                        (1..=5).contains(s)
                    }
                    _ => false,
                };
                if !ok {
                    return deny(
                        "a cancellation is a timestamp; a rating an integer from 1 to 5".into(),
                    );
                }
            }
        }
        self.effects.push(Effect::RequestStep { id, step });
        Ok(())
    }

    /// A claim, progress or an outcome, by the author (whose own key it writes), before the
    /// request's deadline by its change's time.
    fn check_provider_step(
        &self,
        id: &str,
        rec: &Record,
        step: Step,
        action: &OpType,
    ) -> Result<(), Rejection> {
        if self.time > rec.deadline {
            return deny(format!(
                "{}; request {id}'s deadline ({}) passed before this change ({})",
                self.who, rec.deadline, self.time
            ));
        }
        let state = rec.state();
        if step == Step::Claim {
            if state != RequestState::Open {
                return deny(format!(
                    "{}; request {id} is {}: only an open request is claimed",
                    self.who,
                    state.as_str()
                ));
            }
            let Some(turn) = rec.turn_of(&self.author_str) else {
                return deny(format!(
                    "{}; request {id} does not ask it (its target, or an `auto` candidate, \
                     claims)",
                    self.who
                ));
            };
            let starts = rec.at + turn as i64 * AUTO_TURN_MS as i64;
            if self.time < starts {
                return deny(format!(
                    "{}; its turn at request {id} starts at {starts}",
                    self.who
                ));
            }
            return match action {
                OpType::Put(ScalarValue::Timestamp(t)) if *t == self.time => Ok(()),
                _ => deny("a claim holds its change's time".into()),
            };
        }
        self.check_winner_posts(id, rec)?;
        let OpType::Put(ScalarValue::Str(s)) = action else {
            return deny("progress, a result and a failure are strings".into());
        };
        match step {
            Step::Result => {
                let output = json("the output", s)?;
                let Some(d) = self.abilities().declaration(&self.author_str, &rec.ability) else {
                    return deny(format!(
                        "{}; it no longer declares {}: post a failure",
                        self.who, rec.ability
                    ));
                };
                json_schema::validate(&d.spec.output_schema, &output).map_err(|e| {
                    Rejection::Unauthorized(format!(
                        "the output fails {}'s output schema: {e}",
                        rec.ability
                    ))
                })
            }
            Step::Failure if s.trim().is_empty() => deny("a failure gives its reason".into()),
            _ => Ok(()),
        }
    }

    /// The author is the winning claimant of a claimed request: it may post progress or an
    /// outcome.
    fn check_winner_posts(&self, id: &str, rec: &Record) -> Result<(), Rejection> {
        if rec.winner() != Some(self.author_str.as_str()) {
            return deny(format!(
                "{}; only the winning claimant of request {id} posts progress or an outcome",
                self.who
            ));
        }
        let state = rec.state();
        if state != RequestState::Claimed {
            return deny(format!(
                "request {id} is {}: nothing but a rating follows",
                state.as_str()
            ));
        }
        Ok(())
    }

    /// The entry of the result this change posts on request `id`.
    fn result_made(&mut self, id: &str) -> &mut ResultBeingMade {
        let i = match self.results_made.iter().position(|r| r.id == id) {
            Some(i) => i,
            None => {
                self.results_made.push(ResultBeingMade {
                    id: id.to_string(),
                    ..ResultBeingMade::default()
                });
                self.results_made.len() - 1
            }
        };
        &mut self.results_made[i]
    }

    /// `result_hash <D>` or `result_size <D>` (schema version 6): an out-of-band result, by
    /// the winning claimant `D` itself, before the deadline, while it still declares the
    /// ability. Only its shape is judged: the rules never see the bytes, so the output schema
    /// is checked by the requester's node (docs/abilities.md §14).
    fn check_result_ref(
        &mut self,
        id: String,
        rec: &Record,
        kind: &str,
        keyed_by: &str,
        action: &OpType,
    ) -> Result<(), Rejection> {
        if self.at.version < schema::ABILITIES_V2 {
            return deny(format!(
                "`{kind}` is not in this space's schema (version {}): results held out of band \
                 need version {}",
                self.at.version,
                schema::ABILITIES_V2
            ));
        }
        if keyed_by != self.author_str {
            return deny(format!(
                "{}; a timite writes only its own claim, progress and outcome",
                self.who
            ));
        }
        if self.time > rec.deadline {
            return deny(format!(
                "{}; request {id}'s deadline ({}) passed before this change ({})",
                self.who, rec.deadline, self.time
            ));
        }
        self.check_winner_posts(&id, rec)?;
        if self
            .abilities()
            .declaration(&self.author_str, &rec.ability)
            .is_none()
        {
            return deny(format!(
                "{}; it no longer declares {}: post a failure",
                self.who, rec.ability
            ));
        }
        let made = self.result_made(&id);
        match (kind, action) {
            (RESULT_HASH, OpType::Put(ScalarValue::Str(h))) => made.hash = Some(h.to_string()),
            (RESULT_SIZE, OpType::Put(ScalarValue::Uint(n))) => made.size = Some(*n),
            _ => {
                return deny(format!(
                    "`{kind}` is a string (`sha256:<hex>`) for result_hash, an unsigned \
                     integer for result_size; never deleted"
                ))
            }
        }
        if kind == RESULT_HASH {
            self.effects.push(Effect::RequestStep {
                id,
                step: Step::Result,
            });
        }
        Ok(())
    }

    /// Every result this change posts is whole: inline, or out of band with both its hash and
    /// its size, in the one text form and within the bound; never both forms.
    pub(super) fn check_results_made(&self) -> Result<(), Rejection> {
        for r in &self.results_made {
            match (r.inline, &r.hash, r.size) {
                (true, None, None) => {}
                (false, Some(h), Some(n)) => {
                    PayloadRef::parse(h, n).map_err(|e| {
                        Rejection::Unauthorized(format!("the result of request {}: {e}", r.id))
                    })?;
                }
                _ => {
                    return deny(format!(
                        "the result of request {} is `result <did>` or, held out of band, both \
                         `result_hash <did>` and `result_size <did>`",
                        r.id
                    ))
                }
            }
        }
        Ok(())
    }

    /// A request, once the change wrote all of it: complete, its time the change's, its
    /// input valid for its target (or for each `auto` candidate), its candidates exactly who
    /// it asks, as every node computes them at the change's dependencies.
    pub(super) fn check_request_made(&self, r: RequestBeingMade) -> Result<(), Rejection> {
        let link = (r.chain.clone(), r.step);
        let reward = r.reward;
        let chain_step = link != (None, None);
        let (true, Some(ability), Some(target), Some(candidates), Some(at), Some(deadline)) = (
            r.author,
            r.ability,
            r.target,
            r.candidates,
            r.at,
            r.deadline,
        ) else {
            return deny(
                "a request needs author, ability, input, target, candidates, at and deadline"
                    .into(),
            );
        };
        // The input: inline JSON, or (from version 6) a hash and a size, never both.
        let input = match (r.input, r.input_hash, r.input_size) {
            (Some(input), None, None) => Some(json("the input", &input)?),
            (None, Some(hash), Some(size)) => {
                if self.at.version < schema::ABILITIES_V2 {
                    return deny(format!(
                        "this space is at schema version {}: an input held out of band \
                         (input_hash) needs version {}",
                        self.at.version,
                        schema::ABILITIES_V2
                    ));
                }
                PayloadRef::parse(&hash, size).map_err(Rejection::Unauthorized)?;
                None
            }
            _ => {
                return deny(
                    "a request's input is `input` or, held out of band, both `input_hash` and \
                     `input_size`"
                        .into(),
                )
            }
        };
        abilities::check_name(&ability).map_err(Rejection::Unauthorized)?;
        if at != self.time {
            return deny("a request's `at` is its change's time".into());
        }
        if !(1..=MAX_TIMEOUT_MS as i64).contains(&(deadline - at)) {
            return deny(format!(
                "a request's deadline is 1 ms to {MAX_TIMEOUT_MS} ms after it"
            ));
        }
        match &input {
            Some(input) => self.check_chain_step(link, &ability, &target, input, deadline)?,
            None if link != (None, None) => {
                return deny(
                    "a step of a chain carries its input inline: the rules compare it with the \
                     previous step's output"
                        .into(),
                )
            }
            None => {}
        }
        self.check_reward(reward, &target, &ability, chain_step)?;
        let a = self.abilities();
        let expected = if target == AUTO {
            let order = a.auto_order_for(&self.author_str, &ability, input.as_ref(), reward);
            if order.is_empty() {
                return deny(format!(
                    "no other member provides {ability} for this input{}",
                    crate::tokens::price_note(self.at.version)
                ));
            }
            order
        } else {
            Self::target_did(&target)?;
            if target == self.author_str {
                return deny(format!("{}; nobody asks themself", self.who));
            }
            let Some(d) = a
                .declaration(&target, &ability)
                .filter(|_| a.is_active(&target))
            else {
                return deny(format!("{target} is not a member that declares {ability}"));
            };
            // An input held out of band is checked by the target's node (§14).
            if let Some(input) = &input {
                json_schema::validate(&d.spec.input_schema, input).map_err(|e| {
                    Rejection::Unauthorized(format!(
                        "the input fails {ability}'s input schema: {e}"
                    ))
                })?;
            }
            vec![target]
        };
        let listed: Vec<String> = serde_json::from_str(&candidates).unwrap_or_default();
        if listed != expected {
            return deny(format!(
                "the request's candidates must be {}, the order every node computes at its \
                 dependencies",
                serde_json::to_string(&expected).unwrap_or_default()
            ));
        }
        Ok(())
    }
}
