//! Space behaviour across several in-process replicas: convergence through the sync protocol,
//! and refusal of every kind of bad change.

use automerge::transaction::Transactable;
use automerge::{ObjType, ReadDoc, ROOT};
use tim_crdt::test_utils::{forge, root, sync_pair};
use tim_crdt::Writer;
use tim_crdt::{Ingested, Rejection, Space};
use tim_protocol::SpaceId;

fn key(seed: u8) -> Writer {
    tim_crdt::test_utils::writer(seed)
}

#[test]
fn three_replicas_converge_on_identical_heads_and_timelines() {
    let (alice, bob, carol) = (key(1), key(2), key(3));
    let (mut a, genesis) = Space::create(&alice, "garden", "grow things", 1_000).unwrap();
    let mut b = Space::empty(a.id());
    let mut c = Space::empty(a.id());
    assert!(matches!(
        b.ingest(genesis.envelope.clone()).unwrap(),
        Ingested::Applied { .. }
    ));
    sync_pair(&mut a, &mut c);
    b.join(&bob, 2_000).unwrap();
    c.join(&carol, 2_001).unwrap();
    a.post(&alice, "hello from alice", 3_000).unwrap();
    b.post(&bob, "hello from bob", 3_001).unwrap();
    c.post(&carol, "hello from carol", 3_002).unwrap();
    sync_pair(&mut a, &mut b);
    sync_pair(&mut b, &mut c);
    sync_pair(&mut a, &mut c);
    assert_eq!(a.heads(), b.heads());
    assert_eq!(b.heads(), c.heads());
    assert_eq!(a.timeline(), c.timeline());
    assert_eq!(a.timeline().len(), 3);
    assert_eq!(a.members().len(), 3);
    assert_eq!(a.member_count(), 3);
    for m in a.members() {
        assert_eq!(a.member(&m.did), Some(m));
    }
    let stranger = tim_protocol::Did::from_key(&key(9).verifying_key());
    assert_eq!(a.member(&stranger), None);
    assert_eq!(a.meta().unwrap().name, "garden");
    // A second sync finds nothing to do in at most one round trip.
    assert!(sync_pair(&mut a, &mut b) <= 2);
}

/// A space named `name` by `key(1)`, who posted `messages` messages into it.
fn with_posts(name: &str, messages: u64) -> (Writer, Space) {
    let alice = key(1);
    let (mut a, _) = Space::create(&alice, name, "", 0).unwrap();
    for i in 0..messages {
        a.post(&alice, &format!("message {i}"), i).unwrap();
    }
    (alice, a)
}

#[test]
fn late_joiner_catches_up_with_a_thousand_messages() {
    let (_, mut a) = with_posts("big", 1000);
    let mut late = Space::empty(a.id());
    let rounds = sync_pair(&mut late, &mut a);
    assert_eq!(late.heads(), a.heads());
    assert_eq!(late.message_count(), 1000);
    assert_eq!(late.timeline()[999].text, "message 999");
    assert!(rounds <= 4, "took {rounds} rounds");
    // Reloading from envelopes gives the same state.
    let reloaded = Space::load(a.id(), None, a.envelopes()).unwrap();
    assert_eq!(reloaded.heads(), a.heads());
    let from_snapshot = Space::load(a.id(), Some(&a.save()), a.envelopes()).unwrap();
    assert_eq!(from_snapshot.timeline(), a.timeline());
    // As the node loads: envelopes keyed by hash, a snapshot of the first 500 messages.
    let envelopes = a.envelopes_in_order();
    let keyed = |envs: &[tim_protocol::Envelope]| -> Vec<_> {
        envs.iter()
            .map(|e| (tim_crdt::verify_envelope(e).unwrap(), e.clone()))
            .collect()
    };
    let half = Space::load(a.id(), None, envelopes[..501].iter().cloned()).unwrap();
    let stored = Space::load_stored(a.id(), Some(&half.save()), keyed(&envelopes))
        .unwrap()
        .space;
    assert_eq!(stored.heads(), a.heads());
    assert_eq!(stored.timeline(), a.timeline());
    assert_eq!(stored.change_count(), a.change_count());
    // A store whose keys do not match its changes is refused as corrupt, not half loaded.
    let mut misfiled = keyed(&envelopes);
    misfiled[900].0 = misfiled[100].0;
    let err = Space::load_stored(a.id(), Some(&half.save()), misfiled).unwrap_err();
    assert!(err.to_string().contains("filed under the hash"), "{err}");
    let mut misfiled = keyed(&envelopes);
    misfiled[900].0 = misfiled[901].0;
    misfiled.remove(901);
    let err = Space::load_stored(a.id(), Some(&half.save()), misfiled).unwrap_err();
    assert!(
        err.to_string().contains("filed under another hash"),
        "{err}"
    );
    // A store missing a change the snapshot lacks still loads (a node always starts from
    // its own store): what builds on the gap waits for sync to bring it, nothing is refused.
    let mut gap = keyed(&envelopes);
    let (lost, _) = gap.remove(900);
    let restored = Space::load_stored(a.id(), Some(&half.save()), gap).unwrap();
    assert!(restored.refused.is_empty(), "{:?}", restored.refused);
    assert_eq!(restored.waiting.len(), 100);
    assert_eq!(restored.space.change_count(), 900);
    assert_eq!(restored.space.pending_count(), 100);
    let mut restored = restored.space;
    let lost = a.envelope(&lost).unwrap();
    assert!(matches!(
        restored.ingest(lost).unwrap(),
        Ingested::Applied { applied, .. } if applied.len() == 101
    ));
    assert_eq!(restored.heads(), a.heads());
    // In causal order, one by one, every change applies at once: none has to wait.
    let mut replay = Space::empty(a.id());
    for env in a.envelopes_in_order() {
        assert!(matches!(
            replay.ingest(env).unwrap(),
            Ingested::Applied { .. }
        ));
    }
    assert_eq!(replay.heads(), a.heads());
}

