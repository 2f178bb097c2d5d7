//! The in-process part of `tim testnet bench` ([`tim_testnet::micro::InProcess`]), with no
//! node, socket or disk involved. It needs the CRDT, Automerge, Ed25519 and credential code,
//! which the testnet crate does not link, so it lives with the binary.
//!
//! * [`crypto`] (B8): how many times per second one core does each cryptographic step a node
//!   takes on the way in: an Ed25519 signature and a strict verification, resolving a did:key,
//!   decoding and verifying a real change envelope, and verifying a W3C credential. Each rate
//!   comes from running the operation in a loop for a fifth of the budget and counting, the
//!   style of `crdt/benches/authorize.rs` and `did/benches/credentials.rs`.
//! * [`automerge_baseline`] (B5): the cost of the same timeline in bare Automerge, with no
//!   signatures, storage or network. Tim's figures divided by these give its overhead.
//! * [`signed_space`]: the signed space that B3i, B4 and B6 import into real nodes.

use std::hint::black_box;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context as _};
use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, Automerge, Change, ObjType, ScalarValue, ROOT};
use ed25519_dalek::{Signer, SigningKey};
use futures::future::BoxFuture;
use tim_crdt::Space;
use tim_did::credential::{self, Claim, CredentialRequest, StatusEntry};
use tim_did::Identity;
use tim_protocol::{Did, Envelope, SpaceId};
use tim_testnet::micro::{AutomergeBaseline, Crypto, InProcess, SIGNED_MESSAGE_BYTES};

/// Number of operations [`crypto`] measures; each gets an equal share of the budget.
const CRYPTO_OPS: u32 = 5;

/// The bench's in-process figures, made with this workspace's crates.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Micro;

impl InProcess for Micro {
    fn signed_space(&self, messages: usize) -> anyhow::Result<(SpaceId, Vec<Envelope>)> {
        signed_space(messages)
    }

    fn automerge_baseline(&self, messages: usize) -> anyhow::Result<AutomergeBaseline> {
        automerge_baseline(messages)
    }

    fn crypto(&self, budget: Duration) -> BoxFuture<'static, anyhow::Result<Crypto>> {
        Box::pin(crypto(budget))
    }
}

/// A space of `messages` messages by 4 authors, every change signed, built in process.
fn signed_space(messages: usize) -> anyhow::Result<(SpaceId, Vec<Envelope>)> {
    let keys: Vec<tim_crdt::Writer> = (1..=4u8)
        .map(|i| tim_crdt::Writer::new(SigningKey::from_bytes(&[i; 32]), [i; 16]))
        .collect();
    let mut at = 1_700_000_000_000u64;
    let (mut space, genesis) = Space::create(&keys[0], "bench", "late joiners", at)?;
    let mut envelopes = vec![genesis.envelope];
    for k in &keys[1..] {
        at += 1;
        envelopes.push(space.join(k, at)?.envelope);
    }
    for i in 0..messages {
        at += 1;
        let (applied, _) = space.post(&keys[i % keys.len()], &format!("message {i}"), at)?;
        envelopes.push(applied.envelope);
    }
    Ok((space.id(), envelopes))
}

/// Measures [`Crypto`] within about `budget` (a fifth of it per operation, plus the setup:
/// one space, one post, one issued credential).
///
/// The work runs on a blocking thread, so it does not stall the caller's runtime; call it
/// from within a Tokio runtime.
async fn crypto(budget: Duration) -> anyhow::Result<Crypto> {
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || crypto_blocking(budget, &handle))
        .await
        .context("the crypto measurement panicked")?
}

