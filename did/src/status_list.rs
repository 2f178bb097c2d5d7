//! Bitstring Status Lists (W3C Bitstring Status List v1.0): the revocation bits of the
//! credentials an issuer signed in a space's name, published as a signed
//! `BitstringStatusListCredential` that any verifier can fetch and check.
//!
//! The list is [`STATUS_LIST_BITS`] bits (the standard's minimum, 16 KiB), GZIP-compressed
//! and multibase-encoded (base64url without padding, prefix `u`) in
//! `credentialSubject.encodedList`. Bit 0 is the most significant bit of the first byte. A
//! credential's bit is its [`list_position`]: its status index in the space document modulo
//! the list's length (the issuing node picks credential ids whose positions are free, so no two
//! credentials of one issuer share a bit).
//!
//! The list credential is signed like every Tim credential (`eddsa-rdfc-2022`, by the issuer's
//! did:key) and uses only the VC 2.0 context, which defines the status list terms.

use std::io::{Read, Write};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde_json::{json, Value};
use tim_protocol::{Did, SpaceId};

use crate::credential::{self, CredentialError, VC_V2_CONTEXT};
use crate::Identity;

/// Bits in a status list: the standard's minimum (131,072 bits, 16 KiB uncompressed).
pub const STATUS_LIST_BITS: u64 = 131_072;

/// Largest decoded list accepted from elsewhere (64 times the list Tim publishes): a bound on
/// what a compressed list may expand to.
pub const MAX_LIST_BYTES: usize = 64 * (STATUS_LIST_BITS as usize / 8);

/// The path of an issuer's status list for a space, under a node's public base URL.
pub fn status_list_path(space: &SpaceId, issuer: &Did) -> String {
    format!("/v1/status-lists/{space}/{issuer}")
}

/// The URL of an issuer's status list for a space at a node whose public base URL is `base`
/// (e.g. `https://tim.example.org`; a trailing `/` is ignored).
pub fn status_list_url(base: &str, space: &SpaceId, issuer: &Did) -> String {
    format!(
        "{}{}",
        base.trim_end_matches('/'),
        status_list_path(space, issuer)
    )
}

/// The bit of a credential with this status index (the space document's, 53 bits).
pub fn list_position(status_index: u64) -> u64 {
    status_index % STATUS_LIST_BITS
}

/// Encodes a list of [`STATUS_LIST_BITS`] bits with `set` (positions below that) set:
/// GZIP, then multibase base64url (`u…`).
pub fn encode_list(set: impl IntoIterator<Item = u64>) -> Result<String, CredentialError> {
    let mut bits = vec![0u8; (STATUS_LIST_BITS / 8) as usize];
    for p in set {
        if p >= STATUS_LIST_BITS {
            return Err(CredentialError::Malformed(format!(
                "status list position {p} is beyond the list's {STATUS_LIST_BITS} bits"
            )));
        }
        bits[(p / 8) as usize] |= 0x80 >> (p % 8);
    }
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&bits)
        .and_then(|()| gz.finish())
        .map(|zipped| format!("u{}", URL_SAFE_NO_PAD.encode(zipped)))
        .map_err(|e| CredentialError::Malformed(format!("cannot compress the status list: {e}")))
}

/// Decodes an `encodedList` into its bytes (at most [`MAX_LIST_BYTES`]).
pub fn decode_list(encoded: &str) -> Result<Vec<u8>, CredentialError> {
    let bad = |why: String| CredentialError::Malformed(format!("encodedList: {why}"));
    let b64 = encoded
        .strip_prefix('u')
        .ok_or_else(|| bad("not multibase base64url (no `u` prefix)".into()))?;
    let zipped = URL_SAFE_NO_PAD
        .decode(b64)
        .map_err(|e| bad(format!("not base64url: {e}")))?;
    let mut bits = Vec::new();
    GzDecoder::new(zipped.as_slice())
        .take(MAX_LIST_BYTES as u64 + 1)
        .read_to_end(&mut bits)
        .map_err(|e| bad(format!("not GZIP: {e}")))?;
    if bits.len() > MAX_LIST_BYTES {
        return Err(bad(format!("longer than {MAX_LIST_BYTES} bytes")));
    }
    Ok(bits)
}

/// Whether bit `position` is set in decoded list bytes; `None` if the list is shorter.
pub fn bit(bits: &[u8], position: u64) -> Option<bool> {
    let byte = bits.get(usize::try_from(position / 8).ok()?)?;
    Some(byte & (0x80 >> (position % 8)) != 0)
}

/// Whether a credential names an HTTP(S) status list (which its issuer's node serves), as
/// opposed to `urn:tim:space:<id>/status`, which only Tim nodes read.
pub fn fetchable_list(credential: &Value) -> Option<&str> {
    credential["credentialStatus"]["statusListCredential"]
        .as_str()
        .filter(|url| url.starts_with("https://") || url.starts_with("http://"))
}