#[test]
fn out_of_order_changes_wait_for_their_dependencies() {
    let alice = key(1);
    let (mut a, genesis) = Space::create(&alice, "s", "", 0).unwrap();
    let (first, _) = a.post(&alice, "one", 1).unwrap();
    let (second, _) = a.post(&alice, "two", 2).unwrap();
    let mut b = Space::empty(a.id());
    assert!(matches!(
        b.ingest(second.envelope).unwrap(),
        Ingested::Pending { .. }
    ));
    b.ingest(genesis.envelope).unwrap();
    assert_eq!(b.pending_count(), 1);
    match b.ingest(first.envelope).unwrap() {
        Ingested::Applied { applied, .. } => assert_eq!(applied.len(), 2),
        other => panic!("{other:?}"),
    }
    assert_eq!(b.heads(), a.heads());
}

#[test]
fn bad_envelopes_are_refused_with_typed_reasons_and_change_nothing() {
    let (alice, mallory) = (key(1), key(9));
    let (mut a, _) = Space::create(&alice, "s", "", 0).unwrap();
    a.post(&alice, "hi", 1).unwrap();
    let heads = a.heads();

    // Bad signature: valid change by alice, signature bytes flipped.
    let mut env = forge(&a, &alice, &alice, 0, |tx, d| {
        let m = tx
            .insert_object(root(d, "timeline"), 1, ObjType::Map)
            .unwrap();
        tx.put(&m, "text", "x").unwrap();
    });
    env.signature[0] ^= 1;
    assert_eq!(a.ingest(env).unwrap_err().code(), "bad_signature");

    // Mismatched actor: change by alice's actor, signed (validly) by mallory.
    let env = forge(&a, &alice, &mallory, 0, |tx, d| {
        tx.insert_object(root(d, "timeline"), 1, ObjType::Map)
            .unwrap();
    });
    assert!(matches!(
        a.ingest(env),
        Err(Rejection::ActorMismatch { .. })
    ));

    // Wrong space id.
    let mut env = forge(&a, &alice, &alice, 0, |tx, d| {
        tx.insert_object(root(d, "timeline"), 1, ObjType::Map)
            .unwrap();
    });
    env.space = SpaceId::from([0; 32]);
    assert!(matches!(a.ingest(env), Err(Rejection::WrongSpace { .. })));

    // Garbage change bytes.
    let mut env = forge(&a, &alice, &alice, 0, |tx, d| {
        tx.insert_object(root(d, "timeline"), 1, ObjType::Map)
            .unwrap();
    });
    env.change = b"\x85\x6f\x4a\x83garbage".to_vec();
    assert!(matches!(a.ingest(env), Err(Rejection::MalformedChange(_))));

    // A stranger posts without joining.
    let env = forge(&a, &mallory, &mallory, 0, |tx, d| {
        tx.insert_object(root(d, "timeline"), 1, ObjType::Map)
            .unwrap();
    });
    assert_eq!(a.ingest(env).unwrap_err().code(), "unauthorized");

    // A stranger self-joins as owner.
    let env = forge(&a, &mallory, &mallory, 0, |tx, d| {
        let e = tx
            .put_object(
                root(d, "members"),
                tim_protocol::Did::from_key(&mallory.verifying_key()).to_string(),
                ObjType::Map,
            )
            .unwrap();
        tx.put(&e, "role", "owner").unwrap();
    });
    assert_eq!(a.ingest(env).unwrap_err().code(), "unauthorized");

    // A stranger rewrites the root.
    let env = forge(&a, &mallory, &mallory, 0, |tx, _| {
        tx.put(ROOT, "meta", "gone").unwrap();
    });
    assert_eq!(a.ingest(env).unwrap_err().code(), "unauthorized");

    assert_eq!(a.heads(), heads, "nothing refused may change the document");
    assert_eq!(a.timeline().len(), 1);
}

