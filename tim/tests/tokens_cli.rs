//! `tim tokens` and `tim bounty` across two real nodes (issue 16, docs/governance.md "Tokens"):
//! the owner sets a join grant, posts a bounty within its balance (one over it is refused with
//! the rules' reason), the provider on the other node completes it, and both nodes show the
//! reward moved: the same balances and the provider's ledger line.

mod common;

use std::path::Path;
use std::time::Duration;

use common::ok;
use serde_json::Value;
use tim_testnet::Cluster;

/// How long a condition may take to hold across nodes.
const WAIT: Duration = Duration::from_secs(30);

/// Runs `tim ARGS… --json` on `home` and parses its output.
fn json_of(home: &Path, args: &[&str]) -> Value {
    let out = ok(home, &[args, &["--json"]].concat());
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("tim {args:?}: {e}: {out}"))
}

fn did_of(home: &Path) -> String {
    ok(home, &["whoami"]).lines().next().unwrap().to_string()
}

/// `did`'s balance as `tim tokens SPACE --json` shows it on `home`.
fn balance(home: &Path, space: &str, did: &str) -> Option<u64> {
    let b = json_of(home, &["tokens", space]);
    b["balances"].as_array()?.iter().find(|t| t["did"] == did)?["balance"].as_u64()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bounty_completed_on_one_node_raises_the_providers_balance_on_both() {
    let exe = Path::new(env!("CARGO_BIN_EXE_tim"));
    let cluster = Cluster::start(exe, 2, None, None).await.unwrap();
    let (home1, home2) = (&cluster.nodes[0].home, &cluster.nodes[1].home);
    let (owner, provider) = (did_of(home1), did_of(home2));
    let space = ok(home1, &["space", "create", "bazaar"]).trim().to_string();
    ok(home1, &["space", "migrate", &space, "--to", "9"]);
    let set = json_of(home1, &["tokens", &space, "--join-grant", "10"]);
    assert_eq!(set["policy"]["join_grant"], 10, "{set}");
    assert_eq!(set["policy"]["outcome_mint"], 1, "{set}");

    ok(
        home2,
        &[
            "space",
            "join",
            &space,
            "--via",
            &cluster.nodes[0].listen[0],
        ],
    );
    ok(
        home2,
        &[
            "ability",
            "declare",
            &space,
            "text.shout",
            "--description",
            "Shouts a text",
            "--price",
            "2",
        ],
    );
    common::wait_for("the declaration on node 1", WAIT, || {
        let hits = json_of(home1, &["ability", "search", "shout", "--space", &space]);
        hits.as_array()?
            .iter()
            .find(|h| h["provider"] == provider.as_str())
            .cloned()
    });

    // A bounty over the owner's balance is refused with the rules' reason; one within it
    // holds the reward.
    let bounty = |reward: &str| {
        common::tim(
            home1,
            &[
                "bounty",
                &space,
                "text.shout",
                "--reward",
                reward,
                "--input",
                "{}",
            ],
        )
    };
    let over = common::one_error_line(&bounty("11"));
    assert!(over.contains("over its balance of 10"), "{over}");
    let made = bounty("5");
    assert!(made.status.success(), "{}", common::text(&made.stderr));
    let rid = common::text(&made.stdout).trim().to_string();
    assert_eq!(balance(home1, &space, &owner), Some(5));

    // Node 2's provider answers it (claiming it in the same write).
    common::wait_for("the bounty on node 2", WAIT, || {
        let list = json_of(home2, &["ability", "requests", &space, "--mine"]);
        list.as_array()?
            .iter()
            .find(|r| r["id"] == rid.as_str())
            .cloned()
    });
    ok(
        home2,
        &[
            "ability",
            "result",
            &space,
            &rid,
            "--output",
            r#"{"text": "HI"}"#,
        ],
    );
    for home in [home1, home2] {
        common::wait_for("the reward paid on both nodes", WAIT, || {
            (balance(home, &space, &provider) == Some(15)).then_some(())
        });
        assert_eq!(balance(home, &space, &owner), Some(5));
    }
    let ledger = json_of(home1, &["tokens", &space, &provider]);
    let kinds: Vec<&str> = ledger["ledger"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["join_grant", "reward"], "{ledger}");
    assert_eq!(ledger["ledger"][1]["request"], rid.as_str(), "{ledger}");
    let requests = json_of(home2, &["ability", "requests", &space]);
    let shown = requests
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == rid.as_str())
        .unwrap();
    assert_eq!(
        (&shown["reward"], &shown["funded"]),
        (&Value::from(5), &Value::from(true))
    );
    let human = ok(home1, &["tokens", &space, &provider]);
    assert!(human.contains("reward"), "{human}");
}
