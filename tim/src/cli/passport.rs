//! `tim passport …`: credentials issued and held through the node, and offline verification of
//! any VC 2.0 credential or presentation (`tim passport verify`, no node needed).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use tim_client::Client;
use tim_protocol::api::{CheckView, CredentialsQuery, IssueRequest, VerifyReport, MAX_LIST_PAGE};
use tim_protocol::{CredentialId, Did, SpaceId};

use super::parse_duration;
use crate::output::{errln, outln, safe_json, shown, Out};

#[derive(Subcommand)]
pub(crate) enum PassportCommand {
    /// Issue a credential in a space's name (you must be an admin there).
    Issue {
        /// Space id.
        space: SpaceId,
        /// The subject.
        did: Did,
        /// membership, reputation or ability.
        #[arg(long)]
        kind: String,
        /// For --kind ability: the ability.
        #[arg(long)]
        ability: Option<String>,
        /// For --kind ability: its level.
        #[arg(long)]
        level: Option<String>,
        /// How long it stays valid (e.g. 30d); no expiry if absent.
        #[arg(long, value_parser = parse_duration)]
        valid: Option<Duration>,
    },
    /// List the credentials this node issued or holds, sorted by id.
    List {
        /// How many credentials, at most (1 to 1000).
        #[arg(long, default_value_t = MAX_LIST_PAGE as u16,
              value_parser = clap::value_parser!(u16).range(1..=MAX_LIST_PAGE as i64))]
        limit: u16,
        /// List the credentials whose ids sort after this one (the hint after a page names it).
        #[arg(long)]
        after: Option<CredentialId>,
    },
    /// Show one credential.
    Show {
        /// Credential id.
        id: String,
    },
    /// Write a credential to a file (or standard output).
    Export {
        /// Credential id.
        id: String,
        /// Format: vc (JSON-LD with a Data Integrity proof) or jwt (VC-JOSE, EdDSA; only for
        /// credentials this node issued).
        #[arg(long, default_value = "vc", value_parser = ["vc", "jwt"])]
        format: String,
        /// Output file. Default: standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Keep a credential from a file; the node verifies it first.
    Import {
        /// The credential file.
        file: PathBuf,
    },
    /// Revoke a credential you issued (admins of its space).
    Revoke {
        /// Credential id.
        id: String,
    },
    /// Verify any VC 2.0 credential or presentation (JSON, Data Integrity eddsa-rdfc-2022)
    /// offline, printing each check; exits non-zero if one fails.
    Verify {
        /// The credential or presentation file (`-` for standard input).
        file: PathBuf,
        /// For a presentation: the domain it must be bound to.
        #[arg(long)]
        domain: Option<String>,
        /// For a presentation: the challenge it must answer.
        #[arg(long)]
        challenge: Option<String>,
    },
}

/// `tim passport …` but `verify` (see [`verify_file`]).
pub(crate) async fn run(client: &Client, out: Out, command: PassportCommand) -> Result<()> {
    match command {
        PassportCommand::Issue {
            space,
            did,
            kind,
            ability,
            level,
            valid,
        } => {
            let req = IssueRequest {
                subject: did,
                kind,
                ability,
                level,
                valid_for_secs: valid.map(|v| v.as_secs()),
            };
            let vc = client.issue_credential(space, &req).await?;
            out.print(&vc, |vc| {
                outln!("issued {}", shown(vc["id"].as_str().unwrap_or("?")))
            })?;
        }
        PassportCommand::List { limit, after } => {
            let query = CredentialsQuery {
                limit: Some(usize::from(limit)),
                after,
            };
            let page = client.credentials_page(&query).await?;
            if let Some(next) = &page.next_after {
                errln!("(more credentials: tim passport list --after {next})")?;
            }
            let mut states = Vec::with_capacity(page.items.len());
            for vc in &page.items {
                states.push(state(client, vc).await);
            }
            out.print(&page.items, |all| {
                if all.is_empty() {
                    outln!("no credentials yet")?;
                }
                for (vc, state) in all.iter().zip(&states) {
                    let field =
                        |v: &serde_json::Value| shown(v.as_str().unwrap_or("?")).to_string();
                    outln!(
                        "{}  {:<26} {:<10} subject {}  issuer {}",
                        field(&vc["id"]),
                        shown(kind(vc)).to_string(),
                        state,
                        field(&vc["credentialSubject"]["id"]),
                        field(&vc["issuer"]),
                    )?;
                }
                Ok(())
            })?;
        }
        PassportCommand::Show { id } => {
            // A credential is JSON already: the same document either way.
            let vc = client.credential(&id).await?;
            // The document stays whole on standard output; what the node says of it, apart.
            errln!("status: {}", state(client, &vc).await)?;
            outln!("{}", safe_json(serde_json::to_string_pretty(&vc)?))?;
        }
        PassportCommand::Export {
            id,
            format,
            out: file,
        } => {
            let text = if format == "jwt" {
                client.credential_jwt(&id).await?
            } else {
                serde_json::to_string_pretty(&client.credential(&id).await?)?
            };
            match file {
                Some(path) => {
                    std::fs::write(&path, text)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    out.print(&serde_json::json!({ "wrote": path }), |_| {
                        errln!("wrote {}", path.display())
                    })?;
                }
                None if format == "jwt" => {
                    out.print(&serde_json::json!({ "jwt": text }), |_| outln!("{text}"))?
                }
                None => outln!("{}", safe_json(text))?,
            }
        }
        PassportCommand::Import { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let vc: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", file.display()))?;
            let held = client.hold_credential(&vc).await?;
            out.print(&held, |held| {
                outln!(
                    "verified and kept {}",
                    shown(held["id"].as_str().unwrap_or("?"))
                )
            })?;
        }
        PassportCommand::Revoke { id } => {
            let done = client.revoke_credential(&id).await?;
            out.print(&done, |d| outln!("revoked {id} (change {})", d.change))?;
        }
        PassportCommand::Verify { .. } => unreachable!("main dispatches it to verify_file"),
    }
    Ok(())
}

