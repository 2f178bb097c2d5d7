//! W3C Verifiable Credentials (Data Model 2.0) and Presentations, secured with Data Integrity
//! proofs of the `eddsa-rdfc-2022` cryptosuite, through ssi.
//!
//! A credential uses only the standard VC 2.0 context plus an inline context object for Tim's
//! own terms (absolute `urn:tim:vocab#…` IRIs), so any verifier can check it offline: the
//! issuer is a did:key, resolved from the DID itself, and the VC 2.0 context is built into
//! every conforming verifier.

use serde_json::{json, Value};
use ssi::claims::data_integrity::{
    AnyDataIntegrity, AnyInputSuiteOptions, AnySuite, CryptographicSuite, ProofOptions,
};
use ssi::claims::vc::v2::syntax::JsonPresentation;
use ssi::claims::vc::v2::JsonCredential;
use ssi::claims::vc_jose_cose::JoseVc;
use ssi::claims::VerificationParameters;
use ssi::claims::{JwsPayload, JwsStr};
use ssi::dids::{AnyDidMethod, VerificationMethodDIDResolver};
use ssi::jwk::{Base64urlUInt, OctetParams, Params};
use ssi::verification_methods::{AnyMethod, ProofPurpose, SingleSecretSigner};
use ssi::JWK;
use tim_protocol::{Did, SpaceId};

use crate::Identity;

/// The VC 2.0 base context.
pub const VC_V2_CONTEXT: &str = "https://www.w3.org/ns/credentials/v2";
/// The prefix of Tim's own terms.
pub const TIM_VOCAB: &str = "urn:tim:vocab#";

/// The inline JSON-LD context defining Tim's terms.
pub fn tim_context() -> Value {
    let term = |t: &str| format!("{TIM_VOCAB}{t}");
    let xsd = |t: &str| format!("http://www.w3.org/2001/XMLSchema#{t}");
    json!({
        "TimMembershipCredential": term("MembershipCredential"),
        "TimReputationCredential": term("ReputationCredential"),
        "TimAbilityCredential": term("AbilityCredential"),
        "TimProfileCredential": term("ProfileCredential"),
        "space": { "@id": term("space"), "@type": "@id" },
        "role": term("role"),
        "since": { "@id": term("since"), "@type": xsd("dateTime") },
        "score": { "@id": term("score"), "@type": xsd("integer") },
        "contributions": { "@id": term("contributions"), "@type": xsd("integer") },
        "ratingsReceived": { "@id": term("ratingsReceived"), "@type": xsd("integer") },
        "averageRating": { "@id": term("averageRating"), "@type": xsd("decimal") },
        "periodStart": { "@id": term("periodStart"), "@type": xsd("dateTime") },
        "periodEnd": { "@id": term("periodEnd"), "@type": xsd("dateTime") },
        "formula": term("formula"),
        "turns": { "@id": term("turns"), "@type": xsd("integer") },
        "standing": { "@id": term("standing"), "@type": xsd("integer") },
        "contributionPoints": { "@id": term("contributionPoints"), "@type": xsd("decimal") },
        "ratingPoints": { "@id": term("ratingPoints"), "@type": xsd("decimal") },
        "abilityPoints": { "@id": term("abilityPoints"), "@type": xsd("decimal") },
        "ability": term("ability"),
        "level": term("level"),
        "attestedBy": { "@id": term("attestedBy"), "@type": "@id" },
        "bio": term("bio"),
        "avatar": term("avatar")
    })
}

/// The IRI naming a space in credentials: `urn:tim:space:<64 hex>`.
pub fn space_iri(space: &SpaceId) -> String {
    space.iri()
}

/// The space a Tim credential names (`credentialSubject.space`).
pub fn credential_space(vc: &Value) -> Option<SpaceId> {
    SpaceId::from_iri(vc["credentialSubject"]["space"].as_str()?)
}

