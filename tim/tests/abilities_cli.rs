//! Abilities across three real nodes with the `tim` binary (issue 14): a provider on node 1
//! declares an ability, a timite on node 3 finds it in the network index (`search
//! --network`), joins through the address it gives, finds it, asks for it and rates the
//! result; every node shows the same request history, the provider's ability reputation
//! moves, and the rules' refusals come back through the API with their reasons.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{ok, tim_command, Lines};
use serde_json::{json, Value};
use tim_client::{ClientError, RequestStep};
use tim_protocol::api::NewRequest;
use tim_protocol::SpaceId;
use tim_testnet::Cluster;

/// How long a condition may take to hold across nodes.
const WAIT: Duration = Duration::from_secs(30);

/// Runs `tim ARGS… --json` on `home` and parses its output.
fn json_of(home: &Path, args: &[&str]) -> Value {
    let out = ok(home, &[args, &["--json"]].concat());
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("tim {args:?}: {e}: {out}"))
}

/// Polls `probe` until it gives a value, failing the test after [`WAIT`] with `what`.
fn wait_for<T>(what: &str, probe: impl FnMut() -> Option<T>) -> T {
    common::wait_for(what, WAIT, probe)
}

/// The request `rid` as `tim ability requests SPACE --json` lists it on `home`.
fn request_on(home: &Path, space: &str, rid: &str) -> Option<Value> {
    let list = json_of(home, &["ability", "requests", space]);
    list.as_array()?.iter().find(|r| r["id"] == rid).cloned()
}

/// The DID of the timite `tim` acts as on `home`.
fn did_of(home: &Path) -> String {
    ok(home, &["whoami"]).lines().next().unwrap().to_string()
}

