//! What the clients do when the model's endpoint fails: malformed answers, errors that are and
//! are not retried, `Retry-After`, endpoints that never answer, streams that stall, and keys
//! that must never show.

mod common;

use std::time::{Duration, Instant};

use common::{client, hello, key_file, replay, serve, spec, wait_for, Fixture, KEY};
use tim_models::{KeySource, ModelClient, ModelError, ModelSpec, Provider, RetryPolicy, Stop};

const MODEL: &str = "gpt-4o-mini";

/// `call`'s outcome; a client whose timeout does not work fails the test instead of hanging it.
async fn within_a_minute<T>(call: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), call)
        .await
        .expect("the client's own timeout never fired")
}

#[tokio::test]
async fn a_malformed_answer_is_malformed() {
    let server = replay("malformed").await;
    let dir = tempfile::tempdir().unwrap();
    let model = client(spec(&server, Provider::OpenAi, MODEL, key_file(&dir)));
    let err = model.complete(&hello()).await.unwrap_err();
    assert!(matches!(err, ModelError::Malformed(_)), "{err:?}");
    server.assert_asked(1);
}

#[tokio::test]
async fn a_500_is_retried() {
    let server = replay("server_error_then_answer").await;
    let dir = tempfile::tempdir().unwrap();
    let model = client(spec(&server, Provider::OpenAi, MODEL, key_file(&dir)));
    let reply = model.complete(&hello()).await.unwrap();
    assert_eq!(reply.text, "Hello, everyone! How can I help today?");
    server.assert_asked(2);
}

#[tokio::test]
async fn a_500_after_every_retry_is_the_error() {
    let mut fixture = Fixture::load("server_error_then_answer");
    fixture.responses.truncate(1);
    fixture.responses.push(fixture.responses[0].clone());
    let server = serve(fixture).await;
    let dir = tempfile::tempdir().unwrap();
    let mut spec = spec(&server, Provider::OpenAi, MODEL, key_file(&dir));
    spec.retries = 1;
    let err = client(spec).complete(&hello()).await.unwrap_err();
    assert!(
        matches!(&err, ModelError::Status { status: 500, message } if message.contains("Sorry about that")),
        "{err:?}"
    );
    server.assert_asked(2);
}

#[tokio::test]
async fn a_429_waits_as_retry_after_says() {
    let server = replay("rate_limited").await;
    let dir = tempfile::tempdir().unwrap();
    let model = client(spec(&server, Provider::OpenAi, MODEL, key_file(&dir)));
    let started = Instant::now();
    let reply = model.complete(&hello()).await.unwrap();
    // The backoff alone would be 10 ms at most: the wait is the server's second.
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(reply.stop, Stop::End);
    server.assert_asked(2);
}

#[tokio::test]
async fn a_long_retry_after_is_cut_to_the_bound() {
    let mut fixture = Fixture::load("rate_limited");
    fixture.responses[0]
        .headers
        .insert("retry-after".into(), "3600".into());
    let server = serve(fixture).await;
    let dir = tempfile::tempdir().unwrap();
    let model = ModelClient::new(spec(&server, Provider::OpenAi, MODEL, key_file(&dir)))
        .unwrap()
        .with_retry_policy(RetryPolicy {
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            max_retry_after: Duration::from_millis(100),
        });
    let reply = tokio::time::timeout(Duration::from_secs(30), model.complete(&hello()))
        .await
        .expect("Retry-After: 3600 was not cut to 100 ms");
    assert_eq!(reply.unwrap().stop, Stop::End);
    server.assert_asked(2);
}

#[tokio::test]
async fn a_400_is_not_retried() {
    let server = replay("bad_request").await;
    let dir = tempfile::tempdir().unwrap();
    let model = client(spec(&server, Provider::OpenAi, MODEL, key_file(&dir)));
    let err = model.complete(&hello()).await.unwrap_err();
    assert!(
        matches!(&err, ModelError::Status { status: 400, message } if message.starts_with("Invalid 'max_tokens'")),
        "{err:?}"
    );
    server.assert_asked(1);
}

#[tokio::test]
async fn a_model_that_never_answers_times_out_on_every_attempt() {
    let server = replay("never_answers").await;
    let dir = tempfile::tempdir().unwrap();
    let mut spec = spec(&server, Provider::OpenAi, MODEL, key_file(&dir));
    spec.timeout = Duration::from_secs(1);
    spec.retries = 1;
    let started = Instant::now();
    let err = within_a_minute(client(spec).complete(&hello()))
        .await
        .unwrap_err();
    assert_eq!(err, ModelError::Timeout(Duration::from_secs(1)));
    assert!(started.elapsed() >= Duration::from_secs(2));
    wait_for("the retry's request", || server.seen().len() == 2).await;
    server.assert_asked(2);
}

