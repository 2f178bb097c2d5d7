//! What members do in a space's timeline: `tim post`, `tim read` (a page at a time, or
//! following the space's events), `tim message delete`, `tim message history` and `tim rate`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use futures::StreamExt;
use serde::Serialize;
use tim_client::{Client, ClientError};
use tim_crdt::messages::MAX_ATTACHMENT_BYTES;
use tim_protocol::api::{
    MessageView, NewAttachment, Notification, NotificationKind, NotificationsQuery, PostMessage,
    SpaceEvent, SpaceSummary, TimelineQuery, DEFAULT_TIMELINE_PAGE, MAX_TIMELINE_PAGE,
};
use tim_protocol::{ChangeHash, Did, MessageId, SpaceId};

use crate::output::{errln, format_time, outln, safe_json, shown, Out};

#[derive(Subcommand)]
pub(crate) enum MessageCommand {
    /// Delete a message (your own, or anyone's as a moderator).
    Delete {
        /// Space id.
        space: SpaceId,
        /// Message id (as `tim read --json` shows it).
        message: String,
    },
    /// Print every version of a message's text, oldest first: the original, then what each
    /// edit wrote, with their times (schema version 10).
    History {
        /// Space id.
        space: SpaceId,
        /// Message id (as `tim read` shows it).
        message: String,
    },
}

/// The DIDs a message's text mentions: its words `@did:key:…` (trailing punctuation
/// aside), each once, in order.
fn mentions_in(text: &str) -> Vec<Did> {
    let mut out: Vec<Did> = Vec::new();
    for word in text.split_whitespace() {
        let Some(did) = word.strip_prefix('@') else {
            continue;
        };
        let did = did.trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
        if let Ok(d) = did.parse::<Did>() {
            if !out.contains(&d) {
                out.push(d);
            }
        }
    }
    out
}

/// The members `text` mentions by profile name: each `@NAME` where NAME is a member's name
/// (case aside, the longest that fits, followed by no letter or digit), each once, in order.
/// A name two members share is an error that lists them: they are mentioned by DID.
fn mentions_by_name(text: &str, names: &[(Did, String)]) -> Result<Vec<Did>> {
    let fits = |rest: &str, name: &str| {
        let n = name.chars().count();
        let head: String = rest.chars().take(n).collect();
        n > 0
            && head.to_lowercase() == name.to_lowercase()
            && rest.chars().nth(n).is_none_or(|c| !c.is_alphanumeric())
    };
    let mut out: Vec<Did> = Vec::new();
    for (i, _) in text.match_indices('@') {
        let rest = &text[i + 1..];
        let Some(longest) = names
            .iter()
            .filter(|(_, name)| fits(rest, name))
            .map(|(_, name)| name.chars().count())
            .max()
        else {
            continue;
        };
        let named: Vec<&Did> = names
            .iter()
            .filter(|(_, name)| name.chars().count() == longest && fits(rest, name))
            .map(|(did, _)| did)
            .collect();
        if let [did] = named[..] {
            if !out.contains(did) {
                out.push(*did);
            }
        } else {
            let head: String = rest.chars().take(longest).collect();
            let dids: Vec<String> = named.iter().map(|d| d.to_string()).collect();
            bail!(
                "@{} names {} members ({}); mention one as @did:key:…",
                shown(&head),
                named.len(),
                dids.join(", ")
            );
        }
    }
    Ok(out)
}

/// The media type of a file, by its extension (`application/octet-stream` if unknown).
fn mime_of(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("txt" | "md") => "text/plain",
        Some("json") => "application/json",
        Some("pdf") => "application/pdf",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("svg") => "image/svg+xml",
        Some("csv") => "text/csv",
        _ => "application/octet-stream",
    }
}

/// The file `path` as a new message's attachment (at most 64 KiB).
fn attachment_of(path: &Path) -> Result<NewAttachment> {
    let data = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    if data.len() > MAX_ATTACHMENT_BYTES {
        bail!(
            "{} is {} bytes; an attachment is at most {MAX_ATTACHMENT_BYTES} bytes",
            path.display(),
            data.len()
        );
    }
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("{} has no usable file name", path.display()))?;
    Ok(NewAttachment {
        name: name.to_string(),
        mime: mime_of(path).to_string(),
        data,
    })
}

