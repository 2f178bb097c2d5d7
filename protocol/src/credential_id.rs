//! [`CredentialId`]: a verifiable credential's identifier, a `urn:uuid:` URN.

use std::fmt;
use std::str::FromStr;

/// The prefix of every credential id.
const URN_UUID_PREFIX: &str = "urn:uuid:";

/// Why a string is not a credential id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialIdError {
    /// Not `urn:uuid:` followed by a UUID.
    #[error("`{0}` is not a credential id (expected urn:uuid:xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, the credential's `id`)")]
    NotUrnUuid(String),
}

/// A credential's `id`: `urn:uuid:` followed by a UUID in its 8-4-4-4-12 hexadecimal form, as
/// Tim issues them (random, version 4). The text is kept as given (a UUID's digits may be of
/// either case), since credentials are looked up by their exact id.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CredentialId(String);

impl CredentialId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether `s` is a UUID in its hyphenated 8-4-4-4-12 hexadecimal form.
fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, len)| g.len() == len && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

impl fmt::Display for CredentialId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for CredentialId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CredentialId({})", self.0)
    }
}

impl FromStr for CredentialId {
    type Err = CredentialIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.strip_prefix(URN_UUID_PREFIX) {
            Some(uuid) if is_uuid(uuid) => Ok(Self(s.to_string())),
            _ => Err(CredentialIdError::NotUrnUuid(s.to_string())),
        }
    }
}

impl TryFrom<&str> for CredentialId {
    type Error = CredentialIdError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl serde::Serialize for CredentialId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for CredentialId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_urn_uuid_round_trips_as_given() {
        for text in [
            "urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e",
            "urn:uuid:0F8FAD5B-D9CB-469F-A165-70867728950E",
        ] {
            let id: CredentialId = text.parse().unwrap();
            assert_eq!(id.to_string(), text);
            assert_eq!(id.as_str(), text);
            assert_eq!(CredentialId::try_from(text).unwrap(), id);
            let json = serde_json::to_string(&id).unwrap();
            assert_eq!(serde_json::from_str::<CredentialId>(&json).unwrap(), id);
        }
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            "",
            "urn:uuid:none",
            "0f8fad5b-d9cb-469f-a165-70867728950e",
            "urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950",
            "urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e0",
            "urn:uuid:0f8fad5bd9cb469fa16570867728950e",
            "urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950g",
            "urn:uuid:0f8fad5b-d9cb-469f-a165-7086-7728950e",
            "URN:UUID:0f8fad5b-d9cb-469f-a165-70867728950e",
            "https://example.org/credentials/1",
        ] {
            let err = bad.parse::<CredentialId>().unwrap_err();
            assert_eq!(err, CredentialIdError::NotUrnUuid(bad.to_string()));
        }
        assert!(serde_json::from_str::<CredentialId>("\"urn:uuid:x\"").is_err());
    }
}
