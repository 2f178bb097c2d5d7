//! Passports across nodes: reputation earned in a space on one node is issued as a credential
//! by an admin, carried to another node, verified there against the replicated space, and
//! revoked through the space's status list (the revocation travels by gossip).

mod common;

use common::JOIN;

use std::time::{Duration, Instant};

use common::{converged, eventually, node, poll, TestNode};
use tim_crdt::abilities::AbilitySpec;
use tim_did::credential::{issue, verify_credential, Claim, CredentialRequest, StatusEntry};
use tim_node::{AbilityAct, Act, CredentialKind, NodeError};

fn failures(checks: &[tim_did::credential::Check]) -> Vec<String> {
    checks
        .iter()
        .filter_map(|c| c.outcome.as_ref().err().map(|e| format!("{}: {e}", c.name)))
        .collect()
}

/// Two nodes on 127.0.0.1: a makes a space `name` and b's timite (ann) joins it through a.
async fn joined_pair(
    tmp: &tempfile::TempDir,
    name: &str,
) -> (TestNode, TestNode, tim_protocol::api::SpaceSummary) {
    let (a, b) = (node(tmp, 1).await, node(tmp, 2).await);
    let space = a.handle.create_space(name, "").await.unwrap();
    b.handle
        .join(space.id, vec![a.addr.clone()], JOIN)
        .await
        .unwrap();
    (a, b, space)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reputation_travels_as_a_credential_and_revocation_follows_by_gossip() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, space) = joined_pair(&tmp, "workshop").await;
    let ann = b.keys.timite.did();
    for i in 0..3 {
        b.handle
            .post(space.id, &format!("contribution {i}"))
            .await
            .unwrap();
    }
    converged(&[&a.handle, &b.handle], space.id, 3).await;
    a.handle
        .moderate(space.id, Act::Rate(ann, 5))
        .await
        .unwrap();

    // A member may not issue in the space's name.
    let err = b
        .handle
        .issue_credential(space.id, ann, CredentialKind::Reputation, None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, NodeError::Refused(ref m) if m.contains("needs an admin")),
        "{err}"
    );

    let vc = a
        .handle
        .issue_credential(
            space.id,
            ann,
            CredentialKind::Reputation,
            Some(Duration::from_secs(3600)),
        )
        .await
        .unwrap();
    assert_eq!(vc["credentialSubject"]["score"], 3 + 5 * 2, "{vc:#}");
    assert_eq!(vc["credentialSubject"]["id"], ann.to_string());

    // Carried to node b (a file, an import): every check passes there.
    let id = b.handle.hold_credential(vc.clone()).await.unwrap();
    assert_eq!(b.handle.credential(&id).await.unwrap(), vc);
    let offline = verify_credential(&vc, now()).await;
    assert!(offline.ok(), "{offline:?}");
    eventually(10, "the issuance record to reach b", || async {
        let checks = b.handle.space_checks(vc.clone(), false).await.unwrap();
        checks.len() == 2 && failures(&checks).is_empty()
    })
    .await;

    // Revoked on a; b learns it by gossip.
    a.handle.revoke_credential(&id).await.unwrap();
    eventually(10, "the revocation to reach b", || async {
        let checks = b.handle.space_checks(vc.clone(), false).await.unwrap();
        failures(&checks)
            .iter()
            .any(|f| f.starts_with("revocation: revoked"))
    })
    .await;

    // A credential signed by someone who was not an admin has no record in the space.
    let forged = issue(
        &b.keys.timite,
        &CredentialRequest {
            id: "urn:uuid:00000000-0000-4000-8000-000000000000".into(),
            space: space.id,
            subject: ann,
            claim: Claim::Membership {
                role: "admin".into(),
                since: "2026-01-01T00:00:00Z".into(),
            },
            valid_from: "2026-01-01T00:00:00Z".into(),
            valid_until: None,
            status: Some(StatusEntry::in_space(&space.id, 99)),
        },
    )
    .await
    .unwrap();
    assert!(
        verify_credential(&forged, now()).await.ok(),
        "its signature is fine"
    );
    let checks = a.handle.space_checks(forged, false).await.unwrap();
    assert!(
        failures(&checks)
            .iter()
            .any(|f| f.contains("was not an admin")),
        "{checks:?}"
    );
}

