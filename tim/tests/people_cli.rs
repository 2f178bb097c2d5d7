//! Profiles and handles with the `tim` binary across two nodes (docs/protocol.md §9.13.1,
//! docs/operator.md "Profiles and handles"): the owner on one node sets its profile and a
//! handle; the other node's `tim read` and `tim space members` show the name beside the short
//! DID, and its `tim whois` resolves the handle through the first node's WebFinger.

mod common;

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use tim_testnet::Cluster;

use common::{ok, one_error_line, tim, wait_for};

/// How long a change may take to reach the other node.
const SYNC: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread")]
async fn a_profile_and_handle_set_on_one_node_show_and_resolve_on_the_other() {
    let exe = Path::new(env!("CARGO_BIN_EXE_tim"));
    let cluster = Cluster::start(exe, 2, None, None).await.unwrap();
    let (owner, guest) = (cluster.nodes[0].home.clone(), cluster.nodes[1].home.clone());
    let space = ok(&owner, &["space", "create", "garden"])
        .trim()
        .to_string();
    let old = ok(&owner, &["space", "create", "old"]).trim().to_string();
    ok(&owner, &["space", "migrate", &space, "--to", "11"]);
    let via = cluster.nodes[0].client.status().await.unwrap().listen[0].clone();
    ok(&guest, &["space", "join", &space, "--via", &via]);

    let dir = tempfile::tempdir().unwrap();
    let avatar = dir.path().join("ann.png");
    let mut png = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
    png.resize(200, 7);
    std::fs::write(&avatar, &png).unwrap();
    let set: Value = serde_json::from_str(&ok(
        &owner,
        &[
            "--json",
            "profile",
            "set",
            "--name",
            "Ann",
            "--bio",
            "grows tomatoes",
            "--avatar",
            avatar.to_str().unwrap(),
            "--handle",
            "ann",
        ],
    ))
    .unwrap();
    assert_eq!(set["written"][0], space.as_str(), "{set}");
    assert_eq!(set["skipped"][0]["space"], old.as_str(), "{set}");
    assert_eq!(set["profile"]["avatar"]["size"], 200, "{set}");
    ok(&owner, &["post", &space, "Hello World"]);
    let owner_did = ok(&owner, &["whoami"]).lines().next().unwrap().to_string();
    let short = format!("…{}", &owner_did[owner_did.len() - 8..]);

    // The guest's node shows the name, with the short DID beside it.
    let read = wait_for("Ann's named message on the guest's node", SYNC, || {
        let out = tim(&guest, &["read", &space]);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        text.contains("Hello World").then_some(text)
    });
    assert!(
        read.contains(&format!("Ann ({short}): Hello World")),
        "{read}"
    );
    let members = ok(&guest, &["space", "members", &space]);
    assert!(members.contains(&format!("{owner_did} (Ann)")), "{members}");

    // The handle resolves through the owner's node's WebFinger.
    let api = cluster.nodes[0].client.base().to_string();
    let host = api.trim_start_matches("http://");
    let handle = format!("ann@{host}");
    let whois = ok(&guest, &["whois", &handle]);
    assert!(whois.starts_with(&owner_did), "{whois}");
    assert!(whois.contains("name    Ann"), "{whois}");
    assert!(whois.contains("bio     grows tomatoes"), "{whois}");
    let shown: Value =
        serde_json::from_str(&ok(&guest, &["--json", "profile", "show", &handle])).unwrap();
    assert_eq!(shown["name"], "Ann", "{shown}");
    assert_eq!(shown["did"], owner_did.as_str(), "{shown}");
    let unknown = one_error_line(&tim(&guest, &["whois", &format!("nobody@{host}")]));
    assert!(unknown.contains("no timite holds the handle"), "{unknown}");

    // A handle out of format is refused before anything is written.
    let bad = one_error_line(&tim(
        &owner,
        &["profile", "set", "--name", "x", "--handle=Bad!"],
    ));
    assert!(bad.contains("a handle is 1 to 32"), "{bad}");
    let kept = ok(&owner, &["profile", "show"]);
    assert!(kept.contains("name    Ann"), "{kept}");
}
