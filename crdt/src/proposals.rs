//! Proposals and votes (schema version [`crate::schema::SOCIAL`], docs/governance.md
//! "Proposals and votes"): decisions a space takes by vote, whose passing close carries the
//! action's writes, which the rules then accept without the `roles` or `meta` permission.
//!
//! ```text
//! proposals: List [ Map { author: Str(DID), action: Str(JSON), voters: Str(JSON),
//!                   quorum: Uint, threshold: Uint (per mille), closes_after?: Uint,
//!                   at: Timestamp,
//!                   votes: Map { <DID>: Map { choice: Str("yes" | "no" | "abstain") } },
//!                   closed?: Map { by: Str(DID), outcome: Str, yes: Uint, no: Uint,
//!                                  abstain: Uint, eligible: Uint } } ]
//! ```
//! A proposal's id is the Automerge id of its map (`counter@actor`). Where it stands is not
//! stored but computed ([`Proposals::tally`], [`decision`]) from the document at some heads: the
//! rules at a change's dependencies, readers now. Two concurrent closes both stay in the
//! document (a conflict on `closed`); the proposal reads as passed if any of them passed (its
//! enactment happened), else failed if any failed, else withdrawn, and shows that close's
//! figures, the one Automerge shows first among equals, alike on every replica.

use automerge::transaction::Transactable;
use automerge::{ObjId, ObjType, ReadDoc, ScalarValue, Value};
use serde::{Deserialize, Serialize};
use tim_protocol::api::{
    Choice, NewProposal, Outcome, ProposalAction, ProposalView, Tally, VoteView, DEFAULT_THRESHOLD,
};
use tim_protocol::Did;

use std::cell::OnceCell;

use crate::doc::{self, View};
use crate::earned::Earning;
use crate::notices::Notices;
use crate::reputation::Ledger;
use crate::roles::Grant;
use crate::space::millis;
use crate::{schema, Applied, Role, Space, SpaceError, Writer};

pub(crate) const ACTION: &str = "action";
pub(crate) const VOTERS: &str = "voters";
pub(crate) const QUORUM: &str = "quorum";
pub(crate) const THRESHOLD: &str = "threshold";
pub(crate) const CLOSES_AFTER: &str = "closes_after";
pub(crate) const VOTES: &str = "votes";
pub(crate) const CLOSED: &str = "closed";
pub(crate) const CHOICE: &str = "choice";
pub(crate) const OUTCOME: &str = "outcome";
pub(crate) const YES: &str = "yes";
pub(crate) const NO: &str = "no";
pub(crate) const ABSTAIN: &str = "abstain";
pub(crate) const ELIGIBLE: &str = "eligible";

/// Who votes on a proposal (its `voters` field, JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Voters {
    /// The least role that votes: members whose effective role ranks as high, but the banned.
    pub(crate) min_role: String,
    /// The least reputation score that votes, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) min_reputation: Option<u64>,
}

impl Voters {
    /// Parses `voters` as the document stores it.
    pub(crate) fn parse(json: &str) -> Result<(Self, Role), String> {
        let v: Self = serde_json::from_str(json).map_err(|e| {
            format!("a proposal's voters are {{\"min_role\": ROLE, \"min_reputation\"?: N}}: {e}")
        })?;
        let role = Role::parse(&v.min_role)
            .filter(|r| *r != Role::Banned)
            .ok_or_else(|| format!("`{}` is not a role that votes", v.min_role))?;
        Ok((v, role))
    }
}

/// A close of a proposal, as written.
#[derive(Debug, Clone)]
pub(crate) struct Close {
    pub(crate) by: Did,
    pub(crate) outcome: Outcome,
    pub(crate) tally: Tally,
}

/// A proposal as the document holds it at some heads.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub(crate) obj: ObjId,
    pub(crate) id: String,
    pub(crate) author: Did,
    pub(crate) action: ProposalAction,
    pub(crate) min_role: Role,
    pub(crate) min_reputation: Option<u64>,
    pub(crate) quorum: u64,
    pub(crate) threshold: u64,
    pub(crate) closes_after: Option<u64>,
    pub(crate) at: i64,
    pub(crate) votes: Option<ObjId>,
    /// Its closes (two after concurrent closes), the one that decides the outcome first.
    pub(crate) closes: Vec<Close>,
}

