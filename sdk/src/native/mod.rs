//! Running plugins natively: the replaceable host function table and
//! per-instance dispatcher state (non-wasm targets only).
//!
//! On wasm the host is the proxy and the dispatcher state is the module's one
//! global. Natively, a test or an in-process host ("null VM") serves plugins
//! compiled into the same binary, so both are per instance and per thread:
//!
//! * [`Host`] is the table of the host functions; every hostcall the SDK
//!   makes goes through the host of the current instance.
//! * An [`Instance`] is one plugin instance: its host plus its own contexts,
//!   callouts and root factory. [`Instance::enter`] makes it current on this
//!   thread for the duration of a closure; the callback methods
//!   ([`Instance::on_request_headers`], ...) enter it and run the callback,
//!   exactly as the wasm exports do.
//!
//! Instances never share state, so several plugins, several instances of one
//! plugin and tests running in parallel coexist in one process.
//!
//! ```
//! use std::rc::Rc;
//! use sluice::native::{Host, HostResult, Instance};
//!
//! struct Quiet;
//! impl Host for Quiet {
//!     fn log(&self, _level: u32, _message: &[u8]) -> HostResult<()> { Ok(()) }
//! }
//!
//! let mut plugin = Instance::new(Rc::new(Quiet));
//! plugin.enter(|| sluice::set_root_context(|_| Box::new(Root)));
//! plugin.on_context_create(1, 0);
//! assert!(plugin.on_configure(1, 0));
//!
//! struct Root;
//! impl sluice::RootContext for Root {}
//! ```

mod host;

use alloc::boxed::Box;
use alloc::rc::Rc;
use core::cell::{Cell, RefCell};
use core::fmt;

pub use host::{Host, HostResult};

use crate::dispatcher::{self, Dispatcher, callouts};
use crate::state;

std::thread_local! {
    static HOST: RefCell<Option<Rc<dyn Host>>> = const { RefCell::new(None) };
    /// The current instance's `log` level filter (see [`crate::logging`]);
    /// `None` until the instance installs the SDK's logger.
    static LOG_FILTER: Cell<Option<log::LevelFilter>> = const { Cell::new(None) };
    /// Whether a host function is running on this thread.
    static IN_HOST: Cell<bool> = const { Cell::new(false) };
}

/// Runs a host function, marking this thread as inside the host meanwhile.
pub(crate) fn in_host_call<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            IN_HOST.set(self.0);
        }
    }
    let _restore = Restore(IN_HOST.replace(true));
    f()
}

/// Whether the SDK's `log` crate logger forwards a record of `level` now.
///
/// The `log` crate's logger and maximum level are process-wide, while
/// natively hosted plugins are per instance and share the process with the
/// host and with each other. So natively the level filter is the current
/// instance's, and records are forwarded only while an instance is current
/// and not from inside a host function (the host's own logging, such as
/// wasmtime's, would otherwise loop back into `proxy_log`).
pub(crate) fn log_enabled(level: log::Level) -> bool {
    LOG_FILTER.get().is_some_and(|filter| level <= filter) && !IN_HOST.get() && HOST.with(|h| h.borrow().is_some())
}

/// Sets the current instance's `log` level filter.
pub(crate) fn set_log_filter(filter: log::LevelFilter) {
    LOG_FILTER.set(Some(filter));
}

/// Whether the current instance installed the SDK's logger.
pub(crate) fn logger_installed() -> bool {
    LOG_FILTER.get().is_some()
}

/// The host hostcalls go to on this thread, if one is installed.
pub(crate) fn current_host() -> Option<Rc<dyn Host>> {
    HOST.with(|h| h.borrow().clone())
}

/// Installs `host` as this thread's host table and returns the previous one.
/// [`Instance::enter`] does this for you; use it directly to test hostcall
/// wrappers without a plugin instance.
pub fn set_host(host: Option<Rc<dyn Host>>) -> Option<Rc<dyn Host>> {
    HOST.with(|h| core::mem::replace(&mut *h.borrow_mut(), host))
}