/// The refusal a call got: its status and detail.
fn refusal<T: std::fmt::Debug>(r: Result<T, ClientError>) -> (u16, String) {
    match r {
        Err(ClientError::Api(p)) => (p.status, p.detail),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// The hit of `provider` in `tim ability search QUERY --json` on `home`.
fn hit_of(home: &Path, query: &str, provider: &str) -> Option<Value> {
    hit_in(home, &["ability", "search", query], provider)
}

/// The hit of `provider` among what `tim --json ARGS` lists on `home`.
fn hit_in(home: &Path, args: &[&str], provider: &str) -> Option<Value> {
    let hits = json_of(home, args);
    hits.as_array()?
        .iter()
        .find(|h| h["provider"] == provider)
        .cloned()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ability_is_found_asked_for_answered_and_rated_across_three_nodes() {
    let exe = Path::new(env!("CARGO_BIN_EXE_tim"));
    let mut cluster = Cluster::start(exe, 3, None, None).await.unwrap();
    let homes: Vec<_> = cluster.nodes.iter().map(|n| n.home.clone()).collect();
    let (provider_home, requester_home) = (&homes[0], &homes[2]);
    let provider = did_of(provider_home);
    let requester = did_of(requester_home);

    // Node 1's timite makes a public space and declares an ability with schemas (its first
    // declaration migrates the space to schema version 4).
    let space = ok(provider_home, &["space", "create", "market"])
        .trim()
        .to_string();
    let schemas = tempfile::tempdir().unwrap();
    let input_schema = schemas.path().join("in.json");
    let output_schema = schemas.path().join("out.json");
    let object_with = |field: &str| json!({"type": "object", "properties": {field: {"type": "string"}}, "required": [field]});
    std::fs::write(&input_schema, object_with("text").to_string()).unwrap();
    std::fs::write(&output_schema, object_with("summary").to_string()).unwrap();
    let declared = ok(
        provider_home,
        &[
            "ability",
            "declare",
            &space,
            "text.summarize",
            "--description",
            "Summarizes a text in one line",
            "--input-schema",
            input_schema.to_str().unwrap(),
            "--output-schema",
            output_schema.to_str().unwrap(),
        ],
    );
    assert!(
        declared.starts_with("declared text.summarize"),
        "{declared}"
    );

    // Node 3, which hosts no space yet, finds the provider in the network index, with the
    // space and the address to join through; nodes 2 and 3 join.
    let found = wait_for("the provider in node 3's network index", || {
        let args = ["ability", "search", "summarize", "--network"];
        hit_in(requester_home, &args, &provider)
    });
    assert_eq!(found["space"], space.as_str(), "{found}");
    assert!(hit_of(requester_home, "summarize", &provider).is_none());
    let via = found["via"][0].as_str().expect("an address").to_string();
    for home in &homes[1..] {
        ok(home, &["space", "join", &space, "--via", &via]);
    }
    let hit = hit_of(requester_home, "summarize", &provider).expect("the provider is found");
    assert_eq!(hit["space"], space.as_str(), "{hit}");
    assert_eq!(hit["space_name"], "market", "{hit}");
    assert_eq!(hit["name"], "text.summarize", "{hit}");
    assert!(!hit["via"].as_array().unwrap().is_empty(), "{hit}");
    assert_eq!(hit["reputation"]["completed"], 0, "{hit}");
    let score_before = hit["score"].as_u64().unwrap();
    assert!(hit_of(requester_home, "translate", &provider).is_none());

    // Node 3 asks node 1's timite; the request id is the same on node 1.
    let invoke = [
        "ability",
        "invoke",
        &space,
        "text.summarize",
        "--input",
        r#"{"text": "a long story"}"#,
        "--to",
        &provider,
    ];
    let rid = ok(requester_home, &invoke).trim().to_string();
    let seen = wait_for("the request on node 1", || {
        let mine = json_of(provider_home, &["ability", "requests", &space, "--mine"]);
        mine.as_array()?
            .iter()
            .find(|r| r["id"] == rid.as_str())
            .cloned()
    });
    assert_eq!(seen["state"], "open", "{seen}");
    assert_eq!(seen["requester"], requester.as_str(), "{seen}");
    assert_eq!(seen["input"], json!({"text": "a long story"}), "{seen}");

    // Refusals through the API, each with the rule's reason.
    let space_id: SpaceId = space.parse().unwrap();
    let (provider_api, bystander_api, requester_api) = (
        &cluster.nodes[0].client,
        &cluster.nodes[1].client,
        &cluster.nodes[2].client,
    );
    let bad_input = NewRequest {
        ability: "text.summarize".into(),
        input: json!({"text": 5}),
        to: Some(provider.parse().unwrap()),
        timeout_secs: None,
        reward: None,
    };
    let (status, detail) = refusal(requester_api.request_ability(space_id, &bad_input).await);
    assert_eq!(status, 403, "{detail}");
    assert!(detail.contains("input schema"), "{detail}");

    ok(provider_home, &["ability", "claim", &space, &rid]);
    let again = provider_api
        .request_step(space_id, &rid, RequestStep::claim())
        .await;
    let (status, detail) = refusal(again);
    assert_eq!(status, 403, "{detail}");
    assert!(
        detail.contains("only an open request is claimed"),
        "{detail}"
    );
    wait_for("the claim on node 2", || {
        request_on(&homes[1], &space, &rid).filter(|r| r["state"] == "claimed")
    });
    let stranger_result = bystander_api
        .request_step(
            space_id,
            &rid,
            RequestStep::result(json!({"summary": "mine"})),
        )
        .await;
    let (status, detail) = refusal(stranger_result);
    assert_eq!(status, 403, "{detail}");
    assert!(detail.contains("only the winning claimant"), "{detail}");
    let bad_output = provider_api
        .request_step(space_id, &rid, RequestStep::result(json!({"summary": 1})))
        .await;
    let (status, detail) = refusal(bad_output);
    assert_eq!(status, 403, "{detail}");
    assert!(detail.contains("output schema"), "{detail}");

    // Node 1 answers; node 3 sees the output, and rates it.
    ok(
        provider_home,
        &[
            "ability",
            "result",
            &space,
            &rid,
            "--output",
            r#"{"summary": "short"}"#,
        ],
    );
    let done = wait_for("the result on node 3", || {
        request_on(requester_home, &space, &rid).filter(|r| r["state"] == "completed")
    });
    assert_eq!(done["output"], json!({"summary": "short"}), "{done}");
    assert_eq!(done["claimant"], provider.as_str(), "{done}");
    let rate = provider_api
        .request_step(space_id, &rid, RequestStep::rating(1))
        .await;
    let (status, detail) = refusal(rate);
    assert_eq!(status, 403, "{detail}");
    assert!(detail.contains("only the requester"), "{detail}");
    ok(requester_home, &["ability", "rate", &space, &rid, "5"]);

    // A second request, followed, with one retry: node 1 fails it, `--follow` prints the
    // reason and asks again; node 1 answers the third request.
    let mut follow = tim_command(requester_home);
    follow.args(invoke).args(["--follow", "--retries", "1"]);
    let follow = Lines::spawn(follow);
    let second = follow.next();
    wait_for("the second request on node 1", || {
        request_on(provider_home, &space, &second)
    });
    ok(provider_home, &["ability", "claim", &space, &second]);
    ok(
        provider_home,
        &["ability", "fail", &space, &second, "--reason", "too long"],
    );
    assert_eq!(follow.next(), "failed: too long");
    let third = follow.next();
    assert_ne!(third, second);
    wait_for("the retried request on node 1", || {
        request_on(provider_home, &space, &third)
    });
    // A result by the candidate of an open request claims it in the same write.
    ok(
        provider_home,
        &[
            "ability",
            "result",
            &space,
            &third,
            "--output",
            r#"{"summary": "s"}"#,
        ],
    );
    assert_eq!(follow.next(), r#"completed: {"summary":"s"}"#);

    // Every node shows the same history, rating included.
    let history = wait_for("the same request history on every node", || {
        let all: Vec<Value> = homes
            .iter()
            .map(|h| json_of(h, &["ability", "requests", &space]))
            .collect();
        let rated = all[0].as_array()?.iter().any(|r| r["rating"] == 5);
        let failed = all[0].as_array()?.iter().any(|r| r["state"] == "failed");
        let retried = all[0].as_array()?.len() == 3;
        (rated && failed && retried && all.windows(2).all(|w| w[0] == w[1])).then(|| all[0].clone())
    });
    assert_eq!(history.as_array().unwrap().len(), 3, "{history}");

    // The provider's reputation for the ability moved, on every node.
    for home in &homes {
        let hit = hit_of(home, "summarize", &provider).expect("the provider is found");
        let rep = &hit["reputation"];
        assert_eq!(
            (&rep["completed"], &rep["failed"]),
            (&json!(2), &json!(1)),
            "{hit}"
        );
        assert_eq!(
            (&rep["ratings"], &rep["rating_sum"]),
            (&json!(1), &json!(5))
        );
        assert!(rep["rating_score"].as_u64().unwrap() > 500, "{hit}");
        assert_ne!(hit["score"].as_u64().unwrap(), score_before, "{hit}");
    }
    cluster.stop().await;
}

/// What the node says where abilities cannot be used yet: a declaration in a space made before
/// abilities, by a member who may not migrate it; a request there; a request in an end-to-end
/// encrypted space (after its owner's declaration migrated it); and a private space's requests
/// to a timite that is not a member.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn where_abilities_cannot_be_used_the_reason_is_given() {
    let mut cluster = common::one_node(&[]).await;
    let home = cluster.nodes[0].home.clone();
    let owner = did_of(&home);
    let space = ok(&home, &["space", "create", "old"]).trim().to_string();
    let (_, token) = common::timite_with_token(&home);
    let as_member =
        |args: &[&str]| common::tim(&home, &[&["--token", token.as_str()], args].concat());
    assert!(as_member(&["space", "join", &space]).status.success());
    let declare = [
        "ability",
        "declare",
        &space,
        "text.echo",
        "--description",
        "Echoes",
    ];
    let line = common::one_error_line(&as_member(&declare));
    assert!(
        line.contains("only a timite with the `migrate` permission"),
        "{line}"
    );
    let invoke = [
        "ability",
        "invoke",
        &space,
        "text.echo",
        "--input",
        "{}",
        "--to",
        &owner,
    ];
    let line = common::one_error_line(&as_member(&invoke));
    assert!(
        line.contains("nobody declares abilities in this space yet"),
        "{line}"
    );
    // The owner may migrate: its declaration does.
    ok(&home, &declare);
    assert!(as_member(&invoke).status.success());
    // An input may come from a file (`@FILE`); one over 16 KiB goes out of band, which this
    // space carries: the owner's first declaration migrated it to the newest version (7).
    let file = home.join("input.json");
    std::fs::write(&file, "{}").unwrap();
    let from_file = format!("@{}", file.display());
    let invoke_file = [
        "ability",
        "invoke",
        &space,
        "text.echo",
        "--input",
        &from_file,
        "--to",
        &owner,
    ];
    assert!(as_member(&invoke_file).status.success());
    std::fs::write(&file, json!({"text": "x".repeat(20_000)}).to_string()).unwrap();
    let out = as_member(&invoke_file);
    assert!(out.status.success(), "{}", common::text(&out.stderr));
    let rid = common::text(&out.stdout).trim().to_string();
    let listed = json_of(&home, &["ability", "requests", &space]);
    let large = listed
        .as_array()
        .and_then(|l| l.iter().find(|r| r["id"] == rid.as_str()))
        .unwrap_or_else(|| panic!("{rid} not in {listed}"));
    assert!(
        large["input_payload"]["hash"]
            .as_str()
            .is_some_and(|h| h.starts_with("sha256:")),
        "{large}"
    );

    let created = ok(
        &home,
        &["space", "create", "club", "--visibility", "invite-only"],
    );
    let private = created
        .split_whitespace()
        .find(|w| w.len() == 64 && w.chars().all(|c| c.is_ascii_hexdigit()))
        .unwrap_or_else(|| panic!("no space id in {created:?}"));
    ok(
        &home,
        &[
            "ability",
            "declare",
            private,
            "text.echo",
            "--description",
            "Echoes",
        ],
    );
    let invoke = [
        "ability",
        "invoke",
        private,
        "text.echo",
        "--input",
        "{}",
        "--to",
        &owner,
    ];
    let line = common::one_error_line(&common::tim(&home, &invoke));
    assert!(
        line.contains("not carried in end-to-end encrypted spaces"),
        "{line}"
    );
    let line = common::one_error_line(&as_member(&["ability", "requests", private]));
    assert!(line.contains("does not host space"), "{line}");
    cluster.stop().await;
}
