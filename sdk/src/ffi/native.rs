//! Native implementations of the `env.proxy_*` functions: each converts its
//! pointers to slices, calls the current thread's [`Host`] and writes the
//! outputs back exactly as a wasm host writes them into guest memory (returned
//! bytes become an allocation owned by the caller).

use alloc::boxed::Box;
use alloc::vec::Vec;

use crate::native::{Host, HostResult, current_host};
use crate::types::Status;

/// Calls the installed host, or answers `UNIMPLEMENTED` when none is installed.
/// While the host runs, the SDK's logger ignores records (the host's own
/// `log` output must not loop back into `proxy_log`).
fn with_host<T>(f: impl FnOnce(&dyn Host) -> HostResult<T>) -> HostResult<T> {
    match current_host() {
        Some(host) => crate::native::in_host_call(|| f(&*host)),
        None => Err(Status::Unimplemented as u32),
    }
}

fn code(result: HostResult<()>) -> u32 {
    result.err().unwrap_or(0)
}

/// # Safety
/// `data` must be valid for reads of `size` bytes unless `size` is 0.
unsafe fn input<'a>(data: *const u8, size: usize) -> &'a [u8] {
    if size == 0 || data.is_null() {
        &[]
    } else {
        // SAFETY: the caller guarantees `data` is readable for `size` bytes.
        unsafe { core::slice::from_raw_parts(data, size) }
    }
}

/// Writes `value` through an output pointer the caller provided, the way a
/// host writes into guest memory.
///
/// # Safety
/// `out` must be valid for a write of `T`.
unsafe fn put<T>(out: *mut T, value: T) {
    // SAFETY: the caller guarantees `out` is writable.
    unsafe { out.write(value) }
}

/// Hands `bytes` to the caller as an allocation it owns (`ptr = 0, size = 0`
/// when empty, as the reference host does), then stores the status.
///
/// # Safety
/// `data` and `size` must be valid for writes.
unsafe fn put_bytes(result: HostResult<Vec<u8>>, data: *mut *mut u8, size: *mut usize) -> u32 {
    match result {
        Ok(bytes) => {
            let len = bytes.len();
            let ptr =
                if len == 0 { core::ptr::null_mut() } else { Box::into_raw(bytes.into_boxed_slice()).cast::<u8>() };
            // SAFETY: the caller guarantees both output pointers are writable.
            unsafe {
                put(data, ptr);
                put(size, len);
            }
            0
        }
        Err(status) => status,
    }
}

/// Stores a scalar result and returns the status.
///
/// # Safety
/// `out` must be valid for a write of `T`.
unsafe fn put_value<T>(result: HostResult<T>, out: *mut T) -> u32 {
    match result {
        Ok(value) => {
            // SAFETY: the caller guarantees `out` is writable.
            unsafe { put(out, value) };
            0
        }
        Err(status) => status,
    }
}

// Each function below has the contract of the wasm import of the same name:
// every pointer/size pair is readable and every return pointer writable.

pub(crate) unsafe fn proxy_log(level: u32, message_data: *const u8, message_size: usize) -> u32 {
    // SAFETY: see the contract above.
    let message = unsafe { input(message_data, message_size) };
    code(with_host(|h| h.log(level, message)))
}

pub(crate) unsafe fn proxy_get_log_level(return_level: *mut u32) -> u32 {
    // SAFETY: see the contract above.
    unsafe { put_value(with_host(|h| h.get_log_level()), return_level) }
}

pub(crate) unsafe fn proxy_get_current_time_nanoseconds(return_time: *mut u64) -> u32 {
    // SAFETY: see the contract above.
    unsafe { put_value(with_host(|h| h.get_current_time_nanoseconds()), return_time) }
}

pub(crate) unsafe fn proxy_set_tick_period_milliseconds(period: u32) -> u32 {
    code(with_host(|h| h.set_tick_period_milliseconds(period)))
}

pub(crate) unsafe fn proxy_done() -> u32 {
    code(with_host(|h| h.done()))
}

pub(crate) unsafe fn proxy_set_effective_context(context_id: u32) -> u32 {
    code(with_host(|h| h.set_effective_context(context_id)))
}

