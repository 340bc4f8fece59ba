//! A checked scenario, ready to run: what [`super::format::parse`] returns.

use std::path::PathBuf;
use std::time::Duration;

use regex::Regex;

use super::source::ScenarioError;
use crate::HostOptions;
use crate::failure::{FailPolicy, Rebuild};
use crate::policy::HostProfile;
use crate::report::prometheus::Selector;
use crate::state::headers::HeaderMap;
use crate::state::properties::Value;
use crate::state::routes::RouteTable;

/// A scenario ready to run.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The scenario file.
    pub file: PathBuf,
    /// The plugins, in load order (one for the single-`plugin` form).
    pub plugins: Vec<PluginSetup>,
    /// With `[mesh]`: the filter chain Istio builds, request order, Istio's
    /// own filters (which host-sim does not run) as `[name]`.
    pub filter_chain: Vec<String>,
    /// With `[mesh]`: the network filter chain the same way (empty when no
    /// `NETWORK` plugin applies).
    pub tcp_filter_chain: Vec<String>,
    /// Foreign functions the host offers: name and how they answer.
    pub foreign_functions: Vec<(String, Foreign)>,
    /// Callout clusters the host knows (all when `None`).
    pub clusters: Option<Vec<String>>,
    /// The route table (`[[virtual_hosts]]`; empty: routing is not simulated).
    pub routes: RouteTable,
    /// The host profile (default Envoy 1.33).
    pub profile: HostProfile,
    /// Strict mode.
    pub strict: bool,
    /// Shared data set before the plugins load.
    pub shared_data: Vec<SharedData>,
    /// Where the clocks start (`[clock]`).
    pub clock: ClockStart,
    /// Host-wide options (`[host]`), the clocks applied on top.
    pub options: crate::HostOptions,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// Expectations on the whole run.
    pub expect: Expect,
}

/// One plugin of a scenario and how it is loaded.
#[derive(Debug, Clone)]
pub struct PluginSetup {
    /// Its id in the scenario (`[[plugins]] id`; "plugin" for the single form).
    pub id: String,
    /// The plugin module, resolved against the scenario file's directory.
    pub plugin: PathBuf,
    /// The plugin name (property `plugin_name`).
    pub name: Option<String>,
    /// The root id.
    pub root_id: Option<String>,
    /// The VM id.
    pub vm_id: Option<String>,
    /// The plugin configuration bytes.
    pub configuration: Vec<u8>,
    /// The VM configuration bytes.
    pub vm_configuration: Vec<u8>,
    /// Properties: path and value.
    pub properties: Vec<(Vec<String>, Value)>,
    /// Environment variables of the VM.
    pub environment: Vec<(String, String)>,
    /// The plugin's fail policy (`None`: a VM failure fails the run).
    pub fail_policy: Option<FailPolicy>,
    /// Rebuilding a failed VM.
    pub rebuild: Option<Rebuild>,
    /// What the plugin may make the host spend.
    pub limits: crate::Limits,
    /// The host functions the plugin may call (`None`: all).
    pub capabilities: Option<Vec<String>>,
    /// Headers the plugin cannot see.
    pub redact_headers: Vec<String>,
    /// Envoy's default properties removed before the plugin starts.
    pub remove_properties: Vec<Vec<String>>,
    /// The module's SHA-256 (lowercase hex) it must have (a `WasmPlugin`'s
    /// `sha256`), checked when it is read.
    pub sha256: Option<String>,
    /// Expectations on its VM.
    pub expect: PluginExpect,
}

/// How a foreign function answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Foreign {
    /// With these bytes.
    Returns(Vec<u8>),
    /// With its input.
    Echo,
    /// With a failure status.
    Fails(crate::types::Status),
}

/// A log line expected.
#[derive(Debug, Clone, Default)]
pub struct LogExpect {
    /// A regex the message matches (`None`: any).
    pub pattern: Option<Regex>,
    /// Its level (`trace` ... `critical`).
    pub level: Option<String>,
    /// How many lines match (`None`: at least one; in an exact list: one).
    pub count: Option<usize>,
}

impl LogExpect {
    /// Whether a line of this level and message matches.
    pub fn matches(&self, level: &str, message: &str) -> bool {
        self.level.as_deref().is_none_or(|l| l == level) && self.pattern.as_ref().is_none_or(|re| re.is_match(message))
    }
}

