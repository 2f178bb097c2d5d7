//! Message features (schema version 10, docs/protocol.md §9.12): `tim edit`, `tim react`,
//! `tim search`, `tim thread` and `tim message history` (replies are `tim post --reply-to`).

use anyhow::Result;
use tim_client::Client;
use tim_protocol::api::{MessageView, SearchQuery};
use tim_protocol::{MessageId, SpaceId};

use super::timeline::print_message;
use crate::output::{errln, format_time, outln, shown, Out};

/// `tim edit SPACE MID TEXT`.
pub(crate) async fn edit(
    client: &Client,
    out: Out,
    space: SpaceId,
    message: &str,
    text: &str,
) -> Result<()> {
    let done = client.edit_message(space, message, text).await?;
    out.print(&done, |d| outln!("edited {message} (change {})", d.change))
}

/// `tim react SPACE MID EMOJI`.
pub(crate) async fn react(
    client: &Client,
    out: Out,
    space: SpaceId,
    message: &str,
    emoji: &str,
) -> Result<()> {
    let done = client.react(space, message, emoji).await?;
    out.print(&done, |d| {
        outln!("reacted {emoji} to {message} (change {})", d.change)
    })
}

/// `tim thread SPACE MID`: the message, then its replies, in timeline order.
pub(crate) async fn thread(client: &Client, out: Out, space: SpaceId, message: &str) -> Result<()> {
    let thread = client.thread(space, message).await?;
    out.print(&thread, |t| {
        print_message(&t.root)?;
        for m in &t.replies {
            print_message(m)?;
        }
        Ok(())
    })
}

/// `tim message history SPACE MID`: every version of the message's text, oldest first, one
/// a line, `[HH:MM:SS] text`, the last marked `(now)`.
pub(crate) async fn history(
    client: &Client,
    out: Out,
    space: SpaceId,
    message: &str,
) -> Result<()> {
    let history = client.edit_history(space, message).await?;
    out.print(&history, |h| {
        let last = h.edits.len().saturating_sub(1);
        for (i, v) in h.edits.iter().enumerate() {
            let now = if i == last { " (now)" } else { "" };
            match &v.unreadable {
                None => outln!("[{}] {}{now}", format_time(v.at), shown(&v.text))?,
                Some(why) => outln!(
                    "[{}] (encrypted; not readable here: {}){now}",
                    format_time(v.at),
                    shown(why)
                )?,
            }
        }
        Ok(())
    })
}

/// `tim search SPACE QUERY`: a page of the messages that contain the query, newest first.
pub(crate) async fn search(
    client: &Client,
    out: Out,
    space: SpaceId,
    query: String,
    limit: Option<usize>,
    before: Option<MessageId>,
) -> Result<()> {
    let q = SearchQuery {
        q: query,
        limit,
        before,
    };
    let page = client.search_messages(space, &q).await?;
    out.print(&page, |p| {
        p.messages
            .iter()
            .try_for_each(|m: &MessageView| print_message(m))?;
        if p.messages.is_empty() {
            errln!("(no message contains {:?})", q.q)?;
        }
        if let Some(id) = &p.next_before {
            errln!(
                "(older matches: tim search {space} {:?} --before {id})",
                q.q
            )?;
        }
        Ok(())
    })
}
