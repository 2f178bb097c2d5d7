//! Where `tim post` takes its text from: the argument, standard input (`-`) or a file
//! (`--file PATH`), each bounded and checked to be UTF-8.

use std::io::Read;
use std::path::Path;

use anyhow::{bail, Context, Result};
use tim_protocol::wire::MAX_TEXT_BYTES;

/// The message `tim post` sends: `arg` itself, standard input when `arg` is `-`, or the file
/// `file`. Text read from stdin or a file loses its final line break (`echo hi | tim post S -`
/// posts `hi`); it must be UTF-8, not empty, and at most [`MAX_TEXT_BYTES`] bytes.
pub(crate) fn message_text(arg: Option<String>, file: Option<&Path>) -> Result<String> {
    let (bytes, from) = match (arg, file) {
        (None, Some(path)) => {
            let f = std::fs::File::open(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let from = path.display().to_string();
            (read_bounded(f, &from)?, from)
        }
        (Some(dash), None) if dash == "-" => {
            let from = "standard input".to_string();
            (read_bounded(std::io::stdin().lock(), &from)?, from)
        }
        (Some(text), None) => return Ok(text),
        (Some(_), Some(_)) => bail!("give the message or --file, not both"),
        (None, None) => {
            bail!("give the message, `-` to read it from standard input, or --file PATH")
        }
    };
    let text = String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{from} is not UTF-8 text (an invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })?;
    let text = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(&text);
    if text.is_empty() {
        bail!("nothing to post: {from} is empty");
    }
    Ok(text.to_string())
}

/// Everything `r` holds, refused past [`MAX_TEXT_BYTES`] (reading no more than one byte over).
fn read_bounded(r: impl Read, from: &str) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    r.take(MAX_TEXT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {from}"))?;
    if bytes.len() > MAX_TEXT_BYTES {
        bail!("{from} holds more than {MAX_TEXT_BYTES} bytes, the most a message may have");
    }
    Ok(bytes)
}
