//! The host function table for native builds.

use alloc::vec::Vec;

use crate::types::Status;

/// What a [`Host`] method returns: a value, or the raw status code the plugin
/// sees (any `u32`, so a test can also return codes the SDK does not know).
pub type HostResult<T> = core::result::Result<T, u32>;

const UNIMPLEMENTED: u32 = Status::Unimplemented as u32;

/// The 39 `env.proxy_*` host functions of ABI v0.2.1, as an in-process host
/// implements them.
///
/// On native targets every hostcall the SDK makes goes through the `Host`
/// installed for the current plugin instance (see [`Instance`](super::Instance)).
/// Inputs arrive as slices; byte outputs are returned as `Vec<u8>` and the SDK
/// takes ownership of them exactly as it takes ownership of host-allocated
/// memory on wasm. Enumerations arrive as raw `u32`, as on the wire.
///
/// Every method has a default body that answers `UNIMPLEMENTED` (12), the
/// status a real host gives for a function it does not offer, so a test host
/// implements only what its plugin calls.
#[allow(unused_variables)]
pub trait Host {
    /// `proxy_log`
    fn log(&self, level: u32, message: &[u8]) -> HostResult<()> {
        Err(UNIMPLEMENTED)
    }
    /// `proxy_get_log_level`
    fn get_log_level(&self) -> HostResult<u32> {
        Err(UNIMPLEMENTED)
    }
    /// `proxy_get_current_time_nanoseconds`
    fn get_current_time_nanoseconds(&self) -> HostResult<u64> {
        Err(UNIMPLEMENTED)
    }
    /// `proxy_set_tick_period_milliseconds`
    fn set_tick_period_milliseconds(&self, period: u32) -> HostResult<()> {
        Err(UNIMPLEMENTED)
    }
    /// `proxy_done`
    fn done(&self) -> HostResult<()> {
        Err(UNIMPLEMENTED)
    }
    /// `proxy_set_effective_context`
    fn set_effective_context(&self, context_id: u32) -> HostResult<()> {
        Err(UNIMPLEMENTED)
    }
    /// `proxy_set_buffer_bytes`
    fn set_buffer_bytes(&self, buffer_type: u32, start: usize, size: usize, value: &[u8]) -> HostResult<()> {
        Err(UNIMPLEMENTED)
    }
    /// `proxy_get_buffer_bytes`
    fn get_buffer_bytes(&self, buffer_type: u32, start: usize, max_size: usize) -> HostResult<Vec<u8>> {
        Err(UNIMPLEMENTED)
    }
    /// `proxy_get_buffer_status`: the buffer's size and flags word.
    fn get_buffer_status(&self, buffer_type: u32) -> HostResult<(usize, u32)> {
        Err(UNIMPLEMENTED)
    }
    /// `proxy_get_header_map_size`
    fn get_header_map_size(&self, map_type: u32) -> HostResult<usize> {
        Err(UNIMPLEMENTED)
    }
    /// `proxy_get_header_map_pairs`: the serialized map.
    fn get_header_map_pairs(&self, map_type: u32) -> HostResult<Vec<u8>> {
        Err(UNIMPLEMENTED)
    }
    /// `proxy_set_header_map_pairs`
    fn set_header_map_pairs(&self, map_type: u32, serialized: &[u8]) -> HostResult<()> {
        Err(UNIMPLEMENTED)
    }
    /// `proxy_get_header_map_value`
    fn get_header_map_value(&self, map_type: u32, key: &[u8]) -> HostResult<Vec<u8>> {
        Err(UNIMPLEMENTED)
    }
    /// `proxy_add_header_map_value`
    fn add_header_map_value(&self, map_type: u32, key: &[u8], value: &[u8]) -> HostResult<()> {
        Err(UNIMPLEMENTED)
    }
    /// `proxy_replace_header_map_value`
    fn replace_header_map_value(&self, map_type: u32, key: &[u8], value: &[u8]) -> HostResult<()> {
        Err(UNIMPLEMENTED)
    }
    /// `proxy_remove_header_map_value`
    fn remove_header_map_value(&self, map_type: u32, key: &[u8]) -> HostResult<()> {
        Err(UNIMPLEMENTED)
    }
    /// `proxy_continue_stream`
    fn continue_stream(&self, stream_type: u32) -> HostResult<()> {
        Err(UNIMPLEMENTED)
    }
    /// `proxy_close_stream`
    fn close_stream(&self, stream_type: u32) -> HostResult<()> {
        Err(UNIMPLEMENTED)
    }
    /// `proxy_get_status`: code and message of the call being delivered.
    fn get_status(&self) -> HostResult<(u32, Vec<u8>)> {
        Err(UNIMPLEMENTED)
    }
    /// `proxy_send_local_response`
    fn send_local_response(
        &self,
        status_code: u32,
        details: &[u8],
        body: &[u8],
        serialized_headers: &[u8],
        grpc_status: i32,
    ) -> HostResult<()> {
        Err(UNIMPLEMENTED)
    }
    /// `proxy_http_call`: returns the call id.
    fn http_call(
        &self,
        upstream: &[u8],
        serialized_headers: &[u8],
        body: &[u8],
        serialized_trailers: &[u8],
        timeout_ms: u32,
    ) -> HostResult<u32> {
        Err(UNIMPLEMENTED)
    }
    /// `proxy_grpc_call`: returns the call id.
    fn grpc_call(
        &self,
        upstream: &[u8],
        service: &[u8],
        method: &[u8],
        serialized_initial_metadata: &[u8],
        message: &[u8],
        timeout_ms: u32,
    ) -> HostResult<u32> {
        Err(UNIMPLEMENTED)
    }
    /// `proxy_grpc_stream`: returns the stream id.
    fn grpc_stream(
        &self,
        upstream: &[u8],
        service: &[u8],
        method: &[u8],
        serialized_initial_metadata: &[u8],
    ) -> HostResult<u32> {
        Err(UNIMPLEMENTED)
    }
    /// `proxy_grpc_send`
    fn grpc_send(&self, stream_id: u32, message: &[u8], end_stream: bool) -> HostResult<()> {
        Err(UNIMPLEMENTED)
    }
    /// `proxy_grpc_cancel`
    fn grpc_cancel(&self, call_or_stream_id: u32) -> HostResult<()> {
        Err(UNIMPLEMENTED)
    }
    /// `proxy_grpc_close`
    fn grpc_close(&self, call_or_stream_id: u32) -> HostResult<()> {
        Err(UNIMPLEMENTED)
    }
    /// `proxy_set_shared_data`
    fn set_shared_data(&self, key: &[u8], value: &[u8], cas: u32) -> HostResult<()> {
        Err(UNIMPLEMENTED)
    }
    /// `proxy_get_shared_data`: value and cas.
    fn get_shared_data(&self, key: &[u8]) -> HostResult<(Vec<u8>, u32)> {
        Err(UNIMPLEMENTED)
    }
    /// `proxy_register_shared_queue`: returns the queue id.
    fn register_shared_queue(&self, name: &[u8]) -> HostResult<u32> {
        Err(UNIMPLEMENTED)
    }
    /// `proxy_resolve_shared_queue`: returns the queue id.
    fn resolve_shared_queue(&self, vm_id: &[u8], name: &[u8]) -> HostResult<u32> {
        Err(UNIMPLEMENTED)
    }
    /// `proxy_enqueue_shared_queue`
    fn enqueue_shared_queue(&self, queue_id: u32, value: &[u8]) -> HostResult<()> {
        Err(UNIMPLEMENTED)
    }
    /// `proxy_dequeue_shared_queue`
    fn dequeue_shared_queue(&self, queue_id: u32) -> HostResult<Vec<u8>> {
        Err(UNIMPLEMENTED)
    }
    /// `proxy_define_metric`: returns the metric id.
    fn define_metric(&self, metric_type: u32, name: &[u8]) -> HostResult<u32> {
        Err(UNIMPLEMENTED)
    }
    /// `proxy_record_metric`
    fn record_metric(&self, metric_id: u32, value: u64) -> HostResult<()> {
        Err(UNIMPLEMENTED)
    }
    /// `proxy_increment_metric`
    fn increment_metric(&self, metric_id: u32, delta: i64) -> HostResult<()> {
        Err(UNIMPLEMENTED)
    }
    /// `proxy_get_metric`
    fn get_metric(&self, metric_id: u32) -> HostResult<u64> {
        Err(UNIMPLEMENTED)
    }
    /// `proxy_get_property`: the encoded value.
    fn get_property(&self, path: &[u8]) -> HostResult<Vec<u8>> {
        Err(UNIMPLEMENTED)
    }
    /// `proxy_set_property`
    fn set_property(&self, path: &[u8], value: &[u8]) -> HostResult<()> {
        Err(UNIMPLEMENTED)
    }
    /// `proxy_call_foreign_function`: the results.
    fn call_foreign_function(&self, name: &[u8], arguments: &[u8]) -> HostResult<Vec<u8>> {
        Err(UNIMPLEMENTED)
    }
}
