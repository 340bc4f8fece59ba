//! HTTP callouts (`proxy_http_call`) whose response is delivered to a handler
//! with `&mut` access to the context that should receive it.
//!
//! ```no_run
//! use sluice::{Action, HttpContext, http::HttpCall};
//!
//! struct Auth;
//!
//! impl HttpContext for Auth {
//!     fn on_request_headers(&mut self, _: usize, _: bool) -> Action {
//!         let call = HttpCall::new("auth-cluster")
//!             .header(":method", "GET")
//!             .header(":path", "/check")
//!             .header(":authority", "auth")
//!             .dispatch(|_this: &mut Auth, response| {
//!                 if response.status_code().ok().flatten() == Some(200) {
//!                     let _ = sluice::stream::resume_http_request();
//!                 } else {
//!                     let _ = sluice::stream::LocalResponse::new(403).send();
//!                 }
//!             });
//!         if call.is_ok() { Action::Pause } else { Action::Continue }
//!     }
//! }
//! ```
//!
//! A root context can dispatch a call for a stream it holds a
//! [`ContextHandle`] of with [`HttpCall::dispatch_to`]: the handler then runs on
//! that stream's context, with that stream effective, so it can modify the
//! stream's headers and resume it.
//!
//! Sending a call gives back its [`HttpCallId`], the host's id of the call.

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
use crate::map::{self, Pairs};

/// The timeout used when none is set.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// An HTTP request to an upstream (cluster) of the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpCall {
    upstream: Vec<u8>,
    headers: map::Builder,
    body: Vec<u8>,
    trailers: map::Builder,
    timeout: Duration,
}

pub(crate) fn millis(timeout: Duration) -> u32 {
    u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX)
}

impl HttpCall {
    /// A call to `upstream` (an Envoy cluster name). Envoy requires the
    /// `:method`, `:path` and `:authority` headers.
    pub fn new(upstream: impl AsRef<[u8]>) -> HttpCall {
        HttpCall {
            upstream: upstream.as_ref().to_vec(),
            headers: map::Builder::default(),
            body: Vec::new(),
            trailers: map::Builder::default(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Adds a header (pseudo-headers such as `:path` included).
    pub fn header(mut self, name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> HttpCall {
        self.headers.push(name.as_ref(), value.as_ref());
        self
    }

    /// Adds a trailer.
    pub fn trailer(mut self, name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> HttpCall {
        self.trailers.push(name.as_ref(), value.as_ref());
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl AsRef<[u8]>) -> HttpCall {
        self.body = body.as_ref().to_vec();
        self
    }

    /// Sets the timeout (default [`DEFAULT_TIMEOUT`]; zero means none in Envoy).
    pub fn timeout(mut self, timeout: Duration) -> HttpCall {
        self.timeout = timeout;
        self
    }

    /// Sends the call without a handler: its response is ignored.
    pub fn send(&self) -> Result<HttpCallId> {
        let (headers, trailers) = (self.headers.finish()?, self.trailers.finish()?);
        ffi::http_call(&self.upstream, &headers, &self.body, &trailers, millis(self.timeout)).map(HttpCallId)
    }

    /// Sends the call; `handler` receives the response together with the
    /// current context, which must be a `C` (else [`Error::WrongContext`](crate::Error::WrongContext)
    /// and nothing is sent).
    pub fn dispatch<C, F>(self, handler: F) -> Result<HttpCallId>
    where
        C: Any,
        F: FnOnce(&mut C, HttpResponse) + 'static,
    {
        self.dispatch_to(ContextHandle::current(), handler)
    }

    /// Sends the call; `handler` runs on context `target` (which must be a
    /// `C`) when the response arrives, with `target` effective. Use it from a
    /// root context to act for a stream it paused.
    pub fn dispatch_to<C, F>(self, target: ContextHandle, handler: F) -> Result<HttpCallId>
    where
        C: Any,
        F: FnOnce(&mut C, HttpResponse) + 'static,
    {
        let target = target.id();
        callouts::check_target::<C>(target)?;
        let call = self.send()?;
        let callback: callouts::Handler<HttpResponse> = Box::new(move |ctx, via, response| {
            if let Some(ctx) = ctx.downcast_mut::<C>() {
                context::deliver(via, target, || handler(ctx, response));
            }
        });
        callouts::register(Token::Http(call.0), target, Callback::Http(callback));
        Ok(call)
    }
}

/// A sent HTTP call: the id the host gave it (`proxy_http_call`), under which
/// it delivers the response. HTTP call ids are a namespace of their own,
/// separate from gRPC calls and streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct HttpCallId(u32);

impl HttpCallId {
    /// The call with this id.
    pub const fn from_id(id: u32) -> HttpCallId {
        HttpCallId(id)
    }

    /// The id (for logging, or to match the host's records).
    pub const fn id(self) -> u32 {
        self.0
    }
}

/// The host's status for a call (`proxy_get_status`), read while its
/// response is delivered.
pub use sluice_abi::CallStatus;

/// The response to an HTTP call, as announced by `proxy_on_http_call_response`.
/// Its parts are read from the host on demand, during the handler only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpResponse {
    num_headers: usize,
    body_size: usize,
    num_trailers: usize,
}

impl HttpResponse {
    pub(crate) fn new(num_headers: usize, body_size: usize, num_trailers: usize) -> HttpResponse {
        HttpResponse { num_headers, body_size, num_trailers }
    }

    /// The call failed (reset, timeout, no upstream): the host sent no headers.
    /// [`status`](Self::status) tells why.
    pub fn is_failure(&self) -> bool {
        self.num_headers == 0
    }

    /// How many headers the response has.
    pub fn num_headers(&self) -> usize {
        self.num_headers
    }

    /// The body size.
    pub fn body_size(&self) -> usize {
        self.body_size
    }

    /// How many trailers the response has.
    pub fn num_trailers(&self) -> usize {
        self.num_trailers
    }

    /// All response headers.
    pub fn headers(&self) -> Result<Pairs> {
        if self.num_headers == 0 { Ok(Pairs::new()) } else { headers::HTTP_CALL_RESPONSE.pairs() }
    }

    /// The (first) value of one response header (`None` for a failed call,
    /// which has no headers: the host has no map to read then).
    pub fn header(&self, name: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        if self.num_headers == 0 { Ok(None) } else { headers::HTTP_CALL_RESPONSE.get(name) }
    }

    /// The `:status` header as a number (`None` if absent or not a number).
    pub fn status_code(&self) -> Result<Option<u16>> {
        let status = self.header(":status")?;
        Ok(status.and_then(|s| core::str::from_utf8(&s).ok().and_then(|s| s.parse().ok())))
    }

    /// The body.
    pub fn body(&self) -> Result<Vec<u8>> {
        if self.body_size == 0 { Ok(Vec::new()) } else { buffers::HTTP_CALL_RESPONSE_BODY.get(0, self.body_size) }
    }

    /// All response trailers.
    pub fn trailers(&self) -> Result<Pairs> {
        if self.num_trailers == 0 { Ok(Pairs::new()) } else { headers::HTTP_CALL_RESPONSE_TRAILERS.pairs() }
    }

    /// The host's status for the call (`proxy_get_status`): a code and a
    /// message. Envoy reports a reset call as 11 (`BrokenConnection`), "reset".
    pub fn status(&self) -> Result<CallStatus> {
        ffi::get_status()
    }
}
