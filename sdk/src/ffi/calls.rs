//! One safe function per host function: slices in, owned values out, every
//! status mapped through [`Error::check`]. The only code that calls the raw
//! imports; the hostcall modules of the crate build on these.

use alloc::vec::Vec;
use core::ptr::{null, null_mut};

use super::*;
use crate::error::{Error, Result};

/// A read-only pointer for a slice (null for an empty one, as the hosts accept).
fn ptr(bytes: &[u8]) -> *const u8 {
    if bytes.is_empty() { null() } else { bytes.as_ptr() }
}

/// Takes ownership of a buffer the host allocated with the guest allocator.
fn take(data: *mut u8, size: usize) -> Vec<u8> {
    if data.is_null() || size == 0 {
        return Vec::new();
    }
    // SAFETY: the host wrote `data`/`size` after allocating exactly `size`
    // bytes with `proxy_on_memory_allocate` (which allocates with the global
    // allocator at alignment 1, like a `Vec<u8>`), and ownership passed to us.
    unsafe { Vec::from_raw_parts(data, size, size) }
}

/// Runs a hostcall that returns a byte buffer through two out-pointers.
fn bytes_out(call: impl FnOnce(*mut *mut u8, *mut usize) -> u32) -> Result<Vec<u8>> {
    let mut data: *mut u8 = null_mut();
    let mut size: usize = 0;
    let status = call(&mut data, &mut size);
    // Take ownership first so a buffer is freed even on an error status.
    let bytes = take(data, size);
    Error::check(status).map(|()| bytes)
}

/// Runs a hostcall that returns one scalar through an out-pointer.
fn value_out<T: Default>(call: impl FnOnce(*mut T) -> u32) -> Result<T> {
    let mut value = T::default();
    let status = call(&mut value);
    Error::check(status).map(|()| value)
}

pub(crate) fn log(level: u32, message: &[u8]) -> Result<()> {
    // SAFETY: the slice is valid for its length.
    Error::check(unsafe { proxy_log(level, ptr(message), message.len()) })
}

pub(crate) fn get_log_level() -> Result<u32> {
    // SAFETY: the out-pointer is a live local.
    value_out(|out| unsafe { proxy_get_log_level(out) })
}

pub(crate) fn get_current_time_nanoseconds() -> Result<u64> {
    // SAFETY: the out-pointer is a live local.
    value_out(|out| unsafe { proxy_get_current_time_nanoseconds(out) })
}

pub(crate) fn set_tick_period_milliseconds(period: u32) -> Result<()> {
    // SAFETY: no pointers.
    Error::check(unsafe { proxy_set_tick_period_milliseconds(period) })
}

pub(crate) fn done() -> Result<()> {
    // SAFETY: no pointers.
    Error::check(unsafe { proxy_done() })
}

pub(crate) fn set_effective_context(context_id: u32) -> Result<()> {
    // SAFETY: no pointers.
    Error::check(unsafe { proxy_set_effective_context(context_id) })
}

pub(crate) fn set_buffer_bytes(buffer_type: u32, start: usize, size: usize, value: &[u8]) -> Result<()> {
    // SAFETY: the slice is valid for its length.
    Error::check(unsafe { proxy_set_buffer_bytes(buffer_type, start, size, ptr(value), value.len()) })
}

pub(crate) fn get_buffer_bytes(buffer_type: u32, start: usize, max_size: usize) -> Result<Vec<u8>> {
    // SAFETY: the out-pointers are live locals.
    bytes_out(|data, size| unsafe { proxy_get_buffer_bytes(buffer_type, start, max_size, data, size) })
}

pub(crate) fn get_buffer_status(buffer_type: u32) -> Result<(usize, u32)> {
    let (mut size, mut flags) = (0usize, 0u32);
    // SAFETY: the out-pointers are live locals.
    Error::check(unsafe { proxy_get_buffer_status(buffer_type, &mut size, &mut flags) })?;
    Ok((size, flags))
}

pub(crate) fn get_header_map_size(map_type: u32) -> Result<usize> {
    // SAFETY: the out-pointer is a live local.
    value_out(|out| unsafe { proxy_get_header_map_size(map_type, out) })
}

pub(crate) fn get_header_map_pairs(map_type: u32) -> Result<Vec<u8>> {
    // SAFETY: the out-pointers are live locals.
    bytes_out(|data, size| unsafe { proxy_get_header_map_pairs(map_type, data, size) })
}

