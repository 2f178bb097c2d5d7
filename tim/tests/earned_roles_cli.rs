//! `tim space earned-roles` with the `tim` binary (docs/governance.md "Earned roles"): a
//! member may not set thresholds; the owner sets one, and `space members --json` shows the
//! member who meets it holding the earned role, why, and its reputation; raising the
//! threshold past its reputation makes it a member again; `--remove` and `--clear` empty the
//! list.

mod common;

use serde_json::{json, Value};

use common::ok;

fn member(home: &std::path::Path, space: &str, did: &str) -> Value {
    let all: Value =
        serde_json::from_str(&ok(home, &["space", "members", space, "--json"])).unwrap();
    all.as_array()
        .unwrap()
        .iter()
        .find(|m| m["did"] == did)
        .cloned()
        .unwrap_or_else(|| panic!("{did} not in {all}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_owner_sets_thresholds_and_members_show_the_role_they_earn() {
    let cluster = common::one_node(&[]).await;
    let home = cluster.nodes[0].home.clone();
    let space = ok(&home, &["space", "create", "garden"]).trim().to_string();
    ok(&home, &["space", "migrate", &space]);

    let (did, token) = common::timite_with_token(&home);
    let as_member =
        |args: &[&str]| common::tim(&home, &[&["--token", token.as_str()], args].concat());
    assert!(as_member(&["space", "join", &space]).status.success());
    let set = [
        "space",
        "earned-roles",
        &space,
        "--set",
        "moderator",
        "--min-reputation",
        "10",
    ];
    let refused = common::one_error_line(&as_member(&set));
    assert!(refused.contains("meta"), "{refused}");

    // The owner rates the member 5: 10 points.
    ok(&home, &["rate", &space, &did, "5"]);
    let before = member(&home, &space, &did);
    assert_eq!(
        (before["role"].as_str(), before["held"].as_str()),
        (Some("member"), Some("assigned"))
    );

    let answer: Value =
        serde_json::from_str(&ok(&home, &[&set[..], &["--json"]].concat())).unwrap();
    let threshold = json!({"role": "moderator", "min_reputation": 10});
    assert_eq!(answer["earned_roles"], json!([threshold]));
    assert!(answer["change"].is_string(), "{answer}");
    let shown: Value =
        serde_json::from_str(&ok(&home, &["space", "earned-roles", &space, "--json"])).unwrap();
    assert_eq!(shown["earned_roles"], json!([threshold]));

    let now = member(&home, &space, &did);
    assert_eq!(now["role"], "moderator", "{now}");
    assert_eq!(now["held"], "earned");
    assert_eq!(now["assigned_role"], "member");
    assert_eq!(now["earned_by"], threshold);
    assert_eq!(now["reputation"], 10);
    let text = ok(&home, &["space", "members", &space]);
    assert!(
        text.contains("earned: moderator at reputation 10"),
        "{text}"
    );

    // Raised past its reputation, the threshold no longer holds: the role lapses.
    ok(
        &home,
        &[
            "space",
            "earned-roles",
            &space,
            "--set",
            "moderator",
            "--min-reputation",
            "11",
        ],
    );
    let lapsed = member(&home, &space, &did);
    assert_eq!(
        (lapsed["role"].as_str(), lapsed["held"].as_str()),
        (Some("member"), Some("assigned"))
    );

    ok(
        &home,
        &[
            "space",
            "earned-roles",
            &space,
            "--set",
            "member",
            "--ability",
            "text.summarize",
            "--min-ability-reputation",
            "5",
        ],
    );
    let removed: Value = serde_json::from_str(&ok(
        &home,
        &[
            "space",
            "earned-roles",
            &space,
            "--remove",
            "moderator",
            "--json",
        ],
    ))
    .unwrap();
    assert_eq!(
        removed["earned_roles"],
        json!([{"role": "member", "ability": "text.summarize", "min_ability_reputation": 5}])
    );
    let cleared: Value = serde_json::from_str(&ok(
        &home,
        &["space", "earned-roles", &space, "--clear", "--json"],
    ))
    .unwrap();
    assert_eq!(cleared["earned_roles"], json!([]));
    let bad = common::one_error_line(&common::tim(
        &home,
        &[
            "space",
            "earned-roles",
            &space,
            "--set",
            "admin",
            "--min-reputation",
            "3",
        ],
    ));
    assert!(bad.contains("cannot be earned"), "{bad}");
}