impl Record {
    /// How it ended, once closed: passed if any close passed, else failed if any failed,
    /// else withdrawn.
    pub(crate) fn close(&self) -> Option<&Close> {
        [Outcome::Passed, Outcome::Failed, Outcome::Withdrawn]
            .iter()
            .find_map(|o| self.closes.iter().find(|c| c.outcome == *o))
    }
}

/// How a close would end a proposal with `tally` now, if it is decided: passed once it passes;
/// failed once every eligible voter has voted, or `closes_after` votes are cast, and it does
/// not pass.
pub(crate) fn decision(r: &Record, tally: &Tally) -> Option<Outcome> {
    if tally.passes(r.quorum, r.threshold) {
        return Some(Outcome::Passed);
    }
    let all_voted = tally.cast() >= tally.eligible;
    let enough = r.closes_after.is_some_and(|n| tally.cast() >= n);
    (all_voted || enough).then_some(Outcome::Failed)
}

/// The proposals of a space, read at some heads.
pub(crate) struct Proposals<'a> {
    view: View<'a>,
    /// The revocation notices at the same heads: a member they no longer admit does not vote.
    notices: Notices<'a>,
    members: Option<ObjId>,
    /// The earned roles here, read when first needed.
    earning: OnceCell<Earning>,
    /// The reputation ledger here, read when first needed (it walks the whole document).
    ledger: OnceCell<Ledger>,
}

impl<'a> Proposals<'a> {
    pub(crate) fn new(notices: Notices<'a>) -> Self {
        let view = notices.view;
        let members = doc::root_obj(view.doc, &schema::MEMBERS, view.heads);
        Self {
            view,
            notices,
            members,
            earning: OnceCell::new(),
            ledger: OnceCell::new(),
        }
    }

    fn ledger(&self) -> &Ledger {
        self.ledger.get_or_init(|| Ledger::at(&self.notices))
    }

    /// Every proposal map, in order (every copy of the container).
    pub(crate) fn maps(&self) -> Vec<ObjId> {
        doc::root_objs(self.view.doc, &schema::PROPOSALS, self.view.heads)
            .iter()
            .flat_map(|l| self.view.list(l))
            .collect()
    }

    /// The proposal with id `id`, if it exists here.
    pub(crate) fn find(&self, id: &str) -> Option<Record> {
        let (obj, _) = self.view.doc.import(id).ok()?;
        self.record(&obj)
    }

    /// Reads the proposal map `obj`; `None` if it is not a whole proposal here.
    pub(crate) fn record(&self, obj: &ObjId) -> Option<Record> {
        let v = &self.view;
        let uint = |k| match v.scalar(obj, k) {
            Some(ScalarValue::Uint(u)) => Some(u),
            _ => None,
        };
        let (voters, min_role) = Voters::parse(&v.get_str(obj, VOTERS)?).ok()?;
        let at = match v.scalar(obj, doc::AT) {
            Some(ScalarValue::Timestamp(t)) => t,
            _ => return None,
        };
        let votes = v.child(obj, VOTES);
        let closes = doc::all_values(v.doc, obj, CLOSED, v.heads)
            .into_iter()
            .filter_map(|(val, id)| match val {
                Value::Object(ObjType::Map) => self.close_of(&id),
                _ => None,
            })
            .collect();
        Some(Record {
            obj: obj.clone(),
            id: obj.to_string(),
            author: v.get_str(obj, doc::AUTHOR)?.parse().ok()?,
            action: ProposalAction::parse(&v.get_str(obj, ACTION)?).ok()?,
            min_role,
            min_reputation: voters.min_reputation,
            quorum: uint(QUORUM)?,
            threshold: uint(THRESHOLD)?,
            closes_after: uint(CLOSES_AFTER),
            at,
            votes,
            closes,
        })
    }

