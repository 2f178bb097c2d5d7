//! Sign-in keys (docs/operator.md "Sign-in keys"): the use cases of [`Service`] that list,
//! allow and remove the did:key keys a hosted timite lets sign in as it ([`crate::auth`]).
//! The operator manages any hosted timite's keys; a token acting as a timite manages its own.

use tim_protocol::api::{NewSignInKey, SignInKey};
use tim_protocol::Did;

use crate::auth::MAX_LABEL_LEN;
use crate::service::{Caller, Service, ServiceError, ServiceResult};
use crate::NodeError;

impl Service {
    /// Refuses a caller that is neither the operator nor `did`, or a `did` not hosted here.
    async fn may_manage_keys(&self, caller: &Caller, did: &Did) -> ServiceResult<()> {
        if !caller.operator && *did != caller.timite {
            return Err(ServiceError::NotYours(format!(
                "a timite manages its own sign-in keys only; {did} is not {}",
                caller.timite
            )));
        }
        self.hosted(did).await
    }

    /// The keys allowed to sign in as `did`, oldest first.
    pub async fn sign_in_keys(&self, caller: &Caller, did: Did) -> ServiceResult<Vec<SignInKey>> {
        self.may_manage_keys(caller, &did).await?;
        Ok(self.auth().sign_in_keys(&did)?)
    }

    /// Allows a key to sign in as `did` (a new label for a key already allowed).
    pub async fn add_sign_in_key(
        &self,
        caller: &Caller,
        did: Did,
        req: &NewSignInKey,
    ) -> ServiceResult<SignInKey> {
        self.may_manage_keys(caller, &did).await?;
        if req.label.chars().count() > MAX_LABEL_LEN {
            return Err(NodeError::Invalid(format!(
                "a label is at most {MAX_LABEL_LEN} characters"
            ))
            .into());
        }
        if req.key == did {
            return Err(NodeError::Invalid(format!(
                "{did} signs in with its own key already; a sign-in key is another key"
            ))
            .into());
        }
        Ok(self
            .auth()
            .add_sign_in_key(&did, req.key, &req.label)
            .await?)
    }

    /// Stops a key signing in as `did` and revokes the tokens it signed in for; answers
    /// their ids.
    pub async fn remove_sign_in_key(
        &self,
        caller: &Caller,
        did: Did,
        key: Did,
    ) -> ServiceResult<Vec<String>> {
        self.may_manage_keys(caller, &did).await?;
        self.auth()
            .remove_sign_in_key(&did, &key)
            .await?
            .ok_or_else(|| {
                NodeError::NotFound(format!("{key} is not a sign-in key of {did}")).into()
            })
    }
}
