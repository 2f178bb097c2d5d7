//! The profile with the passport (docs/passports.md, "The profile credential"): the use cases
//! of [`Service`] that issue a timite's self-issued profile credential when it sets its
//! profile, and that show a profile credential presented in a join where no profile of the
//! timite is in a space.

use tim_crdt::profiles::Profile;
use tim_did::credential::{credentials_in, parse_rfc3339};
use tim_did::profile_credential::{
    is_profile_credential, verify_profile, AvatarDigest, ProfileClaim,
};
use tim_protocol::{CredentialId, Did};

use crate::service::{Caller, Service, ServiceResult};
use crate::NodeError;

/// What `p`'s profile credential says: its name, bio, and its avatar by digest.
pub(crate) fn claim_of(p: &Profile) -> ProfileClaim {
    ProfileClaim {
        name: p.name.clone(),
        bio: p.bio.clone(),
        avatar: p
            .avatar
            .as_ref()
            .map(|a| AvatarDigest::of(&a.mime, &a.data)),
    }
}

impl Service {
    /// Issues `me`'s profile credential for profile `p` (signed with `me`'s key, kept in its
    /// passport in place of the older one); returns its id.
    pub(crate) async fn issue_profile_credential(
        &self,
        me: Did,
        p: &Profile,
    ) -> ServiceResult<CredentialId> {
        let vc = self
            .node()
            .acting_as(me)
            .issue_profile_credential(claim_of(p))
            .await?;
        let id = vc["id"].as_str().unwrap_or_default();
        Ok(id
            .parse()
            .map_err(|e| NodeError::Invalid(format!("{id}: {e}")))?)
    }

    /// The profile `did` presented with its passport when it joined a space the caller may
    /// read: of the profile credentials in its join presentations that verify (self-issued by
    /// `did`, proof by its key) and whose fields meet the profile rules, the newest by
    /// `validFrom`. Its avatar is not shown: the credential carries only its digest.
    pub(crate) async fn presented_profile(
        &self,
        caller: &Caller,
        did: Did,
    ) -> ServiceResult<Option<Profile>> {
        let reader = self.node().acting_as(caller.timite);
        let mut newest: Option<Profile> = None;
        for space in reader.spaces().await? {
            let Ok(Some(json)) = reader
                .read_space(space.id, move |s| s.presentation_of(&did))
                .await
            else {
                continue;
            };
            let Ok(vp) = serde_json::from_str::<serde_json::Value>(&json) else {
                continue;
            };
            for vc in credentials_in(&vp)
                .into_iter()
                .filter(is_profile_credential)
            {
                let claim = match verify_profile(&vc, &did).await {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::info!(space = %space.id, %did, "presented profile not shown: {e}");
                        continue;
                    }
                };
                let at = vc["validFrom"]
                    .as_str()
                    .and_then(parse_rfc3339)
                    .map_or(0, |s| s.max(0) as u64 * 1000);
                let profile = Profile {
                    name: claim.name,
                    bio: claim.bio,
                    avatar: None,
                    at,
                };
                if profile.check().is_ok() && newest.as_ref().is_none_or(|n| at > n.at) {
                    newest = Some(profile);
                }
            }
        }
        Ok(newest)
    }
}
