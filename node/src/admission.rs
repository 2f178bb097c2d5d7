//! The node's [`AdmissionVerifier`]: checks a joiner's presentation with ssi (offline, did:key).

use tim_crdt::admission::{AdmissionVerifier, PresentedCredential};
use tim_did::credential::verify_presentation;
use tim_protocol::Did;

/// Verifies presentations carried by join changes.
#[derive(Debug, Default)]
pub(crate) struct SsiAdmission;

impl AdmissionVerifier for SsiAdmission {
    fn verify(
        &self,
        presentation: &str,
        domain: &str,
        challenges: &[String],
        holder: &Did,
        at_ms: i64,
    ) -> Result<Vec<PresentedCredential>, String> {
        let vp: serde_json::Value =
            serde_json::from_str(presentation).map_err(|e| format!("not JSON: {e}"))?;
        let challenge = vp["proof"]["challenge"].as_str().unwrap_or_default();
        if !challenges.iter().any(|c| c == challenge) {
            return Err(format!(
                "stale challenge `{challenge}`: it must be one of the heads the join builds on"
            ));
        }
        if vp["holder"].as_str() != Some(holder.to_string().as_str()) {
            return Err(format!("its holder is not the joiner {holder}"));
        }
        // ssi's verification of did:key proofs does no I/O: it completes when polled.
        let report = futures::executor::block_on(verify_presentation(
            &vp,
            Some(domain),
            Some(challenge),
            at_ms.div_euclid(1000),
        ));
        if let Some(failed) = report.first_failure() {
            let reason = failed.outcome.as_ref().err().cloned().unwrap_or_default();
            return Err(format!("{}: {reason}", failed.name));
        }
        let credentials = match &vp["verifiableCredential"] {
            serde_json::Value::Array(a) => a.clone(),
            serde_json::Value::Null => vec![],
            one => vec![one.clone()],
        };
        Ok(credentials.iter().filter_map(presented).collect())
    }
}

fn presented(vc: &serde_json::Value) -> Option<PresentedCredential> {
    let types: Vec<&str> = vc["type"]
        .as_array()?
        .iter()
        .filter_map(|t| t.as_str())
        .collect();
    let kind = if types.contains(&"TimReputationCredential") {
        "reputation"
    } else if types.contains(&"TimAbilityCredential") {
        "ability"
    } else if types.contains(&"TimMembershipCredential") {
        "membership"
    } else {
        return None;
    };
    let subject = &vc["credentialSubject"];
    Some(PresentedCredential {
        kind: kind.into(),
        space: subject["space"]
            .as_str()
            .and_then(|s| s.strip_prefix("urn:tim:space:"))
            .and_then(|s| s.parse().ok()),
        issuer: vc["issuer"].as_str()?.parse().ok()?,
        score: subject["score"].as_i64(),
        ability: subject["ability"].as_str().map(String::from),
    })
}
