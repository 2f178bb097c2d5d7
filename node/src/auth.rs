//! Who a request acts as, and how often it may ask.
//!
//! A node hosts one or more timites and holds their keys. A request names the timite it acts
//! as with a bearer token:
//! * the operator's **admin token** (`api.token` in the node's home) acts as the node's first
//!   timite and may also manage timites, tokens, peers, trust and imports;
//! * a **timite token**, made by the operator (`tim token new DID`) or by signing in: the
//!   client asks for a challenge and signs it with the timite's key
//!   ([`tim_protocol::api::login_message`]), or with one of its **sign-in keys**: other
//!   did:key keys the timite allows to sign in as it (sled tree `sign_in_keys`), such as a
//!   browser's. A sign-in token records the key that made it; removing the key revokes them.
//!
//! Only the SHA-256 of a token is stored (sled tree `tokens`), so a copy of the database does
//! not give access; revoking deletes the record. Each token (and the unauthenticated sign-in
//! endpoints together) has a token bucket; an empty bucket answers 429.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ed25519_dalek::Signature;
use sha2::{Digest, Sha256};
use tim_protocol::api::{login_message, Challenge, Login, SignInKey, TokenInfo, TokenIssued};
use tim_protocol::Did;

use crate::node::now_ms;
use crate::store::Store;
use crate::NodeError;

/// How long a sign-in challenge may be answered.
pub const CHALLENGE_VALIDITY: Duration = Duration::from_secs(120);
/// Most sign-in challenges outstanding at once.
pub const MAX_CHALLENGES: usize = 1024;
/// Lifetime of a token obtained by signing a challenge.
pub const SIGN_IN_TTL: Duration = Duration::from_secs(24 * 3600);
/// Most event streams one token may hold open at once.
pub const MAX_STREAMS_PER_TOKEN: usize = 16;
/// Buckets kept before idle ones are forgotten.
const MAX_BUCKETS: usize = 10_000;
/// Longest token label.
pub const MAX_LABEL_LEN: usize = 200;

/// The rate limit of each token.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Requests per second, sustained; 0 turns the limit off.
    pub per_sec: u32,
    /// Requests allowed in a burst.
    pub burst: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            per_sec: 100,
            burst: 200,
        }
    }
}

/// Who a request acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The timite it acts as.
    pub did: Did,
    /// Whether it holds the operator's admin token.
    pub admin: bool,
    /// The token's id (none for the admin token).
    pub token_id: Option<String>,
}

impl Principal {
    /// The key its requests are counted under.
    fn bucket(&self) -> String {
        self.token_id.clone().unwrap_or_else(|| "admin".into())
    }
}

/// Why a token or a sign-in is refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization: Bearer` header.
    #[error("send `Authorization: Bearer <token>`; the operator's token is api.token in the node's home, and `tim token new DID` makes one for a timite")]
    NoToken,
    /// A token this node does not know (or revoked).
    #[error("the bearer token is not valid on this node (unknown or revoked)")]
    BadToken,
    /// A token past its lifetime.
    #[error("the bearer token expired; sign in again or ask the operator for a new one")]
    Expired,
    /// A challenge that was never given, already used or too old.
    #[error("unknown or expired challenge; ask for a new one (POST /v1/auth/challenge)")]
    BadChallenge,
    /// A signature that does not verify.
    #[error("the signature does not verify with {0}'s key")]
    BadSignature(Did),
    /// A sign-in signed by a key the timite has not allowed.
    #[error("{key} is not a sign-in key of {did}; its operator allows it with `tim timite keys add {key} --did {did}`")]
    NotASignInKey {
        /// The timite signing in.
        did: Did,
        /// The key that signed.
        key: Did,
    },
    /// Too many requests.
    #[error("too many requests; retry in {0} ms")]
    RateLimited(u64),
    /// Too many event streams open with one token.
    #[error("this token already has {MAX_STREAMS_PER_TOKEN} event streams open; close one first")]
    TooManyStreams,
    /// The node failed.
    #[error(transparent)]
    Node(#[from] NodeError),
}

#[derive(Debug)]
struct Bucket {
    level: f64,
    last: Instant,
}

