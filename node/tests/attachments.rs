//! Attachments of bounded size (schema version 11, docs/protocol.md §9.13.3): a message carries
//! a file of at most 64 KiB, its view names it, and the API serves its bytes as a download
//! that is never sniffed; oversized or badly named files are refused.

mod common;

use tim_node::api::ApiConfig;
use tim_protocol::api::{NewAttachment, PostMessage, TimelineQuery};

fn with_file(name: &str, mime: &str, data: Vec<u8>) -> PostMessage {
    PostMessage {
        text: "see attached".into(),
        reply_to: None,
        mentions: Vec::new(),
        attachment: Some(NewAttachment {
            name: name.into(),
            mime: mime.into(),
            data,
        }),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_carries_a_file_served_as_a_download() {
    let tmp = tempfile::tempdir().unwrap();
    let (n, service, owner, space) = common::service_space(&tmp, "files", 11).await;
    let data: Vec<u8> = (0..=255u8).cycle().take(64 * 1024).collect();
    let posted = service
        .post_message(
            &owner,
            space,
            &with_file("notes <1>.bin", "text/html", data.clone()),
        )
        .await
        .unwrap();
    let page = service
        .timeline(&owner, space, &TimelineQuery::default())
        .await
        .unwrap();
    let view = page.messages.iter().find(|m| m.id == posted.id).unwrap();
    let a = view.attachment.as_ref().unwrap();
    assert_eq!(
        (a.name.as_str(), a.mime.as_str(), a.size),
        ("notes <1>.bin", "text/html", 65536)
    );

    let base = common::serve_api(&n.handle, "admin", ApiConfig::default()).await;
    let resp = reqwest::Client::new()
        .get(format!(
            "{base}/v1/spaces/{space}/messages/{}/attachment",
            posted.id
        ))
        .bearer_auth("admin")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let header = |h: &str| resp.headers()[h].to_str().unwrap().to_string();
    assert_eq!(header("content-type"), "text/html");
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(
        header("content-disposition"),
        "attachment; filename=\"notes <1>.bin\""
    );
    assert_eq!(resp.bytes().await.unwrap().to_vec(), data);

    // A message without one answers 404.
    let plain = service.post(&owner, space, "no file").await.unwrap();
    let resp = reqwest::Client::new()
        .get(format!(
            "{base}/v1/spaces/{space}/messages/{}/attachment",
            plain.id
        ))
        .bearer_auth("admin")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);

    // Too big, or named like a path: refused before anything is written.
    for (name, size, why) in [
        ("big.bin", 64 * 1024 + 1, "at most 65536 bytes"),
        ("../etc/passwd", 10, "path separator"),
        ("bell\u{7}.txt", 10, "control character"),
    ] {
        let err = service
            .post_message(&owner, space, &with_file(name, "text/plain", vec![0; size]))
            .await
            .unwrap_err();
        assert!(err.to_string().contains(why), "{name}: {err}");
    }
    let err = service
        .post_message(&owner, space, &with_file("a.txt", "nonsense", vec![1]))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("type/subtype"), "{err}");
}
