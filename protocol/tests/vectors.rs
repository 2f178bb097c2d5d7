//! The test vectors of docs/protocol.md (section 13, and the examples of sections 3, 4.2 and
//! 7), checked with this crate alone, without Automerge: the way a reimplementation would check
//! them. Every value is read from the document and recomputed here, so the document and the
//! code cannot drift apart. `crdt/tests/vectors.rs` checks that the reference node builds
//! exactly these bytes.

use ed25519_dalek::{Signer, SigningKey};
use sha2::{Digest, Sha256};
use tim_protocol::wire::{SyncMessage, SyncResponse};
use tim_protocol::{verify_strict, ChangeHash, Did, Envelope, SpaceId};

#[path = "spec/mod.rs"]
mod spec;
use spec::{block, field, flat, section};

fn hash32(s: &str) -> [u8; 32] {
    hex::decode(s).unwrap().try_into().unwrap()
}

#[test]
fn identities() {
    let s13 = section("## 13.");
    let seed = hash32(&field(s13, "alice seed"));
    assert_eq!(seed, [1; 32]);
    let alice = SigningKey::from_bytes(&seed);
    let public = alice.verifying_key();
    assert_eq!(
        field(s13, "alice public key"),
        hex::encode(public.as_bytes())
    );
    let did = Did::from_key(&public);
    assert_eq!(field(s13, "alice DID"), did.to_string());
    assert_eq!(field(s13, "alice DID").parse::<Did>().unwrap(), did);
    // Section 1.2: identity multihash of the protobuf-encoded key.
    let mut peer = hex::decode("002408011220").unwrap();
    peer.extend_from_slice(public.as_bytes());
    assert_eq!(field(s13, "PeerId bytes"), hex::encode(&peer));
    assert_eq!(
        field(s13, "alice PeerId"),
        bs58::encode(&peer).into_string()
    );
    // Section 1.3: a session actor is the key followed by a 16-byte session id, and the
    // message id of section 9 names it.
    let session = hex::decode(field(s13, "alice session")).unwrap();
    assert_eq!(session.len(), 16);
    let actor = [public.as_bytes().as_slice(), &session].concat();
    assert_eq!(field(s13, "alice actor"), hex::encode(&actor));
    assert_eq!(
        field(s13, "message id"),
        format!("17@{}", hex::encode(&actor))
    );
}

/// The actor id in a change's header (after the dependencies): its length byte and bytes.
fn header_actor(change: &[u8], deps: usize) -> &[u8] {
    let at = 12 + 32 * deps;
    &change[at + 1..at + 1 + usize::from(change[at])]
}

#[test]
fn genesis_change_hash_space_id_and_signature() {
    let s13 = section("## 13.");
    let change = hex::decode(block(s13, "The genesis change, full hex")).unwrap();
    assert!(s13.contains(&format!("The genesis change is {} bytes", change.len())));
    assert_eq!(change[..4], [0x85, 0x6f, 0x4a, 0x83], "Automerge magic");
    // Section 3: the change hash is SHA-256 of everything after magic and checksum, and the
    // checksum is its first 4 bytes.
    let hash: [u8; 32] = Sha256::digest(&change[8..]).into();
    assert_eq!(change[4..8], hash[..4]);
    assert_eq!(field(s13, "genesis hash"), hex::encode(hash));
    assert_eq!(change[8], 0x01, "chunk type: change");
    assert_eq!(change[11], 0x00, "no dependencies");
    assert_eq!(
        hex::encode(header_actor(&change, 0)),
        field(s13, "alice actor")
    );
    let space = SpaceId::from_genesis(&ChangeHash::from(hash));
    assert_eq!(field(s13, "space id"), space.to_string());
    assert_eq!(field(s13, "topic"), space.topic());
    // Section 3's own example.
    let s3 = flat(section("## 3."));
    assert!(s3.contains(&format!(
        "genesishash{}givesspaceid`{space}`",
        hex::encode(hash)
    )));

    let alice = SigningKey::from_bytes(&[1; 32]);
    let signed = Envelope::signing_bytes(&space, &ChangeHash::from(hash));
    let sig = alice.sign(&signed).to_bytes();
    assert_eq!(field(s13, "genesis signature"), hex::encode(sig));
    assert!(verify_strict(&alice.verifying_key(), &signed, &sig));
}

