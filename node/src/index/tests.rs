use std::collections::HashMap;

use serde_json::json;
use tim_crdt::abilities::AbilitySpec;
use tim_crdt::test_utils::writer;
use tim_crdt::{Role, Space, Visibility};

use super::*;

const NOW: u64 = 1_700_000_000_000;

fn id(seed: u8) -> Identity {
    Identity::from_seed([seed; 32])
}

fn body(provider: &Identity, name: &str, summary: &str, attested: bool) -> EntryBody {
    EntryBody {
        space: SpaceId::from([7; 32]),
        space_name: "workshop".into(),
        provider: provider.did(),
        name: name.into(),
        summary: summary.into(),
        schemas: vec![0; 32],
        attested,
        price: None,
        declared_at: NOW - 5,
    }
}

/// A record of `node` with `entries` (each signed by its provider for `node`).
fn record(node: &Identity, seq: u64, entries: Vec<Entry>) -> Vec<u8> {
    let addrs = vec!["/ip4/127.0.0.1/tcp/4001".to_string()];
    Record::sign(node, seq, NOW, NOW + 60_000, addrs, entries).0
}

fn one_entry(node: &Identity, provider: &Identity, name: &str) -> Entry {
    Entry::sign(
        provider,
        &node.did(),
        body(provider, name, "does things", false),
    )
}

/// Re-signs a record's body as `node` after `edit`: a node that lies about what it carries.
fn resigned(data: &[u8], node: &Identity, edit: impl FnOnce(&mut RecordBody)) -> Vec<u8> {
    use ed25519_dalek::Signer;
    let mut r: Record = codec::decode(data, usize::MAX).unwrap();
    edit(&mut r.body);
    r.sig = node
        .signing_key()
        .sign(&record_message(&r.body))
        .to_bytes()
        .to_vec();
    codec::encode(&r)
}

#[test]
fn a_record_round_trips_and_names_its_node_and_addresses() {
    let (node, alice) = (id(1), id(2));
    let data = record(&node, 1, vec![one_entry(&node, &alice, "text.summarize")]);
    let mut cache = Cache::default();
    assert_eq!(cache.receive(&data, NOW), Ok((node.did(), 1)));
    let hits = cache.search("summarize", 10, NOW);
    assert_eq!(hits.len(), 1);
    let h = &hits[0];
    let peer = crate::peer_id_of(&node);
    assert_eq!(
        (h.provider, h.ability.as_str()),
        (alice.did(), "text.summarize")
    );
    assert_eq!(
        (h.node, h.published_at, h.declared_at),
        (peer, NOW, NOW - 5)
    );
    assert_eq!(
        h.addrs,
        vec![format!("/ip4/127.0.0.1/tcp/4001/p2p/{peer}")
            .parse::<Multiaddr>()
            .unwrap()]
    );
    assert_eq!((h.space_name.as_str(), h.text), ("workshop", 1000));
}

#[test]
fn a_forged_node_signature_is_rejected() {
    let (node, alice) = (id(1), id(2));
    let data = record(&node, 1, vec![one_entry(&node, &alice, "text.summarize")]);
    let mut r: Record = codec::decode(&data, usize::MAX).unwrap();
    r.sig[0] ^= 1;
    let e = Cache::default()
        .receive(&codec::encode(&r), NOW)
        .unwrap_err();
    assert_eq!(e, Refusal::BadSignature);
    assert_eq!(e.verdict(), MessageAcceptance::Reject);
    // Another node's key over the same body.
    let forged = resigned(&data, &id(3), |_| {});
    assert_eq!(
        Cache::default().receive(&forged, NOW),
        Err(Refusal::BadSignature)
    );
}

#[test]
fn an_entry_not_signed_by_its_provider_for_this_node_is_rejected() {
    let (node, alice, mallory) = (id(1), id(2), id(3));
    // Mallory signs an entry that names Alice as the provider.
    let mut wrong = one_entry(&node, &mallory, "text.summarize");
    wrong.body.provider = alice.did();
    let data = record(&node, 1, vec![wrong]);
    let e = Cache::default().receive(&data, NOW).unwrap_err();
    assert!(matches!(e, Refusal::BadEntry { index: 0, .. }), "{e:?}");
    assert_eq!(e.verdict(), MessageAcceptance::Reject);
    // Alice's genuine entry, signed for node 1, copied into node 4's record.
    let copied = one_entry(&node, &alice, "text.summarize");
    let data = record(&id(4), 1, vec![copied]);
    let e = Cache::default().receive(&data, NOW).unwrap_err();
    assert!(
        e.to_string()
            .contains("not signed by its provider for this node"),
        "{e}"
    );
}

