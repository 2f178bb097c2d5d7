//! Credentials delivered to their subject (docs/passports.md, "Delivery to the subject"): an
//! issuance record carries the signed credential, and the node that hosts its subject, on
//! receiving the record, verifies the credential against the record and keeps it in the
//! holder's passport as an import would. A credential that fails is a logged rejection and is
//! never stored. At start, the node offers every such record again ([`Actor::redeliver`]), so a
//! stop between the record and the credential's storage loses nothing.

use tim_did::credential;
use tim_protocol::{Did, SpaceId};
use tracing::{debug, info, warn};

use super::{now_ms, Actor};
use crate::store::Store;

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

/// A credential an issuance record carries to a timite this node hosts, and does not hold.
#[derive(Debug)]
struct Due {
    space: SpaceId,
    id: String,
    issuer: Did,
    subject: Did,
    json: String,
}

impl Due {
    /// Checks the credential ([`check_delivered`]) and keeps it, flushed; a failure is logged.
    async fn keep(self, store: Store) {
        let Due {
            space,
            id,
            issuer,
            subject,
            json,
        } = self;
        if let Err(e) = check_delivered(space, &id, &issuer, &subject, &json).await {
            return warn!(%space, credential = %id, %subject, "delivered credential rejected: {e}");
        }
        let kept = async {
            store.put_credential(&id, json.as_bytes())?;
            store.flush().await
        }
        .await;
        match kept {
            Ok(()) => info!(%space, credential = %id, %subject, "credential delivered"),
            Err(e) => warn!(%space, credential = %id, "cannot keep a delivered credential: {e}"),
        }
    }
}

impl Actor {
    /// A space recorded the issuance of credential `id`: if its subject is a timite this node
    /// hosts, and the record carries the credential, which this node does not hold yet, the
    /// credential is checked off the loop ([`check_delivered`]) and kept, flushed.
    pub(super) fn deliver(&mut self, space: SpaceId, id: String) {
        if let Some(due) = self.due(space, id) {
            tokio::spawn(due.keep(self.store.clone()));
        }
    }

    /// What [`Actor::deliver`] would check and keep of the record of credential `id` in
    /// `space`: `None` unless it is about a hosted timite and carries a credential not held.
    fn due(&self, space: SpaceId, id: String) -> Option<Due> {
        let rec = self.engine.space(&space)?.issued(&id)?;
        if !self.timites.contains_key(&rec.subject) {
            return None;
        }
        let Some(json) = rec.credential else {
            debug!(%space, credential = %id, "the issuance record carries no credential (an older issuer's node)");
            return None;
        };
        if matches!(self.store.credential(&id), Ok(Some(_))) {
            return None;
        }
        Some(Due {
            space,
            id,
            issuer: rec.issuer,
            subject: rec.subject,
            json,
        })
    }

    /// Deliveries a stop may have cut short (docs/passports.md, "Delivery after a crash"):
    /// every issuance record, in every space held, is offered to the delivery again, and the
    /// credentials it would keep (about a hosted timite, not held yet) are checked and kept one
    /// after another in one task. Called once, at start: credentials never leave a passport,
    /// so a record whose credential is kept costs one store lookup.
    pub(super) fn redeliver(&mut self) {
        let records: Vec<(SpaceId, String)> = self
            .engine
            .spaces()
            .flat_map(|space| space.issued_ids().into_iter().map(|id| (space.id(), id)))
            .collect();
        let due: Vec<Due> = records
            .into_iter()
            .filter_map(|(space, id)| self.due(space, id))
            .collect();
        if due.is_empty() {
            return;
        }
        info!(
            credentials = due.len(),
            "delivering credentials a stop cut short"
        );
        let store = self.store.clone();
        tokio::spawn(async move {
            for d in due {
                d.keep(store.clone()).await;
            }
        });
    }
}