impl std::fmt::Display for LogExpect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.pattern, &self.level) {
            (Some(re), Some(level)) => write!(f, "/{re}/ at level {level}"),
            (Some(re), None) => write!(f, "/{re}/"),
            (None, Some(level)) => write!(f, "any line at level {level}"),
            (None, None) => write!(f, "any line"),
        }
    }
}

/// Expectations on one plugin's VM.
#[derive(Debug, Clone, Default)]
pub struct PluginExpect {
    /// The plugin does not start.
    pub start_fails: Option<bool>,
    /// A regex the start error matches.
    pub start_error: Option<Regex>,
    /// How many times its VM was rebuilt.
    pub rebuilds: Option<u32>,
    /// Whether its VM failed (at any point).
    pub vm_failed: Option<bool>,
}

/// A shared-data entry to set.
#[derive(Debug, Clone)]
pub struct SharedData {
    /// The VM id.
    pub vm_id: String,
    /// The key.
    pub key: String,
    /// The value.
    pub value: Vec<u8>,
    /// Written just before a plugin's next CAS write of the key, which then
    /// fails ([`Host::race_shared_data`](crate::Host::race_shared_data)).
    pub race: bool,
}

impl SharedData {
    /// Writes it (or sets up its race) as another worker would.
    pub fn apply(&self, host: &mut crate::Host) {
        if self.race {
            host.race_shared_data(&self.vm_id, &self.key, &self.value);
        } else {
            host.set_shared_data(&self.vm_id, &self.key, &self.value);
        }
    }
}

/// An item to enqueue from outside.
#[derive(Debug, Clone)]
pub struct Enqueue {
    /// The VM id of the queue.
    pub vm_id: String,
    /// The queue name.
    pub queue: String,
    /// The item.
    pub value: Vec<u8>,
}

/// A part of an HTTP stream, in the order a client and an upstream send them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Part {
    /// The request headers.
    RequestHeaders,
    /// The request body.
    RequestBody,
    /// The whole request (trailers included).
    Request,
    /// The response headers.
    ResponseHeaders,
    /// The response body.
    ResponseBody,
}

impl Part {
    /// The names `until` takes.
    pub const NAMES: [(&'static str, Part); 5] = [
        ("request_headers", Part::RequestHeaders),
        ("request_body", Part::RequestBody),
        ("request", Part::Request),
        ("response_headers", Part::ResponseHeaders),
        ("response_body", Part::ResponseBody),
    ];
}

/// What reached the upstream, as `forwarded` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forwarded {
    /// Nothing (`false`).
    Nothing,
    /// The request headers (`true`, `"headers"`).
    Headers,
    /// The whole request, end of stream included (`"whole"`).
    Whole,
}

/// One `[[stream]]` entry: clock and ticks first, then an HTTP stream.
#[derive(Debug, Clone)]
pub struct Step {
    /// A name for the trace and failure messages.
    pub name: String,
    /// The plugin (index into [`Scenario::plugins`]) its stream and ticks go to.
    pub plugin: usize,
    /// Shared data set first.
    pub shared_data: Vec<SharedData>,
    /// Items enqueued first.
    pub enqueue: Vec<Enqueue>,
    /// Moves the virtual clock first (ticks that fall due fire).
    pub advance: Option<Duration>,
    /// `proxy_on_tick` calls after that.
    pub ticks: u32,
    /// Properties set for the step's plugin first.
    pub properties: Vec<(Vec<String>, Value)>,
    /// Properties removed for the step's plugin first (before those set).
    pub remove_properties: Vec<Vec<String>>,
    /// The log level plugins see from this step on.
    pub log_level: Option<crate::LogLevel>,
    /// The wall time set first, ns since the Unix epoch.
    pub wall_ns: Option<u64>,
    /// Calls of the plugin's `proxy_on_foreign_function`: id and arguments.
    pub foreign_callbacks: Vec<(u32, Vec<u8>)>,
    /// Shut the step's plugin down at the end of the step.
    pub shutdown: bool,
    /// The client's request, if the step opens a stream.
    pub request: Option<Message>,
    /// The filter chain (indices into [`Scenario::plugins`], in request
    /// order) the step's stream runs through (empty: the step's plugin alone).
    pub chain: Vec<usize>,
    /// The worker the step's new stream goes to (`None`: round robin).
    pub worker: Option<usize>,
    /// A reload done first.
    pub reload: Option<Reload>,
    /// The name of the stream it opens (`id`).
    pub id: Option<String>,
    /// The name of the open stream it takes up again (`resume`).
    pub resume: Option<String>,
    /// Send the stream only up to and including this part (`until`).
    pub until: Option<Part>,
    /// The TCP connection it opens or continues (`connection`).
    pub connection: Option<String>,
    /// Events on that connection, in order.
    pub tcp: Vec<TcpEvent>,
    /// Answers to callouts, oldest pending callout first.
    pub callouts: Vec<CalloutAnswer>,
    /// Answers to gRPC calls and streams, oldest first.
    pub grpc: Vec<GrpcAnswer>,
    /// Keep the stream open after the step while it waits (for a callout a
    /// later step answers); it goes on as soon as a later step resumes it.
    pub hold: bool,
    /// The upstream's response.
    pub response: Option<Message>,
    /// Expectations on this step.
    pub expect: StreamExpect,
}