#[test]
fn post_envelope_and_signed_bytes() {
    let s13 = section("## 13.");
    let bytes = hex::decode(block(s13, "The post's envelope, full hex")).unwrap();
    assert!(s13.contains(&format!("The post's envelope is {} bytes", bytes.len())));
    let gossip_id = hex::encode(Sha256::digest(&bytes));
    assert!(s13.contains(&format!("gossipsub message id is\n`{gossip_id}`")));
    let env = Envelope::decode(&bytes).unwrap();
    assert_eq!(env.encode(), bytes, "one envelope, one encoding");
    assert_eq!(field(s13, "space id"), env.space.to_string());
    assert_eq!(field(s13, "alice DID"), env.author.to_string());
    let hash: [u8; 32] = Sha256::digest(&env.change[8..]).into();
    assert_eq!(field(s13, "post change hash"), hex::encode(hash));
    // One dependency: the genesis.
    assert_eq!(env.change[11], 0x01);
    assert_eq!(hex::encode(&env.change[12..44]), field(s13, "genesis hash"));
    assert_eq!(
        hex::encode(header_actor(&env.change, 1)),
        field(s13, "alice actor")
    );
    let hash = ChangeHash::from(hash);
    env.verify_signature(&hash).unwrap();

    // Section 4.2's worked example is this post.
    let s42 = flat(section("### 4.2"));
    let signed = Envelope::signing_bytes(&env.space, &hash);
    assert!(s42.contains(&format!("asonestring:{}", hex::encode(signed))));
    assert!(s42.contains(&format!("signature{}", hex::encode(env.signature))));
    assert!(s42.contains(&format!(
        "publickey{}",
        hex::encode(env.author.public_bytes())
    )));
}

#[test]
fn sync_examples() {
    let s13 = section("## 13.");
    let space: SpaceId = field(s13, "space id").parse().unwrap();
    let empty = SyncMessage {
        space,
        automerge: None,
        envelopes: vec![],
        access: None,
    };
    // Section 7.2.
    let s72 = flat(section("### 7.2"));
    assert!(s72.contains(&hex::encode(empty.encode())));
    // Section 7.3: each example line, with the space filled in.
    let s73 = section("### 7.3");
    for (label, resp) in [
        ("sync, nothing to say:", SyncResponse::Sync(empty.clone())),
        ("unknown space:", SyncResponse::UnknownSpace(space)),
        (
            "refused, malformed:",
            SyncResponse::Refused {
                space,
                reason: tim_protocol::wire::RefusalReason::Malformed,
            },
        ),
        (
            "refused, code 300:",
            SyncResponse::Refused {
                space,
                reason: tim_protocol::wire::RefusalReason::Other(300),
            },
        ),
    ] {
        let line = s73
            .lines()
            .find_map(|l| l.strip_prefix(label))
            .unwrap_or_else(|| panic!("no example `{label}`"));
        let documented = flat(&line.replace("<space id>", &space.to_string()));
        assert_eq!(documented, hex::encode(resp.encode()), "{label}");
        assert_eq!(
            SyncResponse::decode(&hex::decode(&documented).unwrap()).unwrap(),
            resp
        );
    }
    // Section 13.3: the first sync request, and section 7.4's annotated Automerge part.
    let request = hex::decode(block(s13, "Alice's first sync request")).unwrap();
    assert!(s13.contains(&format!("this space is {} bytes", request.len())));
    let msg = SyncMessage::decode(&request).unwrap();
    assert_eq!(msg.encode(), request);
    assert_eq!(msg.space, space);
    assert!(msg.envelopes.is_empty());
    let am = msg.automerge.unwrap();
    assert_eq!(am[0], 0x42, "format v1");
    // The annotated example, without its annotations: the hex words of each line.
    let annotated: String = section("### 7.4")
        .split("Example,")
        .nth(1)
        .unwrap()
        .split("```")
        .nth(1)
        .unwrap()
        .lines()
        .flat_map(|l| l.split_whitespace().take_while(|w| hex::decode(w).is_ok()))
        .collect();
    assert_eq!(annotated, hex::encode(&am));
}
