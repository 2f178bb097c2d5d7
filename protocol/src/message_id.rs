//! [`MessageId`]: a timeline message's identifier, the Automerge object id of its map.

use std::fmt;
use std::str::FromStr;

/// Longest actor id a message id may name, in bytes (a Tim actor is 32 key bytes today; room is
/// left for a per-device or per-session actor).
pub const MAX_ACTOR_BYTES: usize = 64;

/// Why a string is not a message id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MessageIdError {
    /// No `@` between the counter and the actor.
    #[error("`{0}` is not a message id (expected <counter>@<actor hex>, as answered by a post)")]
    NotObjectId(String),
    /// The counter is not a positive decimal number without leading zeros.
    #[error("the counter of message id `{0}` is not a positive decimal number")]
    BadCounter(String),
    /// The actor is not lowercase hexadecimal of 1 to [`MAX_ACTOR_BYTES`] bytes.
    #[error("the actor of message id `{0}` is not 1 to {MAX_ACTOR_BYTES} bytes of lowercase hexadecimal")]
    BadActor(String),
}

/// A message of a space's timeline, named by the Automerge object id of its map:
/// `<counter>@<actor>`, the operation counter in decimal and the creating actor in lowercase
/// hexadecimal (`12@3f…`). The actor names the message's author, since a timite's actor is
/// bound to its key.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId {
    counter: u64,
    actor: Vec<u8>,
}

impl MessageId {
    /// The id of the object made by `actor`'s operation number `counter`.
    pub fn new(counter: u64, actor: &[u8]) -> Result<Self, MessageIdError> {
        let id = Self {
            counter,
            actor: actor.to_vec(),
        };
        if counter == 0 {
            return Err(MessageIdError::BadCounter(id.to_string()));
        }
        if actor.is_empty() || actor.len() > MAX_ACTOR_BYTES {
            return Err(MessageIdError::BadActor(id.to_string()));
        }
        Ok(id)
    }

    /// The operation counter that made the message.
    pub fn counter(&self) -> u64 {
        self.counter
    }

    /// The bytes of the actor that made the message.
    pub fn actor(&self) -> &[u8] {
        &self.actor
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.counter, hex::encode(&self.actor))
    }
}

impl fmt::Debug for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageId({self})")
    }
}

impl FromStr for MessageId {
    type Err = MessageIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (counter, actor) = s
            .split_once('@')
            .ok_or_else(|| MessageIdError::NotObjectId(s.to_string()))?;
        let canonical_counter = !counter.is_empty()
            && !counter.starts_with('0')
            && counter.bytes().all(|b| b.is_ascii_digit());
        let counter = counter
            .parse::<u64>()
            .ok()
            .filter(|_| canonical_counter)
            .ok_or_else(|| MessageIdError::BadCounter(s.to_string()))?;
        let lowercase_hex = actor
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        let actor = hex::decode(actor)
            .ok()
            .filter(|a| lowercase_hex && !a.is_empty() && a.len() <= MAX_ACTOR_BYTES)
            .ok_or_else(|| MessageIdError::BadActor(s.to_string()))?;
        Ok(Self { counter, actor })
    }
}

impl TryFrom<&str> for MessageId {
    type Error = MessageIdError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl serde::Serialize for MessageId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for MessageId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACTOR: &str = "3f5a0c1e9b7d2468ace013579bdf02468ace013579bdf02468ace013579bdf0a";

    #[test]
    fn an_object_id_round_trips() {
        let text = format!("12@{ACTOR}");
        let id: MessageId = text.parse().unwrap();
        assert_eq!(id.counter(), 12);
        assert_eq!(id.actor().len(), 32);
        assert_eq!(id.to_string(), text);
        assert_eq!(MessageId::try_from(text.as_str()).unwrap(), id);
        assert_eq!(MessageId::new(12, id.actor()).unwrap(), id);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{text}\""));
        assert_eq!(serde_json::from_str::<MessageId>(&json).unwrap(), id);
    }

    #[test]
    fn malformed_ids_are_refused_with_the_reason() {
        let bad = |s: &str| s.parse::<MessageId>().unwrap_err();
        assert!(matches!(bad("nope"), MessageIdError::NotObjectId(_)));
        assert!(matches!(bad("_root"), MessageIdError::NotObjectId(_)));
        for counter in ["", "0", "012", "-1", "+1", "1x", "99999999999999999999"] {
            assert!(
                matches!(
                    bad(&format!("{counter}@{ACTOR}")),
                    MessageIdError::BadCounter(_)
                ),
                "{counter}"
            );
        }
        let too_long = "ab".repeat(MAX_ACTOR_BYTES + 1);
        for actor in ["", "abc", "zz", "3F5A", too_long.as_str()] {
            assert!(
                matches!(bad(&format!("1@{actor}")), MessageIdError::BadActor(_)),
                "{actor}"
            );
        }
        assert!(MessageId::new(0, &[1]).is_err());
        assert!(MessageId::new(1, &[]).is_err());
        assert!(serde_json::from_str::<MessageId>("\"1@zz\"").is_err());
        assert!(bad("x@y").to_string().contains("x@y"));
    }
}
