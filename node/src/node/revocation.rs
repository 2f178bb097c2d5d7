//! Who posts revocation notices (docs/passports.md, "Revocation that stops admitting", item
//! 3): a node hosting a space whose members were admitted by presentations fetches the HTTP(S)
//! status lists their credentials name (and, from schema version 6, those that declarations'
//! carried attestations name, docs/abilities.md §13), once per validity period, and, when a
//! list sets the bit of such a credential that no notice in the space revokes yet, posts the
//! list as a notice with one of its timites that is a member. The fetches run off the loop; a duplicate
//! notice (another node posted the same list) is harmless.

use std::collections::BTreeMap;
use std::time::Duration;

use tim_crdt::admission::AdmissionVerifier;
use tim_crdt::{Role, Space};
use tim_protocol::{Did, SpaceId};
use tracing::{info, warn};

use super::passport::{fetch_status_list, status_list_client, STATUS_LIST_VALIDITY};
use super::{Actor, Internal, Reply};
use crate::admission::SsiAdmission;
use crate::engine::Write;

/// How often the status lists of presented credentials are fetched again: once per list
/// validity period.
pub(crate) const REVOCATION_CHECK_INTERVAL: Duration = STATUS_LIST_VALIDITY;

/// Most status lists fetched in one check (the others wait for the next one).
const MAX_LISTS_PER_CHECK: usize = 256;

/// Fetched status lists that verified, each with the spaces whose members presented a
/// credential naming it.
pub(super) type FetchedLists = Vec<(Vec<SpaceId>, serde_json::Value)>;

/// A hosted timite that is a member (not banned) of `space`, the highest ranked first (a
/// notice into a space below schema version 5 needs one that may migrate it).
fn poster(space: &Space, timites: impl Iterator<Item = Did>) -> Option<Did> {
    timites
        .filter_map(|t| match space.role_of(&t) {
            Some(Role::Banned) | None => None,
            Some(r) => Some((space.role_rank(&r).unwrap_or(0), t)),
        })
        .max()
        .map(|(_, t)| t)
}

impl Actor {
    /// Fetches, off the loop, the HTTP(S) status lists named by credentials that members of
    /// hosted spaces presented, where one of this node's timites is a member to post a notice;
    /// `reply` (if any) gets the number of notices posted once the lists are back. One check
    /// runs at a time.
    pub(super) fn check_revocations(&mut self, reply: Option<Reply<usize>>) {
        if self.checking_revocations {
            if let Some(r) = reply {
                let _ = r.send(Ok(0));
            }
            return;
        }
        let mut wanted: BTreeMap<String, Vec<SpaceId>> = BTreeMap::new();
        for space in self.engine.spaces().filter(|s| s.is_ready()) {
            if poster(space, self.timites.keys().copied()).is_none() {
                continue;
            }
            let carried = space.carried_credentials();
            for (_, c) in space.presented_credentials().into_iter().chain(carried) {
                if let Some(s) = c.status {
                    let spaces = wanted.entry(s.list).or_default();
                    if !spaces.contains(&space.id()) {
                        spaces.push(space.id());
                    }
                }
            }
        }
        if wanted.is_empty() {
            if let Some(r) = reply {
                let _ = r.send(Ok(0));
            }
            return;
        }
        self.checking_revocations = true;
        let internal = self.internal.clone();
        tokio::spawn(async move {
            let mut fetched = Vec::new();
            match status_list_client() {
                Ok(http) => {
                    for (url, spaces) in wanted.into_iter().take(MAX_LISTS_PER_CHECK) {
                        match fetch_status_list(&http, &url).await {
                            Ok(list) => fetched.push((spaces, list)),
                            Err(e) => warn!("revocation check: {e}"),
                        }
                    }
                }
                Err(e) => warn!("revocation check: {e}"),
            }
            let _ = internal
                .send(Internal::StatusListsFetched(fetched, reply))
                .await;
        });
    }

    /// Posts, as a notice, every fetched list that revokes a credential presented in a space
    /// that no notice there revokes yet.
    pub(super) fn on_status_lists_fetched(
        &mut self,
        fetched: FetchedLists,
        reply: Option<Reply<usize>>,
    ) {
        self.checking_revocations = false;
        let mut posted = 0;
        for (spaces, list) in fetched {
            let json = list.to_string();
            // (~1 ms: the proof is checked once per list and period.)
            let Ok(verified) = SsiAdmission.verify_status_list(&json) else {
                warn!(list = %list["id"], "revocation check: the status list does not verify");
                continue;
            };
            for id in spaces {
                let Some(space) = self.engine.space(&id).filter(|s| s.revokes_anew(&verified))
                else {
                    continue;
                };
                let Some(who) = poster(space, self.timites.keys().copied()) else {
                    continue;
                };
                info!(space = %id, list = %verified.id, "posting a revocation notice");
                posted += 1;
                let write = Write::PostNotice {
                    space: id,
                    list: json.clone(),
                };
                self.write(
                    who,
                    write,
                    Box::new(move |r| {
                        if let Err(e) = r {
                            warn!(space = %id, "revocation notice not posted: {e}");
                        }
                    }),
                );
            }
        }
        if let Some(r) = reply {
            let _ = r.send(Ok(posted));
        }
    }
}
