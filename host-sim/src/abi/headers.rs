//! Header maps: the seven `proxy_*_header_map_*` functions. A map exists only
//! in the phases Envoy has it (request headers from `on_request_headers` on,
//! callout maps during their callbacks, ...); otherwise reads and writes are
//! `BAD_ARGUMENT`, except in `on_log`, where a missing map reads as absent.

use wasmtime::{Caller, Linker};

use super::hostcall;
use super::memory::{self, HostResult};
use crate::state::headers::HeaderMap;
use crate::types::{AbiVersion, MapType, Status};
use crate::vm::state::{Callback, VmState};

pub(crate) fn add_to_linker(linker: &mut Linker<VmState>) -> wasmtime::Result<()> {
    hostcall!(linker, "proxy_get_header_map_size", get_size, (kind: u32, size_ptr: u32));
    hostcall!(linker, "proxy_get_header_map_pairs", get_pairs, (kind: u32, ptr_ptr: u32, size_ptr: u32));
    hostcall!(linker, "proxy_set_header_map_pairs", set_pairs, (kind: u32, ptr: u32, len: u32));
    hostcall!(linker, "proxy_get_header_map_value", get_value, (kind: u32, key: u32, key_len: u32, ptr_ptr: u32, size_ptr: u32));
    hostcall!(linker, "proxy_add_header_map_value", add_value, (kind: u32, key: u32, key_len: u32, value: u32, value_len: u32));
    hostcall!(linker, "proxy_replace_header_map_value", replace_value, (kind: u32, key: u32, key_len: u32, value: u32, value_len: u32));
    hostcall!(linker, "proxy_remove_header_map_value", remove_value, (kind: u32, key: u32, key_len: u32));
    Ok(())
}

/// The map the guest addresses, `None` when it does not exist now.
pub(crate) fn map(state: &VmState, kind: MapType) -> Option<&HeaderMap> {
    let stream = state.http.get(&state.effective);
    match kind {
        MapType::HttpRequestHeaders => stream?.request.headers.as_ref(),
        MapType::HttpRequestTrailers => stream?.request.trailers.as_ref(),
        MapType::HttpResponseHeaders => stream?.response.headers.as_ref(),
        MapType::HttpResponseTrailers => stream?.response.trailers.as_ref(),
        MapType::GrpcReceiveInitialMetadata => state.scope.grpc_initial.as_ref(),
        MapType::GrpcReceiveTrailingMetadata => state.scope.grpc_trailing.as_ref(),
        MapType::HttpCallResponseHeaders => state.scope.call_headers.as_ref(),
        MapType::HttpCallResponseTrailers => state.scope.call_trailers.as_ref(),
    }
}

fn map_mut(state: &mut VmState, kind: MapType) -> Result<&mut HeaderMap, Status> {
    let stream = state.http.get_mut(&state.effective).ok_or(Status::BadArgument)?;
    let map = match kind {
        MapType::HttpRequestHeaders => stream.request.headers.as_mut(),
        MapType::HttpRequestTrailers => stream.request.trailers.as_mut(),
        MapType::HttpResponseHeaders => stream.response.headers.as_mut(),
        MapType::HttpResponseTrailers => stream.response.trailers.as_mut(),
        // Received metadata and callout responses are read-only.
        _ => None,
    };
    map.ok_or(Status::BadArgument)
}

fn kind(raw: u32) -> Result<MapType, Status> {
    MapType::from_u32(raw).ok_or(Status::BadArgument)
}

fn in_log(state: &VmState) -> bool {
    state.callback == Some(Callback::Log)
}

fn get_size(caller: &mut Caller<'_, VmState>, kind_raw: u32, size_ptr: u32) -> HostResult {
    let state = caller.data();
    let size = match map(state, kind(kind_raw)?) {
        Some(m) => m.serialized_len() as u32,
        None if in_log(state) => 0,
        None => return Err(Status::BadArgument.into()),
    };
    Ok(memory::write_u32(caller, size_ptr, size)?)
}

fn get_pairs(caller: &mut Caller<'_, VmState>, kind_raw: u32, ptr_ptr: u32, size_ptr: u32) -> HostResult {
    let state = caller.data();
    let bytes = match map(state, kind(kind_raw)?) {
        Some(m) => m.serialize(),
        None if in_log(state) => Vec::new(),
        None => return Err(Status::BadArgument.into()),
    };
    memory::return_bytes(caller, &bytes, ptr_ptr, size_ptr)
}

fn set_pairs(caller: &mut Caller<'_, VmState>, kind_raw: u32, ptr: u32, len: u32) -> HostResult {
    let kind = kind(kind_raw)?;
    memory::with_memory(caller, |data, state| {
        let bytes = memory::slice(data, ptr, len)?;
        map_mut(state, kind)?.set_serialized(bytes);
        Ok(())
    })?;
    Ok(())
}

fn get_value(
    caller: &mut Caller<'_, VmState>,
    kind_raw: u32,
    key: u32,
    key_len: u32,
    ptr_ptr: u32,
    size_ptr: u32,
) -> HostResult {
    let kind = kind(kind_raw)?;
    let value = memory::with_memory(caller, |data, state| {
        let key = memory::slice(data, key, key_len)?;
        let legacy = state.abi == AbiVersion::V0_1_0;
        match map(state, kind) {
            Some(m) => m.lookup(key, legacy).map(<[u8]>::to_vec),
            None if in_log(state) && legacy => Ok(Vec::new()),
            None if in_log(state) => Err(Status::NotFound),
            None => Err(Status::BadArgument),
        }
    })?;
    memory::return_bytes(caller, &value, ptr_ptr, size_ptr)
}

fn edit(
    caller: &mut Caller<'_, VmState>,
    kind_raw: u32,
    key: (u32, u32),
    value: (u32, u32),
    op: fn(&mut HeaderMap, &[u8], &[u8]),
) -> HostResult {
    let kind = kind(kind_raw)?;
    memory::with_memory(caller, |data, state| {
        let key = memory::slice(data, key.0, key.1)?;
        let value = memory::slice(data, value.0, value.1)?;
        op(map_mut(state, kind)?, key, value);
        Ok(())
    })?;
    Ok(())
}

fn add_value(
    caller: &mut Caller<'_, VmState>,
    kind: u32,
    key: u32,
    key_len: u32,
    value: u32,
    value_len: u32,
) -> HostResult {
    edit(caller, kind, (key, key_len), (value, value_len), HeaderMap::add)
}

fn replace_value(
    caller: &mut Caller<'_, VmState>,
    kind: u32,
    key: u32,
    key_len: u32,
    value: u32,
    value_len: u32,
) -> HostResult {
    edit(caller, kind, (key, key_len), (value, value_len), HeaderMap::replace)
}

fn remove_value(caller: &mut Caller<'_, VmState>, kind: u32, key: u32, key_len: u32) -> HostResult {
    edit(caller, kind, (key, key_len), (0, 0), |m, k, _| m.remove(k))
}
