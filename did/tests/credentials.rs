//! Credentials and presentations: issue, verify offline, and refuse tampering.

use serde_json::json;
use ssi::json_ld::{CompactJsonLd, ContextLoader, Expandable};
use tim_did::credential::{
    issue, present, verify_credential, verify_presentation, verify_presentation_proof,
    verify_proof, Claim, CredentialRequest, StatusEntry,
};
use tim_did::Identity;
use tim_protocol::SpaceId;

fn request(subject: &Identity) -> CredentialRequest {
    CredentialRequest {
        id: "urn:uuid:5b0c3c3e-6a1c-4f57-9a53-6e1f7a0c2f01".into(),
        space: SpaceId::from([7; 32]),
        subject: subject.did(),
        claim: Claim::Reputation {
            score: 42,
            contributions: 30,
            ratings_received: 4,
            average_rating: 4.5,
            period_start: "2026-11-01T00:00:00Z".into(),
            period_end: "2026-11-24T00:00:00Z".into(),
            v2: None,
        },
        valid_from: "2026-11-24T10:00:00Z".into(),
        valid_until: Some("2027-11-24T10:00:00Z".into()),
        status: Some(StatusEntry::in_space(&SpaceId::from([7; 32]), 17)),
    }
}

#[tokio::test]
async fn issued_credential_verifies_offline_and_tampering_breaks_it() {
    let (issuer, subject) = (Identity::from_seed([1; 32]), Identity::from_seed([2; 32]));
    let vc = issue(&issuer, &request(&subject)).await.unwrap();
    assert_eq!(vc["proof"]["cryptosuite"], "eddsa-rdfc-2022");
    assert_eq!(vc["proof"]["type"], "DataIntegrityProof");
    assert_eq!(vc["@context"][0], "https://www.w3.org/ns/credentials/v2");
    verify_proof(&vc).await.unwrap();

    let mut tampered = vc.clone();
    tampered["credentialSubject"]["score"] = json!(4200);
    assert!(
        verify_proof(&tampered).await.is_err(),
        "a changed score must not verify"
    );
    let mut other_issuer = vc.clone();
    other_issuer["issuer"] = json!(subject.did().to_string());
    assert!(verify_proof(&other_issuer).await.is_err());
}

#[tokio::test]
async fn every_term_expands_with_the_standard_context_and_nothing_is_dropped() {
    let (issuer, subject) = (Identity::from_seed([1; 32]), Identity::from_seed([2; 32]));
    for claim in [
        request(&subject).claim,
        Claim::Membership {
            role: "admin".into(),
            since: "2026-11-01T00:00:00Z".into(),
        },
        Claim::Ability {
            ability: "translate:fr-en".into(),
            level: "expert".into(),
            attested_by: issuer.did(),
        },
    ] {
        let req = CredentialRequest {
            claim,
            ..request(&subject)
        };
        let vc = issue(&issuer, &req).await.unwrap();
        // ssi's expansion refuses undefined terms; the loader holds only the standard
        // contexts, so this also shows that nothing is fetched.
        let doc = CompactJsonLd(serde_json::from_value(vc.clone()).unwrap());
        doc.expand(&ContextLoader::default())
            .await
            .unwrap_or_else(|e| panic!("{e}: {vc:#}"));
        let mut undefined = vc.clone();
        undefined["credentialSubject"]["mystery"] = json!("?");
        let doc = CompactJsonLd(serde_json::from_value(undefined).unwrap());
        assert!(doc.expand(&ContextLoader::default()).await.is_err());
    }
}

#[tokio::test]
async fn presentations_are_signed_by_the_holder_and_bound_to_domain_and_challenge() {
    let (issuer, holder) = (Identity::from_seed([1; 32]), Identity::from_seed([2; 32]));
    let vc = issue(&issuer, &request(&holder)).await.unwrap();
    let vp = present(&holder, vec![vc], "urn:tim:space:ab", "head-1234")
        .await
        .unwrap();
    assert_eq!(vp["proof"]["domain"], "urn:tim:space:ab");
    assert_eq!(vp["proof"]["challenge"], "head-1234");
    assert_eq!(vp["proof"]["proofPurpose"], "authentication");
    verify_presentation_proof(&vp).await.unwrap();
    let mut replayed = vp.clone();
    replayed["proof"]["domain"] = json!("urn:tim:space:cd");
    assert!(verify_presentation_proof(&replayed).await.is_err());
    let mut rechallenged = vp.clone();
    rechallenged["proof"]["challenge"] = json!("head-9999");
    assert!(verify_presentation_proof(&rechallenged).await.is_err());
}

