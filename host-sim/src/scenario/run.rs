//! Runs a scenario on a fresh [`Host`] and records what happened.

use std::fmt;

use serde::Serialize;

use super::check;
use super::format::{Message, Scenario, Step};
use crate::api::HttpStream;
use crate::error::Error;
use crate::host::Host;
use crate::report::prometheus;
use crate::spec::{PluginId, PluginSpec};
use crate::state::headers::HeaderMap;
use crate::state::http::Message as Sent;
use crate::vm::HttpCallResponse;

/// Headers as text pairs, in order.
pub type Headers = Vec<(String, String)>;

fn text(map: &HeaderMap) -> Headers {
    map.to_strings()
}

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
    /// The timeout in milliseconds.
    pub timeout_ms: u128,
    /// `status 200`, `failed (reset)` or `unanswered`.
    pub answer: String,
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
    /// The response as the upstream sent it.
    pub response_in: Option<Headers>,
    /// Why the upstream response was not sent, when it was not.
    pub response_skipped: Option<String>,
    /// The response as the client received it.
    pub client_response: Option<Headers>,
    /// The response body the client received.
    pub client_body: String,
    /// The local response: status, details, body.
    pub local_response: Option<(u32, String, String)>,
    /// Callouts and their answers.
    pub callouts: Vec<CalloutReport>,
    /// Log lines written during the step.
    pub logs: Vec<LogLine>,
    /// An error of the host or the plugin during the step.
    pub error: Option<String>,
}

/// Everything about one scenario run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The scenario file.
    pub scenario: String,
    /// The plugin module.
    pub plugin: String,
    /// The steps.
    pub steps: Vec<StepReport>,
    /// Log lines of plugin start (before the first step).
    pub startup_logs: Vec<LogLine>,
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

/// The scenario could not run: the plugin is missing or did not start.
#[derive(Debug)]
pub struct RunError(pub String);

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RunError {}

fn level(l: crate::types::LogLevel) -> String {
    format!("{l:?}").to_lowercase()
}

fn logs_since(host: &Host, from: usize) -> (Vec<LogLine>, usize) {
    let all = host.logs();
    let lines = all
        .iter()
        .skip(from)
        .map(|r| LogLine { level: level(r.level), context_id: r.context_id, message: r.message.clone() })
        .collect();
    (lines, all.len())
}

/// Loads the scenario's plugin on a new host, runs every step, and checks
/// the expectations.
pub fn run(scenario: &Scenario) -> Result<Report, RunError> {
    let wasm = std::fs::read(&scenario.plugin).map_err(|e| {
        RunError(format!(
            "cannot read the plugin {} (from `plugin` in {}): {e}; build it first (see host-sim's README)",
            scenario.plugin.display(),
            scenario.file.display()
        ))
    })?;
    let mut spec = PluginSpec::from_bytes(wasm)
        .configuration(scenario.configuration.clone())
        .vm_configuration(scenario.vm_configuration.clone());
    if let Some(name) = &scenario.name {
        spec = spec.name(name.clone());
    }
    if let Some(root_id) = &scenario.root_id {
        spec = spec.root_id(root_id.clone());
    }
    if let Some(vm_id) = &scenario.vm_id {
        spec = spec.vm_id(vm_id.clone());
    }
    for (path, value) in &scenario.properties {
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        spec = spec.property(&path, value.clone());
    }
    for (k, v) in &scenario.environment {
        spec = spec.env(k.clone(), v.clone());
    }
    let mut host = Host::new();
    for (name, result) in &scenario.foreign_functions {
        let result = result.clone();
        host.register_foreign_function(name, move |_| Ok(result.clone()));
    }
    if let Some(clusters) = &scenario.clusters {
        let clusters: Vec<&str> = clusters.iter().map(String::as_str).collect();
        host.set_clusters(&clusters);
    }
    let plugin = host.load(spec).map_err(|e| {
        let logs: Vec<String> = host.logs().iter().map(|r| format!("  [{}] {}", level(r.level), r.message)).collect();
        RunError(format!(
            "the plugin did not start: {e}{}",
            if logs.is_empty() { String::new() } else { format!("\nplugin logs:\n{}", logs.join("\n")) }
        ))
    })?;
    let (startup_logs, mut seen) = logs_since(&host, 0);

    let mut failures = Vec::new();
    let mut steps = Vec::new();
    for (i, step) in scenario.steps.iter().enumerate() {
        let mut report = run_step(&mut host, plugin, step);
        let (logs, now) = logs_since(&host, seen);
        seen = now;
        report.logs = logs;
        let label = format!("stream {} ({})", i + 1, step.name);
        if let Some(error) = &report.error {
            failures.push(format!("{label}: the plugin or host failed: {error}"));
        }
        check::step(&label, step, &report, &mut failures);
        steps.push(report);
    }

    let metrics = host.metrics();
    let all_logs: Vec<String> = host.logs().into_iter().map(|r| r.message).collect();
    check::global(&scenario.expect, &all_logs, &metrics, &mut failures);
    if let Some(failure) = host.failure(plugin) {
        failures.push(format!("the plugin's VM failed: {failure}"));
    }
    let json_metrics = metrics
        .iter()
        .map(|(raw, value)| {
            let series = prometheus::Series::parse(raw).to_prometheus();
            let v = match value {
                crate::MetricValue::Counter(v) => serde_json::json!(v),
                crate::MetricValue::Gauge(v) => serde_json::json!(v),
                crate::MetricValue::Histogram(samples) => serde_json::json!(samples),
            };
            (raw.clone(), series, v)
        })
        .collect();
    Ok(Report {
        scenario: scenario.file.display().to_string(),
        plugin: scenario.plugin.display().to_string(),
        steps,
        startup_logs,
        metrics: json_metrics,
        prometheus: prometheus::render(&metrics),
        failures,
    })
}

