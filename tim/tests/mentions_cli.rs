//! Mentions, notifications and unread counts with the `tim` binary across two nodes
//! (docs/protocol.md §9.13.2): the owner on one node mentions a member on the other with
//! `@did:key:…` in `tim post`; the member's `tim notifications` lists it (and `--follow` shows
//! the next one), `tim space list` counts it unread, `tim read` marks it read. And
//! attachments (§9.13.3): `tim post --attach` on one node, `tim attachment` on the other.

mod common;

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use tim_testnet::Cluster;

use common::{ok, one_error_line, tim, tim_command, wait_for, Lines};

/// How long a change may take to reach the other node.
const SYNC: Duration = Duration::from_secs(30);

/// The member's space line of `tim space list` on `home` once it contains `want`.
fn space_line(home: &Path, space: &str, want: &str) -> String {
    wait_for(&format!("`{want}` in tim space list"), SYNC, || {
        ok(home, &["space", "list"])
            .lines()
            .find(|l| l.starts_with(space) && l.contains(want))
            .map(String::from)
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mention_notifies_and_counts_unread_until_read() {
    let exe = Path::new(env!("CARGO_BIN_EXE_tim"));
    let cluster = Cluster::start(exe, 2, None, None).await.unwrap();
    let (owner, member) = (cluster.nodes[0].home.clone(), cluster.nodes[1].home.clone());
    let space = ok(&owner, &["space", "create", "talk"]).trim().to_string();
    ok(&owner, &["space", "migrate", &space, "--to", "11"]);
    let via = cluster.nodes[0].client.status().await.unwrap().listen[0].clone();
    ok(&member, &["space", "join", &space, "--via", &via]);
    let ann = ok(&member, &["whoami"]).lines().next().unwrap().to_string();
    wait_for("ann's join to reach the owner", SYNC, || {
        ok(&owner, &["space", "members", &space])
            .contains(&ann)
            .then_some(())
    });
    // The member's own message is never unread to it; reading marks what it printed.
    let own: Value =
        serde_json::from_str(&ok(&member, &["--json", "post", &space, "hello"])).unwrap();
    ok(&member, &["read", &space]);

    let posted: Value = serde_json::from_str(&ok(
        &owner,
        &["--json", "post", &space, &format!("welcome @{ann}!")],
    ))
    .unwrap();
    let id = posted["id"].as_str().unwrap().to_string();
    ok(&owner, &["post", &space, "no mention here"]);
    // A reply to the member's message notifies it too.
    ok(
        &owner,
        &[
            "post",
            &space,
            "answer",
            "--reply-to",
            own["id"].as_str().unwrap(),
        ],
    );

    let line = space_line(&member, &space, "3 unread (1 @you)");
    assert!(line.contains("talk"), "{line}");
    let list: Vec<Value> =
        serde_json::from_str(&ok(&member, &["--json", "notifications"])).unwrap();
    assert_eq!(list.len(), 2, "{list:?}");
    let mention = list.iter().find(|n| n["kind"] == "mention").unwrap();
    assert_eq!(mention["message"], id.as_str());
    assert_eq!(mention["seen"], false);
    assert!(list.iter().any(|n| n["kind"] == "reply"), "{list:?}");
    let human = ok(&member, &["notifications"]);
    assert!(human.contains("mentioned you: welcome @"), "{human}");

    // `tim read --no-mark` leaves the marker; `tim read` moves it past all three.
    ok(&member, &["read", &space, "--no-mark"]);
    space_line(&member, &space, "3 unread");
    ok(&member, &["read", &space]);
    let line = space_line(&member, &space, "talk");
    assert!(!line.contains("unread"), "{line}");
    let list: Vec<Value> =
        serde_json::from_str(&ok(&member, &["--json", "notifications"])).unwrap();
    assert!(list.iter().all(|n| n["seen"] == true), "{list:?}");
    let unseen = ok(&member, &["--json", "notifications", "--unseen"]);
    assert_eq!(unseen.trim(), "[]");

    // Followed: the next mention arrives as it is posted.
    let follow = Lines::spawn({
        let mut c = tim_command(&member);
        c.args(["--json", "notifications", "--follow", "--unseen"]);
        c
    });
    // It lists the unseen ones (none) once subscribed, then follows: the mention shows
    // whether it arrives before the list is read or after.
    let again = format!("still there, @{ann}?");
    ok(&owner, &["post", &space, &again]);
    let n: Value = serde_json::from_str(&follow.next()).unwrap();
    assert_eq!(n["kind"], "mention", "{n}");
    assert_eq!(n["text"], again.as_str(), "{n}");

    // Mentioning someone who is not a member is refused with the rules' reason.
    let stranger = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK";
    let refused = one_error_line(&tim(&owner, &["post", &space, &format!("hi @{stranger}")]));
    assert!(refused.contains("not a member"), "{refused}");
}

/// `tim post --attach FILE` on one node; on the other, `tim read --json` names the file and
/// `tim attachment` saves its bytes, under its own name by default and never over a file.
#[tokio::test(flavor = "multi_thread")]
async fn an_attached_file_reaches_the_other_node() {
    let exe = Path::new(env!("CARGO_BIN_EXE_tim"));
    let cluster = Cluster::start(exe, 2, None, None).await.unwrap();
    let (owner, member) = (cluster.nodes[0].home.clone(), cluster.nodes[1].home.clone());
    let space = ok(&owner, &["space", "create", "files"]).trim().to_string();
    ok(&owner, &["space", "migrate", &space, "--to", "11"]);
    let via = cluster.nodes[0].client.status().await.unwrap().listen[0].clone();
    ok(&member, &["space", "join", &space, "--via", &via]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("notes.txt");
    let data: Vec<u8> = (0..=255u8).cycle().take(40_000).collect();
    std::fs::write(&file, &data).unwrap();
    let posted: Value = serde_json::from_str(&ok(
        &owner,
        &[
            "--json",
            "post",
            &space,
            "the notes",
            "--attach",
            file.to_str().unwrap(),
        ],
    ))
    .unwrap();
    let id = posted["id"].as_str().unwrap().to_string();
    let m = wait_for("the file's message on the other node", SYNC, || {
        let page: Value =
            serde_json::from_slice(&tim(&member, &["--json", "read", &space]).stdout).ok()?;
        page["messages"]
            .as_array()?
            .iter()
            .find(|m| m["id"] == id.as_str())
            .cloned()
    });
    assert_eq!(m["attachment"]["name"], "notes.txt", "{m}");
    assert_eq!(m["attachment"]["mime"], "text/plain", "{m}");
    assert_eq!(m["attachment"]["size"], 40_000, "{m}");

    let out = dir.path().join("saved");
    ok(
        &member,
        &["attachment", &space, &id, "-o", out.to_str().unwrap()],
    );
    assert_eq!(std::fs::read(&out).unwrap(), data);
    // By default under its own name in the current directory, never over an existing file.
    let here = tempfile::tempdir().unwrap();
    let save = || {
        let mut c = tim_command(&member);
        c.current_dir(here.path()).args(["attachment", &space, &id]);
        c.output().unwrap()
    };
    assert!(save().status.success());
    assert_eq!(std::fs::read(here.path().join("notes.txt")).unwrap(), data);
    let again = save();
    assert!(!again.status.success());
    assert!(one_error_line(&again).contains("exists"));

    // Over 64 KiB: refused before anything is sent.
    std::fs::write(&file, vec![0u8; 64 * 1024 + 1]).unwrap();
    let refused = one_error_line(&tim(
        &owner,
        &[
            "post",
            &space,
            "too big",
            "--attach",
            file.to_str().unwrap(),
        ],
    ));
    assert!(refused.contains("at most 65536 bytes"), "{refused}");
}
