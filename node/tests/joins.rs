//! Joins given up and leaves, at the node's handle (issue 17): a join whose caller stops
//! waiting drops its space; a leave removes the timite's entry and drops the space once no
//! hosted timite is a member.

mod common;

use std::time::Duration;

use common::{node, poll, JOIN};
use tim_node::NodeError;
use tim_protocol::SpaceId;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_whose_caller_stops_waiting_drops_its_space() {
    let tmp = tempfile::tempdir().unwrap();
    let a = node(&tmp, 1).await;
    let nowhere: SpaceId = "00000000000000000000000000000000000000000000000000000000000000ee"
        .parse()
        .unwrap();
    let handle = a.handle.clone();
    let join =
        tokio::spawn(async move { handle.join(nowhere, vec![], Duration::from_secs(60)).await });
    poll(10, "the join to host the space", || async {
        (a.handle.status().await.unwrap().spaces == 1).then_some(())
    })
    .await;
    join.abort();
    assert!(join.await.unwrap_err().is_cancelled());
    poll(10, "the abandoned join's space to be dropped", || async {
        (a.handle.status().await.unwrap().spaces == 0).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leave_removes_the_entry_and_drops_the_space_once_no_hosted_timite_is_a_member() {
    let tmp = tempfile::tempdir().unwrap();
    let a = node(&tmp, 1).await;
    let b = node(&tmp, 2).await;
    let space = a.handle.create_space("garden", "").await.unwrap().id;
    let other = b.handle.acting_as(b.handle.add_timite().await.unwrap().did);
    for h in [&b.handle, &other] {
        h.join(space, vec![a.addr.clone()], JOIN).await.unwrap();
    }

    // The owner may not leave.
    let refused = a.handle.leave(space).await.unwrap_err();
    assert!(
        matches!(&refused, NodeError::Refused(r) if r.contains("the owner cannot leave")),
        "{refused}"
    );

    // One of b's timites leaves: b keeps the space for the other.
    let (change, dropped) = b.handle.leave(space).await.unwrap();
    assert!(change.is_some() && !dropped);
    assert_eq!(b.handle.status().await.unwrap().spaces, 1);
    // The other leaves: b drops it, and a sees both entries gone.
    let (change, dropped) = other.leave(space).await.unwrap();
    assert!(change.is_some() && dropped);
    assert_eq!(b.handle.status().await.unwrap().spaces, 0);
    poll(20, "both leaves to reach the owner's node", || async {
        (a.handle.members(space).await.unwrap().len() == 1).then_some(())
    })
    .await;
    // Nothing is left to leave.
    let gone = b.handle.leave(space).await.unwrap_err();
    assert!(
        matches!(gone, NodeError::UnknownSpace(id) if id == space),
        "{gone}"
    );
}
