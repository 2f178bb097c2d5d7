//! The engine's chain duties (docs/abilities.md §12): a chain's author's node asks each step
//! when it is due.
//!
//! After changes are applied to a space that may move a chain (a chain made, a request's
//! result, a declaration: a step refused for want of a provider is asked again when one
//! declares), and for every space at start, the engine asks, as each hosted timite, the step
//! due of each chain that timite made ([`tim_crdt::Space::chain_steps_due`]): a request
//! through the same write as `invoke`, stored and published like any local write. It never
//! asks a step twice: a step is due only while the document holds no request for it, and the
//! request is in the document (and on disk before it leaves the node) once asked, so a
//! restart finds it there.

use std::collections::BTreeSet;

use tim_crdt::abilities::Step;
use tim_crdt::{Applied, Effect};
use tim_protocol::{Did, SpaceId};
use tracing::{info, warn};

use super::Engine;
use crate::store::SpaceStore;

/// Whether an effect may make a chain's step due.
fn moves_chains(e: &Effect) -> bool {
    matches!(
        e,
        Effect::Chained { .. }
            | Effect::RequestStep {
                step: Step::Result,
                ..
            }
            | Effect::AbilityDeclared { .. }
            | Effect::Migrated { .. }
    )
}

impl<S: SpaceStore> Engine<S> {
    /// Marks a space for the chain duties when applied changes may move a chain, or always
    /// when `applied` is empty (a space just loaded).
    pub(super) fn chains_touch(&mut self, id: SpaceId, applied: &[Applied]) {
        if applied.is_empty() || applied.iter().flat_map(|a| &a.effects).any(moves_chains) {
            self.chains_dirty.insert(id);
        }
    }

    /// Asks the steps due of the hosted timites' chains in the spaces marked.
    pub(super) fn chain_duties(&mut self) {
        let dirty = std::mem::take(&mut self.chains_dirty);
        for id in dirty {
            let Some(space) = self.spaces.get(&id).filter(|s| s.is_ready()) else {
                continue;
            };
            let authors: BTreeSet<Did> = self.writers.keys().copied().collect();
            let due: Vec<(Did, String)> = authors
                .into_iter()
                .flat_map(|who| {
                    space
                        .chain_steps_due(&who)
                        .into_iter()
                        .map(move |n| (who, n.chain))
                })
                .collect();
            for (who, chain) in due {
                self.ask_step(id, who, &chain);
            }
        }
    }

    /// Asks the step due of `who`'s chain `chain`; a refusal is logged (the chain waits for
    /// a change that makes the step possible, or for its author to cancel it).
    fn ask_step(&mut self, id: SpaceId, who: Did, chain: &str) {
        let (now, writer) = (self.now, self.writer(&who));
        let asked = writer.and_then(|w| {
            let space = self.ready_space_mut(id)?;
            Ok(space.request_chain_step(&w, chain, now)?)
        });
        match asked.and_then(|(applied, request)| {
            self.write_own(id, applied)?;
            Ok(request)
        }) {
            Ok(request) => info!(space = %id, %chain, %request, "chain step asked"),
            Err(e) => warn!(space = %id, %chain, "cannot ask the chain's next step: {e}"),
        }
    }
}
