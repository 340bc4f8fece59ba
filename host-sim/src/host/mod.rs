//! The test-facing host: load plugins, drive streams, advance the clock,
//! answer callouts, and inspect everything a plugin did. A `Host` owns all
//! of its state (no globals), so tests run in parallel.
//!
//! Layer: the host. Every `impl Host` block lives in this folder (`profile`,
//! `usage`, `rebuild`, `reload`, `workers`, `streams`, `chain`, `exchange`);
//! it imports `vm`, `native`, `engine`, `store` and the data modules, and
//! nothing above it (`dual`, `compat`, `report`, `istio`, `oci`, `scenario`)
//! imports back.

pub mod chain;
pub(crate) mod exchange;
mod profile;
mod rebuild;
mod reload;
pub(crate) mod streams;
mod usage;
pub(crate) mod workers;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::engine;
use crate::error::Error;
use crate::policy::Policy;
use crate::spec::{PluginId, PluginSpec};
use crate::state::callouts::{CalloutEnd, Deadline, DeadlineKind, GrpcCallout, GrpcKind, HttpCallout};
use crate::state::logs::{HostCall, LogRecord};
use crate::state::metrics::MetricValue;
use crate::state::properties::{Value, envoy_defaults};
use crate::store::{Callback, PluginState, World};
use crate::types::{AbiVersion, LogLevel, Status};
use crate::vm::{GrpcEvent, HttpCallResponse, Vm, VmSettings};

/// Host-wide settings.
#[derive(Clone, Debug)]
pub struct HostOptions {
    /// Seed of every VM's `random_get` (VM `n` uses `seed + n`).
    pub seed: u64,
    /// Log lines kept per VM (older ones are dropped).
    pub log_capacity: usize,
    /// Host calls kept in each VM's trace.
    pub trace_capacity: usize,
    /// What `proxy_get_log_level` reports (change it later with
    /// [`Host::set_log_level`]).
    pub log_level: LogLevel,
    /// Memory cap per VM in bytes (default Envoy's 1 GiB): a `memory.grow`
    /// past it returns -1, as in Envoy.
    pub memory_limit: usize,
    /// CPU deadline of one guest call (default 1 s; `None`: none). A call
    /// that runs longer traps and fails its VM.
    pub cpu_deadline: Option<Duration>,
    /// Fuel budget of one guest call (default `None`: unlimited). Fuel is
    /// always counted; read it with [`Host::fuel`].
    pub fuel: Option<u64>,
    /// The wall time the host starts at, in nanoseconds since the Unix
    /// epoch (default 2025-01-01T00:00:00Z); [`Host::set_now_ns`] changes it later.
    pub realtime_ns: u64,
    /// The monotonic time the host starts at, in nanoseconds since boot
    /// (default a day: a real proxy's clock is never near 0, and the Go
    /// runtime refuses one that reads 0). Only [`Host::advance`] moves it.
    pub monotonic_ns: u64,
    /// Envoy's `stream_idle_timeout` (default 5 minutes; `None`: off): an
    /// HTTP stream without an event from the client or the upstream for
    /// this long, paused by a plugin that never resumes it (a callout to a
    /// failed VM is never answered) or waiting for its peer, ends when
    /// [`Host::advance`] passes it: 504 `stream timeout` if the whole
    /// request was received, 408 if not, a reset once the response started.
    pub stream_idle_timeout: Option<Duration>,
    /// Envoy's `--concurrency`: how many worker threads run the plugins
    /// (default 1; 0 counts as 1). Each loaded plugin gets one VM per worker
    /// (each running `on_vm_start` and `on_configure`, with its own ticks and
    /// memory); streams go to the workers round robin, one new connection
    /// each (see [`Host::next_worker`]). Shared data, queues and metrics are
    /// the process's: every worker's VMs of a `vm_id` share them.
    pub concurrency: usize,
}

impl Default for HostOptions {
    fn default() -> HostOptions {
        HostOptions {
            seed: 0x5eed,
            log_capacity: 100_000,
            trace_capacity: 100_000,
            log_level: LogLevel::Trace,
            memory_limit: crate::faults::DEFAULT_MEMORY_LIMIT,
            cpu_deadline: Some(crate::faults::DEFAULT_CPU_DEADLINE),
            fuel: None,
            realtime_ns: crate::state::clock::DEFAULT_EPOCH_NS,
            monotonic_ns: crate::state::clock::DEFAULT_MONOTONIC_NS,
            stream_idle_timeout: Some(Duration::from_secs(300)),
            concurrency: 1,
        }
    }
}

