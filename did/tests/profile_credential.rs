//! The self-issued profile credential: issued and verified, and refused when forged, altered,
//! about someone else or presented by someone else.

use serde_json::json;
use ssi::json_ld::{CompactJsonLd, ContextLoader, Expandable};
use tim_did::credential::{present, verify_credential, verify_presentation, CredentialError};
use tim_did::profile_credential::{
    issue_profile, profile_credential_json, verify_profile, AvatarDigest, ProfileClaim,
    MAX_PROFILE_CREDENTIAL_BYTES, PROFILE_CREDENTIAL_TYPE,
};
use tim_did::test_utils::sign_as;
use tim_did::Identity;

const ID: &str = "urn:uuid:0f0e0d0c-0b0a-4908-8706-050403020100";
const FROM: &str = "2026-11-24T10:00:00Z";
const NOW: i64 = 1_795_514_400 + 60;
/// The bytes of a PNG (its magic number, then anything).
const PNG: &[u8] = b"\x89PNG\r\n\x1a\nnot really an image";

fn claim() -> ProfileClaim {
    ProfileClaim {
        name: "Ann Example".into(),
        bio: Some("Gardener; answers in French or English.".into()),
        avatar: Some(AvatarDigest::of("image/png", PNG)),
    }
}

#[tokio::test]
async fn a_self_issued_profile_verifies_and_says_what_was_set() {
    let ann = Identity::from_seed([2; 32]);
    let vc = issue_profile(&ann, ID, FROM, &claim()).await.unwrap();
    assert_eq!(
        vc["type"],
        json!(["VerifiableCredential", PROFILE_CREDENTIAL_TYPE])
    );
    assert_eq!(vc["issuer"], ann.did().to_string());
    assert_eq!(vc["credentialSubject"]["id"], ann.did().to_string());
    assert!(vc["credentialSubject"]["space"].is_null());
    assert!(vc["credentialStatus"].is_null());
    assert_eq!(vc["proof"]["cryptosuite"], "eddsa-rdfc-2022");
    let digest = &vc["credentialSubject"]["avatar"]["digestSRI"];
    assert!(digest.as_str().unwrap().starts_with("sha256-"), "{digest}");

    let read = verify_profile(&vc, &ann.did()).await.unwrap();
    assert_eq!(read, claim());
    assert!(read.avatar.unwrap().matches(PNG));
    let report = verify_credential(&vc, NOW).await;
    assert!(report.ok(), "{report:?}");
    assert!(report.checks.iter().any(|c| c.name == "self-issued"));

    // Every term expands with the standard context and the inline one (nothing fetched);
    // an undefined term is refused, so none is dropped silently.
    let doc = CompactJsonLd(serde_json::from_value(vc.clone()).unwrap());
    doc.expand(&ContextLoader::default())
        .await
        .unwrap_or_else(|e| panic!("{e}: {vc:#}"));
    let mut undefined = vc.clone();
    undefined["credentialSubject"]["mystery"] = json!("?");
    let doc = CompactJsonLd(serde_json::from_value(undefined).unwrap());
    assert!(doc.expand(&ContextLoader::default()).await.is_err());

    // The largest profile stays well under the bound readers apply.
    let largest = ProfileClaim {
        name: "𝔄".repeat(64),
        bio: Some("𝔅".repeat(280)),
        avatar: Some(AvatarDigest::of("image/png", &[7; 32 * 1024])),
    };
    let vc = issue_profile(&ann, ID, FROM, &largest).await.unwrap();
    let size = vc.to_string().len();
    assert!(size < MAX_PROFILE_CREDENTIAL_BYTES / 2, "{size} bytes");
    assert_eq!(verify_profile(&vc, &ann.did()).await.unwrap(), largest);

    // Without the optional fields.
    let bare = ProfileClaim {
        name: "Bo".into(),
        bio: None,
        avatar: None,
    };
    let vc = issue_profile(&ann, ID, FROM, &bare).await.unwrap();
    assert_eq!(verify_profile(&vc, &ann.did()).await.unwrap(), bare);
}

