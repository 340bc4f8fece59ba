//! Faults and limits: the per-VM memory cap (a wasmtime [`ResourceLimiter`]),
//! the per-call CPU deadline and fuel settings, and the wording of a guest
//! failure.
//!
//! Defaults follow Envoy where Envoy has one: memory is capped at 1 GiB per VM
//! (cpp-host's wasmtime `max_wasm_memory_size_bytes`), tables at 10 000
//! elements. A memory growth over the cap fails as in Envoy: `memory.grow`
//! returns -1 and the guest (a Rust allocator, typically) traps on its own;
//! the failure message then names the cap. Envoy has no CPU limit of its own;
//! host-sim stops a guest call after 1 s (wasmtime epochs), so a runaway loop
//! fails the test instead of hanging it.
//!
//! Layer: plain data. Imports only `limits`.

use std::time::Duration;

use wasmtime::ResourceLimiter;

/// Envoy's default memory cap per VM (1 GiB).
pub const DEFAULT_MEMORY_LIMIT: usize = 1 << 30;
/// The default CPU deadline of one guest call.
pub const DEFAULT_CPU_DEADLINE: Duration = Duration::from_secs(1);
/// Envoy's table-element limit.
pub const TABLE_ELEMENTS_LIMIT: usize = 10_000;

/// Fuel a VM's guest calls consumed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FuelUsage {
    /// Fuel of the last top-level guest call (with the host functions' nested
    /// allocator calls it made).
    pub last_call: u64,
    /// Fuel of every guest call since the VM started.
    pub total: u64,
}

/// The store's resource limiter: a memory cap that records refusals.
#[derive(Debug)]
pub(crate) struct VmLimits {
    pub memory_limit: usize,
    /// The last growth refused: `(current, desired)` bytes.
    pub refused: Option<(usize, usize)>,
}

impl VmLimits {
    pub fn new(memory_limit: usize) -> VmLimits {
        VmLimits { memory_limit, refused: None }
    }
}

impl ResourceLimiter for VmLimits {
    fn memory_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let allow = desired <= self.memory_limit;
        if !allow {
            self.refused = Some((current, desired));
        }
        Ok(allow)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= TABLE_ELEMENTS_LIMIT)
    }
}

/// Explains a guest call's error: which limit stopped it, if one did, then
/// wasmtime's message with the guest backtrace.
pub(crate) fn describe(error: &wasmtime::Error, limits: &VmLimits, deadline: Option<Duration>) -> String {
    let mut message = String::new();
    match error.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::Interrupt) => match deadline {
            Some(d) => message.push_str(&format!("exceeded the CPU deadline of {d:?} per guest call; ")),
            None => message.push_str("interrupted; "),
        },
        Some(wasmtime::Trap::OutOfFuel) => message.push_str("exceeded the fuel budget of the guest call; "),
        _ => {}
    }
    if let Some(exceeded) = error.downcast_ref::<crate::limits::LimitExceeded>() {
        message.push_str(&format!("{exceeded}; "));
    }
    if let Some((current, desired)) = limits.refused {
        message.push_str(&format!(
            "memory cap of {} bytes refused growing memory from {current} to {desired} bytes; ",
            limits.memory_limit
        ));
    }
    message.push_str(&format!("{error:?}"));
    message
}
