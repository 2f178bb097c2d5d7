//! `tim space …`: create, invite, roles, members, abilities, join, requirements, list, export
//! and import.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use tim_client::Client;
use tim_protocol::api::{CreateSpace, InviteRequest, MembersQuery, MAX_LIST_PAGE};
use tim_protocol::wire::ExportBundle;
use tim_protocol::{Did, SpaceId};

use super::join_progress;
use super::link::{InviteLink, JoinTarget};
use super::parse_duration;
use crate::output::{errln, outln, shown, Out};

#[derive(Subcommand)]
pub(crate) enum SpaceCommand {
    /// Create a space; prints its id.
    Create {
        /// Name.
        name: String,
        /// Purpose.
        #[arg(long, default_value = "")]
        purpose: String,
        /// Who may join: public, invite-only or ephemeral.
        #[arg(long, default_value = "public")]
        visibility: String,
        /// Time to live of an ephemeral space (e.g. 30s, 10m, 2h, 7d).
        #[arg(long, value_parser = parse_duration)]
        ttl: Option<Duration>,
    },
    /// Invite a timite to an invite-only space (admins).
    Invite {
        /// Space id.
        space: SpaceId,
        /// The invitee's DID.
        did: Did,
        /// How long the invite stays valid (e.g. 1h, 7d).
        #[arg(long, value_parser = parse_duration, default_value = "7d")]
        valid: Duration,
    },
    /// Set a member's role: admin, moderator, member, guest or banned (admins).
    Role {
        /// Space id.
        space: SpaceId,
        /// The member.
        did: Did,
        /// The new role.
        role: String,
    },
    /// Remove a member (admins); in a public space they may join again.
    Kick {
        /// Space id.
        space: SpaceId,
        /// The member.
        did: Did,
    },
    /// Ban a member (admins): they may not write or join again.
    Ban {
        /// Space id.
        space: SpaceId,
        /// The member.
        did: Did,
    },
    /// List a space's members, sorted by DID: role, reputation, declared abilities.
    Members {
        /// Space id.
        space: SpaceId,
        /// How many members, at most (1 to 1000).
        #[arg(long, default_value_t = MAX_LIST_PAGE as u16,
              value_parser = clap::value_parser!(u16).range(1..=MAX_LIST_PAGE as i64))]
        limit: u16,
        /// List the members whose DIDs sort after this one (the hint after a page names it).
        #[arg(long)]
        after: Option<Did>,
    },
    /// Declare what you can do in a space (replaces your list; none clears it).
    Abilities {
        /// Space id.
        space: SpaceId,
        /// Short ability names, e.g. rust translation summarize.
        abilities: Vec<String>,
    },
    /// Join a space: find hosts, sync its history, become a member.
    Join {
        /// Space id, or an invite link (tim:join/<space id>?via=<multiaddr>…).
        space: JoinTarget,
        /// Address of a node that hosts it (repeatable); Kademlia is asked too.
        #[arg(long)]
        via: Vec<String>,
        /// Credential id to present for the space's requirements (repeatable).
        #[arg(long)]
        present: Vec<String>,
        /// How long to wait for a host to answer (1s to 5m; default 30s). A join that fails
        /// or is interrupted leaves nothing behind.
        #[arg(long, value_parser = parse_duration)]
        timeout: Option<Duration>,
    },
    /// Leave a space (the owner cannot): your member entry is removed; this node stops
    /// hosting the space once none of its timites is a member. Also gives up a join.
    Leave {
        /// Space id.
        space: SpaceId,
    },
    /// Print an invite link to a space: its id and this node's addresses, and for an
    /// invite-only space the invitee (invite them first: tim space invite SPACE DID).
    Link {
        /// Space id.
        space: SpaceId,
        /// The invitee's DID (an invite-only space).
        #[arg(long = "for")]
        invitee: Option<Did>,
    },
    /// Migrate a space to a newer schema version (admins and the owner; docs/rules.md §4.1):
    /// version 8 switches its reputation to v2 (docs/reputation.md).
    Migrate {
        /// Space id.
        space: SpaceId,
        /// The version. Default: the newest this node knows.
        #[arg(long)]
        to: Option<u64>,
    },
    /// Show the reputation thresholds at which members earn roles, or change them (admins and
    /// the owner; schema version 9; docs/governance.md "Earned roles").
    EarnedRoles(super::earned::EarnedRolesArgs),
    /// Require joiners to present credentials (admins), e.g. --reputation 10 --from SPACE;
    /// `--clear` lets anyone join again.
    Require {
        /// Space id.
        space: SpaceId,
        /// Minimum reputation score.
        #[arg(long, conflicts_with = "clear")]
        reputation: Option<i64>,
        /// An ability that must be attested.
        #[arg(long, conflicts_with = "clear")]
        ability: Option<String>,
        /// A space whose credentials count (repeatable).
        #[arg(long = "from", required_unless_present = "clear")]
        from: Vec<SpaceId>,
        /// Remove every requirement.
        #[arg(long)]
        clear: bool,
    },
    /// List hosted spaces.
    List,
    /// Write the space's Automerge document to FILE and its signed changes to FILE.sigs.
    Export {
        /// Space id.
        space: SpaceId,
        /// Output file. Default: <space id>.automerge
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Import a space from an export (FILE and FILE.sigs); every change is verified first.
    Import {
        /// The exported document (its FILE.sigs must be beside it) or the .sigs file itself.
        file: PathBuf,
    },
    #[command(flatten)]
    Profile(super::profile::ProfileCommand),
}