const NOW: i64 = 1_795_514_400; // 2026-11-24T10:00:00Z

#[tokio::test]
async fn verification_reports_each_check_and_refuses_expired_or_early_credentials() {
    let (issuer, subject) = (Identity::from_seed([1; 32]), Identity::from_seed([2; 32]));
    let vc = issue(&issuer, &request(&subject)).await.unwrap();
    let report = verify_credential(&vc, NOW + 60).await;
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.checks.len(), 3);

    let late = verify_credential(&vc, NOW + 400 * 86_400).await;
    let failed = late.first_failure().unwrap();
    assert_eq!(failed.name, "validity period");
    assert!(failed.outcome.as_ref().unwrap_err().contains("expired"));
    let early = verify_credential(&vc, NOW - 60).await;
    assert!(early
        .first_failure()
        .unwrap()
        .outcome
        .as_ref()
        .unwrap_err()
        .contains("not valid before"));
    let mut tampered = vc.clone();
    tampered["validUntil"] = json!("2099-01-01T00:00:00Z");
    assert_eq!(
        verify_credential(&tampered, NOW)
            .await
            .first_failure()
            .unwrap()
            .name,
        "proof"
    );
}

#[tokio::test]
async fn a_presentation_must_come_from_the_subject_for_this_domain_and_challenge() {
    let (issuer, holder, thief) = (
        Identity::from_seed([1; 32]),
        Identity::from_seed([2; 32]),
        Identity::from_seed([3; 32]),
    );
    let vc = issue(&issuer, &request(&holder)).await.unwrap();
    let vp = present(&holder, vec![vc.clone()], "urn:tim:space:ab", "c1")
        .await
        .unwrap();
    let ok = verify_presentation(&vp, Some("urn:tim:space:ab"), Some("c1"), NOW + 1).await;
    assert!(ok.ok(), "{ok:?}");
    let other_domain =
        verify_presentation(&vp, Some("urn:tim:space:cd"), Some("c1"), NOW + 1).await;
    assert_eq!(other_domain.first_failure().unwrap().name, "domain");
    let stale = verify_presentation(&vp, Some("urn:tim:space:ab"), Some("c0"), NOW + 1).await;
    assert_eq!(stale.first_failure().unwrap().name, "challenge");
    // Someone else presents the holder's credential: it is not about them.
    let stolen = present(&thief, vec![vc], "urn:tim:space:ab", "c1")
        .await
        .unwrap();
    let r = verify_presentation(&stolen, Some("urn:tim:space:ab"), Some("c1"), NOW + 1).await;
    assert_eq!(r.first_failure().unwrap().name, "credential 1 subject");
    // Claiming to be the holder while signing with another key.
    let mut forged = stolen.clone();
    forged["holder"] = json!(holder.did().to_string());
    let r = verify_presentation(&forged, Some("urn:tim:space:ab"), Some("c1"), NOW + 1).await;
    assert_eq!(r.first_failure().unwrap().name, "holder");
}

#[tokio::test]
async fn the_issuer_exports_a_jwt_form_that_verifies_and_breaks_when_tampered() {
    use tim_did::credential::{issue_jwt, verify_jwt, verify_jwt_credential};
    let (issuer, subject) = (Identity::from_seed([1; 32]), Identity::from_seed([2; 32]));
    let vc = issue(&issuer, &request(&subject)).await.unwrap();
    let jwt = issue_jwt(&issuer, &vc).await.unwrap();
    assert_eq!(jwt.split('.').count(), 3);
    let payload = verify_jwt(&jwt).await.unwrap();
    let mut without_proof = vc.clone();
    without_proof.as_object_mut().unwrap().remove("proof");
    assert_eq!(payload, without_proof);
    assert!(verify_jwt_credential(&jwt, NOW + 1).await.ok());
    assert_eq!(
        verify_jwt_credential(&jwt, NOW + 400 * 86_400)
            .await
            .first_failure()
            .unwrap()
            .name,
        "validity period"
    );
    // Change one character of the payload.
    let mut parts: Vec<String> = jwt.split('.').map(String::from).collect();
    let mut p = parts[1].clone().into_bytes();
    p[20] = if p[20] == b'A' { b'B' } else { b'A' };
    parts[1] = String::from_utf8(p).unwrap();
    assert!(verify_jwt(&parts.join(".")).await.is_err());
    // Only the issuer can make the JWT form.
    assert!(issue_jwt(&subject, &vc).await.is_err());
}

