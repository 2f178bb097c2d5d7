//! Tim's concurrency rule (a) of docs/privacy.md §3.3: who rotates after concurrent control
//! messages. (Rule (b) lives in [`Group`](super::Group), which knows where each secret came
//! from.)

use std::collections::BTreeSet;

use tim_protocol::Did;

/// Rule (a): after processing control messages of which at least two are concurrent (neither
/// in the other's causal past, which the engine knows from the change DAG), or one that
/// retired secrets by rule (b), exactly one member issues an `update` so that every current
/// member gets a secret the others hold and no removed member has. That member is the
/// smallest (by key bytes) of `authors` still in `members`, or, if none of them is, the
/// smallest member. Every member computes the same answer from the same causal history;
/// a second update is harmless. `None` when `members` is empty.
pub fn update_issuer(members: &BTreeSet<Did>, authors: &[Did]) -> Option<Did> {
    authors
        .iter()
        .filter(|a| members.contains(a))
        .min_by_key(|a| a.public_bytes())
        .or_else(|| members.iter().min_by_key(|m| m.public_bytes()))
        .copied()
}