/// Identifies an HTTP or gRPC callout for answering it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CalloutId {
    /// VM index.
    pub vm: usize,
    /// The token the plugin got.
    pub token: u32,
}

impl HttpCallout {
    /// The id to answer this call with.
    pub fn id(&self) -> CalloutId {
        CalloutId { vm: self.vm, token: self.token }
    }
}

impl GrpcCallout {
    /// The id to answer this call or stream with.
    pub fn id(&self) -> CalloutId {
        CalloutId { vm: self.vm, token: self.token }
    }
}

/// A simulated Envoy: VMs, plugins and the host state they share.
#[derive(Debug)]
pub struct Host {
    pub(crate) world: Arc<Mutex<World>>,
    pub(crate) vms: Vec<Vm>,
    /// What VMs whose start failed logged before they went (as Envoy's log
    /// keeps the lines of a VM that did not start).
    pub(crate) lost_logs: Vec<LogRecord>,
    pub(crate) options: HostOptions,
    /// Every loaded plugin: its instance on each worker, and its reloads.
    pub(crate) plugins: Vec<crate::host::workers::PluginEntry>,
    /// The worker the next new connection goes to.
    pub(crate) next_worker: usize,
    /// Open filter-chain streams and connections, by id.
    pub(crate) chains: std::collections::BTreeMap<u32, crate::host::chain::ChainState>,
    pub(crate) chain_ids: u32,
    /// Chains are being moved along (the guard against re-entry).
    pub(crate) pumping_chains: bool,
    /// Replaced plugins are being shut down (the guard against re-entry).
    pub(crate) draining_now: bool,
}

impl Default for Host {
    fn default() -> Host {
        Host::new()
    }
}

impl Host {
    /// A host with default options.
    pub fn new() -> Host {
        Host::with_options(HostOptions::default())
    }

    /// A host with the given options.
    pub fn with_options(options: HostOptions) -> Host {
        let world = Arc::<Mutex<World>>::default();
        {
            let mut world = world.lock().unwrap_or_else(|p| p.into_inner());
            world.clock.set_realtime_ns(options.realtime_ns);
            world.clock.set_monotonic_ns(options.monotonic_ns);
        }
        Host {
            world,
            vms: Vec::new(),
            lost_logs: Vec::new(),
            options,
            plugins: Vec::new(),
            next_worker: 0,
            chains: Default::default(),
            chain_ids: 0,
            pumping_chains: false,
            draining_now: false,
        }
    }

    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn vm(&mut self, index: usize) -> Result<&mut Vm, Error> {
        self.vms.get_mut(index).ok_or_else(|| Error::NotFound(format!("VM {index}")))
    }

    /// Runs `f` on a VM, then delivers what host functions queued for other
    /// roots (queue notifications).
    pub(crate) fn on_vm<R>(&mut self, index: usize, f: impl FnOnce(&mut Vm) -> Result<R, Error>) -> Result<R, Error> {
        let result = f(self.vm(index)?);
        self.pump()?;
        self.pump_chains()?;
        self.drain_replaced()?;
        result
    }

    /// Delivers pending `on_queue_ready` notifications, each after the guest
    /// call that enqueued returned.
    /// At most `deliveries_per_step` reach one VM: past that a guest that
    /// keeps enqueueing from `on_queue_ready` fails its VM.
    pub(crate) fn pump(&mut self) -> Result<(), Error> {
        let mut deliveries: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
        loop {
            let ready = std::mem::take(&mut self.world().queue_ready);
            if ready.is_empty() {
                return Ok(());
            }
            for (owner, token) in ready {
                if let Some(vm) = self.vms.get_mut(owner.vm)
                    && vm.failed.is_none()
                {
                    let count = deliveries.entry(owner.vm).or_default();
                    *count += 1;
                    let what = "queue notifications after one guest call";
                    if vm.over_deliveries(*count, Some(owner.root_id), "proxy_on_queue_ready", what)? {
                        continue;
                    }
                    vm.queue_ready(owner.root_id, token)?;
                }
            }
        }
    }

