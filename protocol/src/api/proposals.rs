//! JSON types of proposals and votes (docs/governance.md "Proposals and votes"): a decision a
//! space takes by vote, whose passing close carries its action's writes, accepted without an
//! admin's signature.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{ChangeHash, Did};

/// The threshold of a proposal that names none, per mille: it passes when more than half of
/// its eligible voters vote yes.
pub const DEFAULT_THRESHOLD: u64 = 500;

/// What a proposal does once it passes: exactly the writes its passing close carries.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum ProposalAction {
    /// Give member `did` the role `role` (a built-in role below owner, or one the space
    /// defines): promote or demote.
    Role {
        /// The member.
        did: Did,
        /// The role's name.
        role: String,
    },
    /// Ban member `did` (its role becomes `banned`).
    Ban {
        /// The member.
        did: Did,
    },
    /// Put `value`, byte for byte, as the string under meta key `key` (a JSON value is put as
    /// its JSON text); the meta rule checks the value as for an admin's write.
    Meta {
        /// The meta key (`purpose`, `requirements`, `earned_roles`, `budgets`, ...).
        key: String,
        /// The string put under it.
        value: String,
    },
}

impl ProposalAction {
    /// Parses an action as the document stores it (JSON).
    pub fn parse(json: &str) -> Result<Self, String> {
        serde_json::from_str(json).map_err(|e| {
            format!(
                "a proposal's action is {{\"kind\":\"role\",\"did\",\"role\"}}, \
                 {{\"kind\":\"ban\",\"did\"}} or {{\"kind\":\"meta\",\"key\",\"value\"}}: {e}"
            )
        })
    }

    /// The action as the document stores it.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl fmt::Display for ProposalAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Role { did, role } => write!(f, "make {} {role}", did.short()),
            Self::Ban { did } => write!(f, "ban {}", did.short()),
            Self::Meta { key, value } => write!(f, "set meta.{key} to {value}"),
        }
    }
}

/// A vote's choice.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Choice {
    /// For.
    Yes,
    /// Against.
    No,
    /// Counted as cast (towards the quorum and `closes_after`), neither for nor against.
    Abstain,
}

impl Choice {
    /// Its name in the document.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Yes => "yes",
            Self::No => "no",
            Self::Abstain => "abstain",
        }
    }
}

impl FromStr for Choice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "yes" => Ok(Self::Yes),
            "no" => Ok(Self::No),
            "abstain" => Ok(Self::Abstain),
            _ => Err(format!("`{s}` is not a choice: yes, no or abstain")),
        }
    }
}

/// How a closed proposal ended.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It passed; its close enacted its action.
    Passed,
    /// It failed; nothing changed.
    Failed,
    /// Its author withdrew it; nothing changed.
    Withdrawn,
}

impl Outcome {
    /// Its name in the document.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Passed => "passed",
            Self::Failed => "failed",
            Self::Withdrawn => "withdrawn",
        }
    }
}

impl FromStr for Outcome {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "passed" => Ok(Self::Passed),
            "failed" => Ok(Self::Failed),
            "withdrawn" => Ok(Self::Withdrawn),
            _ => Err(format!(
                "`{s}` is not an outcome: passed, failed or withdrawn"
            )),
        }
    }
}

/// The votes of a proposal: cast by its eligible voters, and how many those are.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct Tally {
    /// Yes votes.
    pub yes: u64,
    /// No votes.
    pub no: u64,
    /// Abstentions.
    pub abstain: u64,
    /// Members eligible to vote.
    pub eligible: u64,
}

impl Tally {
    /// Votes cast (yes, no and abstain).
    pub fn cast(&self) -> u64 {
        self.yes + self.no + self.abstain
    }

    /// Whether these votes pass a proposal with `quorum` and `threshold` (per mille): at
    /// least `quorum` votes cast, and `yes × 1000 > threshold × eligible`.
    pub fn passes(&self, quorum: u64, threshold: u64) -> bool {
        self.cast() >= quorum
            && u128::from(self.yes) * 1000 > u128::from(threshold) * u128::from(self.eligible)
    }
}

/// `POST /v1/spaces/{id}/proposals`: propose an action to the space's vote.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct NewProposal {
    /// What passing does.
    pub action: ProposalAction,
    /// The least role that votes (default `member`): every member whose effective role (earned
    /// roles included) ranks as high, but the banned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_role: Option<String>,
    /// The least reputation score that votes, if any (docs/reputation.md), in addition to
    /// `min_role`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_reputation: Option<u64>,
    /// The least number of votes cast for it to pass (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quorum: Option<u64>,
    /// Per mille of the eligible voters that must vote yes, strictly more (default 500).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<u64>,
    /// Once this many votes are cast it may be closed, passed or failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closes_after: Option<u64>,
}

/// The answer to a proposal, a vote or a close.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct ProposalChanged {
    /// The proposal's id, the same on every node.
    pub id: String,
    /// The change made.
    pub change: ChangeHash,
    /// How the proposal ended, if it is closed after this change (a vote that decides it is
    /// followed by the close its node makes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
}

/// `POST /v1/spaces/{id}/proposals/{pid}/votes`: vote, or change one's vote.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct CastVote {
    /// The choice.
    pub choice: Choice,
}

/// `POST /v1/spaces/{id}/proposals/{pid}/close`: close a decided proposal, or withdraw one's
/// own.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct CloseProposal {
    /// Withdraw it (its author only, at any time before a close).
    #[serde(default)]
    pub withdraw: bool,
}

/// A proposal, its live tally and where it stands (the same on every node that holds the
/// same changes).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct ProposalView {
    /// Its id: the Automerge id of its map, `counter@actor`.
    pub id: String,
    /// Who proposed it.
    pub author: Did,
    /// What passing does.
    pub action: ProposalAction,
    /// The least role that votes.
    pub min_role: String,
    /// The least reputation score that votes, if the proposal sets one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_reputation: Option<u64>,
    /// The least number of votes cast for it to pass.
    pub quorum: u64,
    /// Per mille of the eligible voters that must vote yes, strictly more.
    pub threshold: u64,
    /// Once this many votes are cast it may be closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closes_after: Option<u64>,
    /// When its author says it proposed it, ms since the Unix epoch (display only).
    pub at: u64,
    /// The tally: the close's figures once closed, else the live one.
    pub tally: Tally,
    /// Each vote of an eligible voter, by DID (live; after the close, votes concurrent with
    /// it show here but do not count).
    pub votes: Vec<VoteView>,
    /// How it ended, once closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// How a close would end it now, if it is decided but open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided: Option<Outcome>,
    /// Who closed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_by: Option<Did>,
    /// The caller's vote, when a caller is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub my_vote: Option<Choice>,
}

/// One vote.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct VoteView {
    /// The voter.
    pub voter: Did,
    /// Its current choice.
    pub choice: Choice,
}

/// `GET /v1/spaces/{id}/proposals`: which proposals.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProposalsQuery {
    /// Only open proposals (not closed).
    #[serde(default)]
    pub open: bool,
}

/// `GET /v1/spaces/{id}/meta/{key}`: the string under a meta key now (what a `meta` proposal
/// replaces whole).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct MetaValue {
    /// The key.
    pub key: String,
    /// Its string, absent if the key holds none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}