pub(crate) unsafe fn proxy_set_buffer_bytes(
    buffer_type: u32,
    start: usize,
    size: usize,
    value_data: *const u8,
    value_size: usize,
) -> u32 {
    // SAFETY: see the contract above.
    let value = unsafe { input(value_data, value_size) };
    code(with_host(|h| h.set_buffer_bytes(buffer_type, start, size, value)))
}

pub(crate) unsafe fn proxy_get_buffer_bytes(
    buffer_type: u32,
    start: usize,
    max_size: usize,
    return_data: *mut *mut u8,
    return_size: *mut usize,
) -> u32 {
    // SAFETY: see the contract above.
    unsafe { put_bytes(with_host(|h| h.get_buffer_bytes(buffer_type, start, max_size)), return_data, return_size) }
}

pub(crate) unsafe fn proxy_get_buffer_status(buffer_type: u32, return_size: *mut usize, return_flags: *mut u32) -> u32 {
    match with_host(|h| h.get_buffer_status(buffer_type)) {
        Ok((size, flags)) => {
            // SAFETY: see the contract above.
            unsafe {
                put(return_size, size);
                put(return_flags, flags);
            }
            0
        }
        Err(status) => status,
    }
}

pub(crate) unsafe fn proxy_get_header_map_size(map_type: u32, return_size: *mut usize) -> u32 {
    // SAFETY: see the contract above.
    unsafe { put_value(with_host(|h| h.get_header_map_size(map_type)), return_size) }
}

pub(crate) unsafe fn proxy_get_header_map_pairs(
    map_type: u32,
    return_data: *mut *mut u8,
    return_size: *mut usize,
) -> u32 {
    // SAFETY: see the contract above.
    unsafe { put_bytes(with_host(|h| h.get_header_map_pairs(map_type)), return_data, return_size) }
}

pub(crate) unsafe fn proxy_set_header_map_pairs(map_type: u32, data: *const u8, size: usize) -> u32 {
    // SAFETY: see the contract above.
    let pairs = unsafe { input(data, size) };
    code(with_host(|h| h.set_header_map_pairs(map_type, pairs)))
}

pub(crate) unsafe fn proxy_get_header_map_value(
    map_type: u32,
    key_data: *const u8,
    key_size: usize,
    return_data: *mut *mut u8,
    return_size: *mut usize,
) -> u32 {
    // SAFETY: see the contract above.
    unsafe {
        let key = input(key_data, key_size);
        put_bytes(with_host(|h| h.get_header_map_value(map_type, key)), return_data, return_size)
    }
}

pub(crate) unsafe fn proxy_add_header_map_value(
    map_type: u32,
    key_data: *const u8,
    key_size: usize,
    value_data: *const u8,
    value_size: usize,
) -> u32 {
    // SAFETY: see the contract above.
    let (key, value) = unsafe { (input(key_data, key_size), input(value_data, value_size)) };
    code(with_host(|h| h.add_header_map_value(map_type, key, value)))
}

pub(crate) unsafe fn proxy_replace_header_map_value(
    map_type: u32,
    key_data: *const u8,
    key_size: usize,
    value_data: *const u8,
    value_size: usize,
) -> u32 {
    // SAFETY: see the contract above.
    let (key, value) = unsafe { (input(key_data, key_size), input(value_data, value_size)) };
    code(with_host(|h| h.replace_header_map_value(map_type, key, value)))
}

pub(crate) unsafe fn proxy_remove_header_map_value(map_type: u32, key_data: *const u8, key_size: usize) -> u32 {
    // SAFETY: see the contract above.
    let key = unsafe { input(key_data, key_size) };
    code(with_host(|h| h.remove_header_map_value(map_type, key)))
}

pub(crate) unsafe fn proxy_continue_stream(stream_type: u32) -> u32 {
    code(with_host(|h| h.continue_stream(stream_type)))
}

pub(crate) unsafe fn proxy_close_stream(stream_type: u32) -> u32 {
    code(with_host(|h| h.close_stream(stream_type)))
}