/// What a credential says about its subject.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// The subject is a member of the space, with a role, since a time.
    Membership {
        /// Role name.
        role: String,
        /// RFC 3339 time the membership began.
        since: String,
    },
    /// The subject's reputation in the space and its basis.
    Reputation {
        /// The score (docs/reputation.md).
        score: i64,
        /// Messages and ability results counted.
        contributions: u64,
        /// Peer ratings received.
        ratings_received: u64,
        /// Their average, 1 to 5 (0 when none).
        average_rating: f64,
        /// RFC 3339 start of the period the basis covers.
        period_start: String,
        /// RFC 3339 end of the period.
        period_end: String,
        /// The inputs of the v2 formula, for a space at schema version 8 or later.
        v2: Option<ReputationBasis>,
    },
    /// An ability of the subject, attested by a member of the space.
    Ability {
        /// The ability's name.
        ability: String,
        /// Its level.
        level: String,
        /// Who attested it.
        attested_by: Did,
    },
}

/// The basis of a reputation v2 score (docs/reputation.md): what `credentialSubject` states
/// beside the v1 fields, as `formula` `tim-reputation-2`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReputationBasis {
    /// Turns of contribution (`turns`).
    pub turns: u64,
    /// The subject's standing, per mille (`standing`).
    pub standing: u64,
    /// Contribution milli-points (`contributionPoints`, in points).
    pub contribution_points: i64,
    /// Standing-weighted peer rating milli-points (`ratingPoints`, in points).
    pub rating_points: i64,
    /// Rated ability outcome milli-points (`abilityPoints`, in points).
    pub ability_points: i64,
}

impl Claim {
    fn type_name(&self) -> &'static str {
        match self {
            Self::Membership { .. } => "TimMembershipCredential",
            Self::Reputation { .. } => "TimReputationCredential",
            Self::Ability { .. } => "TimAbilityCredential",
        }
    }

    fn subject_fields(&self, subject: &mut serde_json::Map<String, Value>) {
        match self {
            Self::Membership { role, since } => {
                subject.insert("role".into(), json!(role));
                subject.insert("since".into(), json!(since));
            }
            Self::Reputation {
                score,
                contributions,
                ratings_received,
                average_rating,
                period_start,
                period_end,
                v2,
            } => {
                subject.insert("score".into(), json!(score));
                subject.insert("contributions".into(), json!(contributions));
                subject.insert("ratingsReceived".into(), json!(ratings_received));
                subject.insert("averageRating".into(), json!(average_rating));
                subject.insert("periodStart".into(), json!(period_start));
                subject.insert("periodEnd".into(), json!(period_end));
                if let Some(b) = v2 {
                    let points = |milli: i64| json!(milli as f64 / 1000.0);
                    subject.insert("formula".into(), json!("tim-reputation-2"));
                    subject.insert("turns".into(), json!(b.turns));
                    subject.insert("standing".into(), json!(b.standing));
                    subject.insert("contributionPoints".into(), points(b.contribution_points));
                    subject.insert("ratingPoints".into(), points(b.rating_points));
                    subject.insert("abilityPoints".into(), points(b.ability_points));
                }
            }
            Self::Ability {
                ability,
                level,
                attested_by,
            } => {
                subject.insert("ability".into(), json!(ability));
                subject.insert("level".into(), json!(level));
                subject.insert("attestedBy".into(), json!(attested_by.to_string()));
            }
        }
    }
}

/// A credential's status entry (`BitstringStatusListEntry`): its bit in a status list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusEntry {
    /// The bit's index in the list (`statusListIndex`).
    pub index: u64,
    /// The status list credential's URL (`statusListCredential`).
    pub list: String,
}

impl StatusEntry {
    /// An entry of the space's status list as only Tim nodes read it:
    /// `urn:tim:space:<id>/status`, at the credential's status index in the space document
    /// (what a node without a public URL names; outside verifiers cannot fetch it).
    pub fn in_space(space: &SpaceId, index: u64) -> Self {
        Self {
            index,
            list: format!("{}/status", space_iri(space)),
        }
    }
}

