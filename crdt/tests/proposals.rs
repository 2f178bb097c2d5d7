//! Proposals and votes (schema version 9, docs/governance.md): a proposal passes by vote and
//! its close enacts its action without the `roles` or `meta` permission; a failed or withdrawn
//! one changes nothing; every hostile step is refused with its reason (an ineligible voter, a
//! second vote, a vote after the close, a forged tally, a close before the proposal is
//! decided, an enactment unlike the action, a role write with neither the permission nor a
//! close); and replicas that vote and close concurrently, merging in random orders, read the
//! same proposals and roles.

use automerge::transaction::{Transactable, Transaction};
use automerge::{Automerge, ObjType, ReadDoc, ScalarValue};
use proptest::prelude::*;
use tim_crdt::test_utils::{assert_refused, forge, root, sync_pair};
use tim_crdt::{Role, Space, Writer};
use tim_protocol::api::{Choice, NewProposal, Outcome, ProposalAction, Tally};

fn key(seed: u8) -> Writer {
    tim_crdt::test_utils::writer(seed)
}

/// The cast: the owner (1), members alice (2) and bob (3).
struct Cast {
    owner: Writer,
    alice: Writer,
    bob: Writer,
}

/// A public space at schema version 9 with the owner, alice and bob: three eligible voters.
fn space() -> (Space, Cast) {
    let c = Cast {
        owner: key(1),
        alice: key(2),
        bob: key(3),
    };
    let (mut s, _) = Space::create(&c.owner, "votes", "", 1).unwrap();
    s.migrate(&c.owner, 9, 2).unwrap();
    s.join(&c.alice, 3).unwrap();
    s.join(&c.bob, 4).unwrap();
    (s, c)
}

fn proposal(action: ProposalAction) -> NewProposal {
    NewProposal {
        action,
        min_role: None,
        min_reputation: None,
        quorum: None,
        threshold: None,
        closes_after: None,
    }
}

fn promote(k: &Writer) -> NewProposal {
    proposal(ProposalAction::Role {
        did: k.did(),
        role: "moderator".into(),
    })
}

/// alice proposes `p` at 10; returns its id.
fn propose(s: &mut Space, c: &Cast, p: &NewProposal) -> String {
    s.propose(&c.alice, p, 10).unwrap().1
}

/// The object of proposal `id` in `doc`.
fn obj(doc: &Automerge, id: &str) -> automerge::ObjId {
    doc.import(id).unwrap().0
}

/// Writes a close of `id` by `by` with `outcome` and the tally `t`.
fn write_close(
    tx: &mut Transaction<'_>,
    doc: &Automerge,
    id: &str,
    by: &Writer,
    outcome: &str,
    t: Tally,
) {
    let c = tx.put_object(obj(doc, id), "closed", ObjType::Map).unwrap();
    tx.put(&c, "by", by.did().to_string()).unwrap();
    tx.put(&c, "outcome", outcome).unwrap();
    for (k, v) in [
        ("yes", t.yes),
        ("no", t.no),
        ("abstain", t.abstain),
        ("eligible", t.eligible),
    ] {
        tx.put(&c, k, ScalarValue::Uint(v)).unwrap();
    }
}

/// The member entry of `who` in `doc`.
fn entry(doc: &Automerge, who: &Writer) -> automerge::ObjId {
    let members = root(doc, "members");
    doc.get(&members, who.did().to_string()).unwrap().unwrap().1
}