pub(crate) fn set_header_map_pairs(map_type: u32, serialized: &[u8]) -> Result<()> {
    // SAFETY: the slice is valid for its length.
    Error::check(unsafe { proxy_set_header_map_pairs(map_type, ptr(serialized), serialized.len()) })
}

pub(crate) fn get_header_map_value(map_type: u32, key: &[u8]) -> Result<Vec<u8>> {
    // SAFETY: the slice is valid for its length; the out-pointers are live locals.
    bytes_out(|data, size| unsafe { proxy_get_header_map_value(map_type, ptr(key), key.len(), data, size) })
}

pub(crate) fn add_header_map_value(map_type: u32, key: &[u8], value: &[u8]) -> Result<()> {
    // SAFETY: the slices are valid for their lengths.
    Error::check(unsafe { proxy_add_header_map_value(map_type, ptr(key), key.len(), ptr(value), value.len()) })
}

pub(crate) fn replace_header_map_value(map_type: u32, key: &[u8], value: &[u8]) -> Result<()> {
    // SAFETY: the slices are valid for their lengths.
    Error::check(unsafe { proxy_replace_header_map_value(map_type, ptr(key), key.len(), ptr(value), value.len()) })
}

pub(crate) fn remove_header_map_value(map_type: u32, key: &[u8]) -> Result<()> {
    // SAFETY: the slice is valid for its length.
    Error::check(unsafe { proxy_remove_header_map_value(map_type, ptr(key), key.len()) })
}

pub(crate) fn continue_stream(stream_type: u32) -> Result<()> {
    // SAFETY: no pointers.
    Error::check(unsafe { proxy_continue_stream(stream_type) })
}

pub(crate) fn close_stream(stream_type: u32) -> Result<()> {
    // SAFETY: no pointers.
    Error::check(unsafe { proxy_close_stream(stream_type) })
}

pub(crate) fn get_status() -> Result<(u32, Vec<u8>)> {
    let mut code = 0u32;
    // SAFETY: the out-pointers are live locals.
    let message = bytes_out(|data, size| unsafe { proxy_get_status(&mut code, data, size) })?;
    Ok((code, message))
}

pub(crate) fn send_local_response(
    status_code: u32,
    details: &[u8],
    body: &[u8],
    serialized_headers: &[u8],
    grpc_status: i32,
) -> Result<()> {
    // SAFETY: the slices are valid for their lengths.
    Error::check(unsafe {
        proxy_send_local_response(
            status_code,
            ptr(details),
            details.len(),
            ptr(body),
            body.len(),
            ptr(serialized_headers),
            serialized_headers.len(),
            grpc_status,
        )
    })
}

pub(crate) fn http_call(upstream: &[u8], headers: &[u8], body: &[u8], trailers: &[u8], timeout_ms: u32) -> Result<u32> {
    value_out(|out| {
        // SAFETY: the slices are valid for their lengths; the out-pointer is a live local.
        unsafe {
            proxy_http_call(
                ptr(upstream),
                upstream.len(),
                ptr(headers),
                headers.len(),
                ptr(body),
                body.len(),
                ptr(trailers),
                trailers.len(),
                timeout_ms,
                out,
            )
        }
    })
}

pub(crate) fn grpc_call(
    upstream: &[u8],
    service: &[u8],
    method: &[u8],
    metadata: &[u8],
    message: &[u8],
    timeout_ms: u32,
) -> Result<u32> {
    value_out(|out| {
        // SAFETY: the slices are valid for their lengths; the out-pointer is a live local.
        unsafe {
            proxy_grpc_call(
                ptr(upstream),
                upstream.len(),
                ptr(service),
                service.len(),
                ptr(method),
                method.len(),
                ptr(metadata),
                metadata.len(),
                ptr(message),
                message.len(),
                timeout_ms,
                out,
            )
        }
    })
}

pub(crate) fn grpc_stream(upstream: &[u8], service: &[u8], method: &[u8], metadata: &[u8]) -> Result<u32> {
    value_out(|out| {
        // SAFETY: the slices are valid for their lengths; the out-pointer is a live local.
        unsafe {
            proxy_grpc_stream(
                ptr(upstream),
                upstream.len(),
                ptr(service),
                service.len(),
                ptr(method),
                method.len(),
                ptr(metadata),
                metadata.len(),
                out,
            )
        }
    })
}