/// Whether `credential` is revoked according to the status list among `lists` that it names
/// (same `id` as its `statusListCredential`, same issuer, `statusPurpose` `revocation`).
/// The lists' proofs and validity are the caller's to check (a presentation's verification
/// checks every credential it carries). `Err` says why the lists cannot tell.
pub fn revoked_by(credential: &Value, lists: &[Value]) -> Result<bool, CredentialError> {
    let check = |why: String| CredentialError::Check(why);
    let url = fetchable_list(credential)
        .ok_or_else(|| check("the credential names no HTTP(S) status list".into()))?;
    let list = lists
        .iter()
        .find(|l| l["id"].as_str() == Some(url))
        .ok_or_else(|| check(format!("no status list {url} comes with it")))?;
    if !credential::has_type(list, "BitstringStatusListCredential") {
        return Err(check(format!(
            "{url} is not a BitstringStatusListCredential"
        )));
    }
    if list["issuer"] != credential["issuer"] {
        return Err(check(format!(
            "the status list {url} is not signed by the credential's issuer"
        )));
    }
    let subject = &list["credentialSubject"];
    if subject["statusPurpose"] != "revocation" || subject["type"] != "BitstringStatusList" {
        return Err(check(format!("{url} is not a revocation list")));
    }
    let position: u64 = credential["credentialStatus"]["statusListIndex"]
        .as_str()
        .and_then(|i| i.parse().ok())
        .ok_or_else(|| check("statusListIndex is not a decimal string".into()))?;
    let encoded = subject["encodedList"]
        .as_str()
        .ok_or_else(|| check(format!("{url} has no encodedList")))?;
    bit(&decode_list(encoded)?, position)
        .ok_or_else(|| check(format!("{url} is shorter than index {position}")))
}

/// Everything needed to sign a status list.
#[derive(Debug, Clone)]
pub struct StatusListRequest {
    /// The list credential's URL (its `id`; what credentials name in `statusListCredential`).
    pub url: String,
    /// Positions of revoked credentials.
    pub revoked: Vec<u64>,
    /// RFC 3339 start of validity (whole seconds).
    pub valid_from: String,
    /// RFC 3339 end of validity: verifiers fetch a fresh list after it.
    pub valid_until: String,
}

/// The unsigned `BitstringStatusListCredential` (`statusPurpose` `revocation`).
pub fn status_list_json(issuer: &Did, req: &StatusListRequest) -> Result<Value, CredentialError> {
    Ok(json!({
        "@context": [VC_V2_CONTEXT],
        "id": req.url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer.to_string(),
        "validFrom": req.valid_from,
        "validUntil": req.valid_until,
        "credentialSubject": {
            "id": format!("{}#list", req.url),
            "type": "BitstringStatusList",
            "statusPurpose": "revocation",
            "encodedList": encode_list(req.revoked.iter().copied())?,
        },
    }))
}

/// Signs an issuer's status list (`eddsa-rdfc-2022`, as every Tim credential).
pub async fn issue_status_list(
    issuer: &Identity,
    req: &StatusListRequest,
) -> Result<Value, CredentialError> {
    credential::sign(issuer, status_list_json(&issuer.did(), req)?).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_encode_and_decode_bit_for_bit() {
        let encoded = encode_list([0, 9, STATUS_LIST_BITS - 1]).unwrap();
        assert!(encoded.starts_with('u'));
        // 16 KiB of almost only zeros compresses to a few dozen bytes.
        assert!(encoded.len() < 200, "{}", encoded.len());
        let bits = decode_list(&encoded).unwrap();
        assert_eq!(bits.len() as u64, STATUS_LIST_BITS / 8);
        assert_eq!(bits[0], 0x80);
        assert_eq!(bits[1], 0x40);
        let set: Vec<u64> = (0..STATUS_LIST_BITS)
            .filter(|p| bit(&bits, *p) == Some(true))
            .collect();
        assert_eq!(set, [0, 9, STATUS_LIST_BITS - 1]);
        assert_eq!(bit(&bits, STATUS_LIST_BITS), None);
        assert!(encode_list([STATUS_LIST_BITS]).is_err());
    }

    #[test]
    fn undecodable_or_oversized_lists_are_errors() {
        for bad in ["", "zabc", "u***", "uAAAA"] {
            assert!(decode_list(bad).is_err(), "{bad}");
        }
        let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&vec![0u8; MAX_LIST_BYTES + 1]).unwrap();
        let bomb = format!("u{}", URL_SAFE_NO_PAD.encode(gz.finish().unwrap()));
        let e = decode_list(&bomb).unwrap_err().to_string();
        assert!(e.contains("longer than"), "{e}");
    }
}
