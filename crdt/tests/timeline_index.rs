//! The timeline index (crdt/src/timeline_index.rs) gives exactly the answers of a fresh walk
//! of the document: after random histories of posts, mentions, replies, edits, reactions,
//! deletions, ratings, migrations, messages forged into the middle of the timeline and
//! concurrent writes on two replicas merged by sync, every member's unread counts and
//! notifications ([`Space::inbox`]) equal a scan of [`Space::timeline`]
//! ([`inbox_by_scan`]), and every member's reputation (read through the index) equals the
//! one computed by walking the timeline at the same heads ([`Space::reputation_at`]). Each
//! check is made on the index brought forward step by step and on a copy that rebuilds it.

use automerge::transaction::Transactable;
use automerge::{ObjType, ReadDoc};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use tim_crdt::messages::{MENTIONS, REPLY_TO};
use tim_crdt::schema::{MESSAGES_V2, PEOPLE, REPUTATION_V2};
use tim_crdt::test_utils::{forge, inbox_by_scan, indexed_timeline, root, sync_pair, writer};
use tim_crdt::{Space, Writer};
use tim_protocol::Did;

/// Random operations per history.
const STEPS: usize = 150;

/// The markers a member might hold in `s`: none, a message, the first and last, a deleted
/// message's id, an id spelled another way, and garbage.
fn markers(s: &Space, rng: &mut StdRng, gone: &[String]) -> Vec<Option<String>> {
    let t = s.timeline();
    let mut out = vec![None, Some("garbage".into()), Some("1@zz".into())];
    if let Some(m) = t.choose(rng) {
        out.push(Some(m.id.clone()));
        out.push(Some(format!("0{}", m.id)));
    }
    out.extend(t.first().map(|m| Some(m.id.clone())));
    out.extend(t.last().map(|m| Some(m.id.clone())));
    out.extend(gone.choose(rng).map(|g| Some(g.clone())));
    out
}

/// Checks every answer the index gives on `s` against a fresh walk, on `s` and on a copy
/// (whose index is rebuilt from the document).
fn check(s: &Space, dids: &[Did], rng: &mut StdRng, gone: &[String], at: &str) {
    let copy = s.try_copy().unwrap();
    let ids: Vec<String> = s.timeline().into_iter().map(|m| m.id).collect();
    assert_eq!(indexed_timeline(s), ids, "{at}: the stepped index's order");
    assert_eq!(
        indexed_timeline(&copy),
        ids,
        "{at}: the rebuilt index's order"
    );
    for marker in markers(s, rng, gone) {
        for me in dids {
            let want = inbox_by_scan(s, me, marker.as_deref());
            for (which, space) in [("stepped", s), ("rebuilt", &copy)] {
                let got = space.inbox(me, marker.as_deref(), true);
                assert_eq!(got, want, "{at}: {which} index, marker {marker:?}");
                let counts = space.inbox(me, marker.as_deref(), false);
                assert_eq!(
                    (
                        counts.unread,
                        counts.unread_mentions,
                        counts.notifications.len()
                    ),
                    (want.unread, want.unread_mentions, 0),
                    "{at}: {which} counts"
                );
            }
        }
    }
    let heads = s.heads();
    for did in dids {
        let got = s.reputation(did);
        match s.reputation_at(did, &heads) {
            Some(walked) => assert_eq!(got, walked, "{at}: reputation of {did}"),
            None => {
                assert!(s.schema_version() < REPUTATION_V2);
                let counted = s
                    .timeline()
                    .iter()
                    .filter(|m| m.author == *did && !m.encrypted)
                    .count() as u64;
                assert_eq!(
                    got.contributions, counted,
                    "{at}: v1 contributions of {did}"
                );
            }
        }
        assert_eq!(
            copy.reputation(did),
            got,
            "{at}: rebuilt reputation of {did}"
        );
    }
    assert_eq!(s.members(), copy.members(), "{at}: members");
}

