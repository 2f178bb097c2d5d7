//! Process level: a short seeded chaos run (`tim testnet chaos`) on 3 real node processes:
//! writers on every node under SIGKILLs, pauses, partitions and dropped connections; nothing
//! acknowledged is lost and the heads end identical.

use std::process::Command;

use tim_testnet::chaos::ChaosReport;

/// Fixed (its 12 s schedule has every kind of fault), so a failure here reproduces with
/// `tim testnet chaos --seed 35 --secs 12 --nodes 3 --writers 1`.
const SEED: &str = "35";

#[test]
fn a_short_seeded_chaos_run_loses_nothing_and_converges() {
    let out = Command::new(env!("CARGO_BIN_EXE_tim"))
        .args(["testnet", "chaos", "--seed", SEED, "--secs", "12"])
        .args(["--nodes", "3", "--writers", "1", "--json"])
        .env("RUST_LOG", "warn")
        .output()
        .expect("run tim");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: ChaosReport = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("no report ({e}), seed {SEED}:\n{stdout}\n{stderr}"));
    let text = tim_testnet::chaos::summary(&report);
    assert!(report.acknowledged > 0, "nothing was written:\n{text}");
    assert!(report.faults.total() > 0, "no fault was injected:\n{text}");
    assert!(report.lost.is_empty(), "acknowledged writes lost:\n{text}");
    assert!(report.heads_identical, "heads differ:\n{text}");
    assert!(report.ok(), "a check failed:\n{text}\n{stderr}");
    assert!(out.status.success(), "{stderr}");
}
