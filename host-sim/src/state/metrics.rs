//! Metrics with Envoy's semantics: ids carry the type in their low two bits,
//! counters only grow, gauges go both ways, histograms record samples.
//! Metrics are the host's (Envoy's stats are process-wide), but what they
//! hold is charged to the VM that made the host hold it: a metric to the VM
//! that defined it first, a histogram sample to the VM that recorded it
//! ([`Held`]), so one plugin's limits cannot be used up by another's.

use std::collections::HashMap;

use crate::types::{MetricType, Status};

/// The current value of a metric, for inspection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MetricValue {
    /// A counter's total.
    Counter(u64),
    /// A gauge's value.
    Gauge(i64),
    /// Every value recorded into a histogram, in order.
    Histogram(Vec<u64>),
}

#[derive(Debug)]
struct Metric {
    name: String,
    value: MetricValue,
}

/// What the metrics hold on one VM's behalf.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Held {
    /// Metrics the VM defined first.
    pub metrics: usize,
    /// Histogram samples the VM recorded, in every histogram.
    pub samples: usize,
}

/// All metrics of a host (Envoy's stats are process-wide).
#[derive(Debug, Default)]
pub struct Metrics {
    metrics: Vec<Metric>,
    by_name: HashMap<(MetricType, String), u32>,
    /// What is held per VM index.
    held: HashMap<usize, Held>,
}

fn metric_type(id: u32) -> Option<MetricType> {
    MetricType::from_u32(id & 3)
}

/// Envoy increments and reads back only counters and gauges: an id with
/// other type bits is a bad argument before any lookup.
fn counter_or_gauge(id: u32) -> Result<(), Status> {
    match metric_type(id) {
        Some(MetricType::Counter | MetricType::Gauge) => Ok(()),
        _ => Err(Status::BadArgument),
    }
}

impl Metrics {
    /// Defines a metric for VM `vm`, returning the existing id for a known
    /// name and type; a new one is charged to `vm`.
    pub fn define(&mut self, kind: MetricType, name: &str, vm: usize) -> u32 {
        if let Some(&id) = self.by_name.get(&(kind, name.to_owned())) {
            return id;
        }
        let id = ((self.metrics.len() as u32 + 1) << 2) | kind as u32;
        let value = match kind {
            MetricType::Counter => MetricValue::Counter(0),
            MetricType::Gauge => MetricValue::Gauge(0),
            MetricType::Histogram => MetricValue::Histogram(Vec::new()),
        };
        self.metrics.push(Metric { name: name.to_owned(), value });
        self.by_name.insert((kind, name.to_owned()), id);
        self.held.entry(vm).or_default().metrics += 1;
        id
    }

    /// Whether a metric of this type and name is defined.
    pub fn contains(&self, kind: MetricType, name: &str) -> bool {
        self.by_name.contains_key(&(kind, name.to_owned()))
    }

    /// How many metrics are defined.
    pub fn len(&self) -> usize {
        self.metrics.len()
    }

    /// Whether no metric is defined.
    pub fn is_empty(&self) -> bool {
        self.metrics.is_empty()
    }

    /// Whether `id` names a histogram (a record into it keeps a sample).
    pub fn is_histogram(&mut self, id: u32) -> bool {
        matches!(self.find(id), Some(MetricValue::Histogram(_)))
    }

    /// What the metrics hold on VM `vm`'s behalf.
    pub fn held(&self, vm: usize) -> Held {
        self.held.get(&vm).copied().unwrap_or_default()
    }

    /// The metric `id` names, if it has the type its low two bits say. Envoy
    /// keeps one table per type and looks an id up in the table of its type
    /// bits, so a counter's id with gauge bits finds nothing.
    fn find(&mut self, id: u32) -> Option<&mut MetricValue> {
        let kind = metric_type(id)?;
        let metric = ((id >> 2) as usize).checked_sub(1).and_then(|i| self.metrics.get_mut(i))?;
        let stored = match metric.value {
            MetricValue::Counter(_) => MetricType::Counter,
            MetricValue::Gauge(_) => MetricType::Gauge,
            MetricValue::Histogram(_) => MetricType::Histogram,
        };
        (stored == kind).then_some(&mut metric.value)
    }

    /// `proxy_increment_metric`: counters need a positive delta.
    pub fn increment(&mut self, id: u32, delta: i64) -> Result<(), Status> {
        counter_or_gauge(id)?;
        match self.find(id).ok_or(Status::NotFound)? {
            MetricValue::Counter(v) if delta > 0 => *v = v.wrapping_add(delta as u64),
            MetricValue::Gauge(v) => *v = v.wrapping_add(delta),
            // A counter only grows.
            _ => return Err(Status::BadArgument),
        }
        Ok(())
    }

