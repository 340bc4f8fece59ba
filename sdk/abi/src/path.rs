//! Property paths: the segments joined by `0x00`, without a trailing one
//! (`["request", "headers", "host"]` is `request\0headers\0host`).

use crate::__private::Vec;

/// Joins `segments` into a path.
pub fn encode<I, S>(segments: I) -> Vec<u8>
where
    I: IntoIterator<Item = S>,
    S: AsRef<[u8]>,
{
    let mut out = Vec::new();
    for (i, segment) in segments.into_iter().enumerate() {
        if i > 0 {
            out.push(0);
        }
        out.extend_from_slice(segment.as_ref());
    }
    out
}

/// The segments of a path; an empty path has none, and a trailing `0x00`
/// (which some SDKs send) ends the last segment instead of adding an empty
/// one (so `"\0"` is one empty segment).
pub fn segments(path: &[u8]) -> impl Iterator<Item = &[u8]> {
    let count = if path.is_empty() { 0 } else { usize::MAX };
    path.strip_suffix(&[0]).unwrap_or(path).split(|b| *b == 0).take(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_round_trip() {
        assert_eq!(encode(["request", "headers", "host"]), b"request\0headers\0host");
        let back: Vec<&[u8]> = segments(b"request\0headers\0host\0").collect();
        assert_eq!(back, [&b"request"[..], b"headers", b"host"]);
        assert_eq!(segments(b"").count(), 0);
        assert_eq!(segments(b"\0").collect::<Vec<_>>(), [&b""[..]]);
        assert_eq!(segments(b"a\0\0b").count(), 3);
    }
}
