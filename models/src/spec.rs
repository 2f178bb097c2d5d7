//! Parsing `PROVIDER:MODEL[@ENDPOINT]` into a [`ModelSpec`], and each provider's default
//! endpoint.

use std::str::FromStr;
use std::time::Duration;

use crate::{KeySource, ModelError, ModelSpec, Provider};

/// OpenAI's endpoint, the default of `openai:`.
pub const OPENAI_ENDPOINT: &str = "https://api.openai.com/v1";
/// Anthropic's endpoint, the default of `anthropic:`.
pub const ANTHROPIC_ENDPOINT: &str = "https://api.anthropic.com";
/// A local Ollama's OpenAI-compatible endpoint, the default of `ollama:`.
pub const OLLAMA_ENDPOINT: &str = "http://127.0.0.1:11434/v1";
/// The `anthropic-version` header the Anthropic client sends.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";
/// How long one attempt may take unless the spec says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// How many times a failed attempt is retried unless the spec says otherwise.
pub const DEFAULT_RETRIES: u32 = 2;

/// What a spec string looks like, for error messages.
const FORMS: &str = "openai:MODEL, anthropic:MODEL, ollama:MODEL or openai-compatible:MODEL@URL \
                     (any of them may end in @URL to name another endpoint)";

impl FromStr for ModelSpec {
    type Err = ModelError;

    /// `PROVIDER:MODEL`: `openai:gpt-4o-mini`, `anthropic:claude-sonnet-4-5`, `ollama:llama3.2`
    /// (OpenAI-compatible at Ollama's local address), `openai-compatible:NAME` (give an
    /// endpoint), with no key, a 60 s timeout and 2 retries.
    ///
    /// Any form may end in `@URL` (`http://` or `https://`) to name the endpoint, and
    /// `openai-compatible:` must: `openai-compatible:qwen2.5@http://127.0.0.1:8080/v1`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (provider, rest) = s
            .split_once(':')
            .ok_or_else(|| ModelError::Config(format!("`{s}` is not a model: write {FORMS}")))?;
        let (model, endpoint) = match rest.find("@http://").or_else(|| rest.find("@https://")) {
            Some(at) => (&rest[..at], Some(rest[at + 1..].to_owned())),
            None => (rest, None),
        };
        if model.is_empty() {
            return Err(ModelError::Config(format!(
                "`{s}` names no model: write {FORMS}"
            )));
        }
        let (provider, endpoint) = match provider {
            "openai" => (Provider::OpenAi, endpoint),
            "anthropic" => (Provider::Anthropic, endpoint),
            "ollama" => (
                Provider::OpenAi,
                Some(endpoint.unwrap_or_else(|| OLLAMA_ENDPOINT.to_owned())),
            ),
            "openai-compatible" => match endpoint {
                Some(endpoint) => (Provider::OpenAi, Some(endpoint)),
                None => {
                    return Err(ModelError::Config(format!(
                    "`{s}` needs an endpoint: write openai-compatible:{model}@http://HOST:PORT/v1"
                )))
                }
            },
            other => {
                return Err(ModelError::Config(format!(
                    "unknown model provider `{other}`: write {FORMS}"
                )))
            }
        };
        Ok(ModelSpec {
            provider,
            model: model.to_owned(),
            endpoint,
            key: KeySource::None,
            timeout: DEFAULT_TIMEOUT,
            retries: DEFAULT_RETRIES,
        })
    }
}

/// The URL a spec's requests go to: the endpoint (or the provider's default) and the
/// protocol's path.
pub(crate) fn request_url(spec: &ModelSpec) -> Result<reqwest::Url, ModelError> {
    let (default, path) = match spec.provider {
        Provider::OpenAi => (OPENAI_ENDPOINT, "chat/completions"),
        Provider::Anthropic => (ANTHROPIC_ENDPOINT, "v1/messages"),
    };
    let base = spec.endpoint.as_deref().unwrap_or(default);
    let url = format!("{}/{path}", base.trim_end_matches('/'));
    let parsed = reqwest::Url::parse(&url).map_err(|e| {
        ModelError::Config(format!("the model endpoint `{base}` is not a URL: {e}"))
    })?;
    match parsed.scheme() {
        "http" | "https" => Ok(parsed),
        scheme => Err(ModelError::Config(format!(
            "the model endpoint `{base}` is {scheme}:, not http: or https:"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_provider_form() {
        let openai: ModelSpec = "openai:gpt-4o-mini".parse().unwrap();
        assert_eq!(openai.provider, Provider::OpenAi);
        assert_eq!(openai.model, "gpt-4o-mini");
        assert_eq!(openai.endpoint, None);
        assert_eq!(openai.key, KeySource::None);
        assert_eq!(openai.timeout, Duration::from_secs(60));
        assert_eq!(openai.retries, 2);

        let anthropic: ModelSpec = "anthropic:claude-sonnet-4-5".parse().unwrap();
        assert_eq!(anthropic.provider, Provider::Anthropic);
        assert_eq!(anthropic.model, "claude-sonnet-4-5");

        let ollama: ModelSpec = "ollama:llama3.2".parse().unwrap();
        assert_eq!(ollama.provider, Provider::OpenAi);
        assert_eq!(ollama.endpoint.as_deref(), Some(OLLAMA_ENDPOINT));
        assert_eq!(
            request_url(&ollama).unwrap().as_str(),
            "http://127.0.0.1:11434/v1/chat/completions"
        );

        let compatible: ModelSpec = "openai-compatible:qwen2.5:7b@http://127.0.0.1:8080/v1/"
            .parse()
            .unwrap();
        assert_eq!(compatible.model, "qwen2.5:7b");
        assert_eq!(
            request_url(&compatible).unwrap().as_str(),
            "http://127.0.0.1:8080/v1/chat/completions"
        );
        assert_eq!(
            request_url(&anthropic).unwrap().as_str(),
            "https://api.anthropic.com/v1/messages"
        );
    }

    #[test]
    fn rejects_what_it_cannot_reach() {
        for bad in [
            "gpt-4o",
            "openai:",
            "mistral:large",
            "openai-compatible:qwen2.5",
        ] {
            let err = bad.parse::<ModelSpec>().unwrap_err();
            assert!(matches!(err, ModelError::Config(_)), "{bad}: {err}");
        }
        let err = "openai-compatible:qwen2.5"
            .parse::<ModelSpec>()
            .unwrap_err();
        assert!(err.to_string().contains("needs an endpoint"), "{err}");
        let mut spec: ModelSpec = "openai:gpt-4o".parse().unwrap();
        spec.endpoint = Some("ftp://127.0.0.1/v1".into());
        assert!(matches!(request_url(&spec), Err(ModelError::Config(_))));
    }
}
