//! Personas and memory with the `tim` binary (docs/agents.md): a member's publication in an
//! older space is refused with who can migrate it; the owner's `tim persona publish` prints
//! the file's id, `list` names it, `show` prints the file exactly as published (what adopting
//! it runs), `adopt` runs it as a new agent, a member may not delete the owner's; `tim memory
//! show` and `forget` (by the agent's name) are the operator's, and a timite's token is
//! refused.

mod common;

use serde_json::Value;

use common::ok;

const PERSONA: &str = "# Greets whoever joins.\nname = \"Greta\"\ndescription = \"Welcomes newcomers\"\ntemplate = \"greeter\"\nproactivity = 0.5\n\n[[triggers]]\nkind = \"new_member\"\n";

#[tokio::test(flavor = "multi_thread")]
async fn personas_are_published_listed_and_shown_byte_for_byte() {
    let cluster = common::one_node(&[]).await;
    let home = cluster.nodes[0].home.clone();
    let space = ok(&home, &["space", "create", "garden"]).trim().to_string();
    let file = home.join("greta.toml");
    std::fs::write(&file, PERSONA).unwrap();

    // A member's publication does not migrate the space: it is told who can.
    let (_, token) = common::timite_with_token(&home);
    let as_member =
        |args: &[&str]| common::tim(&home, &[&["--token", token.as_str()], args].concat());
    assert!(as_member(&["space", "join", &space]).status.success());
    let publish = ["persona", "publish", &space, file.to_str().unwrap()];
    let line = common::one_error_line(&as_member(&publish));
    assert!(line.contains("`migrate` permission"), "{line}");

    // The owner's first publication migrates the space; the id names the file's bytes.
    let id = ok(
        &home,
        &["persona", "publish", &space, file.to_str().unwrap()],
    )
    .trim()
    .to_string();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");
    let list = ok(&home, &["persona", "list", &space]);
    assert!(list.contains(&id) && list.contains("Greta"), "{list}");
    assert!(list.contains("Welcomes newcomers"), "{list}");
    let shown = common::tim(&home, &["persona", "show", &space, &id]);
    assert!(shown.status.success());
    assert_eq!(shown.stdout, PERSONA.as_bytes());
    let json: Value =
        serde_json::from_str(&ok(&home, &["persona", "show", &space, &id, "--json"])).unwrap();
    assert_eq!(json["toml"], PERSONA);

    // Adopting it runs it on this node: a new agent (its own timite), a member of the space.
    let did = ok(&home, &["persona", "adopt", &space, &id])
        .trim()
        .to_string();
    assert!(did.starts_with("did:key:z6Mk"), "{did}");
    let shown: Value =
        serde_json::from_str(&ok(&home, &["agent", "show", "greta", "--json"])).unwrap();
    assert_eq!(shown["did"], did.as_str());
    let members = ok(&home, &["space", "members", &space, "--json"]);
    assert!(members.contains(&did), "{members}");
    let again = common::tim(&home, &["persona", "adopt", &space, &id]);
    let line = common::one_error_line(&again);
    assert!(
        line.contains("greta"),
        "a second agent needs another --name: {line}"
    );

    // A member may not delete it, nor read an agent's memory.
    let line = common::one_error_line(&as_member(&["persona", "delete", &space, &id]));
    assert!(line.contains("permission `meta`"), "{line}");
    let agent = "greta";
    let line = common::one_error_line(&as_member(&["memory", "show", agent]));
    assert!(line.contains("admin token"), "{line}");

    // The operator's view of a memory with nothing in it, and its erasure.
    let mem = ok(&home, &["memory", "show", agent, "--layer", "session"]);
    assert_eq!(mem.trim(), "nothing remembered");
    let gone = ok(&home, &["memory", "forget", agent, "--space", &space]);
    assert!(gone.starts_with("erased "), "{gone}");
    let bad = common::tim(&home, &["memory", "show", agent, "--layer", "dreams"]);
    assert_eq!(bad.status.code(), Some(2));

    let deleted = ok(&home, &["persona", "delete", &space, &id]);
    assert!(deleted.contains("deleted"), "{deleted}");
    let list = ok(&home, &["persona", "list", &space]);
    assert_eq!(list.trim(), "no personas published in this space");
}
