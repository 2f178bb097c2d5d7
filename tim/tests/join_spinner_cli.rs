//! `tim space join`'s progress: on a terminal (a pseudo-terminal from util-linux's `script`),
//! a spinner line saying how many peers the node is asking and for how long; piped, nothing
//! but the one error line of a join that found no host.

mod common;

use std::process::Command;

use common::{one_error_line, one_node, text, tim};

/// A space id no node hosts.
const NOWHERE: &str = "0707070707070707070707070707070707070707070707070707070707070707";

#[tokio::test(flavor = "multi_thread")]
async fn a_join_on_a_terminal_says_how_many_peers_it_asks_and_piped_says_nothing_extra() {
    let cluster = one_node(&[]).await;
    let home = cluster.nodes[0].home.clone();
    let args = ["space", "join", NOWHERE, "--timeout", "2s"];

    // Piped: one error line, no spinner.
    let line = one_error_line(&tim(&home, &args));
    assert!(!line.contains("asking"), "{line}");

    // On a terminal: the spinner, then the same error.
    let command = format!(
        "{} --home {} {}",
        env!("CARGO_BIN_EXE_tim"),
        home.display(),
        args.join(" ")
    );
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env_remove("TIM_NODE")
        .env_remove("TIM_TOKEN")
        .env_remove("TIM_HOME")
        .env("RUST_LOG", "warn")
        .output()
        .expect("util-linux's `script` runs the join on a pseudo-terminal");
    let shown = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert!(
        shown.contains(&format!("joining {NOWHERE}: asking 0 peers… (")),
        "no spinner line in: {shown:?}"
    );
    assert!(shown.contains("error: "), "{shown:?}");
}
