//! The MCP resources: a space's timeline (`tim://spaces/{id}/timeline`, its latest page, as
//! JSON and as text) and a timite's passport (`tim://timites/{did}/passport`, its
//! credentials), read as the token's timite. The list names the timeline of every space the
//! timite reads and its own passport; the templates name both forms.

use rmcp::model::{
    ListResourceTemplatesResult, ListResourcesResult, ReadResourceResult, Resource,
    ResourceContents, ResourceTemplate,
};
use rmcp::ErrorData as McpError;
use serde_json::json;
use tim_protocol::api::{CredentialsQuery, TimelinePage, TimelineQuery};
use tim_protocol::Did;

use super::{parse_arg, read_error, resolve_space};
use crate::service::{Caller, Service};

/// The URI scheme of Tim's resources.
const SCHEME: &str = "tim://";
const JSON: &str = "application/json";
const TEXT: &str = "text/plain";

fn timeline_uri(space: &impl std::fmt::Display) -> String {
    format!("{SCHEME}spaces/{space}/timeline")
}

fn passport_uri(did: &Did) -> String {
    format!("{SCHEME}timites/{did}/passport")
}

/// The timeline of every space `caller` reads, and its passport.
pub(super) async fn list(
    service: &Service,
    caller: &Caller,
) -> Result<ListResourcesResult, McpError> {
    let spaces = service.spaces(caller).await.map_err(read_error)?;
    let mut resources: Vec<Resource> = spaces
        .into_iter()
        .map(|s| {
            Resource::new(timeline_uri(&s.id), format!("{} timeline", s.name))
                .with_description(format!(
                    "The latest messages of space {} ({} messages, {} members){}",
                    s.name,
                    s.messages,
                    s.members,
                    if s.purpose.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", s.purpose)
                    }
                ))
                .with_mime_type(JSON)
        })
        .collect();
    resources.push(
        Resource::new(passport_uri(&caller.timite), "passport")
            .with_description("Your credentials: memberships, reputation, attested abilities")
            .with_mime_type(JSON),
    );
    Ok(ListResourcesResult::with_all_items(resources))
}

/// The two forms of resource URI.
pub(super) fn templates() -> ListResourceTemplatesResult {
    ListResourceTemplatesResult::with_all_items(vec![
        ResourceTemplate::new(timeline_uri(&"{space}"), "timeline")
            .with_description(
                "A space's latest messages, newest first, as JSON (a timeline page) and as \
                 text; {space} is its id",
            )
            .with_mime_type(JSON),
        ResourceTemplate::new(passport_uri_template(), "passport")
            .with_description(
                "A timite's credentials (only your own: {did} is the DID your token acts as)",
            )
            .with_mime_type(JSON),
    ])
}

fn passport_uri_template() -> String {
    format!("{SCHEME}timites/{{did}}/passport")
}

/// Reads the resource at `uri` as `caller`.
pub(super) async fn read(
    service: &Service,
    caller: &Caller,
    uri: &str,
) -> Result<ReadResourceResult, McpError> {
    let not_found = || {
        McpError::resource_not_found(
            format!(
                "no resource {uri}: Tim's are {} and {}",
                timeline_uri(&"{space}"),
                passport_uri_template()
            ),
            None,
        )
    };
    let path = uri.strip_prefix(SCHEME).ok_or_else(not_found)?;
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        ["spaces", space, "timeline"] => {
            let space = resolve_space(service, caller, space).await?;
            let page = service
                .timeline(caller, space, &TimelineQuery::default())
                .await
                .map_err(read_error)?;
            let json = serde_json::to_string(&page).map_err(encode_error)?;
            Ok(ReadResourceResult::new(vec![
                ResourceContents::text(json, uri).with_mime_type(JSON),
                ResourceContents::text(as_text(&page), uri).with_mime_type(TEXT),
            ]))
        }
        ["timites", did, "passport"] => {
            let did: Did = parse_arg(did, "a DID")?;
            if did != caller.timite {
                return Err(McpError::resource_not_found(
                    format!(
                        "a passport is read by its own timite only: this token acts as {}",
                        caller.timite
                    ),
                    None,
                ));
            }
            let page = service
                .credentials(caller, &CredentialsQuery::default())
                .await
                .map_err(read_error)?;
            let body = json!({
                "did": did,
                "credentials": page.items,
                "next_after": page.next_after,
            });
            Ok(ReadResourceResult::new(vec![ResourceContents::text(
                body.to_string(),
                uri,
            )
            .with_mime_type(JSON)]))
        }
        _ => Err(not_found()),
    }
}

fn encode_error(e: serde_json::Error) -> McpError {
    McpError::internal_error(format!("cannot encode the answer: {e}"), None)
}

/// A timeline page as lines a model reads, oldest first: `author: text`, and a last line
/// naming the cursor of older messages if there are any.
pub(super) fn as_text(page: &TimelinePage) -> String {
    let mut lines: Vec<String> = page
        .messages
        .iter()
        .rev()
        .map(|m| match &m.unreadable {
            Some(why) => format!("{}: (unreadable: {why})", m.author),
            None => format!("{}: {}", m.author, m.text),
        })
        .collect();
    if lines.is_empty() {
        lines.push("(no messages yet)".into());
    }
    if let Some(before) = &page.next_before {
        lines.push(format!("(older messages: read with before = {before})"));
    }
    lines.join("\n")
}
