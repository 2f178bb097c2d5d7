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
    let value = ciborium::from_reader(&mut cursor).map_err(|e| CodecError::Cbor(e.to_string()))?;
    let rest = bytes.len() - cursor.position() as usize;
    if rest != 0 {
        return Err(CodecError::TrailingBytes(rest));
    }
    Ok(value)
}
