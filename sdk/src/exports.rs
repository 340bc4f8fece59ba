//! Every symbol the module exports to the host (wasm only): the ABI version
//! marker, the allocator, and one function per callback, each forwarding to
//! the dispatcher. `bool`s arrive as integers and are compared with zero.

use core::alloc::Layout;
use core::ptr::NonNull;

use crate::dispatcher::{self, callouts};

/// The ABI version marker (`proxy_abi_version_0_2_1`); never called.
#[unsafe(no_mangle)]
pub extern "C" fn proxy_abi_version_0_2_1() {}

/// Allocates `size` bytes for the host to copy data into. The plugin takes
/// ownership of the memory with `Vec::from_raw_parts(ptr, size, size)`, so
/// the layout is that of a `Vec<u8>` of capacity `size`.
#[unsafe(no_mangle)]
pub extern "C" fn proxy_on_memory_allocate(size: usize) -> *mut u8 {
    match Layout::array::<u8>(size) {
        Ok(_) if size == 0 => NonNull::<u8>::dangling().as_ptr(),
        // SAFETY: the layout has a non-zero size.
        Ok(layout) => unsafe { alloc::alloc::alloc(layout) },
        Err(_) => core::ptr::null_mut(),
    }
}

/// `malloc`, which the reference host looks up before `proxy_on_memory_allocate`.
/// Only on wasm32-unknown-unknown: on wasm32-wasip1 wasi-libc defines `malloc`.
#[cfg(target_os = "unknown")]
#[unsafe(no_mangle)]
pub extern "C" fn malloc(size: usize) -> *mut u8 {
    proxy_on_memory_allocate(size)
}

/// Runs once when the module is loaded, before any callback (called by the
/// `_initialize` that [`main!`](crate::main) defines).
#[doc(hidden)]
pub fn initialize() {
    #[cfg(target_os = "wasi")]
    {
        unsafe extern "C" {
            fn __wasm_call_ctors();
        }
        // SAFETY: the linker-generated constructor runner; called once, first,
        // as a WASI reactor's `_initialize` must (wasi-libc sets up its state there).
        unsafe { __wasm_call_ctors() };
    }
    // Without the feature the SDK has no std to install a hook with: a
    // plugin linking std must enable `std` (see the `panic` module), a
    // `#![no_std]` one `panic-handler`.
    #[cfg(feature = "std")]
    crate::runtime::install_panic_hook();
}

#[unsafe(no_mangle)]
extern "C" fn proxy_on_context_create(context_id: u32, parent_context_id: u32) {
    dispatcher::on_context_create(context_id, parent_context_id);
}

#[unsafe(no_mangle)]
extern "C" fn proxy_on_vm_start(root_context_id: u32, vm_configuration_size: usize) -> u32 {
    dispatcher::on_vm_start(root_context_id, vm_configuration_size).into()
}

#[unsafe(no_mangle)]
extern "C" fn proxy_on_configure(root_context_id: u32, plugin_configuration_size: usize) -> u32 {
    dispatcher::on_configure(root_context_id, plugin_configuration_size).into()
}

#[unsafe(no_mangle)]
extern "C" fn proxy_on_tick(root_context_id: u32) {
    dispatcher::on_tick(root_context_id);
}

#[unsafe(no_mangle)]
extern "C" fn proxy_on_queue_ready(root_context_id: u32, queue_id: u32) {
    dispatcher::on_queue_ready(root_context_id, queue_id);
}

#[unsafe(no_mangle)]
extern "C" fn proxy_on_foreign_function(root_context_id: u32, function_id: u32, arguments_size: usize) {
    dispatcher::on_foreign_function(root_context_id, function_id, arguments_size);
}

#[unsafe(no_mangle)]
extern "C" fn proxy_on_done(context_id: u32) -> u32 {
    dispatcher::on_done(context_id).into()
}

#[unsafe(no_mangle)]
extern "C" fn proxy_on_log(context_id: u32) {
    dispatcher::on_log(context_id);
}

