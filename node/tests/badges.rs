//! Badges and attested declarations on real nodes (docs/abilities.md §13): a provider whose
//! rated outcomes reach a space's threshold gets one ability credential from the node hosting
//! the admin, signed and recorded once; the badge attests its declaration there until it is
//! revoked; it admits its holder into another space that requires the ability
//! (`Requirement::Ability`), and, carried in a declaration there, is checked by the real
//! verifier on every node.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{eventually, node, poll, JOIN};
use serde_json::json;
use tim_crdt::abilities::{AbilitySpec, RequestState, Target};
use tim_crdt::admission::Requirement;
use tim_crdt::attestation::{badge_id, Attestation, BadgeThreshold};
use tim_node::{AbilityAct, Act};

const SUMMARIZE: &str = "text.summarize";

fn spec(credential: Option<String>) -> AbilitySpec {
    AbilitySpec {
        name: SUMMARIZE.into(),
        description: "Summarizes a text".into(),
        input_schema: json!({}),
        output_schema: json!({}),
        credential,
        price: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_reaching_the_threshold_gets_one_badge_that_attests_and_admits() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (node(&tmp, 1).await, node(&tmp, 2).await);
    let ann = b.keys.timite.did();
    let guild = a.handle.create_space("guild", "").await.unwrap().id;
    b.handle
        .join(guild, vec![a.addr.clone()], JOIN)
        .await
        .unwrap();

    // The owner sets a threshold (migrating the space to version 6); a member may not.
    let badges = BTreeMap::from([(
        SUMMARIZE.to_string(),
        BadgeThreshold {
            min_rated: 2,
            min_mean_rating: 4.0,
        },
    )]);
    a.handle
        .ability(guild, AbilityAct::SetBadges(badges.clone()))
        .await
        .unwrap();
    eventually(10, "the thresholds to reach b", || async {
        b.handle.read_space(guild, |s| s.badges()).await.unwrap() == badges
    })
    .await;
    let err = b
        .handle
        .ability(guild, AbilityAct::SetBadges(BTreeMap::new()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("permission `meta`"), "{err}");
    b.handle
        .ability(guild, AbilityAct::Declare(spec(None)))
        .await
        .unwrap();

    // The owner asks ann twice and rates 5, then 4.
    for (round, rating) in [5u8, 4].into_iter().enumerate() {
        eventually(10, "ann's declaration to reach a", || async {
            a.handle
                .read_space(guild, |s| !s.abilities().is_empty())
                .await
                .unwrap()
        })
        .await;
        let request = AbilityAct::Request {
            ability: SUMMARIZE.into(),
            input: json!({}),
            target: Target::Did(ann),
            timeout: Duration::from_secs(60),
            reward: None,
        };
        let id = a.handle.ability(guild, request).await.unwrap().1.unwrap();
        let state = |n: &common::TestNode, id: String| {
            let h = n.handle.clone();
            async move {
                h.read_space(guild, move |s| s.request(&id).map(|r| r.state))
                    .await
                    .unwrap()
            }
        };
        poll(10, "the request to reach b", || async {
            state(&b, id.clone())
                .await
                .filter(|s| *s == RequestState::Open)
        })
        .await;
        b.handle
            .ability(guild, AbilityAct::Claim(id.clone()))
            .await
            .unwrap();
        b.handle
            .ability(guild, AbilityAct::Complete(id.clone(), json!({})))
            .await
            .unwrap();
        poll(10, "the result to reach a", || async {
            state(&a, id.clone())
                .await
                .filter(|s| *s == RequestState::Completed)
        })
        .await;
        a.handle
            .ability(guild, AbilityAct::Rate(id, rating))
            .await
            .unwrap();
        if round == 0 {
            assert_eq!(a.handle.check_badges().await.unwrap(), 0, "one rating");
        }
    }

    // The second rating made the badge due: node a issued it by itself, once.
    let id = badge_id(&guild, &ann, SUMMARIZE);
    let badge = poll(10, "the badge to be signed and stored", || async {
        a.handle
            .credentials()
            .await
            .unwrap()
            .into_iter()
            .find(|vc| vc["id"] == id.as_str())
    })
    .await;
    assert_eq!(badge["credentialSubject"]["id"], ann.to_string());
    assert_eq!(badge["credentialSubject"]["ability"], SUMMARIZE);
    assert_eq!(badge["credentialSubject"]["level"], "badge");
    assert_eq!(a.handle.check_badges().await.unwrap(), 0);
    assert_eq!(
        b.handle.check_badges().await.unwrap(),
        0,
        "b hosts no admin"
    );
    let records = a
        .handle
        .read_space(guild, move |s| {
            (
                s.badges_due().len(),
                s.issued(&badge_id(&s.id(), &ann, SUMMARIZE)),
            )
        })
        .await
        .unwrap();
    assert_eq!(records.0, 0);
    assert_eq!(
        records.1.map(|r| (r.subject, r.kind)),
        Some((ann, "ability".into()))
    );

    // Ann declares with the badge's id: attested, on both nodes.
    b.handle
        .ability(guild, AbilityAct::Declare(spec(Some(id.clone()))))
        .await
        .unwrap();
    for n in [&a, &b] {
        eventually(10, "the attested declaration", || async {
            n.handle
                .read_space(guild, |s| s.search("summarize").first().map(|h| h.attested))
                .await
                .unwrap()
                == Some(true)
        })
        .await;
    }

    // The badge admits ann into a workshop that requires the ability from the guild.
    let workshop = a.handle.create_space("workshop", "").await.unwrap().id;
    let required = vec![Requirement::Ability {
        ability: SUMMARIZE.into(),
        spaces: vec![guild],
    }];
    a.handle
        .moderate(workshop, Act::SetRequirements(required))
        .await
        .unwrap();
    let err = b
        .handle
        .join(workshop, vec![a.addr.clone()], JOIN)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("join with a presentation"),
        "{err}"
    );
    let held = b.handle.hold_credential(badge.clone()).await.unwrap();
    b.handle
        .join_presenting(workshop, vec![a.addr.clone()], vec![held], JOIN)
        .await
        .unwrap();

    // Carried in a declaration there (the guild is named by the requirement: trusted), the
    // badge is checked by ssi on both nodes; tampered, it is refused.
    a.handle
        .ability(workshop, AbilityAct::SetBadges(BTreeMap::new()))
        .await
        .unwrap();
    eventually(10, "version 6 to reach b", || async {
        b.handle
            .read_space(workshop, |s| s.schema_version())
            .await
            .unwrap()
            >= tim_crdt::schema::ABILITIES_V2
    })
    .await;
    let mut forged = badge.clone();
    forged["credentialSubject"]["level"] = json!("master");
    let err = b
        .handle
        .ability(
            workshop,
            AbilityAct::DeclareAttested(spec(None), forged.to_string()),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("attested by a credential that fails"),
        "{err}"
    );
    b.handle
        .ability(
            workshop,
            AbilityAct::DeclareAttested(spec(None), badge.to_string()),
        )
        .await
        .unwrap();
    eventually(10, "the carried badge to attest on a", || async {
        a.handle
            .read_space(workshop, |s| {
                s.search("summarize").first().map(|h| h.attested)
            })
            .await
            .unwrap()
            == Some(true)
    })
    .await;

    // Revoked in the guild: ann's declaration there leaves search on both nodes, and says why.
    a.handle.revoke_credential(&id).await.unwrap();
    for n in [&a, &b] {
        eventually(10, "the revocation to drop ann from search", || async {
            n.handle
                .read_space(guild, |s| {
                    let refused = s.abilities().iter().map(|d| s.attestation_of(d)).any(
                        |v| matches!(v, Attestation::Refused(ref why) if why.contains("revoked")),
                    );
                    s.search("summarize").is_empty() && refused
                })
                .await
                .unwrap()
        })
        .await;
    }
}