#[test]
fn members_cannot_forge_authors_or_edit_others_messages() {
    let (alice, bob) = (key(1), key(2));
    let (mut a, _) = Space::create(&alice, "s", "", 0).unwrap();
    let (_, msg_id) = a.post(&alice, "alice's words", 1).unwrap();
    let mut b = Space::empty(a.id());
    sync_pair(&mut a, &mut b);
    b.join(&bob, 2).unwrap();
    sync_pair(&mut a, &mut b);
    let heads = a.heads();

    // Bob edits alice's message.
    let env = forge(&b, &bob, &bob, 0, |tx, d| {
        let tl = root(d, "timeline");
        let m = d.get(&tl, 0).unwrap().unwrap().1;
        tx.put(&m, "text", "bob's words now").unwrap();
    });
    assert_eq!(a.ingest(env).unwrap_err().code(), "unauthorized");
    // Bob deletes alice's message.
    let env = forge(&b, &bob, &bob, 0, |tx, d| {
        tx.delete(root(d, "timeline"), 0).unwrap();
    });
    assert_eq!(a.ingest(env).unwrap_err().code(), "unauthorized");
    // Bob posts a message claiming alice wrote it.
    let env = forge(&b, &bob, &bob, 0, |tx, d| {
        let m = tx
            .insert_object(root(d, "timeline"), 1, ObjType::Map)
            .unwrap();
        tx.put(
            &m,
            "author",
            tim_protocol::Did::from_key(&alice.verifying_key()).to_string(),
        )
        .unwrap();
    });
    assert_eq!(a.ingest(env).unwrap_err().code(), "unauthorized");
    // Bob promotes himself.
    let env = forge(&b, &bob, &bob, 0, |tx, d| {
        let members = root(d, "members");
        let did = tim_protocol::Did::from_key(&bob.verifying_key()).to_string();
        let entry = d.get(&members, did.as_str()).unwrap().unwrap().1;
        tx.put(&entry, "role", "owner").unwrap();
    });
    assert_eq!(a.ingest(env).unwrap_err().code(), "unauthorized");
    assert_eq!(a.heads(), heads);
    assert_eq!(a.message(&msg_id).unwrap().text, "alice's words");
}

#[test]
fn a_local_write_the_rules_refuse_leaves_no_trace() {
    let (alice, bob) = (key(1), key(2));
    let (mut a, _) = Space::create(&alice, "s", "", 0).unwrap();
    let heads = a.heads();
    // Bob is not a member: his post is built, judged, refused and rolled back.
    assert!(a.post(&bob, "let me in", 1).is_err());
    assert_eq!(a.heads(), heads);
    assert_eq!(a.message_count(), 0);
}

/// A big batch is checked on several threads: results keep the batch's order, every forged
/// envelope is refused (also one whose change the space already holds) and the rest apply.
#[test]
fn a_big_batch_is_checked_in_parallel_in_order_and_forgeries_are_refused() {
    let alice = key(1);
    let (mut origin, genesis) = Space::create(&alice, "many", "", 1_000).unwrap();
    let mut envelopes = vec![genesis.envelope];
    for i in 0..200u64 {
        let (a, _) = origin.post(&alice, &format!("m{i}"), 2_000 + i).unwrap();
        envelopes.push(a.envelope);
    }
    let mut batch = envelopes.clone();
    batch[150].signature[0] ^= 1;
    batch[7].change[20] ^= 1;
    let checked = tim_crdt::check_envelopes(batch);
    assert_eq!(checked.len(), envelopes.len());
    for (i, r) in checked.iter().enumerate() {
        match r {
            Ok(c) => {
                assert!(i != 150 && i != 7, "forgery {i} passed");
                assert_eq!(c.envelope(), &envelopes[i], "order kept");
            }
            Err((_, reason)) => assert!(i == 150 || i == 7, "{i} refused: {reason}"),
        }
    }
    // Through a space: the holder of every change still refuses the forged copy of one.
    let mut forged = envelopes.clone();
    forged[150].signature[0] ^= 1;
    let out = origin.ingest_batch(forged);
    assert_eq!(out.rejected.len(), 1);
    assert!(
        matches!(out.rejected[0].1, Rejection::Envelope(_)),
        "{:?}",
        out.rejected
    );
    assert_eq!(out.duplicates, envelopes.len() - 1);
    // A fresh replica applies the honest batch whole.
    let mut replica = Space::empty(origin.id());
    let out = replica.ingest_batch(envelopes);
    assert!(out.rejected.is_empty(), "{:?}", out.rejected);
    assert_eq!(replica.heads(), origin.heads());
}