/// A message forged into `s`'s timeline at a random place by `who`, replying to `reply_to`
/// (any string) and mentioning `mentions` (raw JSON), as a hostile or older client might.
fn forged(
    s: &Space,
    who: &Writer,
    rng: &mut StdRng,
    reply_to: Option<String>,
    mentions: Option<String>,
) -> tim_protocol::Envelope {
    let len = s.timeline().len();
    let at = rng.gen_range(0..=len);
    forge(s, who, who, 50, |tx, d| {
        let timeline = root(d, "timeline");
        let at = at.min(tx.length(&timeline));
        let m = tx.insert_object(&timeline, at, ObjType::Map).unwrap();
        tx.put(&m, "author", who.did().to_string()).unwrap();
        tx.put(&m, "text", "forged").unwrap();
        if let Some(p) = reply_to {
            tx.put(&m, REPLY_TO, p).unwrap();
        }
        if let Some(j) = mentions {
            tx.put(&m, MENTIONS, j).unwrap();
        }
    })
}

/// One random history from `seed` on two replicas, checked after every step.
fn history(seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let owner = writer(1);
    // Members 2 and 3 write on replica 0 (with the owner), 4 and 5 on replica 1: a writer's
    // session lives on one replica.
    let members: Vec<Writer> = (2..6).map(writer).collect();
    let (mut a, _) = Space::create(&owner, "index", "", 1).unwrap();
    for m in &members {
        a.join(m, 2).unwrap();
    }
    let mut b = a.try_copy().unwrap();
    let dids: Vec<Did> = std::iter::once(owner.did())
        .chain(members.iter().map(Writer::did))
        .collect();
    let mut gone: Vec<String> = Vec::new();
    let mut t = 10u64;
    for step in 0..STEPS {
        t += 1;
        let side = rng.gen_range(0..2usize);
        let who = match (side, rng.gen_range(0..3)) {
            (0, 0) => &owner,
            (0, i) => &members[i - 1],
            (_, i) => &members[2 + i % 2],
        };
        let s = if side == 0 { &mut a } else { &mut b };
        let version = s.schema_version();
        let messages = s.timeline();
        let any = messages.choose(&mut rng).map(|m| m.id.clone());
        let own = messages
            .iter()
            .filter(|m| m.author == who.did())
            .map(|m| m.id.clone())
            .collect::<Vec<_>>()
            .choose(&mut rng)
            .cloned();
        let op = rng.gen_range(0..100);
        let what = match op {
            0..=29 => {
                s.post(who, &format!("post {step}"), t).unwrap();
                "post"
            }
            30..=39 if version >= PEOPLE => {
                let n = rng.gen_range(1..=3);
                let mention: Vec<Did> = dids.choose_multiple(&mut rng, n).copied().collect();
                s.post_mentioning(
                    who,
                    &format!("hey {step}"),
                    any.as_deref(),
                    &mention,
                    None,
                    t,
                )
                .unwrap();
                "mention"
            }
            40..=49 if version >= MESSAGES_V2 && any.is_some() => {
                s.reply(who, any.as_deref().unwrap(), &format!("re {step}"), t)
                    .unwrap();
                "reply"
            }
            50..=54 if version >= MESSAGES_V2 && own.is_some() => {
                s.edit(who, own.as_deref().unwrap(), &format!("edited {step}"), t)
                    .unwrap();
                "edit"
            }
            55..=59 if version >= MESSAGES_V2 && any.is_some() => {
                let emoji = ["👍", "🎉", "👀"].choose(&mut rng).copied();
                // Reacting again with the same emoji writes nothing, which `react` refuses.
                if s.react(who, any.as_deref().unwrap(), emoji, t).is_err() {
                    continue;
                }
                "react"
            }
            60..=66 => {
                // The author deletes its own; the owner anyone's.
                let victim = if std::ptr::eq(who, &owner) {
                    any.clone()
                } else {
                    own.clone()
                };
                let Some(victim) = victim else { continue };
                s.delete_message(who, &victim, t).unwrap();
                gone.push(victim);
                "delete"
            }
            67..=74 => {
                let ratee = dids.choose(&mut rng).unwrap();
                if *ratee == who.did() {
                    continue;
                }
                let score = rng.gen_range(1..=5);
                // Rating again with the same score writes nothing (Automerge drops a put of
                // the value already there), and `rate` then refuses the empty write.
                if s.ratings_of(ratee).contains(&(who.did(), score)) {
                    continue;
                }
                s.rate(who, ratee, score, t).unwrap();
                "rate"
            }
            75..=79 if std::ptr::eq(who, &owner) && version < PEOPLE => {
                let to = match version {
                    v if v < REPUTATION_V2 => REPUTATION_V2,
                    v if v < MESSAGES_V2 => MESSAGES_V2,
                    _ => PEOPLE,
                };
                s.migrate(who, to, t).unwrap();
                "migrate"
            }
            80..=84 => {
                // A hostile or odd message in the middle: the rules may refuse it.
                let reply_to = match rng.gen_range(0..4) {
                    0 => any.clone(),
                    1 => any.as_ref().map(|p| format!("0{p}")),
                    2 => Some("not an id".into()),
                    _ => None,
                };
                let mentions = match rng.gen_range(0..3) {
                    0 => Some(format!("[\"{}\"]", dids.choose(&mut rng).unwrap())),
                    1 => Some("[\"nobody\"]".into()),
                    _ => None,
                };
                let env = forged(s, who, &mut rng, reply_to, mentions);
                let _ = s.ingest(env);
                "forged"
            }
            85..=87 if own.is_some() => {
                // The author rewrites its own message's fields directly: the rules may refuse.
                let own = own.clone().unwrap();
                let change = rng.gen_range(0..4);
                let env = forge(s, who, who, 60, |tx, d| {
                    let (m, _) = d.import(&own).unwrap();
                    match change {
                        0 => tx
                            .put(&m, "at", automerge::ScalarValue::Timestamp(7))
                            .unwrap(),
                        1 => tx.put(&m, "text", 42).unwrap(),
                        2 => tx.delete(&m, "author").unwrap(),
                        _ => tx.put(&m, REPLY_TO, "1@00").unwrap(),
                    }
                });
                let _ = s.ingest(env);
                "rewrite"
            }
            88..=95 => {
                sync_pair(&mut a, &mut b);
                "sync"
            }
            _ => continue,
        };
        let at = format!("seed {seed}, step {step} ({what})");
        check(&a, &dids, &mut rng, &gone, &format!("{at}, replica 0"));
        check(&b, &dids, &mut rng, &gone, &format!("{at}, replica 1"));
    }
    sync_pair(&mut a, &mut b);
    check(&a, &dids, &mut rng, &gone, &format!("seed {seed}, merged"));
    assert_eq!(a.members(), b.members());
}

