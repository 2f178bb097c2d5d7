//! Earned roles (schema version 9, docs/governance.md "Earned roles"): thresholds validated
//! by the rules, an earned role that takes effect and lapses as ratings change with no admin
//! event, banned members that never earn, concurrent changes judged at their dependencies,
//! and reputation that every replica computes alike at the same heads, whatever the order the
//! changes arrived in.

use automerge::transaction::Transactable;
use automerge::ReadDoc;
use serde_json::json;
use tim_crdt::abilities::{AbilitySpec, Target};
use tim_crdt::earned::{parse_earned_roles, EarnedRole};
use tim_crdt::schema::SOCIAL;
use tim_crdt::test_utils::{assert_refused, forge, root, sync_pair};
use tim_crdt::{Permission, Permissions, Role, Space, Writer};
use tim_protocol::api::RoleHeld;

fn key(seed: u8) -> Writer {
    tim_crdt::test_utils::writer(seed)
}

/// A public space at schema version 9 created by `owner`, joined by `others`.
fn space(owner: &Writer, others: &[&Writer]) -> Space {
    let (mut s, _) = Space::create(owner, "earned", "", 1).unwrap();
    s.migrate(owner, SOCIAL, 2).unwrap();
    for k in others {
        s.join(k, 3).unwrap();
    }
    s
}

fn by_reputation(role: &str, min: u64) -> EarnedRole {
    EarnedRole {
        role: role.into(),
        min_reputation: Some(min),
        ability: None,
        min_ability_reputation: None,
    }
}

/// A change by `who` putting `json` as `meta.earned_roles`, past the local checks.
fn forged_earned_roles(s: &Space, who: &Writer, json: &str) -> tim_protocol::Envelope {
    forge(s, who, who, 50, |tx, doc| {
        tx.put(root(doc, "meta"), "earned_roles", json).unwrap();
    })
}

/// The id of the newest message.
fn last_message(s: &Space) -> String {
    s.timeline().last().expect("a message").id.clone()
}

