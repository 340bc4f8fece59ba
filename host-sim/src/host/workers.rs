//! Envoy's workers: every plugin runs on one VM per worker thread
//! ([`HostOptions::concurrency`](crate::HostOptions::concurrency)), and each
//! new connection goes to one worker.
//!
//! Envoy keeps one copy of each Wasm VM per worker (`getOrCreateThreadLocalWasm`
//! clones the base VM for each thread), so each worker's VM runs
//! `on_vm_start` and `on_configure`, has its own memory (a plugin's global
//! variables are per worker) and its own timers. Shared data and shared
//! queues are the process's, keyed by `vm_id`, so every worker sees the
//! same ones; stats are the process's too: the same metric defined on N
//! workers is one stat, and the workers' increments add up.
//!
//! Envoy balances connections across workers by the kernel (or the exact
//! balancer); host-sim assigns them round robin, which is deterministic and
//! lets a test name the worker of a stream instead.

use crate::error::Error;
use crate::host::Host;
use crate::spec::{PluginId, PluginSpec};

/// A loaded plugin: its instance on each worker, and what replaced it.
#[derive(Debug, Clone)]
pub(crate) struct PluginEntry {
    pub name: String,
    /// What it was loaded from (a reload of the configuration keeps the rest).
    pub spec: PluginSpec,
    /// Its instance on each worker, by worker index.
    pub instances: Vec<PluginId>,
    /// The entry that replaced it (a reload), if one did.
    pub replaced_by: Option<usize>,
    /// Replaced, and its root contexts not yet gone (they go once their
    /// streams finish).
    pub draining: bool,
}

impl PluginEntry {
    pub fn new(name: String, spec: PluginSpec, instances: Vec<PluginId>) -> PluginEntry {
        PluginEntry { name, spec, instances, replaced_by: None, draining: false }
    }
}

impl Host {
    /// How many workers run the plugins ([`HostOptions::concurrency`](crate::HostOptions::concurrency), at least 1).
    pub fn worker_count(&self) -> usize {
        self.options.concurrency.max(1)
    }

    /// The worker the next new connection goes to (round robin), moving
    /// the turn on.
    pub fn next_worker(&mut self) -> usize {
        let worker = self.next_worker % self.worker_count();
        self.next_worker = (worker + 1) % self.worker_count();
        worker
    }

    /// Starts a plugin on every worker; on a failure, the instances
    /// started so far are shut down and the error is the failing worker's.
    pub(crate) fn load_on_workers(&mut self, spec: &PluginSpec) -> Result<Vec<PluginId>, Error> {
        let mut instances = Vec::with_capacity(self.worker_count());
        for worker in 0..self.worker_count() {
            match self.load_on(spec.clone(), worker) {
                Ok(id) => instances.push(id),
                Err(error) => {
                    for id in instances {
                        let _ = self.shutdown_instance(id);
                    }
                    return Err(error);
                }
            }
        }
        Ok(instances)
    }

    /// The entry a plugin id belongs to (any worker's instance).
    pub(crate) fn entry_of(&self, plugin: PluginId) -> Option<usize> {
        self.plugins.iter().position(|e| e.instances.contains(&plugin))
    }

    /// The instance serving new streams of `plugin` on `worker`: the newest
    /// reload of the plugin, on that worker. An id the host did not hand
    /// out by loading (none today) is taken as it is.
    pub(crate) fn serving(&self, plugin: PluginId, worker: usize) -> Result<PluginId, Error> {
        let Some(mut entry) = self.entry_of(plugin) else { return Ok(plugin) };
        while let Some(next) = self.plugins[entry].replaced_by {
            entry = next;
        }
        let instances = &self.plugins[entry].instances;
        instances.get(worker).copied().ok_or_else(|| {
            Error::InvalidArgument(format!("worker {worker}: the host has {} worker(s)", instances.len()))
        })
    }

    /// A plugin's instance on each worker (worker `k` at index `k`), for
    /// inspecting each worker's VM: [`Host::fuel`], [`Host::vm_logs`],
    /// [`Host::tick`] and [`Host::property`] take them. The plugin as
    /// loaded, not its reloads (see [`Host::current`]).
    pub fn instances(&self, plugin: PluginId) -> Vec<PluginId> {
        match self.entry_of(plugin) {
            Some(entry) => self.plugins[entry].instances.clone(),
            None => vec![plugin],
        }
    }

    /// The worker a plugin instance runs on.
    pub fn worker_of(&self, plugin: PluginId) -> usize {
        self.vms.get(plugin.vm).map_or(0, |vm| vm.settings.worker)
    }

    /// The log lines of one VM (a plugin instance's, on its worker), oldest first.
    pub fn vm_logs(&self, plugin: PluginId) -> Vec<crate::LogRecord> {
        self.vms.get(plugin.vm).map(|vm| vm.state().logs.iter().cloned().collect()).unwrap_or_default()
    }

    /// Opens an HTTP stream on a plugin's instance on `worker` (the newest
    /// reload of it), instead of the worker [`Host::http_stream`] would pick.
    pub fn http_stream_on(&mut self, plugin: PluginId, worker: usize) -> Result<crate::HttpStream<'_>, Error> {
        let instance = self.serving(plugin, worker)?;
        self.open_http(instance)
    }

    /// Opens a TCP connection on a plugin's instance on `worker`.
    pub fn tcp_stream_on(&mut self, plugin: PluginId, worker: usize) -> Result<crate::TcpStream<'_>, Error> {
        let instance = self.serving(plugin, worker)?;
        self.open_tcp(instance)
    }

    /// The worker and instance a new stream on `plugin` goes to: the given
    /// instance itself when it is one worker's (not worker 0's, which
    /// stands for the plugin), else the next worker's, round robin.
    pub(crate) fn route_stream(&mut self, plugin: PluginId) -> Result<PluginId, Error> {
        let primary = self.entry_of(plugin).map(|e| self.plugins[e].instances[0]);
        if primary.is_some_and(|p| p != plugin) || self.worker_count() == 1 {
            let worker = self.worker_of(plugin);
            return self.serving(plugin, worker);
        }
        let worker = self.next_worker();
        self.serving(plugin, worker)
    }
}
