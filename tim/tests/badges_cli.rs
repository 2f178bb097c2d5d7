//! Badges and attestations with the `tim` binary (docs/abilities.md §13): an admin sets a
//! badge threshold with `tim ability badges`, which shows it; a member may not, nor may a bad
//! threshold be set; a declaration carrying an attesting credential that does not verify is
//! refused with its reason, and one without is found, unattested.

mod common;

use serde_json::Value;

use common::ok;

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn badge_thresholds_are_set_by_admins_and_bad_attestations_are_refused() {
    let cluster = common::one_node(&[]).await;
    let home = cluster.nodes[0].home.clone();
    let space = ok(&home, &["space", "create", "guild"]).trim().to_string();
    let (_, token) = common::timite_with_token(&home);
    let as_member =
        |args: &[&str]| common::tim(&home, &[&["--token", token.as_str()], args].concat());
    assert!(as_member(&["space", "join", &space]).status.success());

    let set = |min_mean: &str| {
        vec![
            "ability".to_string(),
            "badges".into(),
            space.clone(),
            "--set".into(),
            "text.summarize".into(),
            "--min-rated".into(),
            "2".into(),
            "--min-mean".into(),
            min_mean.into(),
        ]
    };
    // The owner's first setting migrates the space to schema version 6.
    let out = ok(&home, &args(&set("4.5")));
    assert!(
        out.contains("text.summarize: at least 2 rated outcomes with a mean of at least 4.5"),
        "{out}"
    );
    let line = common::one_error_line(&as_member(&args(&set("3"))));
    assert!(line.contains("permission `meta`"), "{line}");
    let line = common::one_error_line(&common::tim(&home, &args(&set("7"))));
    assert!(line.contains("min_mean_rating from 1 to 5"), "{line}");
    let shown: Value =
        serde_json::from_str(&ok(&home, &["ability", "badges", &space, "--json"])).unwrap();
    assert_eq!(shown["text.summarize"]["min_rated"], 2, "{shown}");

    // A carried credential that does not verify: refused, with the verifier's reason.
    let file = home.join("forged.json");
    std::fs::write(
        &file,
        r#"{"id": "urn:x", "type": ["VerifiableCredential"]}"#,
    )
    .unwrap();
    let declare = [
        "ability",
        "declare",
        &space,
        "text.summarize",
        "--description",
        "Summarizes",
    ];
    let attested = [&declare[..], &["--attestation", file.to_str().unwrap()]].concat();
    let line = common::one_error_line(&as_member(&attested));
    assert!(
        line.contains("attested by a credential that fails"),
        "{line}"
    );
    assert!(as_member(&declare).status.success());
    let hits: Value = serde_json::from_str(&ok(
        &home,
        &[
            "ability",
            "search",
            "summarize",
            "--space",
            &space,
            "--json",
        ],
    ))
    .unwrap();
    assert_eq!(hits[0]["attested"], false, "{hits}");
}