/// A status list is a standard credential (it expands with the built-in contexts and its
/// proof verifies), and it answers for a credential only if it is the list the credential
/// names, by the credential's issuer.
#[tokio::test]
async fn a_status_list_answers_for_the_credentials_of_its_issuer_only() {
    use tim_did::status_list::{issue_status_list, revoked_by, StatusListRequest};
    let (issuer, subject) = (Identity::from_seed([1; 32]), Identity::from_seed([2; 32]));
    let url = "http://127.0.0.1:4711/v1/status-lists/x/y";
    let with_bit = |index: u64| CredentialRequest {
        status: Some(StatusEntry {
            index,
            list: url.into(),
        }),
        ..request(&subject)
    };
    let (revoked, kept) = (
        issue(&issuer, &with_bit(5)).await.unwrap(),
        issue(&issuer, &with_bit(6)).await.unwrap(),
    );
    let list_req = StatusListRequest {
        url: url.into(),
        revoked: vec![5],
        valid_from: "2026-11-24T10:00:00Z".into(),
        valid_until: "2026-11-24T10:05:00Z".into(),
    };
    let list = issue_status_list(&issuer, &list_req).await.unwrap();
    let doc = CompactJsonLd(serde_json::from_value(list.clone()).unwrap());
    doc.expand(&ContextLoader::default())
        .await
        .unwrap_or_else(|e| panic!("{e}: {list:#}"));
    // Judged at the time given, not at the machine's clock (long past this list's five
    // minutes): a join carrying it is judged alike by a node that receives it a year later.
    let report = verify_credential(&list, 1_795_514_500).await;
    assert!(report.ok(), "{report:?}");
    let late = verify_credential(&list, 1_795_514_800).await;
    assert_eq!(late.first_failure().unwrap().name, "validity period");

    assert!(revoked_by(&revoked, std::slice::from_ref(&list)).unwrap());
    assert!(!revoked_by(&kept, std::slice::from_ref(&list)).unwrap());
    let e = revoked_by(&kept, &[]).unwrap_err().to_string();
    assert!(e.contains("no status list"), "{e}");
    let forged = issue_status_list(&Identity::from_seed([3; 32]), &list_req)
        .await
        .unwrap();
    let e = revoked_by(&kept, &[forged]).unwrap_err().to_string();
    assert!(e.contains("not signed by the credential's issuer"), "{e}");
}

#[tokio::test]
async fn a_reputation_v2_basis_is_stated_and_signed() {
    let (issuer, subject) = (Identity::from_seed([1; 32]), Identity::from_seed([2; 32]));
    let mut req = request(&subject);
    if let Claim::Reputation { v2, .. } = &mut req.claim {
        *v2 = Some(tim_did::credential::ReputationBasis {
            turns: 3,
            standing: 1000,
            contribution_points: 3_464,
            rating_points: 23_125,
            ability_points: -4_000,
        });
    }
    let vc = issue(&issuer, &req).await.unwrap();
    let s = &vc["credentialSubject"];
    assert_eq!(s["formula"], "tim-reputation-2");
    assert_eq!(
        (s["turns"].as_u64(), s["standing"].as_u64()),
        (Some(3), Some(1000))
    );
    assert_eq!(s["contributionPoints"].as_f64(), Some(3.464));
    assert_eq!(s["abilityPoints"].as_f64(), Some(-4.0));
    verify_proof(&vc).await.unwrap();
    let mut tampered = vc.clone();
    tampered["credentialSubject"]["standing"] = json!(999);
    assert!(
        verify_proof(&tampered).await.is_err(),
        "a changed basis must not verify"
    );
}
