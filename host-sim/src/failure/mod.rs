//! What happens after a plugin's VM fails (a trap, a panic, an exceeded
//! limit, `proc_exit`): the plugin's fail policy for its streams, and the
//! opt-in rebuild of the VM with crash-loop protection.
//!
//! Without a fail policy (the default), host-sim treats a guest failure as a
//! test failure: the call that drove the guest returns
//! [`Error::Trap`](crate::Error::Trap), and the failed VM refuses new streams
//! and callbacks with [`Error::VmFailed`](crate::Error::VmFailed).
//!
//! With a fail policy ([`PluginSpec::fail_policy`](crate::PluginSpec::fail_policy)),
//! host-sim serves the plugin as Envoy does (cpp-host's `CHECK_FAIL`): the
//! driving calls succeed, and every stream event that would reach the failed
//! VM (on the stream that failed, and on every stream after it) gets the
//! policy instead of a callback; root callbacks (ticks, callout responses,
//! queue notifications) and the teardown callbacks are skipped. What the
//! client saw is in the stream's outcome, the failure in
//! [`Host::failure`](crate::Host::failure) and the logs. A strict-mode
//! violation is the exception: it fails the VM like any trap, but the
//! driving call returns the error whatever the policy (see
//! [`Host::set_strict`](crate::Host::set_strict)).
//!
//! With [`PluginSpec::rebuild`](crate::PluginSpec::rebuild), a failed VM is
//! replaced by a new instance of the same module when the next stream starts,
//! its plugins started again with their configuration (plugin ids stay
//! valid), at most [`Rebuild::max`] times within any [`Rebuild::interval`] of
//! the virtual clock; past that the VM stays failed and streams get the fail
//! policy. [`Host::rebuilds`](crate::Host::rebuilds) reports what happened.
//!
//! Layer: plain data (the policies, rebuild rules and their log). Serving a
//! failed VM's streams is `vm::serve`, rebuilding it `host::rebuild`.

use std::collections::HashMap;
use std::time::Duration;

/// A plugin's failure policy: what Envoy does with a stream whose plugin VM
/// has failed (`failure_policy`, formerly `fail_open`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum FailPolicy {
    /// `FAIL_CLOSED`, Envoy's default. HTTP: the client gets a local reply
    /// `503` with an empty body and the details `wasm_fail_stream` (a gRPC
    /// request gets `grpc-status: 14`, UNAVAILABLE) and the request never
    /// reaches the upstream (if it had started, it stops there); when the
    /// client already has the response headers, the stream is reset instead.
    /// TCP: the connection is closed.
    #[default]
    Closed,
    /// `FAIL_OPEN`: the stream continues as if the plugin were not there.
    Open,
}

impl FailPolicy {
    /// `"closed"` or `"open"`.
    pub fn name(self) -> &'static str {
        match self {
            FailPolicy::Closed => "closed",
            FailPolicy::Open => "open",
        }
    }

    /// A policy by name: `closed` or `open`.
    pub fn from_name(name: &str) -> Option<FailPolicy> {
        [FailPolicy::Closed, FailPolicy::Open].into_iter().find(|p| p.name() == name)
    }
}

/// A failure reason on one line: its first line (the callback and what
/// failed) and, for a multi-line message with a backtrace, its last line (the
/// cause).
pub(crate) fn summary(reason: &str) -> String {
    let mut lines = reason.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or_default();
    match lines.next_back() {
        Some(last) => format!("{first} … {last}"),
        None => first.to_owned(),
    }
}

/// The response code details of the local reply a fail-closed stream gets.
pub const FAIL_STREAM_DETAILS: &str = "wasm_fail_stream";

/// Rebuilding a failed VM, with the crash-loop limit: at most `max` rebuilds
/// within any `interval` of virtual time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rebuild {
    /// Rebuilds allowed within one interval.
    pub max: u32,
    /// The sliding window of the virtual (monotonic) clock.
    pub interval: Duration,
}

impl Rebuild {
    /// At most `max` rebuilds within any `interval` of virtual time.
    pub fn new(max: u32, interval: Duration) -> Rebuild {
        Rebuild { max, interval }
    }
}

impl Default for Rebuild {
    /// Three rebuilds per minute.
    fn default() -> Rebuild {
        Rebuild { max: 3, interval: Duration::from_secs(60) }
    }
}

/// What a [`PluginSpec`](crate::PluginSpec) says about failures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct FailureSettings {
    pub policy: Option<FailPolicy>,
    pub rebuild: Option<Rebuild>,
}

