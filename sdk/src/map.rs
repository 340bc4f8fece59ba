//! The serialized map format of the ABI (headers, trailers, gRPC metadata):
//! a little-endian `u32` pair count, then a `u32` key length and value length
//! per pair, then each key and value followed by a `0x00` byte.
//!
//! ```
//! let bytes = sluice::map::serialize([("a", "1"), ("b", "22")]).unwrap();
//! assert_eq!(bytes.len(), 29);
//! assert_eq!(sluice::map::deserialize(&bytes).unwrap()[1], (b"b".to_vec(), b"22".to_vec()));
//! ```

use alloc::vec::Vec;

use crate::error::{Error, MapError, Result};

/// Names and values as bytes, in the host's order (names may repeat).
pub type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// Serializes pairs into the ABI's map format.
///
/// An empty map is four zero bytes (a count of 0), which every host accepts.
/// Fails with [`Error::TooLarge`] only if a length or the count exceeds `u32`.
pub fn serialize<I, K, V>(pairs: I) -> Result<Vec<u8>>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<[u8]>,
    V: AsRef<[u8]>,
{
    let pairs: Vec<(K, V)> = pairs.into_iter().collect();
    let len32 = |n: usize| u32::try_from(n).map_err(|_| Error::TooLarge);
    let data: usize = pairs.iter().map(|(k, v)| k.as_ref().len() + v.as_ref().len() + 2).sum();
    let mut out = Vec::with_capacity(4 + pairs.len() * 8 + data);
    out.extend_from_slice(&len32(pairs.len())?.to_le_bytes());
    for (k, v) in &pairs {
        out.extend_from_slice(&len32(k.as_ref().len())?.to_le_bytes());
        out.extend_from_slice(&len32(v.as_ref().len())?.to_le_bytes());
    }
    for (k, v) in &pairs {
        out.extend_from_slice(k.as_ref());
        out.push(0);
        out.extend_from_slice(v.as_ref());
        out.push(0);
    }
    Ok(out)
}

/// A bounds-checked reader over the input.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, short: MapError) -> core::result::Result<&'a [u8], MapError> {
        let end = self.pos.checked_add(n).ok_or(MapError::OversizedLength)?;
        let slice = self.bytes.get(self.pos..end).ok_or(short)?;
        self.pos = end;
        Ok(slice)
    }

    fn u32(&mut self) -> core::result::Result<usize, MapError> {
        let b = self.take(4, MapError::Truncated)?;
        let value = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        usize::try_from(value).map_err(|_| MapError::OversizedLength)
    }

    fn terminated(&mut self, len: usize) -> core::result::Result<&'a [u8], MapError> {
        let value = self.take(len, MapError::OversizedLength)?;
        match self.take(1, MapError::MissingNul)? {
            [0] => Ok(value),
            _ => Err(MapError::MissingNul),
        }
    }
}

/// Parses a serialized map, rejecting anything malformed.
///
/// Accepts the empty encodings of the spec (zero bytes, or a single `0x00`).
/// Rejects input that is truncated, announces more pairs or longer keys and
/// values than it holds, lacks a NUL terminator, or has bytes after the last
/// pair — with an error, never a panic or an out-of-bounds read.
pub fn deserialize(bytes: &[u8]) -> Result<Pairs> {
    if bytes.is_empty() || bytes == [0] {
        return Ok(Vec::new());
    }
    let mut r = Reader { bytes, pos: 0 };
    let count = r.u32()?;
    // Each pair needs at least 8 header bytes and 2 terminators: refuse a
    // count the input cannot hold before allocating for it.
    let room = (bytes.len() - 4) / 10;
    if count > room {
        return Err(if bytes.len() - 4 < count.saturating_mul(8) {
            MapError::Truncated
        } else {
            MapError::OversizedLength
        }
        .into());
    }
    let mut lengths = Vec::with_capacity(count);
    for _ in 0..count {
        lengths.push((r.u32()?, r.u32()?));
    }
    let mut pairs = Vec::with_capacity(count);
    for (klen, vlen) in lengths {
        let key = r.terminated(klen)?;
        let value = r.terminated(vlen)?;
        pairs.push((key.to_vec(), value.to_vec()));
    }
    if r.pos != bytes.len() {
        return Err(MapError::TrailingBytes.into());
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    /// The bytes the ABI reference gives for `{"a":"1","b":"22"}`. The
    /// reference labels them "27 bytes", but the bytes it lists (and the
    /// reference host's `pairsSize`: 4 + (8+1+1+1+1) + (8+1+1+2+1)) are 29.
    const REFERENCE: [u8; 29] = [
        0x02, 0x00, 0x00, 0x00, // two pairs
        0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // "a" => "1"
        0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, // "b" => "22"
        0x61, 0x00, 0x31, 0x00, // a\0 1\0
        0x62, 0x00, 0x32, 0x32, 0x00, // b\0 22\0
    ];

    fn reference() -> Vec<u8> {
        REFERENCE.to_vec()
    }

    #[test]
    fn serializes_the_reference_example_byte_for_byte() {
        assert_eq!(serialize([("a", "1"), ("b", "22")]).unwrap(), REFERENCE);
        assert_eq!(
            deserialize(&REFERENCE).unwrap(),
            vec![(b"a".to_vec(), b"1".to_vec()), (b"b".to_vec(), b"22".to_vec())]
        );
    }

    #[test]
    fn empty_maps_in_every_encoding() {
        assert_eq!(serialize::<_, &str, &str>([]).unwrap(), vec![0, 0, 0, 0]);
        assert_eq!(deserialize(&[]).unwrap(), Pairs::new());
        assert_eq!(deserialize(&[0]).unwrap(), Pairs::new());
        assert_eq!(deserialize(&[0, 0, 0, 0]).unwrap(), Pairs::new());
    }

    #[test]
    fn values_are_bytes_and_round_trip_even_when_not_utf8() {
        let pairs = vec![(b"x-bin".to_vec(), vec![0xff, 0xfe, 0x80]), (vec![0xc3, 0x28], Vec::new())];
        let bytes = serialize(pairs.iter().map(|(k, v)| (k, v))).unwrap();
        assert_eq!(deserialize(&bytes).unwrap(), pairs);
    }

    #[test]
    fn rejects_truncated_input() {
        let full = reference();
        for cut in 1..full.len() {
            assert!(deserialize(&full[..cut]).is_err(), "accepted the first {cut} bytes");
        }
        assert_eq!(deserialize(&[2, 0, 0]), Err(Error::MalformedMap(MapError::Truncated)));
    }

    #[test]
    fn rejects_oversized_lengths_and_counts() {
        let mut bad = reference();
        bad[4] = 0xff; // key length of the first pair far past the end
        assert_eq!(deserialize(&bad), Err(Error::MalformedMap(MapError::OversizedLength)));
        let mut huge = reference();
        huge[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(deserialize(&huge).is_err());
        let mut count = reference();
        count[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(deserialize(&count).is_err());
    }

    #[test]
    fn rejects_missing_nul_terminators() {
        let mut bad = reference();
        bad[21] = b'!'; // the NUL after key "a"
        assert_eq!(deserialize(&bad), Err(Error::MalformedMap(MapError::MissingNul)));
        let mut last = reference();
        last[28] = b'!'; // the final NUL
        assert_eq!(deserialize(&last), Err(Error::MalformedMap(MapError::MissingNul)));
    }

    #[test]
    fn rejects_trailing_bytes() {
        let mut bad = reference();
        bad.push(0);
        assert_eq!(deserialize(&bad), Err(Error::MalformedMap(MapError::TrailingBytes)));
    }
}
