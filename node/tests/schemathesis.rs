//! A property-based run of Schemathesis (a Python package) against a live node's
//! `/openapi.json`: generated requests for every operation, checked for 5xx answers, undocumented
//! statuses or content types, and answers that break the schema. Bounded: a fixed seed and few
//! examples per operation.
//!
//! The package is pinned in `interop/py/requirements.txt` and installed into
//! `interop/py/.venv` on first use (as `.ci/run` does).

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::{node, serve_api};
use tim_node::api::{ApiConfig, RateLimit};

const ADMIN: &str = "schemathesis-admin-token";
/// How long the whole run may take.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);

fn py_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../interop/py")
}

/// The `st` command, installed from the pinned requirements if missing.
fn schemathesis() -> PathBuf {
    let dir = py_dir();
    let st = dir.join(".venv/bin/st");
    if st.exists() {
        return st;
    }
    let run = |cmd: &mut Command| {
        let status = cmd.current_dir(&dir).status().expect("python3 is needed");
        assert!(status.success(), "{cmd:?} failed");
    };
    run(Command::new("python3").args(["-m", "venv", ".venv"]));
    run(Command::new(".venv/bin/pip").args(["install", "-q", "-r", "requirements.txt"]));
    st
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_requests_find_no_server_error_and_no_answer_off_the_schema() {
    let st = schemathesis();
    let tmp = tempfile::tempdir().unwrap();
    let n = node(&tmp, 1).await;
    // Something to find: a space with a message and a credential.
    let space = n.handle.create_space("fuzzed", "").await.unwrap();
    n.handle.post(space.id, "hello").await.unwrap();
    let cfg = ApiConfig {
        rate_limit: RateLimit {
            per_sec: 0,
            burst: 0,
        },
    };
    let base = serve_api(&n.handle, ADMIN, cfg).await;
    let mut cmd = tokio::process::Command::new(st);
    cmd.arg("run")
        .arg(format!("{base}/openapi.json"))
        .args(["--header", &format!("Authorization: Bearer {ADMIN}")])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_schema_conformance",
            "--max-examples",
            "10",
            "--seed",
            "1",
            "--request-timeout",
            "10",
            "--no-color",
        ])
        // An event stream never ends, and a join of a random space waits for a host.
        .args(["--exclude-path-regex", "/events$|/join$"])
        .current_dir(tmp.path())
        .kill_on_drop(true);
    let out = tokio::time::timeout(RUN_TIMEOUT, cmd.output())
        .await
        .expect("schemathesis took too long")
        .expect("schemathesis runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "schemathesis found problems:\n{stdout}\n{stderr}"
    );
    // The run really tested something: every included operation, hundreds of cases.
    let cases = stdout
        .lines()
        .skip_while(|l| !l.starts_with("Test cases:"))
        .nth(1)
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or_else(|| panic!("no test case count in:\n{stdout}"));
    assert!(cases >= 300, "only {cases} cases:\n{stdout}");
    let count = |label: &str| {
        stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix(label))
            .and_then(|rest| rest.trim().split('/').next()?.parse::<u32>().ok())
            .unwrap_or_else(|| panic!("no `{label}` line in:\n{stdout}"))
    };
    let selected = count("Selected:");
    assert!(selected >= 38, "{stdout}");
    assert_eq!(count("Tested:"), selected, "{stdout}");
    println!("{stdout}");
    n.handle.shutdown().await.unwrap();
}
