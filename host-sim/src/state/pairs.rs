//! The serialized map format of the ABI (header maps, metadata, local-response
//! headers, property maps): a `u32` count, `count` pairs of `u32` lengths, then
//! each key and value followed by a NUL byte. Integers are little-endian.

/// The most bytes a guest-supplied map may have (cpp-host `PROXY_WASM_HOST_PAIRS_MAX_BYTES`).
pub const MAX_PAIRS_BYTES: usize = 1 << 20;
/// The most pairs a guest-supplied map may have (cpp-host `PROXY_WASM_HOST_PAIRS_MAX_COUNT`).
pub const MAX_PAIRS_COUNT: usize = 1024;

/// A decoded list of key/value pairs, in order, keys and values as raw bytes.
pub type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// The exact serialized size of `pairs` (cpp-host `pairsSize`).
pub fn encoded_len<K: AsRef<[u8]>, V: AsRef<[u8]>>(pairs: &[(K, V)]) -> usize {
    4 + pairs.iter().map(|(k, v)| 8 + k.as_ref().len() + 1 + v.as_ref().len() + 1).sum::<usize>()
}

/// Serializes pairs. An empty map encodes as zero bytes: the host returns
/// `(0, 0)` for it, as cpp-host does.
pub fn encode<K: AsRef<[u8]>, V: AsRef<[u8]>>(pairs: &[(K, V)]) -> Vec<u8> {
    if pairs.is_empty() {
        return Vec::new();
    }
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

/// Parses guest-supplied pairs like cpp-host `toPairs`: anything malformed
/// (truncated, missing NUL terminators, trailing bytes, over the limits) yields
/// an empty map rather than an error. An empty input or a single `0x00` byte is
/// an empty map.
pub fn decode(data: &[u8]) -> Pairs {
    decode_strict(data).unwrap_or_default()
}

/// Parses pairs, returning `None` when the input is malformed.
pub fn decode_strict(data: &[u8]) -> Option<Pairs> {
    if data.is_empty() || data == [0] {
        return Some(Vec::new());
    }
    if data.len() > MAX_PAIRS_BYTES || data.len() < 4 {
        return None;
    }
    let count = u32::from_le_bytes(data[0..4].try_into().ok()?) as usize;
    if count > MAX_PAIRS_COUNT {
        return None;
    }
    let mut sizes = Vec::with_capacity(count);
    let mut pos = 4usize;
    for _ in 0..count {
        let k = u32::from_le_bytes(data.get(pos..pos + 4)?.try_into().ok()?) as usize;
        let v = u32::from_le_bytes(data.get(pos + 4..pos + 8)?.try_into().ok()?) as usize;
        sizes.push((k, v));
        pos += 8;
    }
    let mut pairs = Vec::with_capacity(count);
    for (k, v) in sizes {
        let key = data.get(pos..pos.checked_add(k)?)?.to_vec();
        pos += k;
        if *data.get(pos)? != 0 {
            return None;
        }
        pos += 1;
        let value = data.get(pos..pos.checked_add(v)?)?.to_vec();
        pos += v;
        if *data.get(pos)? != 0 {
            return None;
        }
        pos += 1;
        pairs.push((key, value));
    }
    (pos == data.len()).then_some(pairs)
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
        assert_eq!(decode(&bytes), vec![(b"a".to_vec(), b"1".to_vec()), (b"b".to_vec(), b"22".to_vec())]);
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