    /// Loads a plugin. A VM with the same `vm_id`, module, VM configuration
    /// and environment is reused (the plugin gets its own root context
    /// there), as Envoy keys its VMs; otherwise a new VM starts. Runs
    /// `on_context_create`, `on_vm_start` and `on_configure`; when one of them
    /// returns false or fails, the plugin is not started: its root context,
    /// its timer and its callouts are gone, and the error says why.
    ///
    /// With [`HostOptions::concurrency`] above 1 the plugin starts on every
    /// worker (its own VM on each); the id returned is worker 0's instance,
    /// and stands for the plugin: streams opened on it go to the worker
    /// [`Host::next_worker`] picks. [`Host::instances`] lists every worker's.
    pub fn load(&mut self, spec: PluginSpec) -> Result<PluginId, Error> {
        let instances = self.load_on_workers(&spec)?;
        let name = spec.name.clone();
        self.plugins.push(crate::host::workers::PluginEntry::new(name, spec, instances.clone()));
        Ok(instances[0])
    }

    /// Starts `spec` on one worker.
    pub(crate) fn load_on(&mut self, spec: PluginSpec, worker: usize) -> Result<PluginId, Error> {
        let compiled = match spec.native {
            // A native plugin's imports are unknown until it calls them: the
            // bridge applies the profile's link rules per call.
            Some(_) => crate::native::compiled()?,
            None => {
                let profile = self.world().policy.profile;
                engine::compile_linked(&spec.wasm, Policy::linking(profile), |module| {
                    Policy::check_link(profile, module)
                })?
            }
        };
        let existing = self.vms.iter().position(|vm| {
            vm.failed.is_none()
                && vm.state().vm_id == spec.vm_id
                && vm.settings.vm_configuration == spec.vm_configuration
                && same_environment(&vm.settings.environment, &spec.environment)
                && Arc::ptr_eq(&vm.compiled, &compiled)
                && crate::spec::same_entry(vm.settings.native, spec.native)
                && vm.settings.limits == spec.limits
                && vm.settings.worker == worker
                && self.world().policy.vm_matches(vm.state().index, &spec)
        });
        let index = match existing {
            Some(index) => index,
            None => {
                let mut properties = envoy_defaults();
                let _ = properties.set(&["plugin_vm_id"], Value::from(spec.vm_id.as_str()));
                let settings = VmSettings {
                    vm_id: spec.vm_id.clone(),
                    vm_configuration: spec.vm_configuration.clone(),
                    environment: spec.environment.clone(),
                    properties,
                    log_level: self.options.log_level,
                    seed: self.options.seed.wrapping_add(self.vms.len() as u64),
                    log_capacity: self.options.log_capacity,
                    trace_capacity: self.options.trace_capacity,
                    memory_limit: self.options.memory_limit,
                    cpu_deadline: self.options.cpu_deadline,
                    fuel: self.options.fuel,
                    native: spec.native,
                    limits: spec.limits,
                    worker,
                };
                self.world().policy.assign(self.vms.len(), &spec);
                let vm = Vm::new(compiled, self.vms.len(), settings, self.world.clone(), &mut self.lost_logs)?;
                self.vms.push(vm);
                self.vms.len() - 1
            }
        };
        for path in &spec.removed_properties {
            self.vms[index].state_mut().properties.remove(path);
        }
        let plugin = PluginState {
            name: spec.name,
            root_id: spec.root_id,
            configuration: spec.configuration,
            properties: spec.properties,
            deleted: false,
            fail_policy: spec.failure.policy,
        };
        let root = self.on_vm(index, |vm| vm.start_plugin(plugin))?;
        Ok(PluginId { vm: index, root })
    }

    /// The ABI version of a plugin's module.
    pub fn abi(&self, plugin: PluginId) -> Option<AbiVersion> {
        self.vms.get(plugin.vm).map(|vm| vm.state().abi)
    }

    /// Why a plugin's VM failed (a trap, a panic, an exceeded limit,
    /// `proc_exit`), if it is failed now: a rebuilt VM has not failed (the
    /// failures it replaced are in [`Host::rebuilds`]).
    pub fn failure(&self, plugin: PluginId) -> Option<&str> {
        self.vms.get(plugin.vm).and_then(|vm| vm.failed.as_deref())
    }

