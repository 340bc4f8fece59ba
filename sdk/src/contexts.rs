//! The context traits: what a plugin implements to receive the host's callbacks.
//!
//! # How a plugin registers its root context
//!
//! A plugin hands the SDK a *root context factory* with [`set_root_context`]
//! from its entry point, which the [`main!`](crate::main) macro defines:
//!
//! ```
//! use sluice::{Action, HttpContext, RootContext};
//!
//! #[derive(Default)]
//! struct Plugin;
//!
//! impl RootContext for Plugin {
//!     fn new_http_context(&mut self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
//!         Some(Box::new(Filter))
//!     }
//! }
//!
//! struct Filter;
//!
//! impl HttpContext for Filter {
//!     fn on_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
//!         let _ = sluice::headers::REQUEST.add("x-plugin", "sluice");
//!         Action::Continue
//!     }
//! }
//!
//! sluice::main! {
//!     sluice::set_root_context(|_context_id| Box::new(Plugin::default()));
//! }
//! ```
//!
//! The host then drives the contexts: `proxy_on_context_create(id, 0)` calls the
//! factory and stores the root context under `id`; every stream the host opens
//! for that root (`proxy_on_context_create(id, root_id)`) asks the root
//! context's [`RootContext::new_http_context`] first and, if that returns
//! `None`, [`RootContext::new_tcp_context`]. The dispatcher owns the contexts
//! and routes every callback by context id; `proxy_on_delete` drops them.
//!
//! # Callbacks only
//!
//! The traits contain nothing but callbacks, each with a default body. The
//! hostcalls live in free functions and modules ([`headers`](crate::headers),
//! [`buffers`](crate::buffers), [`http`](crate::http), ...), so a plugin's wasm
//! imports only the host functions its code actually calls: a trait with
//! hostcalls as default methods would pull every one of them into every vtable.
//!
//! Every trait has [`Any`] as a supertrait so that a callout handler registered
//! with a concrete context type can be given `&mut` access to that context
//! when its response arrives (see [`http::HttpCall::dispatch`](crate::http::HttpCall::dispatch)).

use alloc::boxed::Box;
use core::any::Any;

use crate::config::Configuration;
use crate::types::{Action, PeerType};

pub use crate::dispatcher::set_root_context;

/// The plugin (root) context: one per plugin configuration, living as long as
/// the plugin. It receives the VM and plugin configuration, timers, queue
/// notifications and foreign-function calls, and creates the per-stream
/// contexts.
pub trait RootContext: Any {
    /// `proxy_on_vm_start`: the VM started. Return `false` if this VM must
    /// not be used.
    fn on_vm_start(&mut self, vm_configuration: Configuration) -> bool {
        let _ = vm_configuration;
        true
    }

    /// `proxy_on_configure`: the plugin was (re)configured. Return `false` if
    /// the configuration is unusable.
    fn on_configure(&mut self, plugin_configuration: Configuration) -> bool {
        let _ = plugin_configuration;
        true
    }

    /// `proxy_on_tick`: the timer set with
    /// [`time::set_tick_period`](crate::time::set_tick_period) fired.
    fn on_tick(&mut self) {}

    /// `proxy_on_queue_ready`: an item was enqueued on `queue_id`.
    fn on_queue_ready(&mut self, queue_id: u32) {
        let _ = queue_id;
    }

    /// `proxy_on_foreign_function`: the host called a function it registered
    /// for this plugin; the arguments are in
    /// [`foreign::arguments`](crate::foreign::arguments).
    fn on_foreign_function(&mut self, function_id: u32, arguments_size: usize) {
        let _ = (function_id, arguments_size);
    }

    /// Creates the context for a new HTTP stream, or `None` if this plugin
    /// does not filter HTTP.
    fn new_http_context(&mut self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        let _ = context_id;
        None
    }

    /// Creates the context for a new TCP connection, or `None` if this plugin
    /// does not filter TCP. Asked only when [`new_http_context`](Self::new_http_context)
    /// returned `None`.
    fn new_tcp_context(&mut self, context_id: u32) -> Option<Box<dyn TcpContext>> {
        let _ = context_id;
        None
    }

