//! The `Root` adaptor with a hand-written `Plugin` (what the derive would
//! generate), driven through a native instance.

use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};

use super::*;
use crate::config::Configuration;
use crate::json::{self, FromJson, Value};
use crate::native::{Host, HostResult, Instance};
use crate::types::{BufferType, LogLevel};

struct Limit(u32);

impl FromJson for Limit {
    fn from_json(value: &Value) -> Result<Self, json::Error> {
        let object = private::object(value)?;
        private::required(object, "limit").map(Limit)
    }
}

#[derive(Default)]
struct ConfigHost {
    vm: Vec<u8>,
    plugin: RefCell<Vec<u8>>,
    log: RefCell<Vec<(u32, String)>>,
    /// The host's log level, and how often the plugin asked for it.
    level: Cell<u32>,
    level_reads: Cell<u32>,
}

impl Host for ConfigHost {
    fn log(&self, level: u32, message: &[u8]) -> HostResult<()> {
        self.log.borrow_mut().push((level, String::from_utf8_lossy(message).to_string()));
        Ok(())
    }

    fn get_log_level(&self) -> HostResult<u32> {
        self.level_reads.set(self.level_reads.get() + 1);
        Ok(self.level.get())
    }

    fn get_buffer_bytes(&self, buffer_type: u32, start: usize, max_size: usize) -> HostResult<Vec<u8>> {
        let bytes = match buffer_type {
            t if t == u32::from(BufferType::VmConfiguration) => self.vm.clone(),
            t if t == u32::from(BufferType::PluginConfiguration) => self.plugin.borrow().clone(),
            _ => return Err(1),
        };
        Ok(bytes.into_iter().skip(start).take(max_size).collect())
    }
}

/// A root that counts its callbacks and creates streams only through its own
/// `new_http_context` (no `http = ...` declared).
#[derive(Default)]
struct Counting {
    config: Option<Rc<Limit>>,
}

impl RootContext for Counting {
    fn on_configure(&mut self, configuration: Configuration) -> bool {
        assert!(self.config.is_some(), "the typed configuration is set before the callback");
        configuration.size() > 0
    }

    fn new_http_context(&mut self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        assert_eq!(self.config.as_ref().map(|c| c.0), Some(5), "asked only once configured");
        Some(Box::new(Stream))
    }
}

struct Stream;
impl HttpContext for Stream {}

impl Plugin for Counting {
    type Config = Limit;
    type VmConfig = Limit;
    type Shared = ();

    fn new() -> Self {
        Counting::default()
    }

    fn set_config(&mut self, config: &Rc<Limit>) {
        self.config = ConfigField::from_config(config);
    }

    fn set_vm_config(&mut self, _config: &Rc<Limit>) {}

    fn shared(&self) -> &() {
        &()
    }

    fn create_http_context(_env: &Env<'_, Self>) -> Option<Box<dyn HttpContext>> {
        None
    }

    fn create_tcp_context(_env: &Env<'_, Self>) -> Option<Box<dyn TcpContext>> {
        None
    }
}

fn instance(vm: &str, plugin: &str) -> (Rc<ConfigHost>, Instance) {
    let host = Rc::new(ConfigHost {
        vm: vm.as_bytes().to_vec(),
        plugin: RefCell::new(plugin.as_bytes().to_vec()),
        ..ConfigHost::default()
    });
    let mut instance = Instance::new(host.clone());
    instance.enter(register::<Counting>);
    instance.on_context_create(1, 0);
    (host, instance)
}

fn logged(host: &ConfigHost, level: LogLevel) -> Vec<String> {
    host.log.borrow().iter().filter(|(l, _)| *l == u32::from(level)).map(|(_, m)| m.clone()).collect()
}

#[test]
fn bad_vm_configuration_fails_vm_start_and_names_the_field() {
    let (host, mut instance) = instance(r#"{"limit": "ten"}"#, "");
    assert!(!instance.on_vm_start(1, 16));
    assert_eq!(
        logged(&host, LogLevel::Error),
        [r#"VM configuration: field "limit": expected an integer from 0 to 4294967295, found "ten""#]
    );
}

#[test]
fn streams_wait_for_configuration_then_fall_back_to_the_roots_own_factory() {
    let (host, mut instance) = instance(r#"{"limit": 1}"#, r#"{"limit": 5}"#);
    assert!(instance.on_vm_start(1, 12));
    // Before on_configure: no stream context, and a warning.
    instance.on_context_create(2, 1);
    assert_eq!(instance.context_count(), 1);
    assert_eq!(logged(&host, LogLevel::Warn).len(), 1);
    // After: the root's own new_http_context is used (no `http = ...`), and
    // sees the parsed configuration.
    assert!(instance.on_configure(1, 12));
    instance.on_context_create(3, 1);
    assert_eq!(instance.context_count(), 2);
    // A new configuration that fails leaves on_configure false and is logged;
    // one that parses reaches the user's callback (which refuses size 0).
    host.plugin.replace(br#"{"limit": -1}"#.to_vec());
    assert!(!instance.on_configure(1, 13));
    assert_eq!(logged(&host, LogLevel::Error).len(), 1);
    host.plugin.replace(Vec::new());
    assert!(!instance.on_configure(1, 0), "{{}} misses the required limit");
    assert_eq!(logged(&host, LogLevel::Error)[1], r#"plugin configuration: field "limit": required, but missing"#);
}

#[test]
fn vm_start_for_an_id_without_a_root_context_does_not_fail_the_vm() {
    // The spec calls the id "unused": proxy-wasm-go-sdk's test harness passes
    // 0, before any root context exists. Only a root context can refuse.
    let (host, mut instance) = instance(r#"{"limit": "ten"}"#, "");
    assert!(instance.on_vm_start(0, 16));
    assert!(instance.on_vm_start(7, 16));
    assert!(logged(&host, LogLevel::Error).is_empty(), "no root context was asked");
    assert!(!instance.on_vm_start(1, 16), "the root context still refuses a bad VM configuration");
}

#[test]
fn the_adaptor_has_an_installed_logger_reread_the_host_level() {
    let (host, mut instance) = instance(r#"{"limit": 1}"#, r#"{"limit": 5}"#);
    host.level.set(LogLevel::Warn.into());
    // Without the SDK's logger installed, nothing asks the host for its level.
    assert!(instance.on_configure(1, 12));
    instance.on_context_create(2, 1);
    instance.on_tick(1);
    assert_eq!(host.level_reads.get(), 0);

    instance.enter(crate::logging::init).expect("the SDK's logger installs");
    let info = |instance: &mut Instance, message: &str| instance.enter(|| log::info!("{message}"));
    info(&mut instance, "hidden at warn");
    // The host's level changes at run time (Envoy's admin /logging).
    host.level.set(LogLevel::Info.into());
    info(&mut instance, "hidden: not re-read yet");
    assert!(instance.on_configure(1, 12));
    info(&mut instance, "shown after on_configure");
    host.level.set(LogLevel::Error.into());
    instance.on_context_create(3, 1);
    info(&mut instance, "hidden after a new stream");
    host.level.set(LogLevel::Debug.into());
    instance.on_tick(1);
    info(&mut instance, "shown after a tick");
    assert_eq!(logged(&host, LogLevel::Info), ["shown after on_configure", "shown after a tick"]);
}