/// Verifies a credential or presentation offline, printing each check; fails if one fails.
pub(crate) async fn verify_file(
    out: Out,
    file: &Path,
    domain: Option<&str>,
    challenge: Option<&str>,
) -> Result<()> {
    use tim_did::credential::{is_presentation, verify_document};
    let text = if file == Path::new("-") {
        std::io::read_to_string(std::io::stdin())?
    } else {
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let (report, what) = if text.trim_start().starts_with("ey") {
        let report = tim_did::credential::verify_jwt_credential(&text, now).await;
        (report, "JWT credential")
    } else {
        let doc: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is neither JSON nor a JWT", file.display()))?;
        let report = verify_document(&doc, domain, challenge, now).await;
        let what = if is_presentation(&doc) {
            "presentation"
        } else {
            "credential"
        };
        (report, what)
    };
    let view = VerifyReport {
        verified: report.ok(),
        checks: report
            .checks
            .iter()
            .map(|c| CheckView {
                name: c.name.clone(),
                ok: c.outcome.is_ok(),
                detail: match &c.outcome {
                    Ok(d) | Err(d) => d.clone(),
                },
            })
            .collect(),
    };
    out.print(&view, |view| {
        for c in &view.checks {
            let status = if c.ok { "ok" } else { "FAILED" };
            outln!(
                "{status:<7} {:<28} {}",
                shown(&c.name).to_string(),
                shown(&c.detail)
            )?;
        }
        if view.verified {
            outln!("the {what} verifies")
        } else {
            outln!("the {what} does NOT verify")
        }
    })?;
    if let Some(failed) = view.checks.iter().find(|c| !c.ok) {
        bail!(
            "the {what} does not verify: {}: {}",
            failed.name,
            failed.detail
        );
    }
    if !view.verified {
        bail!("the {what} does not verify: nothing was checked");
    }
    Ok(())
}

/// A credential's kind, as `tim passport issue --kind` names it (`membership`, `reputation`,
/// `ability`), `profile` for the self-issued profile credential, else its last type.
fn kind(vc: &serde_json::Value) -> &str {
    let types: Vec<&str> = vc["type"]
        .as_array()
        .map(|t| t.iter().filter_map(|t| t.as_str()).collect())
        .unwrap_or_default();
    let last = types.last().copied().unwrap_or("?");
    match last {
        "TimMembershipCredential" => "membership",
        "TimReputationCredential" => "reputation",
        "TimAbilityCredential" => "ability",
        tim_did::profile_credential::PROFILE_CREDENTIAL_TYPE => "profile",
        other => other,
    }
}

/// What the node says of a credential, in a word: `revoked` (the issuing space, hosted there,
/// revoked it), `valid` (every check passes), or `unverified` when another check fails or the
/// node cannot be asked.
async fn state(client: &Client, vc: &serde_json::Value) -> &'static str {
    match client.verify(vc).await {
        Ok(r) if r.checks.iter().any(|c| c.name == "revocation" && !c.ok) => "revoked",
        Ok(r) if r.verified => "valid",
        _ => "unverified",
    }
}
