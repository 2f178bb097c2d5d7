//! Who issues badges (docs/abilities.md §13): a node hosting an admin (or the owner) of a
//! space whose `meta.badges` sets thresholds issues, as that timite, an ability credential to
//! each active provider whose record for an ability reaches its threshold, once per provider
//! and ability. It looks after every applied rating of a request, and when asked
//! ([`super::Handle::check_badges`]). A badge's id is derived from the space, the provider and
//! the ability ([`badge_id`]), so a badge recorded in `issued` is never due again (across
//! restarts: the record is in the document), and two admins' nodes that issue it at once
//! record the same credential, under one key.

use tim_crdt::attestation::badge_id;
use tim_crdt::{Role, Space};
use tim_protocol::{Did, SpaceId};
use tokio::sync::oneshot;
use tracing::{info, warn};

use super::{Actor, CredentialKind};

/// The level a badge states.
const BADGE_LEVEL: &str = "badge";

/// A hosted timite that is an admin or the owner of `space`, the owner first, then by DID.
fn issuer(space: &Space, timites: impl Iterator<Item = Did>) -> Option<Did> {
    timites
        .filter_map(|t| match space.role_of(&t) {
            Some(Role::Owner) => Some((0, t)),
            Some(Role::Admin) => Some((1, t)),
            _ => None,
        })
        .min_by_key(|(rank, t)| (*rank, t.to_string()))
        .map(|(_, t)| t)
}

impl Actor {
    /// Issues the badges due in `spaces` where a hosted timite may issue them; returns how
    /// many it started (each is recorded in the space at once, then signed and stored off
    /// the loop).
    pub(super) fn issue_badges(&mut self, spaces: impl IntoIterator<Item = SpaceId>) -> usize {
        let mut due = Vec::new();
        for id in spaces {
            let Some(space) = self.engine.space(&id).filter(|s| s.is_ready()) else {
                continue;
            };
            let Some(admin) = issuer(space, self.timites.keys().copied()) else {
                continue;
            };
            due.extend(
                space
                    .badges_due()
                    .into_iter()
                    .map(|(provider, ability)| (id, admin, provider, ability)),
            );
        }
        for (id, admin, provider, ability) in &due {
            info!(space = %id, %provider, %ability, "issuing a badge");
            let (reply, answer) = oneshot::channel();
            let kind = CredentialKind::Ability {
                ability: ability.clone(),
                level: BADGE_LEVEL.into(),
            };
            let cid = badge_id(id, provider, ability);
            self.issue_as(*admin, *id, *provider, kind, None, Some(cid), reply);
            let (id, provider) = (*id, *provider);
            tokio::spawn(async move {
                match answer.await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => warn!(space = %id, %provider, "badge not issued: {e}"),
                    Err(_) => warn!(space = %id, %provider, "badge not issued: the node stopped"),
                }
            });
        }
        due.len()
    }

    /// After an input: issues the badges that ratings applied in it may have made due.
    pub(super) fn after_ratings(&mut self) {
        if !self.engine.rated.is_empty() {
            let rated = std::mem::take(&mut self.engine.rated);
            self.issue_badges(rated);
        }
    }
}
