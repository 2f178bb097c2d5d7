//! The `people` tree: the profiles and handles of the timites this node hosts
//! (docs/operator.md "Profiles and handles").
//!
//! Keys, each after a one-byte kind:
//! * `p` ‖ DID → its [`StoredProfile`] (JSON), written into spaces it joins later;
//! * `h` ‖ handle → the DID (its `did:key:` text) that holds the handle on this node;
//! * `d` ‖ DID → its handle.

use serde::{Deserialize, Serialize};
use tim_crdt::profiles::{Avatar, Profile};
use tim_protocol::Did;

use super::{Store, StoreError};

const PROFILE: u8 = b'p';
const HANDLE: u8 = b'h';
const HANDLE_OF: u8 = b'd';

fn key(kind: u8, text: &str) -> Vec<u8> {
    let mut k = vec![kind];
    k.extend_from_slice(text.as_bytes());
    k
}

/// A hosted timite's profile as its node keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredProfile {
    /// The display name.
    pub(crate) name: String,
    /// The bio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) bio: Option<String>,
    /// The avatar's media type and bytes (hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) avatar: Option<(String, String)>,
    /// When it was set (ms).
    pub(crate) at: u64,
}

impl StoredProfile {
    /// The stored form of `p`.
    pub(crate) fn of(p: &Profile) -> Self {
        Self {
            name: p.name.trim().to_string(),
            bio: p.bio.clone(),
            avatar: p
                .avatar
                .as_ref()
                .map(|a| (a.mime.clone(), hex::encode(&a.data))),
            at: p.at,
        }
    }

    /// The profile it keeps.
    pub(crate) fn profile(&self) -> Result<Profile, StoreError> {
        let avatar = match &self.avatar {
            Some((mime, data)) => Some(Avatar {
                mime: mime.clone(),
                data: hex::decode(data)
                    .map_err(|e| StoreError::Corrupt(format!("a stored avatar: {e}")))?,
            }),
            None => None,
        };
        Ok(Profile {
            name: self.name.clone(),
            bio: self.bio.clone(),
            avatar,
            at: self.at,
        })
    }
}

/// A handle another timite of the node holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HandleTaken(pub(crate) Did);

impl Store {
    /// Replaces a hosted timite's profile; durable at the next flush.
    pub(crate) fn put_profile(&self, did: &Did, p: &StoredProfile) -> Result<(), StoreError> {
        let json = serde_json::to_vec(p).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.people.insert(key(PROFILE, &did.to_string()), json)?;
        Ok(())
    }

    /// A hosted timite's profile, if it set one.
    pub(crate) fn profile(&self, did: &Did) -> Result<Option<StoredProfile>, StoreError> {
        self.people
            .get(key(PROFILE, &did.to_string()))?
            .map(|v| {
                serde_json::from_slice(&v)
                    .map_err(|e| StoreError::Corrupt(format!("a stored profile: {e}")))
            })
            .transpose()
    }

    /// Gives `handle` to `did`, releasing the handle it held before; refused (with the holder)
    /// if another timite holds it. Durable at the next flush.
    pub(crate) fn claim_handle(
        &self,
        handle: &str,
        did: &Did,
    ) -> Result<Result<(), HandleTaken>, StoreError> {
        let me = did.to_string();
        let claimed = self.people.compare_and_swap(
            key(HANDLE, handle),
            None::<&[u8]>,
            Some(me.as_bytes()),
        )?;
        if let Err(e) = claimed {
            let holder = e.current.unwrap_or_default();
            if holder != me.as_bytes() {
                let holder = std::str::from_utf8(&holder)
                    .ok()
                    .and_then(|d| d.parse().ok())
                    .ok_or_else(|| StoreError::Corrupt("a handle's holder".into()))?;
                return Ok(Err(HandleTaken(holder)));
            }
        }
        if let Some(old) = self.people.insert(key(HANDLE_OF, &me), handle.as_bytes())? {
            if old != handle.as_bytes() {
                self.people.remove([&[HANDLE][..], &old].concat())?;
            }
        }
        Ok(Ok(()))
    }

    /// The DID that holds `handle` on this node.
    pub(crate) fn handle_holder(&self, handle: &str) -> Result<Option<Did>, StoreError> {
        self.people
            .get(key(HANDLE, handle))?
            .map(|v| {
                std::str::from_utf8(&v)
                    .ok()
                    .and_then(|d| d.parse().ok())
                    .ok_or_else(|| StoreError::Corrupt("a handle's holder".into()))
            })
            .transpose()
    }

    /// The handle `did` holds on this node.
    pub(crate) fn handle_of(&self, did: &Did) -> Result<Option<String>, StoreError> {
        self.people
            .get(key(HANDLE_OF, &did.to_string()))?
            .map(|v| {
                String::from_utf8(v.to_vec())
                    .map_err(|_| StoreError::Corrupt("a stored handle".into()))
            })
            .transpose()
    }
}
