//! The metric families and the cache of their ids per label set.
//!
//! Defining a metric is a host call that hashes and looks up the whole stat
//! name, so, as Istio does, each distinct label tuple defines its four
//! metrics once and later requests with the same labels reuse the ids.

use crate::sorted::SortedMap;
use alloc::vec::Vec;

use sluice::MetricType;

/// One metric family per request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// `<prefix>_requests_total`: counter, +1 per request.
    RequestsTotal,
    /// `<prefix>_request_duration_milliseconds`: histogram of the request's duration.
    RequestDuration,
    /// `<prefix>_request_bytes`: histogram of request body sizes.
    RequestBytes,
    /// `<prefix>_response_bytes`: histogram of response body sizes.
    ResponseBytes,
}

impl Family {
    /// Every family, in the order their ids are stored.
    pub const ALL: [Family; 4] =
        [Family::RequestsTotal, Family::RequestDuration, Family::RequestBytes, Family::ResponseBytes];

    /// The name after the prefix.
    pub fn suffix(self) -> &'static str {
        match self {
            Family::RequestsTotal => "requests_total",
            Family::RequestDuration => "request_duration_milliseconds",
            Family::RequestBytes => "request_bytes",
            Family::ResponseBytes => "response_bytes",
        }
    }

    /// The metric type.
    pub fn metric_type(self) -> MetricType {
        match self {
            Family::RequestsTotal => MetricType::Counter,
            _ => MetricType::Histogram,
        }
    }
}

/// Most label tuples whose ids are kept. Label values come from peers and
/// requests, so their number is not bounded by this plugin; beyond this
/// many, metrics are still recorded but defined on every request.
pub const MAX_CACHED_LABEL_SETS: usize = 4096;

/// The ids of one label tuple's metrics, in [`Family::ALL`] order.
pub type Ids = [u32; 4];

/// Metric ids by label values.
#[derive(Debug, Default)]
pub struct MetricCache {
    ids: SortedMap<Vec<u8>, Ids>,
}

impl MetricCache {
    /// An empty cache.
    pub fn new() -> MetricCache {
        MetricCache::default()
    }

    /// How many label tuples are cached.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The ids for a label tuple, identified by `key` (its encoded values),
    /// calling `define` for each family on a miss. A failed definition is
    /// returned and nothing is cached, so the next request tries again.
    pub fn resolve<E>(&mut self, key: &[u8], mut define: impl FnMut(Family) -> Result<u32, E>) -> Result<Ids, E> {
        if let Some(ids) = self.ids.get(key) {
            return Ok(*ids);
        }
        let mut ids = [0; 4];
        for (slot, family) in ids.iter_mut().zip(Family::ALL) {
            *slot = define(family)?;
        }
        if self.ids.len() < MAX_CACHED_LABEL_SETS {
            self.ids.insert(key.to_vec(), ids);
        }
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_label_tuple_is_defined_once() {
        let mut cache = MetricCache::new();
        let mut defined = Vec::new();
        let mut next = 0;
        let mut define = |family| -> Result<u32, ()> {
            defined.push(family);
            next += 1;
            Ok(next)
        };
        let a = cache.resolve(b"200", &mut define).unwrap();
        let b = cache.resolve(b"200", &mut define).unwrap();
        let c = cache.resolve(b"503", &mut define).unwrap();
        assert_eq!(a, [1, 2, 3, 4]);
        assert_eq!(a, b);
        assert_eq!(c, [5, 6, 7, 8]);
        assert_eq!(defined.len(), 8);
        assert_eq!(&defined[..4], Family::ALL);
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn failures_are_not_cached() {
        let mut cache = MetricCache::new();
        assert_eq!(cache.resolve(b"x", |f| if f == Family::RequestBytes { Err("no") } else { Ok(1) }), Err("no"));
        assert!(cache.is_empty());
        assert_eq!(cache.resolve(b"x", |_| Ok::<_, ()>(9)), Ok([9; 4]));
    }

    #[test]
    fn families() {
        assert_eq!(Family::RequestsTotal.metric_type(), MetricType::Counter);
        assert_eq!(Family::ResponseBytes.metric_type(), MetricType::Histogram);
        assert_eq!(Family::RequestDuration.suffix(), "request_duration_milliseconds");
    }
}
