//! Standard base64 (RFC 4648 §4), the encoding Istio's metadata exchange uses
//! for the `x-envoy-peer-metadata` header.
//!
//! Decoding takes untrusted header bytes: it accepts input with or without
//! `=` padding and rejects everything else (other bytes, a misplaced or
//! partial padding, non-zero trailing bits) with an error, never a panic.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Encodes `input` with padding.
pub fn encode(input: &[u8]) -> String {
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 0x3f) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Why base64 input was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// A byte outside the alphabet, at this offset.
    InvalidByte(usize),
    /// The length (without padding) leaves a single dangling character, or
    /// the padding is not at the end or not the right amount.
    InvalidLength,
    /// The last character carries bits that are not zero.
    TrailingBits,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::InvalidByte(at) => write!(f, "invalid base64 byte at offset {at}"),
            DecodeError::InvalidLength => f.write_str("invalid base64 length or padding"),
            DecodeError::TrailingBits => f.write_str("base64 input has non-zero trailing bits"),
        }
    }
}

fn value(byte: u8) -> Option<u32> {
    let v = match byte {
        b'A'..=b'Z' => byte - b'A',
        b'a'..=b'z' => byte - b'a' + 26,
        b'0'..=b'9' => byte - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    };
    Some(u32::from(v))
}

/// Decodes standard base64, padded or not.
pub fn decode(input: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let unpadded = match input {
        [rest @ .., b'=', b'='] => rest,
        [rest @ .., b'='] => rest,
        _ => input,
    };
    let padding = input.len() - unpadded.len();
    if unpadded.len() % 4 == 1 || (padding > 0 && !(unpadded.len() + padding).is_multiple_of(4)) {
        return Err(DecodeError::InvalidLength);
    }
    let mut out = Vec::with_capacity(unpadded.len() / 4 * 3 + 2);
    for (index, chunk) in unpadded.chunks(4).enumerate() {
        let mut n = 0u32;
        for (i, &byte) in chunk.iter().enumerate() {
            let v = value(byte).ok_or(DecodeError::InvalidByte(index * 4 + i))?;
            n |= v << (18 - 6 * i);
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        let keep = chunk.len() - 1;
        if bytes[keep..].iter().any(|&b| b != 0) {
            return Err(DecodeError::TrailingBits);
        }
        out.extend_from_slice(&bytes[..keep]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 4648 §10 test vectors.
    const VECTORS: [(&str, &str); 7] = [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ];

    #[test]
    fn rfc4648_vectors_round_trip() {
        for (plain, encoded) in VECTORS {
            assert_eq!(encode(plain.as_bytes()), encoded);
            assert_eq!(decode(encoded.as_bytes()).unwrap(), plain.as_bytes());
            // Unpadded input decodes too.
            assert_eq!(decode(encoded.trim_end_matches('=').as_bytes()).unwrap(), plain.as_bytes());
        }
    }

    #[test]
    fn every_byte_value_round_trips() {
        let all: Vec<u8> = (0..=255).collect();
        for len in 0..all.len() {
            assert_eq!(decode(encode(&all[..len]).as_bytes()).unwrap(), &all[..len]);
        }
    }

    #[test]
    fn malformed_input_is_an_error() {
        assert_eq!(decode(b"Zm9v!A"), Err(DecodeError::InvalidByte(4)));
        assert_eq!(decode(b"Zm-v"), Err(DecodeError::InvalidByte(2)));
        assert_eq!(decode(b"\xff\xfe"), Err(DecodeError::InvalidByte(0)));
        assert_eq!(decode(b"Z"), Err(DecodeError::InvalidLength));
        assert_eq!(decode(b"Zm9vY"), Err(DecodeError::InvalidLength));
        assert_eq!(decode(b"Zg="), Err(DecodeError::InvalidLength));
        assert_eq!(decode(b"Zm8=="), Err(DecodeError::InvalidLength));
        assert_eq!(decode(b"Zg=A"), Err(DecodeError::InvalidByte(2)));
        assert_eq!(decode(b"==="), Err(DecodeError::InvalidLength));
        // "Zh" would be 'f' plus stray low bits.
        assert_eq!(decode(b"Zh=="), Err(DecodeError::TrailingBits));
    }
}
