//! What members do in a space's timeline: `tim post`, `tim read`, `tim message delete` and
//! `tim rate`.

use anyhow::Result;
use clap::Subcommand;
use futures::StreamExt;
use tim_client::Client;
use tim_protocol::api::{MessageView, SpaceEvent};
use tim_protocol::{Did, SpaceId};

use crate::output::{format_time, Out};

#[derive(Subcommand)]
pub(crate) enum MessageCommand {
    /// Delete a message (your own, or anyone's as a moderator).
    Delete {
        /// Space id.
        space: SpaceId,
        /// Message id (as `tim read --json` shows it).
        message: String,
    },
}

/// `tim post SPACE TEXT`.
pub(crate) async fn post(client: &Client, out: Out, space: SpaceId, text: &str) -> Result<()> {
    let posted = client.post_message(space, text).await?;
    out.print(&posted, |p| {
        println!("posted {} (change {})", p.id, p.change)
    })
}

/// `tim message …`.
pub(crate) async fn message(client: &Client, out: Out, command: MessageCommand) -> Result<()> {
    match command {
        MessageCommand::Delete { space, message } => {
            let done = client.delete_message(space, &message).await?;
            out.print(&done, |d| {
                println!("deleted {message} (change {})", d.change)
            })
        }
    }
}

/// `tim rate SPACE DID SCORE`.
pub(crate) async fn rate(
    client: &Client,
    out: Out,
    space: SpaceId,
    did: Did,
    score: u8,
) -> Result<()> {
    let done = client.rate(space, did, score).await?;
    out.print(&done, |d| {
        println!("rated {did} {score}/5 (change {})", d.change)
    })
}

/// Prints a timeline; with `follow`, keeps printing new messages (one JSON object per line
/// with `--json`).
pub(crate) async fn read(client: &Client, out: Out, space: SpaceId, follow: bool) -> Result<()> {
    let events = if follow {
        Some(client.events(space).await?)
    } else {
        None
    };
    let timeline = client.timeline(space).await?;
    let Some(events) = events else {
        return out.print(&timeline, |t| t.messages.iter().for_each(print_message));
    };
    let line = |m: &MessageView| -> Result<()> {
        if out.json {
            println!("{}", serde_json::to_string(m)?);
        } else {
            print_message(m);
        }
        Ok(())
    };
    for m in &timeline.messages {
        line(m)?;
    }
    let seen: std::collections::HashSet<String> =
        timeline.messages.iter().map(|m| m.id.clone()).collect();
    let mut events = Box::pin(events);
    while let Some(e) = events.next().await {
        if let SpaceEvent::Message { message, .. } = e? {
            if !seen.contains(&message.id) {
                line(&message)?;
            }
        }
    }
    Ok(())
}

fn print_message(m: &MessageView) {
    println!("[{}] {}: {}", format_time(m.at), m.author.short(), m.text);
}
