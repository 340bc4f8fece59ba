//! Header maps: the seven `proxy_*_header_map_*` functions. A map exists only
//! in the phases Envoy has it (request headers from `on_request_headers` on,
//! callout maps during their callbacks, ...); otherwise reads and writes are
//! `BAD_ARGUMENT`, except in `on_log`, where a missing map reads as absent.
//!
//! Headers the test redacts (`PluginSpec::redact_headers`) are invisible to
//! reads of the request and response maps (and of their trailers); replacing
//! a whole map keeps them. Editing the request headers clears the stream's
//! route cache under the Envoy ≤ 1.32 profile.

use std::borrow::Cow;

use wasmtime::Caller;

use super::memory::{self, HostResult};
use crate::state::headers::HeaderMap;
use crate::store::{Callback, VmState};
use crate::types::{AbiVersion, MapType, Status};

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

/// The map as the plugin may read it: without the redacted headers.
fn readable(state: &VmState, kind: MapType) -> Option<Cow<'_, HeaderMap>> {
    let map = redacted_view(state, kind)?;
    if state.policy.profile == crate::HostProfile::Kong {
        return Some(crate::abi::kong::readable(kind, map));
    }
    Some(map)
}

fn redacted_view(state: &VmState, kind: MapType) -> Option<Cow<'_, HeaderMap>> {
    let map = map(state, kind)?;
    let stream_map = matches!(
        kind,
        MapType::HttpRequestHeaders
            | MapType::HttpRequestTrailers
            | MapType::HttpResponseHeaders
            | MapType::HttpResponseTrailers
    );
    let redacted: &[Vec<u8>] = if stream_map { &state.policy.redacted } else { &[] };
    if redacted.iter().all(|name| map.get(name).is_none()) {
        return Some(Cow::Borrowed(map));
    }
    let mut copy = map.clone();
    for name in redacted {
        copy.remove(name);
    }
    Some(Cow::Owned(copy))
}

/// After an edit of the request headers: Envoy ≤ 1.32 clears the route cache.
fn edited(state: &mut VmState, kind: MapType) {
    if kind != MapType::HttpRequestHeaders || !state.policy.profile.header_edits_clear_route_cache() {
        return;
    }
    if let Some(stream) = state.http.get_mut(&state.effective) {
        stream.route.clear();
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

pub(super) fn get_header_map_size(caller: &mut Caller<'_, VmState>, kind_raw: u32, size_ptr: u32) -> HostResult {
    let state = caller.data();
    let size = match readable(state, kind(kind_raw)?) {
        Some(m) => m.byte_size() as u32,
        None if in_log(state) => 0,
        None => return Err(Status::BadArgument.into()),
    };
    Ok(memory::write_u32(caller, size_ptr, size)?)
}

pub(super) fn get_header_map_pairs(
    caller: &mut Caller<'_, VmState>,
    kind_raw: u32,
    ptr_ptr: u32,
    size_ptr: u32,
) -> HostResult {
    let state = caller.data();
    let bytes = match readable(state, kind(kind_raw)?) {
        Some(m) => m.serialize(),
        None if in_log(state) => Vec::new(),
        None => return Err(Status::BadArgument.into()),
    };
    memory::return_bytes(caller, &bytes, ptr_ptr, size_ptr)
}

pub(super) fn set_header_map_pairs(caller: &mut Caller<'_, VmState>, kind_raw: u32, ptr: u32, len: u32) -> HostResult {
    let kind = kind(kind_raw)?;
    memory::with_memory(caller, |data, state| {
        let bytes = memory::slice(data, ptr, len)?;
        let hidden = state.policy.redacted.clone();
        let map = map_mut(state, kind)?;
        let kept: Vec<(Vec<u8>, Vec<u8>)> = map.entries().iter().filter(|(k, _)| hidden.contains(k)).cloned().collect();
        map.set_serialized(bytes);
        for (k, v) in kept {
            if map.get(&k).is_none() {
                map.add(&k, &v);
            }
        }
        edited(state, kind);
        Ok(())
    })?;
    Ok(())
}

pub(super) fn get_header_map_value(
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
        match readable(state, kind) {
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
        edited(state, kind);
        Ok(())
    })?;
    Ok(())
}

pub(super) fn add_header_map_value(
    caller: &mut Caller<'_, VmState>,
    kind: u32,
    key: u32,
    key_len: u32,
    value: u32,
    value_len: u32,
) -> HostResult {
    edit(caller, kind, (key, key_len), (value, value_len), HeaderMap::add)
}

pub(super) fn replace_header_map_value(
    caller: &mut Caller<'_, VmState>,
    kind: u32,
    key: u32,
    key_len: u32,
    value: u32,
    value_len: u32,
) -> HostResult {
    edit(caller, kind, (key, key_len), (value, value_len), HeaderMap::replace)
}

pub(super) fn remove_header_map_value(
    caller: &mut Caller<'_, VmState>,
    kind: u32,
    key: u32,
    key_len: u32,
) -> HostResult {
    edit(caller, kind, (key, key_len), (0, 0), |m, k, _| m.remove(k))
}