    /// Shuts a plugin down (`on_done`, then `on_delete` now or after the
    /// plugin's `proxy_done`). Returns what `on_done` returned. The id a
    /// load returned shuts the plugin down on every worker (returning worker
    /// 0's answer); another worker's instance ([`Host::instances`]) only
    /// that one.
    pub fn shutdown(&mut self, plugin: PluginId) -> Result<bool, Error> {
        let others: Vec<PluginId> = match self.entry_of(plugin) {
            Some(entry) if self.plugins[entry].instances[0] == plugin => self.plugins[entry].instances[1..].to_vec(),
            _ => Vec::new(),
        };
        let done = self.shutdown_instance(plugin)?;
        for other in others {
            self.shutdown_instance(other)?;
        }
        Ok(done)
    }

    /// Shuts one worker's instance of a plugin down.
    pub(crate) fn shutdown_instance(&mut self, plugin: PluginId) -> Result<bool, Error> {
        self.on_vm(plugin.vm, |vm| vm.shutdown_plugin(plugin.root))
    }

    /// Whether a plugin's root context was deleted.
    pub fn is_deleted(&self, plugin: PluginId) -> bool {
        self.vms.get(plugin.vm).and_then(|vm| vm.state().plugins.get(&plugin.root)).is_some_and(|p| p.deleted)
    }

    // ---- clock and timers ----

    /// Moves the virtual clock forward, firing every tick and every callout
    /// timeout that falls due, in time order, with the clock set to each
    /// event's time. A timed-out HTTP call gets Envoy's local 504 reply (see
    /// [`HttpCallResponse::timeout`]), a timed-out unary gRPC call closes
    /// with the profile's status (see [`HostProfile::grpc_timeout_status`](crate::HostProfile::grpc_timeout_status)).
    ///
    /// A failed VM gets neither: as Envoy skips the root callbacks of a
    /// failed VM, its timers and its callouts' timeouts are dropped when they
    /// fall due (the callouts with them), and the other VMs keep ticking.
    ///
    /// The clocks count nanoseconds in a `u64`: advancing either past
    /// `u64::MAX` is [`Error::InvalidArgument`] and moves nothing. At most
    /// [`Limits::deliveries_per_step`](crate::Limits::deliveries_per_step)
    /// ticks and timeouts reach one VM per call; past that the VM fails.
    pub fn advance(&mut self, by: Duration) -> Result<(), Error> {
        let target = {
            let world = self.world();
            let (monotonic, realtime) = (world.clock.monotonic_ns(), world.clock.realtime_ns());
            let ns = u64::try_from(by.as_nanos()).ok();
            match ns.and_then(|ns| Some((monotonic.checked_add(ns)?, realtime.checked_add(ns)?))) {
                Some((target, _)) => target,
                None => {
                    return Err(Error::InvalidArgument(format!(
                        "advancing the clock by {by:?} passes the end of time: the clocks count nanoseconds \
                         in a u64 (at most {} ns) and are at {monotonic} ns (monotonic) and {realtime} ns (wall)",
                        u64::MAX
                    )));
                }
            }
        };
        let mut deliveries: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
        // Streams idle for stream_idle_timeout end in time order with the
        // ticks and callout timeouts.
        while let Some((at, vm, id)) = self.next_idle_stream(target) {
            self.deliver_due(at, &mut deliveries)?;
            let idle = self.options.stream_idle_timeout.unwrap_or_default();
            self.on_vm(vm, |vm| vm.stream_idle_timeout(id, idle))?;
        }
        self.deliver_due(target, &mut deliveries)
    }

    /// The first HTTP stream whose idle timeout falls due by `target`:
    /// when, its VM and its id.
    fn next_idle_stream(&self, target: u64) -> Option<(u64, usize, u32)> {
        let idle = u64::try_from(self.options.stream_idle_timeout?.as_nanos()).unwrap_or(u64::MAX);
        self.vms
            .iter()
            .enumerate()
            .flat_map(|(index, vm)| {
                vm.state()
                    .http
                    .iter()
                    .filter(|(_, s)| !s.finished && !s.chained && s.ended.is_none() && !s.idle_timed_out)
                    .map(move |(id, s)| (s.last_activity_ns.saturating_add(idle), index, *id))
            })
            .filter(|(at, _, _)| *at <= target)
            .min()
    }

