//! The timite's self-issued profile credential (docs/passports.md, "The profile credential"):
//! the node signs it with the timite's own key whenever the timite sets its profile, and keeps
//! it with the passport's credentials. One per timite: a newer one replaces the older, which
//! is dropped, not revoked (a self-issued credential has no status list).

use serde_json::Value;
use tim_did::credential;
use tim_did::profile_credential::{self, ProfileClaim};
use tim_protocol::Did;
use tracing::info;

use super::{now_ms, Actor, Reply};
use crate::profile_credentials::claim_of;
use crate::store::Store;
use crate::NodeError;

/// The profile credentials of `who` held in `store` (self-issued by `who`), newest first:
/// by `validFrom`, then by id (two issued in one second: the greater id counts as newer, the
/// same on every read).
pub(super) fn held_profiles(store: &Store, who: &Did) -> Result<Vec<Value>, NodeError> {
    let me = who.to_string();
    let mut held: Vec<Value> = store
        .credentials()?
        .iter()
        .filter_map(|b| serde_json::from_slice::<Value>(b).ok())
        .filter(|vc| {
            profile_credential::is_profile_credential(vc)
                && vc["issuer"].as_str() == Some(me.as_str())
                && vc["credentialSubject"]["id"].as_str() == Some(me.as_str())
        })
        .collect();
    let order = |vc: &Value| {
        (
            vc["validFrom"].as_str().unwrap_or_default().to_string(),
            vc["id"].as_str().unwrap_or_default().to_string(),
        )
    };
    held.sort_by_key(|vc| std::cmp::Reverse(order(vc)));
    Ok(held)
}

impl Actor {
    /// Issues `who`'s profile credential saying `claim`, signed off the loop with `who`'s key,
    /// then keeps it in place of the older one, flushed before the reply.
    ///
    /// When the credential held already says `claim`, that one is answered. Otherwise the
    /// credential kept is the one saying what the node keeps as `who`'s profile (set before
    /// the credential is asked for), whatever order signings finish in: one that no longer
    /// says it (a later `tim profile set` overtook it) is answered but not kept, and of several
    /// that say it the newest ([`held_profiles`]) stays.
    pub(super) fn issue_profile_credential(
        &mut self,
        who: Did,
        claim: ProfileClaim,
        reply: Reply<Value>,
    ) {
        let identity = match self.identity(&who) {
            Ok(i) => i,
            Err(e) => return drop(reply.send(Err(e))),
        };
        // The same profile again: the credential held already says it.
        match held_profiles(&self.store, &who) {
            Ok(held) => {
                if let Some(same) = held.into_iter().next().filter(|vc| {
                    profile_credential::profile_claim(vc).ok().as_ref() == Some(&claim)
                }) {
                    return drop(reply.send(Ok(same)));
                }
            }
            Err(e) => return drop(reply.send(Err(e))),
        }
        let id = credential::new_credential_id();
        let valid_from = credential::format_time((now_ms() / 1000) as i64);
        let store = self.store.clone();
        tokio::spawn(async move {
            let result = async {
                let vc = profile_credential::issue_profile(&identity, &id, &valid_from, &claim)
                    .await
                    .map_err(|e| NodeError::Invalid(e.to_string()))?;
                let json = serde_json::to_vec(&vc).map_err(|e| NodeError::Invalid(e.to_string()))?;
                let kept = match store.profile(&who)? {
                    Some(k) => Some(claim_of(&k.profile()?)),
                    None => None,
                };
                if kept.as_ref() != Some(&claim) {
                    info!(timite = %who, credential = %id, "profile credential overtaken by a newer profile: not kept");
                    return Ok(vc);
                }
                store.put_credential(&id, &json)?;
                let says_kept =
                    |vc: &Value| profile_credential::profile_claim(vc).ok().as_ref() == kept.as_ref();
                let mut stays = false;
                for held in held_profiles(&store, &who)? {
                    let Some(held_id) = held["id"].as_str() else {
                        continue;
                    };
                    if !stays && says_kept(&held) {
                        stays = true;
                    } else {
                        store.remove_credential(held_id)?;
                    }
                }
                store.flush().await?;
                info!(timite = %who, credential = %id, "profile credential issued");
                Ok(vc)
            }
            .await;
            let _ = reply.send(result);
        });
    }
}
