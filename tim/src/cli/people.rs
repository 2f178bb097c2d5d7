//! `tim profile set|show` and `tim whois`: a timite's profile (display name, bio, avatar;
//! schema version 11, docs/protocol.md §9.13.1) and its handle on its node, resolved by
//! WebFinger (docs/operator.md "Profiles and handles"). Names are not unique: everywhere a name
//! is printed, the short DID stands beside it ([`named`]).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use base64::Engine as _;
use clap::Subcommand;
use tim_client::Client;
use tim_crdt::profiles::{sniff, AVATAR_MIMES, MAX_AVATAR_BYTES};
use tim_protocol::api::{AvatarUpload, ProfileView, SetTimiteProfile};
use tim_protocol::Did;

use crate::output::{errln, outln, shown, Out};

#[derive(Subcommand)]
pub(crate) enum TimiteProfileCommand {
    /// Set your profile (written whole into every space you are a member of at schema version
    /// 11 or later, and into spaces you join later) and/or claim a handle on your node.
    Set {
        /// Your display name, 1 to 64 characters (names are not unique).
        #[arg(long)]
        name: Option<String>,
        /// A short bio, at most 280 characters.
        #[arg(long)]
        bio: Option<String>,
        /// An image file (PNG, JPEG, WebP or GIF) of at most 32 KiB.
        #[arg(long)]
        avatar: Option<PathBuf>,
        /// A handle on your node (`alice` becomes alice@HOST:PORT), unique there.
        #[arg(long)]
        handle: Option<String>,
    },
    /// Show a timite's profile: a DID or a handle (NAME@HOST:PORT); yours by default.
    Show {
        /// A DID or a handle.
        who: Option<String>,
    },
}

/// `NAME (…SHORTDID)` with a name (made safe for a terminal), else the short DID.
pub(crate) fn named(did: &Did, name: Option<&str>) -> String {
    match name {
        Some(n) => format!("{} ({})", shown(n), did.short()),
        None => did.short(),
    }
}

/// The avatar file as an upload: its type from its magic number, its size bounded.
fn avatar_upload(path: &PathBuf) -> Result<AvatarUpload> {
    let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if data.len() > MAX_AVATAR_BYTES {
        bail!(
            "{} is {} bytes; an avatar is at most {MAX_AVATAR_BYTES}",
            path.display(),
            data.len()
        );
    }
    let Some(mime) = sniff(&data) else {
        bail!(
            "{} is not an image of a known type ({})",
            path.display(),
            AVATAR_MIMES.join(", ")
        );
    };
    Ok(AvatarUpload {
        mime: mime.to_string(),
        data: base64::engine::general_purpose::STANDARD.encode(&data),
    })
}

/// The DID `who` names: a DID, or a handle resolved by WebFinger at its node.
async fn resolve(client: &Client, who: &str) -> Result<Did> {
    if who.starts_with("did:") {
        return who.parse().map_err(|e| anyhow::anyhow!("`{who}`: {e}"));
    }
    Ok(client.resolve_handle(who).await?)
}

fn print_profile(p: &ProfileView) -> std::io::Result<()> {
    outln!("{}", p.did)?;
    if let Some(n) = &p.name {
        outln!("name    {}", shown(n))?;
    }
    if let Some(h) = &p.handle {
        outln!("handle  {}", shown(h))?;
    }
    if let Some(b) = &p.bio {
        outln!("bio     {}", shown(b))?;
    }
    if let Some(a) = &p.avatar {
        outln!("avatar  {} bytes of {}", a.size, shown(&a.mime))?;
    }
    Ok(())
}

/// `tim profile set|show`.
pub(crate) async fn run(client: &Client, out: Out, cmd: TimiteProfileCommand) -> Result<()> {
    match cmd {
        TimiteProfileCommand::Set {
            name,
            bio,
            avatar,
            handle,
        } => {
            let body = SetTimiteProfile {
                name,
                bio,
                avatar: avatar.as_ref().map(avatar_upload).transpose()?,
                handle,
            };
            let set = client.set_timite_profile(&body).await?;
            out.print(&set, |s| {
                print_profile(&s.profile)?;
                for space in &s.written {
                    outln!("written into {space}")?;
                }
                for skip in &s.skipped {
                    errln!("not written into {}: {}", skip.space, shown(&skip.reason))?;
                }
                if let Some(c) = &s.credential {
                    outln!("profile credential {c} in your passport (tim passport list)")?;
                }
                Ok(())
            })
        }
        TimiteProfileCommand::Show { who } => {
            let did = match who {
                Some(w) => resolve(client, &w).await?,
                None => client.me().await?.did,
            };
            let profile = client.timite_profile(&did).await?;
            out.print(&profile, print_profile)
        }
    }
}

/// `tim whois NAME@HOST:PORT`: the DID its node's WebFinger names, and the profile this node
/// sees of it (if it shares a space with it).
pub(crate) async fn whois(client: &Client, out: Out, handle: &str) -> Result<()> {
    let did = client.resolve_handle(handle).await?;
    match client.timite_profile(&did).await {
        Ok(p) => out.print(&p, print_profile),
        Err(e) if e.status() == Some(404) => {
            let bare = ProfileView {
                did,
                name: None,
                bio: None,
                avatar: None,
                handle: Some(handle.to_string()),
            };
            out.print(&bare, |p| {
                outln!("{}", p.did)?;
                errln!("(no profile of it in a space you share)")
            })
        }
        Err(e) => Err(e.into()),
    }
}