#[test]
fn oversize_and_out_of_bounds_records_are_rejected() {
    let node = id(1);
    let too_big = vec![0u8; MAX_RECORD_BYTES + 1];
    let e = Cache::default().receive(&too_big, NOW).unwrap_err();
    assert!(matches!(e, Refusal::Malformed(_)), "{e:?}");
    assert_eq!(e.verdict(), MessageAcceptance::Reject);
    assert!(matches!(
        Cache::default().receive(b"not cbor", NOW),
        Err(Refusal::Malformed(_))
    ));
    let data = record(&node, 1, vec![]);
    type Edit = Box<dyn FnOnce(&mut RecordBody)>;
    let cases: Vec<(&str, Edit)> = vec![
        (
            "too many entries",
            Box::new(|b| {
                let e = one_entry(&id(1), &id(2), "text.summarize");
                b.entries = vec![e; MAX_ENTRIES + 1];
            }),
        ),
        (
            "an address with /p2p/",
            Box::new(|b| {
                b.addrs = vec![format!(
                    "/ip4/1.2.3.4/tcp/1/p2p/{}",
                    crate::peer_id_of(&id(1))
                )]
            }),
        ),
        (
            "too many addresses",
            Box::new(|b| b.addrs = vec!["/ip4/1.2.3.4/tcp/1".into(); MAX_ADDRS + 1]),
        ),
        (
            "a long summary",
            Box::new(|b| {
                let mut e = body(&id(2), "text.summarize", "", false);
                e.summary = "x".repeat(MAX_SUMMARY_BYTES + 1);
                b.entries = vec![Entry::sign(&id(2), &id(1).did(), e)];
            }),
        ),
        ("another version", Box::new(|b| b.v = 2)),
    ];
    for (what, edit) in cases {
        let e = Cache::default()
            .receive(&resigned(&data, &node, edit), NOW)
            .unwrap_err();
        assert!(matches!(e, Refusal::Bounds(_)), "{what}: {e:?}");
        assert_eq!(e.verdict(), MessageAcceptance::Reject, "{what}");
    }
}

#[test]
fn expired_future_and_overlong_records_are_dropped() {
    let node = id(1);
    let data = record(&node, 1, vec![one_entry(&node, &id(2), "text.summarize")]);
    let e = Cache::default().receive(&data, NOW + 60_000).unwrap_err();
    assert_eq!(
        (e.clone(), e.verdict()),
        (Refusal::Expired, MessageAcceptance::Ignore)
    );
    let e = Cache::default()
        .receive(&data, NOW - MAX_CLOCK_SKEW_MS - 1)
        .unwrap_err();
    assert_eq!(
        (e.clone(), e.verdict()),
        (Refusal::Future, MessageAcceptance::Ignore)
    );
    let long = resigned(&data, &node, |b| {
        b.expires_at = b.published_at + MAX_TTL_MS + 1
    });
    let e = Cache::default().receive(&long, NOW).unwrap_err();
    assert_eq!(e.verdict(), MessageAcceptance::Reject, "{e:?}");
    // A held record stops being listed, and is dropped, when it expires.
    let mut cache = Cache::default();
    cache.receive(&data, NOW).unwrap();
    assert_eq!(cache.search("", 10, NOW + 59_999).len(), 1);
    assert!(cache.search("", 10, NOW + 60_000).is_empty());
    cache.expire(NOW + 60_000);
    assert_eq!(cache.entries(), 0);
}