/// A live reload of one plugin (see [`Host::reload`](crate::Host::reload)):
/// what changes, the rest as the plugin was loaded.
#[derive(Debug, Clone)]
pub struct Reload {
    /// The plugin (index into [`Scenario::plugins`]).
    pub plugin: usize,
    /// The new configuration.
    pub configuration: Option<Vec<u8>>,
    /// The new VM configuration.
    pub vm_configuration: Option<Vec<u8>>,
    /// A new module, resolved against the scenario file's directory.
    pub module: Option<PathBuf>,
}

/// Headers, body chunks and trailers: the same message the library API sends.
pub type Message = crate::host::exchange::Exchange;

/// How to answer a callout.
#[derive(Debug, Clone)]
pub struct CalloutAnswer {
    /// The error a run reports (an invalid scenario) when no callout is
    /// pending for this answer: its place in the file.
    pub unused: ScenarioError,
    /// The cluster the callout must have gone to.
    pub cluster: Option<String>,
    /// Fail it (reset) instead of answering.
    pub fail: bool,
    /// Let it time out: advance the clock to its timeout.
    pub timeout: bool,
    /// Response headers (`:status` included).
    pub headers: HeaderMap,
    /// Response body.
    pub body: Vec<u8>,
    /// Response trailers.
    pub trailers: HeaderMap,
    /// Expectations on the request the plugin made.
    pub expect: Option<CalloutExpect>,
}

/// Expectations on an HTTP callout's request.
#[derive(Debug, Clone, Default)]
pub struct CalloutExpect {
    /// Its headers.
    pub headers: HeaderExpect,
    /// Its body.
    pub body: Option<String>,
    /// Its trailers.
    pub trailers: HeaderExpect,
    /// Its timeout (zero: none).
    pub timeout: Option<Duration>,
}

/// An event on a TCP connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TcpEvent {
    /// Data from the client, and whether it ends the client's direction.
    Downstream(Vec<u8>, bool),
    /// Data from the upstream, and whether it ends the upstream's direction.
    Upstream(Vec<u8>, bool),
    /// The client closed (remote: `true`, as a real client does; `false`: local).
    CloseDownstream(crate::types::PeerType),
    /// The upstream closed.
    CloseUpstream(crate::types::PeerType),
}

/// An answer to a gRPC call or stream.
#[derive(Debug, Clone)]
pub struct GrpcAnswer {
    /// Where the answer is in the file, for an answer with nothing to answer.
    pub unused: ScenarioError,
    /// Initial metadata.
    pub initial_metadata: Option<HeaderMap>,
    /// Messages.
    pub messages: Vec<Vec<u8>>,
    /// Trailing metadata.
    pub trailing_metadata: Option<HeaderMap>,
    /// Close with this status and message.
    pub close: Option<(u32, String)>,
    /// Let it time out.
    pub timeout: bool,
    /// Expectations on the call.
    pub expect: GrpcExpect,
}