fn crypto_blocking(budget: Duration, handle: &tokio::runtime::Handle) -> anyhow::Result<Crypto> {
    let slot = budget / CRYPTO_OPS;

    let key = SigningKey::from_bytes(&[1; 32]);
    let verifying = key.verifying_key();
    let message = [0x5a_u8; SIGNED_MESSAGE_BYTES];
    let sign_per_s = rate(slot, || {
        black_box(key.sign(black_box(&message)));
        Ok(())
    })?;
    let signature = key.sign(&message);
    let verify_strict_per_s = rate(slot, || {
        verifying
            .verify_strict(black_box(&message), &signature)
            .context("the signature does not verify")
    })?;

    let did_string = Did::from_key(&verifying).to_string();
    let did_resolve_per_s = rate(slot, || {
        let did: Did = black_box(did_string.as_str()).parse()?;
        black_box(did.verifying_key());
        Ok(())
    })?;

    let envelope = posted_envelope(&key)?.encode();
    let envelope_verify_per_s = rate(slot, || {
        let env = Envelope::decode(black_box(&envelope))?;
        black_box(tim_crdt::verify_envelope(&env)?);
        Ok(())
    })?;

    let credential_verify_per_s = handle.block_on(async {
        let issuer = Identity::from_seed([2; 32]);
        let vc = credential::issue(&issuer, &credential_request()).await?;
        rate_async(slot, || credential::verify_proof(&vc)).await
    })?;

    Ok(Crypto {
        sign_per_s,
        verify_strict_per_s,
        did_resolve_per_s,
        envelope_verify_per_s,
        credential_verify_per_s,
        envelope_bytes: envelope.len(),
        slot_ms: slot.as_secs_f64() * 1e3,
    })
}

/// The envelope of a real posted message: a fresh space by `key`, then one post.
fn posted_envelope(key: &SigningKey) -> anyhow::Result<Envelope> {
    let writer = tim_crdt::Writer::new(key.clone(), [1; 16]);
    let (mut space, _) = tim_crdt::Space::create(&writer, "bench", "micro-benchmarks", 1_000)?;
    let (applied, _) = space.post(&writer, "message 1: a typical short post", 2_000)?;
    Ok(applied.envelope)
}

/// A membership credential, as a space issues on admission.
fn credential_request() -> CredentialRequest {
    CredentialRequest {
        id: "urn:uuid:0f6b8a52-3d47-4c1e-9a55-2b7c1e0d9f10".into(),
        space: [7; 32].into(),
        subject: Identity::from_seed([3; 32]).did(),
        claim: Claim::Membership {
            role: "member".into(),
            since: "2026-11-24T10:00:00Z".into(),
        },
        valid_from: "2026-11-24T10:00:00Z".into(),
        valid_until: Some("2027-11-24T10:00:00Z".into()),
        status: Some(StatusEntry::in_space(&[7; 32].into(), 1)),
    }
}

/// Runs `op` for at least `slot` (and at least once); returns operations per second.
fn rate(slot: Duration, mut op: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<f64> {
    let start = Instant::now();
    let mut n: u64 = 0;
    loop {
        op()?;
        n += 1;
        let elapsed = start.elapsed();
        if elapsed >= slot {
            return Ok(n as f64 / elapsed.as_secs_f64());
        }
    }
}

/// [`rate`] for an asynchronous operation.
async fn rate_async<F, Fut, E>(slot: Duration, mut op: F) -> anyhow::Result<f64>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), E>>,
    E: std::error::Error + Send + Sync + 'static,
{
    let start = Instant::now();
    let mut n: u64 = 0;
    loop {
        op().await?;
        n += 1;
        let elapsed = start.elapsed();
        if elapsed >= slot {
            return Ok(n as f64 / elapsed.as_secs_f64());
        }
    }
}