    fn close_of(&self, obj: &ObjId) -> Option<Close> {
        let v = &self.view;
        let uint = |k| match v.scalar(obj, k) {
            Some(ScalarValue::Uint(u)) => Some(u),
            _ => None,
        };
        Some(Close {
            by: v.get_str(obj, doc::BY)?.parse().ok()?,
            outcome: v.get_str(obj, OUTCOME)?.parse().ok()?,
            tally: Tally {
                yes: uint(YES)?,
                no: uint(NO)?,
                abstain: uint(ABSTAIN)?,
                eligible: uint(ELIGIBLE)?,
            },
        })
    }

    /// A role's rank here (a role the space does not define ranks as `guest`).
    fn rank(&self, role: Role) -> u64 {
        Grant::of(role, self.def(role)).rank
    }

    /// The definition of `role` here, if it is a role the space defines.
    fn def(&self, role: Role) -> Option<crate::RoleDef> {
        match role {
            Role::Custom(name) => doc::role_def(self.view.doc, &name, self.view.heads),
            _ => None,
        }
    }

    /// Whether `did` may vote on `r` here: a member, not banned (nor treated as banned by a
    /// revocation notice), whose effective role (earned roles included) ranks at least as
    /// high as `min_role`, and whose reputation reaches `min_reputation` if the proposal sets
    /// one. The ledger is read only when an earned role or a reputation floor could matter.
    pub(crate) fn eligible(&self, r: &Record, did: &str) -> bool {
        let Some(members) = &self.members else {
            return false;
        };
        let Some(assigned) = self.view.role(members, did) else {
            return false;
        };
        let Ok(member) = did.parse::<Did>() else {
            return false;
        };
        if assigned == Role::Banned || self.notices.no_longer_admitted(members, did).is_some() {
            return false;
        }
        let need = self.rank(r.min_role);
        let grant = Grant::of(assigned, self.def(assigned));
        let ranks = grant.rank >= need || {
            let earning = self.earning.get_or_init(|| Earning::at(&self.view));
            earning.top_rank() >= need
                && earning
                    .hold(&member, grant, || Some(self.ledger()))
                    .grant
                    .rank
                    >= need
        };
        ranks
            && r.min_reputation.is_none_or(|n| {
                u64::try_from(self.ledger().reputation(&member).score).is_ok_and(|s| s >= n)
            })
    }

    /// The eligible voters of `r` here.
    fn electorate(&self, r: &Record) -> Vec<String> {
        let Some(members) = &self.members else {
            return vec![];
        };
        self.view
            .keys(members)
            .into_iter()
            .filter(|d| self.eligible(r, d))
            .collect()
    }

    /// `did`'s current choice on `r`, if it voted.
    pub(crate) fn choice(&self, r: &Record, did: &str) -> Option<Choice> {
        let vote = self.view.child(r.votes.as_ref()?, did)?;
        self.view.get_str(&vote, CHOICE)?.parse().ok()
    }

    /// Whether `did` has a vote (a vote map) on `r` here.
    pub(crate) fn has_voted(&self, r: &Record, did: &str) -> bool {
        r.votes
            .as_ref()
            .is_some_and(|v| self.view.child(v, did).is_some())
    }

    /// The live votes of `r`'s eligible voters here.
    pub(crate) fn votes(&self, r: &Record) -> Vec<VoteView> {
        self.electorate(r)
            .into_iter()
            .filter_map(|d| {
                Some(VoteView {
                    choice: self.choice(r, &d)?,
                    voter: d.parse().ok()?,
                })
            })
            .collect()
    }

    /// The live tally of `r` here: its eligible voters, and their current choices.
    pub(crate) fn tally(&self, r: &Record) -> Tally {
        let electorate = self.electorate(r);
        let mut t = Tally {
            eligible: electorate.len() as u64,
            ..Tally::default()
        };
        for d in &electorate {
            match self.choice(r, d) {
                Some(Choice::Yes) => t.yes += 1,
                Some(Choice::No) => t.no += 1,
                Some(Choice::Abstain) => t.abstain += 1,
                None => {}
            }
        }
        t
    }

