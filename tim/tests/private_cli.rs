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

/// Every byte of every file under `dir`.
fn files_contain(dir: &Path, needle: &[u8]) -> bool {
    std::fs::read_dir(dir).unwrap().any(|e| {
        let path = e.unwrap().path();
        if path.is_dir() {
            files_contain(&path, needle)
        } else {
            std::fs::read(&path).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle))
        }
    })
}

fn space_in(out: &str) -> String {
    out.split_whitespace()
        .find(|w| w.len() == 64 && w.chars().all(|c| c.is_ascii_hexdigit()))
        .unwrap_or_else(|| panic!("no space id in {out:?}"))
        .to_string()
}

/// `tim dm`: the first message makes the two timites' encrypted space and says how the other
/// joins; the other joins, reads it and answers with `tim dm` into the same space. Neither
/// node's files (sled, keystore, logs) hold either text: an operator reading the disk sees
/// ciphertext and sealed keys only. (The same check finds a public space's message.)
#[tokio::test(flavor = "multi_thread")]
async fn a_direct_message_is_end_to_end_encrypted_on_disk() {
    let exe = Path::new(env!("CARGO_BIN_EXE_tim"));
    let mut cluster = Cluster::start(exe, 2, None, None).await.unwrap();
    let (ann, bob) = (cluster.nodes[0].home.clone(), cluster.nodes[1].home.clone());
    let ann_did = ok(&ann, &["whoami"]).lines().next().unwrap().to_string();
    let bob_did = ok(&bob, &["whoami"]).lines().next().unwrap().to_string();

    let sent = ok(&ann, &["dm", &bob_did, "dm-marker-one"]);
    let space = space_in(&sent);
    assert!(sent.contains("end-to-end encrypted, new"), "{sent}");
    let line = sent
        .lines()
        .find_map(|l| l.strip_prefix("they join with: tim "))
        .unwrap_or_else(|| panic!("no join line in {sent:?}"));
    ok(&bob, &line.split_whitespace().collect::<Vec<_>>());
    let read = ok(&bob, &["read", &space]);
    assert!(read.contains("dm-marker-one"), "{read}");

    let answer = ok(&bob, &["dm", &ann_did, "dm-marker-two"]);
    assert_eq!(space_in(&answer), space, "{answer}");
    assert!(
        !answer.contains("new") && !answer.contains("waiting"),
        "{answer}"
    );
    assert!(
        cluster.converge(space.parse().unwrap(), 2).await.is_some(),
        "the answer never reached ann"
    );
    assert!(ok(&ann, &["read", &space]).contains("dm-marker-two"));

    let public = space_in(&ok(&ann, &["space", "create", "open"]));
    ok(&ann, &["post", &public, "public-marker"]);
    cluster.stop().await;
    for home in [&ann, &bob] {
        for text in ["dm-marker-one", "dm-marker-two"] {
            assert!(
                !files_contain(home, text.as_bytes()),
                "{text:?} is on disk in {}",
                home.display()
            );
        }
    }
    assert!(
        files_contain(&ann, b"public-marker"),
        "the check finds nothing"
    );
}
