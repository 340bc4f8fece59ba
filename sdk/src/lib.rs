//! Sluice: a safe, small, `no_std` Rust SDK for Proxy-Wasm plugins
//! (ABI v0.2.1) for Envoy, Istio and other proxies.
//!
//! # Shape of a plugin
//!
//! A plugin implements the callback traits of [`contexts`] ([`RootContext`],
//! [`HttpContext`], [`TcpContext`]), registers its root context factory with
//! [`set_root_context`] inside [`main!`], and calls the host through the
//! modules named after the ABI areas: [`headers`], [`buffers`], [`stream`],
//! [`http`], [`grpc`], [`shared_data`], [`queue`], [`metrics`], [`property`],
//! [`foreign`], [`time`], [`logging`], [`context`], [`config`]. A plugin's wasm
//! imports exactly the host functions its code calls.
//!
//! Nothing the host returns can make the SDK panic: every status other than
//! `OK` and every malformed payload becomes an [`Error`].
//!
//! # Features
//!
//! * `std`: link the standard library; [`main!`] then installs a panic hook
//!   that reports panics through `proxy_log`.
//! * `global-allocator`, `panic-handler`: a `#[global_allocator]` and a
//!   `#[panic_handler]` for `#![no_std]` plugins on wasm (see [`runtime`]);
//!   `panic-details` makes the handler format the whole message and where
//!   the panic happened.
//!
//! # Native builds
//!
//! On non-wasm targets every hostcall goes through a replaceable `native::Host`
//! table and each `native::Instance` has its own contexts, so a plugin crate
//! runs under `cargo test` and an in-process host can serve it.
#![no_std]
#![deny(missing_docs)]

extern crate alloc;
#[cfg(any(feature = "std", not(target_arch = "wasm32")))]
extern crate std;

#[cfg_attr(not(all(feature = "global-allocator", target_arch = "wasm32")), allow(dead_code))]
mod allocator;
pub mod buffers;
pub mod config;
pub mod context;
pub mod contexts;
mod dispatcher;
pub mod error;
#[cfg(target_arch = "wasm32")]
mod exports;
mod ffi;
pub mod foreign;
pub mod grpc;
pub mod headers;
pub mod http;
pub mod json;
#[doc(hidden)]
pub mod log_line;
pub mod logging;
pub mod map;
pub mod metrics;
#[cfg(not(target_arch = "wasm32"))]
pub mod native;
#[cfg(any(feature = "std", not(target_arch = "wasm32"), feature = "panic-handler"))]
mod panic;
pub mod plugin;
pub mod property;
pub mod queue;
pub mod runtime;
pub mod shared_data;
mod state;
pub mod stream;
pub mod time;
pub mod types;

pub use config::Configuration;
pub use context::ContextHandle;
pub use contexts::{HttpContext, RootContext, TcpContext, set_root_context};
pub use error::{Error, Result};
pub use sluice_abi as abi;
/// The derive macros (feature `macros`, on by default): see [`plugin`].
#[cfg(feature = "macros")]
pub use sluice_macros::{Config, HttpContext, RootContext, TcpContext};
pub use types::{Action, BufferType, GrpcStatus, LogLevel, MapType, MetricType, PeerType, Status, StreamType};

/// Re-exports for the code [`main!`] and the derive macros generate. Not a
/// public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::log_line;
    pub use crate::plugin::private as plugin;
    /// Splits a level macro's format string (`sluice::info!` and the others).
    #[cfg(feature = "macros")]
    pub use sluice_macros::format_log_line;
    /// Runs the SDK's start-up (WASI constructors, panic hook).
    pub fn initialize() {
        #[cfg(target_arch = "wasm32")]
        crate::exports::initialize();
        #[cfg(not(target_arch = "wasm32"))]
        crate::runtime::install_panic_hook();
    }
}

/// Defines the plugin's entry point; its body registers the root context.
///
/// ```
/// # struct Plugin;
/// # impl sluice::RootContext for Plugin {}
/// sluice::main! {
///     sluice::set_root_context(|_context_id| Box::new(Plugin));
/// }
/// ```
///
/// On wasm this exports `_initialize`, which hosts call once when the module
/// is loaded, before any context exists: it runs the SDK's start-up and then
/// the body. Natively it defines `pub fn sluice_main()`, which an in-process
/// host calls inside `native::Instance::enter` to register the plugin with
/// that instance. Use it once per plugin crate, at the crate root.
#[macro_export]
macro_rules! main {
    ($($body:tt)*) => {
        /// The plugin's entry point (exported as `_initialize`).
        #[cfg(target_arch = "wasm32")]
        #[unsafe(export_name = "_initialize")]
        pub extern "C" fn __sluice_initialize() {
            $crate::__private::initialize();
            $($body)*
        }

        /// Registers this plugin with the current native instance.
        #[cfg(not(target_arch = "wasm32"))]
        pub fn sluice_main() {
            $($body)*
        }
    };
}