    /// Ticks and callout timeouts due up to `target`, in time order, then the
    /// clock at `target`.
    fn deliver_due(
        &mut self,
        target: u64,
        deliveries: &mut std::collections::HashMap<usize, usize>,
    ) -> Result<(), Error> {
        loop {
            let (tick, timeout) = {
                let mut world = self.world();
                let timeout = world.callouts.next_timeout(target);
                // Ticks due no later than the first callout timeout go first.
                let tick = world.timers.pop_due(timeout.map_or(target, |t| t.at_ns));
                let at = tick.map(|t| t.1).or(timeout.map(|t| t.at_ns));
                if let Some(at) = at {
                    world.clock.advance_to(at);
                }
                (tick, timeout)
            };
            let due = match (tick, timeout) {
                (Some(((vm, root), _)), _) => Some((vm, Some(root), Callback::Tick)),
                (None, Some(deadline)) => {
                    let callback = match deadline.kind {
                        DeadlineKind::Http => Callback::HttpCallResponse,
                        DeadlineKind::Grpc => Callback::GrpcClose,
                    };
                    Some((deadline.vm, self.world().callouts.owner(deadline), callback))
                }
                (None, None) => None,
            };
            if let Some((vm, root, callback)) = due
                && !self.is_failed(vm)
            {
                let count = deliveries.entry(vm).or_default();
                *count += 1;
                let count = *count;
                let what = "ticks and callout timeouts of one Host::advance";
                if self.vms[vm].over_deliveries(count, root, callback.name(), what)? {
                    // The VM failed: the next round drops what fell due for it.
                    continue;
                }
            }
            match (tick, timeout) {
                (Some(((vm, root), _)), _) if self.is_failed(vm) => self.world().timers.remove((vm, root)),
                (Some(((vm, root), _)), _) => self.on_vm(vm, |vm| vm.tick(root))?,
                (None, Some(Deadline { kind, vm, token, .. })) if self.is_failed(vm) => {
                    let mut world = self.world();
                    match kind {
                        DeadlineKind::Http => drop(world.callouts.take_http(vm, token, CalloutEnd::Dropped)),
                        DeadlineKind::Grpc => drop(world.callouts.take_grpc(vm, token, CalloutEnd::Dropped)),
                    }
                }
                (None, Some(Deadline { kind, vm, token, .. })) => {
                    let id = CalloutId { vm, token };
                    match kind {
                        DeadlineKind::Http => {
                            self.finish_http_call(id, Some(HttpCallResponse::timeout()), CalloutEnd::TimedOut)?
                        }
                        DeadlineKind::Grpc => {
                            let status = self.world().policy.profile.grpc_timeout_status();
                            self.deliver_grpc(id, GrpcEvent::timeout(status), CalloutEnd::TimedOut)?
                        }
                    }
                }
                (None, None) => break,
            }
        }
        self.world().clock.advance_to(target);
        Ok(())
    }

    /// Whether VM `index` has failed (and is not rebuilt yet).
    fn is_failed(&self, index: usize) -> bool {
        self.vms.get(index).is_some_and(|vm| vm.failed.is_some())
    }

    /// Calls `proxy_on_tick` on a plugin now.
    pub fn tick(&mut self, plugin: PluginId) -> Result<(), Error> {
        self.on_vm(plugin.vm, |vm| vm.tick(plugin.root))
    }

    /// The tick period a plugin set.
    pub fn tick_period(&self, plugin: PluginId) -> Option<Duration> {
        self.world().timers.period((plugin.vm, plugin.root))
    }

    /// Wall time, nanoseconds since the Unix epoch.
    pub fn now_ns(&self) -> u64 {
        self.world().clock.realtime_ns()
    }

    /// Sets the wall time.
    pub fn set_now_ns(&mut self, ns: u64) {
        self.world().clock.set_realtime_ns(ns);
    }

    /// Monotonic time in nanoseconds (what WASI's `clock_time_get` answers
    /// for the monotonic clock): a day after boot when the host is made
    /// (see [`HostOptions::monotonic_ns`](crate::HostOptions::monotonic_ns)),
    /// then moved by [`Host::advance`].
    pub fn monotonic_ns(&self) -> u64 {
        self.world().clock.monotonic_ns()
    }

