//! The serialized map format of the ABI (headers, trailers, gRPC metadata,
//! local-response headers, property maps): a little-endian `u32` pair count,
//! then a `u32` key length and value length per pair, then each key and
//! value followed by a `0x00` byte. An empty map may also be zero bytes or a
//! single `0x00`.
//!
//! ```
//! let bytes = sluice_abi::map::encode(&[("a", "1"), ("b", "22")]);
//! assert_eq!(bytes.len(), 29);
//! let count = sluice_abi::map::validate(&bytes).unwrap();
//! let pairs: Vec<_> = sluice_abi::map::PairsIter::new(&bytes, count).collect();
//! assert_eq!(pairs[1], (&b"b"[..], &b"22"[..]));
//! ```

use core::fmt;

use crate::__private::Vec;

/// Why a serialized map was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// The input ends before the header (count and lengths) or the data it announces.
    Truncated,
    /// A length or the pair count cannot fit in the input.
    OversizedLength,
    /// A key or value is not followed by its `0x00` terminator.
    MissingNul,
    /// Bytes follow the last pair.
    TrailingBytes,
}

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MapError::Truncated => "truncated",
            MapError::OversizedLength => "a length exceeds the input",
            MapError::MissingNul => "a key or value lacks its NUL terminator",
            MapError::TrailingBytes => "trailing bytes after the last pair",
        })
    }
}

/// The exact serialized size of `pairs` (cpp-host `pairsSize`).
pub fn encoded_len<K: AsRef<[u8]>, V: AsRef<[u8]>>(pairs: &[(K, V)]) -> usize {
    4 + pairs.iter().map(|(k, v)| 8 + k.as_ref().len() + 1 + v.as_ref().len() + 1).sum::<usize>()
}

/// Serializes pairs (an empty map is four zero bytes). Every length and the
/// count must fit a `u32`: a caller that cannot guarantee it checks first.
pub fn encode<K: AsRef<[u8]>, V: AsRef<[u8]>>(pairs: &[(K, V)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(encoded_len(pairs));
    out.extend_from_slice(&(pairs.len() as u32).to_le_bytes());
    for (k, v) in pairs {
        out.extend_from_slice(&(k.as_ref().len() as u32).to_le_bytes());
        out.extend_from_slice(&(v.as_ref().len() as u32).to_le_bytes());
    }
    for (k, v) in pairs {
        out.extend_from_slice(k.as_ref());
        out.push(0);
        out.extend_from_slice(v.as_ref());
        out.push(0);
    }
    out
}

/// A bounds-checked reader over the input.
#[derive(Clone, Debug)]
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, short: MapError) -> Result<&'a [u8], MapError> {
        let end = self.pos.checked_add(n).ok_or(MapError::OversizedLength)?;
        let slice = self.bytes.get(self.pos..end).ok_or(short)?;
        self.pos = end;
        Ok(slice)
    }

    fn u32(&mut self) -> Result<usize, MapError> {
        let b = self.take(4, MapError::Truncated)?;
        let value = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        usize::try_from(value).map_err(|_| MapError::OversizedLength)
    }

    fn terminated(&mut self, len: usize) -> Result<&'a [u8], MapError> {
        let value = self.take(len, MapError::OversizedLength)?;
        match self.take(1, MapError::MissingNul)? {
            [0] => Ok(value),
            _ => Err(MapError::MissingNul),
        }
    }
}

/// Checks a serialized map and returns its pair count, rejecting anything
/// malformed: input that is truncated, announces more pairs or longer keys
/// and values than it holds, lacks a NUL terminator, or has bytes after the
/// last pair. Accepts the empty encodings of the spec (zero bytes, or a
/// single `0x00`).
pub fn validate(bytes: &[u8]) -> Result<usize, MapError> {
    if bytes.is_empty() || bytes == [0] {
        return Ok(0);
    }
    let mut lengths = Reader { bytes, pos: 0 };
    let count = lengths.u32()?;
    // Each pair needs at least 8 header bytes and 2 terminators: refuse a
    // count the input cannot hold before walking it.
    let room = (bytes.len() - 4) / 10;
    if count > room {
        return Err(if bytes.len() - 4 < count.saturating_mul(8) {
            MapError::Truncated
        } else {
            MapError::OversizedLength
        });
    }
    let mut data = Reader { bytes, pos: 4 + count * 8 };
    for _ in 0..count {
        let (klen, vlen) = (lengths.u32()?, lengths.u32()?);
        data.terminated(klen)?;
        data.terminated(vlen)?;
    }
    if data.pos != bytes.len() {
        return Err(MapError::TrailingBytes);
    }
    Ok(count)
}

/// The pairs of a validated serialized map, as borrowed bytes.
#[derive(Clone, Debug)]
pub struct PairsIter<'a> {
    lengths: Reader<'a>,
    data: Reader<'a>,
    left: usize,
}

impl<'a> PairsIter<'a> {
    /// Iterates `count` pairs of `bytes`, which [`validate`] accepted
    /// (with its count). Over other bytes the iteration ends early instead
    /// of reading out of bounds.
    pub fn new(bytes: &'a [u8], count: usize) -> PairsIter<'a> {
        let data = if count == 0 { 0 } else { 4 + count * 8 };
        PairsIter { lengths: Reader { bytes, pos: 4 }, data: Reader { bytes, pos: data }, left: count }
    }
}

impl<'a> Iterator for PairsIter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        // The input was validated, so these reads succeed; should one not,
        // the iteration ends instead of panicking.
        let (klen, vlen) = (self.lengths.u32().ok()?, self.lengths.u32().ok()?);
        let key = self.data.terminated(klen).ok()?;
        let value = self.data.terminated(vlen).ok()?;
        Some((key, value))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_the_reference_example() {
        let bytes = encode(&[("a", "1"), ("b", "22")]);
        assert_eq!(
            bytes,
            [2, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0x61, 0, 0x31, 0, 0x62, 0, 0x32, 0x32, 0]
        );
        assert_eq!(bytes.len(), encoded_len(&[("a", "1"), ("b", "22")]));
        assert_eq!(validate(&bytes), Ok(2));
        assert_eq!(PairsIter::new(&bytes, 2).count(), 2);
    }

    #[test]
    fn refuses_malformed_maps_and_iterates_nothing_past_the_input() {
        assert_eq!(validate(&[2, 0, 0]), Err(MapError::Truncated));
        assert_eq!(validate(&[5, 0, 0, 0, 1]), Err(MapError::Truncated));
        assert_eq!(validate(&[0, 0, 0, 0, 7]), Err(MapError::TrailingBytes));
        assert_eq!(PairsIter::new(&[1, 0, 0, 0], 1).next(), None);
    }
}
