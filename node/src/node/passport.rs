//! The node's own passports: credentials it issues in its spaces' names or holds, the checks
//! only an issuing space can answer, and the trust policy that weighs issuers. (A space's
//! record of issuance and its status list live in the space, judged by the engine.)

use std::collections::HashMap;
use std::time::Duration;

use tim_crdt::Space;
use tim_did::credential::{self, Check, Claim, CredentialRequest, StatusEntry};
use tim_protocol::{Did, SpaceId};
use tracing::info;

use super::{now_ms, Actor, CredentialKind, OnDone, Reply};
use crate::engine::{Answer, Write};
use crate::NodeError;

/// Issuer (`urn:tim:space:<id>` or DID) → weight.
type TrustPolicy = HashMap<String, f64>;

/// Whether a credential is about `who` (its subject) or was issued by `who`.
pub(super) fn concerns(vc: &serde_json::Value, who: &Did) -> bool {
    let who = who.to_string();
    vc["credentialSubject"]["id"].as_str() == Some(who.as_str())
        || vc["issuer"].as_str() == Some(who.as_str())
}

/// The issuing space and status list index of a Tim credential.
pub(super) fn credential_location(vc: &serde_json::Value) -> Option<(SpaceId, u64)> {
    let space = credential::credential_space(vc)?;
    let index = vc["credentialStatus"]["statusListIndex"]
        .as_str()?
        .parse()
        .ok()?;
    Some((space, index))
}

impl Actor {
    /// Issues a credential in a space's name: the issuance is recorded in the space (so every
    /// node can tell the issuer was an admin), then, once that is durable, the credential is
    /// signed off the loop, stored and flushed.
    pub(super) fn issue(
        &mut self,
        who: Did,
        id: SpaceId,
        subject: Did,
        kind: CredentialKind,
        valid_for: Option<Duration>,
        reply: Reply<serde_json::Value>,
    ) {
        let identity = match self.identity(&who) {
            Ok(i) => i,
            Err(e) => return drop(reply.send(Err(e))),
        };
        let now = now_ms();
        let secs = |ms: u64| credential::format_time((ms / 1000) as i64);
        let prepared = self.engine.readable_space(&who, id).and_then(|s| {
            let member = s
                .member(&subject)
                .ok_or_else(|| NodeError::Invalid(format!("{subject} is not a member of {id}")))?;
            Ok(match &kind {
                CredentialKind::Membership => Claim::Membership {
                    role: member.role,
                    since: secs(member.joined_at),
                },
                CredentialKind::Reputation => {
                    let r = s.reputation(&subject);
                    Claim::Reputation {
                        score: r.score,
                        contributions: r.contributions,
                        ratings_received: r.ratings_received,
                        average_rating: r.average_rating,
                        period_start: secs(s.meta().map_or(0, |m| m.created_at)),
                        period_end: secs(now),
                    }
                }
                CredentialKind::Ability { ability, level } => Claim::Ability {
                    ability: ability.clone(),
                    level: level.clone(),
                    attested_by: who,
                },
            })
        });
        let claim = match prepared {
            Ok(c) => c,
            Err(e) => return drop(reply.send(Err(e))),
        };
        let cid = credential::new_credential_id();
        let write = Write::RecordIssued {
            space: id,
            id: cid.clone(),
            subject,
            kind: kind.name(),
        };
        let store = self.store.clone();
        let on_done: OnDone = Box::new(move |r| {
            let index = match r {
                Ok(Answer::Issued { index, .. }) => index,
                Ok(_) => {
                    let e = NodeError::Invalid("unexpected answer from the engine".into());
                    return drop(reply.send(Err(e)));
                }
                Err(e) => return drop(reply.send(Err(e))),
            };
            info!(space = %id, credential = %cid, subject = %subject, kind = kind.name(), "credential issued");
            let req = CredentialRequest {
                id: cid,
                space: id,
                subject,
                claim,
                valid_from: secs(now),
                valid_until: valid_for.map(|d| secs(now + d.as_millis() as u64)),
                status: Some(StatusEntry { index }),
            };
            tokio::spawn(async move {
                let result = async {
                    let vc = credential::issue(&identity, &req)
                        .await
                        .map_err(|e| NodeError::Invalid(e.to_string()))?;
                    let bytes =
                        serde_json::to_vec(&vc).map_err(|e| NodeError::Invalid(e.to_string()))?;
                    store.put_credential(&req.id, &bytes)?;
                    store.flush().await?;
                    Ok(vc)
                }
                .await;
                let _ = reply.send(result);
            });
        });
        self.write(who, write, on_done);
    }