/// In a space at schema version 8 (an admin's first ability declaration migrates it to the
/// newest version), reputation is v2's on every node, and the credential states its basis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v2_space_issues_reputation_with_its_basis() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (node(&tmp, 1).await, node(&tmp, 2).await);
    let ann = b.keys.timite.did();
    let space = a.handle.create_space("guild", "").await.unwrap();
    a.handle
        .ability(
            space.id,
            AbilityAct::Declare(AbilitySpec {
                name: "text.summarize".into(),
                description: "Summarizes a text".into(),
                input_schema: serde_json::json!({}),
                output_schema: serde_json::json!({}),
                credential: None,
                price: None,
            }),
        )
        .await
        .unwrap();
    b.handle
        .join(space.id, vec![a.addr.clone()], JOIN)
        .await
        .unwrap();
    // Three messages in a row: one run, 1 + ⌊log2 3⌋ = 2 turns, 2 × √2 = 2.828 points.
    for i in 0..3 {
        b.handle.post(space.id, &format!("m{i}")).await.unwrap();
    }
    converged(&[&a.handle, &b.handle], space.id, 3).await;
    // The owner's 5: standing 500 and 10 points.
    a.handle
        .moderate(space.id, Act::Rate(ann, 5))
        .await
        .unwrap();
    for n in [&a, &b] {
        eventually(10, "ann's v2 reputation on every node", || async {
            let members = n.handle.members(space.id).await.unwrap();
            members.iter().any(|m| m.did == ann && m.reputation == 12)
        })
        .await;
    }
    let vc = a
        .handle
        .issue_credential(space.id, ann, CredentialKind::Reputation, None)
        .await
        .unwrap();
    let subject = &vc["credentialSubject"];
    assert_eq!(subject["score"], 12, "{vc:#}");
    assert_eq!(subject["formula"], "tim-reputation-2", "{vc:#}");
    assert_eq!(
        (subject["turns"].as_u64(), subject["standing"].as_u64()),
        (Some(2), Some(500))
    );
    assert_eq!(subject["contributions"], 3);
    assert_eq!(subject["contributionPoints"].as_f64(), Some(2.828));
    assert_eq!(subject["ratingPoints"].as_f64(), Some(10.0));
    let offline = verify_credential(&vc, now()).await;
    assert!(offline.ok(), "{offline:?}");
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Admission by passport: space S2 on node c requires reputation ≥ 10 from space S1 (on node
/// a). Ann earned 13 in S1 and presents her credential: every node admits her. Bob, with a
/// reputation of 0, is refused on every node with the reason; so is a join without any
/// presentation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_space_admits_by_reputation_earned_elsewhere_and_every_node_agrees() {
    use tim_crdt::admission::Requirement;
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        node(&tmp, 1).await,
        node(&tmp, 2).await,
        node(&tmp, 3).await,
    );
    let (ann, bob) = (b.keys.timite.did(), c.keys.timite.did());
    let s1 = a.handle.create_space("workshop", "").await.unwrap();
    b.handle
        .join(s1.id, vec![a.addr.clone()], JOIN)
        .await
        .unwrap();
    for i in 0..3 {
        b.handle
            .post(s1.id, &format!("contribution {i}"))
            .await
            .unwrap();
    }
    converged(&[&a.handle, &b.handle], s1.id, 3).await;
    a.handle.moderate(s1.id, Act::Rate(ann, 5)).await.unwrap();
    let vc = a
        .handle
        .issue_credential(s1.id, ann, CredentialKind::Reputation, None)
        .await
        .unwrap();
    let ann_cred = b.handle.hold_credential(vc).await.unwrap();

    // S2, hosted by a fourth timite on node a's peer d, requires reputation ≥ 10 from S1.
    let d = node(&tmp, 4).await;
    let s2 = d.handle.create_space("guild", "").await.unwrap();
    d.handle
        .moderate(
            s2.id,
            Act::SetRequirements(vec![Requirement::Reputation {
                min_score: 10,
                spaces: vec![s1.id],
            }]),
        )
        .await
        .unwrap();

    // Without a presentation: refused.
    let err = b
        .handle
        .join(s2.id, vec![d.addr.clone()], JOIN)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("join with a presentation"),
        "{err}"
    );
    // With one: admitted, and d (the host) agrees.
    b.handle
        .join_presenting(s2.id, vec![d.addr.clone()], vec![ann_cred], JOIN)
        .await
        .unwrap();
    sees_member(&d.handle, s2.id, ann, "d to admit ann").await;

    // d's trust policy decides how much ann's imported reputation counts in its member list:
    // nothing until d trusts S1 (d does not host it), then weight × score.
    let ann_in_s2 = |members: Vec<tim_protocol::api::MemberView>| {
        members.into_iter().find(|m| m.did == ann).unwrap()
    };
    assert_eq!(
        ann_in_s2(d.handle.members(s2.id).await.unwrap()).imported_reputation,
        None
    );
    let vc = b.handle.credentials().await.unwrap().remove(0);
    let checks = d.handle.space_checks(vc.clone(), true).await.unwrap();
    assert!(
        failures(&checks)
            .iter()
            .any(|f| f.contains("trust policy does not count")),
        "{checks:?}"
    );
    let s1_iri = tim_did::credential::space_iri(&s1.id);
    d.handle.set_trust(&s1_iri, Some(0.5)).await.unwrap();
    assert_eq!(
        ann_in_s2(d.handle.members(s2.id).await.unwrap()).imported_reputation,
        Some(6.5)
    );
    assert!(failures(&d.handle.space_checks(vc, true).await.unwrap()).is_empty());

    // Bob (node c) is a member of S1 with no contributions: reputation 0.
    c.handle
        .join(s1.id, vec![a.addr.clone()], JOIN)
        .await
        .unwrap();
    sees_member(&a.handle, s1.id, bob, "a to see bob join S1").await;
    let low = a
        .handle
        .issue_credential(s1.id, bob, CredentialKind::Reputation, None)
        .await
        .unwrap();
    assert_eq!(low["credentialSubject"]["score"], 0);
    let bob_cred = c.handle.hold_credential(low).await.unwrap();
    let err = c
        .handle
        .join_presenting(s2.id, vec![d.addr.clone()], vec![bob_cred], JOIN)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("requires reputation ≥ 10") && err.to_string().contains("is 0"),
        "{err}"
    );

    // Bob's node bypasses its own check and gossips the join anyway: every node refuses it.
    let (doc, _) = d.handle.export(s2.id).await.unwrap();
    let heads = d.handle.timeline(s2.id).await.unwrap().heads;
    let low_vc = c.handle.credentials().await.unwrap().remove(0);
    let vp = tim_did::credential::present(
        &c.keys.timite,
        vec![low_vc],
        &tim_did::credential::space_iri(&s2.id),
        &heads[0].to_string(),
    )
    .await
    .unwrap();
    // c publishes to the peers it knows subscribe to S2. It learns b's subscription only once
    // connected to b, so it dials b first.
    c.handle.dial(b.addr.clone()).await.unwrap();
    force_join_until_refused(&c, &[&d, &b], s2.id, &doc, &vp.to_string()).await;
    assert_admitted_nowhere(&[&d.handle, &b.handle], s2.id, ann, bob).await;
}

