//! `tim propose`, `tim proposals` and `tim vote` with the `tim` binary (docs/governance.md): a
//! member proposes to promote another, two of the three members vote yes (one by a short id),
//! the vote that decides it closes it and the member is a moderator with no admin's act; a
//! vote after the close is refused with the rules' reason; `--open` lists only open ones;
//! `budget` and `threshold` propose the whole new value of their meta key.

mod common;

use serde_json::Value;

use common::ok;

#[tokio::test(flavor = "multi_thread")]
async fn a_promotion_is_proposed_voted_and_enacted_from_the_command_line() {
    let cluster = common::one_node(&[]).await;
    let home = cluster.nodes[0].home.clone();
    let space = ok(&home, &["space", "create", "commons"])
        .trim()
        .to_string();
    ok(&home, &["space", "migrate", &space, "--to", "9"]);
    let (alice, alice_token) = common::timite_with_token(&home);
    let (bob, bob_token) = common::timite_with_token(&home);
    let as_ =
        |token: &str, args: &[&str]| common::tim(&home, &[&["--token", token], args].concat());
    for t in [&alice_token, &bob_token] {
        assert!(as_(t, &["space", "join", &space]).status.success());
    }

    let out = as_(
        &alice_token,
        &[
            "propose",
            &space,
            "role",
            &bob,
            "moderator",
            "--threshold",
            "0.5",
        ],
    );
    assert!(out.status.success(), "{}", common::text(&out.stderr));
    let id = common::text(&out.stdout).trim().to_string();
    assert!(id.contains('@'), "a proposal id is counter@actor: {id}");

    let listed: Value = serde_json::from_str(&ok(&home, &["proposals", &space, "--json"])).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(listed[0]["tally"]["eligible"], 3);
    assert_eq!(listed[0]["threshold"], 500);

    let voted = as_(&alice_token, &["vote", &space, &id, "yes"]);
    assert!(voted.status.success(), "{}", common::text(&voted.stderr));
    let text = common::text(&as_(&alice_token, &["proposals", &space]).stdout);
    assert!(
        text.contains("yes 1 no 0 abstain 0 of 3") && text.contains("you: yes"),
        "{text}"
    );

    // bob's vote decides it, by a short id; its node closes it and enacts the promotion.
    let short = &id[..id.len() - 8];
    let out = as_(&bob_token, &["--json", "vote", &space, short, "yes"]);
    assert!(out.status.success(), "{}", common::text(&out.stderr));
    let voted: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(voted["outcome"], "passed", "{voted}");

    let members: Value =
        serde_json::from_str(&ok(&home, &["space", "members", &space, "--json"])).unwrap();
    let bob_entry = members
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["did"] == bob.as_str())
        .unwrap_or_else(|| panic!("{members}"));
    assert_eq!(bob_entry["role"], "moderator");

    let late = common::one_error_line(&as_(&alice_token, &["vote", &space, &id, "no"]));
    assert!(late.contains("closed"), "{late}");
    let open: Value =
        serde_json::from_str(&ok(&home, &["proposals", &space, "--open", "--json"])).unwrap();
    assert_eq!(open, Value::Array(vec![]));

    // A ban of alice, proposed by bob, stays open with one vote; `--open` lists it.
    let ban = as_(&bob_token, &["propose", &space, "ban", &alice]);
    assert!(ban.status.success(), "{}", common::text(&ban.stderr));
    let open: Value =
        serde_json::from_str(&ok(&home, &["proposals", &space, "--open", "--json"])).unwrap();
    assert_eq!(open.as_array().unwrap().len(), 1, "{open}");
    assert_eq!(open[0]["action"]["kind"], "ban");

    // `budget` and `threshold` build the whole new value of their meta key.
    let budget = as_(
        &alice_token,
        &[
            "propose", &space, "budget", "member", "--posts", "3", "--period", "12",
        ],
    );
    assert!(budget.status.success(), "{}", common::text(&budget.stderr));
    let threshold = as_(
        &alice_token,
        &[
            "propose",
            &space,
            "threshold",
            "moderator",
            "--min-reputation",
            "50",
        ],
    );
    assert!(
        threshold.status.success(),
        "{}",
        common::text(&threshold.stderr)
    );
    let all: Value = serde_json::from_str(&ok(&home, &["proposals", &space, "--json"])).unwrap();
    let meta = |key: &str| -> Value {
        let p = all
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["action"]["key"] == key)
            .unwrap_or_else(|| panic!("{all}"));
        serde_json::from_str(p["action"]["value"].as_str().unwrap()).unwrap()
    };
    assert_eq!(
        meta("budgets"),
        serde_json::json!({ "period": 12, "roles": { "member": { "posts": 3 } } })
    );
    assert_eq!(
        meta("earned_roles"),
        serde_json::json!([{ "role": "moderator", "min_reputation": 50 }])
    );
    // A threshold needs a figure to reach: refused in one line.
    let usage = common::tim(&home, &["propose", &space, "threshold", "moderator"]);
    let line = common::one_error_line(&usage);
    assert!(line.contains("--min-ability-reputation"), "{line}");
}
