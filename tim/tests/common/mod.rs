//! What the CLI tests share: running the `tim` binary as a user would.

use std::path::Path;
use std::process::{Command, Output};

/// Runs `tim --home HOME ARGS…` to completion, with no `TIM_*` variables from the caller's
/// environment and warnings-only logs.
pub(crate) fn tim(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tim"))
        .arg("--home")
        .arg(home)
        .args(args)
        .env_remove("TIM_NODE")
        .env_remove("TIM_TOKEN")
        .env_remove("TIM_HOME")
        .env("RUST_LOG", "warn")
        .output()
        .expect("run tim")
}
