//! Metrics: `proxy_define_metric`, `proxy_increment_metric`,
//! `proxy_record_metric`, `proxy_get_metric` (64-bit values as wasm `i64`).
//! `metrics` bounds the metrics a VM defined first, `histogram_samples` the
//! samples it recorded in all histograms: totals per VM, whatever other VMs
//! defined or recorded.

use wasmtime::Caller;

use super::memory::{self, HostResult};
use crate::limits::Limit;
use crate::store::VmState;
use crate::types::{MetricType, Status};

pub(super) fn define_metric(
    caller: &mut Caller<'_, VmState>,
    kind: u32,
    name: u32,
    name_len: u32,
    id_ptr: u32,
) -> HostResult {
    let kind = MetricType::from_u32(kind).ok_or(Status::BadArgument)?;
    memory::check(caller, id_ptr, 4)?;
    let id = memory::with_memory(caller, |data, state| {
        let raw = memory::slice(data, name, name_len)?;
        let caps = state.caps;
        if let Err(exceeded) =
            caps.check(Limit::MetricNameBytes, raw.len(), || format!("proxy_define_metric of a {name_len}-byte name"))
        {
            return Ok(Err(exceeded));
        }
        let name = String::from_utf8_lossy(raw);
        let plugin = state.effective_root().and_then(|r| state.plugins.get(&r)).map_or("", |p| p.name.as_str());
        let vm = state.index;
        let mut world = state.world();
        let name = world.policy.profile.metric_name(plugin, &name);
        if !world.metrics.contains(kind, &name) {
            let defined = world.metrics.held(vm).metrics;
            if let Err(exceeded) = caps.check(Limit::Metrics, defined + 1, || {
                format!("proxy_define_metric of a new metric; the VM defined {defined}")
            }) {
                return Ok(Err(exceeded));
            }
        }
        Ok(Ok(world.metrics.define(kind, &name, vm)))
    })??;
    Ok(memory::write_u32(caller, id_ptr, id)?)
}

pub(super) fn increment_metric(caller: &mut Caller<'_, VmState>, id: u32, delta: i64) -> HostResult {
    Ok(caller.data().world().metrics.increment(id, delta)?)
}

pub(super) fn record_metric(caller: &mut Caller<'_, VmState>, id: u32, value: u64) -> HostResult {
    let state = caller.data();
    let mut world = state.world();
    if world.metrics.is_histogram(id) {
        let samples = world.metrics.held(state.index).samples;
        state.caps.check(Limit::HistogramSamples, samples + 1, || {
            format!("proxy_record_metric on a histogram; the VM's histograms hold {samples} samples it recorded")
        })?;
    }
    Ok(world.metrics.record(id, value, state.index)?)
}

pub(super) fn get_metric(caller: &mut Caller<'_, VmState>, id: u32, value_ptr: u32) -> HostResult {
    memory::check(caller, value_ptr, 8)?;
    let value = caller.data().world().metrics.get(id)?;
    Ok(memory::write_u64(caller, value_ptr, value)?)
}
