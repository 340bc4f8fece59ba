//! Buffers: `proxy_get_buffer_bytes`, `proxy_set_buffer_bytes`,
//! `proxy_get_buffer_status`. Each buffer exists only while Envoy has it: a
//! body during its body callback and, while a body callback's
//! `StopIterationAndBuffer` holds the direction, from the stream's other
//! callbacks too (see [`Flow::body_available`](crate::state::http::Flow::body_available));
//! callout payloads during their callbacks; configuration always; otherwise
//! `NOT_FOUND`.

use wasmtime::Caller;

use super::memory::{self, HostResult};
use crate::state::buffer;
use crate::store::VmState;
use crate::types::{BufferType, Status};

/// The buffer the guest addresses, if available now.
pub(crate) fn buffer(state: &VmState, kind: BufferType) -> Result<&[u8], Status> {
    let id = state.effective;
    let found = match kind {
        BufferType::HttpRequestBody => {
            state.http.get(&id).filter(|s| s.request.body_available()).map(|s| &s.request.body[..])
        }
        BufferType::HttpResponseBody => {
            state.http.get(&id).filter(|s| s.response.body_available()).map(|s| &s.response.body[..])
        }
        BufferType::DownstreamData => {
            state.tcp.get(&id).filter(|s| s.downstream.exposed).map(|s| &s.downstream.buffer[..])
        }
        BufferType::UpstreamData => state.tcp.get(&id).filter(|s| s.upstream.exposed).map(|s| &s.upstream.buffer[..]),
        BufferType::HttpCallResponseBody => state.scope.call_body.as_deref(),
        BufferType::GrpcReceiveBuffer => state.scope.grpc_message.as_deref(),
        BufferType::VmConfiguration => Some(&state.vm_configuration[..]),
        BufferType::PluginConfiguration => {
            state.effective_root().and_then(|r| state.plugins.get(&r)).map(|p| &p.configuration[..])
        }
        BufferType::ForeignFunctionArguments => state.scope.foreign_args.as_deref(),
    };
    found.ok_or(Status::NotFound)
}

fn buffer_mut(state: &mut VmState, kind: BufferType) -> Result<&mut Vec<u8>, Status> {
    let id = state.effective;
    let found = match kind {
        BufferType::HttpRequestBody => {
            state.http.get_mut(&id).filter(|s| s.request.body_available()).map(|s| &mut s.request.body)
        }
        BufferType::HttpResponseBody => {
            state.http.get_mut(&id).filter(|s| s.response.body_available()).map(|s| &mut s.response.body)
        }
        BufferType::DownstreamData => {
            state.tcp.get_mut(&id).filter(|s| s.downstream.exposed).map(|s| &mut s.downstream.buffer)
        }
        BufferType::UpstreamData => {
            state.tcp.get_mut(&id).filter(|s| s.upstream.exposed).map(|s| &mut s.upstream.buffer)
        }
        // Envoy's other buffers are read-only views.
        _ => return Err(Status::BadArgument),
    };
    found.ok_or(Status::NotFound)
}

pub(super) fn get_buffer_bytes(
    caller: &mut Caller<'_, VmState>,
    kind: u32,
    start: u32,
    max: u32,
    ptr_ptr: u32,
    size_ptr: u32,
) -> HostResult {
    let kind = BufferType::from_u32(kind).ok_or(Status::BadArgument)?;
    let bytes = buffer::get_bytes(buffer(caller.data(), kind)?, start, max)?.to_vec();
    memory::return_bytes(caller, &bytes, ptr_ptr, size_ptr)
}

pub(super) fn set_buffer_bytes(
    caller: &mut Caller<'_, VmState>,
    kind: u32,
    start: u32,
    size: u32,
    ptr: u32,
    len: u32,
) -> HostResult {
    let kind = BufferType::from_u32(kind).ok_or(Status::BadArgument)?;
    memory::with_memory(caller, |data, state| {
        let value = memory::slice(data, ptr, len)?;
        buffer::set_bytes(buffer_mut(state, kind)?, start, size, value)
    })?;
    Ok(())
}

pub(super) fn get_buffer_status(
    caller: &mut Caller<'_, VmState>,
    kind: u32,
    size_ptr: u32,
    flags_ptr: u32,
) -> HostResult {
    let kind = BufferType::from_u32(kind).ok_or(Status::BadArgument)?;
    let len = buffer(caller.data(), kind)?.len() as u32;
    memory::check(caller, flags_ptr, 4)?;
    memory::write_u32(caller, size_ptr, len)?;
    memory::write_u32(caller, flags_ptr, 0)?;
    Ok(())
}