/// `c` publishes a join carrying `presentation`, built on `doc`, until every node of
/// `refusers` has refused one ([`force_until_refused`]).
async fn force_join_until_refused(
    c: &TestNode,
    refusers: &[&TestNode],
    space: tim_protocol::SpaceId,
    doc: &[u8],
    presentation: &str,
) {
    force_until_refused(c, refusers, space, |attempt| {
        forced_join(doc, space, &c.keys.timite, presentation, attempt)
    })
    .await;
}

/// `c` publishes a change made by `forced` as a fresh copy (a new message id) every 300 ms
/// until every node of `refusers` has refused one: a node that refuses does not forward, so
/// each must hear it from `c`.
async fn force_until_refused(
    c: &TestNode,
    refusers: &[&TestNode],
    space: tim_protocol::SpaceId,
    forced: impl Fn(i64) -> tim_protocol::Envelope,
) {
    let rejected = || async {
        let mut n = Vec::new();
        for r in refusers {
            n.push(r.handle.status().await.unwrap().rejected_changes);
        }
        n
    };
    let before = rejected().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    for attempt in 0.. {
        c.handle
            .publish_raw(space, forced(attempt).encode())
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        if rejected()
            .await
            .iter()
            .zip(&before)
            .all(|(now, was)| now > was)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for every node to refuse the forced change"
        );
    }
}

