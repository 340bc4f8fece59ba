//! Runs a scenario on a fresh [`Host`] and records what happened.

use std::path::Path;

use super::check;
use super::drive::{Driver, FinishedMark, LogCursor};
use super::format::{Foreign, PluginSetup, Scenario, tidy};
use super::report::{LogLine, Report, RunError, StepReport, level};
use crate::host::Host;
use crate::report::prometheus;
use crate::spec::PluginSpec;

/// A path for reading: without `dir/..` detours, unless that names another
/// file (through a symbolic link) or the file does not exist.
fn shown(path: &Path) -> String {
    let tidy = tidy(path);
    let same = matches!((tidy.canonicalize(), path.canonicalize()), (Ok(a), Ok(b)) if a == b);
    if same { tidy } else { path.to_path_buf() }.display().to_string()
}

/// The spec a scenario plugin loads with.
fn spec(scenario: &Scenario, setup: &PluginSetup) -> Result<PluginSpec, RunError> {
    let field = || {
        if scenario.plugins.len() > 1 || setup.id != "plugin" {
            format!("`plugin` of plugin {:?}", setup.id)
        } else {
            "`plugin`".to_owned()
        }
    };
    // An `oci://` reference or a WasmPlugin manifest (crate::oci).
    let by_reference = crate::oci::scenario_plugin(&setup.plugin).map(|loaded| {
        loaded.map_err(|e| {
            let (plugin, file) = (setup.plugin.display(), scenario.file.display());
            RunError::Plugin(format!("cannot load the plugin {plugin} (from {} in {file}): {e}", field()))
        })
    });
    let mut spec = match by_reference {
        Some(spec) => spec?,
        None => {
            let wasm = crate::limits::read_regular_file(&setup.plugin, crate::limits::MAX_FILE_BYTES).map_err(|e| {
                RunError::Plugin(format!(
                    "cannot read the plugin {} (from {} in {}): {e}; build it first (see host-sim's README)",
                    shown(&setup.plugin),
                    field(),
                    scenario.file.display()
                ))
            })?;
            if let Some(expected) = &setup.sha256 {
                let actual = crate::istio::sha256_hex(&wasm);
                if actual != *expected {
                    return Err(RunError::Plugin(format!(
                        "the module {} of plugin {:?} has the SHA-256 {actual}, but its WasmPlugin's `sha256` is \
                         {expected} (Istio refuses it too: rebuild the manifest, or the module it names)",
                        shown(&setup.plugin),
                        setup.id
                    )));
                }
            }
            PluginSpec::from_bytes(wasm)
        }
    };
    if !setup.configuration.is_empty() {
        spec = spec.configuration(setup.configuration.clone());
    }
    if !setup.vm_configuration.is_empty() {
        spec = spec.vm_configuration(setup.vm_configuration.clone());
    }
    if let Some(name) = &setup.name {
        spec = spec.name(name.clone());
    }
    if let Some(root_id) = &setup.root_id {
        spec = spec.root_id(root_id.clone());
    }
    if let Some(vm_id) = &setup.vm_id {
        spec = spec.vm_id(vm_id.clone());
    }
    for (path, value) in &setup.properties {
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        spec = spec.property(&path, value.clone());
    }
    for (k, v) in &setup.environment {
        spec = spec.env(k.clone(), v.clone());
    }
    if let Some(policy) = setup.fail_policy {
        spec = spec.fail_policy(policy);
    }
    if let Some(rule) = setup.rebuild {
        spec = spec.rebuild(rule);
    }
    if let Some(functions) = &setup.capabilities {
        spec = spec.allow_capabilities(functions.iter().cloned());
    }
    if !setup.redact_headers.is_empty() {
        spec = spec.redact_headers(&setup.redact_headers);
    }
    for path in &setup.remove_properties {
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        spec = spec.without_property(&path);
    }
    Ok(spec.limits(setup.limits))
}

/// Host calls recorded so far per VM (dropped ones included).
fn trace_totals(host: &Host) -> Vec<u64> {
    host.vms.iter().map(|vm| vm.state().trace.dropped() + vm.state().trace.len() as u64).collect()
}

