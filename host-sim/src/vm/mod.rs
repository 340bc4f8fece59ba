//! One VM: a wasmtime instance of a module plus its [`VmState`], and the
//! lifecycle driver that calls the guest the way Envoy does. Each guest call
//! resets the effective context to the context it is about; work a host
//! function deferred runs after the call returns.
//!
//! Layer: VMs, with the null VM (`native`). Imports `engine`, `abi`, `store`
//! and the data modules, never `host`.

mod http;
mod lifecycle;
mod serve;
pub use lifecycle::{GrpcEvent, HttpCallResponse};
mod tcp;

use std::sync::{Arc, Mutex};

use wasmtime::{Store, WasmParams, WasmResults};

use crate::engine::exports::{Exports, GuestFn};
use crate::engine::{self, Compiled};
use crate::error::Error;
use crate::faults::{self, FuelUsage, VmLimits};
use crate::state::callouts::CalloutEnd;
use crate::state::contexts::{ContextKind, Contexts};
use crate::state::logs::{LogRecord, Ring};
use crate::state::properties::PropertyTree;
use crate::store::{Callback, PluginState, Scope, VmState, World};
use crate::types::LogLevel;

/// What a VM is created with.
#[derive(Clone, Debug)]
pub(crate) struct VmSettings {
    pub vm_id: String,
    pub vm_configuration: Vec<u8>,
    pub environment: Vec<(String, String)>,
    pub properties: PropertyTree,
    pub log_level: LogLevel,
    pub seed: u64,
    pub log_capacity: usize,
    pub trace_capacity: usize,
    pub memory_limit: usize,
    pub cpu_deadline: Option<std::time::Duration>,
    pub fuel: Option<u64>,
    /// The entry point of a natively hosted plugin (the null VM).
    pub native: Option<crate::native::NativeEntry>,
    /// What the guest may make the host spend.
    pub limits: crate::limits::Limits,
    /// The Envoy worker (thread) the VM belongs to.
    pub worker: usize,
}

/// A running VM.
#[derive(Debug)]
pub(crate) struct Vm {
    pub store: Store<VmState>,
    pub exports: Exports,
    pub compiled: Arc<Compiled>,
    pub failed: Option<String>,
    /// What the VM was created with (to rebuild it after a failure).
    pub settings: VmSettings,
    /// Fuel the guest calls consumed.
    pub fuel: FuelUsage,
}

