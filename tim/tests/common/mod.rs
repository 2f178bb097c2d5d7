//! What the CLI tests share: running the `tim` binary as a user would.

use std::path::Path;
use std::process::{Command, Output};

/// `tim --home HOME`, with no `TIM_*` variables from the caller's environment and
/// warnings-only logs; add the arguments.
pub(crate) fn tim_command(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tim"));
    c.arg("--home")
        .arg(home)
        .env_remove("TIM_NODE")
        .env_remove("TIM_TOKEN")
        .env_remove("TIM_HOME")
        .env("RUST_LOG", "warn");
    c
}

/// Runs `tim --home HOME ARGS…` to completion ([`tim_command`]).
pub(crate) fn tim(home: &Path, args: &[&str]) -> Output {
    tim_command(home).args(args).output().expect("run tim")
}
