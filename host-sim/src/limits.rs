//! Bounds on what a guest can make the host spend on its behalf: host
//! memory it makes the host hold (log lines, properties, filter state
//! records, pending callouts, shared data, queues, metrics, deferred
//! actions), the work of one host call, and the
//! host-to-guest deliveries one step of the driver may cause.
//!
//! Each bound is per plugin ([`PluginSpec::limits`](crate::PluginSpec::limits));
//! limits belong to the VM, so plugins with different limits never share
//! one. Every bound on held memory is a total: per VM, or per `vm_id` for
//! shared data and queues, which the VMs of one `vm_id` share (as in Envoy);
//! none multiplies with a count another bound allows (queues, histograms),
//! and none counts what the host holds for another VM (or, for shared data
//! and queues, another `vm_id`), so one plugin cannot use up another's.
//! With the defaults one VM makes the host hold at most about 64 MiB of log
//! lines, 1 MiB of properties per open stream and 1 MiB of filter state
//! records, 64 MiB of pending callouts, 40 MiB of metric names, 10 000 000
//! histogram samples (80 MB) and 100 000 deferred actions waiting for one
//! guest call to end, and its `vm_id` 64 MiB of shared data and 64 MiB of
//! queues.
//! A host call that would exceed a bound fails the VM, as the memory cap
//! does: the guest traps with a [`LimitExceeded`] that names the limit and
//! its value, and the plugin's fail policy applies
//! ([`crate::failure`]). The host and every other plugin go on.
//!
//! Real hosts leave most of these unbounded (Envoy has no cap on a log line,
//! a shared-data value or a queue); the defaults are far above what a plugin
//! does in a test, and low enough that a runaway or hostile guest fails with
//! a clear message instead of taking the test process down.
//!
//! Layer: plain data. Imports nothing else of host-sim; `Host::usage` is in
//! `host::usage`.

use std::fmt;
use std::io::Read;
use std::path::Path;

