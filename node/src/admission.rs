//! The node's [`AdmissionVerifier`]: checks a joiner's presentation with ssi (offline, did:key),
//! and the revocation of every credential that names an HTTP(S) status list, from the issuer's
//! signed list that the presentation carries (valid at the join's time, like everything in
//! it), so every node reads the same bits. It also checks the status lists that revocation
//! notices carry (docs/passports.md), offline like presentations.

use tim_crdt::admission::{
    AdmissionVerifier, PresentedCredential, StatusRef, VerifiedCredential, VerifiedStatusList,
};
use tim_did::credential::{
    credential_space, credentials_in, has_type, verify_credential, verify_jwt,
    verify_jwt_credential, verify_presentation,
};
use tim_did::status_list::{decode_list, fetchable_list, revoked_by};
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
        let carried = credentials_in(&vp);
        let lists: Vec<serde_json::Value> = carried
            .iter()
            .filter(|c| has_type(c, "BitstringStatusListCredential"))
            .cloned()
            .collect();
        let mut out = Vec::new();
        for (i, vc) in carried.iter().enumerate() {
            let Some(p) = presented(vc) else { continue };
            if let Some(url) = fetchable_list(vc) {
                match revoked_by(vc, &lists) {
                    Ok(false) => {}
                    Ok(true) => {
                        return Err(format!(
                            "credential {} is revoked (its issuer's status list {url})",
                            i + 1
                        ))
                    }
                    Err(e) => return Err(format!("credential {} status: {e}", i + 1)),
                }
            }
            out.push(p);
        }
        Ok(out)
    }

    fn verify_status_list(&self, list: &str) -> Result<VerifiedStatusList, String> {
        let vc: serde_json::Value =
            serde_json::from_str(list).map_err(|e| format!("not JSON: {e}"))?;
        if !has_type(&vc, "BitstringStatusListCredential") {
            return Err("not a BitstringStatusListCredential".into());
        }
        let field = |v: &serde_json::Value, name: &str| {
            v.as_str()
                .map(String::from)
                .ok_or_else(|| format!("no `{name}`"))
        };
        let subject = &vc["credentialSubject"];
        if subject["type"] != "BitstringStatusList" {
            return Err("its subject is not a BitstringStatusList".into());
        }
        // The proof only, whatever the time: a set bit stays set (revocation is final), so
        // a list past its validity still says what it said. (`verify_credential` checks the
        // proof as of a time inside the list's validity period.)
        let report = futures::executor::block_on(verify_credential(&vc, 0));
        if let Some(failed) = report
            .checks
            .iter()
            .find(|c| c.name != "validity period" && c.outcome.is_err())
        {
            let reason = failed.outcome.as_ref().err().cloned().unwrap_or_default();
            return Err(format!("{}: {reason}", failed.name));
        }
        Ok(VerifiedStatusList {
            id: field(&vc["id"], "id")?,
            issuer: field(&vc["issuer"], "issuer")?
                .parse()
                .map_err(|e| format!("its issuer is not a DID: {e}"))?,
            valid_from: field(&vc["validFrom"], "validFrom")?,
            purpose: field(&subject["statusPurpose"], "statusPurpose")?,
            bits: decode_list(&field(&subject["encodedList"], "encodedList")?)
                .map_err(|e| e.to_string())?,
        })
    }

    fn verify_credential(
        &self,
        credential: &str,
        subject: &Did,
        at_ms: i64,
    ) -> Result<VerifiedCredential, String> {
        let at = at_ms.div_euclid(1000);
        // ssi's verification of did:key proofs does no I/O: it completes when polled.
        let (vc, report) = if credential.trim_start().starts_with('{') {
            let vc: serde_json::Value =
                serde_json::from_str(credential).map_err(|e| format!("not JSON: {e}"))?;
            let report = futures::executor::block_on(verify_credential(&vc, at));
            (vc, report)
        } else {
            let report = futures::executor::block_on(verify_jwt_credential(credential, at));
            let vc = futures::executor::block_on(verify_jwt(credential)).unwrap_or_default();
            (vc, report)
        };
        if let Some(failed) = report.first_failure() {
            let reason = failed.outcome.as_ref().err().cloned().unwrap_or_default();
            return Err(format!("{}: {reason}", failed.name));
        }
        if vc["credentialSubject"]["id"].as_str() != Some(subject.to_string().as_str()) {
            return Err(format!("it is not about {subject}"));
        }
        Ok(VerifiedCredential {
            id: vc["id"].as_str().ok_or("it has no `id`")?.to_string(),
            credential: presented(&vc).ok_or("it is not a Tim credential")?,
        })
    }
}

fn presented(vc: &serde_json::Value) -> Option<PresentedCredential> {
    let kind = if has_type(vc, "TimReputationCredential") {
        "reputation"
    } else if has_type(vc, "TimAbilityCredential") {
        "ability"
    } else if has_type(vc, "TimMembershipCredential") {
        "membership"
    } else {
        return None;
    };
    let subject = &vc["credentialSubject"];
    Some(PresentedCredential {
        kind: kind.into(),
        space: credential_space(vc),
        issuer: vc["issuer"].as_str()?.parse().ok()?,
        score: subject["score"].as_i64(),
        ability: subject["ability"].as_str().map(String::from),
        status: fetchable_list(vc).and_then(|list| {
            Some(StatusRef {
                list: list.to_string(),
                index: vc["credentialStatus"]["statusListIndex"]
                    .as_str()?
                    .parse()
                    .ok()?,
            })
        }),
    })
}
