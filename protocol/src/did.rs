//! [`Did`]: a did:key identifier for an Ed25519 public key.

use std::fmt;
use std::str::FromStr;

use ed25519_dalek::VerifyingKey;

/// The multicodec prefix of an Ed25519 public key (`ed25519-pub`, 0xed as an unsigned varint).
const ED25519_MULTICODEC: [u8; 2] = [0xed, 0x01];
const DID_KEY_PREFIX: &str = "did:key:z";

/// Why a string or bytes are not an Ed25519 did:key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DidError {
    /// Not of the form `did:key:z…`.
    #[error("`{0}` is not a did:key DID (expected did:key:z6Mk…)")]
    NotDidKey(String),
    /// The multibase part is not base58btc.
    #[error("the key part of `{0}` is not base58btc")]
    NotBase58(String),
    /// The key is not an Ed25519 public key (wrong multicodec or length).
    #[error("`{0}` does not hold an Ed25519 public key (multicodec 0xed01 followed by 32 bytes)")]
    NotEd25519(String),
    /// The 32 bytes are not a valid Ed25519 point.
    #[error("`{0}` is not a valid Ed25519 public key")]
    InvalidKey(String),
}

/// A `did:key` DID naming an Ed25519 public key (`did:key:z6Mk…`).
///
/// Every timite and every node is named by one. The DID holds only the public key, so resolving
/// it needs no network.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Did([u8; 32]);

impl Did {
    /// The DID of a public key.
    pub fn from_key(key: &VerifyingKey) -> Self {
        Self(key.to_bytes())
    }

    /// The DID whose public key has these bytes, if they are a valid Ed25519 point.
    pub fn from_public_bytes(bytes: &[u8]) -> Result<Self, DidError> {
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| DidError::NotEd25519(hex_of(bytes)))?;
        VerifyingKey::from_bytes(&arr).map_err(|_| DidError::InvalidKey(hex_of(bytes)))?;
        Ok(Self(arr))
    }

    /// The 32 bytes of the public key.
    pub fn public_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The public key, for verifying signatures.
    pub fn verifying_key(&self) -> VerifyingKey {
        // Every constructor checked that the bytes are a valid point.
        VerifyingKey::from_bytes(&self.0).expect("Did holds a checked Ed25519 point")
    }

    /// A short form for logs and transcripts: `did:key:z6Mk…` cut to its last 8 characters.
    pub fn short(&self) -> String {
        let s = self.to_string();
        format!("…{}", &s[s.len() - 8..])
    }
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl fmt::Display for Did {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = Vec::with_capacity(34);
        buf.extend_from_slice(&ED25519_MULTICODEC);
        buf.extend_from_slice(&self.0);
        write!(f, "{DID_KEY_PREFIX}{}", bs58::encode(buf).into_string())
    }
}

impl fmt::Debug for Did {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Did({self})")
    }
}

impl FromStr for Did {
    type Err = DidError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let rest = s
            .strip_prefix(DID_KEY_PREFIX)
            .ok_or_else(|| DidError::NotDidKey(s.to_string()))?;
        // A did:key may carry a fragment (`#z6Mk…`) naming its verification method.
        let rest = rest.split('#').next().unwrap_or(rest);
        let bytes = bs58::decode(rest)
            .into_vec()
            .map_err(|_| DidError::NotBase58(s.to_string()))?;
        match bytes.split_first_chunk::<2>() {
            Some((prefix, key)) if *prefix == ED25519_MULTICODEC && key.len() == 32 => {
                Self::from_public_bytes(key).map_err(|_| DidError::InvalidKey(s.to_string()))
            }
            _ => Err(DidError::NotEd25519(s.to_string())),
        }
    }
}

impl TryFrom<&str> for Did {
    type Error = DidError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl serde::Serialize for Did {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Did {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector_from_the_did_key_spec() {
        // From the did:key spec's Ed25519 test vectors.
        let s = "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp";
        let did: Did = s.parse().unwrap();
        assert_eq!(did.to_string(), s);
        assert_eq!(did.short(), "…X3mDooWp");
        assert_eq!(Did::from_public_bytes(did.public_bytes()).unwrap(), did);
    }

    #[test]
    fn rejects_other_methods_keys_and_garbage() {
        assert!(matches!(
            "did:web:example.com".parse::<Did>(),
            Err(DidError::NotDidKey(_))
        ));
        assert!(matches!(
            "did:key:z0OIl".parse::<Did>(),
            Err(DidError::NotBase58(_))
        ));
        // A secp256k1 did:key (multicodec 0xe7) is not Ed25519.
        let secp = "did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme";
        assert!(matches!(secp.parse::<Did>(), Err(DidError::NotEd25519(_))));
        assert!("".parse::<Did>().is_err());
    }
}
