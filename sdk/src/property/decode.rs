//! Decoders for property values as Envoy serializes them. Each rejects a value
//! of the wrong size or shape with [`Error::MalformedProperty`] (or the map
//! error), never by panicking.

use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use super::Timestamp;
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

/// A duration, raw: `i64` nanoseconds (negative if the host computed one).
pub fn duration_nanos(bytes: &[u8]) -> Result<i64> {
    eight(bytes, "duration").map(i64::from_le_bytes)
}

/// A duration as a [`Duration`]; a negative one is rejected.
pub fn duration(bytes: &[u8]) -> Result<Duration> {
    let nanos = duration_nanos(bytes)?;
    u64::try_from(nanos)
        .map(Duration::from_nanos)
        .map_err(|_| Error::MalformedProperty { expected: "non-negative duration", len: bytes.len() })
}

/// A timestamp, raw: `i64` nanoseconds since the Unix epoch.
pub fn timestamp_nanos(bytes: &[u8]) -> Result<i64> {
    eight(bytes, "timestamp").map(i64::from_le_bytes)
}

/// A timestamp as a [`Timestamp`].
pub fn timestamp(bytes: &[u8]) -> Result<Timestamp> {
    timestamp_nanos(bytes).map(Timestamp::from_nanos_since_epoch)
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

    /// Envoy's `serializeValue`: a duration is `absl::ToInt64Nanoseconds`,
    /// a timestamp `absl::ToUnixNanos`, each as 8 little-endian bytes.
    #[test]
    fn decodes_durations_and_timestamps_as_envoy_serializes_them() {
        // request.duration of 1.5 s.
        let one_and_a_half = [0x00, 0x2f, 0x68, 0x59, 0x00, 0x00, 0x00, 0x00];
        assert_eq!(duration(&one_and_a_half), Ok(Duration::from_millis(1500)));
        assert_eq!(duration(&[0; 8]), Ok(Duration::ZERO));
        assert_eq!(duration(&i64::MAX.to_le_bytes()), Ok(Duration::from_nanos(i64::MAX as u64)));
        // request.time of 2023-11-14T22:13:20Z.
        let time = [0x00, 0x00, 0x2a, 0x36, 0xfe, 0x9c, 0x97, 0x17];
        let decoded = timestamp(&time).unwrap();
        assert_eq!(decoded.nanos_since_epoch(), 1_700_000_000_000_000_000);
        assert_eq!(decoded.since_epoch(), Some(Duration::from_secs(1_700_000_000)));
        // One nanosecond before the epoch.
        let before = timestamp(&[0xff; 8]).unwrap();
        assert_eq!(before.nanos_since_epoch(), -1);
        assert_eq!(before.since_epoch(), None);
    }

    #[test]
    fn rejects_negative_durations_and_wrong_sizes() {
        let minus_one_and_a_half = [0x00, 0xd1, 0x97, 0xa6, 0xff, 0xff, 0xff, 0xff];
        assert_eq!(duration_nanos(&minus_one_and_a_half), Ok(-1_500_000_000));
        assert_eq!(
            duration(&minus_one_and_a_half),
            Err(Error::MalformedProperty { expected: "non-negative duration", len: 8 })
        );
        assert_eq!(duration(&[0; 7]), Err(Error::MalformedProperty { expected: "duration", len: 7 }));
        assert_eq!(timestamp(&[0; 9]), Err(Error::MalformedProperty { expected: "timestamp", len: 9 }));
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
