//! Revocation that outside verifiers can check: the issuing node serves each issuer's status
//! list as a signed `BitstringStatusListCredential` at the URL its credentials name, and
//! Digital Bazaar's verifier (`@digitalbazaar/vc` with `@digitalbazaar/vc-bitstring-status-list`,
//! under Node.js) fetches it over HTTP on 127.0.0.1, checks its proof and issuer, and reads the
//! credential's bit.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::node_with_api;
use serde_json::Value;
use tim_did::credential::verify_credential;
use tim_did::status_list::{bit, decode_list, STATUS_LIST_BITS};
use tim_did::test_utils::{ensure_installed, js};
use tim_node::CredentialKind;

/// Digital Bazaar's verdict on a credential, status checked (the script is blocking: it
/// fetches the list from the node served by this process).
async fn outside_verdict(vc: &Value) -> Value {
    let vc = vc.clone();
    tokio::task::spawn_blocking(move || js("verify-credential-status", &vc))
        .await
        .unwrap()
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digital_bazaar_refuses_a_revoked_credential_after_fetching_its_status_list() {
    ensure_installed();
    let tmp = tempfile::tempdir().unwrap();
    let (a, api) = node_with_api(&tmp, 1, "admin-token").await;
    let me = a.keys.timite.did();
    let space = a.handle.create_space("guild", "").await.unwrap();
    let hour = Some(Duration::from_secs(3600));
    let kept = a
        .handle
        .issue_credential(space.id, me, CredentialKind::Membership, hour)
        .await
        .unwrap();
    let revoked = a
        .handle
        .issue_credential(space.id, me, CredentialKind::Reputation, hour)
        .await
        .unwrap();
    let list_url = format!("{api}/v1/status-lists/{}/{me}", space.id);
    for vc in [&kept, &revoked] {
        let status = &vc["credentialStatus"];
        assert_eq!(status["statusListCredential"], list_url.as_str(), "{vc:#}");
        let index: u64 = status["statusListIndex"].as_str().unwrap().parse().unwrap();
        assert!(index < STATUS_LIST_BITS, "{index}");
        let r = outside_verdict(vc).await;
        assert_eq!(r["verified"], true, "not yet revoked: {r}");
        assert_eq!(r["statusChecked"], 1, "{r}");
    }
    assert_ne!(
        kept["credentialStatus"]["statusListIndex"],
        revoked["credentialStatus"]["statusListIndex"]
    );

    a.handle
        .revoke_credential(revoked["id"].as_str().unwrap())
        .await
        .unwrap();
    let r = outside_verdict(&revoked).await;
    assert_eq!(r["verified"], false, "revoked: {r}");
    let error = r["error"].as_str().unwrap();
    assert!(
        error.contains("revoked"),
        "the failure is the revocation: {r}"
    );
    let r = outside_verdict(&kept).await;
    assert_eq!(r["verified"], true, "the other credential stands: {r}");

    // The list itself, as any client fetches it: no token, signed by the issuer, short-lived;
    // the node answers the same signed list until its bits change.
    let http = reqwest::Client::new();
    let fetch = || async {
        http.get(&list_url)
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    let list = fetch().await;
    assert_eq!(fetch().await, list, "signed once, answered again");
    assert_eq!(list["id"], list_url.as_str());
    assert_eq!(list["issuer"], me.to_string());
    assert_eq!(list["type"][1], "BitstringStatusListCredential");
    let (from, until) = (list["validFrom"].as_str(), list["validUntil"].as_str());
    assert!(
        from.is_some() && until.is_some() && from < until,
        "{list:#}"
    );
    assert_eq!(list["credentialSubject"]["type"], "BitstringStatusList");
    assert_eq!(list["credentialSubject"]["statusPurpose"], "revocation");
    let report = verify_credential(&list, now()).await;
    assert!(report.ok(), "{report:?}");
    let bits = decode_list(list["credentialSubject"]["encodedList"].as_str().unwrap()).unwrap();
    assert_eq!(bits.len() as u64, STATUS_LIST_BITS / 8);
    let position = |vc: &Value| -> u64 {
        vc["credentialStatus"]["statusListIndex"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(bit(&bits, position(&revoked)), Some(true));
    assert_eq!(bit(&bits, position(&kept)), Some(false));
    let set = (0..STATUS_LIST_BITS)
        .filter(|p| bit(&bits, *p) == Some(true))
        .count();
    assert_eq!(set, 1, "only the revoked credential's bit is set");

    // Unknown space, or an issuer this node does not hold: 404 problem documents.
    let other = tim_did::Identity::from_seed([9; 32]).did();
    for url in [
        format!("{api}/v1/status-lists/{}/{me}", "ab".repeat(32)),
        format!("{api}/v1/status-lists/{}/{other}", space.id),
    ] {
        let resp = http.get(&url).send().await.unwrap();
        assert_eq!(resp.status(), 404, "{url}");
        let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
        assert_eq!(ct, "application/problem+json", "{url}");
    }
}
