//! Host properties (`proxy_get_property` / `proxy_set_property`): path
//! encoding and typed decoding of values as Envoy serializes them.
//!
//! A path is a list of segments, sent joined by `0x00` with no trailing NUL
//! (`["request", "headers", "host"]` → `request\0headers\0host`). Envoy
//! encodes strings and bytes as raw bytes, integers and doubles as 8
//! little-endian bytes, booleans as 1 byte, durations as `i64` nanoseconds,
//! timestamps as `i64` nanoseconds since the epoch, and maps and lists in the
//! serialized-pairs format (lists as keys with empty values).
//!
//! ```no_run
//! let port = sluice::property::get_i64(["source", "port"])?;
//! let protocol = sluice::property::get_string(["request", "protocol"])?;
//! let duration = sluice::property::get_duration(["request", "duration"])?; // Option<Duration>
//! let start = sluice::property::get_timestamp(["request", "time"])?; // Option<Timestamp>
//! # Ok::<(), sluice::Error>(())
//! ```

use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use crate::error::Result;
use crate::ffi;
use crate::map::Pairs;

pub mod decode;
mod timestamp;

pub use timestamp::Timestamp;

/// Encodes a path: segments joined by `0x00`, no trailing NUL; an empty path
/// is empty.
pub fn encode_path<I, S>(path: I) -> Vec<u8>
where
    I: IntoIterator<Item = S>,
    S: AsRef<[u8]>,
{
    sluice_abi::path::encode(path)
}

/// The raw value at `path`, or `None` if the host has no such property.
pub fn get<I, S>(path: I) -> Result<Option<Vec<u8>>>
where
    I: IntoIterator<Item = S>,
    S: AsRef<[u8]>,
{
    match ffi::get_property(&encode_path(path)) {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Sets the value at `path` (Envoy stores it as filter state).
pub fn set<I, S>(path: I, value: impl AsRef<[u8]>) -> Result<()>
where
    I: IntoIterator<Item = S>,
    S: AsRef<[u8]>,
{
    ffi::set_property(&encode_path(path), value.as_ref())
}

macro_rules! typed_getter {
    ($(#[$doc:meta])* $name:ident -> $ty:ty = $decode:path) => {
        $(#[$doc])*
        pub fn $name<I, S>(path: I) -> Result<Option<$ty>>
        where
            I: IntoIterator<Item = S>,
            S: AsRef<[u8]>,
        {
            get(path)?.map(|bytes| $decode(&bytes)).transpose()
        }
    };
}

typed_getter!(
    /// A string property (UTF-8).
    get_string -> String = decode::string
);
typed_getter!(
    /// An `int64` property.
    get_i64 -> i64 = decode::i64
);
typed_getter!(
    /// A `uint64` property.
    get_u64 -> u64 = decode::u64
);
typed_getter!(
    /// A `double` property.
    get_f64 -> f64 = decode::f64
);
typed_getter!(
    /// A `bool` property.
    get_bool -> bool = decode::bool
);
typed_getter!(
    /// A duration property (for example `request.duration`); a negative one
    /// is an [`Error::MalformedProperty`](crate::Error::MalformedProperty).
    get_duration -> Duration = decode::duration
);
typed_getter!(
    /// A duration property, raw: in nanoseconds (may be negative).
    get_duration_nanos -> i64 = decode::duration_nanos
);
typed_getter!(
    /// A timestamp property (for example `request.time`).
    get_timestamp -> Timestamp = decode::timestamp
);
typed_getter!(
    /// A timestamp property, raw: in nanoseconds since the Unix epoch.
    get_timestamp_nanos -> i64 = decode::timestamp_nanos
);
typed_getter!(
    /// A map property (for example `request.headers`).
    get_map -> Pairs = decode::map
);
typed_getter!(
    /// A list property.
    get_list -> Vec<Vec<u8>> = decode::list
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_nul_joined_without_a_trailing_nul() {
        assert_eq!(encode_path(["request", "headers", "host"]), b"request\0headers\0host".to_vec());
        assert_eq!(encode_path(["plugin_name"]), b"plugin_name".to_vec());
        assert_eq!(encode_path::<_, &str>([]), Vec::<u8>::new());
        assert_eq!(
            encode_path(["metadata", "filter_metadata", "envoy.filters.http.lua", "uppercased-custom-metadata"]),
            b"metadata\0filter_metadata\0envoy.filters.http.lua\0uppercased-custom-metadata".to_vec()
        );
        // Segments are bytes: an empty segment still gets its separator.
        assert_eq!(encode_path([&b"a"[..], b"", b"\xff"]), b"a\0\0\xff".to_vec());
    }
}