/// The bounds of one plugin's VM. Every field has a documented default
/// ([`Limits::default`]); change some with struct update syntax:
///
/// ```
/// use host_sim::{Limits, PluginSpec};
///
/// let spec = PluginSpec::from_bytes(Vec::new())
///     .limits(Limits { log_line_bytes: 4096, ..Limits::default() });
/// # let _ = spec;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Bytes of one log line: a `proxy_log` message, or what one `fd_write`
    /// writes to stdout/stderr (default 1 MiB).
    pub log_line_bytes: usize,
    /// Bytes of log lines kept per VM (default 64 MiB): past it the oldest
    /// lines are dropped, as past [`HostOptions::log_capacity`](crate::HostOptions::log_capacity)
    /// lines. Not a failure.
    pub log_bytes: usize,
    /// Bytes one host call reads from guest memory where the guest chooses
    /// how often a range is read: `fd_write`'s iovec table plus every iovec,
    /// overlapping ones counted each time (default 64 MiB). Checked before
    /// anything is copied.
    pub host_call_bytes: usize,
    /// Segments of a property path a plugin sets or reads
    /// (`proxy_set_property`, `proxy_get_property`; default 32). At most
    /// [`MAX_DEPTH`](crate::state::properties::MAX_DEPTH) (256) whatever it
    /// is set to: tree operations recurse once per level, and a deeper tree
    /// could overflow the host's stack.
    pub property_depth: usize,
    /// Bytes of the properties a plugin sets on one stream (paths and
    /// values, `set_envoy_filter_state`'s `filter_state.<key>` included),
    /// and of the filter state records the host keeps for the test after
    /// the streams end ([`Host::filter_state`](crate::Host::filter_state),
    /// [`Host::declared_properties`](crate::Host::declared_properties)) that
    /// the VM made, in total: the key and last value of each key it was the
    /// last to set (`set_envoy_filter_state`), the name and schema of each
    /// declaration kept (`declare_property`: each root context's, and the
    /// first of each name among the VM's stream contexts). Setting a key
    /// again replaces its record, a context declaring a name again is
    /// refused and another stream declaring it keeps nothing, so only
    /// distinct keys and names (per root context) add up: what a VM leaves
    /// behind is at most what one stream may hold (default 1 MiB). Checked
    /// on the lengths in guest memory, before anything is copied.
    pub property_bytes: usize,
    /// Callouts (HTTP calls, gRPC calls and streams) pending per VM
    /// (default 1000).
    pub pending_callouts: usize,
    /// Bytes the host holds for a VM's pending callouts: the request
    /// headers, body and trailers of HTTP calls, the metadata and messages
    /// of gRPC calls and streams (default 64 MiB). Checked before copying.
    pub callout_bytes: usize,
    /// Bytes of shared data (keys and values) in the plugin's `vm_id`, in
    /// total (default 64 MiB).
    pub shared_data_bytes: usize,
    /// Shared queues registered in the plugin's `vm_id` (default 1000).
    pub queues: usize,
    /// Items waiting in all the shared queues of the `vm_id` the queue
    /// enqueued to belongs to (default 10 000).
    pub queue_items: usize,
    /// Bytes of all the shared queues of a `vm_id`: their names and the
    /// items waiting (default 64 MiB). Checked when the plugin registers a
    /// queue in its `vm_id` and when it enqueues to a queue of any `vm_id`.
    pub queue_bytes: usize,
    /// Metrics the VM defined (default 10 000): a metric counts for the VM
    /// that defined it first; defining one that exists (another VM's, or
    /// another worker's of the same plugin) adds nothing, as it is one
    /// stat in Envoy.
    pub metrics: usize,
    /// Bytes of a metric name (default 4 KiB).
    pub metric_name_bytes: usize,
    /// Histogram samples the VM recorded, in all histograms together
    /// (default 10 000 000, 80 MB of samples); histograms keep every sample.
    pub histogram_samples: usize,
    /// Host-to-guest deliveries one loop of the driver may make to the VM
    /// (default 100 000): queue notifications after one guest call (and
    /// those one guest call may leave waiting, so an enqueue–dequeue loop
    /// inside one call is bounded too; those other calls left waiting, as
    /// another VM's `on_queue_ready` in the same round, do not count for
    /// it), deferred actions after one guest
    /// call (and those one guest call may leave waiting: a
    /// `proxy_continue_stream`, `proxy_close_stream` or
    /// `proxy_send_local_response` past it fails the VM in the call, as
    /// Envoy would post every one), ticks and callout timeouts of one
    /// [`Host::advance`](crate::Host::advance).
    pub deliveries_per_step: usize,
}

/// 1 MiB.
/// The deepest property path the host keeps, whatever the limit says
/// (`state::properties::MAX_DEPTH`, defined here so that the limits need
/// nothing from the state modules).
pub(crate) const MAX_PROPERTY_DEPTH: usize = 256;

const MIB: usize = 1 << 20;

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            log_line_bytes: MIB,
            log_bytes: 64 * MIB,
            host_call_bytes: 64 * MIB,
            property_depth: 32,
            property_bytes: MIB,
            pending_callouts: 1000,
            callout_bytes: 64 * MIB,
            shared_data_bytes: 64 * MIB,
            queues: 1000,
            queue_items: 10_000,
            queue_bytes: 64 * MIB,
            metrics: 10_000,
            metric_name_bytes: 4096,
            histogram_samples: 10_000_000,
            deliveries_per_step: 100_000,
        }
    }
}

/// Which bound a [`LimitExceeded`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Limit {
    /// [`Limits::log_line_bytes`].
    LogLineBytes,
    /// [`Limits::host_call_bytes`].
    HostCallBytes,
    /// [`Limits::property_depth`].
    PropertyDepth,
    /// [`Limits::property_bytes`].
    PropertyBytes,
    /// [`Limits::pending_callouts`].
    PendingCallouts,
    /// [`Limits::callout_bytes`].
    CalloutBytes,
    /// [`Limits::shared_data_bytes`].
    SharedDataBytes,
    /// [`Limits::queues`].
    Queues,
    /// [`Limits::queue_items`].
    QueueItems,
    /// [`Limits::queue_bytes`].
    QueueBytes,
    /// [`Limits::metrics`].
    Metrics,
    /// [`Limits::metric_name_bytes`].
    MetricNameBytes,
    /// [`Limits::histogram_samples`].
    HistogramSamples,
    /// [`Limits::deliveries_per_step`].
    DeliveriesPerStep,
}

