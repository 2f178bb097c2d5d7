//! The profile with the passport through the `tim` binary (docs/passports.md, "The profile
//! credential"): `tim profile set` issues the self-issued profile credential, `tim passport
//! list` shows it as kind `profile` (one, the newest), and its exported file verifies offline
//! with `tim passport verify`; altered, it does not.

mod common;

use common::{ok, one_node, tim};

#[tokio::test(flavor = "multi_thread")]
async fn profile_set_puts_a_profile_credential_in_the_passport_that_verifies_offline() {
    let cluster = one_node(&[]).await;
    let home = cluster.nodes[0].home.clone();
    let set = ok(&home, &["profile", "set", "--name", "Ann"]);
    let first = set
        .lines()
        .find_map(|l| l.strip_prefix("profile credential "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no credential named in: {set}"))
        .to_string();
    let set = ok(&home, &["--json", "profile", "set", "--name", "Ann B."]);
    let set: serde_json::Value = serde_json::from_str(&set).unwrap();
    let second = set["credential"].as_str().unwrap().to_string();
    assert_ne!(first, second);

    let list = ok(&home, &["passport", "list"]);
    let profiles: Vec<&str> = list.lines().filter(|l| l.contains(" profile ")).collect();
    assert_eq!(profiles.len(), 1, "{list}");
    assert!(profiles[0].starts_with(&second), "{list}");
    assert!(profiles[0].contains(" valid "), "{list}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("profile.json");
    ok(
        &home,
        &[
            "passport",
            "export",
            &second,
            "--out",
            file.to_str().unwrap(),
        ],
    );
    let verified = ok(&home, &["passport", "verify", file.to_str().unwrap()]);
    assert!(verified.contains("self-issued"), "{verified}");
    assert!(verified.contains("the credential verifies"), "{verified}");

    let mut vc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    vc["credentialSubject"]["name"] = "Mallory".into();
    std::fs::write(&file, vc.to_string()).unwrap();
    let refused = tim(&home, &["passport", "verify", file.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(
        common::text(&refused.stdout).contains("does NOT verify"),
        "{}",
        common::text(&refused.stdout)
    );
}
