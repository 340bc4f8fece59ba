//! gRPC callouts: unary calls and bidirectional streams whose events are
//! delivered to a handler with `&mut` access to the context that should
//! receive them (see [`http`](crate::http) for the model).
//!
//! A unary call gives back a [`GrpcCallId`], a stream a [`GrpcStream`]; both
//! are the host's ids in one namespace (separate from HTTP calls).

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::any::Any;
use core::time::Duration;

use crate::buffers;
use crate::context::{self, ContextHandle};
use crate::dispatcher::callouts::{self, Callback, Token};
use crate::error::Result;
use crate::ffi;
use crate::headers;
use crate::http::{DEFAULT_TIMEOUT, millis};
use crate::map::{self, Pairs};
use crate::types::{GrpcStatus, Status, UnknownValue};

/// A received gRPC message; its bytes are read on demand during the handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GrpcMessage {
    size: usize,
}

impl GrpcMessage {
    pub(crate) fn new(size: usize) -> GrpcMessage {
        GrpcMessage { size }
    }

    /// The message size.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The serialized message.
    pub fn bytes(&self) -> Result<Vec<u8>> {
        if self.size == 0 { Ok(Vec::new()) } else { buffers::GRPC_MESSAGE.get(0, self.size) }
    }
}

/// The end of a gRPC call or stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GrpcClose {
    code: u32,
}

impl GrpcClose {
    pub(crate) fn new(code: u32) -> GrpcClose {
        GrpcClose { code }
    }

    /// The raw gRPC status code.
    pub fn code(&self) -> u32 {
        self.code
    }

    /// The gRPC status, or the unknown raw value.
    pub fn status(&self) -> core::result::Result<GrpcStatus, UnknownValue> {
        GrpcStatus::try_from(self.code)
    }

    /// The status message (`proxy_get_status`).
    pub fn message(&self) -> Result<Vec<u8>> {
        ffi::get_status().map(|status| status.message)
    }
}

/// What a unary call's handler receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrpcReply {
    /// The response message.
    Message(GrpcMessage),
    /// The call failed or was closed without a message.
    Closed(GrpcClose),
}

/// What a stream's handler receives, once per event; `Close` is the last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrpcEvent {
    /// Initial metadata arrived; read it with [`metadata`](GrpcEvent::metadata).
    InitialMetadata {
        /// How many entries.
        count: usize,
    },
    /// A message arrived.
    Message(GrpcMessage),
    /// Trailing metadata arrived; read it with [`metadata`](GrpcEvent::metadata).
    TrailingMetadata {
        /// How many entries.
        count: usize,
    },
    /// The stream ended.
    Close(GrpcClose),
}

impl GrpcEvent {
    /// The metadata of a metadata event (empty for other events).
    pub fn metadata(&self) -> Result<Pairs> {
        match self {
            GrpcEvent::InitialMetadata { count } if *count > 0 => headers::GRPC_INITIAL_METADATA.pairs(),
            GrpcEvent::TrailingMetadata { count } if *count > 0 => headers::GRPC_TRAILING_METADATA.pairs(),
            _ => Ok(Pairs::new()),
        }
    }
}

/// A gRPC request: the service and method, initial metadata, and for a unary
/// call the serialized request message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrpcCall {
    upstream: Vec<u8>,
    service: Vec<u8>,
    method: Vec<u8>,
    metadata: map::Builder,
    timeout: Duration,
}