impl Limit {
    /// The field of [`Limits`] that sets it.
    pub fn name(self) -> &'static str {
        match self {
            Limit::LogLineBytes => "log_line_bytes",
            Limit::HostCallBytes => "host_call_bytes",
            Limit::PropertyDepth => "property_depth",
            Limit::PropertyBytes => "property_bytes",
            Limit::PendingCallouts => "pending_callouts",
            Limit::CalloutBytes => "callout_bytes",
            Limit::SharedDataBytes => "shared_data_bytes",
            Limit::Queues => "queues",
            Limit::QueueItems => "queue_items",
            Limit::QueueBytes => "queue_bytes",
            Limit::Metrics => "metrics",
            Limit::MetricNameBytes => "metric_name_bytes",
            Limit::HistogramSamples => "histogram_samples",
            Limit::DeliveriesPerStep => "deliveries_per_step",
        }
    }

    /// What the limit counts.
    fn unit(self) -> &'static str {
        match self {
            Limit::PropertyDepth => "segments",
            Limit::PendingCallouts => "callouts",
            Limit::Queues => "queues",
            Limit::QueueItems => "items",
            Limit::Metrics => "metrics",
            Limit::HistogramSamples => "samples",
            Limit::DeliveriesPerStep => "deliveries",
            _ => "bytes",
        }
    }

    /// Its value in `limits`.
    pub fn value(self, limits: &Limits) -> usize {
        match self {
            Limit::LogLineBytes => limits.log_line_bytes,
            Limit::HostCallBytes => limits.host_call_bytes,
            Limit::PropertyDepth => limits.property_depth.min(MAX_PROPERTY_DEPTH),
            Limit::PropertyBytes => limits.property_bytes,
            Limit::PendingCallouts => limits.pending_callouts,
            Limit::CalloutBytes => limits.callout_bytes,
            Limit::SharedDataBytes => limits.shared_data_bytes,
            Limit::Queues => limits.queues,
            Limit::QueueItems => limits.queue_items,
            Limit::QueueBytes => limits.queue_bytes,
            Limit::Metrics => limits.metrics,
            Limit::MetricNameBytes => limits.metric_name_bytes,
            Limit::HistogramSamples => limits.histogram_samples,
            Limit::DeliveriesPerStep => limits.deliveries_per_step,
        }
    }
}

/// A bound a guest exceeded: the error its VM fails with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LimitExceeded {
    /// The bound.
    pub limit: Limit,
    /// Its value.
    pub value: usize,
    /// What needed more: the host function or delivery, and how much.
    pub what: String,
}

impl Limits {
    /// `Ok` if `amount` fits `limit`, else the error naming it.
    pub(crate) fn check(
        &self,
        limit: Limit,
        amount: usize,
        what: impl FnOnce() -> String,
    ) -> Result<(), LimitExceeded> {
        let value = limit.value(self);
        if amount <= value { Ok(()) } else { Err(LimitExceeded { limit, value, what: what() }) }
    }
}

impl fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "exceeded the limit `{}` of {} {} ({}; raise it with PluginSpec::limits, or a scenario plugin's `limits`)",
            self.limit.name(),
            self.value,
            self.limit.unit(),
            self.what
        )
    }
}

impl std::error::Error for LimitExceeded {}