/// `tim post SPACE TEXT [--reply-to MID] [--attach FILE]`: the text's `@did:key:…` words and
/// `@NAME`s (members' profile names) are its mentions (schema version 11), each notified; FILE is carried with it (schema version
/// 11, at most 64 KiB).
pub(crate) async fn post(
    client: &Client,
    out: Out,
    space: SpaceId,
    text: &str,
    reply_to: Option<&str>,
    attach: Option<&Path>,
) -> Result<()> {
    let mut mentions = mentions_in(text);
    // `@NAME` words need the members' names: read only when the text has one.
    if text
        .split('@')
        .skip(1)
        .any(|rest| !rest.starts_with("did:"))
    {
        let names: Vec<(Did, String)> = client
            .members(space)
            .await?
            .into_iter()
            .filter_map(|m| Some((m.did, m.name?)))
            .collect();
        for did in mentions_by_name(text, &names)? {
            if !mentions.contains(&did) {
                mentions.push(did);
            }
        }
    }
    let body = PostMessage {
        text: text.into(),
        reply_to: reply_to.map(String::from),
        mentions,
        attachment: attach.map(attachment_of).transpose()?,
    };
    let posted = client.post_full(space, &body).await?;
    out.print(&posted, |p| outln!("posted {} (change {})", p.id, p.change))
}

/// `tim attachment SPACE MID [-o FILE]`: writes the file a message carries to FILE, by
/// default to its own name in the current directory (never over an existing file, never to a
/// terminal: its bytes are another timite's).
pub(crate) async fn attachment(
    client: &Client,
    out: Out,
    space: SpaceId,
    message: &str,
    to: Option<PathBuf>,
) -> Result<()> {
    let (name, mime, data) = client.attachment(space, message).await?;
    let path = match to {
        Some(p) => p,
        None => {
            let name = name
                .filter(|n| !n.is_empty() && n != "." && n != ".." && !n.contains(['/', '\\']))
                .unwrap_or_else(|| "attachment".into());
            let p = PathBuf::from(name);
            if p.exists() {
                bail!("{} exists; name another file with -o", p.display());
            }
            p
        }
    };
    std::fs::write(&path, &data).with_context(|| format!("cannot write {}", path.display()))?;
    let wrote = serde_json::json!({ "wrote": path, "mime": mime, "size": data.len() });
    out.print(&wrote, |_| {
        outln!(
            "wrote {} ({} bytes, {})",
            shown(&path.display().to_string()),
            data.len(),
            shown(&mime)
        )
    })
}

/// `, N unread (M mentions)` for `tim space list`, or nothing when all is read.
pub(super) fn unread_tag(s: &SpaceSummary) -> String {
    match (s.unread, s.unread_mentions) {
        (0, _) => String::new(),
        (n, 0) => format!("  {n} unread"),
        (n, m) => format!("  {n} unread ({m} @you)"),
    }
}