#[unsafe(no_mangle)]
extern "C" fn proxy_on_delete(context_id: u32) {
    dispatcher::on_delete(context_id);
}

#[unsafe(no_mangle)]
extern "C" fn proxy_on_new_connection(context_id: u32) -> u32 {
    dispatcher::on_new_connection(context_id)
}

#[unsafe(no_mangle)]
extern "C" fn proxy_on_downstream_data(context_id: u32, data_size: usize, end_of_stream: u32) -> u32 {
    dispatcher::on_downstream_data(context_id, data_size, end_of_stream != 0)
}

#[unsafe(no_mangle)]
extern "C" fn proxy_on_downstream_connection_close(context_id: u32, peer_type: u32) {
    dispatcher::on_downstream_connection_close(context_id, peer_type);
}

#[unsafe(no_mangle)]
extern "C" fn proxy_on_upstream_data(context_id: u32, data_size: usize, end_of_stream: u32) -> u32 {
    dispatcher::on_upstream_data(context_id, data_size, end_of_stream != 0)
}

#[unsafe(no_mangle)]
extern "C" fn proxy_on_upstream_connection_close(context_id: u32, peer_type: u32) {
    dispatcher::on_upstream_connection_close(context_id, peer_type);
}

#[unsafe(no_mangle)]
extern "C" fn proxy_on_request_headers(context_id: u32, num_headers: usize, end_of_stream: u32) -> u32 {
    dispatcher::on_request_headers(context_id, num_headers, end_of_stream != 0)
}

#[unsafe(no_mangle)]
extern "C" fn proxy_on_request_body(context_id: u32, body_size: usize, end_of_stream: u32) -> u32 {
    dispatcher::on_request_body(context_id, body_size, end_of_stream != 0)
}

#[unsafe(no_mangle)]
extern "C" fn proxy_on_request_trailers(context_id: u32, num_trailers: usize) -> u32 {
    dispatcher::on_request_trailers(context_id, num_trailers)
}

#[unsafe(no_mangle)]
extern "C" fn proxy_on_response_headers(context_id: u32, num_headers: usize, end_of_stream: u32) -> u32 {
    dispatcher::on_response_headers(context_id, num_headers, end_of_stream != 0)
}

#[unsafe(no_mangle)]
extern "C" fn proxy_on_response_body(context_id: u32, body_size: usize, end_of_stream: u32) -> u32 {
    dispatcher::on_response_body(context_id, body_size, end_of_stream != 0)
}

#[unsafe(no_mangle)]
extern "C" fn proxy_on_response_trailers(context_id: u32, num_trailers: usize) -> u32 {
    dispatcher::on_response_trailers(context_id, num_trailers)
}

#[unsafe(no_mangle)]
extern "C" fn proxy_on_http_call_response(
    context_id: u32,
    call_id: u32,
    num_headers: usize,
    body_size: usize,
    num_trailers: usize,
) {
    callouts::on_http_call_response(context_id, call_id, num_headers, body_size, num_trailers);
}

#[unsafe(no_mangle)]
extern "C" fn proxy_on_grpc_receive_initial_metadata(context_id: u32, call_id: u32, num_elements: usize) {
    callouts::on_grpc_receive_initial_metadata(context_id, call_id, num_elements);
}

#[unsafe(no_mangle)]
extern "C" fn proxy_on_grpc_receive(context_id: u32, call_id: u32, message_size: usize) {
    callouts::on_grpc_receive(context_id, call_id, message_size);
}

#[unsafe(no_mangle)]
extern "C" fn proxy_on_grpc_receive_trailing_metadata(context_id: u32, call_id: u32, num_elements: usize) {
    callouts::on_grpc_receive_trailing_metadata(context_id, call_id, num_elements);
}

#[unsafe(no_mangle)]
extern "C" fn proxy_on_grpc_close(context_id: u32, call_id: u32, status_code: u32) {
    callouts::on_grpc_close(context_id, call_id, status_code);
}