#[tokio::test]
async fn a_stream_that_stalls_after_text_times_out_and_is_not_retried() {
    let server = replay("stream_stalls").await;
    let dir = tempfile::tempdir().unwrap();
    let mut spec = spec(&server, Provider::OpenAi, MODEL, key_file(&dir));
    spec.timeout = Duration::from_secs(1);
    let mut pieces = Vec::new();
    let err =
        within_a_minute(client(spec).stream(&hello(), &mut |text| pieces.push(text.to_owned())))
            .await
            .unwrap_err();
    assert_eq!(err, ModelError::Timeout(Duration::from_secs(1)));
    // A retry would tell "Hello" twice.
    assert_eq!(pieces, ["Hello"]);
    server.assert_asked(1);
}

#[tokio::test]
async fn a_stream_that_stalls_before_text_is_retried() {
    let mut fixture = Fixture::load("stream_stalls");
    fixture.responses[0].sse.truncate(1);
    let server = serve(fixture).await;
    let dir = tempfile::tempdir().unwrap();
    let mut spec = spec(&server, Provider::OpenAi, MODEL, key_file(&dir));
    spec.timeout = Duration::from_secs(1);
    let mut pieces = Vec::new();
    let reply =
        within_a_minute(client(spec).stream(&hello(), &mut |text| pieces.push(text.to_owned())))
            .await
            .unwrap();
    assert_eq!(pieces, ["Hello", ", everyone", "!"]);
    assert_eq!(reply.text, "Hello, everyone!");
    server.assert_asked(2);
}

#[tokio::test]
async fn an_unreachable_endpoint_is_a_transport_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let mut spec: ModelSpec = format!("openai-compatible:{MODEL}@http://{addr}/v1")
        .parse()
        .unwrap();
    spec.retries = 1;
    spec.timeout = Duration::from_secs(5);
    let err = ModelClient::new(spec)
        .unwrap()
        .with_retry_policy(RetryPolicy {
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(10),
            max_retry_after: Duration::from_millis(10),
        })
        .complete(&hello())
        .await
        .unwrap_err();
    assert!(matches!(err, ModelError::Transport(_)), "{err:?}");
}

/// The key is sent in the protocol's header and shows in no error, even one whose provider
/// message quotes it.
async fn key_stays_secret(fixture: &str, provider: Provider, model: &str, var: &str) {
    let server = replay(fixture).await;
    std::env::set_var(var, KEY);
    let model = client(spec(&server, provider, model, KeySource::Env(var.into())));
    assert!(!format!("{model:?}").contains(KEY));
    let err = model.complete(&hello()).await.unwrap_err();
    assert!(
        matches!(&err, ModelError::Status { status: 401, message } if message.contains("[redacted]")),
        "{err:?}"
    );
    assert!(!err.to_string().contains(KEY), "{err}");
    assert!(!format!("{err:?}").contains(KEY), "{err:?}");
    server.assert_asked(1);
}

#[tokio::test]
async fn openai_key_is_a_bearer_token_and_never_in_errors() {
    key_stays_secret(
        "openai_unauthorized",
        Provider::OpenAi,
        MODEL,
        "TIM_MODELS_TEST_OPENAI_KEY",
    )
    .await;
}

#[tokio::test]
async fn anthropic_key_is_x_api_key_and_never_in_errors() {
    key_stays_secret(
        "anthropic_unauthorized",
        Provider::Anthropic,
        "claude-sonnet-4-5",
        "TIM_MODELS_TEST_ANTHROPIC_KEY",
    )
    .await;
}

#[test]
fn a_missing_key_names_where_it_was_looked_for() {
    let mut spec: ModelSpec = "openai:gpt-4o-mini".parse().unwrap();
    spec.key = KeySource::Env("TIM_MODELS_TEST_NEVER_SET".into());
    let err = ModelClient::new(spec.clone()).unwrap_err();
    assert!(
        matches!(&err, ModelError::Config(m) if m.contains("TIM_MODELS_TEST_NEVER_SET")),
        "{err:?}"
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.key");
    spec.key = KeySource::File(path.clone());
    let err = ModelClient::new(spec.clone()).unwrap_err();
    assert!(
        matches!(&err, ModelError::Config(m) if m.contains(&path.display().to_string())),
        "{err:?}"
    );

    // A key a header cannot carry: the error names the file, not the key.
    std::fs::write(&path, "sk-first-half\nsecond-half\n").unwrap();
    spec.key = KeySource::File(path);
    let err = ModelClient::new(spec).unwrap_err();
    assert!(matches!(err, ModelError::Config(_)), "{err:?}");
    assert!(!err.to_string().contains("sk-first-half"), "{err}");
}

#[test]
fn openai_compatible_needs_an_endpoint() {
    let err = "openai-compatible:qwen2.5"
        .parse::<ModelSpec>()
        .unwrap_err();
    assert!(matches!(err, ModelError::Config(_)), "{err:?}");
}
