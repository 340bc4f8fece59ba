//! The data a VM's wasmtime store carries: everything a host function may
//! read or change while the guest runs. Host-wide state (clock, shared data,
//! queues, metrics, callouts, foreign functions) lives in [`World`], shared by
//! every VM of a host.
//!
//! Layer: plain data. Imports only the other data modules (`state`, `types`,
//! `policy`, `failure`, `faults`, `limits`); the native plugin it holds is
//! boxed as `Any` so that it needs nothing from the null VM.

use std::sync::{Arc, Mutex, MutexGuard};

use wasmtime::{Memory, TypedFunc};

use crate::state::callouts::Callouts;
use crate::state::clock::{Clock, Timers};
use crate::state::contexts::Contexts;
use crate::state::foreign::ForeignFunctions;
use crate::state::headers::HeaderMap;
use crate::state::http::HttpStreamState;
use crate::state::ids::IdMap;
use crate::state::logs::{HostCall, LogRecord, Ring};
use crate::state::metrics::Metrics;
use crate::state::properties::PropertyTree;
use crate::state::queues::{QueueOwner, Queues};
use crate::state::shared_data::SharedData;
use crate::state::tcp::TcpStreamState;
use crate::types::{AbiVersion, LogLevel, StreamType};

/// Host-wide state shared by every VM of a [`Host`](crate::Host).
#[derive(Debug, Default)]
pub(crate) struct World {
    pub clock: Clock,
    pub timers: Timers,
    pub shared_data: SharedData,
    pub queues: Queues,
    pub metrics: Metrics,
    pub foreign: ForeignFunctions,
    pub callouts: Callouts,
    /// `on_queue_ready` notifications waiting for the current guest call to end.
    pub queue_ready: Vec<(QueueOwner, u32)>,
    /// The next log line's sequence number, shared by every VM.
    pub log_seq: Arc<std::sync::atomic::AtomicU64>,
    /// Host profile, strict mode, capabilities and redaction.
    pub policy: crate::policy::Policy,
    /// The route configuration (empty: routing is not simulated).
    pub routes: crate::state::routes::RouteTable,
    /// Rebuilds of failed VMs and the crash-loop limit's count.
    pub rebuilds: crate::failure::RebuildLog,
}

/// The callback that is running, for phase checks and error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Callback {
    Start,
    ContextCreate,
    VmStart,
    Configure,
    Done,
    Log,
    Delete,
    Tick,
    QueueReady,
    ForeignFunction,
    NewConnection,
    DownstreamData,
    DownstreamClose,
    UpstreamData,
    UpstreamClose,
    RequestHeaders,
    RequestBody,
    RequestTrailers,
    ResponseHeaders,
    ResponseBody,
    ResponseTrailers,
    HttpCallResponse,
    GrpcInitialMetadata,
    GrpcReceive,
    GrpcTrailingMetadata,
    GrpcClose,
}

impl Callback {
    /// The export name.
    pub fn name(self) -> &'static str {
        match self {
            Callback::Start => "_initialize/_start",
            Callback::ContextCreate => "proxy_on_context_create",
            Callback::VmStart => "proxy_on_vm_start",
            Callback::Configure => "proxy_on_configure",
            Callback::Done => "proxy_on_done",
            Callback::Log => "proxy_on_log",
            Callback::Delete => "proxy_on_delete",
            Callback::Tick => "proxy_on_tick",
            Callback::QueueReady => "proxy_on_queue_ready",
            Callback::ForeignFunction => "proxy_on_foreign_function",
            Callback::NewConnection => "proxy_on_new_connection",
            Callback::DownstreamData => "proxy_on_downstream_data",
            Callback::DownstreamClose => "proxy_on_downstream_connection_close",
            Callback::UpstreamData => "proxy_on_upstream_data",
            Callback::UpstreamClose => "proxy_on_upstream_connection_close",
            Callback::RequestHeaders => "proxy_on_request_headers",
            Callback::RequestBody => "proxy_on_request_body",
            Callback::RequestTrailers => "proxy_on_request_trailers",
            Callback::ResponseHeaders => "proxy_on_response_headers",
            Callback::ResponseBody => "proxy_on_response_body",
            Callback::ResponseTrailers => "proxy_on_response_trailers",
            Callback::HttpCallResponse => "proxy_on_http_call_response",
            Callback::GrpcInitialMetadata => "proxy_on_grpc_receive_initial_metadata",
            Callback::GrpcReceive => "proxy_on_grpc_receive",
            Callback::GrpcTrailingMetadata => "proxy_on_grpc_receive_trailing_metadata",
            Callback::GrpcClose => "proxy_on_grpc_close",
        }
    }
}

