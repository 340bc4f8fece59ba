//! Runs a scenario on a fresh [`Host`] and records what happened.

use std::fmt;
use std::path::Path;

use serde::Serialize;

use super::check;
use super::drive::Driver;
use super::format::{Scenario, Step, tidy};
use crate::host::Host;
use crate::report::prometheus;
use crate::spec::PluginSpec;

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
    /// The timeout in milliseconds.
    pub timeout_ms: u128,
    /// `answered 200`, `failed (reset)`, `timed out ...` or `unanswered ...`.
    pub answer: String,
    /// The callout was made before this step (it was pending when the step
    /// began, and this step answers it or lists it as still pending).
    pub from_earlier_step: bool,
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
    /// Where the stream was routed (with `[[virtual_hosts]]`).
    pub route: Option<RouteReport>,
    /// Callouts and their answers.
    pub callouts: Vec<CalloutReport>,
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
            response_in: None,
            response_skipped: None,
            client_response: None,
            client_body: String::new(),
            local_response: None,
            route: None,
            callouts: Vec::new(),
            logs: Vec::new(),
            error: None,
            held: false,
            released_in: None,
            fail_policy: None,
            vm_rebuilt: false,
            vm_failed: None,
        }
    }
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

/// A path for reading: without `dir/..` detours, unless that names another
/// file (through a symbolic link) or the file does not exist.
fn shown(path: &Path) -> String {
    let tidy = tidy(path);
    let same = matches!((tidy.canonicalize(), path.canonicalize()), (Ok(a), Ok(b)) if a == b);
    if same { tidy } else { path.to_path_buf() }.display().to_string()
}

/// Loads the scenario's plugin on a new host, runs every step, and checks
/// the expectations.
pub fn run(scenario: &Scenario) -> Result<Report, RunError> {
    let plugin_shown = shown(&scenario.plugin);
    let wasm = std::fs::read(&scenario.plugin).map_err(|e| {
        RunError(format!(
            "cannot read the plugin {plugin_shown} (from `plugin` in {}): {e}; build it first (see host-sim's README)",
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
    if let Some(policy) = scenario.fail_policy {
        spec = spec.fail_policy(policy);
    }
    if let Some(rule) = scenario.rebuild {
        spec = spec.rebuild(rule);
    }
    let mut host = Host::new();
    host.set_profile(scenario.profile);
    host.set_strict(scenario.strict);
    host.set_routes(scenario.routes.clone());
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

    let mut driver = Driver::new(!scenario.routes.is_empty());
    let mut steps: Vec<StepReport> = Vec::new();
    for (i, step) in scenario.steps.iter().enumerate() {
        let (failed, rebuilt) = (host.failure(plugin).map(str::to_owned), host.rebuilds(plugin).count);
        steps.push(driver.step(&mut host, plugin, i, step));
        driver.release(&mut host, &mut steps, Some(i));
        let (logs, now) = logs_since(&host, seen);
        seen = now;
        let report = &mut steps[i];
        report.logs = logs;
        report.vm_rebuilt = host.rebuilds(plugin).count > rebuilt;
        let failure = host.failure(plugin);
        if failure.is_some() && (report.vm_rebuilt || failure != failed.as_deref()) {
            report.vm_failed = failure.map(str::to_owned);
        }
    }
    driver.release(&mut host, &mut steps, None);

    let mut failures = Vec::new();
    for (i, (step, report)) in scenario.steps.iter().zip(&steps).enumerate() {
        let label = format!("stream {} ({})", i + 1, step.name);
        if let Some(error) = &report.error {
            failures.push(format!("{label}: the plugin or host failed: {error}"));
        }
        check::step(&label, step, report, &mut failures);
    }
    let metrics = host.metrics();
    let all_logs: Vec<String> = host.logs().into_iter().map(|r| r.message).collect();
    check::global(&scenario.expect, &all_logs, &metrics, &mut failures);
    let rebuilds = host.rebuilds(plugin);
    let failure = host.failure(plugin).map(str::to_owned).or_else(|| rebuilds.reasons.first().cloned());
    check::vm(&scenario.expect, failure.as_deref(), rebuilds.count, &mut failures);
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
        plugin: plugin_shown,
        steps,
        startup_logs,
        metrics: json_metrics,
        prometheus: prometheus::render(&metrics),
        failures,
    })
}