/// Changes that arrive before their dependencies wait, then go in together when a batch or a
/// single change unblocks them (as after a sync cut short by its byte budget).
#[test]
fn hundreds_of_waiting_changes_are_released_together() {
    let alice = key(1);
    let (mut origin, genesis) = Space::create(&alice, "holes", "", 1_000).unwrap();
    let mut envelopes = Vec::new();
    for i in 0..300u64 {
        let (a, _) = origin.post(&alice, &format!("m{i}"), 2_000 + i).unwrap();
        envelopes.push(a.envelope);
    }
    let mut replica = Space::empty(origin.id());
    let out = replica.ingest_batch(envelopes[150..].to_vec());
    assert!(out.applied.is_empty() && out.rejected.is_empty());
    assert_eq!(replica.pending_count(), 150);
    let out = replica.ingest_batch(envelopes[..150].to_vec());
    assert!(out.applied.is_empty());
    assert_eq!(replica.pending_count(), 300);
    // The genesis alone releases all 300 waiting changes.
    let Ingested::Applied {
        applied,
        late_rejections,
    } = replica.ingest(genesis.envelope).unwrap()
    else {
        panic!("the genesis applies");
    };
    assert!(late_rejections.is_empty());
    assert_eq!(applied.len(), 301);
    assert_eq!(replica.pending_count(), 0);
    assert_eq!(replica.heads(), origin.heads());
    assert_eq!(replica.timeline(), origin.timeline());
}

/// Issue 11's fork: a node killed after its change had left it but before the change reached
/// its disk signed a *different* change at the same actor and sequence number after restart,
/// and every peer refused one or the other for good. A restarted node writes as a new
/// session actor, so what it lost cannot collide with what it writes next.
#[test]
fn a_restarted_writer_never_reuses_a_sequence_number_even_after_losing_a_change() {
    use tim_crdt::Writer;
    let alice_key = key(1).signing_key().clone();
    let before = Writer::new(alice_key.clone(), [1; 16]);
    let (mut a, _) = Space::create(&before, "s", "", 0).unwrap();
    a.post(&before, "kept", 1).unwrap();
    let on_disk: Vec<_> = a.envelopes_in_order();
    let (sent, _) = a
        .post(&before, "gossiped, then lost in the crash", 2)
        .unwrap();
    let mut peer = Space::load(a.id(), None, on_disk.iter().cloned()).unwrap();
    peer.ingest(sent.envelope).unwrap();

    // The same session after the crash (what nodes did before sessions): the next change
    // repeats the lost one's sequence number, and the peer can never take it.
    let mut reused = Space::load(a.id(), None, on_disk.iter().cloned()).unwrap();
    let (clash, _) = reused.post(&before, "written after restart", 3).unwrap();
    let err = peer.ingest(clash.envelope).unwrap_err();
    assert_eq!(err.code(), "duplicate_seq", "{err}");
    assert!(!err.blames_sender());

    // A new session after the crash: no collision, and the two converge.
    let after = Writer::new(alice_key, [2; 16]);
    let mut restarted = Space::load(a.id(), None, on_disk.iter().cloned()).unwrap();
    restarted.post(&after, "written after restart", 3).unwrap();
    sync_pair(&mut restarted, &mut peer);
    assert_eq!(restarted.heads(), peer.heads());
    assert_eq!(restarted.message_count(), 3);
}