/// Everything needed to issue a credential.
#[derive(Debug, Clone)]
pub struct CredentialRequest {
    /// The credential's id (e.g. `urn:uuid:…`).
    pub id: String,
    /// The space issuing it.
    pub space: SpaceId,
    /// Whom it is about.
    pub subject: Did,
    /// What it says.
    pub claim: Claim,
    /// RFC 3339 start of validity (whole seconds).
    pub valid_from: String,
    /// RFC 3339 end of validity, if any.
    pub valid_until: Option<String>,
    /// Revocation status entry, if the credential can be revoked.
    pub status: Option<StatusEntry>,
}

/// Why a credential or presentation could not be made or checked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// The JSON is not a credential or presentation of the expected shape.
    #[error("malformed: {0}")]
    Malformed(String),
    /// Signing failed.
    #[error("cannot sign: {0}")]
    Sign(String),
    /// The proof does not verify.
    #[error("the proof does not verify: {0}")]
    Proof(String),
    /// A check on the content failed.
    #[error("{0}")]
    Check(String),
    /// A profile credential issued by someone other than its subject (it must be
    /// self-issued: docs/passports.md, "The profile credential").
    #[error("a profile credential is issued by its own subject; this one's issuer is `{issuer}`, its subject `{subject}`")]
    NotSelfIssued {
        /// The credential's issuer.
        issuer: String,
        /// Its subject.
        subject: String,
    },
    /// A credential whose proof names a key other than its issuer's.
    #[error("signed with `{method}`, not with the key of its issuer `{issuer}`")]
    WrongKey {
        /// The proof's verification method.
        method: String,
        /// The issuer.
        issuer: String,
    },
    /// A profile credential presented by someone other than its subject.
    #[error("the profile credential is about `{subject}`, not its presenter `{holder}`")]
    NotTheHolder {
        /// The credential's subject.
        subject: String,
        /// The presentation's holder.
        holder: String,
    },
}

fn jwk_of(id: &Identity) -> JWK {
    let key = id.signing_key();
    JWK::from(Params::OKP(OctetParams {
        curve: "Ed25519".to_string(),
        public_key: Base64urlUInt(key.verifying_key().to_bytes().to_vec()),
        private_key: Some(Base64urlUInt(key.to_bytes().to_vec())),
    }))
}

/// The verification method of a did:key: `did:key:z…#z…`.
pub fn verification_method(did: &Did) -> String {
    let s = did.to_string();
    let key = s.trim_start_matches("did:key:");
    format!("{s}#{key}")
}

fn resolver() -> VerificationMethodDIDResolver<AnyDidMethod, AnyMethod> {
    VerificationMethodDIDResolver::new(AnyDidMethod::default())
}

fn proof_options(
    did: &Did,
    purpose: ProofPurpose,
) -> Result<ProofOptions<AnyMethod, AnyInputSuiteOptions>, CredentialError> {
    let vm = iref::IriBuf::new(verification_method(did))
        .map_err(|e| CredentialError::Sign(format!("verification method: {e}")))?;
    let mut options: ProofOptions<AnyMethod, AnyInputSuiteOptions> =
        ProofOptions::from_method(vm.into());
    options.proof_purpose = purpose;
    Ok(options)
}

/// The unsigned credential for a request, as JSON.
pub fn credential_json(issuer: &Did, req: &CredentialRequest) -> Value {
    let mut subject = serde_json::Map::new();
    subject.insert("id".into(), json!(req.subject.to_string()));
    subject.insert("space".into(), json!(space_iri(&req.space)));
    req.claim.subject_fields(&mut subject);
    let mut vc = json!({
        "@context": [VC_V2_CONTEXT, tim_context()],
        "id": req.id,
        "type": ["VerifiableCredential", req.claim.type_name()],
        "issuer": issuer.to_string(),
        "validFrom": req.valid_from,
        "credentialSubject": subject,
    });
    if let Some(until) = &req.valid_until {
        vc["validUntil"] = json!(until);
    }
    if let Some(status) = &req.status {
        vc["credentialStatus"] = json!({
            "id": format!("{}#{}", status.list, status.index),
            "type": "BitstringStatusListEntry",
            "statusPurpose": "revocation",
            "statusListIndex": status.index.to_string(),
            "statusListCredential": status.list,
        });
    }
    vc
}