#[test]
fn a_passed_proposal_promotes_without_an_admin() {
    let (mut s, c) = space();
    let id = propose(&mut s, &c, &promote(&c.bob));
    s.vote(&c.alice, &id, Choice::Yes, 11).unwrap();
    let v = s.proposal(&id, Some(&c.alice.did())).unwrap();
    assert_eq!(v.decided, None, "1 yes of 3 is not more than half");
    assert_eq!(v.my_vote, Some(Choice::Yes));
    s.vote(&c.bob, &id, Choice::Yes, 12).unwrap();
    assert_eq!(s.decided_open(), vec![id.clone()]);
    // bob, a member (no `roles` permission), closes it: the close carries his promotion.
    let (applied, outcome) = s.close_proposal(&c.bob, &id, false, 13).unwrap();
    assert_eq!(outcome, Outcome::Passed);
    assert!(applied.effects.iter().any(|e| matches!(
        e,
        tim_crdt::Effect::RoleChanged {
            role: Role::Moderator,
            ..
        }
    )));
    assert_eq!(s.role_of(&c.bob.did()), Some(Role::Moderator));
    let v = s.proposal(&id, None).unwrap();
    assert_eq!(v.outcome, Some(Outcome::Passed));
    assert_eq!(
        v.tally,
        Tally {
            yes: 2,
            no: 0,
            abstain: 0,
            eligible: 3
        }
    );
    assert_eq!(v.closed_by, Some(c.bob.did()));
    // Another replica takes the same changes in and reaches the same role.
    let mut other = Space::empty(s.id());
    sync_pair(&mut s, &mut other);
    assert_eq!(other.role_of(&c.bob.did()), Some(Role::Moderator));
}

#[test]
fn an_admin_closes_a_vote_that_makes_an_admin_which_it_could_not_alone() {
    let (mut s, c) = space();
    s.set_role(&c.owner, &c.alice.did(), Role::Admin, 5)
        .unwrap();
    assert!(s.set_role(&c.alice, &c.bob.did(), Role::Admin, 6).is_err());
    let p = proposal(ProposalAction::Role {
        did: c.bob.did(),
        role: "admin".into(),
    });
    let id = propose(&mut s, &c, &p);
    s.vote(&c.alice, &id, Choice::Yes, 11).unwrap();
    s.vote(&c.bob, &id, Choice::Yes, 12).unwrap();
    s.close_proposal(&c.alice, &id, false, 13).unwrap();
    assert_eq!(s.role_of(&c.bob.did()), Some(Role::Admin));
}

#[test]
fn a_meta_proposal_changes_the_purpose_and_a_failed_one_changes_nothing() {
    let (mut s, c) = space();
    let purpose = proposal(ProposalAction::Meta {
        key: "purpose".into(),
        value: "decided together".into(),
    });
    let id = propose(&mut s, &c, &purpose);
    s.vote(&c.alice, &id, Choice::Yes, 11).unwrap();
    s.vote(&c.owner, &id, Choice::Yes, 12).unwrap();
    s.close_proposal(&c.alice, &id, false, 13).unwrap();
    assert_eq!(s.meta().unwrap().purpose, "decided together");

    let ban = proposal(ProposalAction::Ban { did: c.bob.did() });
    let id = propose(&mut s, &c, &ban);
    assert!(s.close_proposal(&c.alice, &id, false, 14).is_err());
    for k in [&c.alice, &c.bob, &c.owner] {
        s.vote(k, &id, Choice::No, 15).unwrap();
    }
    let (_, outcome) = s.close_proposal(&c.bob, &id, false, 16).unwrap();
    assert_eq!(outcome, Outcome::Failed);
    assert_eq!(s.role_of(&c.bob.did()), Some(Role::Member));
    // A closed proposal takes no more votes.
    assert!(s.vote(&c.alice, &id, Choice::Yes, 17).is_err());
}

#[test]
fn a_vote_by_an_ineligible_member_is_refused() {
    let (mut s, c) = space();
    let mut p = promote(&c.bob);
    p.min_role = Some("moderator".into());
    let id = propose(&mut s, &c, &p);
    assert!(s.vote(&c.alice, &id, Choice::Yes, 11).is_err());
    let env = forge(&s, &c.alice, &c.alice, 11, |tx, doc| {
        let votes = doc.get(obj(doc, &id), "votes").unwrap().unwrap().1;
        let v = tx
            .put_object(&votes, c.alice.did().to_string(), ObjType::Map)
            .unwrap();
        tx.put(&v, "choice", "yes").unwrap();
    });
    assert_refused(s.ingest(env), "not eligible");
    // The owner ranks above moderator: it votes.
    s.vote(&c.owner, &id, Choice::Yes, 12).unwrap();
}

