//! When and how long to wait before trying a failed call again: exponential backoff with
//! jitter, or the server's `Retry-After` up to a bound.

use std::time::Duration;

use rand::Rng;
use reqwest::header::HeaderMap;

use crate::ModelError;

/// The backoff between retries of a model call.
///
/// Retry `n` (from 0) waits a random time in `[d/2, d]` where `d = base_delay * 2^n`, at most
/// `max_delay`; after an error answer that says `Retry-After` (seconds, or `retry-after-ms`), it
/// waits that long instead, at most `max_retry_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The first retry's delay, before jitter.
    pub base_delay: Duration,
    /// The longest delay backoff reaches.
    pub max_delay: Duration,
    /// The longest `Retry-After` honoured; a longer one is cut to this.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// 500 ms doubling up to 8 s; `Retry-After` honoured up to 30 s.
    fn default() -> Self {
        Self {
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// How long to wait before retry number `retry` (from 0), given the server's hint.
    pub(crate) fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(hint) = retry_after {
            return hint.min(self.max_retry_after);
        }
        let full = self
            .base_delay
            .saturating_mul(1 << retry.min(16))
            .min(self.max_delay);
        rand::thread_rng().gen_range(full / 2..=full)
    }
}

/// A failed attempt: the error, and the server's `Retry-After` if it sent one.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) error: ModelError,
    pub(crate) retry_after: Option<Duration>,
}

impl Failure {
    /// Whether another attempt may succeed: transport errors, timeouts, 429 and 5xx.
    pub(crate) fn retryable(&self) -> bool {
        match &self.error {
            ModelError::Timeout(_) | ModelError::Transport(_) => true,
            ModelError::Status { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }
}

impl From<ModelError> for Failure {
    fn from(error: ModelError) -> Self {
        Self {
            error,
            retry_after: None,
        }
    }
}

/// The wait a response's headers ask for: `retry-after-ms` (OpenAI) or `Retry-After` in
/// seconds. The HTTP-date form is ignored (backoff applies).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let number = |name: &str| -> Option<f64> {
        let value = headers
            .get(name)?
            .to_str()
            .ok()?
            .trim()
            .parse::<f64>()
            .ok()?;
        (value.is_finite() && value >= 0.0).then_some(value)
    };
    if let Some(ms) = number("retry-after-ms") {
        return Some(Duration::from_secs_f64(ms.min(1e9) / 1000.0));
    }
    number("retry-after").map(|s| Duration::from_secs_f64(s.min(1e9)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_caps() {
        let policy = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(350),
            max_retry_after: Duration::from_secs(2),
        };
        for _ in 0..50 {
            let first = policy.delay(0, None);
            assert!((Duration::from_millis(50)..=Duration::from_millis(100)).contains(&first));
            let second = policy.delay(1, None);
            assert!((Duration::from_millis(100)..=Duration::from_millis(200)).contains(&second));
            let late = policy.delay(30, None);
            assert!((Duration::from_millis(175)..=Duration::from_millis(350)).contains(&late));
        }
        assert_eq!(
            policy.delay(0, Some(Duration::from_secs(1))),
            Duration::from_secs(1)
        );
        assert_eq!(
            policy.delay(0, Some(Duration::from_secs(3600))),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn reads_retry_after_headers() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert("retry-after", "7".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert("retry-after-ms", "250".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(250)));
        headers.remove("retry-after-ms");
        headers.insert(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), None);
    }
}
