//! Property: over random schedules of honest and hostile changes across several replicas
//! (seeded by proptest, reproducible from its seed), all replicas end with identical heads and
//! state, and no hostile change has any visible effect.

use automerge::transaction::Transactable;
use automerge::{ObjType, ReadDoc};
use proptest::prelude::*;
use tim_crdt::test_utils::{forge, root, sync_pair};
use tim_crdt::Writer;
use tim_crdt::{Role, Space};
use tim_protocol::Did;

#[derive(Debug, Clone)]
enum Step {
    /// Honest member `who` posts on its replica.
    Post(usize),
    /// The owner bans or restores member `who`.
    Ban(usize, bool),
    /// Replicas exchange changes.
    Sync(usize, usize),
    /// A stranger posts into replica `r`.
    StrangerPosts(usize),
    /// A member tries to make itself admin on replica `r`.
    Climb(usize),
    /// A member rewrites the first message on replica `r`.
    Rewrite(usize),
}

fn step(replicas: usize) -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..3usize).prop_map(Step::Post),
        1 => (0..3usize, any::<bool>()).prop_map(|(w, b)| Step::Ban(w, b)),
        3 => (0..replicas, 0..replicas).prop_map(|(a, b)| Step::Sync(a, b)),
        1 => (0..replicas).prop_map(Step::StrangerPosts),
        1 => (0..replicas).prop_map(Step::Climb),
        1 => (0..replicas).prop_map(Step::Rewrite),
    ]
}

fn key(seed: u8) -> Writer {
    tim_crdt::test_utils::writer(seed)
}

fn pair(v: &mut [Space], a: usize, b: usize) -> (&mut Space, &mut Space) {
    let (lo, hi) = (a.min(b), a.max(b));
    let (left, right) = v.split_at_mut(hi);
    (&mut left[lo], &mut right[0])
}

fn run(replicas: usize, steps: Vec<Step>) {
    let owner = key(1);
    let members = [key(2), key(3), key(4)];
    let stranger = key(9);
    let (genesis, _) = Space::create(&owner, "prop", "", 0).unwrap();
    let mut spaces: Vec<Space> = (0..replicas).map(|_| Space::empty(genesis.id())).collect();
    spaces[0] = genesis;
    for i in 1..replicas {
        let (a, b) = pair(&mut spaces, 0, i);
        sync_pair(a, b);
    }
    // Member k lives on replica k % replicas and joins there.
    for (k, m) in members.iter().enumerate() {
        let r = k % replicas;
        spaces[r].join(m, 1).unwrap();
    }
    let mut clock = 10;
    for s in steps {
        clock += 1;
        match s {
            Step::Post(w) => {
                let _ = spaces[w % replicas].post(&members[w], &format!("post {clock}"), clock);
            }
            Step::Ban(w, ban) => {
                let role = if ban { Role::Banned } else { Role::Member };
                let target = Did::from_key(&members[w].verifying_key());
                let _ = spaces[0].set_role(&owner, &target, role, clock);
            }
            Step::Sync(a, b) if a != b => {
                let (x, y) = pair(&mut spaces, a, b);
                sync_pair(x, y);
            }
            Step::Sync(..) => {}
            Step::StrangerPosts(r) => {
                let env = forge(&spaces[r], &stranger, &stranger, clock as i64, |tx, d| {
                    let tl = root(d, "timeline");
                    let m = tx.insert_object(&tl, d.length(&tl), ObjType::Map).unwrap();
                    tx.put(&m, "text", "spam").unwrap();
                });
                assert!(
                    spaces[r].ingest(env).is_err(),
                    "a stranger's post was accepted"
                );
            }
            Step::Climb(r) => {
                let climber = &members[r % members.len()];
                let me = Did::from_key(&climber.verifying_key()).to_string();
                let members_obj = root(&doc_of(&spaces[r]), "members");
                let has_entry = doc_of(&spaces[r])
                    .get(&members_obj, me.as_str())
                    .unwrap()
                    .is_some();
                if !has_entry {
                    continue;
                }
                let env = forge(&spaces[r], climber, climber, clock as i64, |tx, d| {
                    let entry = d.get(root(d, "members"), me.as_str()).unwrap().unwrap().1;
                    tx.put(&entry, "role", "admin").unwrap();
                });
                assert!(spaces[r].ingest(env).is_err(), "a member made itself admin");
            }
            Step::Rewrite(r) => {
                let Some(first) = spaces[r].timeline().into_iter().next() else {
                    continue;
                };
                let rewriter = members
                    .iter()
                    .find(|k| Did::from_key(&k.verifying_key()) != first.author)
                    .unwrap();
                let env = forge(&spaces[r], rewriter, rewriter, clock as i64, |tx, d| {
                    let (obj, _) = d.import(&first.id).unwrap();
                    tx.put(&obj, "text", "rewritten").unwrap();
                });
                assert!(
                    spaces[r].ingest(env).is_err(),
                    "someone rewrote another's message"
                );
            }
        }
    }
    // Heal everything: a ring, twice.
    for _ in 0..2 {
        for i in 0..replicas {
            let (a, b) = pair(&mut spaces, i, (i + 1) % replicas);
            if replicas > 1 {
                sync_pair(a, b);
            }
        }
    }
    let reference = &spaces[0];
    for s in &spaces[1..] {
        assert_eq!(s.heads(), reference.heads());
        assert_eq!(s.timeline(), reference.timeline());
        assert_eq!(s.members(), reference.members());
    }
    let stranger_did = Did::from_key(&stranger.verifying_key());
    for m in reference.timeline() {
        assert_ne!(m.author, stranger_did);
        assert!(m.text.starts_with("post "), "unexpected text {}", m.text);
    }
    for m in reference.members() {
        assert!(m.did != stranger_did);
        if m.did != Did::from_key(&owner.verifying_key()) {
            let role = Role::parse(&m.role).unwrap();
            assert!(role <= Role::Member, "{} rose to {role}", m.did);
        }
    }
}

fn doc_of(space: &Space) -> automerge::Automerge {
    automerge::Automerge::load(&space.save()).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn honest_replicas_converge_and_hostile_changes_leave_no_trace(
        replicas in 2usize..5,
        steps in proptest::collection::vec(step(4), 1..60),
    ) {
        let steps = steps
            .into_iter()
            .map(|s| match s {
                Step::Sync(a, b) => Step::Sync(a % replicas, b % replicas),
                Step::StrangerPosts(r) => Step::StrangerPosts(r % replicas),
                Step::Climb(r) => Step::Climb(r % replicas),
                Step::Rewrite(r) => Step::Rewrite(r % replicas),
                other => other,
            })
            .collect();
        run(replicas, steps);
    }
}
