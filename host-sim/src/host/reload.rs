//! Live reloads: a plugin's configuration or module replaced while streams
//! flow, as an xDS (LDS or ECDS) update replaces a Wasm filter's config.
//!
//! Envoy builds the new filter configuration next to the old one: the
//! filter chain of each new stream is made from the new configuration, and
//! streams already open keep the filters (and root contexts) they were
//! made with until they finish; the old plugin's root contexts go (their
//! `on_done`, then `on_delete`) once nothing uses them. A new root context
//! goes on the VM of the same key (`vm_id`, module, VM configuration,
//! environment) when one exists, so a configuration-only change keeps the
//! VM and its memory; a new module or VM configuration starts a new VM.
//!
//! A new version whose start fails is rejected as Envoy rejects it: when
//! the Wasm filter's config is built, proxy-wasm's `createWasm` starts and
//! configures the plugin on a throwaway "configuration canary" clone of the
//! base VM, and an `on_vm_start` or `on_configure` that fails there fails
//! the config ("Failed to configure base Wasm plugin", the factory throws),
//! so the listener (or ECDS) update is NACKed and the previous config keeps
//! serving. host-sim models exactly that: [`Host::reload`] returns
//! [`Error::ReloadRejected`], nothing of the new version stays, and the old
//! version keeps serving new streams.

use crate::error::Error;
use crate::host::Host;
use crate::spec::{PluginId, PluginSpec};

impl Host {
    /// Replaces a plugin (given by any of its ids, old generations
    /// included) with `spec` on every worker. New streams go to the new
    /// version; streams already open finish on the old one, whose root
    /// contexts then get `on_done` and `on_delete`. Returns the new
    /// version's id (worker 0's instance). A new version that fails to
    /// start is [`Error::ReloadRejected`] and the old one keeps serving.
    pub fn reload(&mut self, plugin: PluginId, spec: PluginSpec) -> Result<PluginId, Error> {
        let entry = self.newest_entry(plugin)?;
        let instances = match self.load_on_workers(&spec) {
            Ok(instances) => instances,
            Err(reason) => {
                let plugin = self.plugins[entry].name.clone();
                return Err(Error::ReloadRejected { plugin, reason: Box::new(reason) });
            }
        };
        let name = spec.name.clone();
        self.plugins.push(crate::host::workers::PluginEntry::new(name, spec, instances.clone()));
        let new = self.plugins.len() - 1;
        self.plugins[entry].replaced_by = Some(new);
        self.plugins[entry].draining = true;
        self.drain_replaced()?;
        Ok(instances[0])
    }

    /// Reloads a plugin with a new configuration only (module, VM
    /// configuration and everything else as loaded): its new root contexts
    /// go on the VMs it is on.
    pub fn reconfigure(&mut self, plugin: PluginId, configuration: impl Into<Vec<u8>>) -> Result<PluginId, Error> {
        let entry = self.newest_entry(plugin)?;
        let spec = self.plugins[entry].spec.clone().configuration(configuration);
        self.reload(plugin, spec)
    }

    /// The newest version of a plugin (worker 0's instance): `plugin` itself
    /// unless it was reloaded.
    pub fn current(&self, plugin: PluginId) -> PluginId {
        self.serving(plugin, 0).unwrap_or(plugin)
    }

    /// Whether a replaced version of a plugin still has streams open (its
    /// root contexts wait for them).
    pub fn is_draining(&self, plugin: PluginId) -> bool {
        self.entry_of(plugin).is_some_and(|e| self.plugins[e].draining)
    }

    fn newest_entry(&self, plugin: PluginId) -> Result<usize, Error> {
        let mut entry =
            self.entry_of(plugin).ok_or_else(|| Error::NotFound(format!("plugin (root context {})", plugin.root)))?;
        while let Some(next) = self.plugins[entry].replaced_by {
            entry = next;
        }
        Ok(entry)
    }

    /// Shuts down the root contexts of replaced versions whose streams
    /// have all finished (`on_done`, `on_delete`).
    pub(crate) fn drain_replaced(&mut self) -> Result<(), Error> {
        if self.draining_now || !self.plugins.iter().any(|e| e.draining) {
            return Ok(());
        }
        self.draining_now = true;
        let result = self.drain_idle();
        self.draining_now = false;
        result
    }

    fn drain_idle(&mut self) -> Result<(), Error> {
        for entry in 0..self.plugins.len() {
            if !self.plugins[entry].draining {
                continue;
            }
            let mut drained = true;
            for instance in self.plugins[entry].instances.clone() {
                let Some(vm) = self.vms.get(instance.vm) else { continue };
                let state = vm.state();
                let Some(root) = state.plugins.get(&instance.root) else { continue };
                if root.deleted {
                    continue;
                }
                if state.contexts.streams_of(instance.root) > 0 {
                    drained = false;
                    continue;
                }
                if vm.failed.is_some() {
                    continue;
                }
                self.shutdown_instance(instance)?;
            }
            if drained {
                self.plugins[entry].draining = false;
            }
        }
        Ok(())
    }
}
