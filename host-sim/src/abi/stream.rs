//! Stream control: `proxy_continue_stream`, `proxy_close_stream` (0.2.0+),
//! ABI 0.1.0's `proxy_continue_request`/`proxy_continue_response`/
//! `proxy_clear_route_cache`, `proxy_send_local_response` and
//! `proxy_get_status`. Nothing here calls back into the guest: continuing,
//! closing and local responses are deferred until the current call returns.
//!
//! Envoy posts every one (`addAfterVmCallAction`), duplicates included, and
//! runs them in order; host-sim does too, since a continue that re-enters
//! the guest (a buffered body delivered) may meet a stop the guest made
//! since, which the next continue resumes. What one guest call may leave
//! waiting is bounded by the VM's `deliveries_per_step` (as the deliveries
//! that run them are): the call that would add one more fails the VM, naming
//! the limit, before anything is kept.

use wasmtime::Caller;

use super::memory::{self, HostResult};
use crate::limits::{Limit, LimitExceeded};
use crate::state::headers::HeaderMap;
use crate::state::http::{EndReason, LocalResponse};
use crate::store::{Deferred, VmState};
use crate::types::{Status, StreamType};

fn stream_type(raw: u32) -> Result<StreamType, Status> {
    StreamType::from_u32(raw).ok_or(Status::BadArgument)
}

/// Whether `function` may leave one more deferred action waiting for the
/// guest call to end: at most `deliveries_per_step` may wait.
fn may_defer(state: &VmState, function: &str) -> Result<(), LimitExceeded> {
    let waiting = state.deferred.len();
    state.caps.check(Limit::DeliveriesPerStep, waiting + 1, || {
        format!("{function} with {waiting} deferred actions already waiting for the guest call to end")
    })
}

/// Envoy resumes HTTP directions only; TCP has no continue (`BAD_ARGUMENT`).
pub(super) fn continue_stream(caller: &mut Caller<'_, VmState>, kind: u32) -> HostResult {
    let kind = stream_type(kind)?;
    if matches!(kind, StreamType::Downstream | StreamType::Upstream) {
        return Err(Status::BadArgument.into());
    }
    let state = caller.data_mut();
    if state.http.contains_key(&state.effective) {
        may_defer(state, "proxy_continue_stream")?;
        state.deferred.push(Deferred::Continue(state.effective, kind));
    }
    Ok(())
}

pub(super) fn continue_request(caller: &mut Caller<'_, VmState>) -> HostResult {
    continue_stream(caller, StreamType::HttpRequest as u32)
}

pub(super) fn continue_response(caller: &mut Caller<'_, VmState>) -> HostResult {
    continue_stream(caller, StreamType::HttpResponse as u32)
}

pub(super) fn clear_route_cache(caller: &mut Caller<'_, VmState>) -> HostResult {
    let state = caller.data_mut();
    let stream = state.http.get_mut(&state.effective).ok_or(Status::BadArgument)?;
    stream.route_cache_clears += 1;
    stream.route.clear();
    Ok(())
}

pub(super) fn close_stream(caller: &mut Caller<'_, VmState>, kind: u32) -> HostResult {
    let kind = stream_type(kind)?;
    let state = caller.data_mut();
    let id = state.effective;
    let known = match kind {
        StreamType::HttpRequest | StreamType::HttpResponse => state.http.contains_key(&id),
        StreamType::Downstream | StreamType::Upstream => state.tcp.contains_key(&id),
    };
    if !known {
        return Err(Status::BadArgument.into());
    }
    may_defer(state, "proxy_close_stream")?;
    // The sides asked for, each once however often it is asked.
    if let Some(tcp) = state.tcp.get_mut(&id)
        && !tcp.close_requested.contains(&kind)
    {
        tcp.close_requested.push(kind);
    }
    state.deferred.push(Deferred::Close(id, kind));
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub(super) fn send_local_response(
    caller: &mut Caller<'_, VmState>,
    status: u32,
    details: u32,
    details_len: u32,
    body: u32,
    body_len: u32,
    headers: u32,
    headers_len: u32,
    grpc: i32,
) -> HostResult {
    memory::with_memory(caller, |data, state| {
        let response = LocalResponse {
            status_code: status,
            details: String::from_utf8_lossy(memory::slice(data, details, details_len)?).into_owned(),
            body: memory::slice(data, body, body_len)?.to_vec(),
            headers: {
                let mut map = HeaderMap::new();
                map.set_serialized(memory::slice(data, headers, headers_len)?);
                map
            },
            grpc_status: u32::try_from(grpc).ok(),
            grpc_request: false,
        };
        let mut response = response;
        if state.policy.profile == crate::HostProfile::Kong {
            crate::abi::kong::local_response_body(&mut response.body);
        }
        let id = state.effective;
        let stream = state.http.get(&id).ok_or(Status::BadArgument)?;
        if stream.ended.is_some() {
            return Ok(Ok(()));
        }
        if let Err(exceeded) = may_defer(state, "proxy_send_local_response") {
            return Ok(Err(exceeded));
        }
        let stream = state.http.get_mut(&id).ok_or(Status::BadArgument)?;
        // nginx (Kong) sends the reply as is; Envoy turns it into a gRPC one.
        response.grpc_request = state.policy.profile != crate::HostProfile::Kong
            && crate::state::http::is_grpc_request(stream.request.headers.as_ref());
        if stream.response.sent.headers.is_some() {
            // Too late for a reply: Envoy resets the stream.
            stream.ended = Some(EndReason::Reset);
            state.deferred.push(Deferred::Close(id, StreamType::HttpResponse));
            return Ok(Ok(()));
        }
        stream.local_response = Some(response);
        stream.stop_next_iteration = true;
        state.deferred.push(Deferred::LocalResponse(id));
        Ok(Ok(()))
    })??;
    Ok(())
}

pub(super) fn get_status(caller: &mut Caller<'_, VmState>, code_ptr: u32, ptr_ptr: u32, size_ptr: u32) -> HostResult {
    let (code, message) = caller.data().scope.status.clone().unwrap_or((0, Vec::new()));
    memory::check(caller, code_ptr, 4)?;
    memory::return_bytes(caller, &message, ptr_ptr, size_ptr)?;
    Ok(memory::write_u32(caller, code_ptr, code)?)
}