/// On every node of `nodes`, `ann` is a member of `space` and `bob` is not.
async fn assert_admitted_nowhere(
    nodes: &[&tim_node::Handle],
    space: tim_protocol::SpaceId,
    ann: tim_protocol::Did,
    bob: tim_protocol::Did,
) {
    for n in nodes {
        let members = n.members(space).await.unwrap();
        assert!(members.iter().any(|m| m.did == ann));
        assert!(
            !members.iter().any(|m| m.did == bob),
            "bob must not be admitted anywhere"
        );
    }
}

/// Admission follows the issuer's status list. S1's credentials name their issuer's list on
/// node a (served on 127.0.0.1); a joiner's node fetches it into the join presentation, and
/// every node of S2 reads the credential's bit there. Ann's credential admits her; Bob's,
/// revoked on a, is refused by his own node and, when his node gossips the join anyway, by
/// every node, as is a join whose presentation leaves the list out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_revoked_on_its_issuers_node_admits_nowhere() {
    use tim_crdt::admission::Requirement;
    let tmp = tempfile::tempdir().unwrap();
    let (a, _api) = common::node_with_api(&tmp, 1, "admin-token").await;
    let (b, c, d) = (
        node(&tmp, 2).await,
        node(&tmp, 3).await,
        node(&tmp, 4).await,
    );
    let (ann, bob) = (b.keys.timite.did(), c.keys.timite.did());
    let s1 = a.handle.create_space("workshop", "").await.unwrap();
    for n in [&b, &c] {
        n.handle
            .join(s1.id, vec![a.addr.clone()], JOIN)
            .await
            .unwrap();
    }
    eventually(10, "a to see ann and bob in S1", || async {
        a.handle
            .members(s1.id)
            .await
            .is_ok_and(|m| m.iter().any(|m| m.did == ann) && m.iter().any(|m| m.did == bob))
    })
    .await;
    let mut held = Vec::new();
    for (n, who) in [(&b, ann), (&c, bob)] {
        let vc = a
            .handle
            .issue_credential(s1.id, who, CredentialKind::Membership, None)
            .await
            .unwrap();
        held.push(n.handle.hold_credential(vc).await.unwrap());
    }
    a.handle.revoke_credential(&held[1]).await.unwrap();

    let s2 = d.handle.create_space("guild", "").await.unwrap();
    d.handle
        .moderate(
            s2.id,
            Act::SetRequirements(vec![Requirement::Membership {
                spaces: vec![s1.id],
            }]),
        )
        .await
        .unwrap();
    b.handle
        .join_presenting(s2.id, vec![d.addr.clone()], vec![held[0].clone()], JOIN)
        .await
        .unwrap();
    sees_member(&d.handle, s2.id, ann, "d to admit ann").await;
    let err = c
        .handle
        .join_presenting(s2.id, vec![d.addr.clone()], vec![held[1].clone()], JOIN)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("is revoked"), "{err}");

    // Bob's node bypasses its own check: the revoked credential with its list, and the same
    // credential without any list. Every node refuses both.
    let bob_vc = c.handle.credentials().await.unwrap().remove(0);
    let list_url = bob_vc["credentialStatus"]["statusListCredential"]
        .as_str()
        .unwrap()
        .to_string();
    let list: serde_json::Value = reqwest::get(&list_url).await.unwrap().json().await.unwrap();
    let (doc, _) = d.handle.export(s2.id).await.unwrap();
    let heads = d.handle.timeline(s2.id).await.unwrap().heads;
    c.handle.dial(b.addr.clone()).await.unwrap();
    for carried in [vec![bob_vc.clone(), list], vec![bob_vc]] {
        let vp = tim_did::credential::present(
            &c.keys.timite,
            carried,
            &tim_did::credential::space_iri(&s2.id),
            &heads[0].to_string(),
        )
        .await
        .unwrap();
        force_join_until_refused(&c, &[&d, &b], s2.id, &doc, &vp.to_string()).await;
    }
    assert_admitted_nowhere(&[&d.handle, &b.handle], s2.id, ann, bob).await;

    // Ann's credential is revoked on a after it admitted her. d, hosting S2 with its owner,
    // checks the lists presented there (at once rather than after its period), finds her bit
    // set and posts the list as a notice (migrating S2 to version 5 first). Her post from
    // before stands; her next one is refused by her own node and, forced, by d.
    b.handle.post(s2.id, "before the revocation").await.unwrap();
    converged(&[&d.handle, &b.handle], s2.id, 1).await;
    assert_eq!(d.handle.check_revocations().await.unwrap(), 0);
    a.handle.revoke_credential(&held[0]).await.unwrap();
    assert_eq!(d.handle.check_revocations().await.unwrap(), 1);
    for n in [&d, &b] {
        eventually(10, "the notice to undo ann's admission", || async {
            n.handle.members(s2.id).await.is_ok_and(|m| {
                m.iter().any(|m| {
                    m.did == ann
                        && m.role == "banned"
                        && m.no_longer_admitted
                            .as_deref()
                            .is_some_and(|r| r.contains(&list_url))
                })
            })
        })
        .await;
    }
    let err = b
        .handle
        .post(s2.id, "after the revocation")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no longer admitted"), "{err}");
    let (doc, _) = b.handle.export(s2.id).await.unwrap();
    force_until_refused(&b, &[&d], s2.id, |attempt| {
        forced_post(&doc, s2.id, &b.keys.timite, attempt)
    })
    .await;
    converged(&[&d.handle, &b.handle], s2.id, 1).await;
    // A second check finds nothing new to post.
    assert_eq!(d.handle.check_revocations().await.unwrap(), 0);
}

