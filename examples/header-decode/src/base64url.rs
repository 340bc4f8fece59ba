//! Strict base64url decoding (RFC 4648 §5), as JWTs use it (RFC 7515 §2).
//!
//! * Only the URL-safe alphabet (`A-Z a-z 0-9 - _`): `+` and `/` from the
//!   standard alphabet are rejected, as are whitespace and any other byte.
//! * Padding is optional: JWT segments carry none, but Envoy's
//!   `pad_forward_payload_header` adds it, so correct `=` padding is
//!   accepted; padding in the wrong place or of the wrong length is not.
//! * Canonical input only: a length of `4n + 1` characters cannot encode
//!   whole bytes, and unused trailing bits must be zero (RFC 4648 §3.5), so
//!   every byte string has exactly one accepted unpadded encoding.
//!
//! ```
//! use sluice_example_header_decode::base64url::decode;
//! assert_eq!(decode(b"eyJzdWIiOiJhIn0").unwrap(), br#"{"sub":"a"}"#);
//! assert_eq!(decode(b"eyJzdWIiOiJhIn0=").unwrap(), br#"{"sub":"a"}"#);
//! assert!(decode(b"a+b/").is_err());
//! ```

use alloc::vec::Vec;
use core::fmt;

/// Why input is not strict base64url.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// A byte outside the URL-safe alphabet (or `=` before the end).
    InvalidByte {
        /// Offset of the byte in the input.
        index: usize,
        /// The byte.
        byte: u8,
    },
    /// The length (without padding) is `4n + 1`, which encodes no whole byte.
    InvalidLength,
    /// Padding that is not one or two `=` completing the last quantum.
    InvalidPadding,
    /// The unused bits of the last character are not zero.
    NonCanonical,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DecodeError::InvalidByte { index, byte } => {
                write!(f, "byte 0x{byte:02x} at offset {index} is not in the base64url alphabet")
            }
            DecodeError::InvalidLength => f.write_str("length is not a valid base64url length"),
            DecodeError::InvalidPadding => f.write_str("padding is malformed"),
            DecodeError::NonCanonical => f.write_str("trailing bits are not zero (non-canonical encoding)"),
        }
    }
}

/// The 6-bit value of a URL-safe alphabet character.
fn sextet(byte: u8) -> Option<u8> {
    match byte {
        b'A'..=b'Z' => Some(byte - b'A'),
        b'a'..=b'z' => Some(byte - b'a' + 26),
        b'0'..=b'9' => Some(byte - b'0' + 52),
        b'-' => Some(62),
        b'_' => Some(63),
        _ => None,
    }
}

/// Splits off correct trailing padding, returning the unpadded data.
fn strip_padding(input: &[u8]) -> Result<&[u8], DecodeError> {
    let data_len = input.iter().rposition(|&b| b != b'=').map_or(0, |p| p + 1);
    let padding = input.len() - data_len;
    if padding == 0 {
        return Ok(input);
    }
    // Padding completes the last 4-character quantum with one or two '='.
    let expected = match data_len % 4 {
        2 => 2,
        3 => 1,
        _ => return Err(DecodeError::InvalidPadding),
    };
    if padding == expected { Ok(&input[..data_len]) } else { Err(DecodeError::InvalidPadding) }
}

