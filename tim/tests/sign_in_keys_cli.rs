//! `tim timite keys` with the `tim` binary (docs/operator.md "Sign-in keys"): the operator
//! allows a browser's key for a timite; the key signs a challenge and gets a token acting as
//! the timite; `keys` lists it (text and `--json`); removing it says how many sign-in tokens
//! it revoked, and that token stops working. Another timite's token may not list the keys.

mod common;

use ed25519_dalek::Signer;
use serde_json::{json, Value};

use common::ok;

/// Signs in as `did` on the node at `base` with `key`, naming it; the answer's status and body.
async fn sign_in(base: &str, did: &str, key: &tim_did::Identity) -> (u16, Value) {
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let c: Value = http
        .post(format!("{base}/v1/auth/challenge"))
        .json(&json!({"did": did}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let msg = tim_protocol::api::login_message(
        &c["node_did"].as_str().unwrap().parse().unwrap(),
        c["challenge"].as_str().unwrap(),
    );
    let resp = http
        .post(format!("{base}/v1/auth/login"))
        .json(&json!({"did": did, "challenge": c["challenge"],
                      "signature": hex_of(&key.signing_key().sign(&msg).to_bytes()),
                      "key": key.did()}))
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_operator_allows_a_key_that_signs_in_until_it_is_removed() {
    let cluster = common::one_node(&[]).await;
    let node = &cluster.nodes[0];
    let home = node.home.clone();
    let base = node.client.base().to_string();
    let ann = ok(&home, &["whoami"]).lines().next().unwrap().to_string();
    let browser = tim_did::Identity::from_seed([31; 32]);
    let key = browser.did().to_string();

    // Nothing allowed yet: the key is refused.
    assert_eq!(ok(&home, &["timite", "keys"]), "");
    let (status, refused) = sign_in(&base, &ann, &browser).await;
    assert_eq!(status, 401, "{refused}");
    assert_eq!(
        refused["type"], "tim:problem/not-a-sign-in-key",
        "{refused}"
    );

    let added = ok(&home, &["timite", "keys", "add", &key, "--label", "laptop"]);
    assert_eq!(added.trim(), format!("{key} may sign in as {ann}"));
    assert_eq!(
        ok(&home, &["timite", "keys", &ann]).trim(),
        format!("{key}  laptop")
    );
    let listed: Value = serde_json::from_str(&ok(&home, &["timite", "keys", "--json"])).unwrap();
    assert_eq!(listed[0]["key"], key, "{listed}");
    assert_eq!(listed[0]["label"], "laptop", "{listed}");

    // The key signs in as Ann.
    let (status, issued) = sign_in(&base, &ann, &browser).await;
    assert_eq!(status, 201, "{issued}");
    let token = issued["token"].as_str().unwrap().to_string();
    let me = ok(&home, &["whoami", "--token", &token]);
    assert!(me.starts_with(&ann), "{me}");

    // Another timite's token may not read Ann's keys.
    let (_bob, bob_token) = common::timite_with_token(&home);
    let refused = common::one_error_line(&common::tim(
        &home,
        &["timite", "keys", &ann, "--token", &bob_token],
    ));
    assert!(refused.contains("own sign-in keys"), "{refused}");

    // Removing the key revokes its token.
    let removed = ok(&home, &["timite", "keys", "remove", &key]);
    assert_eq!(
        removed.trim(),
        format!("{key} removed; 1 sign-in token(s) revoked")
    );
    let gone = common::one_error_line(&common::tim(&home, &["whoami", "--token", &token]));
    assert!(gone.contains("not valid"), "{gone}");
    assert_eq!(ok(&home, &["timite", "keys"]), "");
    let again = common::one_error_line(&common::tim(&home, &["timite", "keys", "remove", &key]));
    assert!(again.contains("is not a sign-in key"), "{again}");
}
