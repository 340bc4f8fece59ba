//! Properties as a tree of typed values, serialized the way Envoy serializes
//! CEL attributes: strings and bytes raw, integers and doubles as 8
//! little-endian bytes, booleans as one byte, durations and timestamps as
//! nanoseconds in an `i64`, maps and lists in the pairs format.

use std::collections::BTreeMap;
use std::time::Duration;

use super::pairs;
use crate::types::Status;

/// A typed property value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A UTF-8 string (serialized raw).
    String(String),
    /// Raw bytes (serialized raw).
    Bytes(Vec<u8>),
    /// A signed integer (8 bytes LE).
    Int(i64),
    /// An unsigned integer (8 bytes LE).
    Uint(u64),
    /// A double (8 bytes LE).
    Double(f64),
    /// A boolean (1 byte).
    Bool(bool),
    /// A duration (i64 nanoseconds).
    Duration(Duration),
    /// A timestamp in nanoseconds since the Unix epoch (i64).
    Timestamp(i64),
    /// A map (serialized as pairs of key and serialized value).
    Map(BTreeMap<String, Value>),
    /// A list (serialized as pairs whose keys are the serialized elements).
    List(Vec<Value>),
}

impl Value {
    /// Serializes like Envoy's `serializeValue`.
    pub fn serialize(&self) -> Vec<u8> {
        match self {
            Value::String(s) => s.as_bytes().to_vec(),
            Value::Bytes(b) => b.clone(),
            Value::Int(i) => i.to_le_bytes().to_vec(),
            Value::Uint(u) => u.to_le_bytes().to_vec(),
            Value::Double(d) => d.to_le_bytes().to_vec(),
            Value::Bool(b) => vec![*b as u8],
            Value::Duration(d) => (d.as_nanos().min(i64::MAX as u128) as i64).to_le_bytes().to_vec(),
            Value::Timestamp(ns) => ns.to_le_bytes().to_vec(),
            Value::Map(m) => {
                let items: Vec<(Vec<u8>, Vec<u8>)> =
                    m.iter().map(|(k, v)| (k.as_bytes().to_vec(), v.serialize())).collect();
                encode_nonempty(&items)
            }
            Value::List(l) => {
                let items: Vec<(Vec<u8>, Vec<u8>)> = l.iter().map(|v| (v.serialize(), Vec::new())).collect();
                encode_nonempty(&items)
            }
        }
    }

    /// A map value from pairs.
    pub fn map<K: Into<String>>(entries: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Map(entries.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    fn child(&self, segment: &str) -> Option<&Value> {
        match self {
            Value::Map(m) => m.get(segment),
            Value::List(l) => segment.parse::<usize>().ok().and_then(|i| l.get(i)),
            _ => None,
        }
    }
}

/// Layers `upper` over `lower`: maps merge key by key (recursively), any
/// other upper value replaces the lower one.
pub fn merge_values(lower: &Value, upper: &Value) -> Value {
    match (lower, upper) {
        (Value::Map(l), Value::Map(u)) => {
            let mut merged = l.clone();
            for (k, v) in u {
                let value = match l.get(k) {
                    Some(lv) => merge_values(lv, v),
                    None => v.clone(),
                };
                merged.insert(k.clone(), value);
            }
            Value::Map(merged)
        }
        _ => upper.clone(),
    }
}

fn encode_nonempty(items: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    if items.is_empty() { 0u32.to_le_bytes().to_vec() } else { pairs::encode(items) }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_owned())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}
impl From<u64> for Value {
    fn from(u: u64) -> Value {
        Value::Uint(u)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}
impl From<Vec<u8>> for Value {
    fn from(b: Vec<u8>) -> Value {
        Value::Bytes(b)
    }
}
impl From<Duration> for Value {
    fn from(d: Duration) -> Value {
        Value::Duration(d)
    }
}

/// Splits a guest property path (segments joined by NUL, no trailing NUL).
pub fn split_path(path: &[u8]) -> Vec<String> {
    sluice::abi::path::segments(path).map(|s| String::from_utf8_lossy(s).into_owned()).collect()
}

/// The deepest path a [`PropertyTree`] takes: cloning, comparing,
/// serializing, merging and dropping a tree recurse once per level, so a
/// deeper one could overflow the host's stack (a 2 MiB test thread's too).
pub const MAX_DEPTH: usize = crate::limits::MAX_PROPERTY_DEPTH;

/// The bytes a value holds: its keys and leaf bytes, walked without
/// recursion (a value is as deep as the path that built it).
pub fn weight(value: &Value) -> usize {
    let mut total = 0usize;
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        total += match value {
            Value::String(s) => s.len(),
            Value::Bytes(b) => b.len(),
            Value::Map(m) => {
                stack.extend(m.values());
                m.keys().map(String::len).sum()
            }
            Value::List(l) => {
                stack.extend(l.iter());
                0
            }
            Value::Bool(_) => 1,
            _ => 8,
        };
    }
    total
}

/// A tree of properties rooted in a map. It counts the bytes it holds
/// ([`PropertyTree::bytes`]: keys and leaves, as [`weight`] counts them).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PropertyTree {
    root: BTreeMap<String, Value>,
    bytes: usize,
}