fn empty_step(step: &Step) -> StepReport {
    StepReport {
        name: step.name.clone(),
        advanced_ms: step.advance.map(|d| d.as_millis()),
        ticks: step.ticks,
        request_in: None,
        request_body_in: String::new(),
        upstream_request: None,
        upstream_body: String::new(),
        response_in: None,
        response_skipped: None,
        client_response: None,
        client_body: String::new(),
        local_response: None,
        callouts: Vec::new(),
        logs: Vec::new(),
        error: None,
    }
}

fn run_step(host: &mut Host, plugin: PluginId, step: &Step) -> StepReport {
    let mut report = empty_step(step);
    if let Err(e) = drive_step(host, plugin, step, &mut report) {
        report.error = Some(e.to_string());
    }
    report
}

fn drive_step(host: &mut Host, plugin: PluginId, step: &Step, report: &mut StepReport) -> Result<(), Error> {
    if let Some(by) = step.advance {
        host.advance(by)?;
    }
    for _ in 0..step.ticks {
        host.tick(plugin)?;
    }
    let Some(request) = &step.request else {
        answer_callouts(host, step, report)?;
        return Ok(());
    };
    report.request_in = Some(text(&request.headers));
    report.request_body_in = lossy(&request.chunks.concat());
    let mut stream = host.http_stream(plugin)?;
    let result = drive_stream(&mut stream, step, request, report);
    // Record what each side saw before finishing, even after an error.
    let outcome = stream.complete();
    result?;
    let outcome = outcome?;
    record_sent(&outcome.upstream_request, &mut report.upstream_request, &mut report.upstream_body);
    record_sent(&outcome.client_response, &mut report.client_response, &mut report.client_body);
    if let Some(local) = &outcome.local_response {
        report.local_response = Some((local.status_code, local.details.clone(), lossy(&local.body)));
        if report.client_response.is_none() {
            report.client_response = Some(text(&local.client_headers()));
            report.client_body = lossy(&local.body);
        }
    }
    Ok(())
}

fn record_sent(sent: &Sent, headers: &mut Option<Headers>, body: &mut String) {
    *headers = sent.headers.as_ref().map(text);
    *body = lossy(&sent.body);
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn drive_stream(
    stream: &mut HttpStream<'_>,
    step: &Step,
    request: &Message,
    report: &mut StepReport,
) -> Result<(), Error> {
    request.deliver(stream, false)?;
    answer_callouts(stream.host(), step, report)?;
    let Some(response) = &step.response else { return Ok(()) };
    report.response_in = Some(text(&response.headers));
    if let Some(local) = stream.local_response() {
        report.response_skipped = Some(format!("the plugin answered locally ({})", local.status_code));
    } else if stream.is_over() {
        report.response_skipped = Some("the stream already ended".into());
    } else if !stream.upstream_request().end_of_stream {
        report.response_skipped = Some(if stream.upstream_request().headers.is_none() {
            "the request is paused before the upstream (the plugin did not resume it)".into()
        } else {
            "the upstream has not received the whole request".into()
        });
    } else {
        response.deliver(stream, true)?;
    }
    Ok(())
}

fn answer_callouts(host: &mut Host, step: &Step, report: &mut StepReport) -> Result<(), Error> {
    for (i, answer) in step.callouts.iter().enumerate() {
        let Some(call) = host.http_callouts().into_iter().next() else {
            report.callouts.push(CalloutReport {
                cluster: answer.cluster.clone().unwrap_or_default(),
                headers: Vec::new(),
                body: String::new(),
                timeout_ms: 0,
                answer: format!("answer {} not used: no callout was pending", i + 1),
            });
            continue;
        };
        let (answer_text, result) = if answer.fail {
            ("failed (reset)".to_string(), host.fail_http_call(call.id()))
        } else {
            let status = answer.headers.get_str(":status").unwrap_or("200").to_owned();
            let response = HttpCallResponse {
                headers: answer.headers.clone(),
                body: answer.body.clone(),
                trailers: answer.trailers.clone(),
            };
            (format!("answered {status}"), host.respond_http_call(call.id(), response))
        };
        report.callouts.push(CalloutReport {
            cluster: call.upstream.clone(),
            headers: text(&call.headers),
            body: lossy(&call.body),
            timeout_ms: call.timeout.as_millis(),
            answer: answer_text,
        });
        result?;
    }
    for call in host.http_callouts() {
        report.callouts.push(CalloutReport {
            cluster: call.upstream.clone(),
            headers: text(&call.headers),
            body: lossy(&call.body),
            timeout_ms: call.timeout.as_millis(),
            answer: "unanswered (still pending)".into(),
        });
    }
    Ok(())
}
