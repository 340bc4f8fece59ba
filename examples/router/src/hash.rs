//! The deterministic percentage split: FNV-1a (32-bit) over the header value,
//! reduced to one of 100 buckets.
//!
//! The bucket of a value is
//!
//! ```text
//! bucket = fnv1a_32(salt ++ value) mod 100        (0..=99)
//! ```
//!
//! where `++` is byte concatenation, `salt` is the match's `salt` (empty by
//! default) and `fnv1a_32` is the standard 32-bit FNV-1a: start from the
//! offset basis `0x811c9dc5`; for each byte, XOR it in, then multiply by the
//! prime `0x01000193` modulo 2^32. A rule with `"percent": p` matches when
//! `bucket < p`, so `0` never matches, `100` always does, and raising `p`
//! only adds users to the matching side (nobody already in it moves out).
//! The same user id always lands in the same bucket, on every proxy and
//! every restart; a different salt gives an independent split.
//!
//! ```
//! use sluice_example_router::hash::{bucket, fnv1a_32};
//! assert_eq!(fnv1a_32(b"foobar"), 0xbf9c_f968);
//! assert_eq!(bucket(b"", b"foobar"), 0xbf9c_f968 % 100);
//! ```

/// The FNV-1a 32-bit offset basis.
pub const OFFSET_BASIS: u32 = 0x811c_9dc5;
/// The FNV 32-bit prime.
pub const PRIME: u32 = 0x0100_0193;
/// How many buckets a percentage is measured in.
pub const BUCKETS: u32 = 100;

/// Continues an FNV-1a 32-bit hash over `bytes`.
pub const fn fnv1a_32_update(mut hash: u32, bytes: &[u8]) -> u32 {
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u32;
        hash = hash.wrapping_mul(PRIME);
        i += 1;
    }
    hash
}

/// The FNV-1a 32-bit hash of `bytes`.
pub const fn fnv1a_32(bytes: &[u8]) -> u32 {
    fnv1a_32_update(OFFSET_BASIS, bytes)
}

/// The bucket (`0..=99`) of `value` under `salt`: `fnv1a_32(salt ++ value) % 100`.
pub const fn bucket(salt: &[u8], value: &[u8]) -> u32 {
    fnv1a_32_update(fnv1a_32(salt), value) % BUCKETS
}

/// Whether `value` falls in the first `percent` of the buckets.
pub const fn in_percent(salt: &[u8], value: &[u8], percent: u8) -> bool {
    bucket(salt, value) < percent as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_published_fnv1a_test_vectors() {
        // From the FNV reference test suite (draft-eastlake-fnv).
        assert_eq!(fnv1a_32(b""), 0x811c_9dc5);
        assert_eq!(fnv1a_32(b"a"), 0xe40c_292c);
        assert_eq!(fnv1a_32(b"foobar"), 0xbf9c_f968);
    }

    #[test]
    fn salt_is_a_prefix_of_the_hashed_bytes() {
        assert_eq!(bucket(b"foo", b"bar"), fnv1a_32(b"foobar") % 100);
        assert_eq!(bucket(b"", b"foobar"), fnv1a_32(b"foobar") % 100);
    }

    #[test]
    fn percent_bounds_never_and_always_match() {
        for id in [&b""[..], b"user-1", b"\xff\xfe", b"a much longer user identifier"] {
            assert!(!in_percent(b"", id, 0));
            assert!(in_percent(b"", id, 100));
        }
    }

    #[test]
    fn raising_the_percentage_only_adds_users() {
        let ids: [&[u8]; 5] = [b"alice", b"bob", b"carol", b"dave", b"erin"];
        for id in ids {
            let first = (0..=100u8).find(|&p| in_percent(b"", id, p)).unwrap_or(101);
            for p in 0..=100u8 {
                assert_eq!(in_percent(b"", id, p), p >= first, "{id:?} at {p}%");
            }
        }
    }

    #[test]
    fn buckets_spread_evenly_over_sequential_ids() {
        let mut counts = [0u32; BUCKETS as usize];
        for i in 0..100_000u32 {
            let mut id = [0u8; 16];
            let text = format_id(i, &mut id);
            counts[bucket(b"", text) as usize] += 1;
        }
        // 1000 expected per bucket; FNV-1a keeps every bucket within 15%.
        assert!(counts.iter().all(|&c| (850..=1150).contains(&c)), "{counts:?}");
    }

    fn format_id(mut n: u32, buf: &mut [u8; 16]) -> &[u8] {
        let mut end = buf.len();
        loop {
            end -= 1;
            buf[end] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        end -= 5;
        buf[end..end + 5].copy_from_slice(b"user-");
        &buf[end..]
    }
}