/// `tim space …`.
pub(crate) async fn run(client: &Client, out: Out, command: SpaceCommand) -> Result<()> {
    match command {
        SpaceCommand::Create {
            name,
            purpose,
            visibility,
            ttl,
        } => {
            let s = client
                .create_space_with(&CreateSpace {
                    name,
                    purpose,
                    visibility: Some(visibility),
                    ttl_secs: ttl.map(|t| t.as_secs()),
                    encrypted: None,
                })
                .await?;
            out.print(&s, |s| outln!("{}", s.id))?;
        }
        SpaceCommand::Require {
            space,
            reputation,
            ability,
            from,
            clear,
        } => {
            let mut reqs = Vec::new();
            if let Some(min) = reputation {
                reqs.push(
                    serde_json::json!({"kind": "reputation", "min_score": min, "spaces": from}),
                );
            }
            if let Some(a) = ability {
                reqs.push(serde_json::json!({"kind": "ability", "ability": a, "spaces": from}));
            }
            if reqs.is_empty() && !clear {
                reqs.push(serde_json::json!({"kind": "membership", "spaces": from}));
            }
            // `--clear` sets none: anyone may join again.
            let done = client
                .set_requirements(space, &serde_json::Value::Array(reqs))
                .await?;
            out.print(&done, |d| match clear {
                true => outln!(
                    "requirements cleared: anyone may join (change {})",
                    d.change
                ),
                false => outln!("requirements set (change {})", d.change),
            })?;
        }
        SpaceCommand::EarnedRoles(args) => super::earned::run(client, out, args).await?,
        SpaceCommand::Profile(c) => super::profile::run(client, out, c).await?,
        SpaceCommand::Migrate { space, to } => {
            let m = client.migrate(space, to).await?;
            out.print(&m, |m| {
                outln!(
                    "migrated from schema version {} to {} (change {})",
                    m.from,
                    m.to,
                    m.change
                )
            })?;
        }
        SpaceCommand::Invite { space, did, valid } => {
            let req = InviteRequest {
                did,
                expires_in_secs: Some(valid.as_secs()),
            };
            let done = client.invite(space, &req).await?;
            // An invite-only space is not announced on the network: the invitee joins through
            // this node's address.
            let via = client.status().await?.listen.into_iter().next();
            out.print(&done, |d| {
                outln!("invited {did} (change {})", d.change)?;
                if let Some(addr) = &via {
                    outln!("they join with: tim space join {space} --via {addr}")?;
                }
                let link = InviteLink {
                    space,
                    via: via.iter().cloned().collect(),
                    invitee: Some(did),
                };
                outln!("or with the link: tim space join '{link}'")?;
                Ok(())
            })?;
        }
        SpaceCommand::Leave { space } => {
            let left = client.leave(space).await?;
            out.print(&left, |l| {
                match l.change {
                    Some(c) => outln!("left {space} (change {c})")?,
                    None => outln!("gave up joining {space}")?,
                }
                if l.dropped {
                    outln!("this node no longer hosts it; its copy is deleted")
                } else {
                    outln!("this node still hosts it for its other members")
                }
            })?;
        }
        SpaceCommand::Link { space, invitee } => {
            let link = InviteLink {
                space,
                via: client.status().await?.listen,
                invitee,
            };
            out.print(&serde_json::json!({ "link": link.to_string() }), |_| {
                outln!("{link}")
            })?;
        }
        SpaceCommand::Role { space, did, role } => {
            let done = client.set_role(space, &did, &role).await?;
            out.print(&done, |d| {
                outln!("{did} is now {role} (change {})", d.change)
            })?;
        }
        SpaceCommand::Kick { space, did } => {
            let done = client.kick(space, &did).await?;
            out.print(&done, |d| outln!("removed {did} (change {})", d.change))?;
        }
        SpaceCommand::Ban { space, did } => {
            let done = client.set_role(space, &did, "banned").await?;
            out.print(&done, |d| outln!("banned {did} (change {})", d.change))?;
        }
        SpaceCommand::Members {
            space,
            limit,
            after,
        } => {
            let query = MembersQuery {
                limit: Some(usize::from(limit)),
                after,
            };
            let page = client.members_page(space, &query).await?;
            if let Some(next) = &page.next_after {
                errln!("(more members: tim space members {space} --after {next})")?;
            }
            out.print(&page.items, |members| {
                for m in members {
                    let mut line = format!(
                        "{:<10} {}{}  reputation {}",
                        shown(&m.role).to_string(),
                        m.did,
                        m.name
                            .as_ref()
                            .map(|n| format!(" ({})", shown(n)))
                            .unwrap_or_default(),
                        m.reputation
                    );
                    if !m.abilities.is_empty() {
                        line.push_str(&format!("  abilities {}", shown(&m.abilities.join(", "))));
                    }
                    if let Some(t) = &m.earned_by {
                        line.push_str(&format!("  earned: {}", super::earned::describe(t)));
                    }
                    if let Some(r) = m.imported_reputation {
                        line.push_str(&format!("  imported reputation {r}"));
                    }
                    outln!("{line}")?;
                }
                Ok(())
            })?;
        }
        SpaceCommand::Abilities { space, abilities } => {
            let done = client.declare_abilities(space, abilities.clone()).await?;
            out.print(&done, |d| {
                if abilities.is_empty() {
                    outln!("cleared your abilities in {space} (change {})", d.change)
                } else {
                    outln!(
                        "your abilities in {space}: {} (change {})",
                        shown(&abilities.join(", ")),
                        d.change
                    )
                }
            })?;
        }
        SpaceCommand::Join {
            space: JoinTarget(link),
            mut via,
            present,
            timeout,
        } => {
            if let Some(invitee) = &link.invitee {
                let me = client.me().await?.did;
                if me != *invitee {
                    bail!("this link is for {invitee}'s invite, and you are {me}: ask for a link for you");
                }
            }
            via.extend(link.via);
            let space = link.space;
            let bar = out.spinner(format!("joining {space}: syncing from peers…"));
            let join = client.join_within(space, via, present, timeout);
            let s = join_progress::with_progress(client, &bar, space, join).await?;
            bar.finish_and_clear();
            out.print(&s, |s| {
                outln!(
                    "joined \"{}\": {} members, {} messages",
                    shown(&s.name),
                    s.members,
                    s.messages
                )
            })?;
        }
        SpaceCommand::List => {
            let spaces = client.spaces().await?;
            out.print(&spaces, |spaces| {
                if spaces.is_empty() {
                    outln!(
                        "no spaces yet (tim space create NAME, or tim space join ID --via ADDR)"
                    )?;
                }
                for s in spaces {
                    outln!(
                        "{}  {:<24} {:>3} members {:>6} messages{}{}",
                        s.id,
                        shown(&s.name).to_string(),
                        s.members,
                        s.messages,
                        super::timeline::unread_tag(s),
                        super::profile::tags(&s.profile)
                    )?;
                }
                Ok(())
            })?;
        }
        SpaceCommand::Export { space, out: file } => {
            let file = file.unwrap_or_else(|| PathBuf::from(format!("{space}.automerge")));
            let doc = client.export_document(space).await?;
            let sigs = client.export_signatures(space).await?;
            let sigs_path = sigs_path(&file);
            std::fs::write(&file, &doc)
                .with_context(|| format!("cannot write {}", file.display()))?;
            std::fs::write(&sigs_path, &sigs)
                .with_context(|| format!("cannot write {}", sigs_path.display()))?;
            let v = serde_json::json!({
                "document": file,
                "document_bytes": doc.len(),
                "signatures": sigs_path,
                "signatures_bytes": sigs.len(),
            });
            out.print(&v, |_| {
                outln!(
                    "wrote {} ({} bytes, Automerge document)",
                    file.display(),
                    doc.len()
                )?;
                outln!(
                    "wrote {} ({} bytes, signed changes)",
                    sigs_path.display(),
                    sigs.len()
                )
            })?;
        }
        SpaceCommand::Import { file } => {
            let path = if file.extension().is_some_and(|e| e == "sigs") {
                file.clone()
            } else {
                sigs_path(&file)
            };
            let bundle = std::fs::read(&path).with_context(|| {
                format!(
                    "cannot read {}: Tim imports only signed changes, which `tim space export` writes beside the document",
                    path.display()
                )
            })?;
            if let Err(e) = ExportBundle::decode(&bundle) {
                bail!(
                    "{} is not a Tim export (truncated or corrupt): {e}",
                    path.display()
                );
            }
            let bar = out.spinner(format!(
                "importing {} ({} bytes): verifying every signature…",
                path.display(),
                bundle.len()
            ));
            let imported = client.import(bundle).await?;
            bar.finish_and_clear();
            out.print(&imported, |i| {
                outln!(
                    "imported space {}: {} new changes, {} already here (every signature verified)",
                    i.space,
                    i.applied,
                    i.known
                )
            })?;
        }
    }
    Ok(())
}

/// Where the signed changes of an exported document `doc` go: `doc` + `.sigs`.
fn sigs_path(doc: &Path) -> PathBuf {
    let mut s = doc.as_os_str().to_owned();
    s.push(".sigs");
    PathBuf::from(s)
}
