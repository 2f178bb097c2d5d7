//! How `tim` prints: human text or JSON ([`Out`]), spinners on standard error, errors on one
//! line, times and dates.

use std::time::Duration;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressFinish};
use serde::Serialize;

/// An error and its causes on one line (`a: b: c`), whatever line breaks they contain.
pub(crate) fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// How results are printed: human text, or JSON with `--json`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Out {
    pub(crate) json: bool,
}

impl Out {
    /// Prints `value` as one JSON document with `--json`, else lets `human` print it.
    pub(crate) fn print<T: Serialize + ?Sized>(
        self,
        value: &T,
        human: impl FnOnce(&T),
    ) -> Result<()> {
        if self.json {
            println!("{}", serde_json::to_string_pretty(value)?);
        } else {
            human(value);
        }
        Ok(())
    }

    /// A spinner on standard error saying `msg` until it is finished or dropped. Hidden with
    /// `--json`, and (by indicatif) when standard error is not a terminal.
    pub(crate) fn spinner(self, msg: String) -> ProgressBar {
        if self.json {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new_spinner()
            .with_message(msg)
            .with_finish(ProgressFinish::AndClear);
        bar.enable_steady_tick(Duration::from_millis(100));
        bar
    }
}

/// `HH:MM:SS` (UTC) of a time in milliseconds since the Unix epoch.
pub(crate) fn format_time(ms: u64) -> String {
    let secs = ms / 1000;
    format!(
        "{:02}:{:02}:{:02}",
        (secs / 3600) % 24,
        (secs / 60) % 60,
        secs % 60
    )
}

/// RFC 3339 (UTC, whole seconds) of a time in milliseconds since the Unix epoch.
pub(crate) fn format_date(ms: u64) -> String {
    tim_did::credential::format_time((ms / 1000) as i64)
}
