//! Join requirements and the presentations that meet them.
//!
//! A space may require, in `meta.requirements`, credentials from spaces it trusts (e.g.
//! "reputation ≥ 10 from space S"). A joiner then puts a Verifiable Presentation in its join
//! change (`presentation` in its member entry), and every node judges it while authorizing the
//! join, with the same inputs: the presentation (in the change), the domain (this space), the
//! challenge (it must be one of the change's dependencies, so it is fresh and cannot be
//! replayed into another point of history) and the time stamped on the change. Checking the
//! presentation's signatures needs ssi, which this crate does not link: the node passes an
//! [`AdmissionVerifier`] that does it.

use serde::{Deserialize, Serialize};
use tim_protocol::{Did, SpaceId};

/// One requirement a joiner must meet; all requirements of a space must be met.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Requirement {
    /// A reputation credential with at least this score, issued in one of these spaces.
    Reputation {
        /// The minimum score.
        min_score: i64,
        /// Spaces whose credentials count.
        spaces: Vec<SpaceId>,
    },
    /// An ability credential for this ability, issued in one of these spaces.
    Ability {
        /// The ability.
        ability: String,
        /// Spaces whose credentials count.
        spaces: Vec<SpaceId>,
    },
    /// A membership credential from one of these spaces.
    Membership {
        /// Spaces whose credentials count.
        spaces: Vec<SpaceId>,
    },
}

impl std::fmt::Display for Requirement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let spaces = |s: &[SpaceId]| {
            s.iter()
                .map(|x| x.to_string()[..8].to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            Self::Reputation {
                min_score,
                spaces: s,
            } => {
                write!(f, "reputation ≥ {min_score} from space {}", spaces(s))
            }
            Self::Ability { ability, spaces: s } => {
                write!(f, "ability `{ability}` attested in space {}", spaces(s))
            }
            Self::Membership { spaces: s } => write!(f, "membership of space {}", spaces(s)),
        }
    }
}

/// Parses `meta.requirements` (a JSON array of [`Requirement`]).
pub fn parse_requirements(json: &str) -> Result<Vec<Requirement>, String> {
    serde_json::from_str(json).map_err(|e| format!("requirements are not valid: {e}"))
}

/// What a verified presentation holds, credential by credential.
#[derive(Debug, Clone, PartialEq)]
pub struct PresentedCredential {
    /// `membership`, `reputation` or `ability`.
    pub kind: String,
    /// The issuing space.
    pub space: Option<SpaceId>,
    /// The issuer.
    pub issuer: Did,
    /// For reputation: the score.
    pub score: Option<i64>,
    /// For ability: the ability.
    pub ability: Option<String>,
    /// Where its revocation bit is, when it names an HTTP(S) status list.
    pub status: Option<StatusRef>,
}

/// A credential's bit in its issuer's status list (`credentialStatus`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusRef {
    /// The list's URL (`statusListCredential`, the list credential's `id`).
    pub list: String,
    /// The credential's position in it (`statusListIndex`).
    pub index: u64,
}

/// A status list credential whose proof verified: what a revocation notice says
/// (docs/passports.md, "Revocation that stops admitting").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedStatusList {
    /// Its `id`: the URL credentials name in `statusListCredential`.
    pub id: String,
    /// Its issuer, whose key signed it.
    pub issuer: Did,
    /// Its `validFrom`, as written.
    pub valid_from: String,
    /// Its `statusPurpose` (`revocation` for the lists a notice may carry).
    pub purpose: String,
    /// The decoded bits (bit 0 is the most significant bit of the first byte).
    pub bits: Vec<u8>,
}

impl VerifiedStatusList {
    /// Whether bit `index` is set (a bit beyond the list is clear).
    pub fn is_set(&self, index: u64) -> bool {
        usize::try_from(index / 8)
            .ok()
            .and_then(|i| self.bits.get(i))
            .is_some_and(|b| b & (0x80 >> (index % 8)) != 0)
    }

    /// Whether this list, by the credential's issuer, sets the credential's bit.
    pub fn revokes(&self, credential: &PresentedCredential) -> bool {
        credential.issuer == self.issuer
            && credential
                .status
                .as_ref()
                .is_some_and(|s| s.list == self.id && self.is_set(s.index))
    }
}

/// Verifies a presentation for admission. Implemented by the node with ssi.
pub trait AdmissionVerifier: Send + Sync {
    /// Checks the presentation's and its credentials' signatures, that it is bound to `domain`
    /// and to one of `challenges`, signed by `holder`, that every credential is about
    /// `holder` and valid at `at_ms`; returns the credentials' contents, or why it fails.
    fn verify(
        &self,
        presentation: &str,
        domain: &str,
        challenges: &[String],
        holder: &Did,
        at_ms: i64,
    ) -> Result<Vec<PresentedCredential>, String>;

    /// Checks a `BitstringStatusListCredential` (JSON) offline: its data model and its
    /// proof by its issuer's key (not its validity period: a set bit stays set, revocation is
    /// final). Returns what it says, or why it fails.
    fn verify_status_list(&self, list: &str) -> Result<VerifiedStatusList, String>;

    /// Checks one credential (JSON, or a JWT) offline, as a declaration's `attestation`
    /// carries it (docs/abilities.md §13): its proof by its issuer's key, that it is about
    /// `subject` and valid at `at_ms`. Its revocation is the caller's (the space's status
    /// list, or its revocation notices). Returns its id and contents, or why it fails.
    fn verify_credential(
        &self,
        credential: &str,
        subject: &Did,
        at_ms: i64,
    ) -> Result<VerifiedCredential, String> {
        let _ = (credential, subject, at_ms);
        Err("this replica cannot check credentials".into())
    }
}

/// A credential whose proof verified, about its subject, valid at the time asked.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedCredential {
    /// Its `id`.
    pub id: String,
    /// What it says.
    pub credential: PresentedCredential,
}

/// Whether the credentials meet every requirement; `Err` names the first one that is not met.
pub fn meets(
    requirements: &[Requirement],
    credentials: &[PresentedCredential],
) -> Result<(), String> {
    for req in requirements {
        let from = |spaces: &[SpaceId], c: &PresentedCredential| {
            c.space.is_some_and(|s| spaces.contains(&s))
        };
        let ok = match req {
            Requirement::Reputation { min_score, spaces } => {
                let best = credentials
                    .iter()
                    .filter(|c| c.kind == "reputation" && from(spaces, c))
                    .filter_map(|c| c.score)
                    .max();
                match best {
                    Some(score) if score >= *min_score => true,
                    Some(score) => {
                        return Err(format!(
                            "requires {req}; the presented reputation is {score}"
                        ))
                    }
                    None => false,
                }
            }
            Requirement::Ability { ability, spaces } => credentials.iter().any(|c| {
                c.kind == "ability" && from(spaces, c) && c.ability.as_deref() == Some(ability)
            }),
            Requirement::Membership { spaces } => credentials
                .iter()
                .any(|c| c.kind == "membership" && from(spaces, c)),
        };
        if !ok {
            return Err(format!("requires {req}; no presented credential shows it"));
        }
    }
    Ok(())
}