/// Issues a credential signed by `issuer` with an `eddsa-rdfc-2022` Data Integrity proof.
pub async fn issue(issuer: &Identity, req: &CredentialRequest) -> Result<Value, CredentialError> {
    sign(issuer, credential_json(&issuer.did(), req)).await
}

/// Signs an unsigned credential (JSON) as `issuer`, `eddsa-rdfc-2022`, proof purpose
/// `assertionMethod`.
pub(crate) async fn sign(issuer: &Identity, unsigned: Value) -> Result<Value, CredentialError> {
    let unsigned: JsonCredential =
        serde_json::from_value(unsigned).map_err(|e| CredentialError::Malformed(e.to_string()))?;
    let signed = AnySuite::EdDsaRdfc2022
        .sign(
            unsigned,
            resolver(),
            SingleSecretSigner::new(jwk_of(issuer)).into_local(),
            proof_options(&issuer.did(), ProofPurpose::Assertion)?,
        )
        .await
        .map_err(|e| CredentialError::Sign(e.to_string()))?;
    serde_json::to_value(&signed).map_err(|e| CredentialError::Malformed(e.to_string()))
}

/// Verifies a credential's proof offline (did:key issuers only need their DID), now.
pub async fn verify_proof(credential: &Value) -> Result<(), CredentialError> {
    verify_proof_with(
        credential,
        VerificationParameters::from_resolver(resolver()),
    )
    .await
}

/// Verifies a credential's proof offline as of `now` (seconds since the Unix epoch): ssi also
/// checks the credential's validity period, and must do so at the time of the verdict, not at
/// the moment the code runs (a join is judged at its own time on every node, whenever the node
/// receives it).
pub async fn verify_proof_at(credential: &Value, now: i64) -> Result<(), CredentialError> {
    let at = ssi::claims::chrono::DateTime::from_timestamp(now, 0)
        .ok_or_else(|| CredentialError::Check(format!("{now} is not a representable time")))?;
    let params = VerificationParameters::from_resolver(resolver()).with_date_time(at);
    verify_proof_with(credential, params).await
}

async fn verify_proof_with(
    credential: &Value,
    params: VerificationParameters<VerificationMethodDIDResolver<AnyDidMethod, AnyMethod>>,
) -> Result<(), CredentialError> {
    let vc: AnyDataIntegrity<JsonCredential> = serde_json::from_value(credential.clone())
        .map_err(|e| CredentialError::Malformed(e.to_string()))?;
    match vc.verify(params).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(invalid)) => Err(CredentialError::Proof(invalid.to_string())),
        Err(e) => Err(CredentialError::Proof(e.to_string())),
    }
}

/// Makes a presentation of `credentials`, signed by `holder`, bound to `domain` (the target
/// space) and `challenge` (handed out by it), so it cannot be replayed elsewhere.
pub async fn present(
    holder: &Identity,
    credentials: Vec<Value>,
    domain: &str,
    challenge: &str,
) -> Result<Value, CredentialError> {
    let vp = json!({
        "@context": [VC_V2_CONTEXT],
        "type": ["VerifiablePresentation"],
        "holder": holder.did().to_string(),
        "verifiableCredential": credentials,
    });
    let vp: JsonPresentation<Value> =
        serde_json::from_value(vp).map_err(|e| CredentialError::Malformed(e.to_string()))?;
    let mut options = proof_options(&holder.did(), ProofPurpose::Authentication)?;
    options.domains = vec![domain.to_string()];
    options.challenge = Some(challenge.to_string());
    let signed = AnySuite::EdDsaRdfc2022
        .sign(
            vp,
            resolver(),
            SingleSecretSigner::new(jwk_of(holder)).into_local(),
            options,
        )
        .await
        .map_err(|e| CredentialError::Sign(e.to_string()))?;
    serde_json::to_value(&signed).map_err(|e| CredentialError::Malformed(e.to_string()))
}

