//! `tim passport verify` checks any credential offline and exits non-zero when a check fails;
//! `tim node run` names its status lists under its public URL and serves them; `tim passport
//! list` and `show` say which credentials are revoked.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

mod common;

use tim_did::credential::{issue, Claim, CredentialRequest};
use tim_did::Identity;
use tim_protocol::api::IssueRequest;
use tim_protocol::SpaceId;
use tim_testnet::Cluster;

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

/// Issues a membership credential to the node's own timite in a new space; returns it with
/// the timite's DID and the space.
async fn issued(client: &tim_client::Client) -> (serde_json::Value, String, SpaceId) {
    let me = client.status().await.unwrap().timite;
    let space = client.create_space("guild", "").await.unwrap().id;
    let req = IssueRequest {
        subject: me,
        kind: "membership".into(),
        ability: None,
        level: None,
        valid_for_secs: Some(3600),
    };
    let vc = client.issue_credential(space, &req).await.unwrap();
    (vc, me.to_string(), space)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_names_and_serves_its_status_lists_at_its_public_url() {
    let exe = Path::new(env!("CARGO_BIN_EXE_tim"));
    // By default the public URL is the API's own address on loopback.
    let mut cluster = Cluster::start(exe, 1, None, None).await.unwrap();
    let client = cluster.nodes[0].client.clone();
    let (vc, me, space) = issued(&client).await;
    let url = format!("{}/v1/status-lists/{space}/{me}", client.base());
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert_eq!(vc["credentialStatus"]["statusListCredential"], url.as_str());
    let list: serde_json::Value = reqwest::get(&url)
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["id"], url.as_str());
    assert_eq!(list["issuer"], me.as_str());
    cluster.stop().await;

    // An operator's URL (a reverse proxy in front of the API) is what credentials name.
    let mut cluster = Cluster::start_with(
        exe,
        1,
        None,
        None,
        &["--public-url", "https://tim.example.org/node/"],
    )
    .await
    .unwrap();
    let (vc, me, space) = issued(&cluster.nodes[0].client).await;
    assert_eq!(
        vc["credentialStatus"]["statusListCredential"],
        format!("https://tim.example.org/node/v1/status-lists/{space}/{me}")
    );
    cluster.stop().await;

    let home = tempfile::tempdir().unwrap();
    let out = Command::new(exe)
        .arg("--home")
        .arg(home.path())
        .args(["node", "run", "--public-url", "tim.example.org"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("must start with http:// or https://"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passport_list_and_show_say_a_credential_is_revoked() {
    let cluster = common::one_node(&[]).await;
    let home = cluster.nodes[0].home.clone();
    let client = cluster.nodes[0].client.clone();
    let (kept, _, _) = issued(&client).await;
    let (revoked, _, _) = issued(&client).await;
    let id = |vc: &serde_json::Value| vc["id"].as_str().unwrap().to_string();
    common::ok(&home, &["passport", "revoke", &id(&revoked)]);
    let list = common::ok(&home, &["passport", "list"]);
    let line = |vc: &serde_json::Value| {
        list.lines()
            .find(|l| l.starts_with(&id(vc)))
            .unwrap_or_else(|| panic!("{list}"))
            .to_string()
    };
    assert!(line(&revoked).contains(" revoked "), "{list}");
    assert!(line(&kept).contains(" valid "), "{list}");
    let show = common::tim(&home, &["passport", "show", &id(&revoked)]);
    assert!(show.status.success());
    assert!(
        common::text(&show.stderr).contains("status: revoked"),
        "{}",
        common::text(&show.stderr)
    );
    let shown: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(shown["id"], revoked["id"]);
}

/// `tim passport issue` on node 1 reaches the subject on node 2: its `tim passport list`
/// shows the credential without any import (docs/passports.md, "Delivery to the subject").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issued_credential_is_listed_on_its_subjects_node() {
    let exe = Path::new(env!("CARGO_BIN_EXE_tim"));
    let cluster = Cluster::start(exe, 2, None, None).await.unwrap();
    let (issuer, holder) = (cluster.nodes[0].home.clone(), cluster.nodes[1].home.clone());
    let space = common::ok(&issuer, &["space", "create", "guild"])
        .trim()
        .to_string();
    let via = cluster.nodes[0].client.status().await.unwrap().listen[0].clone();
    common::ok(&holder, &["space", "join", &space, "--via", &via]);
    let ann = common::ok(&holder, &["whoami"])
        .lines()
        .next()
        .unwrap()
        .to_string();
    common::wait_for(
        "ann's join to reach node 1",
        Duration::from_secs(20),
        || {
            common::ok(&issuer, &["space", "members", &space])
                .contains(&ann)
                .then_some(())
        },
    );
    let vc: serde_json::Value = serde_json::from_str(&common::ok(
        &issuer,
        &[
            "--json",
            "passport",
            "issue",
            &space,
            &ann,
            "--kind",
            "membership",
        ],
    ))
    .unwrap();
    let id = vc["id"].as_str().unwrap().to_string();
    let line = common::wait_for(
        "the credential to be listed on node 2",
        Duration::from_secs(20),
        || {
            common::ok(&holder, &["passport", "list"])
                .lines()
                .find(|l| l.starts_with(&id))
                .map(String::from)
        },
    );
    assert!(line.contains(" valid "), "{line}");
    let shown = common::tim(&holder, &["passport", "show", &id]);
    assert!(shown.status.success());
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(shown, vc);
}
