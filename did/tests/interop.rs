//! Interop with an independent ecosystem: Digital Bazaar's JavaScript VC stack
//! (`interop/js`, run with Node.js) verifies what Tim issues, and Tim verifies what it issues.
//! The npm packages are installed (from the lock file) on first use.

use serde_json::json;
use tim_did::credential::{issue, present, verify_proof, Claim, CredentialRequest};
use tim_did::test_utils::{ensure_installed, js};
use tim_did::Identity;
use tim_protocol::SpaceId;

#[tokio::test]
async fn tim_and_digital_bazaar_verify_each_others_credentials() {
    ensure_installed();
    let (issuer, holder) = (Identity::from_seed([1; 32]), Identity::from_seed([2; 32]));
    let req = CredentialRequest {
        id: "urn:uuid:2c7a8e1f-3b4d-4e5f-8a9b-0c1d2e3f4a5b".into(),
        space: SpaceId::from([7; 32]),
        subject: holder.did(),
        claim: Claim::Membership {
            role: "moderator".into(),
            since: "2026-11-01T00:00:00Z".into(),
        },
        valid_from: "2026-11-24T10:00:00Z".into(),
        valid_until: Some("2030-01-01T00:00:00Z".into()),
        status: None,
    };
    let vc = issue(&issuer, &req).await.unwrap();

    // Tim -> Digital Bazaar: a credential.
    let r = js("verify-credential", &vc);
    assert_eq!(r["verified"], true, "{r}");
    let mut tampered = vc.clone();
    tampered["credentialSubject"]["role"] = json!("owner");
    assert_eq!(js("verify-credential", &tampered)["verified"], false);
    let mut expired = req.clone();
    expired.valid_from = "2025-01-01T00:00:00Z".into();
    expired.valid_until = Some("2025-06-01T00:00:00Z".into());
    let expired = issue(&issuer, &expired).await.unwrap();
    let r = js("verify-credential", &expired);
    assert_eq!(r["verified"], false, "an expired credential must fail: {r}");

    // Tim -> Digital Bazaar: a presentation bound to a domain and a challenge.
    let vp = present(
        &holder,
        vec![vc.clone()],
        "urn:tim:space:ab",
        "challenge-42",
    )
    .await
    .unwrap();
    let ok = json!({"presentation": vp, "domain": "urn:tim:space:ab", "challenge": "challenge-42"});
    let r = js("verify-presentation", &ok);
    assert_eq!(r["verified"], true, "{r}");
    let replay =
        json!({"presentation": vp, "domain": "urn:tim:space:cd", "challenge": "challenge-42"});
    assert_eq!(js("verify-presentation", &replay)["verified"], false);
    let stale = json!({"presentation": vp, "domain": "urn:tim:space:ab", "challenge": "old"});
    assert_eq!(js("verify-presentation", &stale)["verified"], false);

    // Tim's JWT form, checked with the `jose` library (key from the did:key in `kid`).
    let jwt = tim_did::credential::issue_jwt(&issuer, &vc).await.unwrap();
    let r = js("verify-jwt", &json!({ "jwt": jwt }));
    assert_eq!(r["verified"], true, "{r}");
    assert_eq!(r["alg"], "EdDSA");
    assert_eq!(r["typ"], "vc-ld+jwt");
    let mut parts: Vec<String> = jwt.split('.').map(String::from).collect();
    let last = if parts[2].ends_with('A') { "B" } else { "A" };
    parts[2] = format!("{}{last}", &parts[2][..parts[2].len() - 1]);
    let r = js("verify-jwt", &json!({ "jwt": parts.join(".") }));
    assert_eq!(r["verified"], false, "{r}");

    // Digital Bazaar -> Tim.
    let theirs = js(
        "issue",
        &json!({
            "seed": "0303030303030303030303030303030303030303030303030303030303030303",
            "subject": holder.did().to_string(),
            "validFrom": "2026-11-24T10:00:00Z",
        }),
    );
    assert_eq!(
        theirs["proof"]["cryptosuite"], "eddsa-rdfc-2022",
        "{theirs}"
    );
    verify_proof(&theirs).await.unwrap();
    let mut tampered = theirs.clone();
    tampered["credentialSubject"]["id"] = json!(issuer.did().to_string());
    assert!(verify_proof(&tampered).await.is_err());
}

#[tokio::test]
async fn digital_bazaar_verifies_a_self_issued_profile_and_refuses_it_altered() {
    use tim_did::profile_credential::{issue_profile, AvatarDigest, ProfileClaim};
    ensure_installed();
    let ann = Identity::from_seed([2; 32]);
    let claim = ProfileClaim {
        name: "Ann Example".into(),
        bio: Some("Gardener.".into()),
        avatar: Some(AvatarDigest::of("image/png", b"\x89PNG\r\n\x1a\n...")),
    };
    let vc = issue_profile(
        &ann,
        "urn:uuid:0f0e0d0c-0b0a-4908-8706-050403020100",
        "2026-11-24T10:00:00Z",
        &claim,
    )
    .await
    .unwrap();
    let r = js("verify-credential", &vc);
    assert_eq!(r["verified"], true, "{r}");
    let mut renamed = vc.clone();
    renamed["credentialSubject"]["name"] = json!("Mallory");
    assert_eq!(js("verify-credential", &renamed)["verified"], false);
    let mut other_avatar = vc.clone();
    other_avatar["credentialSubject"]["avatar"]["digestSRI"] =
        json!(AvatarDigest::of("image/png", b"\x89PNG\r\n\x1a\nother").sri());
    assert_eq!(js("verify-credential", &other_avatar)["verified"], false);

    // In the holder's presentation, as a join carries it.
    let vp = present(&ann, vec![vc], "urn:tim:space:ab", "c1")
        .await
        .unwrap();
    let r = js(
        "verify-presentation",
        &json!({"presentation": vp, "domain": "urn:tim:space:ab", "challenge": "c1"}),
    );
    assert_eq!(r["verified"], true, "{r}");
}