    /// The view of `r` for `caller`.
    fn view_of(&self, r: &Record, caller: Option<&Did>) -> ProposalView {
        let live = self.tally(r);
        let close = r.close();
        ProposalView {
            id: r.id.clone(),
            author: r.author,
            action: r.action.clone(),
            min_role: r.min_role.as_str().to_string(),
            min_reputation: r.min_reputation,
            quorum: r.quorum,
            threshold: r.threshold,
            closes_after: r.closes_after,
            at: u64::try_from(r.at).unwrap_or(0),
            tally: close.map_or(live, |c| c.tally),
            votes: self.votes(r),
            outcome: close.map(|c| c.outcome),
            decided: if close.is_some() {
                None
            } else {
                decision(r, &live)
            },
            closed_by: close.map(|c| c.by),
            my_vote: caller.and_then(|d| self.choice(r, &d.to_string())),
        }
    }
}

impl Space {
    fn proposals_now(&self) -> Proposals<'_> {
        Proposals::new(self.notices_now())
    }

    /// The space's proposals, in order, as `caller` sees them (its own vote).
    pub fn proposals(&self, caller: Option<&Did>) -> Vec<ProposalView> {
        let p = self.proposals_now();
        p.maps()
            .iter()
            .filter_map(|m| p.record(m))
            .map(|r| p.view_of(&r, caller))
            .collect()
    }

    /// The proposal `id`, as `caller` sees it.
    pub fn proposal(&self, id: &str, caller: Option<&Did>) -> Option<ProposalView> {
        let p = self.proposals_now();
        p.find(id).map(|r| p.view_of(&r, caller))
    }

    /// The ids of the open proposals that are decided now: a close would be accepted.
    pub fn decided_open(&self) -> Vec<String> {
        self.proposals(None)
            .into_iter()
            .filter(|v| v.outcome.is_none() && v.decided.is_some())
            .map(|v| v.id)
            .collect()
    }

    /// The string under meta key `key` now, if any: what a `meta` proposal replaces
    /// (`tim propose SPACE budget|threshold` change one entry of it).
    pub fn meta_value(&self, key: &str) -> Option<String> {
        let meta = doc::root_obj(self.doc(), &schema::META, None)?;
        doc::get_str(self.doc(), &meta, key)
    }

    /// Whether proposal `id` is decided and open in the document at `heads` (the heads a
    /// change made: what its author's node saw right after it).
    pub fn decided_at(&self, id: &str, heads: &[tim_protocol::ChangeHash]) -> bool {
        let heads: Vec<automerge::ChangeHash> = heads
            .iter()
            .map(|h| automerge::ChangeHash(*h.as_bytes()))
            .collect();
        let p = Proposals::new(self.notices_at(Some(&heads)));
        p.find(id)
            .is_some_and(|r| r.close().is_none() && decision(&r, &p.tally(&r)).is_some())
    }

    /// Proposes `p` as `who` (a member with `post`, schema version 9). Returns the change and
    /// the proposal's id.
    pub fn propose(
        &mut self,
        who: &Writer,
        p: &NewProposal,
        at_ms: u64,
    ) -> Result<(Applied, String), SpaceError> {
        let list = doc::root_obj(self.doc(), &schema::PROPOSALS, None).ok_or_else(|| {
            SpaceError::Invalid(format!(
                "this space is at schema version {}; proposals need version {} (migrate it)",
                self.schema_version(),
                schema::SOCIAL
            ))
        })?;
        let voters = serde_json::to_string(&Voters {
            min_role: p
                .min_role
                .clone()
                .unwrap_or_else(|| Role::Member.as_str().to_string()),
            min_reputation: p.min_reputation,
        })
        .map_err(|e| SpaceError::Invalid(e.to_string()))?;
        let author = who.did().to_string();
        let len = self.doc().length(&list);
        self.local_write(who, at_ms, |tx| {
            let map = tx.insert_object(&list, len, ObjType::Map)?;
            tx.put(&map, doc::AUTHOR, author)?;
            tx.put(&map, ACTION, p.action.to_json())?;
            tx.put(&map, VOTERS, voters)?;
            tx.put(&map, QUORUM, ScalarValue::Uint(p.quorum.unwrap_or(0)))?;
            tx.put(
                &map,
                THRESHOLD,
                ScalarValue::Uint(p.threshold.unwrap_or(DEFAULT_THRESHOLD)),
            )?;
            if let Some(n) = p.closes_after {
                tx.put(&map, CLOSES_AFTER, ScalarValue::Uint(n))?;
            }
            tx.put(&map, doc::AT, ScalarValue::Timestamp(millis(at_ms)))?;
            tx.put_object(&map, VOTES, ObjType::Map)?;
            Ok(map.to_string())
        })
    }

    fn open_record(&self, id: &str) -> Result<Record, SpaceError> {
        let r = self
            .proposals_now()
            .find(id)
            .ok_or_else(|| SpaceError::Invalid(format!("no proposal {id} in this space")))?;
        if let Some(c) = r.close() {
            return Err(SpaceError::Invalid(format!(
                "proposal {id} is closed: {}",
                c.outcome.as_str()
            )));
        }
        Ok(r)
    }

    /// Votes `choice` on proposal `id` as `who` (an eligible voter), or changes its vote.
    pub fn vote(
        &mut self,
        who: &Writer,
        id: &str,
        choice: Choice,
        at_ms: u64,
    ) -> Result<Applied, SpaceError> {
        let r = self.open_record(id)?;
        let votes = r
            .votes
            .clone()
            .ok_or_else(|| SpaceError::Invalid(format!("proposal {id} has no votes map")))?;
        let did = who.did().to_string();
        let mine = doc::child_obj(self.doc(), &votes, &did, None);
        self.local_write(who, at_ms, |tx| {
            let vote = match mine {
                Some(v) => v,
                None => tx.put_object(&votes, &did, ObjType::Map)?,
            };
            tx.put(&vote, CHOICE, choice.as_str())?;
            Ok(())
        })
        .map(|(a, ())| a)
    }

    /// Closes proposal `id` as `who`: withdraws it (its author), or closes it as it is decided
    /// now, with its action's writes when it passed. Returns the change and the outcome.
    pub fn close_proposal(
        &mut self,
        who: &Writer,
        id: &str,
        withdraw: bool,
        at_ms: u64,
    ) -> Result<(Applied, Outcome), SpaceError> {
        let r = self.open_record(id)?;
        let p = self.proposals_now();
        let tally = p.tally(&r);
        let outcome = if withdraw {
            Outcome::Withdrawn
        } else {
            decision(&r, &tally).ok_or_else(|| {
                SpaceError::Invalid(format!(
                    "proposal {id} is not decided: {} yes, {} no, {} abstain of {} eligible",
                    tally.yes, tally.no, tally.abstain, tally.eligible
                ))
            })?
        };
        let meta = doc::root_obj(self.doc(), &schema::META, None);
        let target = match &r.action {
            ProposalAction::Role { did, .. } | ProposalAction::Ban { did } => {
                let members = doc::root_obj(self.doc(), &schema::MEMBERS, None);
                members.and_then(|m| doc::child_obj(self.doc(), &m, &did.to_string(), None))
            }
            ProposalAction::Meta { .. } => meta.clone(),
        };
        if outcome == Outcome::Passed && target.is_none() {
            return Err(SpaceError::Invalid(format!(
                "proposal {id} passed, but its action cannot be enacted: {} is gone",
                r.action
            )));
        }
        let by = who.did().to_string();
        let applied = self.local_write(who, at_ms, |tx| {
            let c = tx.put_object(&r.obj, CLOSED, ObjType::Map)?;
            tx.put(&c, doc::BY, by)?;
            tx.put(&c, OUTCOME, outcome.as_str())?;
            tx.put(&c, YES, ScalarValue::Uint(tally.yes))?;
            tx.put(&c, NO, ScalarValue::Uint(tally.no))?;
            tx.put(&c, ABSTAIN, ScalarValue::Uint(tally.abstain))?;
            tx.put(&c, ELIGIBLE, ScalarValue::Uint(tally.eligible))?;
            if let (Outcome::Passed, Some(t)) = (outcome, &target) {
                match &r.action {
                    ProposalAction::Role { role, .. } => tx.put(t, doc::ROLE, role.as_str())?,
                    ProposalAction::Ban { .. } => tx.put(t, doc::ROLE, Role::Banned.as_str())?,
                    ProposalAction::Meta { key, value } => {
                        tx.put(t, key.as_str(), value.as_str())?
                    }
                }
            }
            Ok(())
        })?;
        Ok((applied.0, outcome))
    }
}
