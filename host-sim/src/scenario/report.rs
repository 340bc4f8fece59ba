//! What a scenario run records: the report of each step, of the whole run,
//! and why a run could not start (the data `run` fills, `check` compares
//! with the expectations and `trace` prints).

use std::fmt;

use serde::Serialize;

use super::format::{ScenarioError, Step};

/// Headers as text pairs, in order.
pub type Headers = Vec<(String, String)>;

/// A log line.
#[derive(Debug, Clone, Serialize)]
pub struct LogLine {
    /// `trace`, `debug`, `info`, `warn`, `error` or `critical`.
    pub level: String,
    /// The context that logged it.
    pub context_id: u32,
    /// The message.
    pub message: String,
}

/// A callout the plugin made and how the scenario answered it.
#[derive(Debug, Clone, Serialize)]
pub struct CalloutReport {
    /// The upstream cluster.
    pub cluster: String,
    /// The request headers.
    pub headers: Headers,
    /// The request body.
    pub body: String,
    /// The request trailers.
    pub trailers: Headers,
    /// The timeout in milliseconds.
    pub timeout_ms: u128,
    /// `answered 200`, `failed (reset)`, `timed out ...` or `unanswered ...`.
    pub answer: String,
    /// The callout was made before this step (it was pending when the step
    /// began, and this step answers it or lists it as still pending).
    pub from_earlier_step: bool,
    /// Which answer of the step (0-based) it got.
    #[serde(skip)]
    pub(super) answer_index: Option<usize>,
}

/// A gRPC call or stream the plugin opened and how the scenario answered it.
#[derive(Debug, Clone, Serialize)]
pub struct GrpcReport {
    /// The upstream (cluster).
    pub cluster: String,
    /// The service.
    pub service: String,
    /// The method.
    pub method: String,
    /// "call" or "stream".
    pub kind: String,
    /// Its initial metadata.
    pub metadata: Headers,
    /// The messages it sent so far.
    pub messages: Vec<String>,
    /// A unary call's timeout in milliseconds.
    pub timeout_ms: u128,
    /// What the scenario sent, or `unanswered (still open)`.
    pub answer: String,
    /// It was opened before this step.
    pub from_earlier_step: bool,
    /// Which answer of the step (0-based) it got.
    #[serde(skip)]
    pub(super) answer_index: Option<usize>,
}

/// A callout that ended during a step.
#[derive(Debug, Clone, Serialize)]
pub struct FinishedCalloutReport {
    /// "http" or "grpc".
    pub kind: String,
    /// The upstream (cluster) it went to.
    pub cluster: String,
    /// How it ended: "answered", "failed", "timed_out", "cancelled" or "dropped".
    pub ended: String,
}

/// A TCP connection after a step.
#[derive(Debug, Clone, Serialize)]
pub struct TcpReport {
    /// Its name (`connection`).
    pub connection: String,
    /// The events sent, with the plugin's action for data.
    pub events: Vec<String>,
    /// What proxy_on_new_connection returned (on the step that opened it).
    pub new_connection: Option<String>,
    /// Every byte the upstream received so far.
    pub upstream_received: String,
    /// Every byte the client received so far.
    pub client_received: String,
    /// Client bytes the plugin holds back.
    pub buffered: String,
    /// The sides the plugin closed.
    pub closed_by_plugin: Vec<String>,
    /// The connection finished (on_done, on_log, on_delete ran).
    pub finished: bool,
}

/// Where Envoy's routing sent a stream (with `[[virtual_hosts]]`).
#[derive(Debug, Clone, Serialize)]
pub struct RouteReport {
    /// The virtual host of the route the stream's route cache held at its
    /// end (`None`: no route matched).
    pub virtual_host: Option<String>,
    /// That route's name.
    pub name: Option<String>,
    /// The cluster the upstream request went to (`None`: it did not go
    /// upstream, or the route's `cluster_header` was missing).
    pub upstream_cluster: Option<String>,
}

/// One plugin of a chain stream: what reached it and what it passed on.
#[derive(Debug, Clone, Serialize)]
pub struct LinkReport {
    /// The plugin's id.
    pub plugin: String,
    /// The request headers as they reached it (`None`: they never did).
    pub request_in: Option<Headers>,
    /// The request headers it forwarded.
    pub forwarded: Option<Headers>,
    /// The response headers as they reached it.
    pub response_in: Option<Headers>,
    /// The response headers it passed back.
    pub passed_back: Option<Headers>,
    /// The status of the local reply it sent, if it sent one.
    pub local_response: Option<u32>,
}