    /// `proxy_record_metric` from VM `vm`: adds to a counter, sets a gauge,
    /// records into a histogram (a sample charged to `vm`).
    pub fn record(&mut self, id: u32, value: u64, vm: usize) -> Result<(), Status> {
        match self.find(id).ok_or(Status::NotFound)? {
            MetricValue::Counter(v) => *v = v.wrapping_add(value),
            MetricValue::Gauge(v) => *v = value as i64,
            MetricValue::Histogram(samples) => {
                samples.push(value);
                self.held.entry(vm).or_default().samples += 1;
            }
        }
        Ok(())
    }

    /// `proxy_get_metric`: histograms cannot be read back.
    pub fn get(&mut self, id: u32) -> Result<u64, Status> {
        counter_or_gauge(id)?;
        match self.find(id).ok_or(Status::NotFound)? {
            MetricValue::Counter(v) => Ok(*v),
            MetricValue::Gauge(v) => Ok(*v as u64),
            MetricValue::Histogram(_) => Err(Status::BadArgument),
        }
    }

    /// A metric by name (any type).
    pub fn by_name(&self, name: &str) -> Option<&MetricValue> {
        self.metrics.iter().find(|m| m.name == name).map(|m| &m.value)
    }

    /// Every metric, in definition order.
    pub fn all(&self) -> impl Iterator<Item = (&str, &MetricValue)> {
        self.metrics.iter().map(|m| (m.name.as_str(), &m.value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envoy_semantics() {
        let mut m = Metrics::default();
        let c = m.define(MetricType::Counter, "requests", 0);
        let g = m.define(MetricType::Gauge, "active", 0);
        let h = m.define(MetricType::Histogram, "latency", 0);
        assert_eq!(m.define(MetricType::Counter, "requests", 0), c);
        assert_eq!((c & 3, g & 3, h & 3), (0, 1, 2));
        m.increment(c, 2).unwrap();
        assert_eq!(m.increment(c, -1), Err(Status::BadArgument));
        assert_eq!(m.increment(c, 0), Err(Status::BadArgument));
        m.record(c, 3, 0).unwrap();
        assert_eq!(m.get(c), Ok(5));
        m.increment(g, 5).unwrap();
        m.increment(g, -7).unwrap();
        assert_eq!(m.by_name("active"), Some(&MetricValue::Gauge(-2)));
        m.record(g, 9, 0).unwrap();
        assert_eq!(m.get(g), Ok(9));
        m.record(h, 10, 0).unwrap();
        m.record(h, 20, 0).unwrap();
        assert_eq!(m.get(h), Err(Status::BadArgument));
        assert_eq!(m.by_name("latency"), Some(&MetricValue::Histogram(vec![10, 20])));
        assert_eq!(m.get(1000), Err(Status::NotFound));
        assert_eq!(m.record(3, 1, 0), Err(Status::NotFound));
    }

    #[test]
    fn an_id_with_another_types_bits_finds_nothing() {
        let mut m = Metrics::default();
        let c = m.define(MetricType::Counter, "requests", 0);
        let as_gauge = (c & !3) | MetricType::Gauge as u32;
        let as_histogram = (c & !3) | MetricType::Histogram as u32;
        assert_eq!(m.get(as_gauge), Err(Status::NotFound));
        assert_eq!(m.increment(as_gauge, 1), Err(Status::NotFound));
        assert_eq!(m.record(as_gauge, 1, 0), Err(Status::NotFound));
        assert_eq!(m.record(as_histogram, 1, 0), Err(Status::NotFound));
        assert_eq!(m.record(c | 3, 1, 0), Err(Status::NotFound));
        assert_eq!(m.by_name("requests"), Some(&MetricValue::Counter(0)), "nothing reached the counter");
        // Envoy checks the type bits before looking: histograms (and the
        // unused type 3) cannot be incremented or read, whatever the id.
        assert_eq!(m.increment(as_histogram, 1), Err(Status::BadArgument));
        assert_eq!(m.get(as_histogram), Err(Status::BadArgument));
        assert_eq!(m.increment(c | 3, 1), Err(Status::BadArgument));
        assert_eq!(m.get(c | 3), Err(Status::BadArgument));
        assert_eq!(m.increment(0x1000, 1), Err(Status::NotFound));
    }

    #[test]
    fn metrics_and_samples_are_charged_to_the_vm_that_made_them() {
        let mut m = Metrics::default();
        let c = m.define(MetricType::Counter, "c", 0);
        let h = m.define(MetricType::Histogram, "h", 0);
        assert_eq!(m.define(MetricType::Counter, "c", 1), c, "one stat, already defined by VM 0");
        m.define(MetricType::Gauge, "g", 1);
        m.record(h, 1, 0).unwrap();
        m.record(h, 2, 1).unwrap();
        m.record(h, 3, 1).unwrap();
        m.record(c, 3, 1).unwrap();
        assert_eq!(m.held(0), Held { metrics: 2, samples: 1 });
        assert_eq!(m.held(1), Held { metrics: 1, samples: 2 });
        assert_eq!(m.held(2), Held::default());
        assert!(m.is_histogram(h) && !m.is_histogram(c) && !m.is_histogram(1000));
    }
}
