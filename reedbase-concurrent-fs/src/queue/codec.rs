// SPDX-License-Identifier: Apache-2.0
//! The bytes of one queue entry: JSON (the old module's format) or postcard
//! behind a magic prefix.
//!
//! A postcard entry starts with [`POSTCARD_MAGIC`], whose first byte, `0xFF`,
//! can never begin a UTF-8 (and so a JSON) file; a JSON entry is whatever the
//! old module's `serde_json` wrote, starting with `{`. Reading therefore
//! needs no option and accepts both codecs in one queue.

use reedbase_concurrent_core::{PendingWrite, ReedError, ReedResult};

use crate::options::Codec;

/// The prefix of a postcard entry: a byte that no UTF-8 text starts with,
/// `RBQP` (ReedBase queue, postcard) and a format version.
const POSTCARD_MAGIC: &[u8] = &[0xFF, b'R', b'B', b'Q', b'P', 0x01];

/// Serialises a write in the given codec.
///
/// # Errors
///
/// [`ReedError::SerializationError`] if the serialiser fails.
pub(crate) fn encode(write: &PendingWrite, codec: Codec) -> ReedResult<Vec<u8>> {
    let encoded = match codec {
        Codec::Json => serde_json::to_vec(write).map_err(|e| e.to_string()),
        Codec::Postcard => {
            postcard::to_extend(write, POSTCARD_MAGIC.to_vec()).map_err(|e| e.to_string())
        }
    };
    encoded.map_err(|reason| ReedError::SerializationError { reason })
}

/// Parses an entry of either codec, telling them apart by the magic prefix.
///
/// # Errors
///
/// A description of what is wrong: empty, an unknown binary format, trailing
/// bytes after a postcard value, or the deserialiser's message.
pub(crate) fn decode(bytes: &[u8]) -> Result<PendingWrite, String> {
    if bytes.is_empty() {
        return Err("the file is empty".to_string());
    }
    if let Some(body) = bytes.strip_prefix(POSTCARD_MAGIC) {
        let (write, rest) = postcard::take_from_bytes::<PendingWrite>(body)
            .map_err(|e| format!("postcard entry does not decode: {e}"))?;
        if !rest.is_empty() {
            return Err(format!("postcard entry has {} trailing bytes", rest.len()));
        }
        return Ok(write);
    }
    if bytes[0] == POSTCARD_MAGIC[0] {
        return Err("binary entry of an unknown format or version".to_string());
    }
    serde_json::from_slice(bytes).map_err(|e| format!("JSON entry does not parse: {e}"))
}

#[cfg(test)]
#[path = "codec_test.rs"]
mod tests;