#[tokio::test]
async fn an_altered_forged_or_foreign_profile_is_refused_with_its_reason() {
    let (ann, mallory) = (Identity::from_seed([2; 32]), Identity::from_seed([3; 32]));
    let vc = issue_profile(&ann, ID, FROM, &claim()).await.unwrap();

    // Altered after signing: the proof fails.
    let mut altered = vc.clone();
    altered["credentialSubject"]["name"] = json!("Ann the Admin");
    assert!(matches!(
        verify_profile(&altered, &ann.did()).await,
        Err(CredentialError::Proof(_))
    ));
    let mut swapped = vc.clone();
    swapped["credentialSubject"]["avatar"]["digestSRI"] =
        json!(AvatarDigest::of("image/png", b"\x89PNG\r\n\x1a\nother").sri());
    assert!(matches!(
        verify_profile(&swapped, &ann.did()).await,
        Err(CredentialError::Proof(_))
    ));

    // Ann's profile, presented as someone else's.
    assert!(matches!(
        verify_profile(&vc, &mallory.did()).await,
        Err(CredentialError::NotTheHolder { .. })
    ));

    // Issued by Mallory about Ann (a validly signed claim about someone else).
    let mut about_ann = profile_credential_json(&mallory.did(), ID, FROM, &claim());
    about_ann["credentialSubject"]["id"] = json!(ann.did().to_string());
    let about_ann = sign_as(&mallory, about_ann).await.unwrap();
    let err = verify_profile(&about_ann, &ann.did()).await.unwrap_err();
    assert!(
        matches!(err, CredentialError::NotSelfIssued { .. }),
        "{err}"
    );
    let report = verify_credential(&about_ann, NOW).await;
    assert_eq!(report.first_failure().unwrap().name, "self-issued");

    // Claims Ann as issuer but is signed with Mallory's key.
    let forged = profile_credential_json(&ann.did(), ID, FROM, &claim());
    let forged = sign_as(&mallory, forged).await.unwrap();
    let err = verify_profile(&forged, &ann.did()).await.unwrap_err();
    assert!(matches!(err, CredentialError::WrongKey { .. }), "{err}");
    assert!(!verify_credential(&forged, NOW).await.ok());
    // Its verification method edited to name Ann's key: the proof fails.
    let mut relabelled = forged.clone();
    relabelled["proof"]["verificationMethod"] = vc["proof"]["verificationMethod"].clone();
    assert!(matches!(
        verify_profile(&relabelled, &ann.did()).await,
        Err(CredentialError::Proof(_))
    ));
}

#[tokio::test]
async fn a_presentation_carries_only_the_holders_own_profile() {
    let (ann, mallory) = (Identity::from_seed([2; 32]), Identity::from_seed([3; 32]));
    let vc = issue_profile(&ann, ID, FROM, &claim()).await.unwrap();
    let vp = present(&ann, vec![vc.clone()], "urn:tim:space:ab", "c1")
        .await
        .unwrap();
    let r = verify_presentation(&vp, Some("urn:tim:space:ab"), Some("c1"), NOW).await;
    assert!(r.ok(), "{r:?}");

    // Mallory presents Ann's profile as its own.
    let stolen = present(&mallory, vec![vc], "urn:tim:space:ab", "c1")
        .await
        .unwrap();
    let r = verify_presentation(&stolen, Some("urn:tim:space:ab"), Some("c1"), NOW).await;
    let failed = r.first_failure().unwrap();
    assert_eq!(failed.name, "credential 1 subject");
    assert!(
        failed
            .outcome
            .as_ref()
            .unwrap_err()
            .contains("not its presenter"),
        "{failed:?}"
    );

    // Mallory's claim about itself, issued under Ann's name: refused in the presentation.
    let mut foreign = profile_credential_json(&ann.did(), ID, FROM, &claim());
    foreign["credentialSubject"]["id"] = json!(mallory.did().to_string());
    let foreign = sign_as(&ann, foreign).await.unwrap();
    let vp = present(&mallory, vec![foreign], "urn:tim:space:ab", "c1")
        .await
        .unwrap();
    let r = verify_presentation(&vp, Some("urn:tim:space:ab"), Some("c1"), NOW).await;
    assert!(!r.ok(), "{r:?}");
    assert!(r
        .checks
        .iter()
        .any(|c| c.name == "credential 1 subject" && c.outcome.is_err()));
}
