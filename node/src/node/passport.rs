//! The node's own passports: credentials it issues in its spaces' names or holds, the checks
//! only an issuing space can answer, and the trust policy that weighs issuers. (A space's
//! record of issuance and its status list live in the space, judged by the engine.)

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use tim_crdt::Space;
use tim_did::credential::{self, Check, Claim, CredentialRequest, StatusEntry};
use tim_did::status_list::{self, StatusListRequest};
use tim_protocol::{Did, SpaceId};
use tracing::info;

use super::{now_ms, Actor, CredentialKind, Internal, OnDone, Reply};
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

/// Whether the space revoked a credential it issued (found by its id in the space's
/// issuance records: a credential names its bit by a position in a status list, the space
/// document by its status index); `None` if the space has no record of it.
pub(super) fn revoked_in(space: &Space, vc: &serde_json::Value) -> Option<bool> {
    let rec = space.issued(vc["id"].as_str()?)?;
    Some(space.is_revoked(rec.status_index))
}

/// How many credential ids [`Actor::new_credential`] tries for a free status list position
/// before giving up (each try fails with the probability that a position is taken).
const MAX_ID_TRIES: usize = 64;

/// How long a signed status list is valid: verifiers fetch a fresh one after that.
pub(super) const STATUS_LIST_VALIDITY: Duration = Duration::from_secs(300);

/// How long a signed status list is answered again (while its bits are unchanged), so that
/// what a verifier gets is valid for at least the other half of [`STATUS_LIST_VALIDITY`].
const STATUS_LIST_REUSE: Duration = Duration::from_secs(150);

/// A status list this node signed last for an issuer and a space.
#[derive(Debug)]
pub(super) struct SignedList {
    /// The positions set in it, sorted.
    revoked: Vec<u64>,
    /// When it was signed (its `validFrom`), ms since the Unix epoch.
    signed_at_ms: u64,
    /// The signed `BitstringStatusListCredential`.
    vc: serde_json::Value,
}

/// How long fetching a status list from its issuer's node may take.
const STATUS_LIST_FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// The status lists that `credentials` name over HTTP(S), fetched from their issuers' nodes
/// (one request per list), for a presentation to carry.
pub(super) async fn fetch_status_lists(
    credentials: &[serde_json::Value],
) -> Result<Vec<serde_json::Value>, NodeError> {
    let mut urls: Vec<&str> = credentials
        .iter()
        .filter_map(status_list::fetchable_list)
        .collect();
    urls.sort_unstable();
    urls.dedup();
    if urls.is_empty() {
        return Ok(vec![]);
    }
    let http = status_list_client()?;
    let mut lists = Vec::with_capacity(urls.len());
    for url in urls {
        lists.push(fetch_status_list(&http, url).await?);
    }
    Ok(lists)
}

/// The HTTP client that fetches status lists.
pub(super) fn status_list_client() -> Result<reqwest::Client, NodeError> {
    reqwest::Client::builder()
        .timeout(STATUS_LIST_FETCH_TIMEOUT)
        .build()
        .map_err(|e| NodeError::Invalid(format!("no HTTP client: {e}")))
}

/// Fetches the status list at `url` from its issuer's node (at most
/// [`status_list::MAX_LIST_BYTES`]).
pub(super) async fn fetch_status_list(
    http: &reqwest::Client,
    url: &str,
) -> Result<serde_json::Value, NodeError> {
    let failed = |e: String| {
        NodeError::Invalid(format!(
            "cannot fetch the status list {url} from its issuer's node: {e}"
        ))
    };
    let mut resp = http
        .get(url)
        .header("accept", "application/vc, application/json")
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| failed(e.to_string()))?;
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| failed(e.to_string()))? {
        body.extend_from_slice(&chunk);
        if body.len() > status_list::MAX_LIST_BYTES {
            return Err(failed(format!(
                "larger than {} bytes",
                status_list::MAX_LIST_BYTES
            )));
        }
    }
    serde_json::from_slice(&body).map_err(|e| failed(e.to_string()))
}