/// What the host holds for one plugin's VM now, counted as the limits
/// count it ([`Host::usage`](crate::Host::usage)): exact sizes, for tests
/// that check nothing grows. A scenario step's `expect.usage` names its
/// fields (each left out is not checked), and `--json` reports it per step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Usage {
    /// Log lines kept.
    pub log_lines: usize,
    /// Their bytes.
    pub log_bytes: usize,
    /// Live contexts (roots and streams).
    pub contexts: usize,
    /// HTTP streams whose state the VM keeps (until their outcome is taken).
    pub http_streams: usize,
    /// TCP connections whose state the VM keeps.
    pub tcp_streams: usize,
    /// Bytes of the properties the plugin set on its streams.
    pub property_bytes: usize,
    /// Bytes of the filter state records and property declarations kept
    /// for the VM (counted against `property_bytes`).
    pub filter_state_bytes: usize,
    /// Pending callouts.
    pub pending_callouts: usize,
    /// Bytes held for them.
    pub callout_bytes: usize,
    /// Bytes of shared data in the VM's `vm_id`.
    pub shared_data_bytes: usize,
    /// Queues registered in the `vm_id`.
    pub queues: usize,
    /// Items waiting in them.
    pub queue_items: usize,
    /// Their bytes: the queues' names and the items waiting.
    pub queue_bytes: usize,
    /// Metrics the VM defined first.
    pub metrics: usize,
    /// Histogram samples the VM recorded.
    pub histogram_samples: usize,
}

/// The largest plugin module host-sim reads (256 MiB).
pub const MAX_FILE_BYTES: u64 = 256 << 20;

/// The largest scenario file host-sim reads (16 MiB).
pub const MAX_SCENARIO_BYTES: u64 = 16 << 20;

/// [`read_regular_file`] of UTF-8 text.
pub fn read_regular_text(path: &Path, max: u64) -> std::io::Result<String> {
    String::from_utf8(read_regular_file(path, max)?)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "stream did not contain valid UTF-8"))
}

/// Reads a plugin module or a scenario file: only a regular file (a FIFO,
/// a device such as `/dev/zero`, a directory or a socket is refused before
/// it is opened for reading, so nothing blocks), and at most `max` bytes.
pub fn read_regular_file(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    use std::io::{Error, ErrorKind};
    let metadata = std::fs::metadata(path)?;
    if !metadata.is_file() {
        let kind = metadata.file_type();
        let what = if kind.is_dir() { "a directory" } else { "not a regular file (a FIFO, device or socket)" };
        return Err(Error::new(ErrorKind::InvalidInput, format!("{what}: only regular files are read")));
    }
    if metadata.len() > max {
        return Err(Error::new(
            ErrorKind::InvalidData,
            format!("{} bytes is larger than the limit of {max} bytes", metadata.len()),
        ));
    }
    let file = std::fs::File::open(path)?;
    // The file may have changed since: read at most one byte past the limit.
    let mut bytes = Vec::with_capacity(metadata.len() as usize);
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(Error::new(ErrorKind::InvalidData, format!("it grew past the limit of {max} bytes while read")));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exceeded_limit_names_itself_and_its_value() {
        let limits = Limits { log_line_bytes: 10, ..Limits::default() };
        assert!(limits.check(Limit::LogLineBytes, 10, String::new).is_ok());
        let err = limits.check(Limit::LogLineBytes, 11, || "proxy_log of 11 bytes".into()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "exceeded the limit `log_line_bytes` of 10 bytes (proxy_log of 11 bytes; raise it with PluginSpec::limits, or a scenario plugin's `limits`)"
        );
    }

    #[test]
    fn only_regular_files_are_read_and_only_up_to_the_cap() {
        let dir = std::env::temp_dir().join(format!("host-sim-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("f");
        std::fs::write(&file, b"12345").unwrap();
        assert_eq!(read_regular_file(&file, 5).unwrap(), b"12345");
        let err = read_regular_file(&file, 4).unwrap_err();
        assert!(err.to_string().contains("larger than the limit of 4 bytes"), "{err}");
        let err = read_regular_file(&dir, 100).unwrap_err();
        assert!(err.to_string().contains("a directory"), "{err}");
        if Path::new("/dev/zero").exists() {
            let err = read_regular_file(Path::new("/dev/zero"), 100).unwrap_err();
            assert!(err.to_string().contains("not a regular file"), "{err}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