impl Vm {
    /// Instantiates the module and starts it (`_initialize` then `main` or
    /// `__main_void`, or `_start`). When the start fails, what the VM logged
    /// meanwhile goes to `lost_logs` (the VM itself is gone).
    pub fn new(
        compiled: Arc<Compiled>,
        index: usize,
        settings: VmSettings,
        world: Arc<Mutex<World>>,
        lost_logs: &mut Vec<LogRecord>,
    ) -> Result<Vm, Error> {
        let kept = settings.clone();
        let (policy, log_seq) = {
            let world = world.lock().unwrap_or_else(|p| p.into_inner());
            (world.policy.for_vm(index), world.log_seq.clone())
        };
        let state = VmState {
            index,
            vm_id: settings.vm_id,
            abi: compiled.facts.abi,
            vm_configuration: settings.vm_configuration,
            environment: settings.environment,
            world,
            policy,
            memory: None,
            allocator: None,
            contexts: Contexts::default(),
            plugins: Default::default(),
            http: Default::default(),
            tcp: Default::default(),
            properties: settings.properties,
            stream_properties: Default::default(),
            effective: 0,
            callback: None,
            scope: Scope::default(),
            deferred: Vec::new(),
            logs: Ring::new(settings.log_capacity).with_budget(settings.limits.log_bytes, LogRecord::weight),
            log_seq,
            trace: Ring::new(settings.trace_capacity),
            log_level: settings.log_level,
            rng: settings.seed,
            exit_code: None,
            start_output: Some(Vec::new()),
            strict_violation: Default::default(),
            queue_ready_base: Default::default(),
            limits: VmLimits::new(settings.memory_limit),
            caps: settings.limits,
            native: None,
        };
        let mut store = Store::new(engine::engine()?, state);
        store.limiter(|s| &mut s.limits);
        // A start section runs during instantiation: give it a budget too.
        store.set_epoch_deadline(engine::deadline_ticks(settings.cpu_deadline));
        store.set_fuel(settings.fuel.unwrap_or(u64::MAX)).map_err(|e| Error::Instantiate(format!("{e:#}")))?;
        let instance = compiled.pre.instantiate(&mut store).map_err(|e| match e.downcast_ref::<wasmtime::Trap>() {
            // The module's start function trapped: say which limit stopped it.
            Some(_) => Error::Instantiate(format!(
                "the module's start function failed: {}",
                faults::describe(&e, &store.data().limits, kept.cpu_deadline)
            ))
            .with_output(store.data_mut().start_output.take()),
            None => Error::Instantiate(format!("{e:#}")),
        })?;
        let exports = Exports::lookup(instance, &mut store, compiled.facts.abi, compiled.facts.allocator)?;
        store.data_mut().memory = exports.memory;
        store.data_mut().allocator = exports.allocator.clone();
        if exports.memory.is_none() {
            return Err(Error::Instantiate("the module exports no `memory`".into()));
        }
        if let Some(entry) = kept.native {
            let plugin = crate::native::plugin(instance, &mut store, &exports, entry)?;
            store.data_mut().native = Some(Box::new(plugin));
        }
        let mut vm = Vm { store, exports, compiled, failed: None, settings: kept, fuel: FuelUsage::default() };
        if let Err(error) = vm.start() {
            lost_logs.extend(vm.state().logs.iter().cloned());
            // At most one VM's worth of lines is kept for all of them.
            let excess = lost_logs.len().saturating_sub(vm.settings.log_capacity);
            lost_logs.drain(..excess);
            return Err(error.with_output(vm.state_mut().start_output.take()));
        }
        Ok(vm)
    }

    fn start(&mut self) -> Result<(), Error> {
        let e = self.exports.clone();
        if let Some(init) = e.initialize {
            self.call(0, Callback::Start, init, ())?;
            if let Some(main) = e.main {
                self.call(0, Callback::Start, main, (0, 0))?;
            } else if let Some(main) = e.main_void {
                self.call(0, Callback::Start, main, ())?;
            }
        } else if let Some(start) = e.start {
            let result = self.call(0, Callback::Start, start, ());
            // A WASI command that exits with 0 from `_start` has started fine.
            if result.is_err() && self.store.data().exit_code == Some(0) {
                self.failed = None;
            } else {
                result?;
            }
        }
        Ok(())
    }

    /// Calls a guest export for context `context_id`, resetting the effective
    /// context first. A trap marks the VM failed.
    pub fn call<P: WasmParams, R: WasmResults>(
        &mut self,
        context_id: u32,
        callback: Callback,
        func: GuestFn<P, R>,
        args: P,
    ) -> Result<R, Error> {
        if let Some(reason) = &self.failed {
            return Err(Error::VmFailed { reason: reason.clone() });
        }
        let state = self.store.data_mut();
        state.effective = context_id;
        state.callback = Some(callback);
        state.limits.refused = None;
        state.exit_code = None;
        state.strict_violation.set(false);
        state.queue_ready_base.set(None);
        let budget = self.settings.fuel.unwrap_or(u64::MAX);
        // Fuel is always metered (a deterministic count); the store is
        // created with it enabled, so setting it cannot fail.
        let _ = self.store.set_fuel(budget);
        self.store.set_epoch_deadline(engine::deadline_ticks(self.settings.cpu_deadline));
        let result = func.call(&mut self.store, args);
        let consumed = budget.saturating_sub(self.store.get_fuel().unwrap_or(0));
        self.fuel.last_call = consumed;
        self.fuel.total = self.fuel.total.saturating_add(consumed);
        let state = self.store.data_mut();
        state.callback = None;
        state.effective = context_id;
        result.map_err(|e| {
            let mut message = faults::describe(&e, &self.store.data().limits, self.settings.cpu_deadline);
            if let Some(code) = self.store.data().exit_code {
                message = format!("the guest called proc_exit({code}), then trapped: {message}");
            }
            self.failed = Some(format!("{}: {message}", callback.name()));
            Error::Trap { callback: callback.name(), message }
        })
    }

