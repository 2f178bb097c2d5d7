//! The self-issued profile credential (docs/passports.md, "The profile credential"): a
//! timite's display name, bio and avatar, signed by the timite's own key, so its profile
//! travels with its passport.
//!
//! ```text
//! { "@context": [VC 2.0, tim_context()],
//!   "id": "urn:uuid:…", "type": ["VerifiableCredential", "TimProfileCredential"],
//!   "issuer": DID, "validFrom": "<when it was set>",
//!   "credentialSubject": { "id": DID,                      (the same DID: self-issued)
//!                          "name": "…",                    (schema.org `name`, VC 2.0 context)
//!                          "bio": "…",                     (optional)
//!                          "avatar": { "mediaType": "image/png",          (optional)
//!                                      "digestSRI": "sha256-<base64>" } },
//!   "proof": { eddsa-rdfc-2022 by DID's key } }
//! ```
//!
//! Unlike the other Tim credentials it names no space and has no status entry: nobody but
//! its subject vouches for it, so it confers nothing (no role, reputation or admission) and
//! is only ever shown. The avatar is carried by its digest, not its bytes: with a 32 KiB
//! avatar as a `data:` URI the credential measured 46.2 KB (2.6 KB with the digest), over the
//! 16 KiB bound of every string in a space document, so a join presentation carrying it could
//! never be stored.

use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tim_protocol::Did;

use crate::credential::{self, CredentialError, VC_V2_CONTEXT};
use crate::Identity;

/// The type naming a profile credential (after `VerifiableCredential`).
pub const PROFILE_CREDENTIAL_TYPE: &str = "TimProfileCredential";

/// Largest profile credential accepted for reading, in bytes of its JSON (measured: 2.6 KB
/// with a short name and an avatar digest, 4.0 KB with 64 four-byte characters of name and
/// 280 of bio; most of it is the inline context).
pub const MAX_PROFILE_CREDENTIAL_BYTES: usize = 8 * 1024;

/// What a profile credential says of its subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileClaim {
    /// The display name.
    pub name: String,
    /// The bio.
    pub bio: Option<String>,
    /// The avatar, by its digest.
    pub avatar: Option<AvatarDigest>,
}

/// An avatar as a profile credential names it: its media type and the SHA-256 of its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvatarDigest {
    /// The media type (`mediaType`).
    pub mime: String,
    /// The SHA-256 of the image's bytes (`digestSRI`, `sha256-<base64>`).
    pub sha256: [u8; 32],
}

impl AvatarDigest {
    /// The digest of an image.
    pub fn of(mime: &str, data: &[u8]) -> Self {
        Self {
            mime: mime.to_string(),
            sha256: Sha256::digest(data).into(),
        }
    }

    /// Whether `data` is the image this digest names.
    pub fn matches(&self, data: &[u8]) -> bool {
        <[u8; 32]>::from(Sha256::digest(data)) == self.sha256
    }

    /// The digest as a Subresource Integrity string: `sha256-<base64>`.
    pub fn sri(&self) -> String {
        format!(
            "sha256-{}",
            base64::engine::general_purpose::STANDARD.encode(self.sha256)
        )
    }

    fn from_json(v: &Value) -> Result<Self, CredentialError> {
        let malformed = |why: &str| CredentialError::Malformed(format!("its avatar {why}"));
        let mime = v["mediaType"]
            .as_str()
            .ok_or_else(|| malformed("has no mediaType"))?;
        let digest = v["digestSRI"]
            .as_str()
            .and_then(|s| s.strip_prefix("sha256-"))
            .ok_or_else(|| malformed("has no digestSRI `sha256-…`"))?;
        let sha256 = base64::engine::general_purpose::STANDARD
            .decode(digest)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| malformed("digest is not 32 bytes of base64"))?;
        Ok(Self {
            mime: mime.to_string(),
            sha256,
        })
    }
}

/// The unsigned profile credential `id` of `subject`, valid from `valid_from` (RFC 3339,
/// whole seconds): issuer and subject are both `subject`.
pub fn profile_credential_json(
    subject: &Did,
    id: &str,
    valid_from: &str,
    claim: &ProfileClaim,
) -> Value {
    let did = subject.to_string();
    let mut fields = serde_json::Map::new();
    fields.insert("id".into(), json!(did));
    fields.insert("name".into(), json!(claim.name));
    if let Some(bio) = &claim.bio {
        fields.insert("bio".into(), json!(bio));
    }
    if let Some(a) = &claim.avatar {
        fields.insert(
            "avatar".into(),
            json!({ "mediaType": a.mime, "digestSRI": a.sri() }),
        );
    }
    json!({
        "@context": [VC_V2_CONTEXT, credential::tim_context()],
        "id": id,
        "type": ["VerifiableCredential", PROFILE_CREDENTIAL_TYPE],
        "issuer": did,
        "validFrom": valid_from,
        "credentialSubject": fields,
    })
}