    /// The issuing space and status index of a stored credential.
    /// A credential this node issued or holds.
    pub(super) fn stored_credential(&self, id: &str) -> Result<serde_json::Value, NodeError> {
        let bytes = self
            .store
            .credential(id)?
            .ok_or_else(|| NodeError::NotFound(format!("no credential {id} on this node")))?;
        serde_json::from_slice(&bytes).map_err(|e| NodeError::Storage(e.to_string()))
    }

    /// A stored credential that `who` holds (its subject) or issued.
    pub(super) fn own_credential(
        &self,
        who: &Did,
        id: &str,
    ) -> Result<serde_json::Value, NodeError> {
        let vc = self.stored_credential(id)?;
        if concerns(&vc, who) {
            Ok(vc)
        } else {
            Err(NodeError::Forbidden(format!(
                "credential {id} belongs to another timite"
            )))
        }
    }

    /// How much this node counts credentials of an issuing space and issuer: the policy's
    /// weight for the space, else for the issuer DID, else 1 for spaces this node hosts (it can
    /// check their admins and revocations), else 0.
    pub(super) fn trust_weight(
        &self,
        policy: &TrustPolicy,
        space: Option<SpaceId>,
        issuer: &str,
    ) -> f64 {
        space
            .and_then(|s| policy.get(&credential::space_iri(&s)).copied())
            .or_else(|| policy.get(issuer).copied())
            .unwrap_or_else(|| {
                if space.is_some_and(|s| self.engine.space(&s).is_some()) {
                    1.0
                } else {
                    0.0
                }
            })
    }

    /// The trust policy, read once per use.
    pub(super) fn trust_policy(&self) -> TrustPolicy {
        self.store.trust().unwrap_or_default().into_iter().collect()
    }

    pub(super) fn trust_check(&self, vc: &serde_json::Value) -> Check {
        let space = credential::credential_space(vc);
        let issuer = vc["issuer"].as_str().unwrap_or_default();
        let weight = self.trust_weight(&self.trust_policy(), space, issuer);
        Check {
            name: "trusted by this node".into(),
            outcome: if weight > 0.0 {
                Ok(format!("weight {weight}"))
            } else {
                Err(format!(
                    "this node's trust policy does not count {} (tim trust set)",
                    space.map_or_else(|| issuer.to_string(), |s| credential::space_iri(&s))
                ))
            },
        }
    }

    /// Reputation a member brought in its join presentation, weighted by the trust policy
    /// (revoked credentials of hosted spaces count nothing).
    pub(super) fn imported_reputation(
        &self,
        policy: &TrustPolicy,
        space: &Space,
        did: &Did,
    ) -> Option<f64> {
        let vp: serde_json::Value = serde_json::from_str(&space.presentation_of(did)?).ok()?;
        let mut total = None;
        for vc in credential::credentials_in(&vp) {
            let is_reputation = credential::has_type(&vc, "TimReputationCredential");
            let Some(score) = vc["credentialSubject"]["score"]
                .as_f64()
                .filter(|_| is_reputation)
            else {
                continue;
            };
            let revoked = credential_location(&vc)
                .is_some_and(|(s, i)| self.engine.space(&s).is_some_and(|s| s.is_revoked(i)));
            let weight = self.trust_weight(
                policy,
                credential::credential_space(&vc),
                vc["issuer"].as_str().unwrap_or_default(),
            );
            if weight > 0.0 && !revoked {
                *total.get_or_insert(0.0) += weight * score;
            }
        }
        total
    }

    pub(super) fn space_checks(&self, vc: &serde_json::Value) -> Vec<Check> {
        let check = |name: &str, outcome: Result<String, String>| Check {
            name: name.to_string(),
            outcome,
        };
        let Some(space) = credential::credential_space(vc) else {
            return vec![];
        };
        let Some(s) = self.engine.space(&space).filter(|s| s.is_ready()) else {
            return vec![];
        };
        let id = vc["id"].as_str().unwrap_or_default();
        let mut out = vec![match s.issued(id) {
            Some(rec)
                if vc["issuer"].as_str() == Some(rec.issuer.to_string().as_str())
                    && vc["credentialSubject"]["id"].as_str()
                        == Some(rec.subject.to_string().as_str()) =>
            {
                check(
                    "issued by an admin of the space",
                    Ok(format!("recorded in space {space} by {}", rec.issuer)),
                )
            }
            Some(_) => check(
                "issued by an admin of the space",
                Err("the space's record names another issuer or subject".into()),
            ),
            None => check(
                "issued by an admin of the space",
                Err(format!(
                    "space {space} has no record of {id}: its issuer was not an admin there"
                )),
            ),
        }];
        if let Some((_, index)) = credential_location(vc) {
            out.push(if s.is_revoked(index) {
                check(
                    "revocation",
                    Err(format!("revoked (status list index {index})")),
                )
            } else {
                check(
                    "revocation",
                    Ok(format!("not revoked (status list index {index})")),
                )
            });
        }
        out
    }
}
