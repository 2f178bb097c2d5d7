//! The rules of proposals and votes (schema version 9; docs/governance.md "Proposals and
//! votes", docs/rules.md §5): a member with `post` makes a proposal, whole, in one change; each
//! eligible voter makes its own vote once and changes its choice until a close; a close is made
//! once, by a member, with the tally the rules recompute at its dependencies; a passing close
//! carries exactly its action's writes, which the rules then accept without the `roles` or
//! `meta` permission. Every verdict reads the document at the change's dependencies.

use automerge::legacy::{OpId, OpType};
use automerge::{ObjType, ScalarValue};
use tim_protocol::api::{Outcome, ProposalAction, Tally};

use super::{deny, Effect, Judge};
use crate::doc;
use crate::proposals::{
    decision, Proposals, Voters, ABSTAIN, ACTION, CHOICE, CLOSED, CLOSES_AFTER, ELIGIBLE, NO,
    OUTCOME, QUORUM, THRESHOLD, VOTERS, VOTES, YES,
};
use crate::{Rejection, Role};

/// What the proposal rules gathered from a change, judged once it is all read.
#[derive(Default)]
pub(super) struct Governance {
    /// The proposal this change makes (one at most).
    made: Option<ProposalBeingMade>,
    /// The vote map this change makes (one at most), and whether it got its choice.
    vote: Option<(OpId, bool)>,
    /// The close this change makes (one at most).
    close: Option<CloseBeingMade>,
    /// The role and meta writes of this change, to compare with a passing close's action.
    writes: Vec<Enacted>,
    /// Why the first of them would be refused without a passing close.
    unpermitted: Option<Rejection>,
}

/// A write a proposal's action stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Enacted {
    /// `members[did].role = role`.
    Role { did: String, role: Role },
    /// `meta[key] = value` (`None`: not a string).
    Meta { key: String, value: Option<String> },
}

impl Enacted {
    /// The one write `action` stands for.
    fn of(action: &ProposalAction) -> Option<Self> {
        Some(match action {
            ProposalAction::Role { did, role } => Self::Role {
                did: did.to_string(),
                role: Role::parse(role)?,
            },
            ProposalAction::Ban { did } => Self::Role {
                did: did.to_string(),
                role: Role::Banned,
            },
            ProposalAction::Meta { key, value } => Self::Meta {
                key: key.clone(),
                value: Some(value.clone()),
            },
        })
    }
}

#[derive(Default)]
struct ProposalBeingMade {
    map: Option<OpId>,
    author: bool,
    action: Option<String>,
    voters: Option<String>,
    quorum: Option<u64>,
    threshold: Option<u64>,
    at: Option<i64>,
    votes: bool,
}

struct CloseBeingMade {
    proposal: String,
    map: OpId,
    by: bool,
    outcome: Option<String>,
    yes: Option<u64>,
    no: Option<u64>,
    abstain: Option<u64>,
    eligible: Option<u64>,
}

fn id_of(op: &OpId) -> String {
    format!("{}@{}", op.counter(), op.actor())
}