#[test]
fn a_second_vote_is_refused_but_a_changed_choice_counts() {
    let (mut s, c) = space();
    let id = propose(&mut s, &c, &promote(&c.bob));
    s.vote(&c.alice, &id, Choice::Yes, 11).unwrap();
    let env = forge(&s, &c.alice, &c.alice, 12, |tx, doc| {
        let votes = doc.get(obj(doc, &id), "votes").unwrap().unwrap().1;
        let v = tx
            .put_object(&votes, c.alice.did().to_string(), ObjType::Map)
            .unwrap();
        tx.put(&v, "choice", "no").unwrap();
    });
    assert_refused(s.ingest(env), "a second vote");
    s.vote(&c.alice, &id, Choice::No, 13).unwrap();
    assert_eq!(s.proposal(&id, None).unwrap().tally.no, 1);
    // Nobody votes for another.
    let env = forge(&s, &c.bob, &c.bob, 14, |tx, doc| {
        let votes = doc.get(obj(doc, &id), "votes").unwrap().unwrap().1;
        let v = tx
            .put_object(&votes, c.owner.did().to_string(), ObjType::Map)
            .unwrap();
        tx.put(&v, "choice", "yes").unwrap();
    });
    assert_refused(s.ingest(env), "only its own vote");
}

#[test]
fn a_vote_after_the_close_is_refused() {
    let (mut s, c) = space();
    let id = propose(&mut s, &c, &promote(&c.bob));
    s.vote(&c.bob, &id, Choice::Yes, 11).unwrap();
    s.close_proposal(&c.alice, &id, true, 12).unwrap();
    assert_eq!(
        s.proposal(&id, None).unwrap().outcome,
        Some(Outcome::Withdrawn)
    );
    // bob changes his existing vote, alice makes a new one: both after the close.
    let env = forge(&s, &c.bob, &c.bob, 13, |tx, doc| {
        let votes = doc.get(obj(doc, &id), "votes").unwrap().unwrap().1;
        let v = doc.get(&votes, c.bob.did().to_string()).unwrap().unwrap().1;
        tx.put(&v, "choice", "no").unwrap();
    });
    assert_refused(s.ingest(env), "a vote after the close");
    let env = forge(&s, &c.alice, &c.alice, 13, |tx, doc| {
        let votes = doc.get(obj(doc, &id), "votes").unwrap().unwrap().1;
        let v = tx
            .put_object(&votes, c.alice.did().to_string(), ObjType::Map)
            .unwrap();
        tx.put(&v, "choice", "yes").unwrap();
    });
    assert_refused(s.ingest(env), "a vote after the close");
    assert_eq!(s.role_of(&c.bob.did()), Some(Role::Member));
}

#[test]
fn a_forged_tally_and_an_early_close_are_refused() {
    let (mut s, c) = space();
    let id = propose(&mut s, &c, &promote(&c.bob));
    s.vote(&c.alice, &id, Choice::Yes, 11).unwrap();
    let forged = Tally {
        yes: 2,
        no: 0,
        abstain: 0,
        eligible: 3,
    };
    let env = forge(&s, &c.alice, &c.alice, 12, |tx, doc| {
        write_close(tx, doc, &id, &c.alice, "passed", forged);
        tx.put(entry(doc, &c.bob), "role", "moderator").unwrap();
    });
    assert_refused(s.ingest(env), "a forged tally");
    let honest = Tally {
        yes: 1,
        no: 0,
        abstain: 0,
        eligible: 3,
    };
    let env = forge(&s, &c.alice, &c.alice, 12, |tx, doc| {
        write_close(tx, doc, &id, &c.alice, "failed", honest);
    });
    assert_refused(s.ingest(env), "not decided");
    // Only its author withdraws it.
    let env = forge(&s, &c.bob, &c.bob, 12, |tx, doc| {
        write_close(tx, doc, &id, &c.bob, "withdrawn", honest);
    });
    assert_refused(s.ingest(env), "only its author withdraws");
    assert_eq!(s.role_of(&c.bob.did()), Some(Role::Member));
}