/// The host calls recorded since `before` (from [`trace_totals`]), by function.
fn host_calls_since(host: &Host, before: &[u64]) -> std::collections::BTreeMap<String, u64> {
    let mut counts = std::collections::BTreeMap::new();
    for (index, vm) in host.vms.iter().enumerate() {
        let trace = &vm.state().trace;
        let seen = before.get(index).copied().unwrap_or(0);
        let skip = seen.saturating_sub(trace.dropped()) as usize;
        for call in trace.iter().skip(skip) {
            *counts.entry(call.function.to_owned()).or_insert(0) += 1;
        }
    }
    counts
}

/// A step's reload: the plugin's spec as loaded, with what the reload
/// changes: "accepted", or "rejected: " and why.
fn reload(
    scenario: &Scenario,
    host: &mut Host,
    driver: &Driver,
    reload: &super::format::Reload,
) -> Result<String, RunError> {
    let mut setup = scenario.plugins[reload.plugin].clone();
    if let Some(module) = &reload.module {
        setup.plugin = module.clone();
    }
    if let Some(configuration) = &reload.configuration {
        setup.configuration = configuration.clone();
    }
    if let Some(vm_configuration) = &reload.vm_configuration {
        setup.vm_configuration = vm_configuration.clone();
    }
    let spec = spec(scenario, &setup)?;
    let Some(plugin) = driver.plugin(reload.plugin) else {
        return Ok(format!("rejected: plugin {:?} did not start, there is nothing to reload", setup.id));
    };
    Ok(match host.reload(plugin, spec) {
        Ok(_) => "accepted".to_owned(),
        Err(e) => format!("rejected: {e}"),
    })
}