impl Judge<'_> {
    fn proposals_at(&self) -> Proposals<'_> {
        Proposals::new(self.notices())
    }

    /// `proposals`: a member with `post` appends a proposal (one a change); proposals are
    /// never replaced or deleted.
    pub(super) fn check_proposals(
        &mut self,
        op_id: &OpId,
        op: &automerge::legacy::Op,
    ) -> Result<(), Rejection> {
        if !op.insert || !matches!(op.action, OpType::Make(ObjType::Map)) {
            return deny(format!(
                "{}; proposals are only appended, as maps, never replaced or deleted",
                self.who
            ));
        }
        self.may(crate::Permission::Post, "proposing")?;
        if self.gov.made.is_some() {
            return deny("a change makes one proposal at most".into());
        }
        self.gov.made = Some(ProposalBeingMade {
            map: Some(op_id.clone()),
            ..ProposalBeingMade::default()
        });
        self.effects.push(Effect::Proposed { id: id_of(op_id) });
        Ok(())
    }

    /// A write into a proposal map: a field of the proposal this change makes, or the close of
    /// an existing one.
    pub(super) fn check_proposal(
        &mut self,
        op_id: &OpId,
        obj: &OpId,
        key: Option<&str>,
        op: &automerge::legacy::Op,
    ) -> Result<(), Rejection> {
        let uint = match &op.action {
            OpType::Put(ScalarValue::Uint(u)) => Some(*u),
            _ => None,
        };
        if let Some(p) = self
            .gov
            .made
            .as_mut()
            .filter(|p| p.map.as_ref() == Some(obj))
        {
            match (key, &op.action) {
                // (`check_op` checked that it is the author's own DID.)
                (Some(doc::AUTHOR), _) => p.author = true,
                (Some(ACTION), OpType::Put(ScalarValue::Str(s))) => p.action = Some(s.to_string()),
                (Some(VOTERS), OpType::Put(ScalarValue::Str(s))) => p.voters = Some(s.to_string()),
                (Some(QUORUM), _) if uint.is_some() => p.quorum = uint,
                (Some(THRESHOLD), _) if uint.is_some() => p.threshold = uint,
                (Some(CLOSES_AFTER), _) if uint.is_some() => {}
                (Some(doc::AT), OpType::Put(ScalarValue::Timestamp(t))) => p.at = Some(*t),
                (Some(VOTES), OpType::Make(ObjType::Map)) => p.votes = true,
                _ => {
                    return deny(
                        "a new proposal holds author, action, voters, quorum, threshold, \
                         closes_after, at and an empty votes map; its votes and close come in \
                         later changes"
                            .into(),
                    )
                }
            }
            return Ok(());
        }
        if key != Some(CLOSED) || !matches!(op.action, OpType::Make(ObjType::Map)) {
            return deny(format!(
                "{}; a proposal is written whole: later changes only vote (in `votes`) or \
                 close it (`closed`, a map)",
                self.who
            ));
        }
        self.member_writing("closing a proposal")?;
        if self.gov.close.is_some() {
            return deny("a change closes one proposal at most".into());
        }
        self.gov.close = Some(CloseBeingMade {
            proposal: id_of(obj),
            map: op_id.clone(),
            by: false,
            outcome: None,
            yes: None,
            no: None,
            abstain: None,
            eligible: None,
        });
        Ok(())
    }

    /// `votes[DID]` of proposal `pid`: DID makes its own vote, once, while the proposal is
    /// open and it is eligible, at the change's dependencies.
    pub(super) fn check_votes(
        &mut self,
        pid: &str,
        op_id: &OpId,
        key: Option<&str>,
        op: &automerge::legacy::Op,
    ) -> Result<(), Rejection> {
        if key != Some(self.author_str.as_str()) {
            return deny(format!("{}; a timite casts only its own vote", self.who));
        }
        if !matches!(op.action, OpType::Make(ObjType::Map)) {
            return deny(format!(
                "{}; a vote is a map {{choice}}, made once and never deleted",
                self.who
            ));
        }
        let p = self.proposals_at();
        let Some(r) = p.find(pid) else {
            return deny(format!(
                "{}; proposal {pid} is not there at this change's dependencies: vote in a \
                 later change",
                self.who
            ));
        };
        if p.has_voted(&r, &self.author_str) {
            return deny(format!(
                "{}; a second vote on proposal {pid}: change the choice of the first",
                self.who
            ));
        }
        self.voting(pid)?;
        if self.gov.vote.is_some() {
            return deny("a change casts one vote at most".into());
        }
        self.gov.vote = Some((op_id.clone(), false));
        Ok(())
    }

    /// The author may vote on proposal `pid` at the change's dependencies: it is open and the
    /// author is eligible.
    fn voting(&self, pid: &str) -> Result<(), Rejection> {
        let p = self.proposals_at();
        let Some(r) = p.find(pid) else {
            return deny(format!("no proposal {pid} at this change's dependencies"));
        };
        if let Some(c) = r.close() {
            return deny(format!(
                "{}; a vote after the close: proposal {pid} is {}",
                self.who,
                c.outcome.as_str()
            ));
        }
        if !p.eligible(&r, &self.author_str) {
            return deny(format!(
                "{}; it is not eligible to vote on proposal {pid} (voters rank at least {}{})",
                self.who,
                r.min_role,
                r.min_reputation
                    .map(|n| format!(" with reputation {n} or more"))
                    .unwrap_or_default()
            ));
        }
        Ok(())
    }

    /// `votes[did].choice`: the voter sets or changes its choice while it may vote.
    pub(super) fn check_vote(
        &mut self,
        pid: &str,
        did: &str,
        obj: &OpId,
        key: Option<&str>,
        op: &automerge::legacy::Op,
    ) -> Result<(), Rejection> {
        if did != self.author_str {
            return deny(format!("{}; only a vote's voter changes it", self.who));
        }
        match (key, &op.action) {
            (Some(CHOICE), OpType::Put(ScalarValue::Str(s)))
                if s.parse::<tim_protocol::api::Choice>().is_ok() => {}
            _ => return deny("a vote holds `choice`: yes, no or abstain".into()),
        }
        if let Some(v) = self.gov.vote.as_mut().filter(|(m, _)| m == obj) {
            v.1 = true;
        } else {
            self.voting(pid)?;
        }
        self.effects.push(Effect::Voted {
            id: pid.to_string(),
            voter: self.author,
        });
        Ok(())
    }

    /// A field of the close map this change makes.
    pub(super) fn check_closed(
        &mut self,
        obj: &OpId,
        key: Option<&str>,
        op: &automerge::legacy::Op,
    ) -> Result<(), Rejection> {
        let author = self.author_str.clone();
        let Some(c) = self.gov.close.as_mut().filter(|c| &c.map == obj) else {
            return deny(format!("{}; a close is never changed", self.who));
        };
        let uint = match &op.action {
            OpType::Put(ScalarValue::Uint(u)) => Some(*u),
            _ => None,
        };
        match (key, &op.action) {
            (Some(doc::BY), OpType::Put(ScalarValue::Str(s))) if s.as_str() == author => {
                c.by = true;
            }
            (Some(OUTCOME), OpType::Put(ScalarValue::Str(s))) => c.outcome = Some(s.to_string()),
            (Some(YES), _) if uint.is_some() => c.yes = uint,
            (Some(NO), _) if uint.is_some() => c.no = uint,
            (Some(ABSTAIN), _) if uint.is_some() => c.abstain = uint,
            (Some(ELIGIBLE), _) if uint.is_some() => c.eligible = uint,
            _ => {
                return deny(
                    "a close holds by (its author), outcome, and the tally yes, no, abstain, \
                     eligible (unsigned integers)"
                        .into(),
                )
            }
        }
        Ok(())
    }

    /// Notes a role or meta write; `permitted` says whether the author's role allows it. From
    /// schema version 9 a write it does not allow waits for the end of the change, where a
    /// passing close whose action is exactly it lets it in.
    pub(super) fn note_write(
        &mut self,
        write: Enacted,
        permitted: Result<(), Rejection>,
    ) -> Result<(), Rejection> {
        if let Err(e) = permitted {
            if self.at.version < crate::schema::SOCIAL {
                return Err(e);
            }
            self.gov.unpermitted.get_or_insert(e);
        }
        self.gov.writes.push(write);
        Ok(())
    }

    /// A role write the author's role does not allow, as an enactment: never of the owner,
    /// never to owner, a role the space defines.
    pub(super) fn enact_role(
        &mut self,
        did: &str,
        new: Role,
        why: Rejection,
    ) -> Result<(), Rejection> {
        if self.at.version < crate::schema::SOCIAL {
            return Err(why);
        }
        if self.at.role(&self.members, did) == Some(Role::Owner) || new == Role::Owner {
            return deny("no vote makes or unmakes the owner".into());
        }
        if let Role::Custom(name) = new {
            if self.at.role_def(&name).is_none() {
                return deny(format!("role `{name}` is not defined in this space"));
            }
        }
        self.note_write(
            Enacted::Role {
                did: did.to_string(),
                role: new,
            },
            Err(why),
        )
    }

    /// The proposal, vote and close this change makes, once it is all read, and its role and
    /// meta writes: a write the author's role does not allow stands only as the action of the
    /// proposal this change closes as passed.
    pub(super) fn check_governance_made(&mut self) -> Result<(), Rejection> {
        if let Some(p) = self.gov.made.take() {
            self.check_proposal_made(p)?;
        }
        if let Some((_, false)) = self.gov.vote {
            return deny("a vote is made with its choice".into());
        }
        let passed = match self.gov.close.take() {
            Some(c) => self.check_close_made(c)?,
            None => None,
        };
        match passed {
            Some(action) => {
                let want = Enacted::of(&action);
                if self.gov.writes.len() != 1 || want.as_ref() != self.gov.writes.first() {
                    return deny(format!(
                        "{}; a passing close carries exactly its action's writes ({action}), \
                         nothing else of roles or meta",
                        self.who
                    ));
                }
                Ok(())
            }
            None => self.gov.unpermitted.take().map_or(Ok(()), Err),
        }
    }

    fn check_proposal_made(&self, p: ProposalBeingMade) -> Result<(), Rejection> {
        let (true, Some(action), Some(voters), Some(_), Some(threshold), Some(at), true) = (
            p.author,
            p.action,
            p.voters,
            p.quorum,
            p.threshold,
            p.at,
            p.votes,
        ) else {
            return deny(
                "a proposal needs author, action, voters, quorum, threshold, at and votes".into(),
            );
        };
        if at != self.time {
            return deny("a proposal's `at` is its change's time".into());
        }
        if threshold > 1000 {
            return deny(format!(
                "a threshold is per mille, 0 to 1000, not {threshold}"
            ));
        }
        let (_, min_role) = Voters::parse(&voters).map_err(Rejection::Unauthorized)?;
        self.defined(min_role)?;
        let action = ProposalAction::parse(&action).map_err(Rejection::Unauthorized)?;
        match &action {
            ProposalAction::Role { did, role } => {
                let role = Role::parse(role)
                    .ok_or_else(|| Rejection::Unauthorized(format!("`{role}` is not a role")))?;
                if role == Role::Owner {
                    return deny("no vote makes anyone owner".into());
                }
                self.defined(role)?;
                self.votable_target(&did.to_string())
            }
            ProposalAction::Ban { did } => self.votable_target(&did.to_string()),
            ProposalAction::Meta { key, .. } => {
                if key == doc::VERSION || key.is_empty() {
                    return deny("the schema version changes by a migration, not a vote".into());
                }
                Ok(())
            }
        }
    }

    /// A custom role must be defined at the change's dependencies.
    fn defined(&self, role: Role) -> Result<(), Rejection> {
        match role {
            Role::Custom(name) if self.at.role_def(&name).is_none() => {
                deny(format!("role `{name}` is not defined in this space"))
            }
            _ => Ok(()),
        }
    }

    /// The target of a role or ban proposal: a member, not the owner.
    fn votable_target(&self, did: &str) -> Result<(), Rejection> {
        match self.at.role(&self.members, did) {
            None => deny(format!("{did} is not a member")),
            Some(Role::Owner) => deny("no vote unmakes the owner".into()),
            Some(_) => Ok(()),
        }
    }

    /// The close this change makes: whole, by a member, of a proposal open at its
    /// dependencies, with the tally recomputed there and an outcome it allows. Returns the
    /// action when it passed.
    fn check_close_made(&mut self, c: CloseBeingMade) -> Result<Option<ProposalAction>, Rejection> {
        let (true, Some(outcome), Some(yes), Some(no), Some(abstain), Some(eligible)) =
            (c.by, c.outcome, c.yes, c.no, c.abstain, c.eligible)
        else {
            return deny(
                "a close needs by, outcome, yes, no, abstain and eligible, in one change".into(),
            );
        };
        let outcome: Outcome = outcome.parse().map_err(Rejection::Unauthorized)?;
        let pid = &c.proposal;
        self.effects.push(Effect::ProposalClosed {
            id: pid.clone(),
            outcome,
        });
        let p = self.proposals_at();
        let Some(r) = p.find(pid) else {
            return deny(format!("no proposal {pid} at this change's dependencies"));
        };
        if r.close().is_some() {
            return deny(format!("proposal {pid} is closed already"));
        }
        let tally = p.tally(&r);
        let written = Tally {
            yes,
            no,
            abstain,
            eligible,
        };
        if written != tally {
            return deny(format!(
                "{}; a forged tally: at this close's dependencies proposal {pid} has {} yes, \
                 {} no, {} abstain of {} eligible",
                self.who, tally.yes, tally.no, tally.abstain, tally.eligible
            ));
        }
        if outcome == Outcome::Withdrawn {
            if r.author.to_string() != self.author_str {
                return deny(format!(
                    "{}; only its author withdraws proposal {pid}",
                    self.who
                ));
            }
            return Ok(None);
        }
        match decision(&r, &tally) {
            None => deny(format!(
                "{}; proposal {pid} is not decided at this close's dependencies",
                self.who
            )),
            Some(d) if d != outcome => deny(format!(
                "{}; proposal {pid} is {} at this close's dependencies, not {}",
                self.who,
                d.as_str(),
                outcome.as_str()
            )),
            Some(Outcome::Passed) => Ok(Some(r.action)),
            Some(_) => Ok(None),
        }
    }
}
