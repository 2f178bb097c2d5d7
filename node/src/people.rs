//! Timites' profiles and handles (schema version 11; docs/protocol.md §9.13.1,
//! docs/operator.md "Profiles and handles"): the use cases of [`Service`] that the HTTP API
//! and the CLI call. The document side is [`tim_crdt::profiles`].
//!
//! A hosted timite's profile is kept in the node's store and written, whole, into every space
//! it is a member of at schema version 11 or later (spaces below are listed as skipped, never
//! migrated for it), and into each space it joins later. A handle is a name unique on the
//! node that resolves to the timite's DID by WebFinger (RFC 7033) and names its did:web
//! document.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::{json, Value};
use tim_crdt::profiles::{Avatar, Profile};
use tim_crdt::schema;
use tim_protocol::api::{
    AvatarUpload, AvatarView, Jrd, JrdLink, ProfileSet, ProfileView, SetTimiteProfile, SkippedSpace,
};
use tim_protocol::{Did, SpaceId};

use crate::service::{Caller, Service, ServiceError, ServiceResult};
use crate::store::StoredProfile;
use crate::{Act, NodeError};

/// Longest handle, in characters.
pub(crate) const MAX_HANDLE_CHARS: usize = 32;

/// Checks a handle: 1 to [`MAX_HANDLE_CHARS`] of `a-z`, `0-9`, `.`, `_` and `-`, starting
/// with a letter or a digit. Returns why not.
pub(crate) fn check_handle(handle: &str) -> Result<(), String> {
    let ok = !handle.is_empty()
        && handle.len() <= MAX_HANDLE_CHARS
        && handle.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && handle
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "a handle is 1 to {MAX_HANDLE_CHARS} of a-z, 0-9, `.`, `_` and `-`, starting with a \
             letter or digit; `{handle}` is not"
        ))
    }
}

