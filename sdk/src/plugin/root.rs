//! The [`Root`] adaptor: the `RootContext` the dispatcher holds for a derived
//! plugin. It parses the configuration, keeps it, creates the stream contexts
//! and forwards every callback to the user's root context. A new
//! configuration, a tick and a new stream also have the SDK's logger (if the
//! plugin installed it) re-read the host's log level.

use alloc::boxed::Box;
use alloc::format;
use alloc::rc::Rc;
use core::fmt;
use core::ops::{Deref, DerefMut};

use super::{Env, Plugin};
use crate::config::Configuration;
use crate::contexts::{HttpContext, RootContext, TcpContext};
use crate::json::{self, FromJson};
use crate::logging;
use crate::types::LogLevel;

/// A configuration type the adaptor can load: every [`FromJson`] type (read
/// as JSON, empty configuration counting as `{}`), and [`NoConfig`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be read from JSON configuration",
    label = "`{Self}` does not implement `sluice::json::FromJson`",
    note = "derive it with `#[derive(sluice::Config)]`, or implement `sluice::json::FromJson` by hand"
)]
pub trait LoadConfig: Sized + 'static {
    /// Reads and parses the configuration the host offers.
    fn load(configuration: Configuration) -> Result<Self, LoadError>;
}

impl<T: FromJson + 'static> LoadConfig for T {
    fn load(configuration: Configuration) -> Result<Self, LoadError> {
        let bytes = configuration.bytes().map_err(LoadError::Host)?;
        json::from_config(&bytes).map_err(LoadError::Json)
    }
}

/// The configuration type of a plugin that declares none: loading it reads
/// nothing (so the plugin does not import the buffer hostcall) and accepts
/// any configuration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NoConfig;

impl LoadConfig for NoConfig {
    fn load(_configuration: Configuration) -> Result<Self, LoadError> {
        Ok(NoConfig)
    }
}

/// Why a configuration was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadError {
    /// The host did not hand over the bytes.
    Host(crate::Error),
    /// The bytes are not valid JSON for the configuration type.
    Json(json::Error),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Host(e) => write!(f, "could not be read: {e}"),
            LoadError::Json(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl core::error::Error for LoadError {}

/// The root context the dispatcher holds for a plugin root type `R`.
///
/// It dereferences to `R`; callout handlers registered by root code receive
/// `&mut Root<R>`.
pub struct Root<R: Plugin> {
    plugin: R,
    config: Option<Rc<R::Config>>,
    vm_config: Option<Rc<R::VmConfig>>,
}

impl<R: Plugin> fmt::Debug for Root<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Root")
            .field("plugin", &core::any::type_name::<R>())
            .field("configured", &self.config.is_some())
            .finish_non_exhaustive()
    }
}

impl<R: Plugin> Root<R> {
    /// A root context that has not been configured yet.
    pub fn new() -> Root<R> {
        Root { plugin: R::new(), config: None, vm_config: None }
    }

    /// The current plugin configuration (`None` before the first successful
    /// `on_configure`).
    pub fn config(&self) -> Option<&Rc<R::Config>> {
        self.config.as_ref()
    }

    /// The current VM configuration (`None` before `on_vm_start`).
    pub fn vm_config(&self) -> Option<&Rc<R::VmConfig>> {
        self.vm_config.as_ref()
    }

    /// What a new stream takes from the root; `None` before the plugin is
    /// configured (hosts configure a plugin before opening streams for it).
    fn env(&self, context_id: u32) -> Option<Env<'_, R>> {
        let config = self.config.as_ref()?;
        Some(Env { root: &self.plugin, config, context_id })
    }
}

impl<R: Plugin> Default for Root<R> {
    fn default() -> Self {
        Root::new()
    }
}

impl<R: Plugin> Deref for Root<R> {
    type Target = R;

    fn deref(&self) -> &R {
        &self.plugin
    }
}

impl<R: Plugin> DerefMut for Root<R> {
    fn deref_mut(&mut self) -> &mut R {
        &mut self.plugin
    }
}

/// Loads a configuration, logging why it was rejected.
fn load<C: LoadConfig>(configuration: Configuration, what: &str) -> Option<Rc<C>> {
    match C::load(configuration) {
        Ok(config) => Some(Rc::new(config)),
        Err(e) => {
            let _ = logging::log(LogLevel::Error, format!("{what}: {e}"));
            None
        }
    }
}

impl<R: Plugin + RootContext> RootContext for Root<R> {
    fn on_vm_start(&mut self, vm_configuration: Configuration) -> bool {
        let Some(config) = load::<R::VmConfig>(vm_configuration, "VM configuration") else { return false };
        self.plugin.set_vm_config(&config);
        self.vm_config = Some(config);
        self.plugin.on_vm_start(vm_configuration)
    }

    fn on_configure(&mut self, plugin_configuration: Configuration) -> bool {
        logging::level_may_have_changed();
        let Some(config) = load::<R::Config>(plugin_configuration, "plugin configuration") else { return false };
        self.plugin.set_config(&config);
        self.config = Some(config);
        self.plugin.on_configure(plugin_configuration)
    }

    fn on_tick(&mut self) {
        logging::level_may_have_changed();
        self.plugin.on_tick();
    }

    fn on_queue_ready(&mut self, queue_id: u32) {
        self.plugin.on_queue_ready(queue_id);
    }

    fn on_foreign_function(&mut self, function_id: u32, arguments_size: usize) {
        self.plugin.on_foreign_function(function_id, arguments_size);
    }

    /// Before the plugin is configured no stream is filtered (the host
    /// configures a plugin before it opens streams, so this only guards
    /// against a host that does not). Then: the declared stream type, or the
    /// root's own `new_http_context`.
    fn new_http_context(&mut self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        logging::level_may_have_changed();
        let Some(env) = self.env(context_id) else {
            let _ = logging::log(LogLevel::Warn, "stream opened before the plugin was configured; not filtering it");
            return None;
        };
        match R::create_http_context(&env) {
            Some(stream) => Some(stream),
            None => self.plugin.new_http_context(context_id),
        }
    }

    /// As [`new_http_context`](Self::new_http_context) (which already warned
    /// about a missing configuration), for TCP connections.
    fn new_tcp_context(&mut self, context_id: u32) -> Option<Box<dyn TcpContext>> {
        logging::level_may_have_changed();
        let env = self.env(context_id)?;
        match R::create_tcp_context(&env) {
            Some(stream) => Some(stream),
            None => self.plugin.new_tcp_context(context_id),
        }
    }

    fn on_done(&mut self) -> bool {
        self.plugin.on_done()
    }

    fn on_log(&mut self) {
        self.plugin.on_log();
    }
}