/// One natively hosted plugin instance: its host table and its dispatcher
/// state (contexts, callouts, root factory).
pub struct Instance {
    host: Option<Rc<dyn Host>>,
    state: Box<Dispatcher>,
    log_filter: Option<log::LevelFilter>,
}

impl fmt::Debug for Instance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Instance").finish_non_exhaustive()
    }
}

/// Swaps an instance's host and state back out when `enter` ends, even by a panic.
struct Entered<'a> {
    instance: &'a mut Instance,
}

impl Entered<'_> {
    fn swap(&mut self) {
        self.instance.host = set_host(self.instance.host.take());
        state::swap(&mut self.instance.state);
        self.instance.log_filter = LOG_FILTER.replace(self.instance.log_filter);
    }
}

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        self.swap();
    }
}

impl Instance {
    /// A new plugin instance served by `host`, with no contexts and no root
    /// factory yet (register one inside [`enter`](Self::enter)).
    pub fn new(host: Rc<dyn Host>) -> Instance {
        Instance { host: Some(host), state: Box::new(Dispatcher::new()), log_filter: None }
    }

    /// Runs `f` with this instance current on this thread: hostcalls go to
    /// its host, callbacks and registrations to its state. Nests: the
    /// previously current instance is restored afterwards.
    pub fn enter<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let mut entered = Entered { instance: self };
        entered.swap();
        f()
    }

    /// How many contexts the instance holds.
    pub fn context_count(&mut self) -> usize {
        self.state.context_count()
    }

    /// Whether a root context factory is registered (what the plugin's entry
    /// point does); a host checks it after running the entry point.
    pub fn has_root_factory(&mut self) -> bool {
        self.state.factory.is_some()
    }

    /// How many callouts aimed at `context_id` wait for a response.
    pub fn pending_callouts(&mut self, context_id: u32) -> usize {
        self.state.callouts.pending_for(context_id)
    }

    /// `proxy_on_context_create`.
    pub fn on_context_create(&mut self, context_id: u32, parent_context_id: u32) {
        self.enter(|| dispatcher::on_context_create(context_id, parent_context_id));
    }

    /// `proxy_on_vm_start`.
    pub fn on_vm_start(&mut self, root_context_id: u32, vm_configuration_size: usize) -> bool {
        self.enter(|| dispatcher::on_vm_start(root_context_id, vm_configuration_size))
    }

    /// `proxy_on_configure`.
    pub fn on_configure(&mut self, root_context_id: u32, plugin_configuration_size: usize) -> bool {
        self.enter(|| dispatcher::on_configure(root_context_id, plugin_configuration_size))
    }

    /// `proxy_on_tick`.
    pub fn on_tick(&mut self, root_context_id: u32) {
        self.enter(|| dispatcher::on_tick(root_context_id));
    }

    /// `proxy_on_queue_ready`.
    pub fn on_queue_ready(&mut self, root_context_id: u32, queue_id: u32) {
        self.enter(|| dispatcher::on_queue_ready(root_context_id, queue_id));
    }

    /// `proxy_on_foreign_function`.
    pub fn on_foreign_function(&mut self, root_context_id: u32, function_id: u32, arguments_size: usize) {
        self.enter(|| dispatcher::on_foreign_function(root_context_id, function_id, arguments_size));
    }

    /// `proxy_on_done`.
    pub fn on_done(&mut self, context_id: u32) -> bool {
        self.enter(|| dispatcher::on_done(context_id))
    }

    /// `proxy_on_log`.
    pub fn on_log(&mut self, context_id: u32) {
        self.enter(|| dispatcher::on_log(context_id));
    }

    /// `proxy_on_delete`.
    pub fn on_delete(&mut self, context_id: u32) {
        self.enter(|| dispatcher::on_delete(context_id));
    }

    /// `proxy_on_new_connection`; returns the raw action.
    pub fn on_new_connection(&mut self, context_id: u32) -> u32 {
        self.enter(|| dispatcher::on_new_connection(context_id))
    }

    /// `proxy_on_downstream_data`.
    pub fn on_downstream_data(&mut self, context_id: u32, data_size: usize, end_of_stream: bool) -> u32 {
        self.enter(|| dispatcher::on_downstream_data(context_id, data_size, end_of_stream))
    }

    /// `proxy_on_downstream_connection_close`.
    pub fn on_downstream_connection_close(&mut self, context_id: u32, peer_type: u32) {
        self.enter(|| dispatcher::on_downstream_connection_close(context_id, peer_type));
    }

    /// `proxy_on_upstream_data`.
    pub fn on_upstream_data(&mut self, context_id: u32, data_size: usize, end_of_stream: bool) -> u32 {
        self.enter(|| dispatcher::on_upstream_data(context_id, data_size, end_of_stream))
    }

    /// `proxy_on_upstream_connection_close`.
    pub fn on_upstream_connection_close(&mut self, context_id: u32, peer_type: u32) {
        self.enter(|| dispatcher::on_upstream_connection_close(context_id, peer_type));
    }

    /// `proxy_on_request_headers`.
    pub fn on_request_headers(&mut self, context_id: u32, num_headers: usize, end_of_stream: bool) -> u32 {
        self.enter(|| dispatcher::on_request_headers(context_id, num_headers, end_of_stream))
    }

    /// `proxy_on_request_body`.
    pub fn on_request_body(&mut self, context_id: u32, body_size: usize, end_of_stream: bool) -> u32 {
        self.enter(|| dispatcher::on_request_body(context_id, body_size, end_of_stream))
    }

    /// `proxy_on_request_trailers`.
    pub fn on_request_trailers(&mut self, context_id: u32, num_trailers: usize) -> u32 {
        self.enter(|| dispatcher::on_request_trailers(context_id, num_trailers))
    }

    /// `proxy_on_response_headers`.
    pub fn on_response_headers(&mut self, context_id: u32, num_headers: usize, end_of_stream: bool) -> u32 {
        self.enter(|| dispatcher::on_response_headers(context_id, num_headers, end_of_stream))
    }

    /// `proxy_on_response_body`.
    pub fn on_response_body(&mut self, context_id: u32, body_size: usize, end_of_stream: bool) -> u32 {
        self.enter(|| dispatcher::on_response_body(context_id, body_size, end_of_stream))
    }

    /// `proxy_on_response_trailers`.
    pub fn on_response_trailers(&mut self, context_id: u32, num_trailers: usize) -> u32 {
        self.enter(|| dispatcher::on_response_trailers(context_id, num_trailers))
    }

    /// `proxy_on_http_call_response`.
    pub fn on_http_call_response(
        &mut self,
        context_id: u32,
        call_id: u32,
        num_headers: usize,
        body_size: usize,
        num_trailers: usize,
    ) {
        self.enter(|| callouts::on_http_call_response(context_id, call_id, num_headers, body_size, num_trailers));
    }

    /// `proxy_on_grpc_receive_initial_metadata`.
    pub fn on_grpc_receive_initial_metadata(&mut self, context_id: u32, call_id: u32, num_elements: usize) {
        self.enter(|| callouts::on_grpc_receive_initial_metadata(context_id, call_id, num_elements));
    }

    /// `proxy_on_grpc_receive`.
    pub fn on_grpc_receive(&mut self, context_id: u32, call_id: u32, message_size: usize) {
        self.enter(|| callouts::on_grpc_receive(context_id, call_id, message_size));
    }

    /// `proxy_on_grpc_receive_trailing_metadata`.
    pub fn on_grpc_receive_trailing_metadata(&mut self, context_id: u32, call_id: u32, num_elements: usize) {
        self.enter(|| callouts::on_grpc_receive_trailing_metadata(context_id, call_id, num_elements));
    }

    /// `proxy_on_grpc_close`.
    pub fn on_grpc_close(&mut self, context_id: u32, call_id: u32, status_code: u32) {
        self.enter(|| callouts::on_grpc_close(context_id, call_id, status_code));
    }
}
