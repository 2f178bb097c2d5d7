//! `tim space profile`, `tim space show` and `tim space budget` with the `tim` binary
//! (docs/governance.md "Budgets" and "Space profiles"): a space below schema version 9 takes
//! no profile; the owner sets one, `space show`, `space list` and `--json` show it; a member
//! is refused the profile; a member over its post budget is refused with the budget named, and
//! posts again once the budget is cleared.

mod common;

use serde_json::Value;

use common::ok;

#[tokio::test(flavor = "multi_thread")]
async fn the_owner_sets_a_profile_and_a_budget_that_holds_a_member_back() {
    let cluster = common::one_node(&[]).await;
    let home = cluster.nodes[0].home.clone();
    let space = ok(&home, &["space", "create", "garden"]).trim().to_string();

    // Version 1 has no profile.
    let old = common::one_error_line(&common::tim(
        &home,
        &["space", "profile", &space, "--kind", "goal"],
    ));
    assert!(old.contains("needs version 9"), "{old}");
    ok(&home, &["space", "migrate", &space]);

    ok(
        &home,
        &[
            "space",
            "profile",
            &space,
            "--kind",
            "problem-solving",
            "--style",
            "formal",
            "--initiative",
            "reactive",
        ],
    );
    let profile: Value =
        serde_json::from_str(&ok(&home, &["space", "profile", &space, "--json"])).unwrap();
    assert_eq!(
        profile,
        serde_json::json!({"kind": "problem-solving", "style": "formal", "initiative": "reactive"})
    );
    let shown = ok(&home, &["space", "show", &space]);
    assert!(shown.contains("kind: problem-solving"), "{shown}");
    assert!(shown.contains("initiative: reactive"), "{shown}");
    let listed = ok(&home, &["space", "list"]);
    assert!(
        listed.contains("[problem-solving, formal, reactive]"),
        "{listed}"
    );
    let all: Value = serde_json::from_str(&ok(&home, &["space", "list", "--json"])).unwrap();
    let summary = all.as_array().unwrap().iter().find(|s| s["id"] == space);
    assert_eq!(summary.unwrap()["profile"]["style"], "formal", "{all}");
    // clap knows the values.
    let bad = common::tim(&home, &["space", "profile", &space, "--kind", "chaotic"]);
    assert!(!bad.status.success());

    // A member may neither change the profile nor the budgets.
    let (_, token) = common::timite_with_token(&home);
    let as_member =
        |args: &[&str]| common::tim(&home, &[&["--token", token.as_str()], args].concat());
    assert!(as_member(&["space", "join", &space]).status.success());
    let refused = common::one_error_line(&as_member(&[
        "space", "profile", &space, "--style", "casual",
    ]));
    assert!(refused.contains("permission `meta`"), "{refused}");

    // Members may post 1 of every 3 messages.
    ok(
        &home,
        &[
            "space", "budget", &space, "member", "--posts", "1", "--period", "3",
        ],
    );
    let budgets: Value =
        serde_json::from_str(&ok(&home, &["space", "budget", &space, "--json"])).unwrap();
    assert_eq!(
        budgets,
        serde_json::json!({"period": 3, "roles": {"member": {"posts": 1}}})
    );
    let human = ok(&home, &["space", "budget", &space]);
    assert!(human.contains("per 3 messages"), "{human}");
    assert!(as_member(&["post", &space, "first"]).status.success());
    let over = common::one_error_line(&as_member(&["post", &space, "second"]));
    assert!(
        over.contains("2 of the last 3 messages would be its own")
            && over.contains("members may post 1 per 3"),
        "{over}"
    );
    // The owner has no budget; two of its messages slide the window on.
    ok(&home, &["post", &space, "owner one"]);
    ok(&home, &["post", &space, "owner two"]);
    assert!(as_member(&["post", &space, "second"]).status.success());
    assert!(!as_member(&["post", &space, "third"]).status.success());

    // Cleared, the member posts freely.
    ok(&home, &["space", "budget", &space, "--clear", "member"]);
    assert!(as_member(&["post", &space, "third"]).status.success());
    assert!(as_member(&["post", &space, "fourth"]).status.success());
    let none = ok(&home, &["space", "budget", &space]);
    assert!(none.contains("nobody is held back"), "{none}");
}