/// Verifies a presentation's own proof (the holder's signature) offline.
pub async fn verify_presentation_proof(presentation: &Value) -> Result<(), CredentialError> {
    let vp: AnyDataIntegrity<JsonPresentation<Value>> =
        serde_json::from_value(presentation.clone())
            .map_err(|e| CredentialError::Malformed(e.to_string()))?;
    let params = VerificationParameters::from_resolver(resolver());
    match vp.verify(params).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(invalid)) => Err(CredentialError::Proof(invalid.to_string())),
        Err(e) => Err(CredentialError::Proof(e.to_string())),
    }
}

/// Signs a credential as a VC-JOSE JWT (`typ` `vc-ld+jwt`, EdDSA, `kid` = the issuer's
/// verification method): the same credential, without its Data Integrity proof, as the JWS
/// payload. `credential` may carry a `proof`; it is dropped.
pub async fn issue_jwt(issuer: &Identity, credential: &Value) -> Result<String, CredentialError> {
    let mut unsigned = credential.clone();
    if let Some(obj) = unsigned.as_object_mut() {
        obj.remove("proof");
    }
    if unsigned["issuer"].as_str() != Some(issuer.did().to_string().as_str()) {
        return Err(CredentialError::Sign(
            "only the issuer can sign another form of its credential".into(),
        ));
    }
    let vc: JsonCredential =
        serde_json::from_value(unsigned).map_err(|e| CredentialError::Malformed(e.to_string()))?;
    let mut jwk = jwk_of(issuer);
    jwk.key_id = Some(verification_method(&issuer.did()));
    jwk.algorithm = Some(ssi::jwk::Algorithm::EdDSA);
    let jws = JwsPayload::sign(&JoseVc(vc), &jwk)
        .await
        .map_err(|e| CredentialError::Sign(e.to_string()))?;
    Ok(jws.as_str().to_string())
}

/// Verifies a VC-JOSE JWT offline; returns its credential (the payload).
pub async fn verify_jwt(jwt: &str) -> Result<Value, CredentialError> {
    let jws = JwsStr::new(jwt.trim()).map_err(|e| CredentialError::Malformed(e.to_string()))?;
    let decoded = JoseVc::<JsonCredential>::decode(jws)
        .map_err(|e| CredentialError::Malformed(e.to_string()))?;
    let payload = serde_json::to_value(&decoded.signing_bytes.payload.0)
        .map_err(|e| CredentialError::Malformed(e.to_string()))?;
    let kid_did = decoded
        .signing_bytes
        .header
        .key_id
        .as_deref()
        .and_then(|k| k.split('#').next())
        .unwrap_or_default()
        .to_string();
    if payload["issuer"].as_str() != Some(kid_did.as_str()) {
        return Err(CredentialError::Proof(format!(
            "signed with a key of `{kid_did}`, not of the issuer"
        )));
    }
    match decoded
        .verify(VerificationParameters::from_resolver(resolver()))
        .await
    {
        Ok(Ok(())) => Ok(payload),
        Ok(Err(invalid)) => Err(CredentialError::Proof(invalid.to_string())),
        Err(e) => Err(CredentialError::Proof(e.to_string())),
    }
}