impl PropertyTree {
    /// An empty tree.
    pub fn new() -> PropertyTree {
        PropertyTree::default()
    }

    /// The value at `path`.
    pub fn get<S: AsRef<str>>(&self, path: &[S]) -> Option<&Value> {
        let (first, rest) = path.split_first()?;
        let mut value = self.root.get(first.as_ref())?;
        for segment in rest {
            value = value.child(segment.as_ref())?;
        }
        Some(value)
    }

    /// The serialized value at `path`, `NotFound` when absent.
    pub fn get_serialized<S: AsRef<str>>(&self, path: &[S]) -> Result<Vec<u8>, Status> {
        self.get(path).map(Value::serialize).ok_or(Status::NotFound)
    }

    /// The bytes the tree holds: keys and leaves ([`weight`]).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The bytes the tree would hold after `set(path, value)` of a value of
    /// `value_bytes` bytes, without setting it.
    pub fn bytes_after_set<S: AsRef<str>>(&self, path: &[S], value_bytes: usize) -> usize {
        let (mut added, mut removed) = (value_bytes, 0);
        let mut map = Some(&self.root);
        for (i, segment) in path.iter().enumerate() {
            let segment = segment.as_ref();
            match map.and_then(|m| m.get(segment)) {
                None => {
                    added += segment.len();
                    map = None;
                }
                Some(Value::Map(next)) if i + 1 < path.len() => map = Some(next),
                // A leaf on the way, or the old value: replaced.
                Some(old) => {
                    removed += weight(old);
                    map = None;
                }
            }
        }
        (self.bytes + added).saturating_sub(removed)
    }

    /// Sets the value at `path`, creating maps on the way (a non-map on the way is
    /// replaced by a map). An empty path, or one deeper than [`MAX_DEPTH`],
    /// is `BadArgument`.
    pub fn set<S: AsRef<str>>(&mut self, path: &[S], value: Value) -> Result<(), Status> {
        if path.len() > MAX_DEPTH {
            return Err(Status::BadArgument);
        }
        let (last, parents) = path.split_last().ok_or(Status::BadArgument)?;
        let mut added = weight(&value);
        let mut removed = 0;
        let mut map = &mut self.root;
        for segment in parents {
            let entry = map.entry(segment.as_ref().to_owned()).or_insert_with(|| {
                added += segment.as_ref().len();
                Value::Map(BTreeMap::new())
            });
            if !matches!(entry, Value::Map(_)) {
                removed += weight(entry);
                *entry = Value::Map(BTreeMap::new());
            }
            let Value::Map(next) = entry else { return Err(Status::InternalFailure) };
            map = next;
        }
        match map.insert(last.as_ref().to_owned(), value) {
            Some(old) => removed += weight(&old),
            None => added += last.as_ref().len(),
        }
        self.bytes = (self.bytes + added).saturating_sub(removed);
        Ok(())
    }

    /// Removes the value at `path`.
    pub fn remove<S: AsRef<str>>(&mut self, path: &[S]) -> Option<Value> {
        let (last, parents) = path.split_last()?;
        let mut map = &mut self.root;
        for segment in parents {
            match map.get_mut(segment.as_ref())? {
                Value::Map(next) => map = next,
                _ => return None,
            }
        }
        let removed = map.remove(last.as_ref())?;
        self.bytes = self.bytes.saturating_sub(weight(&removed) + last.as_ref().len());
        Some(removed)
    }

