//! The engine's proposal duty (docs/governance.md "Proposals and votes"): a proposal that is
//! decided but open gets closed, by a hosted member of its space, with its action when it
//! passed.
//!
//! After changes are applied to a space that may decide a proposal (a vote, a role change, a
//! join or a removal, which move the electorate), the engine closes each proposal decided now
//! as a hosted member (any but a banned one), in a change of its own, stored and published
//! like any local write. So a hosted timite's deciding vote is followed by its close, and two
//! concurrent last votes from two nodes, neither deciding alone, are closed by whichever node
//! sees them merged. A proposal that a remote vote decided at that vote's own heads is left to
//! the voter's node, which closes it as its own vote's follow-up, so that not every node
//! closes it too; if that close has not arrived [`CLOSE_GRACE_MS`] later (the voter's node
//! stopped before closing, or its close was lost), this node closes it. A close made twice
//! concurrently is harmless (docs/governance.md).

use std::collections::BTreeMap;

use tim_crdt::{Applied, Effect, Role};
use tim_protocol::{Did, SpaceId};
use tracing::{info, warn};

use super::Engine;
use crate::store::SpaceStore;

/// How long a node leaves a proposal a remote vote decided to that voter's node before it
/// closes the proposal itself.
pub const CLOSE_GRACE_MS: u64 = 20_000;

/// Whether an effect may decide a proposal.
fn moves_proposals(e: &Effect) -> bool {
    matches!(
        e,
        Effect::Voted { .. }
            | Effect::Proposed { .. }
            | Effect::RoleChanged { .. }
            | Effect::Joined { .. }
            | Effect::Removed { .. }
    )
}

impl<S: SpaceStore> Engine<S> {
    /// Marks a space for the proposal duty when applied changes may decide a proposal, and
    /// notes the proposals a remote vote decided at its own heads.
    pub(super) fn proposals_touch(&mut self, id: SpaceId, applied: &[Applied]) {
        if !applied.iter().flat_map(|a| &a.effects).any(moves_proposals) {
            return;
        }
        self.proposals_dirty.insert(id);
        let Some(space) = self.spaces.get(&id) else {
            return;
        };
        for a in applied {
            if self.writers.contains_key(&a.envelope.author) {
                continue;
            }
            for e in &a.effects {
                if let Effect::Voted { id: pid, .. } = e {
                    if space.decided_at(pid, std::slice::from_ref(&a.hash)) {
                        self.proposals_left
                            .entry((id, pid.clone()))
                            .or_insert(self.now + CLOSE_GRACE_MS);
                    }
                }
            }
        }
    }

    /// Closes the decided proposals of the spaces marked, as a hosted member, and those left
    /// to a voter's node whose close has not come within [`CLOSE_GRACE_MS`].
    pub(super) fn proposal_duties(&mut self) {
        let now = self.now;
        let mut dirty = std::mem::take(&mut self.proposals_dirty);
        // What waits past its grace is due here; the rest keeps waiting.
        let (overdue, waiting): (BTreeMap<_, _>, BTreeMap<_, _>) =
            std::mem::take(&mut self.proposals_left)
                .into_iter()
                .partition(|(_, at)| *at <= now);
        dirty.extend(overdue.keys().map(|(id, _)| *id));
        self.proposals_left = waiting;
        for id in dirty {
            let Some(space) = self.spaces.get(&id).filter(|s| s.is_ready()) else {
                continue;
            };
            let closer: Option<Did> = self
                .writers
                .keys()
                .copied()
                .find(|d| space.role_of(d).is_some_and(|r| r != Role::Banned));
            let Some(closer) = closer else {
                continue;
            };
            let due: Vec<String> = space
                .decided_open()
                .into_iter()
                .filter(|pid| !self.proposals_left.contains_key(&(id, pid.clone())))
                .collect();
            for pid in due {
                self.close_decided(id, closer, &pid);
            }
        }
    }

    /// Closes proposal `pid` as `who`; a refusal is logged (a member closes it by hand).
    fn close_decided(&mut self, id: SpaceId, who: Did, pid: &str) {
        let (now, writer) = (self.now, self.writer(&who));
        let closed = writer.and_then(|w| {
            let space = self.ready_space_mut(id)?;
            Ok(space.close_proposal(&w, pid, false, now)?)
        });
        match closed.and_then(|(applied, outcome)| {
            self.write_own(id, applied)?;
            Ok(outcome)
        }) {
            Ok(outcome) => {
                info!(space = %id, proposal = pid, outcome = outcome.as_str(), "proposal closed")
            }
            Err(e) => warn!(space = %id, proposal = pid, "cannot close a decided proposal: {e}"),
        }
    }
}
