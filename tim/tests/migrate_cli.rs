//! `tim space migrate` with the `tim` binary (docs/rules.md §4.1): a member without the
//! `migrate` permission is refused with the rules' reason; the owner migrates a new space to
//! the newest version in one signed change; a second migration to the same version, and one
//! to a version the node does not know, are refused and change nothing.

mod common;

use serde_json::Value;

use common::ok;

fn version(home: &std::path::Path, space: &str) -> u64 {
    let all: Value = serde_json::from_str(&ok(home, &["space", "list", "--json"])).unwrap();
    let summary = all.as_array().unwrap().iter().find(|s| s["id"] == space);
    summary
        .and_then(|s| s["schema_version"].as_u64())
        .unwrap_or_else(|| panic!("{all}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_owner_migrates_a_space_and_nobody_else_does() {
    let cluster = common::one_node(&[]).await;
    let home = cluster.nodes[0].home.clone();
    let space = ok(&home, &["space", "create", "garden"]).trim().to_string();
    assert_eq!(version(&home, &space), 1);

    let (_, token) = common::timite_with_token(&home);
    let as_member =
        |args: &[&str]| common::tim(&home, &[&["--token", token.as_str()], args].concat());
    assert!(as_member(&["space", "join", &space]).status.success());
    let line = common::one_error_line(&as_member(&["space", "migrate", &space]));
    assert!(line.contains("migrate"), "{line}");
    assert_eq!(version(&home, &space), 1);

    let json: Value =
        serde_json::from_str(&ok(&home, &["space", "migrate", &space, "--json"])).unwrap();
    let newest = tim_crdt::schema::LATEST_VERSION;
    assert_eq!(
        (json["from"].as_u64(), json["to"].as_u64()),
        (Some(1), Some(newest))
    );
    assert_eq!(version(&home, &space), newest);

    let again = common::one_error_line(&common::tim(&home, &["space", "migrate", &space]));
    assert!(again.contains("already"), "{again}");
    let to = (newest + 1).to_string();
    let unknown = common::one_error_line(&common::tim(
        &home,
        &["space", "migrate", &space, "--to", &to],
    ));
    assert!(unknown.contains("unknown"), "{unknown}");
    assert_eq!(version(&home, &space), newest);
}