/// The rebuilds of one VM, as [`Host::rebuilds`](crate::Host::rebuilds) reports them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rebuilds {
    /// Rebuilds attempted (each counts towards the crash-loop limit).
    pub count: u32,
    /// Attempts whose new VM did not start (its error is in `reasons`).
    pub failed: u32,
    /// Times a failed VM was left failed because the limit was reached.
    pub refused: u32,
    /// Whether the last stream that needed a rebuild was refused one: the VM
    /// stays failed until older rebuilds leave the interval.
    pub crash_looping: bool,
    /// Why each rebuild was needed (the failure of the VM it replaced), and
    /// the error of each attempt that failed, oldest first.
    pub reasons: Vec<String>,
}

/// Per VM index: when rebuilds happened (monotonic ns) and what they did.
#[derive(Debug, Default)]
pub(crate) struct RebuildLog {
    vms: HashMap<usize, (Vec<u64>, Rebuilds)>,
}

/// Whether a rebuild may go ahead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Go ahead: this is attempt number `n` in the current interval.
    Rebuild(u32),
    /// The limit is reached; `first` is true for the first refusal after a rebuild.
    Refused { first: bool },
}

impl RebuildLog {
    /// Decides on a rebuild of VM `index` at `now_ns` under `rule`, and
    /// records the attempt or the refusal.
    pub fn admit(&mut self, index: usize, rule: Rebuild, now_ns: u64, reason: &str) -> Admission {
        let (times, stats) = self.vms.entry(index).or_default();
        let window = rule.interval.as_nanos().min(u64::MAX as u128) as u64;
        times.retain(|&at| now_ns.saturating_sub(at) < window);
        if times.len() as u32 >= rule.max {
            stats.refused += 1;
            let first = !stats.crash_looping;
            stats.crash_looping = true;
            return Admission::Refused { first };
        }
        times.push(now_ns);
        stats.count += 1;
        stats.crash_looping = false;
        stats.reasons.push(reason.to_owned());
        Admission::Rebuild(times.len() as u32)
    }

    /// Records that the attempt just admitted for VM `index` failed.
    pub fn attempt_failed(&mut self, index: usize, error: String) {
        let (_, stats) = self.vms.entry(index).or_default();
        stats.failed += 1;
        stats.reasons.push(error);
    }

    /// What happened to VM `index`.
    pub fn stats(&self, index: usize) -> Rebuilds {
        self.vms.get(&index).map(|(_, s)| s.clone()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = 1_000_000_000;

    #[test]
    fn the_limit_counts_rebuilds_within_a_sliding_interval() {
        let mut log = RebuildLog::default();
        let rule = Rebuild::new(2, Duration::from_secs(10));
        assert_eq!(log.admit(0, rule, 0, "a"), Admission::Rebuild(1));
        assert_eq!(log.admit(0, rule, 4 * SEC, "b"), Admission::Rebuild(2));
        assert_eq!(log.admit(0, rule, 5 * SEC, "c"), Admission::Refused { first: true });
        assert_eq!(log.admit(0, rule, 9 * SEC, "c"), Admission::Refused { first: false });
        let stats = log.stats(0);
        assert_eq!((stats.count, stats.refused, stats.crash_looping), (2, 2, true));
        // The first rebuild leaves the window at exactly 10 s.
        assert_eq!(log.admit(0, rule, 10 * SEC, "d"), Admission::Rebuild(2));
        let stats = log.stats(0);
        assert_eq!((stats.count, stats.crash_looping), (3, false));
        assert_eq!(stats.reasons, ["a", "b", "d"]);
        assert_eq!(log.stats(1), Rebuilds::default(), "other VMs have their own count");
    }

    #[test]
    fn failed_attempts_count_and_keep_their_error() {
        let mut log = RebuildLog::default();
        let rule = Rebuild::new(1, Duration::from_secs(1));
        assert_eq!(log.admit(3, rule, 0, "trap"), Admission::Rebuild(1));
        log.attempt_failed(3, "configure returned false".into());
        assert_eq!(log.admit(3, rule, 1, "trap"), Admission::Refused { first: true });
        let stats = log.stats(3);
        assert_eq!((stats.count, stats.failed, stats.refused), (1, 1, 1));
        assert_eq!(stats.reasons, ["trap", "configure returned false"]);
    }

    #[test]
    fn a_summary_keeps_the_first_and_last_lines() {
        assert_eq!(summary("on_tick: trap"), "on_tick: trap");
        let reason = "proxy_on_tick: error while executing at wasm backtrace:\n  0: f\n\nCaused by:\n    unreachable\n";
        assert_eq!(summary(reason), "proxy_on_tick: error while executing at wasm backtrace: … unreachable");
    }
}
