//! Action budgets and space profiles (schema version 9, docs/governance.md "Budgets" and
//! "Space profiles"): their formats, checked by the rules; a member within its post, request
//! and invitation budget is accepted and one over it refused with the budget named, a role
//! with a larger budget is not held back; verdicts are the same on replicas that merged the
//! same changes in different orders, because each change is judged at its dependencies.

use automerge::transaction::Transactable;
use automerge::ScalarValue;
use serde_json::json;
use tim_crdt::abilities::{AbilitySpec, Target};
use tim_crdt::budgets::{parse_budgets, Budgets, RoleBudget, BUDGETS};
use tim_crdt::encryption::{Encryption, History};
use tim_crdt::profile::check_field;
use tim_crdt::test_utils::{assert_refused, assert_refused_locally, forge, root, sync_pair};
use tim_crdt::{schema, Role, Space, SpaceError, Writer};
use tim_protocol::api::SetProfile;

fn key(seed: u8) -> Writer {
    tim_crdt::test_utils::writer(seed)
}

/// The cast: the owner (1), an admin (2), a moderator (3), members alice (4) and bob (5),
/// and carol (6), a member who provides `text.summarize`.
struct Cast {
    owner: Writer,
    admin: Writer,
    moderator: Writer,
    alice: Writer,
    bob: Writer,
    carol: Writer,
}

/// A public space at schema version 9 with the cast.
fn space() -> (Space, Cast) {
    let c = Cast {
        owner: key(1),
        admin: key(2),
        moderator: key(3),
        alice: key(4),
        bob: key(5),
        carol: key(6),
    };
    let (mut s, _) = Space::create(&c.owner, "budgets", "", 1).unwrap();
    s.migrate(&c.owner, schema::SOCIAL, 2).unwrap();
    for (i, k) in [&c.admin, &c.moderator, &c.alice, &c.bob, &c.carol]
        .into_iter()
        .enumerate()
    {
        s.join(k, 3 + i as u64).unwrap();
    }
    s.set_role(&c.owner, &c.admin.did(), Role::Admin, 10)
        .unwrap();
    s.set_role(&c.owner, &c.moderator.did(), Role::Moderator, 11)
        .unwrap();
    let spec = AbilitySpec {
        name: "text.summarize".into(),
        description: "Summarizes a text".into(),
        input_schema: json!({"type": "object"}),
        output_schema: json!({"type": "object"}),
        credential: None,
        price: None,
    };
    s.declare(&c.carol, &spec, 12).unwrap();
    (s, c)
}

fn budget(posts: Option<u64>, requests: Option<u64>, invites: Option<u64>) -> RoleBudget {
    RoleBudget {
        posts,
        requests,
        invites,
    }
}

/// Per `period` messages (and requests): members may post 2 and request 1, moderators post
/// one less than the period; admins hold 1 unused invitation.
fn budgets(period: u64) -> Budgets {
    Budgets {
        period,
        roles: [
            ("member".to_string(), budget(Some(2), Some(1), None)),
            (
                "moderator".to_string(),
                budget(Some(period - 1), None, None),
            ),
            ("admin".to_string(), budget(None, None, Some(1))),
        ]
        .into(),
    }
}

fn post(s: &mut Space, who: &Writer, text: &str, at: u64) -> Result<(), SpaceError> {
    s.post(who, text, at).map(drop)
}

/// A change by `who`, forged at `s`'s heads, that posts `text` at the end of the timeline.
fn forged_post(s: &Space, who: &Writer, text: &str, at: i64) -> tim_protocol::Envelope {
    forge(s, who, who, at, |tx, d| {
        let timeline = root(d, "timeline");
        let len = automerge::ReadDoc::length(d, &timeline);
        let m = tx
            .insert_object(&timeline, len, automerge::ObjType::Map)
            .unwrap();
        tx.put(&m, "author", who.did().to_string()).unwrap();
        tx.put(&m, "text", text).unwrap();
    })
}

