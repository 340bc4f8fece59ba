//! Header maps as Envoy keeps them: an ordered list of entries, keys lower-cased
//! on every write, repeated keys kept as separate entries.

use super::pairs;
use crate::types::Status;

/// An ordered, multi-valued header map with lower-case keys.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeaderMap {
    entries: Vec<(Vec<u8>, Vec<u8>)>,
}

fn lower(key: &[u8]) -> Vec<u8> {
    key.to_ascii_lowercase()
}

/// Whether a stored (lower-case) key is `key` in any case, without
/// allocating a lower-cased copy of `key`.
fn is_key(stored: &[u8], key: &[u8]) -> bool {
    stored.eq_ignore_ascii_case(key)
}

impl HeaderMap {
    /// An empty map.
    pub fn new() -> HeaderMap {
        HeaderMap::default()
    }

    /// A map from pairs (keys are lower-cased).
    pub fn from_pairs<K: AsRef<[u8]>, V: AsRef<[u8]>>(pairs: impl IntoIterator<Item = (K, V)>) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.add(k.as_ref(), v.as_ref());
        }
        map
    }

    /// The entries in order.
    pub fn entries(&self) -> &[(Vec<u8>, Vec<u8>)] {
        &self.entries
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The first value of `key` (Envoy returns only the first of a repeated header).
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.entries.iter().find(|(k, _)| is_key(k, key)).map(|(_, v)| v.as_slice())
    }

    /// Every value of `key`, in order.
    pub fn get_all<'a>(&'a self, key: &[u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
        let key = lower(key);
        self.entries.iter().filter(move |(k, _)| *k == key).map(|(_, v)| v.as_slice())
    }

    /// Appends an entry (a repeated key becomes another entry).
    pub fn add(&mut self, key: &[u8], value: &[u8]) {
        self.entries.push((lower(key), value.to_vec()));
    }

    /// Sets `key` to a single value: the first entry is replaced in place and
    /// further entries of the key are removed; added at the end if absent.
    pub fn replace(&mut self, key: &[u8], value: &[u8]) {
        match self.entries.iter().position(|(k, _)| is_key(k, key)) {
            Some(first) => {
                self.entries[first].1 = value.to_vec();
                let mut index = 0;
                self.entries.retain(|(k, _)| {
                    let keep = index <= first || !is_key(k, key);
                    index += 1;
                    keep
                });
            }
            None => self.entries.push((lower(key), value.to_vec())),
        }
    }

    /// Removes every entry of `key` (absent keys are fine).
    pub fn remove(&mut self, key: &[u8]) {
        self.entries.retain(|(k, _)| !is_key(k, key));
    }

    /// Replaces the whole map with guest-serialized pairs.
    pub fn set_serialized(&mut self, data: &[u8]) {
        self.entries = pairs::decode(data).into_iter().map(|(k, v)| (lower(&k), v)).collect();
    }

    /// The serialized form (empty for an empty map).
    pub fn serialize(&self) -> Vec<u8> {
        pairs::encode(&self.entries)
    }

    /// The size `proxy_get_header_map_size` reports, and the header part of
    /// the `request.total_size`/`response.total_size` properties: the bytes
    /// of every name and value, as Envoy's `HeaderMap::byteSize()` (the spec
    /// says the serialized size; Envoy's answer is what plugins see).
    pub fn byte_size(&self) -> usize {
        self.entries.iter().map(|(k, v)| k.len() + v.len()).sum()
    }

    /// The value of `key` for `proxy_get_header_map_value`: `NotFound` when absent
    /// (ABI 0.2.x), or an empty value with `legacy_empty` (ABI 0.1.0).
    pub fn lookup(&self, key: &[u8], legacy_empty: bool) -> Result<&[u8], Status> {
        match self.get(key) {
            Some(v) => Ok(v),
            None if legacy_empty => Ok(&[]),
            None => Err(Status::NotFound),
        }
    }
}

impl HeaderMap {
    /// The first value of `key` as UTF-8 (`None` if absent or not UTF-8).
    pub fn get_str(&self, key: &str) -> Option<&str> {
        std::str::from_utf8(self.get(key.as_bytes())?).ok()
    }

    /// The entries as strings (lossy), for readable assertions.
    pub fn to_strings(&self) -> Vec<(String, String)> {
        self.entries
            .iter()
            .map(|(k, v)| (String::from_utf8_lossy(k).into_owned(), String::from_utf8_lossy(v).into_owned()))
            .collect()
    }
}

impl IntoIterator for HeaderMap {
    type Item = (Vec<u8>, Vec<u8>);
    type IntoIter = std::vec::IntoIter<(Vec<u8>, Vec<u8>)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_lower_cased_and_repeats_kept() {
        let mut m = HeaderMap::new();
        m.add(b"Set-Cookie", b"a=1");
        m.add(b"set-cookie", b"b=2");
        assert_eq!(m.len(), 2);
        assert_eq!(m.get(b"SET-COOKIE"), Some(&b"a=1"[..]));
        assert_eq!(m.get_all(b"set-cookie").collect::<Vec<_>>(), vec![&b"a=1"[..], &b"b=2"[..]]);
    }

    #[test]
    fn replace_keeps_position_and_drops_repeats() {
        let mut m = HeaderMap::from_pairs([("a", "1"), ("x", "1"), ("b", "2"), ("x", "2")]);
        m.replace(b"X", b"3");
        assert_eq!(m, HeaderMap::from_pairs([("a", "1"), ("x", "3"), ("b", "2")]));
        m.replace(b"new", b"v");
        assert_eq!(m.entries().last().unwrap().0, b"new");
        m.remove(b"x");
        m.remove(b"absent");
        assert_eq!(m.len(), 3);
    }

    #[test]
    fn lookup_follows_the_abi_version() {
        let m = HeaderMap::from_pairs([("a", "1")]);
        assert_eq!(m.lookup(b"b", false), Err(Status::NotFound));
        assert_eq!(m.lookup(b"b", true), Ok(&b""[..]));
    }

    #[test]
    fn serialization_round_trips_and_lower_cases() {
        let mut m = HeaderMap::new();
        m.set_serialized(&pairs::encode(&[("K", "v")]));
        assert_eq!(m.get(b"k"), Some(&b"v"[..]));
        assert!(HeaderMap::new().serialize().is_empty());
    }

    #[test]
    fn byte_size_counts_names_and_values_as_envoy() {
        let mut m = HeaderMap::new();
        m.set_serialized(&pairs::encode(&[(":path", "/a"), ("x-k", "value")]));
        assert_eq!(m.byte_size(), 5 + 2 + 3 + 5);
        assert_eq!(HeaderMap::new().byte_size(), 0);
    }
}