#[test]
fn an_enactment_must_be_exactly_the_action() {
    let (mut s, c) = space();
    let id = propose(&mut s, &c, &promote(&c.bob));
    s.vote(&c.alice, &id, Choice::Yes, 11).unwrap();
    s.vote(&c.bob, &id, Choice::Yes, 12).unwrap();
    let t = s.proposal(&id, None).unwrap().tally;
    // A passing close that makes bob admin instead of moderator.
    let env = forge(&s, &c.bob, &c.bob, 13, |tx, doc| {
        write_close(tx, doc, &id, &c.bob, "passed", t);
        tx.put(entry(doc, &c.bob), "role", "admin").unwrap();
    });
    assert_refused(s.ingest(env), "exactly its action's writes");
    // A passing close without its action.
    let env = forge(&s, &c.bob, &c.bob, 13, |tx, doc| {
        write_close(tx, doc, &id, &c.bob, "passed", t);
    });
    assert_refused(s.ingest(env), "exactly its action's writes");
    // A passing close that also makes alice moderator.
    let env = forge(&s, &c.bob, &c.bob, 13, |tx, doc| {
        write_close(tx, doc, &id, &c.bob, "passed", t);
        tx.put(entry(doc, &c.bob), "role", "moderator").unwrap();
        tx.put(entry(doc, &c.alice), "role", "moderator").unwrap();
    });
    assert_refused(s.ingest(env), "exactly its action's writes");
    // A close that says it failed cannot carry the role either.
    let env = forge(&s, &c.bob, &c.bob, 13, |tx, doc| {
        write_close(tx, doc, &id, &c.bob, "failed", t);
        tx.put(entry(doc, &c.bob), "role", "moderator").unwrap();
    });
    assert_refused(
        s.ingest(env),
        "is passed at this close's dependencies, not failed",
    );
    assert_eq!(s.role_of(&c.bob.did()), Some(Role::Member));
}

#[test]
fn a_role_write_without_permission_or_close_is_refused() {
    let (mut s, c) = space();
    let env = forge(&s, &c.alice, &c.alice, 11, |tx, doc| {
        tx.put(entry(doc, &c.bob), "role", "moderator").unwrap();
    });
    assert_refused(s.ingest(env), "changing roles needs");
    let env = forge(&s, &c.alice, &c.alice, 11, |tx, doc| {
        tx.put(root(doc, "meta"), "purpose", "mine").unwrap();
    });
    assert_refused(s.ingest(env), "changing the space's meta needs");
    // No proposal makes or unmakes the owner.
    let owner = proposal(ProposalAction::Role {
        did: c.alice.did(),
        role: "owner".into(),
    });
    assert!(s.propose(&c.alice, &owner, 12).is_err());
    let ban_owner = proposal(ProposalAction::Ban { did: c.owner.did() });
    assert!(s.propose(&c.alice, &ban_owner, 12).is_err());
}

#[test]
fn proposals_wait_for_schema_version_9() {
    let owner = key(1);
    let (mut s, _) = Space::create(&owner, "old", "", 1).unwrap();
    s.migrate(&owner, 8, 2).unwrap();
    assert!(s.propose(&owner, &promote(&owner), 3).is_err());
}

