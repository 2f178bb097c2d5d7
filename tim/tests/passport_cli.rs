//! `tim passport verify` checks any credential offline and exits non-zero when a check fails.

use std::process::Command;

use tim_did::credential::{issue, Claim, CredentialRequest};
use tim_did::Identity;
use tim_protocol::SpaceId;

fn verify(path: &std::path::Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tim"))
        .args(["passport", "verify"])
        .arg(path)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test]
async fn passport_verify_prints_each_check_and_fails_on_tampering() {
    let (issuer, subject) = (Identity::from_seed([1; 32]), Identity::from_seed([2; 32]));
    let req = CredentialRequest {
        id: "urn:uuid:9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a".into(),
        space: SpaceId::from([9; 32]),
        subject: subject.did(),
        claim: Claim::Membership {
            role: "member".into(),
            since: "2026-01-01T00:00:00Z".into(),
        },
        valid_from: "2026-01-01T00:00:00Z".into(),
        valid_until: None,
        status: None,
    };
    let vc = issue(&issuer, &req).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("vc.json");
    std::fs::write(&good, serde_json::to_vec_pretty(&vc).unwrap()).unwrap();
    let (ok, out) = verify(&good);
    assert!(ok, "{out}");
    assert!(out.contains("ok      proof"), "{out}");

    let mut tampered = vc.clone();
    tampered["credentialSubject"]["role"] = serde_json::json!("owner");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, serde_json::to_vec(&tampered).unwrap()).unwrap();
    let (ok, out) = verify(&bad);
    assert!(!ok, "{out}");
    assert!(out.contains("FAILED  proof"), "{out}");

    // The JWT form is read too.
    let jwt = tim_did::credential::issue_jwt(&issuer, &vc).await.unwrap();
    let jwt_file = dir.path().join("vc.jwt");
    std::fs::write(&jwt_file, &jwt).unwrap();
    let (ok, out) = verify(&jwt_file);
    assert!(ok && out.contains("ok      JWS signature"), "{out}");
    std::fs::write(&jwt_file, format!("{jwt}x")).unwrap();
    let (ok, out) = verify(&jwt_file);
    assert!(!ok, "{out}");
}