/// Verifies a JWT credential at `now`: signature (EdDSA by the issuer's key), data model,
/// validity period.
pub async fn verify_jwt_credential(jwt: &str, now: i64) -> Report {
    let mut report = Report::default();
    match verify_jwt(jwt).await {
        Ok(vc) => {
            report.pass(
                "JWS signature",
                format!("EdDSA by {}", vc["issuer"].as_str().unwrap_or("?")),
            );
            report.record("data model 2.0", check_shape(&vc, "VerifiableCredential"));
            report.record("validity period", check_validity(&vc, now));
        }
        Err(e) => report.fail("JWS signature", e.to_string()),
    }
    report
}

/// One check of a verification, for people to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was checked.
    pub name: String,
    /// `Ok(detail)` or `Err(reason)`.
    pub outcome: Result<String, String>,
}

/// Every check made on a credential or presentation, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// The checks.
    pub checks: Vec<Check>,
}

impl Report {
    fn pass(&mut self, name: &str, detail: impl Into<String>) {
        self.checks.push(Check {
            name: name.into(),
            outcome: Ok(detail.into()),
        });
    }

    fn fail(&mut self, name: &str, reason: impl Into<String>) {
        self.checks.push(Check {
            name: name.into(),
            outcome: Err(reason.into()),
        });
    }

    fn record(&mut self, name: &str, r: Result<String, String>) {
        match r {
            Ok(d) => self.pass(name, d),
            Err(e) => self.fail(name, e),
        }
    }

    /// Whether every check passed.
    pub fn ok(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.outcome.is_ok())
    }

    /// The first failed check, if any.
    pub fn first_failure(&self) -> Option<&Check> {
        self.checks.iter().find(|c| c.outcome.is_err())
    }
}

/// Whether a credential or presentation lists `t` among its types.
pub fn has_type(doc: &Value, t: &str) -> bool {
    types_of(doc).iter().any(|x| x == t)
}

/// Whether a JSON document is a Verifiable Presentation (else it is taken as a credential).
pub fn is_presentation(doc: &Value) -> bool {
    has_type(doc, "VerifiablePresentation")
}

/// The credentials a presentation carries (`verifiableCredential`, one or many).
pub fn credentials_in(presentation: &Value) -> Vec<Value> {
    match &presentation["verifiableCredential"] {
        Value::Array(a) => a.clone(),
        Value::Null => vec![],
        single => vec![single.clone()],
    }
}

/// Verifies a credential or a presentation, whichever `doc` is (see [`verify_credential`] and
/// [`verify_presentation`]; `domain` and `challenge` apply to presentations).
pub async fn verify_document(
    doc: &Value,
    domain: Option<&str>,
    challenge: Option<&str>,
    now: i64,
) -> Report {
    if is_presentation(doc) {
        verify_presentation(doc, domain, challenge, now).await
    } else {
        verify_credential(doc, now).await
    }
}

fn types_of(v: &Value) -> Vec<String> {
    match &v["type"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|t| t.as_str().map(String::from))
            .collect(),
        _ => vec![],
    }
}

fn parse_time(v: &Value, field: &str) -> Result<Option<chrono_lite::Instant>, String> {
    match v.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => chrono_lite::parse(s)
            .map(Some)
            .ok_or_else(|| format!("{field} `{s}` is not an RFC 3339 date-time")),
        Some(other) => Err(format!("{field} is not a string: {other}")),
    }
}

/// Parses an RFC 3339 date-time (`2026-11-24T10:00:00Z`, fractions and offsets too) to
/// seconds since the Unix epoch.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    chrono_lite::parse(s)
}