/// Expectations on a gRPC call or stream the plugin opened.
#[derive(Debug, Clone, Default)]
pub struct GrpcExpect {
    /// The upstream cluster.
    pub cluster: Option<String>,
    /// The service.
    pub service: Option<String>,
    /// The method.
    pub method: Option<String>,
    /// A stream (`true`) or a unary call.
    pub stream: Option<bool>,
    /// The messages it sent.
    pub messages: Option<Vec<String>>,
    /// Its initial metadata.
    pub metadata: HeaderExpect,
    /// A unary call's timeout.
    pub timeout: Option<Duration>,
}

/// Expectations on a TCP connection at the end of its step.
#[derive(Debug, Clone, Default)]
pub struct TcpExpect {
    /// Bytes the upstream received.
    pub upstream_received: Option<String>,
    /// Bytes the client received.
    pub client_received: Option<String>,
    /// Client bytes the plugin holds back.
    pub buffered: Option<String>,
    /// What on_new_connection returned (`true`: continue).
    pub new_connection: Option<bool>,
    /// The sides the plugin closed ("downstream", "upstream").
    pub closed_by_plugin: Option<Vec<String>>,
    /// Whether the connection finished.
    pub finished: Option<bool>,
}

/// Expectations on one side's headers.
#[derive(Debug, Clone, Default)]
pub struct HeaderExpect {
    /// Headers that must be present.
    pub has: Vec<String>,
    /// Headers that must be absent.
    pub absent: Vec<String>,
    /// Exact values: every value of the header, in order.
    pub equals: Vec<(String, Vec<String>)>,
    /// Values matching a regex.
    pub matches: Vec<(String, Regex)>,
    /// The exact header list, in order.
    pub exactly: Option<Vec<(String, String)>>,
}

/// Expectations on the local response.
#[derive(Debug, Clone, Default)]
pub struct LocalExpect {
    /// Its status.
    pub status: Option<u32>,
    /// Its details.
    pub details: Option<String>,
    /// A regex its body matches.
    pub body: Option<Regex>,
    /// The reason phrase of the status line the client got.
    pub reason: Option<String>,
}

