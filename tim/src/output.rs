//! How `tim` prints: human text or JSON ([`Out`]), through writers that notice a closed pipe
//! ([`Stream`], [`outln!`], [`errln!`]), with other timites' text made safe for a
//! terminal ([`shown`], [`safe_json`]); spinners on standard error, errors on one line, times and dates.

use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressFinish};
use serde::Serialize;

/// Writes a line to standard output through [`Stream`]; evaluates to an `io::Result<()>`.
macro_rules! outln {
    ($($arg:tt)*) => {
        std::io::Write::write_fmt(
            &mut $crate::output::Stream::Stdout,
            format_args!("{}\n", format_args!($($arg)*)),
        )
    };
}

/// Writes a line to standard error through [`Stream`]; evaluates to an `io::Result<()>`.
macro_rules! errln {
    ($($arg:tt)*) => {
        std::io::Write::write_fmt(
            &mut $crate::output::Stream::Stderr,
            format_args!("{}\n", format_args!($($arg)*)),
        )
    };
}

pub(crate) use {errln, outln};

/// Set once a write to standard output or standard error found its pipe closed.
static PIPE_CLOSED: AtomicBool = AtomicBool::new(false);

/// Whether a write found standard output or standard error closed by its reader (`tim read |
/// head -1`): the reader has what it wanted, so `tim` ends quietly with exit code 0.
pub(crate) fn pipe_closed() -> bool {
    PIPE_CLOSED.load(Ordering::Relaxed)
}

fn noting_closed_pipe<T>(r: io::Result<T>) -> io::Result<T> {
    if r.as_ref()
        .is_err_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    {
        PIPE_CLOSED.store(true, Ordering::Relaxed);
    }
    r
}

/// `tim`'s standard output (results) or standard error (hints, notes, errors), for everything
/// it prints: a write fails with the error (instead of panicking as `println!` does), and a
/// closed pipe is noted ([`pipe_closed`]).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stream {
    Stdout,
    Stderr,
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        noting_closed_pipe(match self {
            Self::Stdout => io::stdout().write(buf),
            Self::Stderr => io::stderr().write(buf),
        })
    }

    fn flush(&mut self) -> io::Result<()> {
        noting_closed_pipe(match self {
            Self::Stdout => io::stdout().flush(),
            Self::Stderr => io::stderr().flush(),
        })
    }
}

/// Whether `c` must not reach a terminal raw: a control character (C0 such as ESC, `\r` and
/// `\n`, DEL, C1), a line or paragraph separator, or a bidirectional override that reorders
/// what follows it.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}')
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// Text another timite wrote (a message, a space's name, an ability, an error that quotes
/// one), to print on one line: every character [`is_unsafe`] is shown escaped (`\n`, `\r`,
/// `\t`, `\x1b`, `\u{202e}`), so that it can neither move the cursor, recolour or clear the
/// reader's screen nor break a one-line format. Other text is shown as it is (a backslash too:
/// `--json` gives the exact text).
pub(crate) fn shown(text: &str) -> Shown<'_> {
    Shown(text)
}

/// Text displayed with its unsafe characters escaped ([`shown`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shown<'a>(&'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(is_unsafe) {
            f.write_str(&rest[..at])?;
            let c = rest[at..].chars().next().expect("found at a char boundary");
            match c {
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                c if u32::from(c) < 0x100 => write!(f, "\\x{:02x}", u32::from(c))?,
                c => write!(f, "\\u{{{:x}}}", u32::from(c))?,
            }
            rest = &rest[at + c.len_utf8()..];
        }
        f.write_str(rest)
    }
}

/// JSON text with no character [`is_unsafe`] raw: serde escapes C0 controls within strings;
/// DEL, C1 controls and the others are escaped here as `\uXXXX`, which is the same string to a
/// JSON reader (outside its strings JSON holds only ASCII, and whitespace there stays).
pub(crate) fn safe_json(json: String) -> String {
    let escaped = |c: char| is_unsafe(c) && !c.is_ascii_whitespace();
    if !json.contains(escaped) {
        return json;
    }
    let mut safe = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if escaped(c) {
            // Every unsafe character is in the Basic Multilingual Plane.
            safe.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            safe.push(c);
        }
    }
    safe
}

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
        human: impl FnOnce(&T) -> io::Result<()>,
    ) -> Result<()> {
        if self.json {
            outln!("{}", safe_json(serde_json::to_string_pretty(value)?))?;
        } else {
            human(value)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_escapes_what_would_control_a_terminal_and_nothing_else() {
        let text = "a\u{1b}[2Jb\r\nc\td\u{7f}e\u{9b}f\u{202e}g é ✓ \\";
        assert_eq!(
            shown(text).to_string(),
            "a\\x1b[2Jb\\r\\nc\\td\\x7fe\\x9bf\\u{202e}g é ✓ \\"
        );
        assert_eq!(shown("plain text").to_string(), "plain text");
    }

    #[test]
    fn safe_json_escapes_what_serde_leaves_raw_and_reads_back_the_same() {
        let text = "x\u{7f}\u{9b}\u{202e}\u{1b}y é";
        let value = serde_json::json!({ "text": text });
        let json = safe_json(serde_json::to_string_pretty(&value).unwrap());
        assert!(!json.contains(|c| is_unsafe(c) && c != '\n'), "{json:?}");
        assert!(
            json.contains('\n'),
            "pretty JSON keeps its line breaks: {json:?}"
        );
        let back: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(back["text"], text);
    }
}
