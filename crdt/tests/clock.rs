//! Historic reads (the document at a change's dependencies, which the rules judge at) agree with
//! a replay of exactly the ancestors of those heads, on random histories with many actors.
//!
//! Tim links a patched Automerge 0.6.1 whose clock walk stops early
//! (vendor/automerge/VENDORED.md); this checks that the stop never drops an ancestor.

use std::collections::{HashSet, VecDeque};

use automerge::transaction::Transactable;
use automerge::{ActorId, Automerge, ChangeHash, ObjType, ReadDoc, ScalarValue, ROOT};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Step {
    /// Replica `r` writes a key and appends to the list.
    Write { r: usize, key: u8 },
    /// Replica `to` takes in everything replica `from` has.
    Merge { from: usize, to: usize },
}

fn steps(replicas: usize) -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        prop_oneof![
            3 => (0..replicas, 0u8..6).prop_map(|(r, key)| Step::Write { r, key }),
            1 => (0..replicas, 0..replicas).prop_map(|(from, to)| Step::Merge { from, to }),
        ],
        1..160,
    )
}

/// The ancestors of `heads` (the heads included), found by walking dependencies.
fn ancestors(doc: &Automerge, heads: &[ChangeHash]) -> HashSet<ChangeHash> {
    let mut seen: HashSet<ChangeHash> = HashSet::new();
    let mut queue: VecDeque<ChangeHash> = heads.iter().copied().collect();
    while let Some(h) = queue.pop_front() {
        if seen.insert(h) {
            let change = doc
                .get_change_by_hash(&h)
                .expect("an ancestor is in the document");
            queue.extend(change.deps().iter().copied());
        }
    }
    seen
}

fn map_at(doc: &Automerge, heads: Option<&[ChangeHash]>) -> Vec<(String, String)> {
    let values: Vec<(String, String)> = match heads {
        Some(h) => doc
            .map_range_at(ROOT, .., h)
            .map(|i| (i.key.to_string(), format!("{:?}", i.value)))
            .collect(),
        None => doc
            .map_range(ROOT, ..)
            .map(|i| (i.key.to_string(), format!("{:?}", i.value)))
            .collect(),
    };
    values.into_iter().filter(|(k, _)| k != "list").collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn historic_reads_match_a_replay_of_the_ancestors(replicas in 2usize..6, plan in steps(5)) {
        let mut origin = Automerge::new();
        origin.set_actor(ActorId::from(&[0u8; 16][..]));
        let mut tx = origin.transaction();
        let list = tx.put_object(ROOT, "list", ObjType::List).unwrap();
        tx.commit();
        let mut docs: Vec<Automerge> = (0..replicas)
            .map(|i| {
                let mut d = origin.fork();
                d.set_actor(ActorId::from(&[i as u8 + 1; 16][..]));
                d
            })
            .collect();
        let mut seen_heads: Vec<Vec<ChangeHash>> = Vec::new();
        for (n, step) in plan.into_iter().enumerate() {
            match step {
                Step::Write { r, key } => {
                    let d = &mut docs[r % replicas];
                    let mut tx = d.transaction();
                    tx.put(ROOT, format!("k{key}"), ScalarValue::Int(n as i64)).unwrap();
                    let len = tx.length(&list);
                    tx.insert(&list, len, ScalarValue::Int(n as i64)).unwrap();
                    tx.commit();
                    seen_heads.push(d.get_heads());
                }
                Step::Merge { from, to } => {
                    let (from, to) = (from % replicas, to % replicas);
                    if from != to {
                        let mut source = docs[from].clone();
                        docs[to].merge(&mut source).unwrap();
                        seen_heads.push(docs[to].get_heads());
                    }
                }
            }
        }
        let mut full = origin.fork();
        for d in &mut docs {
            full.merge(d).unwrap();
        }
        let in_order = full.get_changes(&[]);
        for heads in &seen_heads {
            let keep = ancestors(&full, heads);
            let mut replay = Automerge::new();
            replay
                .apply_changes(in_order.iter().filter(|c| keep.contains(&c.hash())).map(|c| (*c).clone()))
                .unwrap();
            let mut replay_heads = replay.get_heads();
            replay_heads.sort();
            let mut expected = heads.clone();
            expected.sort();
            prop_assert_eq!(replay_heads, expected);
            prop_assert_eq!(map_at(&full, Some(heads)), map_at(&replay, None));
            prop_assert_eq!(full.length_at(&list, heads), replay.length(&list));
        }
    }
}