    /// `proxy_on_done`: the host is shutting the plugin down. Return `false` to
    /// finish outstanding work first, then call [`context::done`](crate::context::done)
    /// (or [`ContextHandle::done`](crate::context::ContextHandle::done)).
    fn on_done(&mut self) -> bool {
        true
    }

    /// `proxy_on_log`: final logging, before the context is deleted.
    fn on_log(&mut self) {}
}

/// An HTTP stream: request and response share one context.
pub trait HttpContext: Any {
    /// `proxy_on_request_headers`; headers in [`headers::REQUEST`](crate::headers::REQUEST).
    fn on_request_headers(&mut self, num_headers: usize, end_of_stream: bool) -> Action {
        let _ = (num_headers, end_of_stream);
        Action::Continue
    }

    /// `proxy_on_request_body`; `body_size` is everything buffered so far, in
    /// [`buffers::REQUEST_BODY`](crate::buffers::REQUEST_BODY).
    fn on_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        let _ = (body_size, end_of_stream);
        Action::Continue
    }

    /// `proxy_on_request_trailers`; trailers in [`headers::REQUEST_TRAILERS`](crate::headers::REQUEST_TRAILERS).
    fn on_request_trailers(&mut self, num_trailers: usize) -> Action {
        let _ = num_trailers;
        Action::Continue
    }

    /// `proxy_on_response_headers`; headers in [`headers::RESPONSE`](crate::headers::RESPONSE).
    fn on_response_headers(&mut self, num_headers: usize, end_of_stream: bool) -> Action {
        let _ = (num_headers, end_of_stream);
        Action::Continue
    }

    /// `proxy_on_response_body`; body in [`buffers::RESPONSE_BODY`](crate::buffers::RESPONSE_BODY).
    fn on_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        let _ = (body_size, end_of_stream);
        Action::Continue
    }

    /// `proxy_on_response_trailers`; trailers in [`headers::RESPONSE_TRAILERS`](crate::headers::RESPONSE_TRAILERS).
    fn on_response_trailers(&mut self, num_trailers: usize) -> Action {
        let _ = num_trailers;
        Action::Continue
    }

    /// `proxy_on_done`: the stream ended. Return `false` to keep the context
    /// until [`context::done`](crate::context::done) is called.
    fn on_done(&mut self) -> bool {
        true
    }

    /// `proxy_on_log`: access logging; all headers are still readable.
    fn on_log(&mut self) {}
}

/// A TCP connection: downstream and upstream share one context.
pub trait TcpContext: Any {
    /// `proxy_on_new_connection`.
    fn on_new_connection(&mut self) -> Action {
        Action::Continue
    }

    /// `proxy_on_downstream_data`; data in [`buffers::DOWNSTREAM_DATA`](crate::buffers::DOWNSTREAM_DATA).
    fn on_downstream_data(&mut self, data_size: usize, end_of_stream: bool) -> Action {
        let _ = (data_size, end_of_stream);
        Action::Continue
    }

    /// `proxy_on_downstream_connection_close`. A peer type the SDK does not
    /// know arrives as [`PeerType::Unknown`].
    fn on_downstream_close(&mut self, peer: PeerType) {
        let _ = peer;
    }

    /// `proxy_on_upstream_data`; data in [`buffers::UPSTREAM_DATA`](crate::buffers::UPSTREAM_DATA).
    fn on_upstream_data(&mut self, data_size: usize, end_of_stream: bool) -> Action {
        let _ = (data_size, end_of_stream);
        Action::Continue
    }

    /// `proxy_on_upstream_connection_close`.
    fn on_upstream_close(&mut self, peer: PeerType) {
        let _ = peer;
    }

    /// `proxy_on_done`: the connection ended. Return `false` to keep the
    /// context until [`context::done`](crate::context::done) is called.
    fn on_done(&mut self) -> bool {
        true
    }

    /// `proxy_on_log`: final logging.
    fn on_log(&mut self) {}
}
