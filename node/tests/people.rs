//! Profiles and handles through real nodes on 127.0.0.1 (docs/protocol.md §9.13.1,
//! docs/operator.md "Profiles and handles"): a profile set on one node shows as `name` and
//! `author_name` on another, reaches a space joined or migrated later, skips spaces below
//! version 11; a handle resolves by WebFinger to a did:web document whose key is the timite's
//! did:key.

mod common;

use std::time::Duration;

use base64::Engine as _;

use tim_node::api::RateLimit;
use tim_node::service::{Caller, Service, ServiceError};
use tim_protocol::api::{JoinSpace, MembersQuery, SetTimiteProfile, TimelineQuery};
use tim_protocol::SpaceId;

fn named(name: &str) -> SetTimiteProfile {
    SetTimiteProfile {
        name: Some(name.into()),
        bio: Some("grows tomatoes".into()),
        ..SetTimiteProfile::default()
    }
}

/// Two nodes, ann's space "garden" at version 11 on node 1, joined by bob from node 2 with
/// the join returned for more.
async fn garden_joined(tmp: &tempfile::TempDir) -> (common::ServicePair, SpaceId, JoinSpace) {
    let pair = common::service_pair(tmp).await;
    let garden = common::space_at(&pair.s1, &pair.ann, "garden", Some(11)).await;
    let join = JoinSpace {
        via: vec![pair.n1.addr.to_string()],
        present: vec![],
        timeout_secs: Some(20),
    };
    pair.s2.join_space(&pair.bob, garden, &join).await.unwrap();
    (pair, garden, join)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_profile_set_on_one_node_shows_on_another_and_reaches_spaces_joined_or_migrated_later() {
    let tmp = tempfile::tempdir().unwrap();
    let (pair, garden, join) = garden_joined(&tmp).await;
    let common::ServicePair {
        n1: _n1,
        n2: _n2,
        s1,
        s2,
        ann,
        bob,
    } = pair;
    let old = common::space_at(&s1, &ann, "old", Some(10)).await;

    let set = s1.set_timite_profile(&ann, named("Ann")).await.unwrap();
    assert_eq!(set.written, vec![garden]);
    assert_eq!(set.skipped.len(), 1, "{:?}", set.skipped);
    assert_eq!(set.skipped[0].space, old);
    assert!(set.skipped[0].reason.contains("schema version 10"));
    assert_eq!(set.profile.name.as_deref(), Some("Ann"));
    s1.post(&ann, garden, "Hello from Ann").await.unwrap();

    let page = common::poll(20, "Ann's message and name on node 2", || async {
        let page = s2
            .timeline(&bob, garden, &TimelineQuery::default())
            .await
            .ok()?;
        page.messages
            .iter()
            .any(|m| m.author_name.as_deref() == Some("Ann"))
            .then_some(page)
    })
    .await;
    let hello = page.messages.iter().find(|m| m.text == "Hello from Ann");
    assert_eq!(hello.unwrap().author_name.as_deref(), Some("Ann"));
    let members = s2
        .members(&bob, garden, &MembersQuery::default())
        .await
        .unwrap()
        .items;
    let ann_there = members.iter().find(|m| m.did == ann.timite).unwrap();
    assert_eq!(ann_there.name.as_deref(), Some("Ann"));
    let seen = s2.timite_profile(&bob, ann.timite).await.unwrap();
    assert_eq!(seen.name.as_deref(), Some("Ann"));
    assert_eq!(seen.bio.as_deref(), Some("grows tomatoes"));

    // A space migrated to version 11 later gets the kept profile of its members here.
    s1.migrate(&ann, old, Some(11)).await.unwrap();
    let members = s1
        .members(&ann, old, &MembersQuery::default())
        .await
        .unwrap()
        .items;
    assert_eq!(members[0].name.as_deref(), Some("Ann"));

    // Bob sets his profile, then joins a space made later: his node writes it there at join.
    let set = s2.set_timite_profile(&bob, named("Bob")).await.unwrap();
    assert_eq!(set.written, vec![garden]);
    let later = common::space_at(&s1, &ann, "later", Some(11)).await;
    s2.join_space(&bob, later, &join).await.unwrap();
    common::poll(20, "Bob's name in the later space on node 1", || async {
        let members = s1
            .members(&ann, later, &MembersQuery::default())
            .await
            .ok()?
            .items;
        members
            .iter()
            .any(|m| m.did == bob.timite && m.name.as_deref() == Some("Bob"))
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_handle_is_unique_on_its_node_and_resolves_by_webfinger_to_a_did_web_document() {
    let tmp = tempfile::tempdir().unwrap();
    let (n, base) = common::node_with_api(&tmp, 1, "admin").await;
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut gif = b"GIF89a".to_vec();
    gif.resize(300, 1);
    let avatar = base64::engine::general_purpose::STANDARD.encode(&gif);
    let set = http
        .put(format!("{base}/v1/profile"))
        .bearer_auth("admin")
        .json(&serde_json::json!({
            "name": "Alice",
            "handle": "alice",
            "avatar": {"mime": "image/gif", "data": avatar},
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 200, "{}", set.text().await.unwrap());
    let set: serde_json::Value = set.json().await.unwrap();
    let host = base.trim_start_matches("http://");
    assert_eq!(set["profile"]["handle"], format!("alice@{host}"), "{set}");
    assert_eq!(set["profile"]["avatar"]["size"], 300, "{set}");
    let did = n.handle.timite();
    let got = http
        .get(format!("{base}/v1/profiles/{did}/avatar"))
        .bearer_auth("admin")
        .send()
        .await
        .unwrap();
    assert_eq!(got.headers()["content-type"], "image/gif");
    assert_eq!(got.bytes().await.unwrap().to_vec(), gif);
    // An avatar whose bytes are not its type is refused.
    let bad = http
        .put(format!("{base}/v1/profile"))
        .bearer_auth("admin")
        .json(&serde_json::json!({"avatar": {"mime": "image/png", "data": "R0lGODlh"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);

    // Another timite of the node cannot take the same handle.
    let service = Service::new(n.handle.clone(), "admin", RateLimit::default());
    let operator = Caller::operator(did);
    let other = Caller::timite(service.add_timite(&operator).await.unwrap().did);
    let taken = SetTimiteProfile {
        handle: Some("alice".into()),
        ..SetTimiteProfile::default()
    };
    let refused = service.set_timite_profile(&other, taken).await;
    assert!(
        matches!(refused, Err(ServiceError::HandleTaken { holder, .. }) if holder == did),
        "{refused:?}"
    );

    // WebFinger, without a token.
    let resp = http
        .get(format!("{base}/.well-known/webfinger"))
        .query(&[("resource", format!("acct:alice@{host}"))])
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"].to_str().unwrap(),
        "application/jrd+json"
    );
    let jrd: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(jrd["subject"], did.to_string());
    assert!(jrd["aliases"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!(did.to_string())));
    let doc_url = jrd["links"][0]["href"].as_str().unwrap().to_string();
    assert_eq!(doc_url, format!("{base}/u/alice/did.json"));
    let unknown = http
        .get(format!("{base}/.well-known/webfinger"))
        .query(&[("resource", format!("acct:nobody@{host}"))])
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);

    // The did:web document parses as a DID document (ssi) and carries the did:key's key.
    let doc: serde_json::Value = http
        .get(&doc_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let did_web = format!("did:web:{}:u:alice", host.replace(':', "%3A"));
    assert_eq!(doc["id"], did_web);
    let parsed = ssi::dids::Document::from_json(&doc.to_string())
        .expect("a DID document")
        .into_document();
    assert_eq!(parsed.id.as_str(), did_web);
    let aka: Vec<&str> = parsed.also_known_as.iter().map(|i| i.as_str()).collect();
    assert_eq!(aka, [did.to_string()]);
    assert_eq!(parsed.verification_method.len(), 1);
    let vm = &parsed.verification_method[0];
    assert_eq!(vm.controller.as_str(), did_web);
    let multibase = vm.properties["publicKeyMultibase"].as_str().unwrap();
    let key: tim_protocol::Did = format!("did:key:{multibase}").parse().unwrap();
    assert_eq!(key, did, "the did:web document's key is the did:key's");
    assert_eq!(parsed.verification_relationships.authentication.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_profile_set_on_node_2_arrives_as_an_event_on_node_1s_stream() {
    use tim_protocol::api::SpaceEvent;
    use tokio_stream::StreamExt as _;
    let tmp = tempfile::tempdir().unwrap();
    let (pair, garden, _) = garden_joined(&tmp).await;
    let common::ServicePair {
        n1: _n1,
        n2: _n2,
        s1,
        s2,
        ann,
        bob,
    } = pair;
    let mut events = Box::pin(s1.events(&ann, garden).await.unwrap());

    s2.set_timite_profile(&bob, named("Bob")).await.unwrap();
    let event = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match events.next().await.expect("the stream stays open") {
                Ok(e @ SpaceEvent::Profile { .. }) => return e,
                Ok(_) => continue,
                Err(e) => panic!("{e}"),
            }
        }
    })
    .await
    .expect("the profile event on node 1 within 20 s");
    assert_eq!(
        event,
        SpaceEvent::Profile {
            space: garden,
            did: bob.timite,
            name: Some("Bob".into()),
        }
    );
    // Older clients see an event of a kind they skip: `kind` names it as the others.
    let json = serde_json::to_value(&event).unwrap();
    assert_eq!(json["kind"], "profile", "{json}");
}
