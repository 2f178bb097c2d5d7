//! The profile with the passport (docs/passports.md, "The profile credential"), through real
//! nodes on 127.0.0.1: setting a profile issues a self-issued profile credential that replaces
//! the older one; a join presentation carries it; the space's other node verifies it there and
//! shows it as the joiner's profile where the space has none (a space below version 11); it
//! admits nobody; one about someone else, slipped into a presentation, is never shown.

mod common;

use base64::Engine as _;

use tim_crdt::admission::Requirement;
use tim_did::credential::{verify_credential, verify_jwt, verify_presentation};
use tim_did::profile_credential::{is_profile_credential, verify_profile};
use tim_node::service::{Caller, Service};
use tim_protocol::api::{
    AvatarUpload, CredentialsQuery, IssueRequest, JoinSpace, SetTimiteProfile,
};
use tim_protocol::Did;

/// A PNG's bytes (its magic number, then anything).
const AVATAR: &[u8] = b"\x89PNG\r\n\x1a\n a small avatar";

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

async fn profile_credentials(service: &Service, who: &Caller) -> Vec<serde_json::Value> {
    service
        .credentials(who, &CredentialsQuery::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(is_profile_credential)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_profile_set_travels_as_a_self_issued_credential_in_the_join_presentation() {
    let tmp = tempfile::tempdir().unwrap();
    let common::ServicePair {
        n1: _n1,
        n2,
        s1,
        s2,
        ann,
        bob,
        ..
    } = common::service_pair(&tmp).await;

    // Setting the profile issues its credential, signed with Ann's own key.
    let set = SetTimiteProfile {
        name: Some("Ann".into()),
        bio: Some("grows tomatoes".into()),
        avatar: Some(AvatarUpload {
            mime: "image/png".into(),
            data: base64::engine::general_purpose::STANDARD.encode(AVATAR),
        }),
        handle: None,
    };
    let first = Box::pin(s1.set_timite_profile(&ann, set)).await.unwrap();
    let first_id = first.credential.expect("a profile credential");
    let held = profile_credentials(&s1, &ann).await;
    assert_eq!(held.len(), 1, "{held:#?}");
    let vc = &held[0];
    assert_eq!(vc["id"], first_id.to_string());
    assert_eq!(vc["issuer"], ann.timite.to_string());
    let claim = Box::pin(verify_profile(vc, &ann.timite)).await.unwrap();
    assert_eq!(claim.name, "Ann");
    assert!(claim.avatar.unwrap().matches(AVATAR));
    assert!(Box::pin(verify_credential(vc, now())).await.ok());
    let report = Box::pin(s1.verify(vc)).await.unwrap();
    assert!(report.verified, "{report:?}");

    // A newer profile replaces it: one profile credential held, the older one dropped.
    let renamed = SetTimiteProfile {
        name: Some("Ann B.".into()),
        ..SetTimiteProfile::default()
    };
    let second = Box::pin(s1.set_timite_profile(&ann, renamed))
        .await
        .unwrap();
    let second_id = second.credential.expect("a profile credential");
    assert_ne!(second_id, first_id);
    let held = profile_credentials(&s1, &ann).await;
    assert_eq!(held.len(), 1, "{held:#?}");
    assert_eq!(held[0]["id"], second_id.to_string());
    assert_eq!(held[0]["credentialSubject"]["name"], "Ann B.");
    assert_eq!(held[0]["credentialSubject"]["bio"], "grows tomatoes");
    assert!(s1.credential(&ann, &first_id).await.is_err());
    // Its issuer's node exports its JWT form too.
    let jwt = s1.credential_jwt(&ann, &second_id).await.unwrap();
    assert_eq!(
        Box::pin(verify_jwt(&jwt)).await.unwrap()["credentialSubject"]["name"],
        "Ann B."
    );

    // Bob's space below version 11 (no profiles in it) admits members of Ann's space.
    let workshop = common::space_at(&s1, &ann, "workshop", None).await;
    let membership = IssueRequest {
        subject: ann.timite,
        kind: "membership".into(),
        ability: None,
        level: None,
        valid_for_secs: None,
    };
    let member_vc = s1
        .issue_credential(&ann, workshop, &membership)
        .await
        .unwrap();
    let member_id = member_vc["id"].as_str().unwrap().to_string();
    let old = common::space_at(&s2, &bob, "old", Some(10)).await;
    s2.set_requirements(
        &bob,
        old,
        vec![Requirement::Membership {
            spaces: vec![workshop],
        }],
    )
    .await
    .unwrap();
    let join = |present| JoinSpace {
        via: vec![n2.addr.to_string()],
        present,
        timeout_secs: Some(20),
    };

    // The profile credential alone admits nobody.
    let err = s1
        .join_space(&ann, old, &join(vec![second_id.to_string()]))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("requires"), "{err}");

    // Presenting the membership credential: the presentation carries the profile too.
    s1.join_space(&ann, old, &join(vec![member_id]))
        .await
        .unwrap();
    let ann_did: Did = ann.timite;
    let vp = common::poll(20, "Ann's presentation on node 2", || async {
        n2.handle
            .read_space(old, move |s| s.presentation_of(&ann_did))
            .await
            .ok()
            .flatten()
    })
    .await;
    let vp: serde_json::Value = serde_json::from_str(&vp).unwrap();
    let report = Box::pin(verify_presentation(&vp, Some(&old.iri()), None, now())).await;
    assert!(report.ok(), "{report:?}");
    let carried: Vec<_> = tim_did::credential::credentials_in(&vp)
        .into_iter()
        .filter(is_profile_credential)
        .collect();
    assert_eq!(carried.len(), 1);
    assert_eq!(carried[0]["id"], second_id.to_string());
    Box::pin(verify_profile(&carried[0], &ann.timite))
        .await
        .unwrap();

    // Node 2 shows it as Ann's profile: no space it shares with her has one.
    let seen = Box::pin(s2.timite_profile(&bob, ann.timite)).await.unwrap();
    assert_eq!(seen.name.as_deref(), Some("Ann B."));
    assert_eq!(seen.bio.as_deref(), Some("grows tomatoes"));
    assert!(seen.avatar.is_none(), "only the avatar's digest travels");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_presented_profile_about_someone_else_is_never_shown() {
    use tim_did::profile_credential::{profile_credential_json, ProfileClaim};
    let tmp = tempfile::tempdir().unwrap();
    let common::ServicePair {
        n1, n2, s1, ann, ..
    } = common::service_pair(&tmp).await;
    let mallory = n2.keys.timite.clone();
    let old = common::space_at(&s1, &ann, "old", Some(10)).await;

    // Mallory signs "Ann the admin" about Ann and slips it into its own passport (its node
    // keeps what its timite issued; only the service's import would have refused it).
    let claim = ProfileClaim {
        name: "Ann the admin".into(),
        bio: None,
        avatar: None,
    };
    let mut forged = profile_credential_json(
        &mallory.did(),
        "urn:uuid:0f0e0d0c-0b0a-4908-8706-050403020100",
        "2026-11-24T10:00:00Z",
        &claim,
    );
    forged["credentialSubject"]["id"] = ann.timite.to_string().into();
    let forged = tim_did::test_utils::sign_as(&mallory, forged)
        .await
        .unwrap();
    let report = Box::pin(s1.verify(&forged)).await.unwrap();
    assert!(!report.verified, "{report:?}");
    let id = n2.handle.hold_credential(forged).await.unwrap();

    // A space without requirements stores the presentation unchecked.
    n2.handle
        .join_presenting(old, vec![n1.addr.clone()], vec![id], common::JOIN)
        .await
        .unwrap();
    let who = mallory.did();
    common::poll(20, "Mallory's presentation on node 1", || async {
        n1.handle
            .read_space(old, move |s| s.presentation_of(&who))
            .await
            .ok()
            .flatten()
    })
    .await;
    // Shown as nobody's profile: not Mallory's (not self-issued), not Ann's (not presented
    // by her).
    let err = Box::pin(s1.timite_profile(&ann, mallory.did()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no profile"), "{err}");
    let own = Box::pin(s1.timite_profile(&ann, ann.timite)).await;
    assert!(own.is_err(), "{own:?}");
}
