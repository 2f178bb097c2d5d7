//! Helpers for tests (feature `test-utils`): Digital Bazaar's JavaScript VC stack
//! (`interop/js`, under Node.js) as an independent verifier and issuer.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;

/// The directory of the JavaScript interop scripts.
pub fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../interop/js")
}

/// Installs the npm packages (from the lock file) unless they are there.
pub fn ensure_installed() {
    let dir = interop_dir();
    let installed = [
        "@digitalbazaar/vc",
        "@digitalbazaar/vc-bitstring-status-list",
        "jose",
    ]
    .iter()
    .all(|p| dir.join("node_modules").join(p).exists());
    if installed {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&dir)
        .status()
        .expect("npm (Node.js) is needed for the interop test");
    assert!(status.success(), "npm ci failed in {}", dir.display());
}

/// Runs `node tim-interop.mjs <command>` with `input` on stdin; returns the JSON it prints.
/// Blocking: call it from a blocking thread when a server in the same process must answer
/// the script's requests.
pub fn js(command: &str, input: &Value) -> Value {
    let mut child = Command::new("node")
        .arg(interop_dir().join("tim-interop.mjs"))
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node is needed for the interop test");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(input.to_string().as_bytes())
        .expect("writing to node");
    let out = child.wait_with_output().expect("node ran");
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// Signs any unsigned credential JSON as `issuer` (eddsa-rdfc-2022), whatever it claims:
/// for tests that forge credentials a node must refuse.
pub async fn sign_as(
    issuer: &crate::Identity,
    unsigned: Value,
) -> Result<Value, crate::credential::CredentialError> {
    crate::credential::sign(issuer, unsigned).await
}
