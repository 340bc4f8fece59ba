//! Counters, gauges and histograms.

use crate::error::Result;
use crate::ffi;
use crate::types::MetricType;

/// A metric, by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Metric(u32);

impl Metric {
    /// Defines (or finds) a metric.
    pub fn define(metric_type: MetricType, name: impl AsRef<[u8]>) -> Result<Metric> {
        ffi::define_metric(metric_type.into(), name.as_ref()).map(Metric)
    }

    /// A counter.
    pub fn counter(name: impl AsRef<[u8]>) -> Result<Metric> {
        Metric::define(MetricType::Counter, name)
    }

    /// A gauge.
    pub fn gauge(name: impl AsRef<[u8]>) -> Result<Metric> {
        Metric::define(MetricType::Gauge, name)
    }

    /// A histogram.
    pub fn histogram(name: impl AsRef<[u8]>) -> Result<Metric> {
        Metric::define(MetricType::Histogram, name)
    }

    /// The metric with this id.
    pub const fn from_id(id: u32) -> Metric {
        Metric(id)
    }

    /// The id.
    pub const fn id(self) -> u32 {
        self.0
    }

    /// Records a value (sets a gauge, adds to a counter, records in a histogram).
    pub fn record(self, value: u64) -> Result<()> {
        ffi::record_metric(self.0, value)
    }

    /// Adds `delta` (Envoy refuses a non-positive delta on a counter).
    pub fn increment(self, delta: i64) -> Result<()> {
        ffi::increment_metric(self.0, delta)
    }

    /// The current value (Envoy refuses it for histograms).
    pub fn get(self) -> Result<u64> {
        ffi::get_metric(self.0)
    }
}