#[test]
fn thresholds_are_validated_by_the_parse_function_and_the_rules() {
    // The format: either shape, nothing else.
    assert!(parse_earned_roles(r#"[{"role":"moderator","min_reputation":10}]"#).is_ok());
    assert!(parse_earned_roles(
        r#"[{"role":"member","ability":"text.summarize","min_ability_reputation":8}]"#
    )
    .is_ok());
    for bad in [
        r#"{"role":"moderator","min_reputation":10}"#,
        r#"[{"role":"admin","min_reputation":10}]"#,
        r#"[{"role":"owner","min_reputation":10}]"#,
        r#"[{"role":"banned","min_reputation":10}]"#,
        r#"[{"role":"moderator","min_reputation":0}]"#,
        r#"[{"role":"moderator"}]"#,
        r#"[{"role":"moderator","min_reputation":10,"ability":"text.summarize"}]"#,
        r#"[{"role":"moderator","ability":"text.summarize","min_ability_reputation":21}]"#,
        r#"[{"role":"moderator","ability":"nodot","min_ability_reputation":5}]"#,
        r#"[{"role":"moderator","min_reputation":10,"extra":1}]"#,
    ] {
        assert!(parse_earned_roles(bad).is_err(), "{bad} parsed");
    }
    let many = serde_json::to_string(&vec![by_reputation("member", 1); 17]).unwrap();
    assert!(parse_earned_roles(&many).is_err(), "17 thresholds parsed");

    let (owner, ann) = (key(1), key(2));
    let mut s = space(&owner, &[&ann]);
    let mut replica = s.try_copy().unwrap();
    // The rules refuse what the parse function refuses, and roles not defined (or ranking as
    // high as admin) at the change's dependencies.
    assert_refused(
        replica.ingest(forged_earned_roles(
            &s,
            &owner,
            r#"[{"role":"admin","min_reputation":10}]"#,
        )),
        "cannot be earned",
    );
    assert_refused(
        replica.ingest(forged_earned_roles(
            &s,
            &owner,
            r#"[{"role":"curator","min_reputation":10}]"#,
        )),
        "not defined",
    );
    s.define_role(
        &owner,
        "steward",
        450,
        Permissions::of(&[Permission::Post]),
        4,
    )
    .unwrap();
    s.define_role(
        &owner,
        "curator",
        250,
        Permissions::of(&[Permission::Post]),
        4,
    )
    .unwrap();
    sync_pair(&mut s, &mut replica);
    assert_refused(
        replica.ingest(forged_earned_roles(
            &s,
            &owner,
            r#"[{"role":"steward","min_reputation":10}]"#,
        )),
        "ranks as high as admin",
    );
    // Only the `meta` permission sets them.
    assert_refused(
        replica.ingest(forged_earned_roles(
            &s,
            &ann,
            r#"[{"role":"moderator","min_reputation":1}]"#,
        )),
        "permission `meta`",
    );
    // A defined role below admin is fine.
    replica
        .ingest(forged_earned_roles(
            &s,
            &owner,
            r#"[{"role":"curator","min_reputation":10}]"#,
        ))
        .unwrap();
    assert_eq!(replica.earned_roles(), vec![by_reputation("curator", 10)]);
    // Below schema version 9 the key does not exist.
    let (mut old, _) = Space::create(&owner, "old", "", 1).unwrap();
    old.migrate(&owner, SOCIAL - 1, 2).unwrap();
    let mut old_replica = old.try_copy().unwrap();
    assert_refused(
        old_replica.ingest(forged_earned_roles(
            &old,
            &owner,
            r#"[{"role":"moderator","min_reputation":10}]"#,
        )),
        "cannot be changed this way",
    );
    assert!(old
        .set_earned_roles(&owner, &[by_reputation("moderator", 10)], 3)
        .is_err());
}

#[test]
fn an_earned_moderator_deletes_until_a_lowered_rating_takes_the_role_away() {
    let (owner, ann, bob) = (key(1), key(2), key(3));
    let mut s = space(&owner, &[&ann, &bob]);
    s.set_earned_roles(&owner, &[by_reputation("moderator", 10)], 4)
        .unwrap();
    s.post(&bob, "first", 5).unwrap();
    let first = last_message(&s);
    // Ann's reputation is 0: she is a member, and may not delete another's message.
    assert!(s.delete_message(&ann, &first, 6).is_err());
    let view = s.member(&ann.did()).unwrap();
    assert_eq!(
        (view.role.as_str(), view.held),
        ("member", RoleHeld::Assigned)
    );
    // The owner (full standing) rates her 5: 5 × 2 = 10 points, the threshold.
    s.rate(&owner, &ann.did(), 5, 7).unwrap();
    assert_eq!(s.reputation(&ann.did()).score, 10);
    let view = s.member(&ann.did()).unwrap();
    assert_eq!(view.role, "moderator");
    assert_eq!(view.held, RoleHeld::Earned);
    assert_eq!(view.assigned_role.as_deref(), Some("member"));
    assert_eq!(view.earned_by, Some(by_reputation("moderator", 10)));
    assert_eq!(view.reputation, 10);
    assert_eq!(
        s.effective_role(&ann.did()),
        Some((Role::Moderator, Some(by_reputation("moderator", 10))))
    );
    s.delete_message(&ann, &first, 8).unwrap();
    // A replica rebuilt from the log agrees (every change judged at its dependencies).
    let rebuilt = Space::load(s.id(), None, s.envelopes_in_order()).unwrap();
    assert_eq!(rebuilt.heads(), s.heads());
    // The owner lowers the rating to 3: the role lapses with no admin event.
    s.rate(&owner, &ann.did(), 3, 9).unwrap();
    s.post(&bob, "second", 10).unwrap();
    let second = last_message(&s);
    assert!(s.delete_message(&ann, &second, 11).is_err());
    let view = s.member(&ann.did()).unwrap();
    assert_eq!(
        (view.role.as_str(), view.held),
        ("member", RoleHeld::Assigned)
    );
    assert_eq!((view.assigned_role, view.earned_by), (None, None));
    // A forged deletion past the local checks is refused by the rules too.
    let mut replica = s.try_copy().unwrap();
    let forged = forge(&s, &ann, &ann, 12, |tx, doc| {
        let timeline = root(doc, "timeline");
        let last = doc.length(&timeline) - 1;
        tx.delete(&timeline, last).unwrap();
    });
    assert_refused(replica.ingest(forged), "permission `moderate`");
}

#[test]
fn an_earned_role_outranks_its_peers_where_ranks_are_compared() {
    let (owner, ann, cid, dee) = (key(1), key(2), key(3), key(4));
    let mut s = space(&owner, &[&ann, &cid, &dee]);
    // `warden` (rank 250) may kick; `moderator` is earned at 10 points.
    s.define_role(
        &owner,
        "warden",
        250,
        Permissions::of(&[Permission::Kick]),
        4,
    )
    .unwrap();
    s.set_role(&owner, &cid.did(), Role::parse("warden").unwrap(), 5)
        .unwrap();
    s.set_earned_roles(&owner, &[by_reputation("moderator", 10)], 6)
        .unwrap();
    s.rate(&owner, &ann.did(), 5, 7).unwrap();
    // Ann's earned moderator (300) outranks the warden (250): he may not remove her.
    let mut replica = s.try_copy().unwrap();
    assert!(s.kick(&cid, &ann.did(), 8).is_err());
    // He may remove a plain member.
    s.kick(&cid, &dee.did(), 9).unwrap();
    sync_pair(&mut s, &mut replica);
}

#[test]
fn banned_members_never_earn() {
    let (owner, ann, bob) = (key(1), key(2), key(3));
    let mut s = space(&owner, &[&ann, &bob]);
    s.set_earned_roles(&owner, &[by_reputation("moderator", 10)], 4)
        .unwrap();
    s.rate(&owner, &ann.did(), 5, 5).unwrap();
    assert_eq!(s.effective_role(&ann.did()).unwrap().0, Role::Moderator);
    s.set_role(&owner, &ann.did(), Role::Banned, 6).unwrap();
    // Her ratings still stand, but a banned member earns nothing.
    assert_eq!(s.reputation(&ann.did()).score, 10);
    assert_eq!(s.effective_role(&ann.did()), Some((Role::Banned, None)));
    let view = s.member(&ann.did()).unwrap();
    assert_eq!(
        (view.role.as_str(), view.held),
        ("banned", RoleHeld::Assigned)
    );
    s.post(&bob, "hi", 7).unwrap();
    let hi = last_message(&s);
    assert!(s.delete_message(&ann, &hi, 8).is_err());
}

#[test]
fn concurrent_changes_are_judged_at_their_dependencies() {
    let (owner, ann, bob) = (key(1), key(2), key(3));
    let mut s = space(&owner, &[&ann, &bob]);
    s.set_earned_roles(&owner, &[by_reputation("moderator", 10)], 4)
        .unwrap();
    s.rate(&owner, &ann.did(), 5, 5).unwrap();
    s.post(&bob, "one", 6).unwrap();
    let one = last_message(&s);
    s.post(&bob, "two", 6).unwrap();
    let mut anns = s.try_copy().unwrap();
    // Concurrently: the owner lowers the rating; Ann, who has not seen it, deletes.
    s.rate(&owner, &ann.did(), 3, 7).unwrap();
    anns.delete_message(&ann, &one, 7).unwrap();
    // Both stand, in either order: the deletion was judged where Ann was a moderator.
    let mut other_order = anns.try_copy().unwrap();
    let mut owners = s.try_copy().unwrap();
    sync_pair(&mut s, &mut anns);
    sync_pair(&mut other_order, &mut owners);
    assert_eq!(s.heads(), other_order.heads());
    assert_eq!(s.timeline().len(), 1);
    // After the merge she is a member again, and a deletion that sees the lowering fails.
    assert_eq!(s.effective_role(&ann.did()), Some((Role::Member, None)));
    let two = last_message(&s);
    assert!(s.delete_message(&ann, &two, 8).is_err());
}

fn spec(name: &str) -> AbilitySpec {
    AbilitySpec {
        name: name.into(),
        description: "Does a thing".into(),
        input_schema: json!({"type": "object"}),
        output_schema: json!({"type": "object"}),
        credential: None,
        price: None,
    }
}

#[test]
fn an_ability_threshold_is_met_by_rated_outcomes_in_that_ability() {
    let (owner, ann) = (key(1), key(2));
    let mut s = space(&owner, &[&ann]);
    let threshold = EarnedRole {
        role: "moderator".into(),
        min_reputation: None,
        ability: Some("task.one".into()),
        min_ability_reputation: Some(8),
    };
    s.set_earned_roles(&owner, std::slice::from_ref(&threshold), 4)
        .unwrap();
    s.declare(&ann, &spec("task.one"), 5).unwrap();
    s.declare(&ann, &spec("task.two"), 5).unwrap();
    let outcome = |s: &mut Space, ability: &str| {
        let (_, id) = s
            .request_ability(
                &owner,
                ability,
                &json!({}),
                Target::Did(ann.did()),
                60_000,
                100,
            )
            .unwrap();
        s.claim(&ann, &id, 101).unwrap();
        s.complete(&ann, &id, &json!({}), 102).unwrap();
        s.rate_request(&owner, &id, 5, 103).unwrap();
    };
    // Two 5s from the owner in another ability: 8 points, not in `task.one`.
    outcome(&mut s, "task.two");
    outcome(&mut s, "task.two");
    assert_eq!(s.effective_role(&ann.did()), Some((Role::Member, None)));
    // One in `task.one`: 4 points there; two: 8, the threshold.
    outcome(&mut s, "task.one");
    assert_eq!(s.effective_role(&ann.did()).unwrap().0, Role::Member);
    outcome(&mut s, "task.one");
    assert_eq!(
        s.effective_role(&ann.did()),
        Some((Role::Moderator, Some(threshold)))
    );
}

/// Reputation is a function of the heads: replicas that received the same changes in
/// different orders, one change at a time or by sync, hold the same reputation and basis for
/// every member; and the reputation at past heads is what a replica that had only those
/// changes computes now.
#[test]
fn reputation_is_identical_on_every_replica_at_the_same_heads() {
    let ks: Vec<Writer> = (1..=6).map(key).collect();
    let [owner, a, b, c, d, e] = [0, 1, 2, 3, 4, 5].map(|i| &ks[i]);
    let base = space(owner, &[a, b, c, d, e]);
    // Three writers on three replicas, concurrently.
    let mut r1 = base.try_copy().unwrap();
    let mut r2 = base.try_copy().unwrap();
    let mut r3 = base.try_copy().unwrap();
    let mut past = Vec::new();
    for round in 0..4u64 {
        r1.rate(owner, &a.did(), 5 - (round % 2) as u8, 10).unwrap();
        r1.post(owner, "owner speaks", 10).unwrap();
        r2.rate(a, &b.did(), 4 + (round % 2) as u8, 10).unwrap();
        r2.post(a, "a speaks", 10).unwrap();
        r2.post(a, "a again", 10).unwrap();
        r3.rate(b, &c.did(), 4 + (round % 2) as u8, 10).unwrap();
        r3.rate(c, &d.did(), 1 + round as u8, 10).unwrap();
        r3.post(e, "e speaks", 10).unwrap();
        if round == 1 {
            sync_pair(&mut r1, &mut r2);
            past.push((r1.heads(), r1.try_copy().unwrap()));
        }
    }
    // Order 1: sync 1↔2, then 2↔3, then 1↔2. Order 2: every envelope ingested one by one
    // in reverse causal order of arrival batches (3's, then 2's, then 1's).
    sync_pair(&mut r1, &mut r2);
    sync_pair(&mut r2, &mut r3);
    sync_pair(&mut r1, &mut r2);
    let mut r4 = base.try_copy().unwrap();
    for side in [&r3, &r2, &r1] {
        for env in side.envelopes_in_order() {
            r4.ingest(env).unwrap();
        }
    }
    let heads = r1.heads();
    for r in [&r2, &r3, &r4] {
        assert_eq!(r.heads(), heads);
    }
    let members = r1.members();
    assert_eq!(members.len(), 6);
    let mut scored = 0;
    for m in &members {
        let rep = r1.reputation(&m.did);
        assert!(rep.v2.is_some());
        scored += usize::from(rep.score > 0);
        for r in [&r2, &r3, &r4] {
            assert_eq!(r.reputation(&m.did), rep, "{}", m.did);
        }
        // At the current heads, the figure at heads is the figure now.
        assert_eq!(r4.reputation_at(&m.did, &heads), Some(rep.clone()));
        // At past heads, it is what a replica holding only those changes says now.
        for (h, then) in &past {
            assert_eq!(r4.reputation_at(&m.did, h), Some(then.reputation(&m.did)));
        }
    }
    assert!(scored >= 4, "the scenario gives most members a score");
    assert_ne!(
        r4.reputation_at(&a.did(), &past[0].0),
        Some(r4.reputation(&a.did())),
        "the past differs from now"
    );
}
