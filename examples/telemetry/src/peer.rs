//! Peer metadata: what one proxy tells the other about its workload, how it
//! travels in the `x-envoy-peer-metadata` header, and the bounded cache of
//! decoded peers.
//!
//! The header value is base64 of a JSON object with Istio's node metadata
//! keys (Istio itself sent a serialized protobuf `google.protobuf.Struct`):
//!
//! ```json
//! {"WORKLOAD_NAME":"reviews-v2","NAMESPACE":"default","CLUSTER_ID":"Kubernetes","LABELS":{"app":"reviews","version":"v2"}}
//! ```
//!
//! `x-envoy-peer-metadata-id` carries the sending node's id, the cache key.

use alloc::rc::Rc;
use alloc::string::String;
use core::fmt;

use sluice::json::{self, Value};

use crate::base64;
use crate::sorted::SortedMap;

/// The header carrying the peer's metadata.
pub const METADATA_HEADER: &str = "x-envoy-peer-metadata";
/// The header carrying the peer's node id.
pub const METADATA_ID_HEADER: &str = "x-envoy-peer-metadata-id";

/// Longest metadata header accepted (Istio's own blobs are well under 4 KiB).
pub const MAX_METADATA_LEN: usize = 8 * 1024;
/// Longest node id accepted.
pub const MAX_ID_LEN: usize = 512;

/// The workload facts the labels need, from node metadata or a peer's header.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerInfo {
    /// `WORKLOAD_NAME`.
    pub workload_name: String,
    /// `NAMESPACE`.
    pub namespace: String,
    /// `CLUSTER_ID`.
    pub cluster_id: String,
    /// `LABELS.app`.
    pub app: String,
    /// `LABELS.version`.
    pub version: String,
}

/// Why a peer metadata header was not usable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerError {
    /// Longer than [`MAX_METADATA_LEN`].
    TooLong(usize),
    /// Not base64.
    Base64(base64::DecodeError),
    /// Not JSON.
    Json(json::Error),
    /// JSON, but not an object.
    NotAnObject,
    /// A known key with a value that is not a string.
    NotAString(&'static str),
}

impl fmt::Display for PeerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerError::TooLong(len) => write!(f, "{len} bytes, more than the {MAX_METADATA_LEN} accepted"),
            PeerError::Base64(e) => fmt::Display::fmt(e, f),
            PeerError::Json(e) => write!(f, "not JSON: {e}"),
            PeerError::NotAnObject => f.write_str("not a JSON object"),
            PeerError::NotAString(key) => write!(f, "{key} is not a string"),
        }
    }
}

impl PeerInfo {
    /// Whether nothing is known.
    pub fn is_empty(&self) -> bool {
        *self == PeerInfo::default()
    }

    /// The JSON object sent to peers (empty fields left out).
    pub fn to_json(&self) -> String {
        let mut out = String::from("{");
        let mut first = true;
        let mut member = |out: &mut String, key: &str, value: &str| {
            if !value.is_empty() {
                if !core::mem::take(&mut first) {
                    out.push(',');
                }
                push_json_string(out, key);
                out.push(':');
                push_json_string(out, value);
            }
        };
        member(&mut out, "WORKLOAD_NAME", &self.workload_name);
        member(&mut out, "NAMESPACE", &self.namespace);
        member(&mut out, "CLUSTER_ID", &self.cluster_id);
        if !self.app.is_empty() || !self.version.is_empty() {
            if !first {
                out.push(',');
            }
            out.push_str("\"LABELS\":{");
            let mut labels_first = true;
            for (key, value) in [("app", &self.app), ("version", &self.version)] {
                if !value.is_empty() {
                    if !core::mem::take(&mut labels_first) {
                        out.push(',');
                    }
                    push_json_string(&mut out, key);
                    out.push(':');
                    push_json_string(&mut out, value);
                }
            }
            out.push('}');
        }
        out.push('}');
        out
    }

    /// The `x-envoy-peer-metadata` header value: base64 of [`to_json`](Self::to_json).
    pub fn to_header(&self) -> String {
        base64::encode(self.to_json().as_bytes())
    }

