//! Logging, time, timers and context management: `proxy_log`,
//! `proxy_get_log_level`, `proxy_get_current_time_nanoseconds`,
//! `proxy_set_tick_period_milliseconds`, `proxy_done`,
//! `proxy_set_effective_context`, and ABI 0.1.0's `proxy_get_configuration`.

use wasmtime::{Caller, Linker};

use super::memory::{self, HostResult};
use crate::state::logs::text;
use crate::store::{Deferred, VmState};
use crate::types::{LogLevel, Status};

/// Kong registers `proxy_get_log_level` as `(i32, i32) -> i32`, a stub
/// (`ngx_proxy_wasm_hfuncs_nop` in src/common/proxy_wasm/ngx_proxy_wasm_host.c);
/// the kong profile's gate traps before this runs. Were the profile changed
/// afterwards, the level goes to the first pointer.
pub(crate) fn add_kong_log_level(linker: &mut Linker<VmState>) -> wasmtime::Result<()> {
    let function = super::described("proxy_get_log_level")?;
    linker.func_wrap("env", function.name, move |mut caller: Caller<'_, VmState>, ptr: u32, unused: u32| {
        super::run(&mut caller, function, &[u64::from(ptr), u64::from(unused)], |caller| get_log_level(caller, ptr))
    })?;
    Ok(())
}

pub(super) fn log(caller: &mut Caller<'_, VmState>, level: u32, ptr: u32, len: u32) -> HostResult {
    let level = LogLevel::from_u32(level).ok_or(Status::BadArgument)?;
    let logged = memory::with_memory(caller, |data, state| {
        let message = memory::slice(data, ptr, len)?;
        let fits = state
            .caps
            .check(crate::limits::Limit::LogLineBytes, message.len(), || format!("proxy_log of a {len}-byte message"));
        if fits.is_ok() && !state.logs.is_disabled() {
            state.log_line(level, state.effective, text(message));
        }
        Ok(fits)
    })?;
    Ok(logged?)
}

pub(super) fn get_log_level(caller: &mut Caller<'_, VmState>, ptr: u32) -> HostResult {
    let level = caller.data().log_level as u32;
    Ok(memory::write_u32(caller, ptr, level)?)
}

pub(super) fn get_current_time_nanoseconds(caller: &mut Caller<'_, VmState>, ptr: u32) -> HostResult {
    let now = caller.data().world().clock.realtime_ns();
    Ok(memory::write_u64(caller, ptr, now)?)
}

pub(super) fn set_tick_period_milliseconds(caller: &mut Caller<'_, VmState>, period: u32) -> HostResult {
    let state = caller.data();
    let root = state.effective_root().ok_or(Status::BadArgument)?;
    let mut world = state.world();
    let now = world.clock.monotonic_ns();
    world.timers.set_period((state.index, root), period, now);
    Ok(())
}

pub(super) fn done(caller: &mut Caller<'_, VmState>) -> HostResult {
    let state = caller.data_mut();
    let id = state.effective;
    state.contexts.done(id)?;
    state.deferred.push(Deferred::Done(id));
    Ok(())
}

pub(super) fn set_effective_context(caller: &mut Caller<'_, VmState>, context_id: u32) -> HostResult {
    let state = caller.data_mut();
    state.contexts.get(context_id).ok_or(Status::BadArgument)?;
    state.effective = context_id;
    Ok(())
}

pub(super) fn get_configuration(caller: &mut Caller<'_, VmState>, ptr_ptr: u32, size_ptr: u32) -> HostResult {
    let configuration = caller.data().legacy_configuration();
    memory::return_bytes(caller, &configuration, ptr_ptr, size_ptr)
}
