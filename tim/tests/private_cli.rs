//! An invite-only space with the `tim` binary, as a user meets it (issue 13): the invite prints
//! how to join (the space is not announced), the invitee joins and reads, and a second timite
//! on the owner's own node, not a member, reads nothing.

mod common;

use std::path::Path;

use common::{ok, tim_command, timite_with_token};
use tim_testnet::Cluster;

#[tokio::test(flavor = "multi_thread")]
async fn an_invite_only_space_is_read_by_its_members_only() {
    let exe = Path::new(env!("CARGO_BIN_EXE_tim"));
    let mut cluster = Cluster::start(exe, 2, None, None).await.unwrap();
    let (owner, guest) = (cluster.nodes[0].home.clone(), cluster.nodes[1].home.clone());
    let created = ok(
        &owner,
        &["space", "create", "club", "--visibility", "invite-only"],
    );
    let space = created
        .split_whitespace()
        .find(|w| w.len() == 64 && w.chars().all(|c| c.is_ascii_hexdigit()))
        .unwrap_or_else(|| panic!("no space id in {created:?}"))
        .to_string();
    ok(&owner, &["post", &space, "members only"]);

    // The invite says how to join; the invitee runs exactly that.
    let guest_did = ok(&guest, &["whoami"]).lines().next().unwrap().to_string();
    let invited = ok(&owner, &["space", "invite", &space, &guest_did]);
    let line = invited
        .lines()
        .find_map(|l| l.strip_prefix("they join with: tim "))
        .unwrap_or_else(|| panic!("no join line in {invited:?}"));
    let join: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(&join[..3], ["space", "join", space.as_str()], "{line}");
    ok(&guest, &join);
    let read = ok(&guest, &["read", &space]);
    assert!(read.contains("members only"), "{read}");
    ok(&guest, &["post", &space, "hello from the guest"]);
    // Both nodes hold the two messages with the same heads (the guest's post was pushed).
    assert!(
        cluster.converge(space.parse().unwrap(), 2).await.is_some(),
        "the guest's post never reached the owner"
    );
    assert!(ok(&owner, &["read", &space]).contains("hello from the guest"));

    // A second timite on the owner's node, with its own token: no such space for it.
    let (_, token) = timite_with_token(&owner);
    let out = tim_command(&owner)
        .args(["--token", &token, "read", &space])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "the stranger read it: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(stderr.contains("does not host space"), "{stderr}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("members only"));
    let listed = tim_command(&owner)
        .args(["--token", &token, "space", "list"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&listed.stdout).contains(&space));
    cluster.stop().await;
}