    /// Every leaf (a value that is not a non-empty map) with its path, in
    /// path order.
    pub fn leaves(&self) -> Vec<(Vec<String>, Value)> {
        fn walk(prefix: &mut Vec<String>, value: &Value, out: &mut Vec<(Vec<String>, Value)>) {
            match value {
                Value::Map(m) if !m.is_empty() => {
                    for (k, v) in m {
                        prefix.push(k.clone());
                        walk(prefix, v, out);
                        prefix.pop();
                    }
                }
                _ => out.push((prefix.clone(), value.clone())),
            }
        }
        let mut out = Vec::new();
        for (k, v) in &self.root {
            walk(&mut vec![k.clone()], v, &mut out);
        }
        out
    }

    /// Copies every leaf of `other` over this tree.
    pub fn merge(&mut self, other: &PropertyTree) {
        for (path, value) in other.leaves() {
            let _ = self.set(&path, value);
        }
    }
}

/// Envoy/Istio attributes a sidecar proxy would expose, for a plugin running in
/// an inbound listener of the `productpage-v1` workload in namespace `default`.
pub fn envoy_defaults() -> PropertyTree {
    let mut t = PropertyTree::new();
    let labels = Value::map([("app", "productpage".into()), ("version", "v1".into())]);
    let node_metadata = Value::map([
        ("NAME", Value::from("productpage-v1-6b746f74dc-9stvs")),
        ("NAMESPACE", "default".into()),
        ("WORKLOAD_NAME", "productpage-v1".into()),
        ("OWNER", "kubernetes://apis/apps/v1/namespaces/default/deployments/productpage-v1".into()),
        ("SERVICE_ACCOUNT", "bookinfo-productpage".into()),
        ("CLUSTER_ID", "Kubernetes".into()),
        ("MESH_ID", "cluster.local".into()),
        ("ISTIO_VERSION", "1.24.2".into()),
        ("INTERCEPTION_MODE", "REDIRECT".into()),
        ("LABELS", labels),
    ]);
    let entries: Vec<(&[&str], Value)> = vec![
        (&["node", "id"], "sidecar~10.44.0.7~productpage-v1-6b746f74dc-9stvs.default~default.svc.cluster.local".into()),
        (&["node", "cluster"], "productpage.default".into()),
        (&["node", "metadata"], node_metadata),
        (&["source", "address"], "10.44.0.12:51234".into()),
        (&["source", "port"], Value::Int(51234)),
        (&["destination", "address"], "10.44.0.7:9080".into()),
        (&["destination", "port"], Value::Int(9080)),
        (&["connection", "mtls"], Value::Bool(true)),
        (&["connection", "tls_version"], "TLSv1.3".into()),
        (&["connection", "requested_server_name"], "outbound_.9080_._.productpage.default.svc.cluster.local".into()),
        (&["connection", "uri_san_peer_certificate"], "spiffe://cluster.local/ns/default/sa/bookinfo-gateway".into()),
        (
            &["connection", "uri_san_local_certificate"],
            "spiffe://cluster.local/ns/default/sa/bookinfo-productpage".into(),
        ),
        (&["connection", "dns_san_peer_certificate"], "".into()),
        (&["connection", "dns_san_local_certificate"], "".into()),
        (&["connection", "subject_peer_certificate"], "".into()),
        (&["connection", "subject_local_certificate"], "".into()),
        (
            &["connection", "sha256_peer_certificate_digest"],
            "9f2d6c5c3a1e0b7d4e8f6a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d".into(),
        ),
        (&["upstream", "address"], "127.0.0.6:9080".into()),
        (&["upstream", "port"], Value::Int(9080)),
        (&["upstream", "local_address"], "127.0.0.6:41923".into()),
        (&["upstream", "local_port"], Value::Int(41923)),
        (&["upstream", "tls_version"], "".into()),
        // The inbound sidecar's upstream is the local app over plaintext (no
        // `tls_version`): no certificates. Set them for an outbound listener.
        (&["upstream", "uri_san_peer_certificate"], "".into()),
        (&["upstream", "uri_san_local_certificate"], "".into()),
        (&["cluster_name"], "inbound|9080||".into()),
        (&["route_name"], "default".into()),
        (&["listener_direction"], Value::Int(1)),
        (&["xds", "cluster_name"], "inbound|9080||".into()),
        (&["xds", "route_name"], "default".into()),
    ];
    for (path, value) in entries {
        let _ = t.set(path, value);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_match_envoy() {
        assert_eq!(Value::from("abc").serialize(), b"abc");
        assert_eq!(Value::Int(-2).serialize(), (-2i64).to_le_bytes());
        assert_eq!(Value::Uint(7).serialize(), 7u64.to_le_bytes());
        assert_eq!(Value::Bool(true).serialize(), [1]);
        assert_eq!(Value::Duration(Duration::from_millis(3)).serialize(), 3_000_000i64.to_le_bytes());
        assert_eq!(Value::Timestamp(5).serialize(), 5i64.to_le_bytes());
        let map = Value::map([("a", Value::from("1"))]);
        assert_eq!(map.serialize(), pairs::encode(&[("a", "1")]));
        let list = Value::List(vec!["x".into(), "y".into()]);
        assert_eq!(list.serialize(), pairs::encode(&[("x", ""), ("y", "")]));
    }

    #[test]
    fn tree_walks_maps_and_lists() {
        let mut t = PropertyTree::new();
        t.set(&["a", "b"], Value::List(vec!["zero".into(), "one".into()])).unwrap();
        assert_eq!(t.get_serialized(&["a", "b", "1"]), Ok(b"one".to_vec()));
        assert_eq!(t.get_serialized(&["a", "b", "2"]), Err(Status::NotFound));
        assert_eq!(t.get_serialized(&["a", "x"]), Err(Status::NotFound));
        assert_eq!(t.get_serialized::<&str>(&[]), Err(Status::NotFound));
        assert_eq!(t.set::<&str>(&[], Value::Bool(true)), Err(Status::BadArgument));
        t.set(&["a", "b", "c"], Value::Int(1)).unwrap();
        assert_eq!(t.get(&["a", "b", "c"]), Some(&Value::Int(1)));
        assert_eq!(t.remove(&["a", "b"]), Some(Value::map([("c", Value::Int(1))])));
    }

    #[test]
    fn the_tree_counts_its_bytes() {
        let mut t = PropertyTree::new();
        t.set(&["ab", "c"], Value::Bytes(vec![0; 10])).unwrap();
        assert_eq!(t.bytes(), 2 + 1 + 10);
        assert_eq!(t.bytes_after_set(&["ab", "c"], 4), 2 + 1 + 4);
        t.set(&["ab", "c"], Value::Bytes(vec![0; 4])).unwrap();
        assert_eq!(t.bytes(), 7);
        t.set(&["ab", "c", "d"], Value::Bytes(vec![1])).unwrap();
        assert_eq!(t.bytes(), 2 + 1 + 1 + 1, "the leaf on the way became a map");
        t.remove(&["ab"]).unwrap();
        assert_eq!(t.bytes(), 0);
    }

    #[test]
    fn paths_split_on_nul() {
        assert_eq!(split_path(b"node\0metadata\0NAME"), vec!["node", "metadata", "NAME"]);
        assert!(split_path(b"").is_empty());
    }

    #[test]
    fn defaults_have_istio_node_metadata() {
        let t = envoy_defaults();
        assert_eq!(t.get_serialized(&["node", "metadata", "LABELS", "app"]), Ok(b"productpage".to_vec()));
        assert_eq!(t.get_serialized(&["source", "port"]), Ok(51234i64.to_le_bytes().to_vec()));
        let mut other = PropertyTree::new();
        other.set(&["node", "metadata", "NAMESPACE"], "prod".into()).unwrap();
        let mut merged = t.clone();
        merged.merge(&other);
        assert_eq!(merged.get(&["node", "metadata", "NAMESPACE"]), Some(&Value::from("prod")));
        assert_eq!(merged.get(&["node", "metadata", "WORKLOAD_NAME"]), Some(&Value::from("productpage-v1")));
        let upper = other.get(&["node", "metadata"]).unwrap();
        let layered = merge_values(t.get(&["node", "metadata"]).unwrap(), upper);
        let Value::Map(m) = &layered else { panic!("a map") };
        assert_eq!(m.get("NAMESPACE"), Some(&Value::from("prod")));
        assert_eq!(m.get("WORKLOAD_NAME"), Some(&Value::from("productpage-v1")));
        assert_eq!(merge_values(&Value::Int(1), upper), upper.clone());
        assert!(t.get(&["upstream", "uri_san_peer_certificate"]).is_some());
    }
}