/// Data that exists only while one callback runs (callout responses,
/// foreign-function arguments, the status for `proxy_get_status`).
#[derive(Debug, Default)]
pub(crate) struct Scope {
    pub call_headers: Option<HeaderMap>,
    pub call_body: Option<Vec<u8>>,
    pub call_trailers: Option<HeaderMap>,
    pub grpc_initial: Option<HeaderMap>,
    pub grpc_trailing: Option<HeaderMap>,
    pub grpc_message: Option<Vec<u8>>,
    pub foreign_args: Option<Vec<u8>>,
    pub status: Option<(u32, Vec<u8>)>,
}

/// Work a host function asked for that must not re-enter the guest: it runs
/// after the current guest call returns (Envoy's `addAfterVmCallAction`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Deferred {
    Continue(u32, StreamType),
    Close(u32, StreamType),
    LocalResponse(u32),
    Done(u32),
}

/// A plugin (root context) loaded in a VM.
#[derive(Debug, Clone)]
pub(crate) struct PluginState {
    pub name: String,
    pub root_id: String,
    pub configuration: Vec<u8>,
    pub properties: PropertyTree,
    pub deleted: bool,
    /// The plugin's fail policy (`None`: a failure is an error for the test).
    pub fail_policy: Option<crate::failure::FailPolicy>,
}

/// How much of a starting guest's stdout/stderr its start error keeps.
pub const START_OUTPUT_BYTES: usize = 16 * 1024;

/// The store data of one VM.
pub(crate) struct VmState {
    pub index: usize,
    pub vm_id: String,
    pub abi: AbiVersion,
    pub vm_configuration: Vec<u8>,
    pub environment: Vec<(String, String)>,
    pub world: Arc<Mutex<World>>,
    /// This VM's copy of the host's checks configuration (no lock per call).
    pub policy: crate::policy::VmPolicy,
    pub memory: Option<Memory>,
    pub allocator: Option<TypedFunc<u32, u32>>,
    pub contexts: Contexts,
    pub plugins: IdMap<PluginState>,
    pub http: IdMap<HttpStreamState>,
    pub tcp: IdMap<TcpStreamState>,
    pub properties: PropertyTree,
    pub stream_properties: IdMap<PropertyTree>,
    pub effective: u32,
    pub callback: Option<Callback>,
    pub scope: Scope,
    pub deferred: Vec<Deferred>,
    pub logs: Ring<LogRecord>,
    /// The host's log line counter (see [`LogRecord::seq`]).
    pub log_seq: Arc<std::sync::atomic::AtomicU64>,
    pub trace: Ring<HostCall>,
    pub log_level: LogLevel,
    pub rng: u64,
    pub exit_code: Option<i32>,
    /// What the guest wrote to stdout and stderr while it starts (from
    /// instantiation to the end of `on_configure`; `None` once started), for
    /// the start error: at most [`START_OUTPUT_BYTES`], the rest dropped.
    pub start_output: Option<Vec<u8>>,
    /// Whether strict mode refused a host call in the running guest call
    /// (set through `&VmState` by the checks, read when the call fails).
    pub strict_violation: std::cell::Cell<bool>,
    /// How many queue notifications were waiting (the host's, whichever VM
    /// left them) when the running guest call first enqueued; `None` until
    /// it does. What the call leaves waiting is the rest.
    pub queue_ready_base: std::cell::Cell<Option<usize>>,
    /// The memory cap (the store's resource limiter).
    pub limits: crate::faults::VmLimits,
    /// What the guest may make the host spend (the plugin's [`Limits`](crate::Limits)).
    pub caps: crate::limits::Limits,
    /// The natively hosted plugin, for a VM of the null VM (`None` for wasm;
    /// taken out while one of its callbacks runs): a
    /// `native::ThreadBound<native::Plugin>`, boxed as `Any` so that the
    /// store, below the null VM, need not know its type.
    pub native: Option<Box<dyn std::any::Any + Send>>,
}