/// Issues `timite`'s profile credential `id`, signed with its own key (eddsa-rdfc-2022, like
/// every Tim credential).
pub async fn issue_profile(
    timite: &Identity,
    id: &str,
    valid_from: &str,
    claim: &ProfileClaim,
) -> Result<Value, CredentialError> {
    credential::sign(
        timite,
        profile_credential_json(&timite.did(), id, valid_from, claim),
    )
    .await
}

/// Whether a credential is a profile credential.
pub fn is_profile_credential(vc: &Value) -> bool {
    credential::has_type(vc, PROFILE_CREDENTIAL_TYPE)
}

/// Checks, without the proof, that a profile credential is self-issued: its issuer is its
/// subject, its proof names the issuer's own key, and, given a `holder` (the presenter), the
/// subject is the holder. Returns the subject.
pub fn check_self_issued(vc: &Value, holder: Option<&Did>) -> Result<Did, CredentialError> {
    let subject = vc["credentialSubject"]["id"].as_str().unwrap_or_default();
    let issuer = match &vc["issuer"] {
        Value::Object(o) => o.get("id").and_then(Value::as_str),
        v => v.as_str(),
    }
    .unwrap_or_default();
    if issuer != subject {
        return Err(CredentialError::NotSelfIssued {
            issuer: issuer.to_string(),
            subject: subject.to_string(),
        });
    }
    let did: Did = subject.parse().map_err(|e| {
        CredentialError::Malformed(format!("its subject `{subject}` is not a did:key: {e}"))
    })?;
    let method = vc["proof"]["verificationMethod"]
        .as_str()
        .unwrap_or_default();
    if method != credential::verification_method(&did) {
        return Err(CredentialError::WrongKey {
            method: method.to_string(),
            issuer: did.to_string(),
        });
    }
    if let Some(holder) = holder.filter(|h| **h != did) {
        return Err(CredentialError::NotTheHolder {
            subject: did.to_string(),
            holder: holder.to_string(),
        });
    }
    Ok(did)
}

/// What a profile credential says, read without checking it.
pub fn profile_claim(vc: &Value) -> Result<ProfileClaim, CredentialError> {
    let subject = &vc["credentialSubject"];
    let name = subject["name"]
        .as_str()
        .ok_or_else(|| CredentialError::Malformed("a profile credential names no name".into()))?;
    let bio = match &subject["bio"] {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        _ => return Err(CredentialError::Malformed("its bio is not a string".into())),
    };
    let avatar = match &subject["avatar"] {
        Value::Null => None,
        a => Some(AvatarDigest::from_json(a)?),
    };
    Ok(ProfileClaim {
        name: name.to_string(),
        bio,
        avatar,
    })
}

/// Verifies `holder`'s profile credential: a profile credential, at most
/// [`MAX_PROFILE_CREDENTIAL_BYTES`], self-issued by `holder` ([`check_self_issued`]), whose
/// proof verifies (its validity period is not a condition: a profile has none). Returns what
/// it says; the caller checks the fields against its own rules before showing them.
pub async fn verify_profile(vc: &Value, holder: &Did) -> Result<ProfileClaim, CredentialError> {
    if !is_profile_credential(vc) {
        return Err(CredentialError::Malformed(format!(
            "not a {PROFILE_CREDENTIAL_TYPE}"
        )));
    }
    let size = vc.to_string().len();
    if size > MAX_PROFILE_CREDENTIAL_BYTES {
        return Err(CredentialError::Malformed(format!(
            "a profile credential is at most {MAX_PROFILE_CREDENTIAL_BYTES} bytes, not {size}"
        )));
    }
    check_self_issued(vc, Some(holder))?;
    let claim = profile_claim(vc)?;
    // As of its own `validFrom`: ssi checks the validity period with the proof.
    let at = vc["validFrom"]
        .as_str()
        .and_then(credential::parse_rfc3339)
        .ok_or_else(|| CredentialError::Malformed("no RFC 3339 validFrom".into()))?;
    credential::verify_proof_at(vc, at).await?;
    Ok(claim)
}
