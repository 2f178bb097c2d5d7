//! Reading a model's API key ([`KeySource`]) and keeping it out of logs and error messages.

use std::fmt;

use crate::{KeySource, ModelError};

/// What a key is replaced by wherever it would be shown.
pub(crate) const REDACTED: &str = "[redacted]";

/// An API key: its `Debug` shows [`REDACTED`], and it has no `Display`.
#[derive(Clone)]
pub(crate) struct Secret(String);

impl Secret {
    /// The key itself, for the request header only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// `text` with every occurrence of the key replaced by [`REDACTED`].
    pub(crate) fn redact(&self, text: String) -> String {
        if text.contains(&self.0) {
            text.replace(&self.0, REDACTED)
        } else {
            text
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// Reads the key `source` names. Errors name the variable or the file, never the value.
pub(crate) fn read(source: &KeySource) -> Result<Option<Secret>, ModelError> {
    let (key, whence) = match source {
        KeySource::None => return Ok(None),
        KeySource::Env(var) => {
            let key = std::env::var(var).map_err(|e| {
                ModelError::Config(match e {
                    std::env::VarError::NotPresent => format!(
                        "the environment variable {var} that should hold the model's key is not set"
                    ),
                    std::env::VarError::NotUnicode(_) => {
                        format!("the environment variable {var} does not hold a key (not UTF-8)")
                    }
                })
            })?;
            (key, format!("the environment variable {var}"))
        }
        KeySource::File(path) => {
            let key = std::fs::read_to_string(path).map_err(|e| {
                ModelError::Config(format!(
                    "cannot read the model's key from {}: {e}",
                    path.display()
                ))
            })?;
            (key, path.display().to_string())
        }
    };
    let key = key.trim_end();
    if key.is_empty() {
        return Err(ModelError::Config(format!(
            "the model's key in {whence} is empty"
        )));
    }
    if reqwest::header::HeaderValue::from_str(key).is_err() {
        return Err(ModelError::Config(format!(
            "the model's key in {whence} has characters a header cannot carry"
        )));
    }
    Ok(Some(Secret(key.to_owned())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_never_shows() {
        let secret = Secret("sk-live-abc123".into());
        assert_eq!(format!("{secret:?}"), REDACTED);
        assert_eq!(
            secret.redact("bad key sk-live-abc123!".into()),
            "bad key [redacted]!"
        );
    }
}