/// A join change by `who` carrying `presentation`, built directly on the document, signed.
fn forced_join(
    doc: &[u8],
    space: tim_protocol::SpaceId,
    who: &tim_did::Identity,
    presentation: &str,
    attempt: i64,
) -> tim_protocol::Envelope {
    use automerge::transaction::Transactable;
    forced_change(doc, space, who, attempt, |tx, members| {
        let entry = tx
            .put_object(&members, who.did().to_string(), automerge::ObjType::Map)
            .unwrap();
        tx.put(&entry, "role", "member").unwrap();
        tx.put(&entry, "presentation", presentation).unwrap();
    })
}

/// A post by `who`, built directly on the document, signed.
fn forced_post(
    doc: &[u8],
    space: tim_protocol::SpaceId,
    who: &tim_did::Identity,
    attempt: i64,
) -> tim_protocol::Envelope {
    use automerge::transaction::Transactable;
    use automerge::ReadDoc;
    forced_change(doc, space, who, attempt, |tx, _| {
        let timeline = tx.get(automerge::ROOT, "timeline").unwrap().unwrap().1;
        let m = tx
            .insert_object(&timeline, 0, automerge::ObjType::Map)
            .unwrap();
        tx.put(&m, "author", who.did().to_string()).unwrap();
        tx.put(&m, "text", "forced").unwrap();
    })
}

