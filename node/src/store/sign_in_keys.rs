//! The `sign_in_keys` tree: the keys each hosted timite allows to sign in as it
//! ([`crate::auth`], docs/operator.md "Sign-in keys").
//!
//! Key: the timite's DID text ‖ `0` ‖ the key's DID text → `{label, added_at}` (JSON), so
//! one timite's keys are one prefix scan.

use serde::{Deserialize, Serialize};
use tim_protocol::api::SignInKey;
use tim_protocol::Did;

use super::{Store, StoreError};

/// A sign-in key's record, without the key (which is in the record's key).
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    label: String,
    added_at: u64,
}

fn prefix(timite: &Did) -> Vec<u8> {
    let mut k = timite.to_string().into_bytes();
    k.push(0);
    k
}

fn record_key(timite: &Did, key: &Did) -> Vec<u8> {
    let mut k = prefix(timite);
    k.extend_from_slice(key.to_string().as_bytes());
    k
}

impl Store {
    /// Allows `key` to sign in as `timite` (replacing its label if it already was).
    pub fn put_sign_in_key(&self, timite: &Did, key: &SignInKey) -> Result<(), StoreError> {
        let record = Record {
            label: key.label.clone(),
            added_at: key.added_at,
        };
        let json = serde_json::to_vec(&record).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.sign_in_keys
            .insert(record_key(timite, &key.key), json)?;
        Ok(())
    }

    /// Whether `key` may sign in as `timite`.
    pub fn is_sign_in_key(&self, timite: &Did, key: &Did) -> Result<bool, StoreError> {
        Ok(self.sign_in_keys.contains_key(record_key(timite, key))?)
    }

    /// The keys allowed to sign in as `timite`, oldest first.
    pub fn sign_in_keys(&self, timite: &Did) -> Result<Vec<SignInKey>, StoreError> {
        let prefix = prefix(timite);
        let mut keys = self
            .sign_in_keys
            .scan_prefix(&prefix)
            .map(|kv| {
                let (k, v) = kv?;
                let corrupt = |what: &str| StoreError::Corrupt(format!("sign-in key: {what}"));
                let key = std::str::from_utf8(&k[prefix.len()..])
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| corrupt("not a DID"))?;
                let r: Record = serde_json::from_slice(&v).map_err(|e| corrupt(&e.to_string()))?;
                Ok(SignInKey {
                    key,
                    label: r.label,
                    added_at: r.added_at,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        keys.sort_by_key(|k| (k.added_at, k.key));
        Ok(keys)
    }

    /// Stops `key` signing in as `timite`; whether it could.
    pub fn remove_sign_in_key(&self, timite: &Did, key: &Did) -> Result<bool, StoreError> {
        Ok(self.sign_in_keys.remove(record_key(timite, key))?.is_some())
    }
}