impl std::fmt::Debug for VmState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VmState")
            .field("index", &self.index)
            .field("vm_id", &self.vm_id)
            .field("abi", &self.abi)
            .field("contexts", &self.contexts.len())
            .finish_non_exhaustive()
    }
}

impl VmState {
    /// Keeps what a starting guest wrote to stdout/stderr, up to
    /// [`START_OUTPUT_BYTES`].
    pub fn note_start_output(&mut self, bytes: &[u8]) {
        if let Some(output) = &mut self.start_output {
            let room = START_OUTPUT_BYTES.saturating_sub(output.len());
            output.extend_from_slice(&bytes[..bytes.len().min(room)]);
        }
    }

    /// Locks the host-wide state (never poisoned for our purposes: a panic
    /// while holding it is a host-sim bug that already failed the test).
    pub fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a line to the VM's log, numbered in the host's order.
    pub fn log_line(&mut self, level: LogLevel, context_id: u32, message: String) {
        let seq = self.log_seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.logs.push(LogRecord { level, context_id, message, seq });
    }

    /// Records a host call in the trace.
    pub fn record(&mut self, function: &'static str, result: i32) {
        if self.trace.is_disabled() {
            return;
        }
        self.trace.push(HostCall { context_id: self.effective, function, result });
    }

    /// The root context of the effective context.
    pub fn effective_root(&self) -> Option<u32> {
        self.contexts.root_of(self.effective)
    }

    /// The next pseudo-random 64 bits (splitmix64: deterministic per seed).
    pub fn next_random(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// The configuration `proxy_get_configuration` (ABI 0.1.0) returns: the VM's
    /// during `on_vm_start`, else the plugin's of the effective context.
    pub fn legacy_configuration(&self) -> Vec<u8> {
        if self.callback == Some(Callback::VmStart) {
            return self.vm_configuration.clone();
        }
        self.effective_root().and_then(|r| self.plugins.get(&r)).map(|p| p.configuration.clone()).unwrap_or_default()
    }
}

impl VmState {
    /// A state with no VM behind it (for inspecting linkers).
    pub fn detached() -> VmState {
        VmState {
            index: usize::MAX,
            vm_id: String::new(),
            abi: AbiVersion::V0_2_1,
            vm_configuration: Vec::new(),
            environment: Vec::new(),
            world: Arc::default(),
            policy: Default::default(),
            memory: None,
            allocator: None,
            contexts: Contexts::default(),
            plugins: IdMap::default(),
            http: IdMap::default(),
            tcp: IdMap::default(),
            properties: PropertyTree::new(),
            stream_properties: IdMap::default(),
            effective: 0,
            callback: None,
            scope: Scope::default(),
            deferred: Vec::new(),
            logs: Ring::new(0),
            log_seq: Arc::default(),
            trace: Ring::new(0),
            log_level: LogLevel::Info,
            rng: 0,
            exit_code: None,
            start_output: None,
            strict_violation: Default::default(),
            queue_ready_base: Default::default(),
            limits: crate::faults::VmLimits::new(crate::faults::DEFAULT_MEMORY_LIMIT),
            caps: Default::default(),
            native: None,
        }
    }
}