    /// Decodes an `x-envoy-peer-metadata` header value. Unknown keys are
    /// ignored (Istio sends many more); known keys must hold strings.
    pub fn from_header(header: &[u8]) -> Result<PeerInfo, PeerError> {
        if header.len() > MAX_METADATA_LEN {
            return Err(PeerError::TooLong(header.len()));
        }
        let bytes = base64::decode(header).map_err(PeerError::Base64)?;
        let value = json::parse(&bytes).map_err(PeerError::Json)?;
        let object = value.as_object().ok_or(PeerError::NotAnObject)?;
        let text = |value: Option<&Value>, key: &'static str| -> Result<String, PeerError> {
            match value {
                None | Some(Value::Null) => Ok(String::new()),
                Some(Value::String(s)) => Ok(s.clone()),
                Some(_) => Err(PeerError::NotAString(key)),
            }
        };
        let labels = match object.get("LABELS") {
            None | Some(Value::Null) => None,
            Some(Value::Object(labels)) => Some(labels),
            Some(_) => return Err(PeerError::NotAnObject),
        };
        Ok(PeerInfo {
            workload_name: text(object.get("WORKLOAD_NAME"), "WORKLOAD_NAME")?,
            namespace: text(object.get("NAMESPACE"), "NAMESPACE")?,
            cluster_id: text(object.get("CLUSTER_ID"), "CLUSTER_ID")?,
            app: text(labels.and_then(|l| l.get("app")), "LABELS.app")?,
            version: text(labels.and_then(|l| l.get("version")), "LABELS.version")?,
        })
    }
}

fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let b = u32::from(c) as usize;
                out.push_str("\\u00");
                out.push(char::from(HEX[b >> 4]));
                out.push(char::from(HEX[b & 0xf]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Decoded peers by node id, at most `capacity` of them; when full, the
/// least recently used one makes room.
#[derive(Debug)]
pub struct PeerCache {
    capacity: usize,
    /// id → (last use, peer)
    entries: SortedMap<String, (u64, Rc<PeerInfo>)>,
    /// last use → id
    by_use: SortedMap<u64, String>,
    clock: u64,
}

impl PeerCache {
    /// A cache of at most `capacity` peers (0 keeps none).
    pub fn new(capacity: usize) -> PeerCache {
        PeerCache { capacity, entries: SortedMap::new(), by_use: SortedMap::new(), clock: 0 }
    }

    /// How many peers are cached.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no peer is cached.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    /// The peer with this id, marking it used.
    pub fn get(&mut self, id: &str) -> Option<Rc<PeerInfo>> {
        let now = self.tick();
        let (used, peer) = self.entries.get_mut(id)?;
        self.by_use.remove(used);
        *used = now;
        self.by_use.insert(now, String::from(id));
        Some(Rc::clone(peer))
    }

    /// Adds (or replaces) a peer, evicting the least recently used one when full.
    pub fn insert(&mut self, id: String, peer: Rc<PeerInfo>) {
        if self.capacity == 0 {
            return;
        }
        if let Some((used, _)) = self.entries.remove(&id) {
            self.by_use.remove(&used);
        }
        while self.entries.len() >= self.capacity {
            let Some((_, oldest)) = self.by_use.pop_first() else { break };
            self.entries.remove(&oldest);
        }
        let now = self.tick();
        self.by_use.insert(now, id.clone());
        self.entries.insert(id, (now, peer));
    }

    /// Resolves the peer of a stream from its two headers (raw bytes as the
    /// host gave them): a cached peer by id, else the decoded metadata
    /// (cached under the id, if there is a usable one). An id that is not
    /// UTF-8 or too long is ignored. `Ok(None)`: the peer sent nothing.
    pub fn resolve(&mut self, id: Option<&[u8]>, metadata: Option<&[u8]>) -> Result<Option<Rc<PeerInfo>>, PeerError> {
        let id = id.filter(|id| !id.is_empty() && id.len() <= MAX_ID_LEN).and_then(|id| core::str::from_utf8(id).ok());
        if let Some(peer) = id.and_then(|id| self.get(id)) {
            return Ok(Some(peer));
        }
        let Some(metadata) = metadata.filter(|m| !m.is_empty()) else { return Ok(None) };
        let peer = Rc::new(PeerInfo::from_header(metadata)?);
        if let Some(id) = id {
            self.insert(String::from(id), Rc::clone(&peer));
        }
        Ok(Some(peer))
    }
}

/// Peer ids in the cache, least recently used first (for tests).
#[cfg(test)]
impl PeerCache {
    fn ids(&self) -> alloc::vec::Vec<&str> {
        self.by_use.values().map(String::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reviews() -> PeerInfo {
        PeerInfo {
            workload_name: "reviews-v2".into(),
            namespace: "default".into(),
            cluster_id: "Kubernetes".into(),
            app: "reviews".into(),
            version: "v2".into(),
        }
    }

    #[test]
    fn json_shape_matches_istio_node_metadata_keys() {
        assert_eq!(
            reviews().to_json(),
            r#"{"WORKLOAD_NAME":"reviews-v2","NAMESPACE":"default","CLUSTER_ID":"Kubernetes","LABELS":{"app":"reviews","version":"v2"}}"#
        );
        assert_eq!(PeerInfo::default().to_json(), "{}");
        let only_version = PeerInfo { version: "v1".into(), ..PeerInfo::default() };
        assert_eq!(only_version.to_json(), r#"{"LABELS":{"version":"v1"}}"#);
        let odd = PeerInfo { workload_name: "a\"b\\c\n\u{1}".into(), ..PeerInfo::default() };
        assert_eq!(odd.to_json(), r#"{"WORKLOAD_NAME":"a\"b\\c\n\u0001"}"#);
    }

    #[test]
    fn header_round_trips() {
        for peer in [reviews(), PeerInfo::default(), PeerInfo { app: "ü \"x\"".into(), ..PeerInfo::default() }] {
            assert_eq!(PeerInfo::from_header(peer.to_header().as_bytes()).unwrap(), peer);
        }
    }

    #[test]
    fn decoding_ignores_unknown_keys_and_rejects_bad_input() {
        let header =
            base64::encode(br#"{"NAME":"pod-1","WORKLOAD_NAME":"w","MESH_ID":"m","LABELS":{"app":"a","x":"y"}}"#);
        let peer = PeerInfo::from_header(header.as_bytes()).unwrap();
        assert_eq!((peer.workload_name.as_str(), peer.app.as_str()), ("w", "a"));

        assert_eq!(PeerInfo::from_header(b"\xff\xfe\x00"), Err(PeerError::Base64(base64::DecodeError::InvalidByte(0))));
        assert!(matches!(PeerInfo::from_header(base64::encode(b"not json").as_bytes()), Err(PeerError::Json(_))));
        assert!(matches!(PeerInfo::from_header(base64::encode(b"\xff{}").as_bytes()), Err(PeerError::Json(_))));
        assert_eq!(PeerInfo::from_header(base64::encode(b"[1,2]").as_bytes()), Err(PeerError::NotAnObject));
        assert_eq!(
            PeerInfo::from_header(base64::encode(br#"{"NAMESPACE":7}"#).as_bytes()),
            Err(PeerError::NotAString("NAMESPACE"))
        );
        assert_eq!(
            PeerInfo::from_header(base64::encode(br#"{"LABELS":{"app":true}}"#).as_bytes()),
            Err(PeerError::NotAString("LABELS.app"))
        );
        let huge = alloc::vec![b'A'; MAX_METADATA_LEN + 4];
        assert_eq!(PeerInfo::from_header(&huge), Err(PeerError::TooLong(MAX_METADATA_LEN + 4)));
        let deep = "[".repeat(10_000);
        assert!(matches!(
            PeerInfo::from_header(base64::encode(deep.as_bytes()).as_bytes()),
            Err(PeerError::TooLong(_))
        ));
        let deep = "[".repeat(4_000);
        assert!(matches!(PeerInfo::from_header(base64::encode(deep.as_bytes()).as_bytes()), Err(PeerError::Json(_))));
    }

    #[test]
    fn cache_is_bounded_and_evicts_the_least_recently_used() {
        let mut cache = PeerCache::new(2);
        let peer = Rc::new(reviews());
        cache.insert("a".into(), Rc::clone(&peer));
        cache.insert("b".into(), Rc::clone(&peer));
        assert!(cache.get("a").is_some()); // "b" is now the oldest
        cache.insert("c".into(), Rc::clone(&peer));
        assert_eq!(cache.len(), 2);
        assert!(cache.get("b").is_none());
        assert_eq!(cache.ids(), ["a", "c"]);
        cache.insert("a".into(), Rc::clone(&peer)); // replacing keeps the size
        assert_eq!(cache.ids(), ["c", "a"]);

        let mut none = PeerCache::new(0);
        none.insert("a".into(), peer);
        assert!(none.is_empty());
    }

    #[test]
    fn resolve_prefers_the_cache_and_caches_what_it_decodes() {
        let mut cache = PeerCache::new(10);
        let header = reviews().to_header();
        let first = cache.resolve(Some(b"node-1"), Some(header.as_bytes())).unwrap().unwrap();
        assert_eq!(*first, reviews());
        // Same id, metadata left out (or even garbage): the cached peer.
        let again = cache.resolve(Some(b"node-1"), Some(b"!!")).unwrap().unwrap();
        assert!(Rc::ptr_eq(&first, &again));
        assert_eq!(cache.resolve(Some(b"node-1"), None).unwrap(), Some(first));
        // Unknown id without metadata: nothing known.
        assert_eq!(cache.resolve(Some(b"node-2"), None).unwrap(), None);
        assert_eq!(cache.resolve(None, None).unwrap(), None);
        // An id that is not UTF-8 is not a cache key; the metadata still counts.
        let peer = cache.resolve(Some(b"\xff\xfe"), Some(header.as_bytes())).unwrap().unwrap();
        assert_eq!(*peer, reviews());
        assert_eq!(cache.len(), 1);
        // Bad metadata under a new id: an error, nothing cached.
        assert!(cache.resolve(Some(b"node-3"), Some(b"\xff")).is_err());
        assert_eq!(cache.len(), 1);
    }
}
