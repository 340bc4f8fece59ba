//! Byte buffers: bodies, TCP data, call responses, configuration, foreign
//! function arguments.

use alloc::vec::Vec;

pub use sluice_abi::BufferStatus;

use crate::error::Result;
use crate::ffi;
use crate::types::BufferType;

/// One of the host's byte buffers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Buffer(BufferType);

/// The request body (in `on_request_body`).
pub const REQUEST_BODY: Buffer = Buffer(BufferType::HttpRequestBody);
/// The response body (in `on_response_body`).
pub const RESPONSE_BODY: Buffer = Buffer(BufferType::HttpResponseBody);
/// Downstream data (in `on_downstream_data`).
pub const DOWNSTREAM_DATA: Buffer = Buffer(BufferType::DownstreamData);
/// Upstream data (in `on_upstream_data`).
pub const UPSTREAM_DATA: Buffer = Buffer(BufferType::UpstreamData);
/// The body of an HTTP call's response being delivered.
pub const HTTP_CALL_RESPONSE_BODY: Buffer = Buffer(BufferType::HttpCallResponseBody);
/// A gRPC message being delivered.
pub const GRPC_MESSAGE: Buffer = Buffer(BufferType::GrpcReceiveBuffer);

impl Buffer {
    /// The buffer of the given type.
    pub const fn new(buffer_type: BufferType) -> Buffer {
        Buffer(buffer_type)
    }

    /// Which buffer this is.
    pub const fn buffer_type(self) -> BufferType {
        self.0
    }

    fn id(self) -> u32 {
        self.0.into()
    }

    /// Up to `max_size` bytes from `start` (the host clamps to the buffer).
    pub fn get(self, start: usize, max_size: usize) -> Result<Vec<u8>> {
        ffi::get_buffer_bytes(self.id(), start, max_size)
    }

    /// The whole buffer.
    pub fn get_all(self) -> Result<Vec<u8>> {
        self.get(0, usize::MAX)
    }

    /// The buffer's size and flags (`proxy_get_buffer_status`).
    pub fn status(self) -> Result<BufferStatus> {
        ffi::get_buffer_status(self.id())
    }

    /// Replaces `size` bytes at `start` with `value` (`start` at or past the
    /// end appends; `start = 0, size = 0` prepends).
    pub fn set(self, start: usize, size: usize, value: impl AsRef<[u8]>) -> Result<()> {
        ffi::set_buffer_bytes(self.id(), start, size, value.as_ref())
    }

    /// Replaces the whole content.
    pub fn replace_all(self, value: impl AsRef<[u8]>) -> Result<()> {
        self.set(0, usize::MAX, value)
    }

    /// Appends `value`.
    pub fn append(self, value: impl AsRef<[u8]>) -> Result<()> {
        self.set(usize::MAX, 0, value)
    }

    /// Prepends `value`.
    pub fn prepend(self, value: impl AsRef<[u8]>) -> Result<()> {
        self.set(0, 0, value)
    }
}