/// The value `name` stands for in a name table (the `(name, value)`
/// tables scenario fields are parsed from, and their schemas built from).
pub fn by_name<T: Copy>(table: &[(&str, T)], name: &str) -> Option<T> {
    table.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

/// The name `value` has in a name table (`""` if it has none).
pub fn name_in<T: PartialEq>(table: &[(&'static str, T)], value: &T) -> &'static str {
    table.iter().find(|(_, v)| v == value).map_or("", |(n, _)| n)
}

/// How a stream ended, as `ended` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Neither reset nor answered locally.
    Normally,
    /// Answered locally.
    LocalResponse,
    /// Reset.
    Reset,
}

impl Ended {
    /// The names `ended` takes.
    pub const NAMES: [(&'static str, Ended); 3] =
        [("normally", Ended::Normally), ("local_response", Ended::LocalResponse), ("reset", Ended::Reset)];

    /// The scenario name of a stream's end.
    pub fn of(reason: Option<crate::EndReason>) -> Ended {
        match reason {
            None => Ended::Normally,
            Some(crate::EndReason::LocalResponse) => Ended::LocalResponse,
            Some(crate::EndReason::Reset) => Ended::Reset,
        }
    }

    /// Its name in scenario files.
    pub fn name(self) -> &'static str {
        name_in(&Ended::NAMES, &self)
    }
}

/// The names `finished_callouts[].ended` takes, for [`crate::CalloutEnd`].
pub const CALLOUT_ENDS: [(&str, crate::CalloutEnd); 5] = [
    ("answered", crate::CalloutEnd::Answered),
    ("failed", crate::CalloutEnd::Failed),
    ("timed_out", crate::CalloutEnd::TimedOut),
    ("cancelled", crate::CalloutEnd::Cancelled),
    ("dropped", crate::CalloutEnd::Dropped),
];

/// The names `finished_callouts[].kind` takes, with whether the kind is
/// gRPC (a call or stream) rather than an HTTP callout.
pub const CALLOUT_KINDS: [(&str, bool); 2] = [("http", false), ("grpc", true)];

/// The scenario name of how a callout ended.
pub fn callout_end_name(end: crate::CalloutEnd) -> &'static str {
    name_in(&CALLOUT_ENDS, &end)
}

/// The exact names of a stream callback's action ([`crate::Action`]), as
/// `--json` reports them and `expect.actions` may name them.
pub const ACTION_NAMES: [(&str, crate::Action); 8] = [
    ("continue", crate::Action::Continue),
    ("continue_and_end_stream", crate::Action::ContinueAndEndStream),
    ("stop_iteration", crate::Action::StopIteration),
    ("stop_all_iteration_and_buffer", crate::Action::StopAllIterationAndBuffer),
    ("stop_all_iteration_and_watermark", crate::Action::StopAllIterationAndWatermark),
    ("stop_iteration_and_buffer", crate::Action::StopIterationAndBuffer),
    ("stop_iteration_and_watermark", crate::Action::StopIterationAndWatermark),
    ("stop_iteration_no_buffer", crate::Action::StopIterationNoBuffer),
];

/// The exact scenario name of an action.
pub fn action_name(action: crate::Action) -> &'static str {
    name_in(&ACTION_NAMES, &action)
}

/// An expected action: "continue" (`Continue` or `ContinueAndEndStream`),
/// "pause" (any stop, as the SDKs call it), or an exact name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionExpect {
    /// Iteration continues.
    Continue,
    /// Any stop.
    Pause,
    /// Exactly this action.
    Exactly(crate::Action),
}

impl ActionExpect {
    /// Every name an expectation takes: "continue", "pause", then the exact
    /// names of `ACTION_NAMES` ("continue" once).
    pub fn names() -> Vec<&'static str> {
        let exact = ACTION_NAMES.iter().map(|(n, _)| *n).filter(|n| *n != "continue");
        ["continue", "pause"].into_iter().chain(exact).collect()
    }

    /// The expectation a name gives.
    pub fn parse(name: &str) -> Option<ActionExpect> {
        match name {
            "continue" => Some(ActionExpect::Continue),
            "pause" => Some(ActionExpect::Pause),
            _ => by_name(&ACTION_NAMES, name).map(ActionExpect::Exactly),
        }
    }

    /// Whether `found` (an exact name of `ACTION_NAMES`) is what it expects.
    pub fn matches(self, found: &str) -> bool {
        let Some(action) = by_name(&ACTION_NAMES, found) else { return false };
        match self {
            ActionExpect::Continue => action.is_continue(),
            ActionExpect::Pause => action.is_stop(),
            ActionExpect::Exactly(want) => want == action,
        }
    }

    /// Its name in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            ActionExpect::Continue => "continue",
            ActionExpect::Pause => "pause",
            ActionExpect::Exactly(action) => action_name(action),
        }
    }
}

/// What one callback's calls must have returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionsExpect {
    /// A string: the last call's action.
    Last(ActionExpect),
    /// A list: every call's, in order.
    Each(Vec<ActionExpect>),
}

/// A callout expected to have ended during a step.
#[derive(Debug, Clone)]
pub struct FinishedExpect {
    /// A gRPC call or stream (`false`: an HTTP callout).
    pub grpc: bool,
    /// How it ended.
    pub ended: crate::CalloutEnd,
    /// The cluster it went to.
    pub cluster: Option<String>,
}

