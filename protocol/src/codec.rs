//! CBOR encoding of wire messages, with size bounds checked before any parsing.

use std::io::Cursor;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Why bytes could not be decoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The input is over the bound for its message type.
    #[error("message of {len} bytes is over the limit of {max} bytes")]
    TooLarge {
        /// Bytes received.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// The input ends in the middle of the message: it was cut short.
    #[error("the message ends early: {0} bytes hold only its beginning (truncated?)")]
    Truncated(usize),
    /// The input is not valid CBOR of the expected shape.
    #[error("not a valid CBOR message: {0}")]
    Cbor(String),
    /// Bytes are left over after the message.
    #[error("{0} unexpected bytes after the message")]
    TrailingBytes(usize),
}

/// Encodes a value as CBOR.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail, and every wire type serializes.
    ciborium::into_writer(value, &mut out).expect("CBOR encoding into a Vec");
    out
}

/// Decodes one CBOR value from untrusted bytes of at most `max` bytes, refusing trailing bytes.
pub fn decode<T: DeserializeOwned>(bytes: &[u8], max: usize) -> Result<T, CodecError> {
    if bytes.len() > max {
        return Err(CodecError::TooLarge {
            len: bytes.len(),
            max,
        });
    }
    let mut cursor = Cursor::new(bytes);
    let value = ciborium::from_reader(&mut cursor).map_err(|e| match e {
        // Reading from a slice fails only at its end.
        ciborium::de::Error::Io(_) => CodecError::Truncated(bytes.len()),
        ciborium::de::Error::Syntax(at) => CodecError::Cbor(format!("malformed at byte {at}")),
        ciborium::de::Error::Semantic(Some(at), what) => {
            CodecError::Cbor(format!("{what} at byte {at}"))
        }
        ciborium::de::Error::Semantic(None, what) => CodecError::Cbor(what),
        ciborium::de::Error::RecursionLimitExceeded => CodecError::Cbor("nested too deeply".into()),
    })?;
    let rest = bytes.len() - cursor.position() as usize;
    if rest != 0 {
        return Err(CodecError::TrailingBytes(rest));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_truncated_or_garbled_message_says_so_in_words() {
        let bytes = encode(&("a string long enough to cut", 7u64, vec![1u8; 32]));
        let err = decode::<(String, u64, Vec<u8>)>(&bytes[..10], 1 << 20).unwrap_err();
        assert!(matches!(err, CodecError::Truncated(10)), "{err:?}");
        assert!(err.to_string().contains("truncated"), "{err}");
        let err = decode::<(String, u64, Vec<u8>)>(&[0x00], 1 << 20).unwrap_err();
        assert!(!err.to_string().contains("Semantic("), "{err}");
    }
}