/// A change by `who` (its key as the actor, not a session's) that `write` makes on the
/// document, given its members map, signed.
fn forced_change(
    doc: &[u8],
    space: tim_protocol::SpaceId,
    who: &tim_did::Identity,
    attempt: i64,
    write: impl FnOnce(&mut automerge::transaction::Transaction<'_>, automerge::ObjId),
) -> tim_protocol::Envelope {
    use automerge::ReadDoc;
    let key = who.signing_key();
    let mut doc = automerge::Automerge::load(doc).unwrap();
    doc.set_actor(automerge::ActorId::from(
        key.verifying_key().as_bytes().as_slice(),
    ));
    let members = doc.get(automerge::ROOT, "members").unwrap().unwrap().1;
    let mut tx = doc.transaction();
    write(&mut tx, members);
    tx.commit_with(
        automerge::transaction::CommitOptions::default().with_time(now() * 1000 + attempt),
    );
    let change = doc.get_last_local_change().unwrap();
    tim_protocol::Envelope::sign(
        space,
        change.raw_bytes().to_vec(),
        &tim_protocol::ChangeHash::from(change.hash().0),
        key,
    )
}

/// Waits until `node` lists `did` among the members of `space`.
async fn sees_member(
    node: &tim_node::Handle,
    space: tim_protocol::SpaceId,
    did: tim_protocol::Did,
    what: &str,
) {
    eventually(10, what, || async {
        node.members(space)
            .await
            .is_ok_and(|m| m.iter().any(|m| m.did == did))
    })
    .await;
}

/// A credential issued on node a reaches its subject's node b with the space's issuance
/// record, verified there and kept without any import (docs/passports.md, "Delivery to the
/// subject"). Records an admin forges (a credential signed by a member who may not issue, one
/// about someone else, one whose claim was altered after signing) reach b too, and b keeps
/// none of their credentials.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issued_credential_reaches_its_subjects_node_and_forged_ones_do_not() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, space) = joined_pair(&tmp, "delivery").await;
    let (owner, ann) = (a.keys.timite.did(), b.keys.timite.did());
    sees_member(&a.handle, space.id, ann, "ann's join to reach a").await;

    let request = |id: &str, subject| CredentialRequest {
        id: id.into(),
        space: space.id,
        subject,
        claim: Claim::Membership {
            role: "member".into(),
            since: "2026-01-01T00:00:00Z".into(),
        },
        valid_from: "2026-01-01T00:00:00Z".into(),
        valid_until: None,
        status: Some(StatusEntry::in_space(&space.id, space.id.status_index(id))),
    };
    let by_member = issue(&b.keys.timite, &request("urn:uuid:forged-1", ann))
        .await
        .unwrap();
    let about_other = issue(&a.keys.timite, &request("urn:uuid:forged-2", owner))
        .await
        .unwrap();
    let mut altered = issue(&a.keys.timite, &request("urn:uuid:forged-3", ann))
        .await
        .unwrap();
    altered["credentialSubject"]["role"] = "owner".into();
    let forged = [&by_member, &about_other, &altered];
    // One change by the owner (an admin) records all three about ann, in its own name.
    let (doc, _) = a.handle.export(space.id).await.unwrap();
    let env = forced_change(&doc, space.id, &a.keys.timite, 0, |tx, _| {
        use automerge::transaction::Transactable;
        use automerge::ReadDoc;
        let issued = tx.get(automerge::ROOT, "issued").unwrap().unwrap().1;
        for vc in forged {
            let id = vc["id"].as_str().unwrap();
            let rec = tx.put_object(&issued, id, automerge::ObjType::Map).unwrap();
            tx.put(&rec, "subject", ann.to_string()).unwrap();
            tx.put(&rec, "kind", "membership").unwrap();
            tx.put(&rec, "issuer", owner.to_string()).unwrap();
            let index = space.id.status_index(id);
            tx.put(&rec, "status_index", automerge::ScalarValue::Uint(index))
                .unwrap();
            tx.put(&rec, "credential", vc.to_string()).unwrap();
        }
    });
    let data = env.encode();
    eventually(10, "a to publish the forged records", || async {
        a.handle.publish_raw(space.id, data.clone()).await.is_ok()
    })
    .await;
    eventually(10, "the forged records to reach b", || async {
        let checks = b
            .handle
            .space_checks(by_member.clone(), false)
            .await
            .unwrap();
        failures(&checks)
            .iter()
            .any(|f| f.contains("names another issuer or subject"))
    })
    .await;

    // The genuine one, recorded after them, is delivered.
    let vc = a
        .handle
        .issue_credential(space.id, ann, CredentialKind::Membership, None)
        .await
        .unwrap();
    let id = vc["id"].as_str().unwrap().to_string();
    let held = poll(10, "the credential to reach ann's node", || async {
        b.handle
            .credentials()
            .await
            .unwrap()
            .into_iter()
            .find(|c| c["id"] == id.as_str())
    })
    .await;
    assert_eq!(held, vc);
    assert_eq!(b.handle.credential(&id).await.unwrap(), vc);
    let ids: Vec<serde_json::Value> = b
        .handle
        .credentials()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c["id"].clone())
        .collect();
    for f in forged {
        assert!(
            !ids.contains(&f["id"]),
            "{} must not be kept: {ids:?}",
            f["id"]
        );
    }
}