    // ---- logs, trace, metrics ----

    /// Every log line of every VM, per VM in order, then the lines of VMs
    /// whose start failed (the newest [`HostOptions::log_capacity`] of them).
    pub fn logs(&self) -> Vec<LogRecord> {
        self.vms.iter().flat_map(|vm| vm.state().logs.iter().cloned()).chain(self.lost_logs.iter().cloned()).collect()
    }

    /// The messages logged at `level`.
    pub fn logs_at(&self, level: LogLevel) -> Vec<String> {
        self.logs().into_iter().filter(|r| r.level == level).map(|r| r.message).collect()
    }

    /// Changes the log level plugins see from `proxy_get_log_level`, on every
    /// VM, as Envoy's runtime log-level change does.
    pub fn set_log_level(&mut self, level: LogLevel) {
        self.options.log_level = level;
        for vm in &mut self.vms {
            vm.state_mut().log_level = level;
        }
    }

    /// Fuel a plugin's VM consumed: the last top-level guest call and the
    /// total (a deterministic instruction count; see [`HostOptions::fuel`]).
    pub fn fuel(&self, plugin: PluginId) -> Option<crate::faults::FuelUsage> {
        self.vms.get(plugin.vm).map(|vm| vm.fuel)
    }

    /// Forgets captured logs and traces.
    pub fn clear_logs(&mut self) {
        self.lost_logs.clear();
        for vm in &mut self.vms {
            vm.state_mut().logs.clear();
            vm.state_mut().trace.clear();
        }
    }

    /// Every host call of every VM, per VM in order.
    pub fn trace(&self) -> Vec<HostCall> {
        self.vms.iter().flat_map(|vm| vm.state().trace.iter().cloned()).collect()
    }

    /// A metric by name.
    pub fn metric(&self, name: &str) -> Option<MetricValue> {
        self.world().metrics.by_name(name).cloned()
    }

    /// Every metric with its value, in definition order.
    pub fn metrics(&self) -> Vec<(String, MetricValue)> {
        self.world().metrics.all().map(|(n, v)| (n.to_owned(), v.clone())).collect()
    }

    /// A counter's value.
    pub fn counter(&self, name: &str) -> Option<u64> {
        match self.metric(name)? {
            MetricValue::Counter(v) => Some(v),
            _ => None,
        }
    }

    /// A gauge's value.
    pub fn gauge(&self, name: &str) -> Option<i64> {
        match self.metric(name)? {
            MetricValue::Gauge(v) => Some(v),
            _ => None,
        }
    }

    /// A histogram's recorded values.
    pub fn histogram(&self, name: &str) -> Option<Vec<u64>> {
        match self.metric(name)? {
            MetricValue::Histogram(v) => Some(v),
            _ => None,
        }
    }

    // ---- shared data, queues, properties, foreign functions ----

    /// A shared-data value and its CAS.
    pub fn shared_data(&self, vm_id: &str, key: &str) -> Option<(Vec<u8>, u32)> {
        self.world().shared_data.get(vm_id, key.as_bytes()).ok().map(|(v, cas)| (v.to_vec(), cas))
    }

    /// Sets shared data as another proxy worker would.
    pub fn set_shared_data(&mut self, vm_id: &str, key: &str, value: &[u8]) {
        // CAS 0 never mismatches.
        let _ = self.world().shared_data.set(vm_id, key.as_bytes(), value, 0);
    }

    /// Makes the next compare-and-swap write of `key` (by any plugin of
    /// `vm_id`) lose a race: another worker's write of `value` lands just
    /// before it, so the plugin's `proxy_set_shared_data` returns
    /// `CasMismatch` and a retry reads `value`. A write without CAS does not
    /// take the race.
    pub fn race_shared_data(&mut self, vm_id: &str, key: &str, value: &[u8]) {
        self.world().shared_data.race(vm_id, key.as_bytes(), value);
    }

    /// A queue's items, oldest first.
    pub fn queue(&self, vm_id: &str, name: &str) -> Option<Vec<Vec<u8>>> {
        self.world().queues.items(vm_id, name)
    }