/// What one HTTP stream callback returned.
#[derive(Debug, Clone, Serialize)]
pub struct ActionReport {
    /// The callback: "request_headers", "request_body", "request_trailers",
    /// "response_headers", "response_body" or "response_trailers".
    pub callback: String,
    /// Its action, after Envoy's conversions: "continue",
    /// "continue_and_end_stream", "stop_iteration",
    /// "stop_all_iteration_and_buffer", "stop_all_iteration_and_watermark",
    /// "stop_iteration_and_buffer", "stop_iteration_and_watermark" or
    /// "stop_iteration_no_buffer".
    pub action: String,
}

/// What happened in one `[[stream]]` step.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    /// The step's name.
    pub name: String,
    /// The clock advance, in milliseconds.
    pub advanced_ms: Option<u128>,
    /// `proxy_on_tick` calls made.
    pub ticks: u32,
    /// The request as the client sent it.
    pub request_in: Option<Headers>,
    /// The request body the client sent.
    pub request_body_in: String,
    /// The request as the upstream received it (`None`: it never got there).
    pub upstream_request: Option<Headers>,
    /// The request body the upstream received.
    pub upstream_body: String,
    /// The upstream received the whole request (its end of stream).
    pub upstream_whole: bool,
    /// The response as the upstream sent it.
    pub response_in: Option<Headers>,
    /// Why the upstream response was not sent, when it was not.
    pub response_skipped: Option<String>,
    /// The response as the client received it.
    pub client_response: Option<Headers>,
    /// The response body the client received.
    pub client_body: String,
    /// The request trailers the upstream received.
    pub upstream_trailers: Option<Headers>,
    /// The response trailers the client received.
    pub client_trailers: Option<Headers>,
    /// How the stream ended: "normally", "local_response" or "reset"
    /// (`None`: the step opened no stream).
    pub ended: Option<String>,
    /// The local response: status, details, body.
    pub local_response: Option<(u32, String, String)>,
    /// The HTTP/1.1 status line the client got for the local response, as
    /// the host profile writes it (Kong: the details as its reason phrase);
    /// `None` for Envoy's trailers-only reply to a gRPC client (HTTP/2).
    pub status_line: Option<String>,
    /// Where the stream was routed (with `[[virtual_hosts]]`).
    pub route: Option<RouteReport>,
    /// Callouts and their answers.
    pub callouts: Vec<CalloutReport>,
    /// gRPC calls and streams and their answers.
    pub grpc: Vec<GrpcReport>,
    /// The callouts that ended during the step (answered, failed, timed out,
    /// cancelled by the plugin, dropped with their VM), oldest first per kind.
    pub finished_callouts: Vec<FinishedCalloutReport>,
    /// The step's TCP connection.
    pub tcp: Option<TcpReport>,
    /// Log lines written during the step.
    pub logs: Vec<LogLine>,
    /// An error of the host or the plugin during the step.
    pub error: Option<String>,
    /// The stream was kept open after the step (`hold`).
    pub held: bool,
    /// The step (1-based) after which a held stream finished (`None`: at the
    /// end of the scenario, or not held).
    pub released_in: Option<usize>,
    /// The plugin's fail policy handled the stream (`closed` or `open`).
    pub fail_policy: Option<String>,
    /// The plugin's VM was rebuilt during the step.
    pub vm_rebuilt: bool,
    /// The plugin's VM failed during the step: why.
    pub vm_failed: Option<String>,
    /// The plugin (its id) the step's stream and ticks went to.
    pub plugin: String,
    /// With `shutdown`: what the root's on_done returned.
    pub on_done: Option<bool>,
    /// After the step: the plugin's tick period in milliseconds.
    pub tick_period_ms: Option<u128>,
    /// After the step: the plugin's root context was deleted.
    pub deleted: bool,
    /// What the plugin set with proxy_set_property on the step's stream
    /// (dotted path and value).
    pub properties_set: std::collections::BTreeMap<String, String>,
    /// The host calls the plugins made during the step, by function (of
    /// the newest 100 000 per VM, the trace's capacity).
    pub host_calls: std::collections::BTreeMap<String, u64>,
    /// The wasmtime fuel the step's plugin's VM used in the step.
    pub fuel: u64,
    /// With `chain`: each plugin, in chain order.
    pub chain: Vec<LinkReport>,
    /// With `chain`: the plugin (its id) whose local reply the client got.
    pub local_reply_from: Option<String>,
    /// The worker that served the step's stream or connection.
    pub worker: Option<usize>,
    /// With `reload`: "accepted", or "rejected: " and why.
    pub reload: Option<String>,
    /// The actions the stream's callbacks returned, in the order they were
    /// called (of a stream a later step resumes too).
    pub actions: Vec<ActionReport>,
    /// After the step: what the host holds for the step's plugin's VM.
    pub usage: Option<crate::Usage>,
    /// After the step: the properties its expectations name, serialized as
    /// the plugin reads them (`None`: NotFound).
    #[serde(skip)]
    pub(super) properties_read: Vec<(Vec<String>, Option<crate::Value>)>,
    /// Answers (0-based) that found no pending callout.
    #[serde(skip)]
    pub(super) unused_answers: Vec<usize>,
    /// gRPC answers (0-based) that found no open call.
    #[serde(skip)]
    pub(super) unused_grpc: Vec<usize>,
}

