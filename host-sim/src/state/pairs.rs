//! The serialized map format of the ABI (header maps, metadata, local-response
//! headers, property maps; `sluice::abi::map`) with the host's rules: an
//! empty map is returned as no bytes, and guest-supplied maps over cpp-host's
//! limits or malformed read as empty.

/// The most bytes a guest-supplied map may have (cpp-host `PROXY_WASM_HOST_PAIRS_MAX_BYTES`).
pub const MAX_PAIRS_BYTES: usize = 1 << 20;
/// The most pairs a guest-supplied map may have (cpp-host `PROXY_WASM_HOST_PAIRS_MAX_COUNT`).
pub const MAX_PAIRS_COUNT: usize = 1024;

/// A decoded list of key/value pairs, in order, keys and values as raw bytes.
pub type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// The exact serialized size of `pairs` (cpp-host `pairsSize`).
pub use sluice::abi::map::encoded_len;

/// Serializes pairs. An empty map encodes as zero bytes: the host returns
/// `(0, 0)` for it, as cpp-host does.
pub fn encode<K: AsRef<[u8]>, V: AsRef<[u8]>>(pairs: &[(K, V)]) -> Vec<u8> {
    if pairs.is_empty() {
        return Vec::new();
    }
    sluice::abi::map::encode(pairs)
}

/// Parses guest-supplied pairs like cpp-host `toPairs`: anything malformed
/// (truncated, missing NUL terminators, trailing bytes, over the limits) yields
/// an empty map rather than an error. An empty input or a single `0x00` byte is
/// an empty map.
pub fn decode(data: &[u8]) -> Pairs {
    decode_strict(data).unwrap_or_default()
}

/// Parses pairs, returning `None` when the input is malformed or over
/// cpp-host's limits.
pub fn decode_strict(data: &[u8]) -> Option<Pairs> {
    if data.len() > MAX_PAIRS_BYTES {
        return None;
    }
    let count = sluice::abi::map::validate(data).ok()?;
    if count > MAX_PAIRS_COUNT {
        return None;
    }
    Some(sluice::abi::map::PairsIter::new(data, count).map(|(k, v)| (k.to_vec(), v.to_vec())).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_map_decodes_back_and_one_over_the_count_limit_is_empty() {
        let pairs = [("a", "1"), ("b", "22")];
        assert_eq!(decode(&encode(&pairs)), vec![(b"a".to_vec(), b"1".to_vec()), (b"b".to_vec(), b"22".to_vec())]);
        let many: Vec<(String, String)> = (0..=MAX_PAIRS_COUNT).map(|i| (i.to_string(), String::new())).collect();
        assert_eq!(decode_strict(&encode(&many)), None);
    }

    #[test]
    fn empty_forms() {
        assert!(encode::<&str, &str>(&[]).is_empty());
        assert_eq!(decode(&[]), Vec::new());
        assert_eq!(decode(&[0]), Vec::new());
        assert_eq!(decode(&[0, 0, 0, 0]), Vec::new());
    }

    #[test]
    fn malformed_input_is_an_empty_map() {
        let mut bytes = encode(&[("a", "1")]);
        bytes.push(7);
        assert_eq!(decode_strict(&bytes), None);
        assert!(decode(&bytes).is_empty());
        let mut bytes = encode(&[("a", "1")]);
        let n = bytes.len();
        bytes[n - 1] = b'x';
        assert!(decode(&bytes).is_empty());
        assert!(decode(&[5, 0, 0, 0, 1]).is_empty());
        assert!(decode(&[0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0]).is_empty());
    }
}