#[test]
fn the_index_answers_as_a_fresh_scan_after_random_histories() {
    for seed in 0..4 {
        history(seed);
    }
}

#[test]
fn a_space_rebuilds_its_index_when_loaded_and_steps_it_after_a_post() {
    let (owner, member) = (writer(1), writer(2));
    let (mut s, _) = Space::create(&owner, "talk", "", 1).unwrap();
    s.migrate(&owner, PEOPLE, 2).unwrap();
    s.join(&member, 3).unwrap();
    let (_, first) = s.post(&owner, "hello", 4).unwrap();
    s.post_mentioning(&member, "hi @owner", Some(&first), &[owner.did()], None, 5)
        .unwrap();
    let me = owner.did();
    let unread = s.inbox(&me, None, false);
    assert_eq!((unread.unread, unread.unread_mentions), (1, 1));
    // A replica that takes in every envelope reads its index from nothing.
    let mut replica = Space::empty(s.id());
    for env in s.envelopes() {
        replica.ingest(env).unwrap();
    }
    assert_eq!(replica.inbox(&me, None, true), s.inbox(&me, None, true));
    s.reply(&member, &first, "another", 6).unwrap();
    let inbox = s.inbox(&me, Some(&first), true);
    assert_eq!((inbox.unread, inbox.unread_mentions), (2, 1));
    assert_eq!(inbox.notifications.len(), 2);
    assert_eq!(inbox, inbox_by_scan(&s, &me, Some(&first)));
}
