//! Stream control of the current context: resume, close, local replies.

use alloc::vec::Vec;

use crate::error::Result;
use crate::ffi;
use crate::map;
use crate::types::{GrpcStatus, StreamType};

/// Resumes a paused direction of the current stream.
pub fn resume(stream: StreamType) -> Result<()> {
    ffi::continue_stream(stream.into())
}

/// Closes (resets) a direction of the current stream.
pub fn close(stream: StreamType) -> Result<()> {
    ffi::close_stream(stream.into())
}

/// Resumes the paused request of the current HTTP stream.
pub fn resume_http_request() -> Result<()> {
    resume(StreamType::HttpRequest)
}

/// Resumes the paused response of the current HTTP stream.
pub fn resume_http_response() -> Result<()> {
    resume(StreamType::HttpResponse)
}

/// A local HTTP reply, sent instead of forwarding the request upstream.
///
/// ```no_run
/// use sluice::GrpcStatus;
/// use sluice::stream::LocalResponse;
///
/// LocalResponse::new(403).header("content-type", "text/plain").body("denied").send()?;
/// // A reply to a gRPC request, which its client reads as PERMISSION_DENIED.
/// LocalResponse::new(200).grpc_status(GrpcStatus::PermissionDenied).send()?;
/// # Ok::<(), sluice::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LocalResponse {
    status_code: u16,
    details: Vec<u8>,
    body: Vec<u8>,
    headers: map::Builder,
    grpc_status: Option<GrpcStatus>,
}

impl LocalResponse {
    /// A reply with an HTTP status code.
    pub fn new(status_code: u16) -> LocalResponse {
        LocalResponse { status_code, ..LocalResponse::default() }
    }

    /// The body.
    pub fn body(mut self, body: impl AsRef<[u8]>) -> LocalResponse {
        self.body = body.as_ref().to_vec();
        self
    }

    /// Adds a header.
    pub fn header(mut self, name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> LocalResponse {
        self.headers.push(name.as_ref(), value.as_ref());
        self
    }

    /// The status details the host records (Envoy: `response_code_details`).
    pub fn details(mut self, details: impl AsRef<[u8]>) -> LocalResponse {
        self.details = details.as_ref().to_vec();
        self
    }

    /// Makes it a gRPC reply with this gRPC status (a raw code converts with
    /// [`GrpcStatus::try_from`]).
    pub fn grpc_status(mut self, status: GrpcStatus) -> LocalResponse {
        self.grpc_status = Some(status);
        self
    }

    /// Sends it. The host stops the stream's iteration.
    pub fn send(&self) -> Result<()> {
        let headers = self.headers.finish()?;
        // -1 tells the host that this is not a gRPC reply; gRPC codes are 0..=16.
        let grpc = self.grpc_status.map_or(-1, |s| s as i32);
        ffi::send_local_response(self.status_code.into(), &self.details, &self.body, &headers, grpc)
    }
}
