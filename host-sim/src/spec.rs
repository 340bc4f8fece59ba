//! What a plugin is made of: its module, configuration, names, properties and
//! environment.
//!
//! Layer: plain data. Imports only `error`, `failure`, `limits` and `state`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::Error;
use crate::failure::{FailPolicy, Rebuild};
use crate::state::properties::{PropertyTree, Value};

/// A plugin to load: module bytes plus everything Envoy's `PluginConfig` and
/// `VmConfig` would say.
#[derive(Clone, Debug)]
pub struct PluginSpec {
    pub(crate) wasm: Arc<[u8]>,
    pub(crate) vm_id: String,
    pub(crate) vm_configuration: Vec<u8>,
    pub(crate) configuration: Vec<u8>,
    pub(crate) name: String,
    pub(crate) root_id: String,
    pub(crate) properties: PropertyTree,
    /// Envoy-default properties removed from the plugin's VM.
    pub(crate) removed_properties: Vec<Vec<String>>,
    pub(crate) environment: Vec<(String, String)>,
    pub(crate) capabilities: Option<Vec<String>>,
    pub(crate) redacted_headers: Vec<String>,
    pub(crate) native: Option<NativeEntry>,
    pub(crate) failure: crate::failure::FailureSettings,
    pub(crate) limits: crate::limits::Limits,
}

impl PluginSpec {
    /// A plugin from binary wasm module bytes.
    pub fn from_bytes(wasm: impl Into<Vec<u8>>) -> PluginSpec {
        PluginSpec {
            wasm: wasm.into().into(),
            vm_id: String::new(),
            vm_configuration: Vec::new(),
            configuration: Vec::new(),
            name: "plugin".into(),
            root_id: String::new(),
            properties: PropertyTree::new(),
            removed_properties: Vec::new(),
            environment: Vec::new(),
            capabilities: None,
            redacted_headers: Vec::new(),
            native: None,
            failure: Default::default(),
            limits: Default::default(),
        }
    }

    /// A plugin compiled into this binary and run natively (the null VM):
    /// `entry` is the `sluice_main` function that `sluice::main!` or
    /// `derive(RootContext)` generates on non-wasm targets. Everything else
    /// (configuration, streams, inspection) is as for a `.wasm` plugin; see
    /// [`native`](crate::native) for what differs.
    ///
    /// ```
    /// use host_sim::{Host, PluginSpec, Request, Response};
    ///
    /// struct Hello;
    /// impl sluice::RootContext for Hello {}
    /// fn sluice_main() {
    ///     sluice::set_root_context(|_| Box::new(Hello));
    /// }
    ///
    /// let mut host = Host::new();
    /// let plugin = host.load(PluginSpec::native(sluice_main)).unwrap();
    /// let outcome = host.run_http(plugin, Request::get("/"), Response::ok()).unwrap();
    /// assert!(outcome.local_response.is_none());
    /// ```
    pub fn native(entry: NativeEntry) -> PluginSpec {
        PluginSpec { native: Some(entry), ..PluginSpec::from_bytes(Vec::new()) }
    }

    /// Whether the plugin runs natively ([`PluginSpec::native`]).
    pub fn is_native(&self) -> bool {
        self.native.is_some()
    }

    /// A plugin from a `.wasm` file: a regular file of at most
    /// [`MAX_FILE_BYTES`](crate::limits::MAX_FILE_BYTES) (a FIFO or a device
    /// such as `/dev/zero` is refused without reading it).
    pub fn from_file(path: impl AsRef<Path>) -> Result<PluginSpec, Error> {
        let path = path.as_ref();
        let bytes = crate::limits::read_regular_file(path, crate::limits::MAX_FILE_BYTES)
            .map_err(|source| Error::Io { path: PathBuf::from(path), source })?;
        Ok(PluginSpec::from_bytes(bytes))
    }

    /// The plugin configuration (`proxy_on_configure`, `PLUGIN_CONFIGURATION`).
    pub fn configuration(mut self, configuration: impl Into<Vec<u8>>) -> PluginSpec {
        self.configuration = configuration.into();
        self
    }

    /// The VM configuration (`proxy_on_vm_start`, `VM_CONFIGURATION`): part
    /// of the VM's key, so plugins with different ones never share a VM.
    pub fn vm_configuration(mut self, configuration: impl Into<Vec<u8>>) -> PluginSpec {
        self.vm_configuration = configuration.into();
        self
    }

    /// The `vm_id`: plugins with the same `vm_id`, module, VM configuration
    /// and environment share a VM (Envoy's VM key), and shared data and
    /// queues are per `vm_id`.
    pub fn vm_id(mut self, vm_id: impl Into<String>) -> PluginSpec {
        self.vm_id = vm_id.into();
        self
    }

    /// The plugin name (property `plugin_name`).
    pub fn name(mut self, name: impl Into<String>) -> PluginSpec {
        self.name = name.into();
        self
    }

    /// The root id (property `plugin_root_id`).
    pub fn root_id(mut self, root_id: impl Into<String>) -> PluginSpec {
        self.root_id = root_id.into();
        self
    }

    /// Sets a property this plugin reads (overrides the Envoy defaults).
    pub fn property(mut self, path: &[&str], value: impl Into<Value>) -> PluginSpec {
        // A non-empty path cannot fail to set.
        let _ = self.properties.set(path, value.into());
        self
    }