/// Token buckets by key.
#[derive(Debug)]
struct Limiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl Limiter {
    /// Takes one request from `key`'s bucket, or says how long to wait.
    fn take(&self, key: &str) -> Result<(), AuthError> {
        if self.limit.per_sec == 0 {
            return Ok(());
        }
        let rate = f64::from(self.limit.per_sec);
        let burst = f64::from(self.limit.burst.max(1));
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_BUCKETS {
            // Forget full buckets (idle long enough to refill): revoked and expired tokens.
            let refill = Duration::from_secs_f64(burst / rate);
            buckets.retain(|_, b| now.duration_since(b.last) < refill);
        }
        let b = buckets.entry(key.to_string()).or_insert(Bucket {
            level: burst,
            last: now,
        });
        b.level = (b.level + now.duration_since(b.last).as_secs_f64() * rate).min(burst);
        b.last = now;
        if b.level >= 1.0 {
            b.level -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - b.level) / rate * 1000.0).ceil() as u64;
            Err(AuthError::RateLimited(wait.max(1)))
        }
    }
}

/// Tokens, challenges and rate limits of one node's API.
#[derive(Debug)]
pub struct Auth {
    store: Store,
    admin_hash: [u8; 32],
    admin_did: Did,
    node_did: Did,
    challenges: Mutex<HashMap<String, (Did, u64)>>,
    limiter: Limiter,
    streams: Arc<Mutex<HashMap<String, usize>>>,
}

/// An open event stream, counted against its token until dropped.
#[derive(Debug)]
pub struct StreamSlot {
    streams: Arc<Mutex<HashMap<String, usize>>>,
    key: String,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut streams = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = streams.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                streams.remove(&self.key);
            }
        }
    }
}

fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn token_id(hash: &[u8; 32]) -> String {
    hex::encode(&hash[..8])
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Auth {
    /// Auth for a node whose operator token is `admin_token`, acting as `admin_did`.
    pub(crate) fn new(
        store: Store,
        admin_token: &str,
        admin_did: Did,
        node_did: Did,
        limit: RateLimit,
    ) -> Self {
        Self {
            store,
            admin_hash: hash(admin_token),
            admin_did,
            node_did,
            challenges: Mutex::new(HashMap::new()),
            streams: Arc::default(),
            limiter: Limiter {
                limit,
                buckets: Mutex::new(HashMap::new()),
            },
        }
    }

    /// Who a bearer token acts as; counts the request against its rate limit.
    pub fn authenticate(&self, bearer: Option<&str>) -> Result<Principal, AuthError> {
        let token = bearer.ok_or(AuthError::NoToken)?;
        let h = hash(token);
        let principal = if constant_time_eq(&h, &self.admin_hash) {
            Principal {
                did: self.admin_did,
                admin: true,
                token_id: None,
            }
        } else {
            let info = self
                .store
                .token(&h)
                .map_err(NodeError::from)?
                .ok_or(AuthError::BadToken)?;
            if info.expires_at.is_some_and(|t| t <= now_ms()) {
                // Expired tokens are forgotten when next seen.
                let _ = self.store.remove_token(&h);
                return Err(AuthError::Expired);
            }
            // A sign-in key's token lives no longer than the key (removing the key also
            // deletes its tokens; this covers a sign-in that raced the removal).
            if let Some(key) = &info.key {
                if !self.allows(&info.did, key)? {
                    let _ = self.store.remove_token(&h);
                    return Err(AuthError::BadToken);
                }
            }
            Principal {
                did: info.did,
                admin: false,
                token_id: Some(info.id),
            }
        };
        self.limiter.take(&principal.bucket())?;
        Ok(principal)
    }

    /// Counts one more request of an authenticated principal (an op sent over its WebSocket)
    /// against its rate limit.
    pub fn throttle(&self, p: &Principal) -> Result<(), AuthError> {
        self.limiter.take(&p.bucket())
    }

    /// Takes one of the principal's event stream slots.
    pub fn open_stream(&self, p: &Principal) -> Result<StreamSlot, AuthError> {
        let key = p.bucket();
        let mut streams = self.streams.lock().unwrap_or_else(|e| e.into_inner());
        let n = streams.entry(key.clone()).or_default();
        if *n >= MAX_STREAMS_PER_TOKEN {
            return Err(AuthError::TooManyStreams);
        }
        *n += 1;
        Ok(StreamSlot {
            streams: self.streams.clone(),
            key,
        })
    }

    /// Counts a request that carries no token (sign-in) against the shared anonymous bucket.
    pub fn throttle_anonymous(&self) -> Result<(), AuthError> {
        self.limiter.take("anonymous")
    }

    /// Makes a token for `did` (which the caller checked is hosted here).
    pub async fn issue(
        &self,
        did: Did,
        label: &str,
        ttl: Option<Duration>,
    ) -> Result<TokenIssued, AuthError> {
        self.issue_for_key(did, label, ttl, None).await
    }

    /// Makes a token for `did`, recording the sign-in key that asked for it, if any.
    async fn issue_for_key(
        &self,
        did: Did,
        label: &str,
        ttl: Option<Duration>,
        key: Option<Did>,
    ) -> Result<TokenIssued, AuthError> {
        let secret = format!("tim_{}", hex::encode(rand::random::<[u8; 32]>()));
        let h = hash(&secret);
        let now = now_ms();
        let info = TokenInfo {
            id: token_id(&h),
            did,
            label: label.to_string(),
            created_at: now,
            expires_at: ttl.map(|t| now.saturating_add(t.as_millis() as u64)),
            key,
        };
        self.store.put_token(&h, &info).map_err(NodeError::from)?;
        self.store.flush().await.map_err(NodeError::from)?;
        Ok(TokenIssued {
            token: secret,
            info,
        })
    }

    /// The live tokens, all of them or those of one timite.
    pub fn list(&self, of: Option<&Did>) -> Result<Vec<TokenInfo>, AuthError> {
        let now = now_ms();
        let mut out: Vec<TokenInfo> = self
            .store
            .tokens()
            .map_err(NodeError::from)?
            .into_iter()
            .map(|(_, info)| info)
            .filter(|i| of.is_none_or(|d| &i.did == d))
            .filter(|i| i.expires_at.is_none_or(|t| t > now))
            .collect();
        out.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(out)
    }

    /// Revokes the token with this id if `allowed` says the caller may; `Ok(None)` when there
    /// is no such token.
    pub async fn revoke(
        &self,
        id: &str,
        allowed: impl Fn(&TokenInfo) -> bool,
    ) -> Result<Option<Result<TokenInfo, TokenInfo>>, AuthError> {
        let found = self
            .store
            .tokens()
            .map_err(NodeError::from)?
            .into_iter()
            .find(|(_, info)| info.id == id);
        let Some((h, info)) = found else {
            return Ok(None);
        };
        if !allowed(&info) {
            return Ok(Some(Err(info)));
        }
        self.store.remove_token(&h).map_err(NodeError::from)?;
        self.store.flush().await.map_err(NodeError::from)?;
        Ok(Some(Ok(info)))
    }

    /// A fresh challenge for `did` to sign.
    pub fn challenge(&self, did: Did) -> Result<Challenge, AuthError> {
        let now = now_ms();
        let mut challenges = self.challenges.lock().unwrap_or_else(|p| p.into_inner());
        challenges.retain(|_, (_, expires)| *expires > now);
        if challenges.len() >= MAX_CHALLENGES {
            return Err(AuthError::RateLimited(CHALLENGE_VALIDITY.as_millis() as u64));
        }
        let challenge = hex::encode(rand::random::<[u8; 32]>());
        let expires_at = now + CHALLENGE_VALIDITY.as_millis() as u64;
        challenges.insert(challenge.clone(), (did, expires_at));
        Ok(Challenge {
            challenge,
            node_did: self.node_did,
            expires_at,
        })
    }

    /// Checks a signed challenge (used once, whatever the outcome) and makes a sign-in token.
    pub async fn login(&self, login: &Login) -> Result<TokenIssued, AuthError> {
        let taken = self
            .challenges
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&login.challenge);
        match taken {
            Some((did, expires)) if did == login.did && expires > now_ms() => {}
            _ => return Err(AuthError::BadChallenge),
        }
        // The timite's own key, or one it allowed. The signature is checked first, so only
        // the holder of a key learns whether the timite allows it.
        let key = login.key.filter(|k| *k != login.did);
        let signer = key.unwrap_or(login.did);
        let sig: [u8; 64] = hex::decode(&login.signature)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(AuthError::BadSignature(signer))?;
        signer
            .verifying_key()
            .verify_strict(
                &login_message(&self.node_did, &login.challenge),
                &Signature::from_bytes(&sig),
            )
            .map_err(|_| AuthError::BadSignature(signer))?;
        if let Some(key) = key {
            if !self.allows(&login.did, &key)? {
                return Err(AuthError::NotASignInKey {
                    did: login.did,
                    key,
                });
            }
        }
        self.issue_for_key(login.did, "sign-in", Some(SIGN_IN_TTL), key)
            .await
    }

    /// Whether `key` may sign in as `did`.
    fn allows(&self, did: &Did, key: &Did) -> Result<bool, AuthError> {
        Ok(self
            .store
            .is_sign_in_key(did, key)
            .map_err(NodeError::from)?)
    }

    /// The keys allowed to sign in as `did`.
    pub fn sign_in_keys(&self, did: &Did) -> Result<Vec<SignInKey>, AuthError> {
        Ok(self.store.sign_in_keys(did).map_err(NodeError::from)?)
    }

    /// Allows `key` to sign in as `did` (a new label for a key already allowed).
    pub async fn add_sign_in_key(
        &self,
        did: &Did,
        key: Did,
        label: &str,
    ) -> Result<SignInKey, AuthError> {
        let record = SignInKey {
            key,
            label: label.to_string(),
            added_at: now_ms(),
        };
        self.store
            .put_sign_in_key(did, &record)
            .map_err(NodeError::from)?;
        self.store.flush().await.map_err(NodeError::from)?;
        Ok(record)
    }

    /// Stops `key` signing in as `did` and revokes the tokens it signed in for; `Ok(None)`
    /// when it was not a sign-in key of `did`, else the ids of the revoked tokens.
    pub async fn remove_sign_in_key(
        &self,
        did: &Did,
        key: &Did,
    ) -> Result<Option<Vec<String>>, AuthError> {
        if !self
            .store
            .remove_sign_in_key(did, key)
            .map_err(NodeError::from)?
        {
            return Ok(None);
        }
        let mut revoked = Vec::new();
        for (h, info) in self.store.tokens().map_err(NodeError::from)? {
            if info.did == *did && info.key.as_ref() == Some(key) {
                self.store.remove_token(&h).map_err(NodeError::from)?;
                revoked.push(info.id);
            }
        }
        self.store.flush().await.map_err(NodeError::from)?;
        Ok(Some(revoked))
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::Signer;
    use tim_did::Identity;

    use super::*;

    #[tokio::test]
    async fn a_token_of_a_key_removed_while_it_signed_in_stops_working() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path()).unwrap();
        let (timite, node, browser) = (
            Identity::from_seed([1; 32]),
            Identity::from_seed([2; 32]),
            Identity::from_seed([3; 32]),
        );
        let auth = Auth::new(
            store.clone(),
            "admin",
            timite.did(),
            node.did(),
            RateLimit::default(),
        );
        auth.add_sign_in_key(&timite.did(), browser.did(), "laptop")
            .await
            .unwrap();
        let c = auth.challenge(timite.did()).unwrap();
        let msg = login_message(&c.node_did, &c.challenge);
        let issued = auth
            .login(&Login {
                did: timite.did(),
                challenge: c.challenge,
                signature: hex::encode(browser.signing_key().sign(&msg).to_bytes()),
                key: Some(browser.did()),
            })
            .await
            .unwrap();
        assert_eq!(issued.info.key, Some(browser.did()));
        assert_eq!(
            auth.authenticate(Some(&issued.token)).unwrap().did,
            timite.did()
        );
        // The key goes without its tokens (as when a removal ran before this token was
        // stored): the token is refused and forgotten all the same.
        assert!(store
            .remove_sign_in_key(&timite.did(), &browser.did())
            .unwrap());
        assert!(matches!(
            auth.authenticate(Some(&issued.token)),
            Err(AuthError::BadToken)
        ));
        assert!(auth.list(None).unwrap().is_empty());
    }
}