#[test]
fn of_two_concurrent_closes_the_passed_one_decides_everywhere() {
    let (mut s, c) = space();
    let p = NewProposal {
        closes_after: Some(2),
        ..promote(&c.bob)
    };
    let id = propose(&mut s, &c, &p);
    s.vote(&c.alice, &id, Choice::Yes, 11).unwrap();
    s.vote(&c.bob, &id, Choice::Yes, 12).unwrap();
    let mut other = Space::empty(s.id());
    sync_pair(&mut s, &mut other);
    // Here alice closes it as passed; there bob, concurrently, changes his vote to no and
    // closes it as failed (2 votes cast, 1 yes of 3).
    let (_, passed) = s.close_proposal(&c.alice, &id, false, 13).unwrap();
    other.vote(&c.bob, &id, Choice::No, 13).unwrap();
    let (_, failed) = other.close_proposal(&c.bob, &id, false, 14).unwrap();
    assert_eq!((passed, failed), (Outcome::Passed, Outcome::Failed));
    sync_pair(&mut s, &mut other);
    for r in [&s, &other] {
        let v = r.proposal(&id, None).unwrap();
        assert_eq!(v.outcome, Some(Outcome::Passed));
        assert_eq!(v.closed_by, Some(c.alice.did()));
        assert_eq!(v.tally.yes, 2, "the passing close's figures");
        assert_eq!(r.role_of(&c.bob.did()), Some(Role::Moderator));
    }
    // bob's changed vote, concurrent with the passing close, is kept but did not count.
    let votes = s.proposal(&id, None).unwrap().votes;
    assert!(votes
        .iter()
        .any(|v| v.voter == c.bob.did() && v.choice == Choice::No));
}

#[derive(Debug, Clone)]
enum Step {
    /// Voter `v` (0 owner, 1 alice, 2 bob, 3 carol) votes on its replica.
    Vote(usize, Choice),
    /// Voter `v` closes the proposal on its replica if it is decided there.
    Close(usize),
    /// The owner bans carol on replica 0.
    BanCarol,
    /// Two replicas exchange changes.
    Sync(usize, usize),
}

const REPLICAS: usize = 3;

fn step() -> impl Strategy<Value = Step> {
    let choice = prop_oneof![Just(Choice::Yes), Just(Choice::No), Just(Choice::Abstain)];
    prop_oneof![
        4 => (0..4usize, choice).prop_map(|(v, c)| Step::Vote(v, c)),
        2 => (0..4usize).prop_map(Step::Close),
        1 => Just(Step::BanCarol),
        3 => (0..REPLICAS, 0..REPLICAS).prop_map(|(a, b)| Step::Sync(a, b)),
    ]
}

fn pair(v: &mut [Space], a: usize, b: usize) -> (&mut Space, &mut Space) {
    let (lo, hi) = (a.min(b), a.max(b));
    let (left, right) = v.split_at_mut(hi);
    (&mut left[lo], &mut right[0])
}