/// Formats seconds since the Unix epoch as RFC 3339 in UTC, whole seconds
/// (`2026-11-24T10:00:00Z`).
pub fn format_time(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = chrono_lite::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// A random `urn:uuid:` (version 4) for a new credential.
pub fn new_credential_id() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Minimal RFC 3339 parsing to seconds since the Unix epoch, enough for validity checks.
mod chrono_lite {
    /// (year, month, day) of a day number since 1970-01-01.
    pub(super) fn civil_from_days(z: i64) -> (i64, i64, i64) {
        let z = z + 719_468;
        let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let y = yoe + era * 400;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        (if m <= 2 { y + 1 } else { y }, m, d)
    }

    /// Seconds since the Unix epoch.
    pub(super) type Instant = i64;

    fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
        let y = if m <= 2 { y - 1 } else { y };
        let era = if y >= 0 { y } else { y - 399 } / 400;
        let yoe = y - era * 400;
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)`.
    pub(super) fn parse(s: &str) -> Option<Instant> {
        let b = s.as_bytes();
        if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !(b[10] == b'T' || b[10] == b't') {
            return None;
        }
        let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
        let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
            return None;
        }
        let mut rest = &s[19..];
        if let Some(frac) = rest.strip_prefix('.') {
            let digits = frac.chars().take_while(char::is_ascii_digit).count();
            if digits == 0 {
                return None;
            }
            rest = &frac[digits..];
        }
        let offset = match rest {
            "Z" | "z" => 0,
            _ if rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')) => {
                let sign = if rest.starts_with('-') { -1 } else { 1 };
                let oh: i64 = rest.get(1..3)?.parse().ok()?;
                let om: i64 = rest.get(4..6)?.parse().ok()?;
                sign * (oh * 3600 + om * 60)
            }
            _ => return None,
        };
        Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - offset)
    }
}

/// Verifies a credential offline at time `now` (seconds since the Unix epoch): data model
/// shape, proof, validity period. Revocation and trust are the caller's (they need the issuing
/// space and the node's policy).
pub async fn verify_credential(credential: &Value, now: i64) -> Report {
    let mut report = Report::default();
    report.record(
        "data model 2.0",
        check_shape(credential, "VerifiableCredential"),
    );
    if credential["credentialSubject"].is_null() {
        report.fail("subject", "no credentialSubject");
    }
    // ssi checks the validity period along with the signature; as of a time inside the period
    // (ssi counts `validUntil` itself as expired), the proof check is about the signature
    // alone, and the period is reported on its own.
    let from = parse_time(credential, "validFrom").ok().flatten();
    let until = parse_time(credential, "validUntil").ok().flatten();
    let proof_time = now
        .max(from.unwrap_or(now))
        .min(until.map_or(i64::MAX, |u| u - 1));
    match verify_proof_at(credential, proof_time).await {
        Ok(()) => report.pass(
            "proof",
            format!(
                "eddsa-rdfc-2022 signature by {}",
                credential["issuer"].as_str().unwrap_or("?")
            ),
        ),
        Err(e) => report.fail("proof", e.to_string()),
    }
    report.record("validity period", check_validity(credential, now));
    if crate::profile_credential::is_profile_credential(credential) {
        report.record(
            "self-issued",
            crate::profile_credential::check_self_issued(credential, None)
                .map(|_| "by its subject: a profile, for display only".to_string())
                .map_err(|e| e.to_string()),
        );
    }
    report
}

fn check_shape(doc: &Value, base_type: &str) -> Result<String, String> {
    if doc["@context"][0] != VC_V2_CONTEXT {
        return Err(format!("the first @context must be {VC_V2_CONTEXT}"));
    }
    let types = types_of(doc);
    if !types.iter().any(|t| t == base_type) {
        return Err(format!("type must include {base_type}"));
    }
    Ok(types.join(", "))
}

fn check_validity(doc: &Value, now: i64) -> Result<String, String> {
    let from = parse_time(doc, "validFrom")?;
    let until = parse_time(doc, "validUntil")?;
    if let Some(f) = from {
        if now < f {
            return Err(format!("not valid before {}", doc["validFrom"]));
        }
    }
    if let Some(u) = until {
        if now > u {
            return Err(format!("expired at {}", doc["validUntil"]));
        }
    }
    Ok(match (&doc["validFrom"], &doc["validUntil"]) {
        (Value::String(f), Value::String(u)) => format!("valid from {f} until {u}"),
        (Value::String(f), _) => format!("valid from {f}, no expiry"),
        _ => "no validity period stated".into(),
    })
}

/// Verifies a presentation offline at time `now`: its proof by the holder, its binding to
/// `domain` and `challenge`, and every credential in it (each about the holder, but for the
/// status lists it carries as evidence of the others' status, which must be valid at `now`
/// too).
pub async fn verify_presentation(
    presentation: &Value,
    domain: Option<&str>,
    challenge: Option<&str>,
    now: i64,
) -> Report {
    let mut report = Report::default();
    report.record(
        "data model 2.0",
        check_shape(presentation, "VerifiablePresentation"),
    );
    let holder = presentation["holder"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let proof = &presentation["proof"];
    let signer = proof["verificationMethod"]
        .as_str()
        .and_then(|vm| vm.split('#').next())
        .unwrap_or_default();
    if holder.is_empty() || signer != holder {
        report.fail(
            "holder",
            format!("signed by `{signer}`, not by the holder `{holder}`"),
        );
    }
    match verify_presentation_proof(presentation).await {
        Ok(()) => report.pass("proof", format!("eddsa-rdfc-2022 signature by {holder}")),
        Err(e) => report.fail("proof", e.to_string()),
    }
    for (name, expected, field) in [
        ("domain", domain, "domain"),
        ("challenge", challenge, "challenge"),
    ] {
        if let Some(expected) = expected {
            match proof[field].as_str() {
                Some(got) if got == expected => report.pass(name, got),
                Some(got) => report.fail(name, format!("`{got}`, expected `{expected}`")),
                None => report.fail(name, "missing"),
            }
        }
    }
    for (i, vc) in credentials_in(presentation).iter().enumerate() {
        let sub = Box::pin(verify_credential(vc, now)).await;
        for c in sub.checks {
            report.checks.push(Check {
                name: format!("credential {} {}", i + 1, c.name),
                outcome: c.outcome,
            });
        }
        let subject = vc["credentialSubject"]["id"].as_str().unwrap_or_default();
        if crate::profile_credential::is_profile_credential(vc) {
            // Self-issued by the holder, or the holder shows someone else's profile as its own.
            let outcome = match holder.parse::<Did>() {
                Ok(h) => crate::profile_credential::check_self_issued(vc, Some(&h))
                    .map(|_| "the holder's own profile".to_string())
                    .map_err(|e| e.to_string()),
                Err(_) => Err(format!("the holder `{holder}` is not a did:key")),
            };
            report.record(&format!("credential {} subject", i + 1), outcome);
        } else if has_type(vc, "BitstringStatusListCredential") {
            report.pass(
                &format!("credential {} subject", i + 1),
                "a status list: evidence of the other credentials' status",
            );
        } else if subject == holder {
            report.pass(&format!("credential {} subject", i + 1), "is the holder");
        } else {
            report.fail(
                &format!("credential {} subject", i + 1),
                format!("is `{subject}`, not the holder `{holder}`"),
            );
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::chrono_lite::parse;
    use super::{format_time, new_credential_id};

    #[test]
    fn times_format_and_parse_back() {
        for t in [0, 951_868_799, 1_795_514_400, 4_102_444_800] {
            assert_eq!(parse(&format_time(t)), Some(t), "{}", format_time(t));
        }
        assert_eq!(format_time(1_795_514_400), "2026-11-24T10:00:00Z");
        let id = new_credential_id();
        assert_eq!(id.len(), 45);
        assert_ne!(id, new_credential_id());
    }

    #[test]
    fn rfc3339_times_parse_to_unix_seconds() {
        assert_eq!(parse("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse("2026-11-24T10:00:00Z"), Some(1_795_514_400));
        assert_eq!(parse("2000-02-29T23:59:59.123Z"), Some(951_868_799));
        assert_eq!(parse("2026-11-24T12:00:00+02:00"), Some(1_795_514_400));
        for bad in [
            "",
            "2026-11-24",
            "2026-13-01T00:00:00Z",
            "2026-11-24T10:00:00",
            "x",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