impl GrpcCall {
    /// A call of `service`/`method` on `upstream` (Envoy: a cluster name or
    /// a serialized `GrpcService`).
    pub fn new(upstream: impl AsRef<[u8]>, service: impl AsRef<[u8]>, method: impl AsRef<[u8]>) -> GrpcCall {
        GrpcCall {
            upstream: upstream.as_ref().to_vec(),
            service: service.as_ref().to_vec(),
            method: method.as_ref().to_vec(),
            metadata: map::Builder::default(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Adds initial metadata.
    pub fn metadata(mut self, name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> GrpcCall {
        self.metadata.push(name.as_ref(), value.as_ref());
        self
    }

    /// Sets the timeout of a unary call (default [`DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> GrpcCall {
        self.timeout = timeout;
        self
    }

    fn serialized_metadata(&self) -> Result<Vec<u8>> {
        self.metadata.finish()
    }

    /// Sends a unary call with `message`; `handler` receives the reply with
    /// the current context, which must be a `C`.
    pub fn dispatch<C, F>(self, message: &[u8], handler: F) -> Result<GrpcCallId>
    where
        C: Any,
        F: FnOnce(&mut C, GrpcReply) + 'static,
    {
        self.dispatch_to(ContextHandle::current(), message, handler)
    }

    /// Sends a unary call whose reply goes to context `target` (a `C`).
    pub fn dispatch_to<C, F>(self, target: ContextHandle, message: &[u8], handler: F) -> Result<GrpcCallId>
    where
        C: Any,
        F: FnOnce(&mut C, GrpcReply) + 'static,
    {
        let target = target.id();
        callouts::check_target::<C>(target)?;
        let metadata = self.serialized_metadata()?;
        let token =
            ffi::grpc_call(&self.upstream, &self.service, &self.method, &metadata, message, millis(self.timeout))?;
        let callback: callouts::Handler<GrpcReply> = Box::new(move |ctx, via, reply| {
            if let Some(ctx) = ctx.downcast_mut::<C>() {
                context::deliver(via, target, || handler(ctx, reply));
            }
        });
        callouts::register(Token::Grpc(token), target, Callback::GrpcCall(callback));
        Ok(GrpcCallId(token))
    }

    /// Opens a stream; `handler` receives every event with the current
    /// context, which must be a `C`.
    pub fn open_stream<C, F>(self, handler: F) -> Result<GrpcStream>
    where
        C: Any,
        F: FnMut(&mut C, GrpcEvent) + 'static,
    {
        self.open_stream_to(ContextHandle::current(), handler)
    }

    /// Opens a stream whose events go to context `target` (a `C`).
    pub fn open_stream_to<C, F>(self, target: ContextHandle, mut handler: F) -> Result<GrpcStream>
    where
        C: Any,
        F: FnMut(&mut C, GrpcEvent) + 'static,
    {
        let target = target.id();
        callouts::check_target::<C>(target)?;
        let metadata = self.serialized_metadata()?;
        let token = ffi::grpc_stream(&self.upstream, &self.service, &self.method, &metadata)?;
        let callback: callouts::StreamHandler = Box::new(move |ctx, via, event| {
            if let Some(ctx) = ctx.downcast_mut::<C>() {
                context::deliver(via, target, || handler(ctx, event));
            }
        });
        callouts::register(Token::Grpc(token), target, Callback::GrpcStream(callback));
        Ok(GrpcStream(token))
    }
}

/// A sent unary gRPC call: the id the host gave it (`proxy_grpc_call`), under
/// which it delivers the reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct GrpcCallId(u32);

impl GrpcCallId {
    /// The call with this id.
    pub const fn from_id(id: u32) -> GrpcCallId {
        GrpcCallId(id)
    }

    /// The id (for logging, or to match the host's records).
    pub const fn id(self) -> u32 {
        self.0
    }

    /// Cancels the call. The host delivers nothing more for it (Envoy
    /// resets it without a callback), so its handler is dropped.
    pub fn cancel(self) -> Result<()> {
        cancel(self.0)
    }
}

/// An open gRPC stream: the id the host gave it (`proxy_grpc_stream`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct GrpcStream(u32);

impl GrpcStream {
    /// The stream with this id (a handler that cancels its own stream
    /// keeps the id [`open_stream`](GrpcCall::open_stream) returned).
    pub const fn from_id(id: u32) -> GrpcStream {
        GrpcStream(id)
    }

    /// The id (for logging, or to match the host's records).
    pub const fn id(self) -> u32 {
        self.0
    }

    /// Sends a message; `end_stream` half-closes the stream.
    pub fn send(self, message: &[u8], end_stream: bool) -> Result<()> {
        ffi::grpc_send(self.0, message, end_stream)
    }

    /// Cancels the stream. The host delivers nothing more for it (Envoy
    /// resets it without a callback), so its handler is dropped.
    pub fn cancel(self) -> Result<()> {
        cancel(self.0)
    }

    /// Half-closes the stream: the upstream can still answer, and its close
    /// reaches the handler (Envoy keeps a locally closed stream until the
    /// remote side closes, then calls `proxy_on_grpc_close`).
    pub fn close(self) -> Result<()> {
        let result = ffi::grpc_close(self.0);
        if is_gone(&result) {
            callouts::forget_grpc(self.0, true);
        }
        result
    }
}

/// Cancels gRPC call or stream `id` (`proxy_grpc_cancel` takes either) and
/// drops its handler once the host will deliver nothing more for it.
fn cancel(id: u32) -> Result<()> {
    let result = ffi::grpc_cancel(id);
    if is_gone(&result) {
        callouts::forget_grpc(id, false);
    }
    result
}

/// Whether, after a cancel or close answered `result`, the host will deliver
/// nothing more for the call: it did it (`OK`), or it has no such call
/// (`NOT_FOUND`, `BAD_ARGUMENT`). Other failures may leave the call running,
/// so its handler stays.
fn is_gone(result: &Result<()>) -> bool {
    match result {
        Ok(()) => true,
        Err(e) => matches!(e.status(), Some(Status::NotFound | Status::BadArgument)),
    }
}