/// Decodes strict base64url, with or without padding.
pub fn decode(input: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let data = strip_padding(input)?;
    let mut out = Vec::with_capacity(data.len() / 4 * 3 + 2);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for (index, &byte) in data.iter().enumerate() {
        let value = sextet(byte).ok_or(DecodeError::InvalidByte { index, byte })?;
        acc = (acc << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            // Truncation keeps the completed byte: the bits above it were emitted already.
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    if data.len() % 4 == 1 {
        return Err(DecodeError::InvalidLength);
    }
    // 2 or 4 bits remain after a partial quantum; they must be zero.
    if acc != 0 {
        return Err(DecodeError::NonCanonical);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A straightforward reference encoder (no padding), for round trips.
    fn encode(bytes: &[u8]) -> Vec<u8> {
        const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = Vec::new();
        for chunk in bytes.chunks(3) {
            let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
            for i in 0..=chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]);
            }
        }
        out
    }

    #[test]
    fn rfc4648_test_vectors_with_and_without_padding() {
        let vectors: [(&[u8], &[u8]); 7] = [
            (b"", b""),
            (b"Zg", b"f"),
            (b"Zm8", b"fo"),
            (b"Zm9v", b"foo"),
            (b"Zm9vYg", b"foob"),
            (b"Zm9vYmE", b"fooba"),
            (b"Zm9vYmFy", b"foobar"),
        ];
        for (encoded, plain) in vectors {
            assert_eq!(decode(encoded).unwrap(), plain, "{encoded:?}");
        }
        assert_eq!(decode(b"Zg==").unwrap(), b"f");
        assert_eq!(decode(b"Zm8=").unwrap(), b"fo");
    }

    #[test]
    fn every_byte_value_round_trips_at_every_length() {
        let all: Vec<u8> = (0..=255).collect();
        for len in 0..all.len() {
            let bytes = &all[all.len() - len..];
            assert_eq!(decode(&encode(bytes)).unwrap(), bytes);
        }
    }

    #[test]
    fn url_safe_alphabet_is_accepted_and_the_standard_one_rejected() {
        // 0xfb 0xff encodes to "-_8" in base64url and "+/8" in standard base64.
        assert_eq!(decode(b"-_8").unwrap(), [0xfb, 0xff]);
        assert_eq!(decode(b"+_8"), Err(DecodeError::InvalidByte { index: 0, byte: b'+' }));
        assert_eq!(decode(b"-/8"), Err(DecodeError::InvalidByte { index: 1, byte: b'/' }));
    }

    #[test]
    fn rejects_bytes_outside_the_alphabet_including_non_ascii() {
        assert_eq!(decode(b"Zm 9v"), Err(DecodeError::InvalidByte { index: 2, byte: b' ' }));
        assert_eq!(decode(b"Zm9v\n"), Err(DecodeError::InvalidByte { index: 4, byte: b'\n' }));
        assert_eq!(decode(&[b'Z', 0xff, b'9', b'v']), Err(DecodeError::InvalidByte { index: 1, byte: 0xff }));
        assert_eq!(decode(b"Zm9v.Zm9v"), Err(DecodeError::InvalidByte { index: 4, byte: b'.' }));
    }

    #[test]
    fn rejects_impossible_lengths() {
        assert_eq!(decode(b"Z"), Err(DecodeError::InvalidLength));
        assert_eq!(decode(b"Zm9vY"), Err(DecodeError::InvalidLength));
    }

    #[test]
    fn rejects_malformed_padding() {
        for bad in [&b"Zg="[..], b"Zg===", b"Zm8==", b"Zm9v=", b"=", b"==", b"Z==="] {
            assert_eq!(decode(bad), Err(DecodeError::InvalidPadding), "{bad:?}");
        }
        // '=' inside the data is an invalid byte, not padding.
        assert_eq!(decode(b"Zg==Zg"), Err(DecodeError::InvalidByte { index: 2, byte: b'=' }));
    }

    #[test]
    fn rejects_non_canonical_trailing_bits() {
        // "Zg" is canonical for "f"; "Zh" has a non-zero unused bit.
        assert_eq!(decode(b"Zh"), Err(DecodeError::NonCanonical));
        assert_eq!(decode(b"Zm9"), Err(DecodeError::NonCanonical));
        assert_eq!(decode(b"Zh=="), Err(DecodeError::NonCanonical));
    }

    #[test]
    fn errors_describe_the_problem() {
        let message = alloc::format!("{}", DecodeError::InvalidByte { index: 3, byte: b'+' });
        assert_eq!(message, "byte 0x2b at offset 3 is not in the base64url alphabet");
    }
}