/// When Automerge refuses a batch as a whole (here, for a change at a used sequence number),
/// the gate goes one change at a time: the offending change and what builds on it are
/// refused and never kept, and the rest is applied.
#[test]
fn a_batch_with_a_reused_sequence_number_keeps_only_what_applies() {
    let alice = key(1);
    let bob = key(2);
    let (mut a, _) = Space::create(&alice, "s", "", 0).unwrap();
    a.join(&bob, 1).unwrap();
    let base: Vec<_> = a.envelopes_in_order();
    let (first, _) = a.post(&alice, "first", 2).unwrap();
    let mut other = Space::load(a.id(), None, base.iter().cloned()).unwrap();
    let (twin, _) = other
        .post(&alice, "a different change at the same seq", 2)
        .unwrap();
    let (on_twin, _) = other.post(&alice, "builds on the twin", 3).unwrap();
    let (by_bob, _) = other.post(&bob, "bob's post", 4).unwrap();
    let mut replica = Space::load(a.id(), None, base.iter().cloned()).unwrap();
    replica.ingest(first.envelope.clone()).unwrap();
    let out = replica.ingest_batch(vec![
        twin.envelope.clone(),
        on_twin.envelope.clone(),
        by_bob.envelope.clone(),
    ]);
    assert_eq!(out.rejected.len(), 3, "{:?}", out.rejected);
    assert_eq!(out.rejected[0].1.code(), "duplicate_seq");
    // Bob's post builds on the twin too (it was made on that replica): refused, not kept.
    assert!(out.rejected[1..]
        .iter()
        .all(|(_, r)| r.to_string().contains("builds on a refused change")));
    assert!(out.applied.is_empty(), "{:?}", out.applied);
    assert!(replica.envelope(&twin.hash).is_none());
    assert!(replica.envelope(&on_twin.hash).is_none());
    assert_eq!(replica.pending_count(), 0);
    // What the replica holds reloads from its store.
    let stored: Vec<_> = replica
        .envelopes()
        .map(|e| (tim_crdt::verify_envelope(&e).unwrap(), e))
        .collect();
    let restored = Space::load_stored(a.id(), None, stored).unwrap();
    assert!(restored.waiting.is_empty() && restored.refused.is_empty());
    assert_eq!(restored.space.heads(), replica.heads());
}

#[test]
fn a_restart_takes_the_changes_below_the_judged_heads_as_stored_and_judges_the_rest() {
    let (alice, mut a) = with_posts("heads", 300);
    let record = a.judged_heads();
    for i in 300..400 {
        a.post(&alice, &format!("message {i}"), i).unwrap();
    }
    let keyed = |space: &Space| -> Vec<_> {
        space
            .envelopes()
            .map(|e| (tim_crdt::verify_envelope(&e).unwrap(), e))
            .collect()
    };
    // Below the record and above it: the same space as before the restart.
    let restored = Space::load_stored(a.id(), Some(&record), keyed(&a)).unwrap();
    assert!(restored.snapshot_error.is_none());
    assert!(restored.refused.is_empty() && restored.waiting.is_empty());
    assert_eq!(restored.space.heads(), a.heads());
    assert_eq!(restored.space.timeline(), a.timeline());
    assert_eq!(restored.space.change_count(), a.change_count());
    // A stored change above the record that the rules refuse is refused (to delete), as
    // without a record: a stranger's post.
    let stranger = key(9);
    let timeline = root(&automerge::Automerge::load(&a.save()).unwrap(), "timeline");
    let forged = forge(&a, &stranger, &stranger, 500, |tx, _| {
        tx.insert(&timeline, 0, "not a member").unwrap();
    });
    let mut stored = keyed(&a);
    let forged_hash = tim_crdt::verify_envelope(&forged).unwrap();
    stored.push((forged_hash, forged));
    let restored = Space::load_stored(a.id(), Some(&record), stored.clone()).unwrap();
    assert_eq!(restored.refused.len(), 1, "{:?}", restored.refused);
    assert_eq!(restored.refused[0].0, forged_hash);
    assert_eq!(restored.space.heads(), a.heads());
    // A record naming a change the store lacks is ignored: everything goes through the gate.
    let other_record = {
        let (other, _) = Space::create(&key(2), "other", "", 0).unwrap();
        other.judged_heads()
    };
    let restored = Space::load_stored(a.id(), Some(&other_record), stored).unwrap();
    assert_eq!(restored.refused.len(), 1);
    assert_eq!(restored.space.heads(), a.heads());
    // A record of a bad length is set aside with its reason; the changes still load.
    let mut bad = record.clone();
    bad.push(0);
    let restored = Space::load_stored(a.id(), Some(&bad), keyed(&a)).unwrap();
    assert!(restored.snapshot_error.is_some());
    assert_eq!(restored.space.heads(), a.heads());
}
