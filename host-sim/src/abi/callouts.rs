//! Callouts: `proxy_http_call` and the five `proxy_grpc_*` functions. Calls
//! are recorded in the host's state; the test answers them later. As in
//! cpp-host, a callout belongs to the root of the effective context.

use std::time::Duration;

use wasmtime::Caller;

use super::memory::{self, HostResult};
use crate::limits::{Limit, LimitExceeded};
use crate::state::callouts::{Deadline, DeadlineKind, GrpcCallout, GrpcKind, HttpCallout};
use crate::state::headers::HeaderMap;
use crate::store::{VmState, World};
use crate::types::Status;

fn text(data: &[u8], ptr: u32, len: u32) -> Result<String, Status> {
    Ok(String::from_utf8_lossy(memory::slice(data, ptr, len)?).into_owned())
}

fn map(data: &[u8], ptr: u32, len: u32) -> Result<HeaderMap, Status> {
    let mut map = HeaderMap::new();
    map.set_serialized(memory::slice(data, ptr, len)?);
    Ok(map)
}

#[allow(clippy::too_many_arguments)]
pub(super) fn http_call(
    caller: &mut Caller<'_, VmState>,
    up: u32,
    up_len: u32,
    h: u32,
    h_len: u32,
    b: u32,
    b_len: u32,
    t: u32,
    t_len: u32,
    timeout: u32,
    token_ptr: u32,
) -> HostResult {
    memory::write_u32(caller, token_ptr, 0)?;
    let token = memory::with_memory(caller, |data, state| {
        // Envoy reads the timeout as a signed int: negative is a bad argument.
        if (timeout as i32) < 0 {
            return Err(Status::BadArgument);
        }
        let root_id = state.effective_root().ok_or(Status::BadArgument)?;
        let raw = [up_len, h_len, b_len, t_len].iter().map(|&n| n as usize).sum();
        if let Err(exceeded) = room(state, "proxy_http_call", raw) {
            return Ok(Err(exceeded));
        }
        let upstream = text(data, up, up_len)?;
        let headers = map(data, h, h_len)?;
        let body = memory::slice(data, b, b_len)?;
        let trailers = map(data, t, t_len)?;
        let mut world = state.world();
        let envoy = world.policy.profile.has_clusters();
        // Envoy's checks come before the body is copied.
        world.callouts.check_http(&upstream, &headers, envoy)?;
        let call = HttpCallout {
            vm: state.index,
            token: 0,
            context_id: state.effective,
            root_id,
            upstream,
            headers,
            body: body.to_vec(),
            trailers,
            timeout: Duration::from_millis(timeout as u64),
        };
        let token = world.callouts.http_call(call, envoy)?;
        arm(&mut world, DeadlineKind::Http, state.index, token, timeout);
        Ok(Ok(token))
    })??;
    Ok(memory::write_u32(caller, token_ptr, token)?)
}

/// Whether the VM may hold `raw` more bytes for a new callout (or a gRPC
/// message): its `pending_callouts` and `callout_bytes` limits, checked on
/// the raw lengths before anything is copied (`new`: a new callout).
fn room_for(state: &VmState, function: &str, raw: usize, new: bool) -> Result<(), LimitExceeded> {
    let (count, held) = state.world().callouts.held(state.index);
    if new {
        state.caps.check(Limit::PendingCallouts, count + 1, || format!("{function} with {count} callouts pending"))?;
    }
    let total = held.saturating_add(raw);
    state.caps.check(Limit::CalloutBytes, total, || {
        format!("{function} of {raw} bytes with {held} bytes held for pending callouts")
    })
}

fn room(state: &VmState, function: &str, raw: usize) -> Result<(), LimitExceeded> {
    room_for(state, function, raw, true)
}

/// Arms a callout's timeout of `timeout_ms` (0: none, as in Envoy).
fn arm(world: &mut World, kind: DeadlineKind, vm: usize, token: u32, timeout_ms: u32) {
    if timeout_ms > 0 {
        let at_ns = world.clock.monotonic_ns().saturating_add(timeout_ms as u64 * 1_000_000);
        world.callouts.set_deadline(Deadline { kind, vm, token, at_ns });
    }
}