fn invalid(detail: impl Into<String>) -> ServiceError {
    NodeError::Invalid(detail.into()).into()
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The avatar of an upload, decoded.
fn avatar_of(upload: &AvatarUpload) -> ServiceResult<Avatar> {
    let data = base64::engine::general_purpose::STANDARD
        .decode(upload.data.trim())
        .map_err(|e| invalid(format!("the avatar's data is not base64: {e}")))?;
    Ok(Avatar {
        mime: upload.mime.clone(),
        data,
    })
}

/// The view of a profile of `did`, with the local part of its handle on this node.
fn view_of(did: Did, p: Option<&Profile>, handle: Option<String>) -> ProfileView {
    ProfileView {
        did,
        name: p.map(|p| p.name.clone()),
        bio: p.and_then(|p| p.bio.clone()),
        avatar: p.and_then(|p| p.avatar.as_ref()).map(|a| AvatarView {
            mime: a.mime.clone(),
            size: a.data.len() as u64,
        }),
        handle,
    }
}

impl Service {
    /// Sets the caller's profile and/or claims its handle on this node. The profile is kept
    /// by the node and written, whole, into every space the caller is a member of at schema
    /// version 11 or later; the others are listed as skipped.
    pub async fn set_timite_profile(
        &self,
        caller: &Caller,
        req: SetTimiteProfile,
    ) -> ServiceResult<ProfileSet> {
        let me = caller.timite;
        let store = self.node().store().clone();
        if req.name.is_none() && req.handle.is_none() && req.bio.is_none() && req.avatar.is_none() {
            return Err(invalid("give a name (--name), a handle (--handle) or both"));
        }
        if let Some(h) = &req.handle {
            check_handle(h).map_err(invalid)?;
        }
        let profile = if req.name.is_some() || req.bio.is_some() || req.avatar.is_some() {
            let kept = store
                .profile(&me)
                .map_err(NodeError::from)?
                .map(|k| k.profile())
                .transpose()
                .map_err(NodeError::from)?;
            let name = match (&req.name, &kept) {
                (Some(n), _) => n.clone(),
                (None, Some(k)) => k.name.clone(),
                (None, None) => return Err(invalid("a first profile needs a name (--name)")),
            };
            // A field left out keeps the kept profile's; an empty bio clears it.
            let bio = match &req.bio {
                Some(b) if b.is_empty() => None,
                Some(b) => Some(b.clone()),
                None => kept.as_ref().and_then(|k| k.bio.clone()),
            };
            let avatar = match &req.avatar {
                Some(a) => Some(avatar_of(a)?),
                None => kept.and_then(|k| k.avatar),
            };
            let profile = Profile {
                name: name.trim().to_string(),
                bio,
                avatar,
                at: now_ms(),
            };
            profile.check().map_err(invalid)?;
            Some(profile)
        } else {
            None
        };
        if let Some(h) = &req.handle {
            if let Err(taken) = store.claim_handle(h, &me).map_err(NodeError::from)? {
                return Err(ServiceError::HandleTaken {
                    handle: h.clone(),
                    holder: taken.0,
                });
            }
        }
        if let Some(p) = &profile {
            store
                .put_profile(&me, &StoredProfile::of(p))
                .map_err(NodeError::from)?;
        }
        store.flush().await.map_err(NodeError::from)?;
        // The profile with the passport: its credential, before any space has it.
        let credential = match &profile {
            // Boxed: the signing future is deep, and callers' futures must stay shallow.
            Some(p) => Some(Box::pin(self.issue_profile_credential(me, p)).await?),
            None => None,
        };
        let (mut written, mut skipped) = (Vec::new(), Vec::new());
        if let Some(p) = &profile {
            for space in self.node().acting_as(me).spaces().await? {
                match self.write_profile(me, space.id, p).await {
                    Ok(true) => written.push(space.id),
                    Ok(false) => {}
                    Err(reason) => skipped.push(SkippedSpace {
                        space: space.id,
                        reason,
                    }),
                }
            }
        }
        Ok(ProfileSet {
            profile: self.timite_profile(caller, me).await?,
            written,
            skipped,
            credential,
        })
    }

    /// Writes `p` as `me`'s profile into `space`: `Ok(true)` if written, `Ok(false)` if `me`
    /// is not a member there, `Err` with why it was not written.
    async fn write_profile(&self, me: Did, space: SpaceId, p: &Profile) -> Result<bool, String> {
        let handle = self.node().acting_as(me);
        let (member, version) = handle
            .read_space(space, move |s| (s.is_member(&me), s.schema_version()))
            .await
            .map_err(|e| e.to_string())?;
        if !member {
            return Ok(false);
        }
        if version < schema::PEOPLE {
            return Err(format!(
                "at schema version {version}; profiles from version {} (`tim space migrate`)",
                schema::PEOPLE
            ));
        }
        handle
            .moderate(space, Act::SetMemberProfile(p.clone()))
            .await
            .map(|_| true)
            .map_err(|e| e.to_string())
    }

    /// After `me` joined `space`, or `space` reached schema version 11: writes the profile the
    /// node keeps of `me` into it, if any, if `me` is a member and the space is at version 11
    /// or later (a failure is logged: the join or migration stands).
    pub(crate) async fn write_kept_profile(&self, me: Did, space: SpaceId) {
        let kept = match self.node().store().profile(&me) {
            Ok(Some(k)) => k,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(%space, "the kept profile does not read: {e}");
                return;
            }
        };
        let written = match kept.profile() {
            Ok(p) => self.write_profile(me, space, &p).await,
            Err(e) => Err(e.to_string()),
        };
        if let Err(why) = written {
            tracing::info!(%space, %me, "kept profile not written: {why}");
        }
    }

    /// After `space` reached schema version 11 through this node: writes the kept profile of
    /// every hosted timite that is a member there ([`Service::write_kept_profile`]).
    pub(crate) async fn write_kept_profiles(&self, space: SpaceId) {
        let timites = match self.node().timites().await {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(%space, "cannot list the hosted timites: {e}");
                return;
            }
        };
        for t in timites {
            self.write_kept_profile(t.did, space).await;
        }
    }

    /// `did`'s profile as the caller sees it: the newest by `at` of those in the spaces the
    /// caller may read and the one this node keeps, if it hosts `did`; without either, the
    /// profile credential `did` presented when it joined one of those spaces. Not found if
    /// none.
    pub async fn timite_profile(&self, caller: &Caller, did: Did) -> ServiceResult<ProfileView> {
        let (profile, handle) = self.newest_profile(caller, did).await?;
        if profile.is_none() && handle.is_none() {
            return Err(NodeError::NotFound(format!(
                "no profile of {did} in any space you share with it"
            ))
            .into());
        }
        Ok(view_of(did, profile.as_ref(), handle))
    }

    /// The avatar of `did`'s profile as [`Service::timite_profile`] finds it: its media type
    /// and bytes.
    pub async fn timite_avatar(&self, caller: &Caller, did: Did) -> ServiceResult<Avatar> {
        self.newest_profile(caller, did)
            .await?
            .0
            .and_then(|p| p.avatar)
            .ok_or_else(|| NodeError::NotFound(format!("{did} shows no avatar to you")).into())
    }

    async fn newest_profile(
        &self,
        caller: &Caller,
        did: Did,
    ) -> ServiceResult<(Option<Profile>, Option<String>)> {
        let store = self.node().store();
        let mut newest = store
            .profile(&did)
            .map_err(NodeError::from)?
            .map(|k| k.profile())
            .transpose()
            .map_err(NodeError::from)?;
        let handle = store.handle_of(&did).map_err(NodeError::from)?;
        let reader = self.node().acting_as(caller.timite);
        for space in reader.spaces().await? {
            let Ok(Some(p)) = reader
                .read_space(space.id, move |s| s.member_profile(&did))
                .await
            else {
                continue;
            };
            if newest.as_ref().is_none_or(|n| p.at > n.at) {
                newest = Some(p);
            }
        }
        if newest.is_none() {
            newest = Box::pin(self.presented_profile(caller, did)).await?;
        }
        Ok((newest, handle))
    }

    /// The hosted timite that holds `handle` on this node, if any (anyone may ask: this is
    /// what WebFinger answers).
    pub fn resolve_handle(&self, handle: &str) -> ServiceResult<Option<Did>> {
        Ok(self
            .node()
            .store()
            .handle_holder(handle)
            .map_err(NodeError::from)?)
    }
}

