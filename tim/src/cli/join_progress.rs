//! The spinner of `tim space join`: how many peers the node is asking, and for how long.

use std::future::Future;
use std::time::Duration;

use indicatif::ProgressBar;
use tim_client::Client;
use tim_protocol::SpaceId;

/// How often the spinner asks the node how many peers it has.
const STATUS_EVERY: Duration = Duration::from_secs(1);

/// Awaits `join`; meanwhile, if `bar` is shown (standard error is a terminal), says on it how
/// many peers the node is connected to, from `/v1/status`, and how long it has been asking.
pub(crate) async fn with_progress<T>(
    client: &Client,
    bar: &ProgressBar,
    space: SpaceId,
    join: impl Future<Output = T>,
) -> T {
    if bar.is_hidden() {
        return join.await;
    }
    let start = tokio::time::Instant::now();
    let mut tick = tokio::time::interval(STATUS_EVERY);
    let mut join = std::pin::pin!(join);
    loop {
        tokio::select! {
            answer = &mut join => return answer,
            _ = tick.tick() => {
                if let Ok(status) = client.status().await {
                    bar.set_message(asking(space, status.connected_peers, start.elapsed()));
                }
            }
        }
    }
}

/// `joining SPACE: asking N peers… (Xs)`.
fn asking(space: SpaceId, peers: usize, elapsed: Duration) -> String {
    let s = if peers == 1 { "" } else { "s" };
    format!(
        "joining {space}: asking {peers} peer{s}… ({}s)",
        elapsed.as_secs()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spinner_line_counts_peers_and_seconds() {
        let space: SpaceId = "07".repeat(32).parse().unwrap();
        let one = asking(space, 1, Duration::from_millis(2_500));
        assert!(one.ends_with(": asking 1 peer… (2s)"), "{one}");
        let three = asking(space, 3, Duration::from_secs(12));
        assert!(three.ends_with(": asking 3 peers… (12s)"), "{three}");
    }
}
