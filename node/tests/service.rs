//! The service layer without HTTP: who may do what is decided by the caller argument, inputs
//! are typed ids, and refusals are typed errors (what an MCP server will see).

mod common;

use tim_node::api::RateLimit;
use tim_node::service::{Caller, Service, ServiceError};
use tim_node::NodeError;
use tim_protocol::api::{CreateSpace, NewToken, TrustEntry};
use tim_protocol::MessageId;

#[tokio::test(flavor = "multi_thread")]
async fn use_cases_check_the_caller_and_answer_typed_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let n = common::node(&tmp, 1).await;
    let service = Service::new(n.handle.clone(), "admin", RateLimit::default());
    let operator = Caller::operator(n.handle.timite());

    // Operator-only use cases refuse a timite, whatever transport calls them.
    let bob = service.add_timite(&operator).await.unwrap().did;
    let bob_c = Caller::timite(bob);
    assert!(matches!(
        service.timites(&bob_c).await,
        Err(ServiceError::OperatorOnly(_))
    ));
    let entry = TrustEntry {
        issuer: bob.to_string(),
        weight: 0.5,
    };
    assert!(matches!(
        service.set_trust(&bob_c, &entry).await,
        Err(ServiceError::OperatorOnly(_))
    ));
    service.set_trust(&operator, &entry).await.unwrap();

    // A timite makes tokens for itself only.
    let for_ann = NewToken {
        did: operator.timite,
        label: String::new(),
        ttl_secs: None,
    };
    assert!(matches!(
        service.new_token(&bob_c, &for_ann).await,
        Err(ServiceError::NotYours(_))
    ));
    let own = NewToken {
        did: bob,
        ..for_ann
    };
    let issued = service.new_token(&bob_c, &own).await.unwrap();
    assert_eq!(service.tokens(&bob_c).unwrap(), vec![issued.info]);

    // Writes act as the caller: bob may post in his own space and delete his message by id.
    let space = service
        .create_space(
            &bob_c,
            &CreateSpace {
                name: "bob's".into(),
                purpose: String::new(),
                visibility: Some("secret".into()),
                ttl_secs: None,
                encrypted: None,
            },
        )
        .await;
    assert!(matches!(space, Err(ServiceError::InvalidVisibility(_))));
    let space = service
        .create_space(
            &bob_c,
            &CreateSpace {
                name: "bob's".into(),
                purpose: String::new(),
                visibility: None,
                ttl_secs: None,
                encrypted: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(space.created_by, bob);
    let posted = service.post(&bob_c, space.id, "hello").await.unwrap();
    let id: MessageId = posted.id.parse().unwrap();
    service.delete_message(&bob_c, space.id, &id).await.unwrap();
    assert!(matches!(
        service.delete_message(&bob_c, space.id, &id).await,
        Err(ServiceError::Node(NodeError::Invalid(_)))
    ));

    // A credential that fails its checks is not kept.
    let refused = service
        .hold_credential(&bob_c, serde_json::json!({"id": "urn:uuid:x"}))
        .await;
    assert!(
        matches!(refused, Err(ServiceError::CredentialRefused { .. })),
        "{refused:?}"
    );
    n.handle.shutdown().await.unwrap();
}
