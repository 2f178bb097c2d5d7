//! Status lists: the revocation bits of the credentials a timite of this node issued in a
//! space's name, as a signed W3C `BitstringStatusListCredential`. Public (no token): any
//! verifier of a credential fetches the list its `credentialStatus` names.

use axum::extract::State;
use axum::Json;
use tim_protocol::{Did, SpaceId};

use super::extract::Ids;
use super::problem::{ApiResult, Problems};
use crate::service::Service;

/// The issuer's signed status list for its credentials in the space (W3C Bitstring Status
/// List v1.0, `statusPurpose` `revocation`), valid for a few minutes.
#[utoipa::path(get, path = "/v1/status-lists/{space}/{issuer}", tag = "passport", security(()),
    params(("space" = String, Path, description = "Space id"),
        ("issuer" = String, Path, description = "The issuer's DID")),
    responses((status = 200, description = "A BitstringStatusListCredential", body = Object),
        Problems))]
pub(super) async fn status_list(
    State(s): State<Service>,
    Ids(space, issuer): Ids<SpaceId, Did>,
) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(s.node().status_list(space, issuer).await?))
}