fn open(
    caller: &mut Caller<'_, VmState>,
    token_ptr: u32,
    (function, raw): (&str, usize),
    build: impl FnOnce(&[u8], &VmState, u32) -> Result<GrpcCallout, Status>,
) -> HostResult {
    memory::write_u32(caller, token_ptr, 0)?;
    let token = memory::with_memory(caller, |data, state| {
        let root_id = state.effective_root().ok_or(Status::BadArgument)?;
        if let Err(exceeded) = room(state, function, raw) {
            return Ok(Err(exceeded));
        }
        let callout = build(data, state, root_id)?;
        let timeout_ms = u32::try_from(callout.timeout.as_millis()).unwrap_or(u32::MAX);
        let mut world = state.world();
        let token = world.callouts.grpc_open(callout)?;
        arm(&mut world, DeadlineKind::Grpc, state.index, token, timeout_ms);
        Ok(Ok(token))
    })??;
    Ok(memory::write_u32(caller, token_ptr, token)?)
}

/// The sum of raw argument lengths.
fn raw(lengths: &[u32]) -> usize {
    lengths.iter().map(|&n| n as usize).sum()
}

#[allow(clippy::too_many_arguments)]
pub(super) fn grpc_call(
    caller: &mut Caller<'_, VmState>,
    up: u32,
    up_len: u32,
    svc: u32,
    svc_len: u32,
    m: u32,
    m_len: u32,
    md: u32,
    md_len: u32,
    msg: u32,
    msg_len: u32,
    timeout: u32,
    token_ptr: u32,
) -> HostResult {
    let raw = ("proxy_grpc_call", raw(&[up_len, svc_len, m_len, md_len, msg_len]));
    open(caller, token_ptr, raw, |data, state, root_id| {
        Ok(GrpcCallout {
            vm: state.index,
            token: 0,
            kind: GrpcKind::Call,
            context_id: state.effective,
            root_id,
            upstream: memory::slice(data, up, up_len)?.to_vec(),
            service: text(data, svc, svc_len)?,
            method: text(data, m, m_len)?,
            initial_metadata: map(data, md, md_len)?,
            messages: vec![memory::slice(data, msg, msg_len)?.to_vec()],
            closed_by_plugin: true,
            cancelled: false,
            timeout: Duration::from_millis(timeout as u64),
        })
    })
}

#[allow(clippy::too_many_arguments)]
pub(super) fn grpc_stream(
    caller: &mut Caller<'_, VmState>,
    up: u32,
    up_len: u32,
    svc: u32,
    svc_len: u32,
    m: u32,
    m_len: u32,
    md: u32,
    md_len: u32,
    token_ptr: u32,
) -> HostResult {
    let raw = ("proxy_grpc_stream", raw(&[up_len, svc_len, m_len, md_len]));
    open(caller, token_ptr, raw, |data, state, root_id| {
        Ok(GrpcCallout {
            vm: state.index,
            token: 0,
            kind: GrpcKind::Stream,
            context_id: state.effective,
            root_id,
            upstream: memory::slice(data, up, up_len)?.to_vec(),
            service: text(data, svc, svc_len)?,
            method: text(data, m, m_len)?,
            initial_metadata: map(data, md, md_len)?,
            messages: Vec::new(),
            closed_by_plugin: false,
            cancelled: false,
            timeout: Duration::ZERO,
        })
    })
}

pub(super) fn grpc_send(caller: &mut Caller<'_, VmState>, token: u32, msg: u32, msg_len: u32, end: u32) -> HostResult {
    memory::with_memory(caller, |data, state| {
        let message = memory::slice(data, msg, msg_len)?;
        if let Err(exceeded) = room_for(state, "proxy_grpc_send", message.len(), false) {
            return Ok(Err(exceeded));
        }
        state.world().callouts.grpc_send(state.index, token, message, end != 0).map(Ok)
    })??;
    Ok(())
}

pub(super) fn grpc_cancel(caller: &mut Caller<'_, VmState>, token: u32) -> HostResult {
    let state = caller.data();
    Ok(state.world().callouts.grpc_cancel(state.index, token)?)
}

pub(super) fn grpc_close(caller: &mut Caller<'_, VmState>, token: u32) -> HostResult {
    let state = caller.data();
    Ok(state.world().callouts.grpc_close(state.index, token)?)
}