#[test]
fn a_replayed_or_older_sequence_is_ignored_and_a_newer_one_replaces() {
    let (node, alice) = (id(1), id(2));
    let two = record(
        &node,
        5,
        vec![
            one_entry(&node, &alice, "text.summarize"),
            one_entry(&node, &alice, "text.translate"),
        ],
    );
    let mut cache = Cache::default();
    cache.receive(&two, NOW).unwrap();
    let e = cache.receive(&two, NOW).unwrap_err();
    assert_eq!(e, Refusal::Stale { got: 5, held: 5 });
    assert_eq!(e.verdict(), MessageAcceptance::Ignore);
    let older = record(&node, 4, vec![]);
    assert!(matches!(
        cache.receive(&older, NOW),
        Err(Refusal::Stale { .. })
    ));
    assert_eq!(cache.entries(), 2);
    // One record per node: a newer one (a withdrawal) replaces it.
    let newer = record(&node, 6, vec![one_entry(&node, &alice, "text.translate")]);
    cache.receive(&newer, NOW).unwrap();
    assert_eq!(cache.entries(), 1);
    let names: Vec<String> = cache
        .search("text", 10, NOW)
        .into_iter()
        .map(|h| h.ability)
        .collect();
    assert_eq!(names, ["text.translate"]);
}

#[test]
fn a_record_keeps_the_entries_that_fit_its_byte_bound() {
    let (node, alice) = (id(1), id(2));
    let entries: Vec<Entry> = (0..MAX_ENTRIES + 10)
        .map(|i| {
            let mut b = body(&alice, &format!("text.n{i}"), "", false);
            b.summary = "y".repeat(MAX_SUMMARY_BYTES);
            Entry::sign(&alice, &node.did(), b)
        })
        .collect();
    let (bytes, left_out) = Record::sign(&node, 1, NOW, NOW + 1000, vec![], entries);
    assert!(bytes.len() <= MAX_RECORD_BYTES, "{}", bytes.len());
    assert!(
        left_out > 10,
        "only the entry bound was applied: {left_out}"
    );
    let mut cache = Cache::default();
    let (_, kept) = cache.receive(&bytes, NOW).unwrap();
    assert_eq!(kept + left_out, MAX_ENTRIES + 10);
}

#[test]
fn the_cache_keeps_at_most_max_records_dropping_those_that_expire_first() {
    let mut cache = Cache::default();
    for i in 0..=MAX_RECORDS {
        let node = Identity::from_seed(sha2::Sha256::digest(i.to_le_bytes()).into());
        // The first record expires last; the second first.
        let expires = if i == 0 {
            NOW + 100_000
        } else {
            NOW + 1000 + i as u64
        };
        let data = Record::sign(
            &node,
            1,
            NOW,
            expires,
            vec![],
            vec![one_entry(&node, &id(2), "text.summarize")],
        )
        .0;
        cache.receive(&data, NOW).unwrap();
    }
    assert_eq!(cache.records.len(), MAX_RECORDS);
    assert_eq!(cache.entries(), MAX_RECORDS);
    let first = Identity::from_seed(sha2::Sha256::digest(0usize.to_le_bytes()).into()).did();
    let second = Identity::from_seed(sha2::Sha256::digest(1usize.to_le_bytes()).into()).did();
    assert!(cache.records.contains_key(&first));
    assert!(!cache.records.contains_key(&second));
}

#[test]
fn search_ranks_by_text_then_attestation_then_name_and_respects_the_limit() {
    let (n1, n2) = (id(1), id(2));
    let (alice, bob) = (id(3), id(4));
    let sign = |node: &Identity, who: &Identity, name: &str, summary: &str, attested: bool| {
        Entry::sign(who, &node.did(), body(who, name, summary, attested))
    };
    let mut cache = Cache::default();
    let r1 = vec![
        sign(&n1, &alice, "text.summarize", "shorten a text", false),
        sign(&n1, &alice, "image.resize", "resize an image", false),
    ];
    let r2 = vec![
        sign(&n2, &bob, "text.summarize", "shorten a text", true),
        sign(&n2, &bob, "text.translate", "translate a text", false),
    ];
    cache.receive(&record(&n1, 1, r1), NOW).unwrap();
    cache.receive(&record(&n2, 1, r2), NOW).unwrap();
    let list = |q: &str, limit| -> Vec<(String, Did)> {
        cache
            .search(q, limit, NOW)
            .into_iter()
            .map(|h| (h.ability, h.provider))
            .collect()
    };
    // Attested Bob before Alice for the same name; the translation matches only in text.
    assert_eq!(
        list("summarize", 10),
        [
            ("text.summarize".into(), bob.did()),
            ("text.summarize".into(), alice.did())
        ]
    );
    assert_eq!(
        list("text", 10),
        [
            ("text.summarize".into(), bob.did()),
            ("text.summarize".into(), alice.did()),
            ("text.translate".into(), bob.did())
        ]
    );
    assert_eq!(list("text", 1).len(), 1);
    assert_eq!(list("image", 10), [("image.resize".into(), alice.did())]);
    assert!(list("weather", 10).is_empty());
    // The score is the local search's with no reputation: text 1000, attested, priors.
    let top = &cache.search("summarize", 1, NOW)[0];
    let neutral = AbilityReputation::default();
    assert_eq!(top.score, abilities::score(1000, true, &neutral));
}