pub(crate) fn grpc_send(stream_id: u32, message: &[u8], end_stream: bool) -> Result<()> {
    // SAFETY: the slice is valid for its length.
    Error::check(unsafe { proxy_grpc_send(stream_id, ptr(message), message.len(), u32::from(end_stream)) })
}

pub(crate) fn grpc_cancel(id: u32) -> Result<()> {
    // SAFETY: no pointers.
    Error::check(unsafe { proxy_grpc_cancel(id) })
}

pub(crate) fn grpc_close(id: u32) -> Result<()> {
    // SAFETY: no pointers.
    Error::check(unsafe { proxy_grpc_close(id) })
}

pub(crate) fn set_shared_data(key: &[u8], value: &[u8], cas: u32) -> Result<()> {
    // SAFETY: the slices are valid for their lengths.
    Error::check(unsafe { proxy_set_shared_data(ptr(key), key.len(), ptr(value), value.len(), cas) })
}

pub(crate) fn get_shared_data(key: &[u8]) -> Result<(Vec<u8>, u32)> {
    let mut cas = 0u32;
    // SAFETY: the slice is valid for its length; the out-pointers are live locals.
    let value = bytes_out(|data, size| unsafe { proxy_get_shared_data(ptr(key), key.len(), data, size, &mut cas) })?;
    Ok((value, cas))
}

pub(crate) fn register_shared_queue(name: &[u8]) -> Result<u32> {
    // SAFETY: the slice is valid for its length; the out-pointer is a live local.
    value_out(|out| unsafe { proxy_register_shared_queue(ptr(name), name.len(), out) })
}

pub(crate) fn resolve_shared_queue(vm_id: &[u8], name: &[u8]) -> Result<u32> {
    // SAFETY: the slices are valid for their lengths; the out-pointer is a live local.
    value_out(|out| unsafe { proxy_resolve_shared_queue(ptr(vm_id), vm_id.len(), ptr(name), name.len(), out) })
}

pub(crate) fn enqueue_shared_queue(queue_id: u32, value: &[u8]) -> Result<()> {
    // SAFETY: the slice is valid for its length.
    Error::check(unsafe { proxy_enqueue_shared_queue(queue_id, ptr(value), value.len()) })
}

pub(crate) fn dequeue_shared_queue(queue_id: u32) -> Result<Vec<u8>> {
    // SAFETY: the out-pointers are live locals.
    bytes_out(|data, size| unsafe { proxy_dequeue_shared_queue(queue_id, data, size) })
}

pub(crate) fn define_metric(metric_type: u32, name: &[u8]) -> Result<u32> {
    // SAFETY: the slice is valid for its length; the out-pointer is a live local.
    value_out(|out| unsafe { proxy_define_metric(metric_type, ptr(name), name.len(), out) })
}

pub(crate) fn record_metric(metric_id: u32, value: u64) -> Result<()> {
    // SAFETY: no pointers.
    Error::check(unsafe { proxy_record_metric(metric_id, value) })
}

pub(crate) fn increment_metric(metric_id: u32, delta: i64) -> Result<()> {
    // SAFETY: no pointers.
    Error::check(unsafe { proxy_increment_metric(metric_id, delta) })
}

pub(crate) fn get_metric(metric_id: u32) -> Result<u64> {
    // SAFETY: the out-pointer is a live local.
    value_out(|out| unsafe { proxy_get_metric(metric_id, out) })
}

pub(crate) fn get_property(path: &[u8]) -> Result<Vec<u8>> {
    // SAFETY: the slice is valid for its length; the out-pointers are live locals.
    bytes_out(|data, size| unsafe { proxy_get_property(ptr(path), path.len(), data, size) })
}

pub(crate) fn set_property(path: &[u8], value: &[u8]) -> Result<()> {
    // SAFETY: the slices are valid for their lengths.
    Error::check(unsafe { proxy_set_property(ptr(path), path.len(), ptr(value), value.len()) })
}

pub(crate) fn call_foreign_function(name: &[u8], arguments: &[u8]) -> Result<Vec<u8>> {
    // SAFETY: the slices are valid for their lengths; the out-pointers are live locals.
    bytes_out(|data, size| unsafe {
        proxy_call_foreign_function(ptr(name), name.len(), ptr(arguments), arguments.len(), data, size)
    })
}
