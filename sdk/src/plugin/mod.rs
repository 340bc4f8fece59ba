//! What the derive macros build on: a plugin's root context, typed
//! configuration, and the stream contexts it creates, wired together.
//!
//! # The smallest plugin
//!
//! ```
//! use sluice::{Action, HttpContext, RootContext, headers};
//!
//! #[derive(RootContext)]
//! #[sluice(http = AddHeader)]
//! struct Plugin;
//! impl RootContext for Plugin {}
//!
//! #[derive(HttpContext)]
//! struct AddHeader;
//!
//! impl HttpContext for AddHeader {
//!     fn on_response_headers(&mut self, _: usize, _: bool) -> Action {
//!         let _ = headers::RESPONSE.add("x-powered-by", "sluice");
//!         Action::Continue
//!     }
//! }
//! ```
//!
//! The user implements the SDK's callback traits with just the callbacks they
//! need (here none for the root); the derives generate everything else: an
//! implementation of [`Plugin`] for the root type, of [`NewHttpContext`] for
//! the stream type, and the module's entry point, which registers the
//! [`Root`] adaptor with the dispatcher.
//!
//! # A plugin with typed configuration
//!
//! ```
//! use std::rc::Rc;
//! use sluice::{Action, Config, HttpContext, RootContext, headers};
//!
//! #[derive(Config)]
//! struct Settings {
//!     header: String,                   // required
//!     #[sluice(default = "sluice".into())]
//!     value: String,                    // "sluice" when absent
//!     direction: Direction,             // "inbound" or "outbound"
//!     skip_paths: Vec<String>,          // required list
//!     max_age: Option<u32>,             // optional
//! }
//!
//! #[derive(Config, Clone, Copy, PartialEq)]
//! enum Direction { Inbound, Outbound }
//!
//! #[derive(RootContext)]
//! #[sluice(config = Settings, http = Filter)]
//! struct Plugin;
//! impl RootContext for Plugin {}
//!
//! #[derive(HttpContext)]
//! struct Filter {
//!     #[sluice(config)]
//!     settings: Rc<Settings>,           // the root's configuration, shared
//! }
//!
//! impl HttpContext for Filter {
//!     fn on_response_headers(&mut self, _: usize, _: bool) -> Action {
//!         if self.settings.direction == Direction::Outbound {
//!             let _ = headers::RESPONSE.add(&self.settings.header, &self.settings.value);
//!         }
//!         Action::Continue
//!     }
//! }
//! ```
//!
//! The [`Root`] adaptor parses the plugin configuration in `on_configure`
//! (and a `vm_config` type in `on_vm_start`) before the user's callback runs.
//! A bad configuration makes the callback return `false`, so the host rejects
//! it, and logs an error that names the field and the problem:
//!
//! ```text
//! plugin configuration: field "direction": expected one of "inbound", "outbound", found "sideways"
//! ```
//!
//! # Sharing between the root and its streams
//!
//! A stream context is built field by field when the host opens a stream:
//! a `#[sluice(config)]` field receives the root's configuration (`Rc<C>`,
//! or `Option<Rc<C>>`), a `#[sluice(shared)]` field a clone of the root's
//! `#[sluice(shared)]` field (typically an `Rc<State>` with `Cell`s or
//! `RefCell`s for counters and caches), a `#[sluice(context_id)]` field the
//! stream's id, and every other field its `Default`. The root's own
//! `#[sluice(config)]` field (`Option<Rc<C>>`) is set before its
//! `on_configure` runs.
//!
//! # Logging and panics
//!
//! The entry point does not install the `log` crate logger, so that a plugin
//! that does not log imports no logging hostcall: call
//! [`logging::init`](crate::logging::init) in the root's `on_vm_start`. The
//! [`Root`] adaptor then has the logger re-read the host's level after every
//! `on_configure`, `on_tick` and new stream, since the host can change it at
//! run time. A panic is reported through `proxy_log` at critical level before
//! the module traps when the plugin links std and enables sluice's `std`
//! feature, or is `#![no_std]` with the `panic-handler` feature; a plugin
//! that links std without the `std` feature gets std's default hook instead
//! (stderr: Envoy logs it at error level on wasm32-wasip1, and it is lost on
//! wasm32-unknown-unknown).
//!
//! # Callouts from the root
//!
//! The dispatcher holds the root as a [`Root<Plugin>`](Root), so a callout
//! handler registered by root code is typed on `Root<Plugin>` (which
//! dereferences to `Plugin`): `.dispatch(|root: &mut Root<Plugin>, response| ...)`.

mod root;

#[doc(hidden)]
pub mod private;

use alloc::boxed::Box;
use alloc::rc::Rc;

use crate::contexts::{HttpContext, RootContext, TcpContext};