fn spec(name: &str, credential: Option<&str>) -> AbilitySpec {
    AbilitySpec {
        name: name.into(),
        description: "shortens a text".into(),
        input_schema: json!({"type": "object"}),
        output_schema: json!({"type": "object"}),
        credential: credential.map(String::from),
        price: Some(3),
    }
}

/// The entries of a publication, received by a fresh cache.
fn published(data: Vec<u8>) -> Vec<(String, Did)> {
    let mut cache = Cache::default();
    cache.receive(&data, NOW).unwrap();
    cache
        .search("", 100, NOW)
        .into_iter()
        .map(|h| (h.ability, h.provider))
        .collect()
}

#[test]
fn a_node_publishes_its_timites_public_declarations_and_drops_withdrawn_and_banned_ones() {
    let (node, owner_id, member_id) = (id(1), id(10), id(11));
    let (owner, member, outsider) = (writer(10), writer(11), writer(12));
    let hosted: HashMap<Did, Identity> = [
        (owner_id.did(), owner_id.clone()),
        (member_id.did(), member_id.clone()),
    ]
    .into();
    let t = NOW - 1000;
    let (mut public, _) = Space::create(&owner, "workshop", "", t).unwrap();
    public.migrate(&owner, 4, t + 1).unwrap();
    public.join(&member, t + 2).unwrap();
    public.join(&outsider, t + 3).unwrap();
    public
        .declare(&owner, &spec("text.summarize", None), t + 4)
        .unwrap();
    public
        .declare(&member, &spec("text.translate", None), t + 5)
        .unwrap();
    // Not hosted here: another node speaks for it.
    public
        .declare(&outsider, &spec("text.other", None), t + 6)
        .unwrap();
    // Claims a credential the space does not show.
    public
        .declare(
            &owner,
            &spec("text.attested", Some("urn:uuid:nothing")),
            t + 7,
        )
        .unwrap();
    let (mut private, _) =
        Space::create_with(&owner, "private", "", Visibility::InviteOnly, None, t).unwrap();
    private.migrate(&owner, 4, t + 1).unwrap();
    private
        .declare(&owner, &spec("text.secret", None), t + 2)
        .unwrap();

    let mut p = Publisher::new(10_000);
    let addrs = || vec!["/ip4/127.0.0.1/tcp/1".to_string()];
    let data = p
        .due(
            [&public, &private].into_iter(),
            &hosted,
            &node,
            addrs(),
            NOW,
        )
        .unwrap();
    assert_eq!(
        published(data),
        [
            ("text.summarize".into(), owner_id.did()),
            ("text.translate".into(), member_id.did())
        ]
    );
    // Nothing changed: nothing until the refresh, or sooner for a newcomer.
    assert!(p
        .due([&public].into_iter(), &hosted, &node, addrs(), NOW + 2000)
        .is_none());
    p.newcomer();
    assert!(p
        .due([&public].into_iter(), &hosted, &node, addrs(), NOW + 2000)
        .is_some());
    assert!(p
        .due([&public].into_iter(), &hosted, &node, addrs(), NOW + 4000)
        .is_none());
    assert!(p
        .due([&public].into_iter(), &hosted, &node, addrs(), NOW + 12_000)
        .is_some());

    // A withdrawal and a ban: the next publication (not before MIN_PUBLISH_MS) drops them.
    public.withdraw(&owner, "text.summarize", t + 8).unwrap();
    public
        .set_role(&owner, &member_id.did(), Role::Banned, t + 9)
        .unwrap();
    assert!(p
        .due([&public].into_iter(), &hosted, &node, addrs(), NOW + 12_500)
        .is_none());
    let data = p
        .due([&public].into_iter(), &hosted, &node, addrs(), NOW + 13_000)
        .unwrap();
    assert!(published(data).is_empty());
    // Nothing to say any more: no refresh of an empty record.
    assert!(p
        .due([&public].into_iter(), &hosted, &node, addrs(), NOW + 60_000)
        .is_none());
}
