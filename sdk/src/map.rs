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

pub use sluice_abi::map::PairsIter;
use sluice_abi::map::validate;

#[cfg(test)]
use crate::error::MapError;
use crate::error::{Error, Result};

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
    let mut builder = Builder::default();
    for (k, v) in pairs {
        builder.push(k.as_ref(), v.as_ref());
    }
    builder.finish()
}

/// A map serialized while it is built, pair by pair: each name's and
/// value's length and bytes go straight into the two parts of the format,
/// and [`finish`](Builder::finish) joins them. The builders of the crate
/// (HTTP calls, gRPC metadata, local replies) keep one, so each name and
/// value is copied once instead of into a pair of its own first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Builder {
    count: usize,
    lengths: Vec<u8>,
    data: Vec<u8>,
    /// A name or value longer than `u32::MAX` (only possible off wasm32).
    too_large: bool,
}

impl Builder {
    /// Appends a pair.
    pub(crate) fn push(&mut self, name: &[u8], value: &[u8]) {
        if self.count == 0 {
            // Room for a few pairs up front: growing from empty one pair at
            // a time would reallocate both parts several times.
            self.lengths.reserve(8 * 4);
            self.data.reserve(128 + name.len() + value.len());
        }
        for part in [name, value] {
            match u32::try_from(part.len()) {
                Ok(len) => self.lengths.extend_from_slice(&len.to_le_bytes()),
                Err(_) => self.too_large = true,
            }
            self.data.extend_from_slice(part);
            self.data.push(0);
        }
        self.count += 1;
    }

    /// The serialized map, as [`serialize`] writes it ([`Error::TooLarge`]
    /// under the same conditions).
    pub(crate) fn finish(&self) -> Result<Vec<u8>> {
        let count = u32::try_from(self.count).ok().filter(|_| !self.too_large).ok_or(Error::TooLarge)?;
        let mut out = Vec::with_capacity(4 + self.lengths.len() + self.data.len());
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&self.lengths);
        out.extend_from_slice(&self.data);
        Ok(out)
    }
}

/// Parses a serialized map into owned pairs, rejecting anything malformed.
///
/// Accepts the empty encodings of the spec (zero bytes, or a single `0x00`).
/// Rejects input that is truncated, announces more pairs or longer keys and
/// values than it holds, lacks a NUL terminator, or has bytes after the last
/// pair — with an error, never a panic or an out-of-bounds read.
pub fn deserialize(bytes: &[u8]) -> Result<Pairs> {
    Ok(owned(PairsIter::new(bytes, validate(bytes)?)))
}

/// Copies the pairs out.
fn owned(pairs: PairsIter<'_>) -> Pairs {
    pairs.map(|(k, v)| (k.to_vec(), v.to_vec())).collect()
}

/// A serialized map as the host returned it, validated once and read in
/// place: iterating, looking up a name or borrowing the pairs as text copies
/// nothing. This is the cheap way to read a whole header map.
///
/// ```
/// let bytes = sluice::map::serialize([("a", "1"), ("b", "22")]).unwrap();
/// let view = sluice::map::MapView::parse(bytes).unwrap();
/// assert_eq!(view.len(), 2);
/// assert_eq!(view.get("B"), Some(&b"22"[..]));
/// assert_eq!(view.str_pairs().unwrap(), [("a", "1"), ("b", "22")]);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MapView {
    bytes: Vec<u8>,
    count: usize,
}

impl MapView {
    /// Validates `bytes` (see [`deserialize`] for what is rejected) and keeps them.
    pub fn parse(bytes: Vec<u8>) -> Result<MapView> {
        let count = validate(&bytes)?;
        Ok(MapView { bytes, count })
    }

    /// How many pairs the map holds.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the map holds no pair.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The pairs as bytes, in the host's order (names may repeat).
    pub fn iter(&self) -> PairsIter<'_> {
        PairsIter::new(&self.bytes, self.count)
    }

    /// The first value of `name`, compared ASCII case-insensitively (hosts
    /// keep header names lower-cased).
    pub fn get(&self, name: impl AsRef<[u8]>) -> Option<&[u8]> {
        let name = name.as_ref();
        self.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
    }

    /// Every pair as text, borrowed from the map; fails with
    /// [`Error::InvalidUtf8`] if any name or value is not UTF-8.
    pub fn str_pairs<'a>(&'a self) -> Result<Vec<(&'a str, &'a str)>> {
        let text = |b: &'a [u8]| -> Result<&'a str> {
            if b.is_ascii() {
                // SAFETY: ASCII is UTF-8.
                return Ok(unsafe { core::str::from_utf8_unchecked(b) });
            }
            core::str::from_utf8(b).map_err(|_| Error::InvalidUtf8)
        };
        let mut pairs = Vec::with_capacity(self.count);
        for (k, v) in self.iter() {
            pairs.push((text(k)?, text(v)?));
        }
        Ok(pairs)
    }

    /// The pairs copied out, as [`deserialize`] returns them.
    pub fn to_pairs(&self) -> Pairs {
        owned(self.iter())
    }
}

impl<'a> IntoIterator for &'a MapView {
    type Item = (&'a [u8], &'a [u8]);
    type IntoIter = PairsIter<'a>;

    fn into_iter(self) -> PairsIter<'a> {
        self.iter()
    }
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
    fn a_builder_writes_what_serialize_writes() {
        let mut builder = Builder::default();
        assert_eq!(builder.finish().unwrap(), serialize::<_, &str, &str>([]).unwrap());
        builder.push(b"a", b"1");
        builder.push(b"b", b"22");
        assert_eq!(builder.finish().unwrap(), REFERENCE);
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
    fn a_view_reads_the_reference_in_place() {
        let view = MapView::parse(reference()).unwrap();
        assert_eq!((view.len(), view.is_empty()), (2, false));
        assert_eq!(view.iter().collect::<Vec<_>>(), [(&b"a"[..], &b"1"[..]), (&b"b"[..], &b"22"[..])]);
        assert_eq!(view.get("b"), Some(&b"22"[..]));
        assert_eq!(view.get("c"), None);
        assert_eq!(view.str_pairs().unwrap(), [("a", "1"), ("b", "22")]);
        assert_eq!(view.to_pairs(), deserialize(&REFERENCE).unwrap());
        for empty in [vec![], vec![0], vec![0, 0, 0, 0]] {
            let view = MapView::parse(empty).unwrap();
            assert!(view.is_empty());
            assert_eq!(view.iter().next(), None);
        }
    }

    #[test]
    fn a_view_rejects_what_deserialize_rejects() {
        let full = reference();
        for cut in 1..full.len() {
            assert_eq!(MapView::parse(full[..cut].to_vec()).err(), deserialize(&full[..cut]).err());
        }
        let mut bad = reference();
        bad[21] = b'!';
        assert_eq!(MapView::parse(bad), Err(Error::MalformedMap(MapError::MissingNul)));
    }

    #[test]
    fn a_view_keeps_non_utf8_bytes_and_refuses_them_as_text() {
        let bytes = serialize([(&b"x-bin"[..], &[0xff, 0xfe][..])]).unwrap();
        let view = MapView::parse(bytes).unwrap();
        assert_eq!(view.get("X-Bin"), Some(&[0xff, 0xfe][..]));
        assert_eq!(view.str_pairs(), Err(Error::InvalidUtf8));
    }

    #[test]
    fn rejects_trailing_bytes() {
        let mut bad = reference();
        bad.push(0);
        assert_eq!(deserialize(&bad), Err(Error::MalformedMap(MapError::TrailingBytes)));
    }
}