impl Actor {
    /// Issues a credential in a space's name: the credential is signed off the loop, then its
    /// issuance is recorded in the space with it (so every node can tell the issuer was an
    /// admin, and the subject's node receives it), then, once that is durable, it is stored
    /// and flushed.
    pub(super) fn issue(
        &mut self,
        who: Did,
        id: SpaceId,
        subject: Did,
        kind: CredentialKind,
        valid_for: Option<Duration>,
        reply: Reply<serde_json::Value>,
    ) {
        self.issue_as(who, id, subject, kind, valid_for, None, reply);
    }

    /// [`Actor::issue`], under the credential id `fixed` if given (a badge's id is the same
    /// on every node, docs/abilities.md §13; its bit is the space document's own status
    /// index), else under a new one.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn issue_as(
        &mut self,
        who: Did,
        id: SpaceId,
        subject: Did,
        kind: CredentialKind,
        valid_for: Option<Duration>,
        fixed: Option<String>,
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
                        v2: r.v2.map(|b| credential::ReputationBasis {
                            turns: b.turns,
                            standing: b.standing,
                            contribution_points: b.contribution_points,
                            rating_points: b.rating_points,
                            ability_points: b.ability_points,
                        }),
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
        let made = match fixed {
            Some(cid) => {
                let index = id.status_index(&cid);
                Ok((cid, StatusEntry::in_space(&id, index)))
            }
            None => self.new_credential(id, &who),
        };
        let (cid, status) = match made {
            Ok(c) => c,
            Err(e) => return drop(reply.send(Err(e))),
        };
        let req = CredentialRequest {
            id: cid,
            space: id,
            subject,
            claim,
            valid_from: secs(now),
            valid_until: valid_for.map(|d| secs(now + d.as_millis() as u64)),
            status: Some(status),
        };
        let ability = match &kind {
            CredentialKind::Ability { ability, .. } => Some(ability.clone()),
            _ => None,
        };
        let kind = kind.name();
        let store = self.store.clone();
        let internal = self.internal.clone();
        // Signed first (off the loop: JSON-LD canonicalisation costs milliseconds), so that
        // the record carries the credential to its subject's node.
        tokio::spawn(async move {
            let signed = credential::issue(&identity, &req)
                .await
                .map_err(|e| NodeError::Invalid(e.to_string()))
                .and_then(|vc| {
                    let json = serde_json::to_string(&vc)
                        .map_err(|e| NodeError::Invalid(e.to_string()))?;
                    Ok((vc, json))
                });
            let (vc, json) = match signed {
                Ok(s) => s,
                Err(e) => return drop(reply.send(Err(e))),
            };
            let cid = req.id;
            let write = Write::RecordIssued {
                space: id,
                id: cid.clone(),
                subject,
                kind,
                ability,
                credential: Some(json.clone()),
            };
            let on_done: OnDone = Box::new(move |r| {
                match r {
                    Ok(Answer::Issued { .. }) => {}
                    Ok(_) => {
                        let e = NodeError::Invalid("unexpected answer from the engine".into());
                        return drop(reply.send(Err(e)));
                    }
                    Err(e) => return drop(reply.send(Err(e))),
                };
                info!(space = %id, credential = %cid, subject = %subject, kind, "credential issued");
                tokio::spawn(async move {
                    let result = async {
                        store.put_credential(&cid, json.as_bytes())?;
                        store.flush().await?;
                        Ok(vc)
                    }
                    .await;
                    let _ = reply.send(result);
                });
            });
            let _ = internal
                .send(Internal::Write {
                    who,
                    write,
                    on_done,
                })
                .await;
        });
    }

    /// A new credential id for `issuer` in `space`, and its status entry. With a public URL,
    /// the entry is a position in the issuer's status list served by this node, and the id
    /// is drawn again until that position is free among the issuer's credentials in the space
    /// (this node issues all of them, one at a time, so the positions stay distinct); without
    /// one, the space document's own status index.
    fn new_credential(
        &self,
        space: SpaceId,
        issuer: &Did,
    ) -> Result<(String, StatusEntry), NodeError> {
        let Some(base) = &self.public_url else {
            let cid = credential::new_credential_id();
            let index = space.status_index(&cid);
            return Ok((cid, StatusEntry::in_space(&space, index)));
        };
        let taken: HashSet<u64> = self
            .engine
            .ready_space(space)?
            .issued_by(issuer)
            .into_iter()
            .map(|(index, _)| status_list::list_position(index))
            .collect();
        (0..MAX_ID_TRIES)
            .map(|_| credential::new_credential_id())
            .find_map(|cid| {
                let position = status_list::list_position(space.status_index(&cid));
                (!taken.contains(&position)).then(|| {
                    let list = status_list::status_list_url(base, &space, issuer);
                    (
                        cid,
                        StatusEntry {
                            index: position,
                            list,
                        },
                    )
                })
            })
            .ok_or_else(|| {
                NodeError::Invalid(format!(
                    "the status list of {issuer} in space {space} is full ({} credentials)",
                    taken.len()
                ))
            })
    }

    /// The issuer's signed status list for a space, as served at
    /// `<public URL>/v1/status-lists/<space>/<issuer>`: only this node can sign it (it holds
    /// the issuer's key) and it says nothing of an issuer that never issued in the space. The
    /// list signed last is answered again while its bits are the space's and it is younger than
    /// [`STATUS_LIST_REUSE`]; otherwise a new one is signed off the loop and kept.
    pub(super) fn status_list(&self, space: SpaceId, issuer: Did, reply: Reply<serde_json::Value>) {
        let now = now_ms();
        let prepared = (|| {
            let base = self.public_url.as_ref().ok_or_else(|| {
                NodeError::NotFound(
                    "this node serves no status lists (it has no public URL)".into(),
                )
            })?;
            let identity = self.timites.get(&issuer).cloned().ok_or_else(|| {
                NodeError::NotFound(format!(
                    "this node does not hold the key of {issuer}; its issuer's node serves its status list"
                ))
            })?;
            let issued = self.engine.ready_space(space)?.issued_by(&issuer);
            if issued.is_empty() {
                return Err(NodeError::NotFound(format!(
                    "{issuer} issued no credential in space {space}"
                )));
            }
            let mut revoked: Vec<u64> = issued
                .into_iter()
                .filter(|(_, revoked)| *revoked)
                .map(|(index, _)| status_list::list_position(index))
                .collect();
            revoked.sort_unstable();
            let secs = |ms: u64| credential::format_time((ms / 1000) as i64);
            let req = StatusListRequest {
                url: status_list::status_list_url(base, &space, &issuer),
                revoked,
                valid_from: secs(now),
                valid_until: secs(now + STATUS_LIST_VALIDITY.as_millis() as u64),
            };
            Ok((identity, req))
        })();
        let (identity, req) = match prepared {
            Ok(p) => p,
            Err(e) => return drop(reply.send(Err(e))),
        };
        if let Some(last) = self.status_lists.get(&(space, issuer)) {
            if last.revoked == req.revoked
                && now < last.signed_at_ms + STATUS_LIST_REUSE.as_millis() as u64
            {
                return drop(reply.send(Ok(last.vc.clone())));
            }
        }
        let internal = self.internal.clone();
        tokio::spawn(async move {
            let r = status_list::issue_status_list(&identity, &req)
                .await
                .map_err(|e| NodeError::Invalid(e.to_string()));
            if let Ok(vc) = &r {
                let signed = SignedList {
                    revoked: req.revoked,
                    signed_at_ms: now,
                    vc: vc.clone(),
                };
                let _ = internal
                    .send(Internal::StatusListSigned(space, issuer, signed))
                    .await;
            }
            let _ = reply.send(r);
        });
    }

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
        if tim_did::profile_credential::is_profile_credential(vc) {
            // Nobody vouches for a self-issued profile but its subject: shown, never counted.
            return Check {
                name: "trusted by this node".into(),
                outcome: Ok("a self-issued profile: shown, never counted".into()),
            };
        }
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
            let revoked = credential::credential_space(&vc)
                .and_then(|s| self.engine.space(&s))
                .and_then(|s| revoked_in(s, &vc))
                .unwrap_or(false);
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
        if let Some(rec) = s.issued(id) {
            let index = rec.status_index;
            out.push(if s.is_revoked(index) {
                check(
                    "revocation",
                    Err(format!("revoked (status index {index} in the space)")),
                )
            } else {
                check(
                    "revocation",
                    Ok(format!("not revoked (status index {index} in the space)")),
                )
            });
        }
        out
    }
}