pub use root::{LoadConfig, LoadError, NoConfig, Root};

/// A root context type with everything the [`Root`] adaptor needs;
/// implemented by [`derive(RootContext)`](crate::RootContext).
///
/// The adaptor also needs the type's callbacks (`R: RootContext`); that bound
/// is asked for where the root is registered, so that a missing
/// `impl RootContext` is reported once, at the type's name.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a plugin root context",
    label = "`{Self}` does not implement `sluice::plugin::Plugin`",
    note = "add `#[derive(sluice::RootContext)]` to `{Self}`"
)]
pub trait Plugin: Sized + 'static {
    /// The plugin configuration's type ([`NoConfig`] when none is declared).
    type Config: LoadConfig;
    /// The VM configuration's type ([`NoConfig`] when none is declared).
    type VmConfig: LoadConfig;
    /// What the root shares with its streams (`()` when nothing).
    type Shared: Clone + 'static;

    /// A root context before any configuration arrived.
    fn new() -> Self;

    /// Stores a newly parsed plugin configuration (before `on_configure`).
    fn set_config(&mut self, config: &Rc<Self::Config>);

    /// Stores a newly parsed VM configuration (before `on_vm_start`).
    fn set_vm_config(&mut self, config: &Rc<Self::VmConfig>);

    /// The state shared with streams.
    fn shared(&self) -> &Self::Shared;

    /// The context for a new HTTP stream, if the plugin declares one.
    fn create_http_context(env: &Env<'_, Self>) -> Option<Box<dyn HttpContext>>;

    /// The context for a new TCP connection, if the plugin declares one.
    fn create_tcp_context(env: &Env<'_, Self>) -> Option<Box<dyn TcpContext>>;
}

/// What a new stream context can take from its root.
#[derive(Debug)]
pub struct Env<'a, R: Plugin> {
    root: &'a R,
    config: &'a Rc<R::Config>,
    context_id: u32,
}

impl<'a, R: Plugin> Env<'a, R> {
    /// The root context.
    pub fn root(&self) -> &'a R {
        self.root
    }

    /// The root's current configuration.
    pub fn config(&self) -> &'a Rc<R::Config> {
        self.config
    }

    /// The root's shared state.
    pub fn shared(&self) -> &'a R::Shared {
        self.root.shared()
    }

    /// The new stream's context id.
    pub fn context_id(&self) -> u32 {
        self.context_id
    }
}

/// A stream type that a root of type `R` can create for HTTP streams;
/// implemented by [`derive(HttpContext)`](crate::HttpContext).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an HTTP context that plugin `{R}` can create",
    label = "`{Self}` does not implement `NewHttpContext<{R}>`",
    note = "add `#[derive(sluice::HttpContext)]` to `{Self}`"
)]
pub trait NewHttpContext<R: Plugin> {
    /// Builds the stream's context.
    fn create_http_context(env: &Env<'_, R>) -> Box<dyn HttpContext>;
}

/// A stream type that a root of type `R` can create for TCP connections;
/// implemented by [`derive(TcpContext)`](crate::TcpContext).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a TCP context that plugin `{R}` can create",
    label = "`{Self}` does not implement `NewTcpContext<{R}>`",
    note = "add `#[derive(sluice::TcpContext)]` to `{Self}`"
)]
pub trait NewTcpContext<R: Plugin> {
    /// Builds the connection's context.
    fn create_tcp_context(env: &Env<'_, R>) -> Box<dyn TcpContext>;
}

/// The types a `#[sluice(config)]` field may have: `Rc<C>` or `Option<Rc<C>>`.
#[diagnostic::on_unimplemented(
    message = "a `#[sluice(config)]` field must have type `Rc<{C}>` or `Option<Rc<{C}>>`",
    label = "expected `Rc<{C}>` or `Option<Rc<{C}>>`, found `{Self}`"
)]
pub trait ConfigField<C> {
    /// The field's value for `config`.
    fn from_config(config: &Rc<C>) -> Self;
}

impl<C> ConfigField<C> for Rc<C> {
    fn from_config(config: &Rc<C>) -> Self {
        Rc::clone(config)
    }
}

impl<C> ConfigField<C> for Option<Rc<C>> {
    fn from_config(config: &Rc<C>) -> Self {
        Some(Rc::clone(config))
    }
}

/// Registers `R` (through the [`Root`] adaptor) as the plugin's root context.
///
/// The entry point that [`derive(RootContext)`](crate::RootContext) generates
/// calls this; with `#[sluice(no_main)]`, call it from your own
/// [`main!`](crate::main).
pub fn register<R: Plugin + RootContext>() {
    crate::dispatcher::set_root_context(|_context_id| Box::new(Root::<R>::new()));
}

#[cfg(test)]
mod tests;
