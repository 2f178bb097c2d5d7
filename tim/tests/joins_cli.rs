//! Joining and leaving (issue 17): a failed, interrupted or cut-short join leaves no phantom
//! space; `tim space leave`; invite links (`tim space link`, `tim space join LINK`).

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::{ok, one_error_line, one_node, text, tim, tim_command, timite_with_token, wait_for};

/// A space id no node hosts.
const NOWHERE: &str = "00000000000000000000000000000000000000000000000000000000000000ff";

/// How many spaces the node counts in `/v1/status`.
fn hosted(node: &tim_testnet::TestNode) -> usize {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(node.client.status()))
        .expect("the node's status")
        .spaces
}

/// A `tim space join` of a space nobody has, running until it is stopped, once `node` hosts
/// the space it is trying to join.
fn join_nowhere(home: &Path, node: &tim_testnet::TestNode) -> std::process::Child {
    let join = tim_command(home)
        .args(["space", "join", NOWHERE])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn tim");
    wait_for("the join to start", Duration::from_secs(20), || {
        (hosted(node) == 1).then_some(())
    });
    join
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_interrupted_and_cut_short_joins_leave_no_phantom_space() {
    let mut cluster = one_node(&[]).await;
    let home = cluster.nodes[0].home.clone();

    // A join that times out fails, and the space is not kept.
    let line = one_error_line(&tim(&home, &["space", "join", NOWHERE, "--timeout", "1s"]));
    assert!(line.contains("within 1s"), "{line}");
    assert_eq!(hosted(&cluster.nodes[0]), 0);
    assert!(ok(&home, &["--json", "space", "list"]).trim() == "[]");

    // A join whose caller goes away (Ctrl-C) is given up at once, not 30 s later.
    let mut join = join_nowhere(&home, &cluster.nodes[0]);
    join.kill().expect("kill tim");
    join.wait().expect("reap tim");
    wait_for(
        "the abandoned join to be dropped",
        Duration::from_secs(15),
        || (hosted(&cluster.nodes[0]) == 0).then_some(()),
    );

    // A join cut short by the node's stop (which flushes its store) is not restored at the
    // next start.
    let mut join = join_nowhere(&home, &cluster.nodes[0]);
    cluster.stop_node(0, Duration::from_secs(20)).await;
    join.wait().expect("reap tim");
    cluster.restart(0).await.expect("restart the node");
    assert_eq!(hosted(&cluster.nodes[0]), 0);
    let out = tim(&home, &["read", NOWHERE]);
    assert!(!out.status.success());
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_joins_and_leave_removes_the_member_and_the_space() {
    let exe = Path::new(env!("CARGO_BIN_EXE_tim"));
    let mut cluster = tim_testnet::Cluster::start_with(exe, 2, None, None, &[])
        .await
        .expect("start two nodes");
    let (owner, joiner) = (cluster.nodes[0].home.clone(), cluster.nodes[1].home.clone());
    let space = ok(&owner, &["space", "create", "garden"])
        .trim()
        .to_string();

    // The link holds the space and this node's address; the other node joins with it alone.
    let link = ok(&owner, &["space", "link", &space]).trim().to_string();
    assert!(
        link.starts_with(&format!("tim:join/{space}?via=/ip4/127.0.0.1/")),
        "{link}"
    );
    let joined = ok(&joiner, &["space", "join", &link]);
    assert!(joined.contains("joined \"garden\": 2 members"), "{joined}");
    let me = ok(&joiner, &["whoami"]).lines().next().unwrap().to_string();

    // The owner may not leave; the rules say why.
    let line = one_error_line(&tim(&owner, &["space", "leave", &space]));
    assert!(
        line.contains("the owner cannot leave its own space"),
        "{line}"
    );

    // The joiner leaves: its entry goes, at both nodes, and its node drops the space.
    let left = ok(&joiner, &["space", "leave", &space]);
    assert!(left.contains(&format!("left {space} (change ")), "{left}");
    assert!(left.contains("no longer hosts it"), "{left}");
    assert_eq!(hosted(&cluster.nodes[1]), 0);
    wait_for(
        "the leave to reach the owner",
        Duration::from_secs(20),
        || (!ok(&owner, &["space", "members", &space]).contains(&me)).then_some(()),
    );
    let line = one_error_line(&tim(&joiner, &["space", "leave", &space]));
    assert!(line.contains(&space), "{line}");

    // An invite-only space: the invite prints a link for the invitee, which nobody else may use.
    let private = ok(
        &owner,
        &["space", "create", "den", "--visibility", "invite-only"],
    )
    .trim()
    .to_string();
    let invited = ok(&owner, &["space", "invite", &private, &me]);
    let link = invited
        .lines()
        .find_map(|l| l.strip_prefix("or with the link: tim space join '"))
        .and_then(|l| l.strip_suffix('\''))
        .unwrap_or_else(|| panic!("no link in: {invited}"))
        .to_string();
    assert!(link.contains(&format!("&for={me}")), "{link}");
    let (_, other_token) = timite_with_token(&joiner);
    let line = one_error_line(&tim(
        &joiner,
        &["--token", &other_token, "space", "join", &link],
    ));
    assert!(
        line.contains(&format!("this link is for {me}'s invite")),
        "{line}"
    );
    let joined = ok(&joiner, &["space", "join", &link]);
    assert!(joined.contains("joined \"den\""), "{joined}");
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_space_id_does_wherever_a_space_is_taken() {
    let mut cluster = one_node(&[]).await;
    let home = cluster.nodes[0].home.clone();
    let garden = ok(&home, &["space", "create", "garden"]).trim().to_string();
    let short = &garden[..8];
    ok(&home, &["post", short, "hello from a short id"]);
    assert!(ok(&home, &["read", short]).contains("hello from a short id"));
    assert!(ok(&home, &["space", "members", short]).contains("owner"));
    // Repeated as a flag's value, too: `--from` takes spaces.
    ok(&home, &["space", "require", short, "--from", short]);
    // A hex value refused for an argument that takes no space is clap's error, as before.
    let out = tim(&home, &["space", "members", short, "--limit", "2000"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--limit"),
        "{}",
        text(&out.stderr)
    );

    // Spaces until two ids share their first digit (16 digits: at most 17 spaces).
    let mut ids = vec![garden.clone()];
    let (a, b) = loop {
        let id = ok(&home, &["space", "create", "more"]).trim().to_string();
        if let Some(other) = ids.iter().find(|o| o[..1] == id[..1]) {
            break (other.clone(), id);
        }
        ids.push(id);
    };
    let line = one_error_line(&tim(&home, &["read", &a[..1]]));
    assert!(line.contains("give more of it"), "{line}");
    assert!(line.contains(&a) && line.contains(&b), "{line}");
    // Two digits no id starts with (there are 256 such pairs, and at most 17 spaces).
    let unused = (0..=255u8)
        .map(|n| format!("{n:02x}"))
        .find(|p| !ids.iter().chain([&b]).any(|id| id.starts_with(p.as_str())))
        .expect("a free prefix");
    let line = one_error_line(&tim(&home, &["read", &unused]));
    assert!(line.contains("no space this node hosts"), "{line}");
    cluster.stop().await;
}
