//! Cost of issuing and verifying credentials and presentations. Prints figures.
//!
//! `cargo bench -p tim-did --bench credentials`

use std::time::Instant;

use tim_did::credential::{
    issue, issue_jwt, present, verify_jwt, verify_presentation, verify_proof, Claim,
    CredentialRequest, StatusEntry,
};
use tim_did::Identity;
use tim_protocol::SpaceId;

fn per(label: &str, n: u32, start: Instant) {
    let total = start.elapsed();
    println!(
        "{label:<52} {:>8.3} ms each ({n} in {:.0} ms)",
        total.as_secs_f64() * 1e3 / f64::from(n),
        total.as_secs_f64() * 1e3
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let (issuer, holder) = (Identity::from_seed([1; 32]), Identity::from_seed([2; 32]));
    let req = CredentialRequest {
        id: "urn:uuid:5b0c3c3e-6a1c-4f57-9a53-6e1f7a0c2f01".into(),
        space: SpaceId::from([7; 32]),
        subject: holder.did(),
        claim: Claim::Reputation {
            score: 42,
            contributions: 30,
            ratings_received: 4,
            average_rating: 4.5,
            period_start: "2026-11-01T00:00:00Z".into(),
            period_end: "2026-11-24T00:00:00Z".into(),
            v2: None,
        },
        valid_from: "2026-11-24T10:00:00Z".into(),
        valid_until: Some("2027-11-24T10:00:00Z".into()),
        status: Some(StatusEntry::in_space(&SpaceId::from([7; 32]), 17)),
    };
    let n = 200;
    let start = Instant::now();
    let mut vc = None;
    for _ in 0..n {
        vc = Some(issue(&issuer, &req).await.unwrap());
    }
    per("issue (Data Integrity eddsa-rdfc-2022)", n, start);
    let vc = vc.unwrap();
    let start = Instant::now();
    for _ in 0..n {
        verify_proof(&vc).await.unwrap();
    }
    per("verify credential proof (RDFC canonicalization)", n, start);
    let jwt = issue_jwt(&issuer, &vc).await.unwrap();
    let start = Instant::now();
    for _ in 0..n {
        issue_jwt(&issuer, &vc).await.unwrap();
    }
    per("issue JWT form (VC-JOSE EdDSA)", n, start);
    let start = Instant::now();
    for _ in 0..n {
        verify_jwt(&jwt).await.unwrap();
    }
    per("verify JWT form", n, start);
    let vp = present(&holder, vec![vc], "urn:tim:space:ab", "c")
        .await
        .unwrap();
    let start = Instant::now();
    for _ in 0..n {
        let r = verify_presentation(&vp, Some("urn:tim:space:ab"), Some("c"), 1_795_514_500).await;
        assert!(r.ok());
    }
    per(
        "verify presentation with one credential (admission)",
        n,
        start,
    );
}
