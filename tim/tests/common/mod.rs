//! What the CLI tests share: running the `tim` binary as a user would.
// Each test binary uses some of these.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

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

/// A one-node testnet of this `tim`, its node run with `args` too.
pub(crate) async fn one_node(args: &[&str]) -> tim_testnet::Cluster {
    let exe = Path::new(env!("CARGO_BIN_EXE_tim"));
    tim_testnet::Cluster::start_with(exe, 1, None, None, args)
        .await
        .expect("start a node")
}

/// Runs `tim --home HOME ARGS…` to completion ([`tim_command`]).
pub(crate) fn tim(home: &Path, args: &[&str]) -> Output {
    tim_command(home).args(args).output().expect("run tim")
}

/// Bytes as text (lossily).
pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `tim --home HOME ARGS…`, asserts that it succeeded, and returns its standard output.
pub(crate) fn ok(home: &Path, args: &[&str]) -> String {
    let out = tim(home, args);
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "tim {args:?}: {stdout}{}",
        text(&out.stderr)
    );
    stdout
}

/// Asserts that `out` failed with code 1 and exactly one stderr line `error: …`; returns it.
pub(crate) fn one_error_line(out: &Output) -> String {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "want one stderr line, got: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    lines[0].to_string()
}

/// Asserts that `out` failed with `code` and one stderr line holding a JSON object with an
/// `error` string (`--json`); returns the object.
pub(crate) fn one_json_error(out: &Output, code: i32) -> serde_json::Value {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "want one stderr line: {stderr}");
    let error: serde_json::Value = serde_json::from_str(&stderr).expect("a JSON error");
    assert!(error["error"].is_string(), "{error}");
    error
}

/// A new timite on the node of `home`, and a token acting as it: `(did, token)`.
pub(crate) fn timite_with_token(home: &Path) -> (String, String) {
    let did = ok(home, &["timite", "new"]).trim().to_string();
    let token = ok(home, &["token", "new", &did]).trim().to_string();
    (did, token)
}

/// The lines a running `tim` prints, as they come: a missing line fails the test instead of
/// hanging it.
pub(crate) struct Lines {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Lines {
    /// Starts `command` with its standard output piped.
    pub(crate) fn spawn(mut command: Command) -> Self {
        let mut child = command.stdout(Stdio::piped()).spawn().expect("run tim");
        let stdout: ChildStdout = child.stdout.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for l in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
                if tx.send(l.expect("utf-8 output")).is_err() {
                    return;
                }
            }
        });
        Self { child, lines }
    }

    /// The next line, within 30 s.
    pub(crate) fn next(&self) -> String {
        self.lines
            .recv_timeout(Duration::from_secs(30))
            .expect("tim printed nothing more within 30 s")
    }

    /// Writes `line` and a line end to its standard input (piped by the command given to
    /// [`Lines::spawn`]).
    pub(crate) fn send(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().expect("stdin piped");
        std::io::Write::write_all(stdin, format!("{line}\n").as_bytes()).expect("write to tim");
    }

    /// Closes its standard input.
    pub(crate) fn close_stdin(&mut self) {
        drop(self.child.stdin.take());
    }

    /// The command's process id.
    pub(crate) fn id(&self) -> u32 {
        self.child.id()
    }

    /// How the command ended (it must end by itself).
    pub(crate) fn status(&mut self) -> std::process::ExitStatus {
        self.child.wait().expect("wait for tim")
    }
}

impl Drop for Lines {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `probe` until it gives a value (the one place the CLI tests wait), failing the test
/// after `within` with `what`.
pub(crate) fn wait_for<T>(what: &str, within: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(start.elapsed() < within, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