    /// Enqueues an item as another worker would; the owning root gets
    /// `on_queue_ready`.
    pub fn enqueue(&mut self, vm_id: &str, name: &str, value: &[u8]) -> Result<(), Error> {
        {
            let mut world = self.world();
            let token =
                world.queues.resolve(vm_id, name).map_err(|_| Error::NotFound(format!("queue {vm_id}/{name}")))?;
            let owner = world.queues.enqueue(token, value).map_err(|s| Error::NotFound(s.to_string()))?;
            world.queue_ready.push((owner, token));
        }
        self.pump()
    }

    /// Sets a property a plugin reads (takes precedence over Envoy's defaults
    /// and the stream's attributes).
    pub fn set_property(&mut self, plugin: PluginId, path: &[&str], value: impl Into<Value>) -> Result<(), Error> {
        let vm = self.vm(plugin.vm)?;
        let p = vm.state_mut().plugins.get_mut(&plugin.root).ok_or_else(|| Error::NotFound("plugin".into()))?;
        p.properties.set(path, value.into()).map_err(|_| Error::NotFound("an empty property path".into()))
    }

    /// Removes a property for a plugin: the value the test set for it and
    /// Envoy's default of its VM (the defaults are the proxy's, so every
    /// plugin of the VM loses it), as on a proxy without it (no node
    /// metadata, no TLS). `NotFound` when neither had it. A stream's own
    /// attributes (`request.*`, `response.*`) come from the stream, not
    /// from here.
    pub fn remove_property(&mut self, plugin: PluginId, path: &[&str]) -> Result<(), Error> {
        let vm = self.vm(plugin.vm)?;
        let state = vm.state_mut();
        let own = state.plugins.get_mut(&plugin.root).ok_or_else(|| Error::NotFound("plugin".into()))?;
        let from_plugin = own.properties.remove(path).is_some();
        let from_vm = state.properties.remove(path).is_some();
        if from_plugin || from_vm { Ok(()) } else { Err(Error::NotFound(format!("property {}", path.join(".")))) }
    }

    /// A property as the plugin reads it outside a stream (its root
    /// context): the test's values, the plugin's own attributes, then the
    /// VM's. `None` where `proxy_get_property` would answer NotFound.
    pub fn property(&self, plugin: PluginId, path: &[&str]) -> Option<Value> {
        self.property_in(plugin.vm, plugin.root, path)
    }

    /// A property as the plugin reads it in a live stream: what it set on
    /// the stream first, then the stream's attributes (`request.*`, the
    /// route...), then what [`Host::property`] sees.
    pub fn stream_property(&self, stream: crate::StreamId, path: &[&str]) -> Option<Value> {
        self.property_in(stream.vm, stream.id, path)
    }

    fn property_in(&self, vm: usize, context_id: u32, path: &[&str]) -> Option<Value> {
        let path: Vec<String> = path.iter().map(|s| s.to_string()).collect();
        crate::abi::properties::lookup_in(self.vms.get(vm)?.state(), context_id, &path).ok()
    }

    /// Registers a foreign function plugins can call by name.
    pub fn register_foreign_function(
        &mut self,
        name: &str,
        function: impl FnMut(&[u8]) -> Result<Vec<u8>, Status> + Send + 'static,
    ) {
        self.world().foreign.register(name, Box::new(function));
    }

    /// Calls the plugin's `proxy_on_foreign_function(root, function_id, args)`.
    pub fn call_foreign_callback(&mut self, plugin: PluginId, function_id: u32, args: &[u8]) -> Result<(), Error> {
        let args = args.to_vec();
        self.on_vm(plugin.vm, |vm| vm.foreign_callback(plugin.root, function_id, args))
    }

    /// Restricts HTTP/gRPC callout upstreams to these cluster names (default: any).
    pub fn set_clusters(&mut self, clusters: &[&str]) {
        self.world().callouts.set_clusters(Some(clusters.iter().map(|c| c.to_string()).collect()));
    }

    // ---- callouts ----

    /// HTTP calls waiting for an answer.
    pub fn http_callouts(&self) -> Vec<HttpCallout> {
        self.world().callouts.http().to_vec()
    }

