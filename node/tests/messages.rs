//! Message features through the service of a real node (docs/protocol.md §9.12): the space's
//! event stream carries `message_edited` and `reacted` with the message as it is after the
//! change; replies make a thread; search pages; refusals come back typed.

mod common;

use std::time::Duration;

use tim_node::service::{Caller, ServiceError};
use tim_node::NodeError;
use tim_protocol::api::{JoinSpace, SearchQuery, SpaceEvent};
use tim_protocol::MessageId;
use tokio_stream::StreamExt as _;

/// The next edit or reaction event of `events`, within 10 s.
async fn next<E: std::fmt::Debug>(
    events: &mut (impl tokio_stream::Stream<Item = Result<SpaceEvent, E>> + Unpin),
) -> SpaceEvent {
    loop {
        let e = tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .expect("an event within 10 s")
            .expect("the stream stays open")
            .expect("no lag");
        if matches!(
            e,
            SpaceEvent::MessageEdited { .. } | SpaceEvent::Reacted { .. }
        ) {
            return e;
        }
    }
}

fn search(q: &str, limit: usize, before: Option<&str>) -> SearchQuery {
    SearchQuery {
        q: q.into(),
        limit: Some(limit),
        before: before.map(|b| b.parse().unwrap()),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn edits_and_reactions_reach_the_event_stream_and_threads_and_search_answer() {
    let tmp = tempfile::tempdir().unwrap();
    let (_node, service, owner, space) = common::service_space(&tmp, "talk", 10).await;
    let bob = Caller::timite(service.add_timite(&owner).await.unwrap().did);
    let join = JoinSpace {
        via: vec![],
        present: vec![],
        timeout_secs: None,
    };
    service.join_space(&bob, space, &join).await.unwrap();
    let mut events = Box::pin(service.events(&owner, space).await.unwrap());

    let first = service.post(&owner, space, "Apple pie").await.unwrap().id;
    let mid: MessageId = first.parse().unwrap();
    let reply = service
        .reply(&bob, space, &first, "apple crumble")
        .await
        .unwrap()
        .id;
    service.react(&bob, space, &mid, "🍎").await.unwrap();
    match next(&mut events).await {
        SpaceEvent::Reacted { message, .. } => {
            assert_eq!(message.id, first);
            assert_eq!(message.reactions[0].by, [bob.timite]);
        }
        other => panic!("{other:?}"),
    }
    service
        .edit_message(&owner, space, &mid, "Apple tart")
        .await
        .unwrap();
    match next(&mut events).await {
        SpaceEvent::MessageEdited { message, .. } => {
            assert_eq!((message.text.as_str(), message.edits), ("Apple tart", 1));
        }
        other => panic!("{other:?}"),
    }
    let refused = service.edit_message(&bob, space, &mid, "mine").await;
    assert!(
        matches!(&refused, Err(ServiceError::Node(NodeError::Invalid(e))) if e.contains("only its author")),
        "{refused:?}"
    );

    let thread = service.thread(&bob, space, &mid).await.unwrap();
    assert_eq!(thread.root.id, first);
    assert_eq!(thread.replies.len(), 1);
    assert_eq!(thread.replies[0].id, reply);
    let unknown = service.thread(&bob, space, &"99@00".parse().unwrap()).await;
    assert!(
        matches!(
            unknown,
            Err(ServiceError::Node(NodeError::UnknownMessage(_)))
        ),
        "{unknown:?}"
    );

    let page = service
        .search(&bob, space, search("APPLE", 1, None))
        .await
        .unwrap();
    assert_eq!(page.messages[0].id, reply, "newest first");
    assert_eq!(page.next_before.as_deref(), Some(reply.as_str()));
    let page = service
        .search(&bob, space, search("apple", 1, Some(&reply)))
        .await
        .unwrap();
    assert_eq!(page.messages[0].text, "Apple tart");
    assert_eq!(page.next_before, None);
    let bad = service.search(&bob, space, search("apple", 0, None)).await;
    assert!(matches!(bad, Err(ServiceError::InvalidPage(_))), "{bad:?}");
}
