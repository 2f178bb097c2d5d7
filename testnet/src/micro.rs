//! In-process figures for `tim testnet bench`, with no node, socket or disk involved: their
//! types, and the [`InProcess`] trait through which the bench gets them.
//!
//! * [`Crypto`] (B8): how many times per second one core does each cryptographic step a node
//!   takes on the way in.
//! * [`AutomergeBaseline`] (B5): the cost of the same timeline in bare Automerge, with no
//!   signatures, storage or network. Tim's figures divided by these give its overhead.
//! * The signed space that B3i, B4 and B6 import into real nodes.
//!
//! Making them takes the CRDT, Automerge, Ed25519 and credential code, which this crate (real
//! processes driven through the public API) does not link: the `tim` binary implements
//! [`InProcess`] and hands it to [`crate::bench::run`].

use std::time::Duration;

use futures::future::BoxFuture;
use serde::Serialize;
use tim_protocol::{Envelope, SpaceId};

/// Length of the message signed and verified by the Ed25519 rates.
pub const SIGNED_MESSAGE_BYTES: usize = 100;

/// What the bench measures or builds in process, with code this crate does not link.
pub trait InProcess: Send + Sync {
    /// A space of `messages` messages by 4 authors, every change signed, built in process: its
    /// id and its envelopes in order (genesis, the 3 other authors joining, then the
    /// messages), so that the first `m + 4` envelopes are a space of `m` messages of its own.
    ///
    /// CPU-bound: the bench calls it on a blocking thread.
    fn signed_space(&self, messages: usize) -> anyhow::Result<(SpaceId, Vec<Envelope>)>;

    /// B5: the timeline of `messages` messages in bare Automerge, measured.
    ///
    /// CPU-bound: the bench calls it on a blocking thread.
    fn automerge_baseline(&self, messages: usize) -> anyhow::Result<AutomergeBaseline>;

    /// B8: [`Crypto`] measured within about `budget`. Polled within a Tokio runtime; the work
    /// should not stall it (run it on a blocking thread).
    fn crypto(&self, budget: Duration) -> BoxFuture<'static, anyhow::Result<Crypto>>;
}

/// Operations per second of one core for each cryptographic step (see [`InProcess::crypto`]).
#[derive(Debug, Clone, Serialize)]
pub struct Crypto {
    /// Ed25519 signatures of a [`SIGNED_MESSAGE_BYTES`]-byte message.
    pub sign_per_s: f64,
    /// Strict Ed25519 verifications (`verify_strict`) of that signature.
    pub verify_strict_per_s: f64,
    /// did:key resolutions: parsing the `did:key:z6Mk…` string and getting its public key.
    pub did_resolve_per_s: f64,
    /// Envelopes decoded from their CBOR bytes and verified as a node does on receipt: the
    /// Automerge change decoded and hashed, the signature checked (strict) over space id and
    /// hash, the change's actor matched with the author.
    pub envelope_verify_per_s: f64,
    /// W3C credentials (Data Integrity, `eddsa-rdfc-2022`) whose proof is verified offline.
    pub credential_verify_per_s: f64,
    /// Size of the measured envelope (one posted message), in bytes.
    pub envelope_bytes: usize,
    /// Time given to each rate, in milliseconds.
    pub slot_ms: f64,
}

/// A space timeline's cost in bare Automerge (see [`InProcess::automerge_baseline`]).
#[derive(Debug, Clone, Serialize)]
pub struct AutomergeBaseline {
    /// Messages appended.
    pub messages: usize,
    /// Changes in the document: one creating the timeline, then one per message.
    pub changes: usize,
    /// Time to make every change (one transaction each), in milliseconds.
    pub build_ms: f64,
    /// Sum of the raw bytes of every change: what a peer receiving each change on its own is
    /// sent, before any envelope or signature.
    pub change_bytes: usize,
    /// Size of the whole document saved (`Automerge::save`, compressed columns).
    pub save_bytes: usize,
    /// Time to parse every change from its raw bytes, in milliseconds.
    pub decode_ms: f64,
    /// Time for a fresh document to apply every (parsed) change in one `apply_changes` call, in
    /// milliseconds: the floor for a late joiner receiving everything.
    pub apply_ms: f64,
    /// Time to load the saved document, in milliseconds: the floor for a restart.
    pub load_ms: f64,
}