    /// How long until a pending HTTP call times out on the virtual clock
    /// (`None`: it has no timeout, or is not pending).
    pub fn http_call_time_left(&self, id: CalloutId) -> Option<Duration> {
        let world = self.world();
        let at_ns = world.callouts.deadline(DeadlineKind::Http, id.vm, id.token)?;
        Some(Duration::from_nanos(at_ns.saturating_sub(world.clock.monotonic_ns())))
    }

    /// Answers an HTTP call: `on_http_call_response` reaches the root that owns it.
    pub fn respond_http_call(&mut self, id: CalloutId, response: HttpCallResponse) -> Result<(), Error> {
        self.finish_http_call(id, Some(response), CalloutEnd::Answered)
    }

    /// Fails an HTTP call (reset): zero counts, `proxy_get_status` = 11 "reset".
    pub fn fail_http_call(&mut self, id: CalloutId) -> Result<(), Error> {
        self.finish_http_call(id, None, CalloutEnd::Failed)
    }

    /// HTTP calls that ended (answered, failed, timed out, or dropped with
    /// their plugin), oldest first, with how: the newest 1000, within
    /// 16 MiB of bodies and headers. The pending ones are
    /// [`Host::http_callouts`].
    pub fn finished_http_callouts(&self) -> Vec<(HttpCallout, CalloutEnd)> {
        self.world().callouts.finished_http()
    }

    /// gRPC calls and streams that ended, oldest first, with how (as
    /// [`Host::finished_http_callouts`]). The open ones are [`Host::grpc_callouts`].
    pub fn finished_grpc_callouts(&self) -> Vec<(GrpcCallout, CalloutEnd)> {
        self.world().callouts.finished_grpc()
    }

    fn finish_http_call(
        &mut self,
        id: CalloutId,
        response: Option<HttpCallResponse>,
        end: CalloutEnd,
    ) -> Result<(), Error> {
        let call = self
            .world()
            .callouts
            .take_http(id.vm, id.token, end)
            .ok_or_else(|| Error::NotFound(format!("HTTP callout {}", id.token)))?;
        self.on_vm(id.vm, |vm| vm.http_call_response(&call, response))
    }

    /// Open gRPC calls and streams.
    pub fn grpc_callouts(&self) -> Vec<GrpcCallout> {
        self.world().callouts.grpc().to_vec()
    }

    /// Sends a gRPC event to the plugin. On a stream, any event, and `Close`
    /// ends it. A unary call gets one event, as in Envoy: its reply
    /// (`Message`, `proxy_on_grpc_receive`) or a failure (`Close`,
    /// `proxy_on_grpc_close`), after which it is over (no close follows a
    /// reply, its timeout is disarmed); metadata events on a call are
    /// refused with [`Error::InvalidPhase`] (see [`GrpcEvent`]).
    pub fn grpc_respond(&mut self, id: CalloutId, event: GrpcEvent) -> Result<(), Error> {
        self.deliver_grpc(id, event, CalloutEnd::Answered)
    }

    /// [`Host::grpc_respond`], recording `end` if the event ends the exchange.
    fn deliver_grpc(&mut self, id: CalloutId, event: GrpcEvent, end: CalloutEnd) -> Result<(), Error> {
        let (root, event) = {
            let mut world = self.world();
            let callout = world
                .callouts
                .grpc_get(id.vm, id.token)
                .ok_or_else(|| Error::NotFound(format!("gRPC callout {}", id.token)))?;
            let root = callout.root_id;
            let (event, ends) = match callout.kind {
                GrpcKind::Call => (event.for_unary_call(id.token)?, true),
                GrpcKind::Stream => {
                    let ends = matches!(event, GrpcEvent::Close(..));
                    (event, ends)
                }
            };
            if ends {
                world.callouts.take_grpc(id.vm, id.token, end);
            }
            (root, event)
        };
        self.on_vm(id.vm, |vm| vm.grpc_event(root, id.token, event))
    }
}

/// Whether two VM environments are the same variables (in any order: Envoy's
/// `environment_variables` is a map).
fn same_environment(a: &[(String, String)], b: &[(String, String)]) -> bool {
    let sorted = |e: &[(String, String)]| {
        let mut e = e.to_vec();
        e.sort();
        e
    };
    a.len() == b.len() && sorted(a) == sorted(b)
}
