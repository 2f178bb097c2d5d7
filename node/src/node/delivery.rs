//! Credentials delivered to their subject (docs/passports.md, "Delivery to the subject"): an
//! issuance record carries the signed credential, and the node that hosts its subject, on
//! receiving the record, verifies the credential against the record and keeps it in the
//! holder's passport as an import would. A credential that fails is a logged rejection and is
//! never stored.

use tim_did::credential;
use tim_protocol::{Did, SpaceId};
use tracing::{debug, info, warn};

use super::{now_ms, Actor};

/// Why a credential an issuance record carries is not kept.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum DeliveryError {
    /// The record's `credential` is not a credential's JSON.
    #[error("it is not a credential's JSON: {0}")]
    Malformed(String),
    /// The credential says something other than the record that carries it.
    #[error("its {field} is {got}, the space's record says {want}")]
    Mismatch {
        /// The field that differs.
        field: &'static str,
        /// What the credential says.
        got: String,
        /// What the record says.
        want: String,
    },
    /// The credential's proof, or its shape, fails.
    #[error("{0}")]
    Invalid(String),
}

/// Checks a credential carried by the issuance record of credential `id` in `space`, which
/// names `issuer` and `subject`: its id, issuer, subject and space are the record's, its proof is by the issuer's key and verifies
/// (and it is a well-formed VC 2.0 credential). Its validity period is not a condition: an
/// expired credential is still its holder's, and shows as expired. Returns the credential.
pub(crate) async fn check_delivered(
    space: SpaceId,
    id: &str,
    issuer: &Did,
    subject: &Did,
    json: &str,
) -> Result<serde_json::Value, DeliveryError> {
    let vc: serde_json::Value =
        serde_json::from_str(json).map_err(|e| DeliveryError::Malformed(e.to_string()))?;
    let same = |field: &'static str, got: Option<&str>, want: String| {
        if got == Some(want.as_str()) {
            Ok(())
        } else {
            Err(DeliveryError::Mismatch {
                field,
                got: got.unwrap_or("missing").to_string(),
                want,
            })
        }
    };
    same("id", vc["id"].as_str(), id.to_string())?;
    same("issuer", vc["issuer"].as_str(), issuer.to_string())?;
    same(
        "subject",
        vc["credentialSubject"]["id"].as_str(),
        subject.to_string(),
    )?;
    same(
        "space",
        vc["credentialSubject"]["space"].as_str(),
        credential::space_iri(&space),
    )?;
    same(
        "verification method",
        vc["proof"]["verificationMethod"].as_str(),
        credential::verification_method(issuer),
    )?;
    let report = credential::verify_credential(&vc, (now_ms() / 1000) as i64).await;
    // verify_credential checks the proof as of a time inside the validity period, and the
    // period on its own: only the latter may fail.
    if let Some(failed) = report
        .checks
        .iter()
        .find(|c| c.outcome.is_err() && c.name != "validity period")
    {
        let why = failed.outcome.clone().err().unwrap_or_default();
        return Err(DeliveryError::Invalid(format!("{}: {why}", failed.name)));
    }
    Ok(vc)
}

impl Actor {
    /// A space recorded the issuance of credential `id`: if its subject is a timite this node
    /// hosts, and the record carries the credential, which this node does not hold yet, the
    /// credential is checked off the loop ([`check_delivered`]) and kept, flushed.
    pub(super) fn deliver(&mut self, space: SpaceId, id: String) {
        let Some(rec) = self.engine.space(&space).and_then(|s| s.issued(&id)) else {
            return;
        };
        if !self.timites.contains_key(&rec.subject) {
            return;
        }
        let Some(json) = rec.credential.clone() else {
            debug!(%space, credential = %id, "the issuance record carries no credential (an older issuer's node)");
            return;
        };
        if matches!(self.store.credential(&id), Ok(Some(_))) {
            return;
        }
        let store = self.store.clone();
        tokio::spawn(async move {
            if let Err(e) = check_delivered(space, &id, &rec.issuer, &rec.subject, &json).await {
                return warn!(%space, credential = %id, subject = %rec.subject, "delivered credential rejected: {e}");
            }
            let kept = async {
                store.put_credential(&id, json.as_bytes())?;
                store.flush().await
            }
            .await;
            match kept {
                Ok(()) => {
                    info!(%space, credential = %id, subject = %rec.subject, "credential delivered")
                }
                Err(e) => {
                    warn!(%space, credential = %id, "cannot keep a delivered credential: {e}")
                }
            }
        });
    }
}