impl StepReport {
    /// The report of a step before it runs.
    pub fn new(step: &Step) -> StepReport {
        StepReport {
            name: step.name.clone(),
            advanced_ms: step.advance.map(|d| d.as_millis()),
            ticks: step.ticks,
            request_in: None,
            request_body_in: String::new(),
            upstream_request: None,
            upstream_body: String::new(),
            upstream_whole: false,
            response_in: None,
            response_skipped: None,
            client_response: None,
            client_body: String::new(),
            upstream_trailers: None,
            client_trailers: None,
            ended: None,
            local_response: None,
            status_line: None,
            route: None,
            callouts: Vec::new(),
            grpc: Vec::new(),
            finished_callouts: Vec::new(),
            tcp: None,
            logs: Vec::new(),
            error: None,
            held: false,
            released_in: None,
            fail_policy: None,
            vm_rebuilt: false,
            vm_failed: None,
            plugin: String::new(),
            on_done: None,
            tick_period_ms: None,
            deleted: false,
            properties_set: Default::default(),
            properties_read: Vec::new(),
            host_calls: Default::default(),
            fuel: 0,
            chain: Vec::new(),
            local_reply_from: None,
            worker: None,
            reload: None,
            actions: Vec::new(),
            usage: None,
            unused_answers: Vec::new(),
            unused_grpc: Vec::new(),
        }
    }
}

/// Everything about one scenario run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The scenario file.
    pub scenario: String,
    /// The plugin module (the modules, comma-separated, of several plugins).
    pub plugin: String,
    /// With `[mesh]`: the filter chain Istio builds, request order, Istio's
    /// own filters (not run) as `[name]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filter_chain: Vec<String>,
    /// With `[mesh]`: the network filter chain, the same way.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tcp_filter_chain: Vec<String>,
    /// The steps.
    pub steps: Vec<StepReport>,
    /// Log lines of plugin start (before the first step).
    pub startup_logs: Vec<LogLine>,
    /// Plugins that did not start, as their expectations said: id and error.
    pub start_failures: Vec<(String, String)>,
    /// Final metrics: raw name, Prometheus series, value (histograms: samples).
    pub metrics: Vec<(String, String, serde_json::Value)>,
    /// The final metrics in the Prometheus text format.
    pub prometheus: String,
    /// Every failed expectation, in order.
    pub failures: Vec<String>,
}

impl Report {
    /// Whether every expectation held.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// The scenario could not run: a plugin is missing or did not start, or
/// the run found the scenario invalid (an answer with nothing to answer).
#[derive(Debug)]
pub enum RunError {
    /// A plugin could not run (exit code 3).
    Plugin(String),
    /// The scenario is invalid (exit code 2), with its place in the file.
    Invalid(ScenarioError),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Plugin(message) => f.write_str(message),
            RunError::Invalid(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for RunError {}

pub(super) fn level(l: crate::types::LogLevel) -> String {
    format!("{l:?}").to_lowercase()
}