/// Expectations on one step.
#[derive(Debug, Clone, Default)]
pub struct StreamExpect {
    /// What reached the upstream.
    pub forwarded: Option<Forwarded>,
    /// The request as the upstream received it.
    pub upstream_headers: HeaderExpect,
    /// The response as the client received it.
    pub client_headers: HeaderExpect,
    /// The upstream request body.
    pub upstream_body: Option<String>,
    /// The client's response body.
    pub client_body: Option<String>,
    /// The request trailers the upstream received.
    pub upstream_trailers: HeaderExpect,
    /// The response trailers the client received.
    pub client_trailers: HeaderExpect,
    /// How the stream ended.
    pub ended: Option<Ended>,
    /// Exactly the callouts that ended during the step, oldest first per kind.
    pub finished_callouts: Option<Vec<FinishedExpect>>,
    /// A local response was sent, with these properties.
    pub local_response: Option<LocalExpect>,
    /// Log lines of this step.
    pub logs: Vec<LogExpect>,
    /// Exactly these lines of this step, in order.
    pub exact_logs: Option<Vec<LogExpect>>,
    /// After the step: the plugin's tick period (zero: none).
    pub tick_period: Option<Duration>,
    /// After the step: whether the plugin's root context was deleted.
    pub deleted: Option<bool>,
    /// With `shutdown`: what the root's `on_done` returned.
    pub on_done: Option<bool>,
    /// How many callouts the plugin made in this step (not counting those
    /// of earlier steps that this step answers).
    pub callouts: Option<usize>,
    /// The name of the route the stream's route cache held at its end.
    pub route: Option<String>,
    /// The cluster the upstream request went to.
    pub upstream_cluster: Option<String>,
    /// The step's TCP connection.
    pub tcp: Option<TcpExpect>,
    /// How many gRPC calls and streams the plugin opened in this step.
    pub grpc_calls: Option<usize>,
    /// After the step: properties as the plugin reads them at its root
    /// (`None`: NotFound expected).
    pub properties: Vec<(Vec<String>, Option<Value>)>,
    /// Exactly what the plugin set on the step's stream.
    pub properties_set: Option<Vec<(Vec<String>, Value)>>,
    /// Host calls by function during the step.
    pub host_calls: std::collections::BTreeMap<String, u64>,
    /// At most this much fuel in the step.
    pub max_fuel: Option<u64>,
    /// With a chain: the plugin (its id) whose local reply the client got.
    pub local_reply_from: Option<String>,
    /// The worker that served the step's stream.
    pub worker: Option<usize>,
    /// With a reload: whether it was accepted (`false`: rejected).
    pub reload_accepted: Option<bool>,
    /// What the stream's callbacks returned, by callback ("request_headers", ...).
    pub actions: Vec<(&'static str, ActionsExpect)>,
    /// After the step: fields of the plugin's [`crate::Usage`] and their
    /// exact values, in file order.
    pub usage: Vec<(String, u64)>,
}

/// Expectations on the whole run.
#[derive(Debug, Clone, Default)]
pub struct Expect {
    /// Log lines of the run.
    pub logs: Vec<LogExpect>,
    /// Exactly these lines of the run, in order.
    pub exact_logs: Option<Vec<LogExpect>>,
    /// Histograms' recorded values.
    pub histograms: Vec<(Selector, Vec<u64>)>,
    /// Regexes no log line may match.
    pub no_logs: Vec<Regex>,
    /// Metrics (a raw name, or a Prometheus series with some of its labels)
    /// and their value: counters' and gauges' values, histograms' sample
    /// counts, summed over the selected series.
    pub metrics: Vec<(Selector, i64)>,
    /// Shared data at the end.
    pub shared_data: Vec<SharedDataExpect>,
    /// Queue items at the end.
    pub queues: Vec<QueueExpect>,
    /// Filter state set with `set_envoy_filter_state`: key and last value.
    pub filter_state: std::collections::BTreeMap<String, String>,
    /// Properties declared with `declare_property`.
    pub declared_properties: Vec<String>,
}

/// A shared-data entry expected at the end.
#[derive(Debug, Clone)]
pub struct SharedDataExpect {
    /// The VM id.
    pub vm_id: String,
    /// The key.
    pub key: String,
    /// Its value (`None`: any; with `absent`: none).
    pub value: Option<String>,
    /// Its CAS.
    pub cas: Option<u32>,
    /// The key must be unset.
    pub absent: bool,
}

/// A queue's items expected at the end.
#[derive(Debug, Clone)]
pub struct QueueExpect {
    /// The VM id.
    pub vm_id: String,
    /// The queue name.
    pub name: String,
    /// The items, oldest first.
    pub items: Vec<String>,
}

/// Where the clocks start: `(wall, monotonic)` in nanoseconds, each `None`
/// for the host's default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClockStart {
    /// Wall time, nanoseconds since the Unix epoch.
    pub realtime_ns: Option<u64>,
    /// Monotonic time, nanoseconds since boot.
    pub monotonic_ns: Option<u64>,
}

impl ClockStart {
    /// The host options with these clocks.
    pub fn apply(self, options: HostOptions) -> HostOptions {
        HostOptions {
            realtime_ns: self.realtime_ns.unwrap_or(options.realtime_ns),
            monotonic_ns: self.monotonic_ns.unwrap_or(options.monotonic_ns),
            ..options
        }
    }
}