    /// Removes one of Envoy's default properties (`node.metadata.LABELS`,
    /// `connection.mtls`, ...) before the plugin starts, as on a proxy that
    /// does not provide it: the plugin then reads NotFound. The defaults are
    /// the VM's (a proxy's node and listener), so every plugin of the VM
    /// loses it; see [`Host::remove_property`](crate::Host::remove_property).
    pub fn without_property(mut self, path: &[&str]) -> PluginSpec {
        self.removed_properties.push(path.iter().map(|s| s.to_string()).collect());
        self
    }

    /// Adds an environment variable the VM's `environ_get` serves (never the
    /// process environment). The environment is part of the VM's key:
    /// plugins with different ones never share a VM.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> PluginSpec {
        self.environment.push((key.into(), value.into()));
        self
    }

    /// Restricts the `proxy_*` host functions the plugin may call, as
    /// Envoy's `capability_restriction_config`: any other one logs
    /// "Attempted call to restricted proxy-wasm capability: `<name>`" (error
    /// level) and returns `INTERNAL_FAILURE`; a WASI function left out (any
    /// of them, `fd_write` to the stubs) logs "Attempted call to restricted
    /// WASI capability: `<name>`" and returns errno 76 (`ENOTCAPABLE`), a
    /// left-out `proc_exit` returns without exiting.
    /// Callbacks (`proxy_on_*`) are not restricted. Capabilities belong to the VM:
    /// plugins with different lists never share one.
    pub fn allow_capabilities<S: Into<String>>(mut self, functions: impl IntoIterator<Item = S>) -> PluginSpec {
        self.capabilities = Some(functions.into_iter().map(Into::into).collect());
        self
    }

    /// Hides these request/response headers (e.g. `authorization`, `cookie`)
    /// from what the plugin can read: header-map reads and the
    /// `request.headers`/`response.headers` properties. The upstream and
    /// client still get them; a plugin replacing a whole map keeps them.
    pub fn redact_headers<S: AsRef<str>>(mut self, names: impl IntoIterator<Item = S>) -> PluginSpec {
        self.redacted_headers.extend(names.into_iter().map(|n| n.as_ref().to_ascii_lowercase()));
        self
    }

    /// Serves the plugin as Envoy does after its VM fails, with this
    /// failure policy (Envoy's default is [`FailPolicy::Closed`]): the calls
    /// that drive streams succeed and report what the client saw (a fail-closed
    /// stream's local reply `503` `wasm_fail_stream`, a closed TCP
    /// connection); the failure is in [`Host::failure`](crate::Host::failure).
    /// Without a policy, a failure is an error for the test: the driving call
    /// returns [`Error::Trap`] and the VM then refuses streams and callbacks
    /// ([`Error::VmFailed`]). A strict-mode violation is an error for the
    /// test under any policy ([`Host::set_strict`](crate::Host::set_strict)).
    /// See [`crate::failure`].
    pub fn fail_policy(mut self, policy: FailPolicy) -> PluginSpec {
        self.failure.policy = Some(policy);
        self
    }

    /// Envoy's `fail_open`: [`FailPolicy::Open`] if true, else [`FailPolicy::Closed`].
    pub fn fail_open(self, open: bool) -> PluginSpec {
        self.fail_policy(if open { FailPolicy::Open } else { FailPolicy::Closed })
    }

    /// Rebuilds the plugin's VM after a failure, when the next stream
    /// starts, within the crash-loop limit of `rule` (virtual time); implies
    /// fail closed unless a fail policy is set. Rebuild settings belong to
    /// the VM: plugins with different settings never share one. Default: a
    /// failed VM stays failed.
    pub fn rebuild(mut self, rule: Rebuild) -> PluginSpec {
        self.failure.rebuild = Some(rule);
        self.failure.policy.get_or_insert(FailPolicy::Closed);
        self
    }

    /// Bounds what the plugin's guest can make the host spend (log lines,
    /// properties, pending callouts, shared data, queues, metrics, the work
    /// of a host call, deliveries per step; see [`Limits`](crate::Limits)
    /// for each default). Exceeding one fails the VM with an error naming
    /// the limit and its value, under the plugin's fail policy. Limits
    /// belong to the VM: plugins with different ones never share one.
    pub fn limits(mut self, limits: crate::limits::Limits) -> PluginSpec {
        self.limits = limits;
        self
    }

    /// The module bytes.
    pub fn wasm(&self) -> &[u8] {
        &self.wasm
    }
}

/// A plugin loaded in a [`Host`](crate::Host).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PluginId {
    pub(crate) vm: usize,
    pub(crate) root: u32,
}

impl PluginId {
    /// The plugin's root context id.
    pub fn root_context_id(self) -> u32 {
        self.root
    }

    /// The index of its VM in the host.
    pub fn vm_index(self) -> usize {
        self.vm
    }
}

/// A natively compiled plugin's entry point: the `sluice_main` function that
/// `sluice::main!` (or `derive(RootContext)`) generates, which registers the
/// plugin's root context.
pub type NativeEntry = fn();

/// Whether two entry points are the same function.
pub(crate) fn same_entry(a: Option<NativeEntry>, b: Option<NativeEntry>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => std::ptr::fn_addr_eq(a, b),
        (None, None) => true,
        _ => false,
    }
}