/// Builds the timeline of a space in bare Automerge, with no signing, storage or network, and
/// measures it: one actor creates a document with a root list `timeline`, then appends
/// `messages` maps `{author: did:key string, text: "message i", at: timestamp}`, each in its own
/// transaction (as Tim makes one change per post). The actor id is a 32-byte public key, as in
/// Tim, so the changes have the same shape and size as Tim's apart from the signature.
///
/// CPU-bound (about a second for 10k messages in release): call it from a blocking thread in
/// async code.
fn automerge_baseline(messages: usize) -> anyhow::Result<AutomergeBaseline> {
    let key = SigningKey::from_bytes(&[1; 32]);
    let author = Did::from_key(&key.verifying_key()).to_string();
    let commit = |at: i64| CommitOptions::default().with_time(at);

    let start = Instant::now();
    let mut doc = Automerge::new();
    doc.set_actor(ActorId::from(key.verifying_key().as_bytes().as_slice()));
    let mut tx = doc.transaction();
    let timeline = tx.put_object(ROOT, "timeline", ObjType::List)?;
    tx.commit_with(commit(0));
    for i in 0..messages {
        let at = 1_000 + i as i64;
        let mut tx = doc.transaction();
        let msg = tx.insert_object(&timeline, i, ObjType::Map)?;
        tx.put(&msg, "author", author.as_str())?;
        tx.put(&msg, "text", format!("message {i}"))?;
        tx.put(&msg, "at", ScalarValue::Timestamp(at))?;
        tx.commit_with(commit(at));
    }
    let build_ms = ms(start);

    let changes = doc.get_changes(&[]);
    let raw: Vec<Vec<u8>> = changes.iter().map(|c| c.raw_bytes().to_vec()).collect();
    let change_bytes = raw.iter().map(Vec::len).sum();
    let saved = doc.save();

    let start = Instant::now();
    let parsed = raw
        .into_iter()
        .map(Change::from_bytes)
        .collect::<Result<Vec<_>, _>>()
        .context("a change does not parse back")?;
    let decode_ms = ms(start);

    let start = Instant::now();
    let mut joiner = Automerge::new();
    joiner.apply_changes(parsed)?;
    let apply_ms = ms(start);

    let start = Instant::now();
    let loaded = Automerge::load(&saved)?;
    let load_ms = ms(start);

    ensure!(
        joiner.get_heads() == doc.get_heads() && loaded.get_heads() == doc.get_heads(),
        "the copies do not have the document's heads"
    );
    Ok(AutomergeBaseline {
        messages,
        changes: changes.len(),
        build_ms,
        change_bytes,
        save_bytes: saved.len(),
        decode_ms,
        apply_ms,
        load_ms,
    })
}

/// Milliseconds since `start`.
fn ms(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn crypto_rates_are_positive() {
        let c = crypto(Duration::from_millis(100)).await.unwrap();
        for (name, r) in [
            ("sign", c.sign_per_s),
            ("verify", c.verify_strict_per_s),
            ("did", c.did_resolve_per_s),
            ("envelope", c.envelope_verify_per_s),
            ("credential", c.credential_verify_per_s),
        ] {
            assert!(r.is_finite() && r > 0.0, "{name}: {r}");
        }
        // One message is a few hundred bytes with its 64-byte signature.
        assert!((100..2_000).contains(&c.envelope_bytes), "{c:?}");
        assert!((c.slot_ms - 20.0).abs() < 1e-6);
        serde_json::to_string(&c).unwrap();
    }

    #[test]
    fn baseline_of_a_small_timeline() {
        let b = automerge_baseline(200).unwrap();
        assert_eq!((b.messages, b.changes), (200, 201));
        for t in [b.build_ms, b.decode_ms, b.apply_ms, b.load_ms] {
            assert!(t.is_finite() && t >= 0.0, "{b:?}");
        }
        // Each change carries the did:key string; the saved document compresses across them.
        assert!(b.change_bytes > 200 * 48, "{b:?}");
        assert!(b.change_bytes > b.save_bytes / 10, "{b:?}");
        assert!(b.save_bytes < b.change_bytes, "{b:?}");
        serde_json::to_string(&b).unwrap();
    }

    #[test]
    fn a_signed_space_prefix_is_a_space_of_its_own() {
        let (id, envelopes) = signed_space(10).unwrap();
        assert_eq!(envelopes.len(), 14);
        let mut copy = Space::empty(id);
        let batch = copy.ingest_batch(envelopes[..8].to_vec());
        assert!(batch.rejected.is_empty());
        assert_eq!(copy.timeline().len(), 4);
    }

    #[test]
    fn baseline_of_an_empty_timeline() {
        let b = automerge_baseline(0).unwrap();
        assert_eq!(b.changes, 1);
        assert!(b.change_bytes > 0 && b.save_bytes > 0);
    }
}