/// The credential `id` in `node`'s passport, if it holds it.
async fn held(node: &tim_node::Handle, id: &str) -> Option<serde_json::Value> {
    node.credentials()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c["id"] == id)
}

/// A node that stops after applying an issuance record about its timite, before it stored the
/// credential the record carries, keeps it when it starts again (docs/passports.md, "Delivery
/// after a crash"): ann's node b applies the record while its store refuses credential writes
/// (as a stop between the change and the credential would leave it), and b, restarted on the
/// same home with a's node gone, lists the credential, checked and kept from its own log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_whose_delivery_a_stop_cut_short_is_kept_at_the_next_start() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, space) = joined_pair(&tmp, "crash").await;
    let ann = b.keys.timite.did();
    sees_member(&a.handle, space.id, ann, "ann's join to reach a").await;

    b.handle.fail_credential_writes(true);
    let vc = a
        .handle
        .issue_credential(space.id, ann, CredentialKind::Membership, None)
        .await
        .unwrap();
    let id = vc["id"].as_str().unwrap().to_string();
    eventually(10, "the issuance record to reach b", || async {
        let checks = b.handle.space_checks(vc.clone(), false).await.unwrap();
        failures(&checks).is_empty()
    })
    .await;
    assert_eq!(
        held(&b.handle, &id).await,
        None,
        "b's store refuses credentials"
    );

    a.handle.shutdown().await.unwrap();
    b.handle.shutdown().await.unwrap();
    let (dir, keys) = (b.dir.clone(), b.keys.clone());
    drop((a, b));
    let b = common::restart(dir, keys).await;
    let kept = poll(10, "the credential kept after the restart", || {
        held(&b.handle, &id)
    })
    .await;
    assert_eq!(kept, vc);
    b.handle.shutdown().await.unwrap();
}