/// Replicas vote, close and ban concurrently, then merge in the order `merge` gives; every
/// replica reads the same proposal (outcome, the close's figures) and the same roles, and the
/// role follows the outcome.
fn run(steps: Vec<Step>, merge: Vec<(usize, usize)>) {
    let voters = [key(1), key(2), key(3), key(4)];
    let (mut first, _) = Space::create(&voters[0], "prop", "", 1).unwrap();
    first.migrate(&voters[0], 9, 2).unwrap();
    for (i, k) in voters.iter().enumerate().skip(1) {
        first.join(k, 2 + i as u64).unwrap();
    }
    let p = NewProposal {
        closes_after: Some(3),
        ..promote(&voters[2])
    };
    let id = first.propose(&voters[1], &p, 10).unwrap().1;
    let mut spaces: Vec<Space> = (0..REPLICAS).map(|_| Space::empty(first.id())).collect();
    spaces[0] = first;
    for i in 1..REPLICAS {
        let (a, b) = pair(&mut spaces, 0, i);
        sync_pair(a, b);
    }
    let mut clock = 20;
    for s in steps {
        clock += 1;
        match s {
            // Voter v lives on replica v % REPLICAS; refusals (closed, banned) are expected.
            Step::Vote(v, choice) => {
                let _ = spaces[v % REPLICAS].vote(&voters[v], &id, choice, clock);
            }
            Step::Close(v) => {
                let _ = spaces[v % REPLICAS].close_proposal(&voters[v], &id, false, clock);
            }
            Step::BanCarol => {
                let _ = spaces[0].set_role(&voters[0], &voters[3].did(), Role::Banned, clock);
            }
            Step::Sync(a, b) if a != b => {
                let (x, y) = pair(&mut spaces, a, b);
                sync_pair(x, y);
            }
            Step::Sync(..) => {}
        }
    }
    for (a, b) in merge.into_iter().chain([(0, 1), (1, 2), (0, 2), (0, 1)]) {
        if a != b {
            let (x, y) = pair(&mut spaces, a, b);
            sync_pair(x, y);
        }
    }
    let read = |s: &Space| {
        (
            s.heads(),
            s.proposal(&id, None),
            s.role_of(&voters[2].did()),
        )
    };
    let first = read(&spaces[0]);
    for s in &spaces[1..] {
        assert_eq!(read(s), first);
    }
    let (_, view, bob) = first;
    let view = view.unwrap();
    let promoted = bob == Some(Role::Moderator);
    assert_eq!(promoted, view.outcome == Some(Outcome::Passed));
    if let Some(o) = view.outcome {
        // The recorded figures decide the recorded outcome.
        let passes = view.tally.passes(view.quorum, view.threshold);
        assert_eq!(o == Outcome::Passed, passes, "{view:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn concurrent_votes_and_closes_converge(
        steps in prop::collection::vec(step(), 1..24),
        merge in prop::collection::vec((0..REPLICAS, 0..REPLICAS), 0..4),
    ) {
        run(steps, merge);
    }
}

/// Voters by reputation, and by an earned role: the owner rates alice 5, so alice holds 10
/// points (half the owner's standing × 5 × 2) and bob none.
#[test]
fn voters_are_chosen_by_reputation_or_by_an_earned_role() {
    let (mut s, c) = space();
    s.rate(&c.owner, &c.alice.did(), 5, 5).unwrap();
    assert_eq!(s.reputation(&c.alice.did()).score, 10);
    assert_eq!(s.reputation(&c.bob.did()).score, 0);

    // By reputation: only alice reaches 5 points (the owner has standing but no points).
    let mut p = promote(&c.bob);
    p.min_reputation = Some(5);
    let id = propose(&mut s, &c, &p);
    assert!(s.vote(&c.bob, &id, Choice::Yes, 11).is_err());
    assert!(s.vote(&c.owner, &id, Choice::Yes, 11).is_err());
    let env = forge(&s, &c.bob, &c.bob, 11, |tx, doc| {
        let votes = doc.get(obj(doc, &id), "votes").unwrap().unwrap().1;
        let v = tx
            .put_object(&votes, c.bob.did().to_string(), ObjType::Map)
            .unwrap();
        tx.put(&v, "choice", "yes").unwrap();
    });
    assert_refused(s.ingest(env), "with reputation 5 or more");
    s.vote(&c.alice, &id, Choice::Yes, 12).unwrap();
    let v = s.proposal(&id, None).unwrap();
    assert_eq!((v.tally.eligible, v.tally.yes), (1, 1));
    assert_eq!(v.min_reputation, Some(5));
    assert_eq!(
        s.close_proposal(&c.alice, &id, false, 13).unwrap().1,
        Outcome::Passed
    );
    assert_eq!(s.role_of(&c.bob.did()), Some(Role::Moderator));

    // By an earned role: moderators vote; alice earns moderator at 5 points, bob now holds
    // it by the vote above, the owner outranks it.
    let earned = tim_protocol::api::EarnedRole {
        role: "moderator".into(),
        min_reputation: Some(5),
        ability: None,
        min_ability_reputation: None,
    };
    s.set_earned_roles(&c.owner, &[earned], 14).unwrap();
    let mut p = proposal(ProposalAction::Meta {
        key: "purpose".into(),
        value: "moderated".into(),
    });
    p.min_role = Some("moderator".into());
    let id = propose(&mut s, &c, &p);
    s.vote(&c.alice, &id, Choice::Yes, 15).unwrap();
    assert_eq!(s.proposal(&id, None).unwrap().tally.eligible, 3);
    // The owner takes its 5 back: alice's earned role lapses, and with it her vote.
    s.rate(&c.owner, &c.alice.did(), 3, 16).unwrap();
    let v = s.proposal(&id, None).unwrap();
    assert_eq!((v.tally.eligible, v.tally.yes), (2, 0));
    assert!(s.vote(&c.alice, &id, Choice::No, 17).is_err());
}
