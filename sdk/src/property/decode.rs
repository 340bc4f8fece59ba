//! Decoders for property values as Envoy serializes them. Each rejects a value
//! of the wrong size or shape with [`Error::MalformedProperty`] (or the map
//! error), never by panicking.

use alloc::string::String;
use alloc::vec::Vec;

use crate::error::{Error, Result};
use crate::map::{self, Pairs};

fn eight(bytes: &[u8], expected: &'static str) -> Result<[u8; 8]> {
    bytes.try_into().map_err(|_| Error::MalformedProperty { expected, len: bytes.len() })
}

/// UTF-8 text.
pub fn string(bytes: &[u8]) -> Result<String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| Error::InvalidUtf8)
}

/// `int64`: 8 little-endian bytes.
pub fn i64(bytes: &[u8]) -> Result<i64> {
    eight(bytes, "i64").map(i64::from_le_bytes)
}

/// `uint64`: 8 little-endian bytes.
pub fn u64(bytes: &[u8]) -> Result<u64> {
    eight(bytes, "u64").map(u64::from_le_bytes)
}

/// `double`: 8 little-endian bytes.
pub fn f64(bytes: &[u8]) -> Result<f64> {
    eight(bytes, "f64").map(f64::from_le_bytes)
}

/// `bool`: one byte, 0 or 1.
pub fn bool(bytes: &[u8]) -> Result<bool> {
    match bytes {
        [0] => Ok(false),
        [1] => Ok(true),
        _ => Err(Error::MalformedProperty { expected: "bool", len: bytes.len() }),
    }
}

/// A duration: `i64` nanoseconds.
pub fn duration_nanos(bytes: &[u8]) -> Result<i64> {
    eight(bytes, "duration").map(i64::from_le_bytes)
}

/// A timestamp: `i64` nanoseconds since the Unix epoch.
pub fn timestamp_nanos(bytes: &[u8]) -> Result<i64> {
    eight(bytes, "timestamp").map(i64::from_le_bytes)
}

/// A map, in the serialized-pairs format.
pub fn map(bytes: &[u8]) -> Result<Pairs> {
    map::deserialize(bytes)
}

/// A list: the pairs format with the elements as keys.
pub fn list(bytes: &[u8]) -> Result<Vec<Vec<u8>>> {
    Ok(map::deserialize(bytes)?.into_iter().map(|(k, _)| k).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn decodes_scalars_as_envoy_serializes_them() {
        assert_eq!(i64(&(-8080i64).to_le_bytes()), Ok(-8080));
        assert_eq!(u64(&u64::MAX.to_le_bytes()), Ok(u64::MAX));
        assert_eq!(f64(&1.5f64.to_le_bytes()), Ok(1.5));
        assert_eq!(bool(&[1]), Ok(true));
        assert_eq!(bool(&[0]), Ok(false));
        assert_eq!(duration_nanos(&1_500_000_000i64.to_le_bytes()), Ok(1_500_000_000));
        assert_eq!(timestamp_nanos(&1_700_000_000_000_000_000i64.to_le_bytes()), Ok(1_700_000_000_000_000_000));
        assert_eq!(string(b"HTTP/1.1"), Ok(String::from("HTTP/1.1")));
    }

    #[test]
    fn rejects_values_of_the_wrong_size() {
        assert_eq!(i64(&[1, 2, 3]), Err(Error::MalformedProperty { expected: "i64", len: 3 }));
        assert_eq!(u64(&[0; 9]), Err(Error::MalformedProperty { expected: "u64", len: 9 }));
        assert!(f64(&[]).is_err());
        assert!(duration_nanos(&[0; 4]).is_err());
        assert!(timestamp_nanos(&[0; 16]).is_err());
        assert_eq!(bool(&[2]), Err(Error::MalformedProperty { expected: "bool", len: 1 }));
        assert!(bool(&[]).is_err());
        assert!(bool(&[1, 0]).is_err());
    }

    #[test]
    fn rejects_non_utf8_strings() {
        assert_eq!(string(&[0x66, 0xff, 0x6f]), Err(Error::InvalidUtf8));
    }

    #[test]
    fn decodes_maps_and_lists_in_pairs_format() {
        let headers = map::serialize([(":path", "/"), ("host", "example.com")]).unwrap();
        assert_eq!(map(&headers).unwrap()[1], (b"host".to_vec(), b"example.com".to_vec()));
        let list_bytes = map::serialize([("h2", ""), ("http/1.1", "")]).unwrap();
        assert_eq!(list(&list_bytes), Ok(vec![b"h2".to_vec(), b"http/1.1".to_vec()]));
        assert!(list(&list_bytes[..list_bytes.len() - 1]).is_err());
    }
}