    /// `VmFailed` once a trap failed the VM.
    pub fn check_alive(&self) -> Result<(), Error> {
        match &self.failed {
            Some(reason) => Err(Error::VmFailed { reason: reason.clone() }),
            None => Ok(()),
        }
    }

    /// Creates a plugin: its root context, `on_context_create(root, 0)`,
    /// `on_vm_start(root, vm_config_size)`, `on_configure(root, config_size)`.
    pub fn start_plugin(&mut self, plugin: PluginState) -> Result<u32, Error> {
        let root = self.store.data_mut().contexts.create(ContextKind::Root, None);
        self.start_root(root, plugin)
    }

    /// Starts a plugin on root context `root`, which exists already. A
    /// plugin whose start is rejected (`on_vm_start` or `on_configure`
    /// returned false, or a start callback failed) is removed again.
    pub fn start_root(&mut self, root: u32, plugin: PluginState) -> Result<u32, Error> {
        let root_name = plugin.root_id.clone();
        let config_len = plugin.configuration.len() as u32;
        self.state_mut().plugins.insert(root, plugin);
        // A plugin joining a running VM: capture its start's output from here.
        let state = self.state_mut();
        state.start_output = Some(state.start_output.take().unwrap_or_default());
        let started = self.run_start(root, root_name, config_len);
        let output = self.state_mut().start_output.take();
        if let Err(error) = started {
            self.forget_root(root);
            return Err(error.with_output(output));
        }
        self.run_deferred()?;
        Ok(root)
    }

    /// `on_context_create(root, 0)`, `on_vm_start(root, vm_config_size)`,
    /// `on_configure(root, config_size)`.
    fn run_start(&mut self, root: u32, root_name: String, config_len: u32) -> Result<(), Error> {
        let e = self.exports.clone();
        let vm_config_len = self.state().vm_configuration.len() as u32;
        if let Some(f) = e.context_create {
            self.call(root, Callback::ContextCreate, f, (root, 0))?;
        }
        if let Some(f) = e.vm_start
            && self.call(root, Callback::VmStart, f, (root, vm_config_len))? == 0
        {
            return Err(Error::VmStartRejected { root_id: root_name, output: String::new() });
        }
        if let Some(f) = e.configure
            && self.call(root, Callback::Configure, f, (root, config_len))? == 0
        {
            return Err(Error::ConfigureRejected { root_id: root_name, output: String::new() });
        }
        Ok(())
    }

    /// Removes a plugin that did not start: its root context and plugin
    /// entry, its timer, the callouts it made, and the work its start
    /// callbacks deferred.
    fn forget_root(&mut self, root: u32) {
        let state = self.state_mut();
        state.plugins.remove(&root);
        state.contexts.remove(root);
        state.deferred.clear();
        let index = state.index;
        let mut world = state.world();
        world.timers.remove((index, root));
        let owned = |vm: usize, owner: u32| vm == index && owner == root;
        let http: Vec<u32> = world.callouts.http().iter().filter(|c| owned(c.vm, c.root_id)).map(|c| c.token).collect();
        let grpc: Vec<u32> = world.callouts.grpc().iter().filter(|g| owned(g.vm, g.root_id)).map(|g| g.token).collect();
        for token in http {
            world.callouts.take_http(index, token, CalloutEnd::Dropped);
        }
        for token in grpc {
            world.callouts.take_grpc(index, token, CalloutEnd::Dropped);
        }
    }

    /// The store data.
    pub fn state(&self) -> &VmState {
        self.store.data()
    }

    /// The store data, mutably.
    pub fn state_mut(&mut self) -> &mut VmState {
        self.store.data_mut()
    }
}