/// `tim notifications [--unseen] [--follow]`: mentions of the timite and replies to its
/// messages, newest first; with `follow`, then each new one as it arrives (one JSON object per
/// line with `--json`).
pub(crate) async fn notifications(
    client: &Client,
    out: Out,
    unseen: bool,
    follow: bool,
) -> Result<()> {
    let events = if follow {
        Some(client.notification_events().await?)
    } else {
        None
    };
    let query = NotificationsQuery {
        limit: None,
        unseen,
    };
    let list = client.notifications(&query).await?;
    let Some(events) = events else {
        return out.print(&list, |list| {
            if list.is_empty() {
                outln!("no notifications")?;
            }
            list.iter().try_for_each(print_notification)
        });
    };
    let line = |n: &Notification| -> Result<()> {
        if out.json {
            outln!("{}", safe_json(serde_json::to_string(n)?))?;
        } else {
            print_notification(n)?;
        }
        Ok(())
    };
    list.iter().rev().try_for_each(line)?;
    let mut events = Box::pin(events);
    while let Some(e) = events.next().await {
        match e {
            Ok(n) => line(&n)?,
            Err(ClientError::Lagged(missed)) => {
                errln!("({missed} events skipped; tim notifications lists them)")?
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// `[HH:MM:SS] * SPACE MID …author mentioned you: text` (`*` when not seen), on one line.
fn print_notification(n: &Notification) -> std::io::Result<()> {
    let what = match n.kind {
        NotificationKind::Mention => "mentioned you",
        NotificationKind::Reply => "replied to you",
    };
    outln!(
        "[{}] {} {} {} {} {what}: {}",
        format_time(n.at),
        if n.seen { " " } else { "*" },
        format!("{:.12}", n.space.to_string()),
        shown(&n.message),
        n.author.short(),
        shown(&n.text)
    )
}

/// `tim dm DID TEXT`.
pub(crate) async fn dm(client: &Client, out: Out, to: Did, text: &str) -> Result<()> {
    let sent = client.direct_message(to, text).await?;
    // The space is not announced: the other joins through this node's address.
    let via = match sent.waiting {
        true => client.status().await?.listen.into_iter().next(),
        false => None,
    };
    out.print(&sent, |d| {
        outln!(
            "sent {} in {} (end-to-end encrypted{})",
            d.posted.id,
            d.space,
            if d.created { ", new" } else { "" }
        )?;
        if d.waiting {
            outln!("waiting for {to} to join; they read it once they do")?;
            if let Some(addr) = &via {
                outln!("they join with: tim space join {} --via {addr}", d.space)?;
            }
        }
        Ok(())
    })
}

/// `tim message …`.
pub(crate) async fn message(client: &Client, out: Out, command: MessageCommand) -> Result<()> {
    match command {
        MessageCommand::Delete { space, message } => {
            let done = client.delete_message(space, &message).await?;
            out.print(&done, |d| outln!("deleted {message} (change {})", d.change))
        }
        MessageCommand::History { space, message } => {
            super::threads::history(client, out, space, &message).await
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
        outln!("rated {did} {score}/5 (change {})", d.change)
    })
}

/// Which messages `tim read` prints.
#[derive(clap::Args)]
pub(crate) struct ReadArgs {
    /// Space id.
    space: SpaceId,
    /// How many messages, at most (1 to 500).
    #[arg(long, default_value_t = DEFAULT_TIMELINE_PAGE as u16,
          value_parser = clap::value_parser!(u16).range(1..=MAX_TIMELINE_PAGE as i64))]
    limit: u16,
    /// Print the messages just older than this message id (the hint after a page names it).
    #[arg(long, value_name = "MESSAGE_ID", conflicts_with_all = ["since", "follow"])]
    before: Option<MessageId>,
    /// Print the messages just newer than this message id, the oldest of them first.
    #[arg(long, value_name = "MESSAGE_ID")]
    since: Option<MessageId>,
    /// Keep printing new messages as they arrive (with --since: every message after it first),
    /// and a line for each join, role change, removal and deletion.
    #[arg(long)]
    follow: bool,
    /// Do not move your read marker: by default, reading the newest messages (without
    /// --before) marks what was printed as read.
    #[arg(long)]
    no_mark: bool,
}

/// What `tim read --json` prints: a page of the timeline, oldest first, with the cursors of the
/// pages on either side (as the API gives them).
#[derive(Serialize)]
struct ReadPage {
    space: SpaceId,
    heads: Vec<ChangeHash>,
    messages: Vec<MessageView>,
    next_before: Option<MessageId>,
    next_after: Option<MessageId>,
}

/// Prints a page of the timeline, oldest first: the latest messages, or those around a
/// message. With `follow`, keeps printing new messages and the space's other events (one JSON
/// object per line with `--json`: messages as in the page, other events as the event stream
/// carries them, with their `kind`).
pub(crate) async fn read(client: &Client, out: Out, args: ReadArgs) -> Result<()> {
    let space = args.space;
    let events = if args.follow {
        Some(client.events(space).await?)
    } else {
        None
    };
    let query = TimelineQuery {
        limit: Some(usize::from(args.limit)),
        before: args.before,
        after: args.since,
    };
    let page = client.timeline_page(space, &query).await?;
    let mark = !args.no_mark && query.before.is_none();
    if let (true, Some(newest)) = (mark, page.messages.first()) {
        client.mark_read(space, &newest.id).await?;
    }
    let Some(events) = events else {
        let mut messages = page.messages;
        messages.reverse();
        let page = ReadPage {
            space,
            heads: page.heads,
            messages,
            next_before: page.next_before,
            next_after: page.next_after,
        };
        return out.print(&page, |p| {
            for m in &p.messages {
                print_message(m)?;
            }
            if let Some(id) = &p.next_before {
                errln!("(older messages: tim read {space} --before {id})")?;
            }
            if let Some(id) = &p.next_after {
                errln!("(newer messages: tim read {space} --since {id})")?;
            }
            Ok(())
        });
    };
    let line = |m: &MessageView| -> Result<()> {
        if out.json {
            outln!("{}", safe_json(serde_json::to_string(m)?))?;
        } else {
            print_message(m)?;
        }
        Ok(())
    };
    let mut seen = std::collections::HashSet::new();
    for m in page.messages.iter().rev() {
        line(m)?;
        seen.insert(m.id.clone());
    }
    let mut newest = page.messages.first().map(|m| m.id.clone());
    // From --since, every page up to the newest message before following.
    if query.after.is_some() && page.next_after.is_some() {
        newest = catch_up(client, space, query.limit, newest, &mut seen, &line).await?;
    }
    let mut events = Box::pin(events);
    while let Some(e) = events.next().await {
        match e {
            Ok(SpaceEvent::Message { message, .. }) => {
                if seen.insert(message.id.clone()) {
                    line(&message)?;
                    if mark {
                        client.mark_read(space, &message.id).await?;
                    }
                }
                newest = Some(message.id);
            }
            Ok(other) if out.json => outln!("{}", safe_json(serde_json::to_string(&other)?))?,
            Ok(other) => print_event(&other)?,
            Err(ClientError::Lagged(missed)) => {
                errln!("({missed} events skipped by the node's event stream; reading the timeline from the newest message shown)")?;
                newest = catch_up(client, space, query.limit, newest, &mut seen, &line).await?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Prints the messages newer than `newest` that were not shown yet, in pages of `limit`,
/// oldest first; returns the newest message shown.
async fn catch_up(
    client: &Client,
    space: SpaceId,
    limit: Option<usize>,
    mut newest: Option<String>,
    seen: &mut std::collections::HashSet<String>,
    line: &impl Fn(&MessageView) -> Result<()>,
) -> Result<Option<String>> {
    loop {
        let query = TimelineQuery {
            limit,
            before: None,
            after: newest.as_deref().map(str::parse::<MessageId>).transpose()?,
        };
        let page = client.timeline_page(space, &query).await?;
        for m in page.messages.iter().rev() {
            if seen.insert(m.id.clone()) {
                line(m)?;
            }
        }
        newest = page.messages.first().map(|m| m.id.clone()).or(newest);
        if page.next_after.is_none() {
            return Ok(newest);
        }
    }
}

/// `[HH:MM:SS] MID …author[ ↪ PARENT]: text[ (edited N×)][ [emoji N …]]`, on one line.
/// An encrypted message this timite cannot decrypt says so, and why.
pub(super) fn print_message(m: &MessageView) -> std::io::Result<()> {
    let reply = m
        .reply_to
        .as_ref()
        .map(|p| format!(" ↪ {}", shown(p)))
        .unwrap_or_default();
    let head = format!(
        "[{}] {} {}{reply}",
        format_time(m.at),
        shown(&m.id),
        super::people::named(&m.author, m.author_name.as_deref())
    );
    let edited = match m.edits {
        0 => String::new(),
        n => format!(" (edited {n}×)"),
    };
    let reactions = match m.reactions.is_empty() {
        true => String::new(),
        false => format!(
            " [{}]",
            m.reactions
                .iter()
                .map(|r| format!("{} {}", shown(&r.emoji), r.count))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    match &m.unreadable {
        None => outln!("{head}: {}{edited}{reactions}", shown(&m.text)),
        Some(why) => outln!(
            "{head}: (encrypted; not readable here: {}){edited}{reactions}",
            shown(why)
        ),
    }
}

/// An event other than a message, on one line: `[HH:MM:SS] * …member what happened`, at the
/// time it arrived (events carry no time).
fn print_event(e: &SpaceEvent) -> std::io::Result<()> {
    let what = match e {
        SpaceEvent::Joined { member, .. } => {
            format!(
                "{} joined as {}",
                super::people::named(&member.did, member.name.as_deref()),
                shown(&member.role)
            )
        }
        SpaceEvent::RoleChanged { did, role, .. } => {
            format!("{} is now {}", did.short(), shown(role))
        }
        SpaceEvent::Removed { did, .. } => format!("{} left or was removed", did.short()),
        SpaceEvent::MessageDeleted { .. } => "a message was deleted".to_string(),
        SpaceEvent::MessageEdited { message: m, .. } => format!(
            "{} edited {}: {}",
            super::people::named(&m.author, m.author_name.as_deref()),
            shown(&m.id),
            shown(&m.text)
        ),
        SpaceEvent::Profile { did, name, .. } => match name {
            Some(n) => format!("{} changed its profile: {}", did.short(), shown(n)),
            None => format!("{} changed its profile", did.short()),
        },
        SpaceEvent::Reacted { message: m, .. } => format!(
            "reactions to {} are now: {}",
            shown(&m.id),
            m.reactions
                .iter()
                .map(|r| format!("{} {}", shown(&r.emoji), r.count))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        SpaceEvent::RequestCreated { request: r, .. }
        | SpaceEvent::RequestClaimed { request: r, .. }
        | SpaceEvent::RequestProgress { request: r, .. }
        | SpaceEvent::RequestCompleted { request: r, .. }
        | SpaceEvent::RequestFailed { request: r, .. }
        | SpaceEvent::RequestCancelled { request: r, .. }
        | SpaceEvent::RequestRated { request: r, .. } => format!(
            "request {} for {} by {}: {}{}",
            r.id,
            shown(&r.ability),
            r.requester.short(),
            shown(&r.state),
            r.claimant
                .map(|c| format!(" (claimed by {})", c.short()))
                .unwrap_or_default()
        ),
        SpaceEvent::ChainCreated { chain: c, .. }
        | SpaceEvent::ChainProgress { chain: c, .. }
        | SpaceEvent::ChainCompleted { chain: c, .. }
        | SpaceEvent::ChainFailed { chain: c, .. }
        | SpaceEvent::ChainCancelled { chain: c, .. } => format!(
            "chain {} by {}: {}{}",
            c.id,
            c.author.short(),
            shown(&c.state),
            c.step
                .map(|s| format!(" at step {s} of {}", c.steps.len()))
                .unwrap_or_default()
        ),
        // Messages are printed as they come; an event this version does not know is skipped.
        _ => return Ok(()),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    outln!("[{}] * {what}", format_time(now))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn did(b: u8) -> Did {
        Did::from_key(&ed25519_dalek::SigningKey::from_bytes(&[b; 32]).verifying_key())
    }

    #[test]
    fn names_are_mentioned_longest_first_and_a_shared_name_is_refused() {
        let (bea, bea2, ann) = (did(1), did(2), did(3));
        let names = vec![
            (bea, "Bea".to_string()),
            (bea2, "Bea from node 2".to_string()),
            (ann, "Ann".to_string()),
        ];
        let found = mentions_by_name(
            "hi @bea from node 2, @Ann and @ann. @Beatrice @nobody",
            &names,
        );
        assert_eq!(found.unwrap(), vec![bea2, ann]);
        assert_eq!(mentions_by_name("@Bea!", &names).unwrap(), vec![bea]);
        let twins = vec![(bea, "Bea".to_string()), (ann, "bea".to_string())];
        let err = mentions_by_name("@Bea hello", &twins)
            .unwrap_err()
            .to_string();
        assert!(err.contains("names 2 members"), "{err}");
    }
}