/// Loads the scenario's plugins on a new host, runs every step, and checks
/// the expectations.
pub fn run(scenario: &Scenario) -> Result<Report, RunError> {
    let plugin_shown = scenario.plugins.iter().map(|p| shown(&p.plugin)).collect::<Vec<_>>().join(", ");
    let specs = scenario.plugins.iter().map(|p| spec(scenario, p)).collect::<Result<Vec<_>, _>>()?;
    let mut host = Host::with_options(scenario.options.clone());
    host.set_profile(scenario.profile);
    host.set_strict(scenario.strict);
    host.set_routes(scenario.routes.clone());
    for (name, answer) in &scenario.foreign_functions {
        let answer = answer.clone();
        host.register_foreign_function(name, move |input| match &answer {
            Foreign::Returns(bytes) => Ok(bytes.clone()),
            Foreign::Echo => Ok(input.to_vec()),
            Foreign::Fails(status) => Err(*status),
        });
    }
    if let Some(clusters) = &scenario.clusters {
        let clusters: Vec<&str> = clusters.iter().map(String::as_str).collect();
        host.set_clusters(&clusters);
    }
    for d in &scenario.shared_data {
        d.apply(&mut host);
    }
    let mut plugins = Vec::new();
    let mut start_failures = Vec::new();
    let mut failures = Vec::new();
    for (setup, spec) in scenario.plugins.iter().zip(specs) {
        let which = if scenario.plugins.len() > 1 { format!(" {:?}", setup.id) } else { String::new() };
        match host.load(spec) {
            Ok(id) => plugins.push(Some(id)),
            Err(e) if setup.expect.start_fails == Some(true) => {
                let prefix = if which.is_empty() { String::new() } else { format!("plugin{which}: ") };
                check::start_failure(&prefix, &setup.expect, &e.to_string(), &mut failures);
                start_failures.push((setup.id.clone(), e.to_string()));
                plugins.push(None);
            }
            Err(e) => {
                let logs: Vec<String> =
                    host.logs().iter().map(|r| format!("  [{}] {}", level(r.level), r.message)).collect();
                return Err(RunError::Plugin(format!(
                    "the plugin{which} did not start: {e}{}",
                    if logs.is_empty() { String::new() } else { format!("\nplugin logs:\n{}", logs.join("\n")) }
                )));
            }
        }
    }
    let mut cursor = LogCursor::default();
    let startup_logs = cursor.take(&host);

    let mut driver = Driver::new(scenario, plugins, cursor);
    let mut steps: Vec<StepReport> = Vec::new();
    for (i, step) in scenario.steps.iter().enumerate() {
        let Some(plugin) = driver.plugin(step.plugin) else {
            let mut report = StepReport::new(step);
            report.plugin = scenario.plugins[step.plugin].id.clone();
            report.error = Some(format!("plugin {:?} did not start (as expected): no step can use it", report.plugin));
            steps.push(report);
            continue;
        };
        let (failed, rebuilt) = (host.failure(plugin).map(str::to_owned), host.rebuilds(plugin).count);
        let calls_before = trace_totals(&host);
        let finished_before = FinishedMark::now(&host);
        let fuel_before = host.fuel(plugin).map_or(0, |f| f.total);
        let reloaded = match &step.reload {
            Some(reload) => Some(self::reload(scenario, &mut host, &driver, reload)?),
            None => None,
        };
        driver.step(&mut host, i, step, &mut steps);
        steps[i].reload = reloaded;
        let host_calls = host_calls_since(&host, &calls_before);
        driver.release(&mut host, &mut steps, Some(i));
        let logs = driver.logs.take(&host);
        let report = &mut steps[i];
        report.plugin = scenario.plugins[step.plugin].id.clone();
        report.logs = logs;
        report.tick_period_ms = host.tick_period(plugin).map(|d| d.as_millis());
        report.deleted = host.is_deleted(plugin);
        report.usage = host.usage(plugin);
        report.host_calls = host_calls;
        report.finished_callouts = finished_before.since(&host);
        report.fuel = host.fuel(plugin).map_or(0, |f| f.total).saturating_sub(fuel_before);
        report.properties_read = step
            .expect
            .properties
            .iter()
            .map(|(path, _)| {
                let segments: Vec<&str> = path.iter().map(String::as_str).collect();
                (path.clone(), host.property(plugin, &segments))
            })
            .collect();
        report.vm_rebuilt = host.rebuilds(plugin).count > rebuilt;
        let failure = host.failure(plugin);
        if failure.is_some() && (report.vm_rebuilt || failure != failed.as_deref()) {
            report.vm_failed = failure.map(str::to_owned);
        }
        if let Some(&unused) = report.unused_answers.first() {
            return Err(RunError::Invalid(step.callouts[unused].unused.clone()));
        }
        if let Some(&unused) = report.unused_grpc.first() {
            return Err(RunError::Invalid(step.grpc[unused].unused.clone()));
        }
    }
    driver.release(&mut host, &mut steps, None);

    for (i, (step, report)) in scenario.steps.iter().zip(&steps).enumerate() {
        let label = format!("stream {} ({})", i + 1, step.name);
        if let Some(error) = &report.error {
            failures.push(format!("{label}: the plugin or host failed: {error}"));
        }
        let opener =
            step.resume.as_ref().and_then(|name| scenario.steps[..i].iter().position(|s| s.id.as_ref() == Some(name)));
        check::step(&label, step, report, opener.map_or(report, |o| &steps[o]), &mut failures);
    }
    let metrics = host.metrics();
    let all_logs: Vec<LogLine> = host
        .logs()
        .into_iter()
        .map(|r| LogLine { level: level(r.level), context_id: r.context_id, message: r.message })
        .collect();
    check::global(&scenario.expect, &all_logs, &metrics, &mut failures);
    check::state(&scenario.expect, &host, &mut failures);
    for (i, setup) in scenario.plugins.iter().enumerate() {
        let Some(plugin) = driver.plugin(i) else { continue };
        let rebuilds = host.rebuilds(plugin);
        let failure = host.failure(plugin).map(str::to_owned).or_else(|| rebuilds.reasons.first().cloned());
        let which = if scenario.plugins.len() > 1 { format!("plugin {:?}: ", setup.id) } else { String::new() };
        check::vm(&which, &setup.expect, failure.as_deref(), rebuilds.count, &mut failures);
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
        plugin: plugin_shown,
        filter_chain: scenario.filter_chain.clone(),
        tcp_filter_chain: scenario.tcp_filter_chain.clone(),
        steps,
        startup_logs,
        start_failures,
        metrics: json_metrics,
        prometheus: prometheus::render(&metrics),
        failures,
    })
}
