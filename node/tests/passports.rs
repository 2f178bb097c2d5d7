//! Passports across nodes: reputation earned in a space on one node is issued as a credential
//! by an admin, carried to another node, verified there against the replicated space, and
//! revoked through the space's status list (the revocation travels by gossip).

mod common;

use std::time::Duration;

use common::{converged, eventually, node};
use tim_did::credential::{issue, verify_credential, Claim, CredentialRequest, StatusEntry};
use tim_node::{Act, CredentialKind, NodeError};

const JOIN: Duration = Duration::from_secs(20);

fn failures(checks: &[tim_did::credential::Check]) -> Vec<String> {
    checks
        .iter()
        .filter_map(|c| c.outcome.as_ref().err().map(|e| format!("{}: {e}", c.name)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reputation_travels_as_a_credential_and_revocation_follows_by_gossip() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (node(&tmp, 1).await, node(&tmp, 2).await);
    let ann = b.keys.timite.did();
    let space = a.handle.create_space("workshop", "").await.unwrap();
    b.handle
        .join(space.id, vec![a.addr.clone()], JOIN)
        .await
        .unwrap();
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
        let checks = b.handle.space_checks(vc.clone()).await.unwrap();
        checks.len() == 2 && failures(&checks).is_empty()
    })
    .await;

    // Revoked on a; b learns it by gossip.
    a.handle.revoke_credential(&id).await.unwrap();
    eventually(10, "the revocation to reach b", || async {
        let checks = b.handle.space_checks(vc.clone()).await.unwrap();
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
            status: Some(StatusEntry { index: 99 }),
        },
    )
    .await
    .unwrap();
    assert!(
        verify_credential(&forged, now()).await.ok(),
        "its signature is fine"
    );
    let checks = a.handle.space_checks(forged).await.unwrap();
    assert!(
        failures(&checks)
            .iter()
            .any(|f| f.contains("was not an admin")),
        "{checks:?}"
    );
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