#[test]
fn the_formats_are_checked_by_their_parse_functions_and_by_the_rules() {
    let good = r#"{"period": 10, "roles": {"member": {"posts": 2}, "expert": {"requests": 3},
                   "admin": {"invites": 5}}}"#;
    let b = parse_budgets(good).unwrap();
    assert_eq!(b.period, 10);
    assert_eq!(b.roles["member"], budget(Some(2), None, None));
    for (bad, why) in [
        (r#"{"period": 0, "roles": {}}"#, "period is 1 to 1000"),
        (r#"{"period": 1001, "roles": {}}"#, "period is 1 to 1000"),
        (
            r#"{"period": 5, "roles": {"member": {"posts": 6}}}"#,
            "at most the period",
        ),
        (
            r#"{"period": 5, "roles": {"owner": {"posts": 1}}}"#,
            "never held back",
        ),
        (
            r#"{"period": 5, "roles": {"Big Role": {}}}"#,
            "cannot name a role",
        ),
        (
            r#"{"period": 5, "roles": {"member": {"post": 1}}}"#,
            "unknown field",
        ),
        (r#"{"roles": {}}"#, "missing field"),
    ] {
        let e = parse_budgets(bad).unwrap_err();
        assert!(e.contains(why), "`{bad}`: `{e}` lacks `{why}`");
    }
    check_field("kind", "problem-solving").unwrap();
    check_field("style", "casual").unwrap();
    check_field("initiative", "reactive").unwrap();
    assert!(check_field("kind", "dm")
        .unwrap_err()
        .contains("goal, social"));
    assert!(check_field("style", "loud").is_err());
    assert!(check_field("initiative", "eager").is_err());

    let (mut s, c) = space();
    // Forged meta writes: a bad value, and a good one by a member without `meta`.
    let meta_put = |s: &Space, who: &Writer, k: &'static str, v: &'static str| {
        forge(s, who, who, 50, move |tx, d| {
            tx.put(root(d, "meta"), k, v).unwrap();
        })
    };
    let e = meta_put(&s, &c.admin, BUDGETS, r#"{"period": 0, "roles": {}}"#);
    assert_refused(s.ingest(e), "period is 1 to 1000");
    let e = meta_put(&s, &c.admin, "style", "shouting");
    assert_refused(s.ingest(e), "formal, casual");
    let e = meta_put(&s, &c.alice, "kind", "goal");
    assert_refused(s.ingest(e), "permission `meta`");
    let e = meta_put(&s, &c.admin, "initiative", "proactive");
    s.ingest(e).unwrap();

    // Through the API: set, read back, the same on a replica.
    s.set_profile(
        &c.admin,
        &SetProfile {
            kind: Some("social".into()),
            style: Some("casual".into()),
            initiative: Some("reactive".into()),
        },
        60,
    )
    .unwrap();
    s.set_budgets(&c.admin, &budgets(5), 61).unwrap();
    let mut replica = Space::empty(s.id());
    sync_pair(&mut s, &mut replica);
    let p = replica.profile();
    assert_eq!(
        (
            p.kind.as_deref(),
            p.style.as_deref(),
            p.initiative.as_deref()
        ),
        (Some("social"), Some("casual"), Some("reactive"))
    );
    assert_eq!(replica.budgets(), Some(budgets(5)));
    let none = SetProfile::default();
    assert!(matches!(
        s.set_profile(&c.admin, &none, 62),
        Err(SpaceError::Invalid(_))
    ));
    assert_refused_locally(
        s.set_budgets(&c.alice, &budgets(6), 63).map(drop),
        "permission `meta`",
    );

    // Below schema version 9 the keys do not exist.
    let (mut old, _) = Space::create(&c.owner, "old", "", 1).unwrap();
    old.migrate(&c.owner, schema::REPUTATION_V2, 2).unwrap();
    assert_refused_locally(
        old.set_budgets(&c.owner, &budgets(5), 3).map(drop),
        "needs version 9",
    );
    let e = meta_put(&old, &c.owner, "kind", "goal");
    assert_refused(old.ingest(e), "cannot be changed this way");

    // A direct-message space's `kind` is `dm` for good, and shows no profile kind.
    let dm = Encryption {
        history: History::Shared,
        dm: true,
    };
    let (mut direct, _) = Space::create_encrypted(&c.owner, "dm", "", dm, 1).unwrap();
    direct.migrate(&c.owner, schema::SOCIAL, 2).unwrap();
    let e = meta_put(&direct, &c.owner, "kind", "social");
    assert_refused(direct.ingest(e), "a direct-message space's kind is `dm`");
    let e = meta_put(&direct, &c.owner, "style", "casual");
    direct.ingest(e).unwrap();
    let p = direct.profile();
    assert_eq!((p.kind, p.style.as_deref()), (None, Some("casual")));
}

#[test]
fn a_member_over_its_post_budget_is_refused_and_a_moderator_with_a_larger_one_is_not() {
    let (mut s, c) = space();
    // No budget yet: alice posts freely.
    for i in 0..3 {
        post(&mut s, &c.alice, &format!("early {i}"), 20 + i).unwrap();
    }
    s.set_budgets(&c.admin, &budgets(5), 30).unwrap();
    // The last 5 would hold 4 of alice's: refused, naming the budget.
    assert_refused_locally(
        post(&mut s, &c.alice, "too much", 31),
        "4 of the last 5 messages would be its own (counting this change's), and members may \
         post 2 per 5",
    );
    // Others write; the window slides on.
    post(&mut s, &c.bob, "bob 1", 32).unwrap();
    post(&mut s, &c.bob, "bob 2", 33).unwrap();
    assert_refused_locally(post(&mut s, &c.alice, "still", 34), "3 of the last 5");
    // Bob is held too: 2 of the last 4 are his.
    assert_refused_locally(post(&mut s, &c.bob, "bob 3", 35), "3 of the last 5");
    post(&mut s, &c.owner, "owner", 35).unwrap();
    // The last 4 (early 2, bob 1, bob 2, owner) and this one: 2 of 5 are alice's.
    post(&mut s, &c.alice, "within", 36).unwrap();
    post(&mut s, &c.alice, "again", 37).unwrap();
    assert_refused_locally(post(&mut s, &c.alice, "third", 38), "3 of the last 5");

    // The moderator may post 4 per 5.
    for i in 0..4 {
        post(&mut s, &c.moderator, &format!("mod {i}"), 40 + i).unwrap();
    }
    assert_refused_locally(
        post(&mut s, &c.moderator, "mod 4", 44),
        "moderators may post 4 per 5",
    );
    // The owner has no budget; the admin's has no posts count.
    for i in 0..6 {
        post(&mut s, &c.owner, &format!("owner {i}"), 50 + i).unwrap();
        post(&mut s, &c.admin, &format!("admin {i}"), 60 + i).unwrap();
    }
    // A forged change that posts three messages at once counts them all.
    let env = forge(&s, &c.bob, &c.bob, 70, |tx, d| {
        let timeline = root(d, "timeline");
        let author = c.bob.did().to_string();
        for i in 0..3 {
            let len = automerge::ReadDoc::length(d, &timeline) + i;
            let m = tx
                .insert_object(&timeline, len, automerge::ObjType::Map)
                .unwrap();
            tx.put(&m, "author", author.as_str()).unwrap();
            tx.put(&m, "text", "burst").unwrap();
            tx.put(&m, "at", ScalarValue::Timestamp(70)).unwrap();
        }
    });
    assert_refused(s.ingest(env), "3 of the last 5 messages");
    // A promotion lifts the limit at once.
    s.set_role(&c.owner, &c.alice.did(), Role::Moderator, 80)
        .unwrap();
    post(&mut s, &c.alice, "as a moderator", 81).unwrap();
    post(&mut s, &c.alice, "twice", 82).unwrap();
    post(&mut s, &c.alice, "thrice", 83).unwrap();
}

#[test]
fn requests_and_invitations_have_their_own_budgets() {
    let (mut s, c) = space();
    s.set_budgets(&c.admin, &budgets(3), 20).unwrap();
    let ask = |s: &mut Space, who: &Writer, at: u64| {
        s.request_ability(
            who,
            "text.summarize",
            &json!({"text": "x"}),
            Target::Did(c.carol.did()),
            60_000,
            at,
        )
        .map(drop)
    };
    ask(&mut s, &c.alice, 21).unwrap();
    assert_refused_locally(
        ask(&mut s, &c.alice, 22),
        "2 of the last 3 requests would be its own (counting this change's), and members may \
         request 1 per 3",
    );
    ask(&mut s, &c.bob, 23).unwrap();
    assert_refused_locally(ask(&mut s, &c.alice, 24), "2 of the last 3 requests");
    ask(&mut s, &c.moderator, 25).unwrap();
    // The last 2 are bob's and the moderator's: alice's turn again.
    ask(&mut s, &c.alice, 26).unwrap();
    // Posting is a separate budget: alice's requests do not count as messages.
    post(&mut s, &c.alice, "a message", 27).unwrap();

    // The admin may hold one unused invitation; a join uses it and frees the budget.
    let (x, y) = (key(20), key(21));
    s.invite(&c.admin, &x.did(), 1_000_000, 30).unwrap();
    assert_refused_locally(
        s.invite(&c.admin, &y.did(), 1_000_000, 31).map(drop),
        "it would hold 2 unused invitations, and admins may hold 1",
    );
    // Inviting the same timite again replaces the unused invitation: still one.
    s.invite(&c.admin, &x.did(), 2_000_000, 32).unwrap();
    s.join(&x, 33).unwrap();
    s.invite(&c.admin, &y.did(), 1_000_000, 34).unwrap();
    // The owner is never held back.
    for i in 0..3 {
        s.invite(&c.owner, &key(30 + i).did(), 1_000_000, 40 + u64::from(i))
            .unwrap();
    }
}

#[test]
fn verdicts_are_the_same_on_replicas_that_merged_in_different_orders() {
    let (mut a, c) = space();
    a.set_budgets(&c.admin, &budgets(3), 20).unwrap();
    post(&mut a, &c.bob, "before", 21).unwrap();
    let mut b = Space::empty(a.id());
    sync_pair(&mut a, &mut b);
    // Concurrently: alice posts on replica a, bob and the moderator on replica b.
    post(&mut a, &c.alice, "alice 1", 30).unwrap();
    post(&mut a, &c.alice, "alice 2", 30).unwrap();
    post(&mut b, &c.bob, "bob 1", 31).unwrap();
    post(&mut b, &c.moderator, "mod 1", 32).unwrap();
    // Alice's third post made on a, at a's heads: all of the last 3 would be hers.
    let early = forged_post(&a, &c.alice, "alice 3", 33);

    // Two replicas that receive the same changes in different orders.
    let merged = |first: &Space, second: &Space| {
        let mut m = Space::empty(first.id());
        sync_pair(&mut first.try_copy().unwrap(), &mut m);
        sync_pair(&mut second.try_copy().unwrap(), &mut m);
        m
    };
    let mut ab = merged(&a, &b);
    let mut ba = merged(&b, &a);
    assert_eq!(ab.heads(), ba.heads());
    // Judged at its dependencies, not at the receivers' heads: refused on both.
    assert_refused(ab.ingest(early.clone()), "3 of the last 3 messages");
    assert_refused(ba.ingest(early), "3 of the last 3 messages");

    // A post at the merged heads: the window is the last 2 messages in the merged order (the
    // same on both), and the verdict follows from it on both replicas.
    let timeline = ab.timeline();
    let last_two = &timeline[timeline.len() - 2..];
    let alice_in_window = last_two
        .iter()
        .filter(|m| m.author == c.alice.did())
        .count();
    let late = forged_post(&ab, &c.alice, "alice 4", 40);
    for replica in [&mut ab, &mut ba] {
        let verdict = replica.ingest(late.clone());
        if alice_in_window == 2 {
            assert_refused(verdict, "3 of the last 3 messages");
        } else {
            verdict.unwrap();
        }
    }
    assert_eq!(ab.heads(), ba.heads());
}