pub(crate) unsafe fn proxy_get_status(
    return_code: *mut u32,
    return_message_data: *mut *mut u8,
    return_message_size: *mut usize,
) -> u32 {
    match with_host(|h| h.get_status()) {
        // SAFETY: see the contract above.
        Ok((status, message)) => unsafe {
            put(return_code, status);
            put_bytes(Ok(message), return_message_data, return_message_size)
        },
        Err(status) => status,
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn proxy_send_local_response(
    status_code: u32,
    details_data: *const u8,
    details_size: usize,
    body_data: *const u8,
    body_size: usize,
    headers_data: *const u8,
    headers_size: usize,
    grpc_status: i32,
) -> u32 {
    // SAFETY: see the contract above.
    let (details, body, headers) =
        unsafe { (input(details_data, details_size), input(body_data, body_size), input(headers_data, headers_size)) };
    code(with_host(|h| h.send_local_response(status_code, details, body, headers, grpc_status)))
}

#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn proxy_http_call(
    upstream_data: *const u8,
    upstream_size: usize,
    headers_data: *const u8,
    headers_size: usize,
    body_data: *const u8,
    body_size: usize,
    trailers_data: *const u8,
    trailers_size: usize,
    timeout_ms: u32,
    return_call_id: *mut u32,
) -> u32 {
    // SAFETY: see the contract above.
    unsafe {
        let upstream = input(upstream_data, upstream_size);
        let headers = input(headers_data, headers_size);
        let body = input(body_data, body_size);
        let trailers = input(trailers_data, trailers_size);
        put_value(with_host(|h| h.http_call(upstream, headers, body, trailers, timeout_ms)), return_call_id)
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn proxy_grpc_call(
    upstream_data: *const u8,
    upstream_size: usize,
    service_data: *const u8,
    service_size: usize,
    method_data: *const u8,
    method_size: usize,
    metadata_data: *const u8,
    metadata_size: usize,
    message_data: *const u8,
    message_size: usize,
    timeout_ms: u32,
    return_call_id: *mut u32,
) -> u32 {
    // SAFETY: see the contract above.
    unsafe {
        let upstream = input(upstream_data, upstream_size);
        let service = input(service_data, service_size);
        let method = input(method_data, method_size);
        let metadata = input(metadata_data, metadata_size);
        let message = input(message_data, message_size);
        put_value(with_host(|h| h.grpc_call(upstream, service, method, metadata, message, timeout_ms)), return_call_id)
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn proxy_grpc_stream(
    upstream_data: *const u8,
    upstream_size: usize,
    service_data: *const u8,
    service_size: usize,
    method_data: *const u8,
    method_size: usize,
    metadata_data: *const u8,
    metadata_size: usize,
    return_stream_id: *mut u32,
) -> u32 {
    // SAFETY: see the contract above.
    unsafe {
        let upstream = input(upstream_data, upstream_size);
        let service = input(service_data, service_size);
        let method = input(method_data, method_size);
        let metadata = input(metadata_data, metadata_size);
        put_value(with_host(|h| h.grpc_stream(upstream, service, method, metadata)), return_stream_id)
    }
}

pub(crate) unsafe fn proxy_grpc_send(stream_id: u32, message_data: *const u8, message_size: usize, end: u32) -> u32 {
    // SAFETY: see the contract above.
    let message = unsafe { input(message_data, message_size) };
    code(with_host(|h| h.grpc_send(stream_id, message, end != 0)))
}

pub(crate) unsafe fn proxy_grpc_cancel(call_or_stream_id: u32) -> u32 {
    code(with_host(|h| h.grpc_cancel(call_or_stream_id)))
}

pub(crate) unsafe fn proxy_grpc_close(call_or_stream_id: u32) -> u32 {
    code(with_host(|h| h.grpc_close(call_or_stream_id)))
}

pub(crate) unsafe fn proxy_set_shared_data(
    key_data: *const u8,
    key_size: usize,
    value_data: *const u8,
    value_size: usize,
    cas: u32,
) -> u32 {
    // SAFETY: see the contract above.
    let (key, value) = unsafe { (input(key_data, key_size), input(value_data, value_size)) };
    code(with_host(|h| h.set_shared_data(key, value, cas)))
}

pub(crate) unsafe fn proxy_get_shared_data(
    key_data: *const u8,
    key_size: usize,
    return_data: *mut *mut u8,
    return_size: *mut usize,
    return_cas: *mut u32,
) -> u32 {
    // SAFETY: see the contract above.
    let key = unsafe { input(key_data, key_size) };
    match with_host(|h| h.get_shared_data(key)) {
        // SAFETY: see the contract above.
        Ok((value, cas)) => unsafe {
            put(return_cas, cas);
            put_bytes(Ok(value), return_data, return_size)
        },
        Err(status) => status,
    }
}

pub(crate) unsafe fn proxy_register_shared_queue(name_data: *const u8, name_size: usize, return_id: *mut u32) -> u32 {
    // SAFETY: see the contract above.
    unsafe {
        let name = input(name_data, name_size);
        put_value(with_host(|h| h.register_shared_queue(name)), return_id)
    }
}

pub(crate) unsafe fn proxy_resolve_shared_queue(
    vm_id_data: *const u8,
    vm_id_size: usize,
    name_data: *const u8,
    name_size: usize,
    return_id: *mut u32,
) -> u32 {
    // SAFETY: see the contract above.
    unsafe {
        let (vm_id, name) = (input(vm_id_data, vm_id_size), input(name_data, name_size));
        put_value(with_host(|h| h.resolve_shared_queue(vm_id, name)), return_id)
    }
}

pub(crate) unsafe fn proxy_enqueue_shared_queue(queue_id: u32, value_data: *const u8, value_size: usize) -> u32 {
    // SAFETY: see the contract above.
    let value = unsafe { input(value_data, value_size) };
    code(with_host(|h| h.enqueue_shared_queue(queue_id, value)))
}

pub(crate) unsafe fn proxy_dequeue_shared_queue(
    queue_id: u32,
    return_data: *mut *mut u8,
    return_size: *mut usize,
) -> u32 {
    // SAFETY: see the contract above.
    unsafe { put_bytes(with_host(|h| h.dequeue_shared_queue(queue_id)), return_data, return_size) }
}

pub(crate) unsafe fn proxy_define_metric(
    metric_type: u32,
    name_data: *const u8,
    name_size: usize,
    return_id: *mut u32,
) -> u32 {
    // SAFETY: see the contract above.
    unsafe {
        let name = input(name_data, name_size);
        put_value(with_host(|h| h.define_metric(metric_type, name)), return_id)
    }
}

pub(crate) unsafe fn proxy_record_metric(metric_id: u32, value: u64) -> u32 {
    code(with_host(|h| h.record_metric(metric_id, value)))
}

pub(crate) unsafe fn proxy_increment_metric(metric_id: u32, delta: i64) -> u32 {
    code(with_host(|h| h.increment_metric(metric_id, delta)))
}

pub(crate) unsafe fn proxy_get_metric(metric_id: u32, return_value: *mut u64) -> u32 {
    // SAFETY: see the contract above.
    unsafe { put_value(with_host(|h| h.get_metric(metric_id)), return_value) }
}

pub(crate) unsafe fn proxy_get_property(
    path_data: *const u8,
    path_size: usize,
    return_data: *mut *mut u8,
    return_size: *mut usize,
) -> u32 {
    // SAFETY: see the contract above.
    unsafe {
        let path = input(path_data, path_size);
        put_bytes(with_host(|h| h.get_property(path)), return_data, return_size)
    }
}

pub(crate) unsafe fn proxy_set_property(
    path_data: *const u8,
    path_size: usize,
    value_data: *const u8,
    value_size: usize,
) -> u32 {
    // SAFETY: see the contract above.
    let (path, value) = unsafe { (input(path_data, path_size), input(value_data, value_size)) };
    code(with_host(|h| h.set_property(path, value)))
}

pub(crate) unsafe fn proxy_call_foreign_function(
    name_data: *const u8,
    name_size: usize,
    arguments_data: *const u8,
    arguments_size: usize,
    return_data: *mut *mut u8,
    return_size: *mut usize,
) -> u32 {
    // SAFETY: see the contract above.
    unsafe {
        let (name, arguments) = (input(name_data, name_size), input(arguments_data, arguments_size));
        put_bytes(with_host(|h| h.call_foreign_function(name, arguments)), return_data, return_size)
    }
}