/// The did:web of `handle` on the node reached at `host` (`host:port`): `did:web:` then the
/// host with `:` percent-encoded, then `:u:` and the handle (its document is at
/// `/u/{handle}/did.json`).
pub(crate) fn did_web(host: &str, handle: &str) -> String {
    format!("did:web:{}:u:{handle}", host.replace(':', "%3A"))
}

/// The WebFinger answer for `acct:{handle}@{host}`, whose holder is `did`; `base` is the
/// node's URL as the asker reached it.
pub(crate) fn webfinger(did: &Did, handle: &str, host: &str, base: &str) -> Jrd {
    Jrd {
        subject: did.to_string(),
        aliases: vec![
            did.to_string(),
            did_web(host, handle),
            format!("acct:{handle}@{host}"),
        ],
        links: vec![
            JrdLink {
                rel: "self".into(),
                media_type: Some("application/did+json".into()),
                href: format!("{base}/u/{handle}/did.json"),
            },
            JrdLink {
                rel: "http://webfinger.net/rel/profile-page".into(),
                media_type: Some("application/json".into()),
                href: format!("{base}/v1/profiles/{did}"),
            },
        ],
    }
}

/// The did:web document of `handle` on the node reached at `host`, held by `did`: its one
/// verification method is `did`'s Ed25519 key (`publicKeyMultibase` as in did:key), for
/// authentication and assertions, and it is also known as `did`.
pub(crate) fn did_web_document(did: &Did, handle: &str, host: &str) -> Value {
    let id = did_web(host, handle);
    let multibase = did
        .to_string()
        .strip_prefix("did:key:")
        .unwrap_or_default()
        .to_string();
    let vm = format!("{id}#{multibase}");
    json!({
        "@context": [
            "https://www.w3.org/ns/did/v1",
            "https://w3id.org/security/suites/ed25519-2020/v1"
        ],
        "id": id,
        "alsoKnownAs": [did.to_string()],
        "verificationMethod": [{
            "id": vm,
            "type": "Ed25519VerificationKey2020",
            "controller": id,
            "publicKeyMultibase": multibase,
        }],
        "authentication": [vm],
        "assertionMethod": [vm],
    })
}
