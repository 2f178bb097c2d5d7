//! Process level: `tim testnet demo` runs real node processes, SIGKILLs one, and passes.

use std::process::Command;

#[test]
fn tim_testnet_demo_passes_including_the_sigkill_step() {
    let out = Command::new(env!("CARGO_BIN_EXE_tim"))
        .args(["testnet", "demo", "--nodes", "3"])
        .env("RUST_LOG", "warn")
        .output()
        .expect("run tim");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("heads identical on all nodes: yes"),
        "{stdout}"
    );
    assert!(
        stdout.contains("kept all 3 messages from before the kill: yes"),
        "{stdout}"
    );
    assert!(
        stdout.contains("heads identical after restart: yes"),
        "{stdout}"
    );
    assert!(stdout.contains("RESULT: all nodes converged"), "{stdout}");
}
