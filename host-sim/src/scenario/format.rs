//! The scenario file: its TOML shape (deserialized with spans) and the
//! checks that turn it into a [`Scenario`] ready to run. Every error names
//! the file, line, column and field.

use std::path::{Component, Path, PathBuf};

use regex::Regex;
use toml::Spanned;

pub use super::fields::parse_duration;
use super::fields::{duration, flatten, plugin_expect, regex};
use super::raw::{
    RawCallout, RawExpect, RawForeign, RawGrpcAnswer, RawHeaderExpect, RawLog, RawMessage, RawPlugin, RawScenario,
    RawSharedData, RawStep, RawStreamExpect, RawTcpEvent, RawTcpExpect, Spanned as RawSpanned,
};
use super::routes::route_table;
pub use super::source::ScenarioError;
use super::source::Source;
use crate::failure::{FailPolicy, Rebuild};
use crate::policy::HostProfile;
use crate::report::prometheus::Selector;
use crate::state::headers::HeaderMap;
use crate::types::{PeerType, Status};

pub use super::model::{
    ActionExpect, ActionsExpect, CALLOUT_ENDS, CALLOUT_KINDS, CalloutAnswer, CalloutExpect, Ended, Enqueue, Expect,
    FinishedExpect, Foreign, Forwarded, GrpcAnswer, GrpcExpect, HeaderExpect, LocalExpect, LogExpect, Message, Part,
    PluginExpect, PluginSetup, QueueExpect, Reload, Scenario, SharedData, SharedDataExpect, Step, StreamExpect,
    TcpEvent, TcpExpect,
};

/// Reads and checks a scenario file.
pub fn load(file: &Path) -> Result<Scenario, ScenarioError> {
    let text =
        crate::limits::read_regular_text(file, crate::limits::MAX_SCENARIO_BYTES).map_err(|e| ScenarioError {
            file: file.to_path_buf(),
            position: None,
            field: None,
            message: format!("cannot read the scenario: {e}"),
            line_text: None,
        })?;
    parse(file, &text)
}

/// Checks scenario text (`file` names it in errors and anchors the plugin path).
pub fn parse(file: &Path, text: &str) -> Result<Scenario, ScenarioError> {
    let src = Source { file, text };
    let mut raw: RawScenario = toml::from_str(text).map_err(|e| src.error(e.span(), None, e.message().trim()))?;
    let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let single = raw.single();
    let (plugins, mesh) = match &raw.mesh {
        None => (plugins(&src, &dir, single, &raw.plugins, &raw.expect)?, None),
        Some(mesh) => {
            let listed = raw.plugins.first().map(|p| ("plugins", p.span()));
            if let Some((field, span)) = single.1.given(single.0).or(listed) {
                return Err(src.error(
                    Some(span),
                    Some(field.to_owned()),
                    format!(
                        "with [mesh], the plugins come from its WasmPlugin manifests: `{field}` cannot be given too"
                    ),
                ));
            }
            let mut mesh = super::mesh::mesh(&src, &dir, mesh, &raw.expect)?;
            let plugins = expected_plugins(&src, std::mem::take(&mut mesh.plugins), &raw.expect)?;
            (plugins, Some(mesh))
        }
    };
    let foreign_functions = raw
        .foreign_functions
        .iter()
        .map(|(name, f)| foreign(&src, name, f).map(|f| (name.clone(), f)))
        .collect::<Result<_, _>>()?;
    let shared_data = raw.shared_data.iter().map(|d| shared(d.get_ref())).collect();
    let host = host_options(&src, raw.host.as_ref())?;
    let mut steps = Vec::new();
    for (i, step) in raw.stream.iter().enumerate() {
        steps.push(self::step(&src, (&dir, host.concurrency, mesh.as_ref()), &plugins, &steps, i, step)?);
    }
    let expect = expect(&src, &raw.expect)?;
    let profile =
        named(&src, raw.profile.as_deref(), "profile", HostProfile::from_name, &HostProfile::NAMES.map(|p| p.0))?;
    let routes = route_table(&src, &raw.virtual_hosts)?;
    let clock = super::clock::clock(&src, raw.clock.as_ref())?;
    let options = clock.apply(host);
    Ok(Scenario {
        file: file.to_path_buf(),
        plugins,
        filter_chain: mesh.as_ref().map(|m| m.http_shown.clone()).unwrap_or_default(),
        tcp_filter_chain: mesh.as_ref().map(|m| m.tcp_shown.clone()).unwrap_or_default(),
        foreign_functions,
        clusters: raw.clusters,
        routes,
        profile: profile.unwrap_or_default(),
        strict: raw.strict,
        shared_data,
        clock,
        options,
        steps,
        expect,
    })
}

/// The most workers a scenario runs (`[host] concurrency`): each is a VM
/// per plugin.
pub const MAX_WORKERS: usize = 64;

/// `[host]`: the host options a scenario sets, the others at their defaults.
fn host_options(src: &Source<'_>, raw: Option<&super::raw::RawHost>) -> Result<crate::HostOptions, ScenarioError> {
    let mut options = crate::HostOptions::default();
    let Some(raw) = raw else { return Ok(options) };
    if let Some(bytes) = raw.memory_limit {
        options.memory_limit = bytes;
    }
    if let Some(d) = &raw.cpu_deadline {
        options.cpu_deadline = Some(duration(src, d, "host.cpu_deadline", "\"1s\" or \"200ms\"")?);
    }
    options.fuel = raw.fuel.or(options.fuel);
    if let Some(level) = log_level(src, raw.log_level.as_ref(), "host.log_level")? {
        options.log_level = level;
    }
    options.seed = raw.seed.unwrap_or(options.seed);
    if let Some(d) = &raw.stream_idle_timeout {
        let idle = duration(src, d, "host.stream_idle_timeout", "\"5m\" or \"0s\" (off)")?;
        options.stream_idle_timeout = (!idle.is_zero()).then_some(idle);
    }
    if let Some(n) = &raw.concurrency {
        if !(1..=MAX_WORKERS).contains(n.get_ref()) {
            return Err(src.at(
                n,
                "host.concurrency".to_owned(),
                format!("from 1 to {MAX_WORKERS} workers, found {}", n.get_ref()),
            ));
        }
        options.concurrency = *n.get_ref();
    }
    Ok(options)
}

/// A log level by its name (`LEVELS`).
fn log_level(
    src: &Source<'_>,
    name: Option<&RawSpanned<String>>,
    field: &str,
) -> Result<Option<crate::LogLevel>, ScenarioError> {
    let parse = |n: &str| {
        let index = LEVELS.iter().position(|l| *l == n)?;
        crate::LogLevel::from_u32(index as u32)
    };
    named(src, name.map(|n| &**n), field, parse, &LEVELS)
}

/// The failure statuses a foreign function can answer with, by name.
const STATUSES: [(&str, Status); 11] = [
    ("not_found", Status::NotFound),
    ("bad_argument", Status::BadArgument),
    ("serialization_failure", Status::SerializationFailure),
    ("parse_failure", Status::ParseFailure),
    ("bad_expression", Status::BadExpression),
    ("invalid_memory_access", Status::InvalidMemoryAccess),
    ("empty", Status::Empty),
    ("cas_mismatch", Status::CasMismatch),
    ("result_mismatch", Status::ResultMismatch),
    ("internal_failure", Status::InternalFailure),
    ("unimplemented", Status::Unimplemented),
];

/// The log levels expectations name.
const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "critical"];

fn foreign(src: &Source<'_>, name: &str, raw: &RawSpanned<RawForeign>) -> Result<Foreign, ScenarioError> {
    let field = format!("foreign_functions.{name}");
    match raw.get_ref() {
        RawForeign::Returns(bytes) => Ok(Foreign::Returns(bytes.clone().into_bytes())),
        RawForeign::Table(t) => match (&t.returns, t.echo, &t.status) {
            (Some(bytes), None, None) => Ok(Foreign::Returns(bytes.clone().into_bytes())),
            (None, Some(true), None) => Ok(Foreign::Echo),
            (None, None, Some(status)) => {
                STATUSES.iter().find(|(n, _)| n == status).map(|(_, s)| Foreign::Fails(*s)).ok_or_else(|| {
                    let names = STATUSES.map(|(n, _)| format!("\"{n}\"")).join(", ");
                    src.at(raw, format!("{field}.status"), format!("expected one of {names}, found {status:?}"))
                })
            }
            _ => Err(src.at(
                raw,
                field,
                "a foreign function has one of `returns = \"bytes\"`, `echo = true` or `status = \"...\"`",
            )),
        },
    }
}

fn logs(src: &Source<'_>, raw: &[RawSpanned<RawLog>], field: &str) -> Result<Vec<LogExpect>, ScenarioError> {
    raw.iter()
        .map(|entry| {
            let re = |text: &str| {
                Regex::new(text).map_err(|e| {
                    let detail = e.to_string();
                    let last = detail.lines().last().unwrap_or("").trim().to_owned();
                    src.at(entry, field.to_owned(), format!("not a valid regex: {last}"))
                })
            };
            match entry.get_ref() {
                RawLog::Pattern(p) => Ok(LogExpect { pattern: Some(re(p)?), level: None, count: None }),
                RawLog::Table(t) => {
                    if let Some(level) = &t.level
                        && !LEVELS.contains(&level.as_str())
                    {
                        let names = LEVELS.map(|n| format!("\"{n}\"")).join(", ");
                        return Err(src.at(
                            entry,
                            format!("{field}.level"),
                            format!("expected one of {names}, found {level:?}"),
                        ));
                    }
                    Ok(LogExpect {
                        pattern: t.pattern.as_deref().map(re).transpose()?,
                        level: t.level.clone(),
                        count: t.count,
                    })
                }
            }
        })
        .collect()
}

fn shared(d: &RawSharedData) -> SharedData {
    SharedData { vm_id: d.vm_id.clone(), key: d.key.clone(), value: d.value.clone().into_bytes(), race: d.race }
}

/// The plugins: the single form's fields at the top (`single`), or
/// `[[plugins]]`, not both.
fn plugins(
    src: &Source<'_>,
    dir: &Path,
    (plugin_given, single): (bool, RawPlugin),
    listed: &[RawSpanned<RawPlugin>],
    expect: &RawExpect,
) -> Result<Vec<PluginSetup>, ScenarioError> {
    let mut out: Vec<PluginSetup> = Vec::new();
    if listed.is_empty() {
        if !plugin_given {
            return Err(src.error(
                Some(0..0),
                Some("plugin".into()),
                "missing field `plugin` (the plugin module), or `[[plugins]]` for several",
            ));
        }
        out.push(plugin_setup(src, dir, &single, "plugin", expect)?);
    } else if let Some((field, span)) = single.given(plugin_given) {
        return Err(src.error(
            Some(span),
            Some(field.to_owned()),
            format!("with [[plugins]], `{field}` goes into each plugin's table"),
        ));
    }
    for (i, p) in listed.iter().enumerate() {
        let field = format!("plugins[{}]", i + 1);
        let p = p.get_ref();
        let id = p.id.get_ref();
        if id.trim().is_empty() {
            return Err(src.at(&p.id, format!("{field}.id"), "a plugin id is not empty"));
        }
        if out.iter().any(|o| o.id == *id) {
            return Err(src.at(&p.id, format!("{field}.id"), format!("plugin id {id:?} is already used")));
        }
        out.push(plugin_setup(src, dir, p, &field, expect)?);
    }
    expected_plugins(src, out, expect)
}

/// `expect.plugins.<id>` applied to the plugins.
fn expected_plugins(
    src: &Source<'_>,
    mut out: Vec<PluginSetup>,
    expect: &RawExpect,
) -> Result<Vec<PluginSetup>, ScenarioError> {
    for (id, spanned) in &expect.plugins {
        let e = spanned.get_ref();
        let Some(setup) = out.iter_mut().find(|p| p.id == *id) else {
            let ids = out.iter().map(|p| format!("{:?}", p.id)).collect::<Vec<_>>().join(", ");
            return Err(src.at(
                spanned,
                format!("expect.plugins.{id}"),
                format!("no plugin has id {id:?} (ids: {ids})"),
            ));
        };
        setup.expect.vm_failed = e.vm_failed.or(setup.expect.vm_failed);
        setup.expect.start_fails = e.start_fails.or(setup.expect.start_fails);
        if let Some(r) = &e.start_error {
            setup.expect.start_error = Some(regex(src, r, &format!("expect.plugins.{id}.start_error"))?);
        }
        setup.expect.rebuilds = e.rebuilds.or(setup.expect.rebuilds);
    }
    Ok(out)
}

fn plugin_setup(
    src: &Source<'_>,
    dir: &Path,
    raw: &RawPlugin,
    field: &str,
    expect: &RawExpect,
) -> Result<PluginSetup, ScenarioError> {
    let path = raw.plugin.get_ref();
    let sub = |name: &str| if field == "plugin" { name.to_owned() } else { format!("{field}.{name}") };
    if path.trim().is_empty() {
        return Err(src.at(&raw.plugin, sub("plugin"), "the plugin path is empty"));
    }
    // An `oci://` reference is kept as written (crate::oci::scenario_plugin).
    let plugin =
        if Path::new(path).is_absolute() || path.starts_with("oci://") { PathBuf::from(path) } else { dir.join(path) };
    let mut properties = Vec::new();
    if let Some(table) = &raw.properties {
        flatten(src, table.span(), table.get_ref(), &mut Vec::new(), &mut properties, &sub("properties"))?;
    }
    let fail_policy =
        named(src, raw.fail_policy.as_deref(), &sub("fail_policy"), FailPolicy::from_name, &["closed", "open"])?;
    let rebuild = match &raw.rebuild {
        Some(r) => {
            let interval = duration(src, &r.get_ref().interval, &sub("rebuild.interval"), "\"30s\" or \"1m\"")?;
            Some(Rebuild::new(r.get_ref().max, interval))
        }
        None => None,
    };
    let text = |v: &Option<RawSpanned<String>>| v.as_ref().map(|v| v.get_ref().clone());
    Ok(PluginSetup {
        id: if field == "plugin" { "plugin".to_owned() } else { raw.id.get_ref().clone() },
        plugin,
        name: text(&raw.name),
        root_id: text(&raw.root_id),
        vm_id: text(&raw.vm_id),
        configuration: config_bytes(src, raw.configuration.as_deref(), &sub("configuration"))?,
        vm_configuration: config_bytes(src, raw.vm_configuration.as_deref(), &sub("vm_configuration"))?,
        properties,
        environment: string_table(src, raw.environment.as_deref(), &sub("environment"))?,
        fail_policy,
        rebuild,
        limits: raw.limits.as_ref().map(|l| *l.get_ref()).unwrap_or_default(),
        capabilities: raw.capabilities.clone(),
        redact_headers: raw.redact_headers.clone(),
        remove_properties: raw.remove_properties.iter().map(|p| dotted(p.get_ref())).collect(),
        sha256: None,
        expect: plugin_expect(src, expect)?,
    })
}

/// A status code as Envoy accepts one: 100 to 999.
fn status(src: &Source<'_>, status: &Spanned<u16>, field: &str) -> Result<u16, ScenarioError> {
    let code = *status.get_ref();
    if (100..=999).contains(&code) {
        Ok(code)
    } else {
        Err(src.at(status, field.to_owned(), format!("an HTTP status is 100 to 999, found {code}")))
    }
}

fn step(
    src: &Source<'_>,
    (dir, workers, mesh): (&Path, usize, Option<&super::mesh::Mesh>),
    plugins: &[PluginSetup],
    earlier: &[Step],
    i: usize,
    raw: &RawSpanned<RawStep>,
) -> Result<Step, ScenarioError> {
    let step = raw.get_ref();
    let field = format!("stream[{}]", i + 1);
    let find = |id: &RawSpanned<String>, at: String| {
        plugins.iter().position(|p| p.id == *id.get_ref()).ok_or_else(|| {
            let ids = plugins.iter().map(|p| format!("{:?}", p.id)).collect::<Vec<_>>().join(", ");
            src.at(id, at, format!("no plugin has id {:?} (ids: {ids})", id.get_ref()))
        })
    };
    let mut chain = Vec::new();
    if let Some(list) = &step.chain {
        if step.request.is_none() && step.connection.is_none() {
            return Err(src.at(
                list,
                format!("{field}.chain"),
                "`chain` runs the stream a step opens through several plugins: it needs a `request` or a `connection`",
            ));
        }
        if let Some(name) = &step.connection
            && earlier.iter().any(|s| s.connection.as_deref() == Some(name.get_ref()))
        {
            return Err(src.at(
                list,
                format!("{field}.chain"),
                format!(
                    "connection {:?} is open already: its chain is the one of the step that opened it",
                    name.get_ref()
                ),
            ));
        }
        if list.get_ref().is_empty() {
            return Err(src.at(list, format!("{field}.chain"), "a chain names at least one plugin"));
        }
        for (j, id) in list.get_ref().iter().enumerate() {
            let index = find(id, format!("{field}.chain[{}]", j + 1))?;
            if chain.contains(&index) {
                return Err(src.at(
                    id,
                    format!("{field}.chain[{}]", j + 1),
                    format!("plugin {:?} is already in the chain", id.get_ref()),
                ));
            }
            chain.push(index);
        }
    }
    // With [mesh], a step's new HTTP stream runs through the HTTP chain and
    // its new connection through the network chain, unless it names others.
    let opens_connection = step
        .connection
        .as_ref()
        .is_some_and(|name| !earlier.iter().any(|s| s.connection.as_deref() == Some(name.get_ref())));
    if let Some(mesh) = mesh.filter(|_| step.chain.is_none() && step.plugin.is_none()) {
        let (wanted, kind, at) = match (&step.request, &step.connection) {
            (Some(_), _) => (Some(&mesh.http), "HTTP", "request"),
            (None, Some(_)) if opens_connection => (Some(&mesh.tcp), "NETWORK", "connection"),
            _ => (None, "", ""),
        };
        if let Some(wanted) = wanted {
            if wanted.is_empty() {
                return Err(src.error(
                    Some(raw.span()),
                    Some(format!("{field}.{at}")),
                    format!("no WasmPlugin of type {kind} in [mesh] applies to this workload's listener"),
                ));
            }
            chain = wanted.clone();
        }
    }
    let plugin = match &step.plugin {
        None => chain.first().copied().unwrap_or(0),
        Some(id) => find(id, format!("{field}.plugin"))?,
    };
    let worker = match &step.worker {
        Some(w) if *w.get_ref() >= workers => {
            return Err(src.at(
                w,
                format!("{field}.worker"),
                format!("worker {} of {workers} ([host] concurrency; workers count from 0)", w.get_ref()),
            ));
        }
        Some(w) if step.request.is_none() && step.connection.is_none() => {
            return Err(src.at(
                w,
                format!("{field}.worker"),
                "`worker` places a new stream: it needs a `request` or a `connection`",
            ));
        }
        w => w.as_ref().map(|w| *w.get_ref()),
    };
    let reload = match &step.reload {
        Some(r) => {
            let raw_reload = r.get_ref();
            let at = format!("{field}.reload");
            let target = match &raw_reload.plugin {
                Some(id) => find(id, format!("{at}.plugin"))?,
                None => plugin,
            };
            let module = match &raw_reload.module {
                Some(m) if m.get_ref().trim().is_empty() => {
                    return Err(src.at(m, format!("{at}.module"), "the module path is empty"));
                }
                Some(m) => Some(if Path::new(m.get_ref()).is_absolute() {
                    PathBuf::from(m.get_ref())
                } else {
                    dir.join(m.get_ref())
                }),
                None => None,
            };
            let configuration = match &raw_reload.configuration {
                Some(_) => {
                    Some(config_bytes(src, raw_reload.configuration.as_deref(), &format!("{at}.configuration"))?)
                }
                None => None,
            };
            let vm_configuration = match &raw_reload.vm_configuration {
                Some(_) => {
                    Some(config_bytes(src, raw_reload.vm_configuration.as_deref(), &format!("{at}.vm_configuration"))?)
                }
                None => None,
            };
            if configuration.is_none() && vm_configuration.is_none() && module.is_none() {
                return Err(src.at(r, at, "a reload changes `configuration`, `vm_configuration` or `module`"));
            }
            Some(Reload { plugin: target, configuration, vm_configuration, module })
        }
        None => None,
    };
    if let (None, Some(want)) = (&reload, &step.expect.reload) {
        return Err(src.at(want, format!("{field}.expect.reload"), "`expect.reload` needs a `reload` in the step"));
    }
    if let (true, Some(want)) = (chain.is_empty(), &step.expect.local_reply_from) {
        return Err(src.at(
            want,
            format!("{field}.expect.local_reply_from"),
            "`local_reply_from` names a plugin of the step's `chain`",
        ));
    }
    let advance = step
        .advance
        .as_ref()
        .map(|a| duration(src, a, &format!("{field}.advance"), "\"250ms\", \"5s\", \"2m\""))
        .transpose()?;
    let request =
        step.request.as_ref().map(|m| message(src, m.get_ref(), false, &format!("{field}.request"))).transpose()?;
    let resume = match &step.resume {
        Some(name) => {
            if let Some(r) = &step.request {
                return Err(src.at(
                    r,
                    format!("{field}.request"),
                    "a step opens a stream (`request`) or resumes one (`resume`), not both",
                ));
            }
            let opened = earlier.iter().any(|s| s.id.as_deref() == Some(name.get_ref()));
            if !opened {
                return Err(src.at(
                    name,
                    format!("{field}.resume"),
                    format!("no earlier step opens a stream with id {:?}", name.get_ref()),
                ));
            }
            Some(name.get_ref().clone())
        }
        None => None,
    };
    let id = match &step.id {
        Some(name) => {
            if request.is_none() {
                return Err(src.at(
                    name,
                    format!("{field}.id"),
                    "`id` names the stream a step opens: it needs a request",
                ));
            }
            if earlier.iter().any(|s| s.id.as_deref() == Some(name.get_ref())) {
                return Err(src.at(
                    name,
                    format!("{field}.id"),
                    format!("stream id {:?} is already used", name.get_ref()),
                ));
            }
            Some(name.get_ref().clone())
        }
        None => None,
    };
    let until = match &step.until {
        Some(u) => {
            if id.is_none() && resume.is_none() {
                return Err(src.at(
                    u,
                    format!("{field}.until"),
                    "`until` leaves the stream open for a later `resume`: name it with `id`",
                ));
            }
            named_in(src, Some(&**u), &format!("{field}.until"), &Part::NAMES)?
        }
        None => None,
    };
    if let (None, None, Some(response)) = (&request, &resume, &step.response) {
        return Err(src.at(response, format!("{field}.response"), "a response needs a request in the same [[stream]]"));
    }
    if let (Some(_), Some(response)) = (&resume, &step.response) {
        let opener = earlier.iter().find(|s| s.id == resume).map(|s| s.response.is_some());
        if opener == Some(true) {
            return Err(src.at(
                response,
                format!("{field}.response"),
                "the step that opened this stream gave its response already",
            ));
        }
    }
    let hold = step.hold.as_ref().is_some_and(|h| *h.get_ref());
    if let (None, Some(h)) = (&request, step.hold.as_ref().filter(|_| hold)) {
        return Err(src.at(h, format!("{field}.hold"), "`hold` keeps a stream open: it needs a request"));
    }
    let response =
        step.response.as_ref().map(|m| message(src, m.get_ref(), true, &format!("{field}.response"))).transpose()?;
    let mut callouts = Vec::new();
    for (j, c) in step.callouts.iter().enumerate() {
        callouts.push(callout(src, c, &format!("{field}.callouts[{}]", j + 1))?);
    }
    let mut grpc = Vec::new();
    for (j, g) in step.grpc.iter().enumerate() {
        grpc.push(grpc_answer(src, g, &format!("{field}.grpc[{}]", j + 1))?);
    }
    let connection = match &step.connection {
        Some(name) if step.request.is_some() || step.resume.is_some() => {
            return Err(src.at(
                name,
                format!("{field}.connection"),
                "a step drives an HTTP stream (`request`, `resume`) or a TCP connection, not both",
            ));
        }
        Some(name) => Some(name.get_ref().clone()),
        None => None,
    };
    if let (None, Some(event)) = (&connection, step.tcp.first()) {
        return Err(src.at(event, format!("{field}.tcp[1]"), "TCP events need a `connection` (its name)"));
    }
    let mut tcp = Vec::new();
    for (j, event) in step.tcp.iter().enumerate() {
        tcp.push(tcp_event(src, event, &format!("{field}.tcp[{}]", j + 1))?);
    }
    let expect = stream_expect(src, &step.expect, &field)?;
    if let (false, Some(_)) = (step.shutdown, expect.on_done) {
        return Err(src.at(
            raw,
            format!("{field}.expect.on_done"),
            "`on_done` is what the root returned: it needs `shutdown = true`",
        ));
    }
    // Each tick is a guest call: as many as `u32` allows would run for days.
    let max_ticks = crate::limits::Limits::default().deliveries_per_step;
    if step.ticks as usize > max_ticks {
        return Err(src.at(
            raw,
            format!("{field}.ticks"),
            format!("at most {max_ticks} ticks per step (the deliveries one step may make), found {}", step.ticks),
        ));
    }
    let mut properties = Vec::new();
    if let Some(table) = &step.properties {
        flatten(src, table.span(), table.get_ref(), &mut Vec::new(), &mut properties, &format!("{field}.properties"))?;
    }
    let name = step.name.clone().unwrap_or_else(|| match (&request, &resume) {
        (Some(r), _) => {
            format!("{} {}", r.headers.get_str(":method").unwrap_or("?"), r.headers.get_str(":path").unwrap_or("?"))
        }
        (None, Some(id)) => format!("resume {id}"),
        (None, None) => match &step.connection {
            Some(c) => format!("tcp {}", c.get_ref()),
            None => "clock".into(),
        },
    });
    Ok(Step {
        name,
        plugin,
        shared_data: step.shared_data.iter().map(|d| shared(d.get_ref())).collect(),
        enqueue: step
            .enqueue
            .iter()
            .map(|e| e.get_ref())
            .map(|e| Enqueue { vm_id: e.vm_id.clone(), queue: e.queue.clone(), value: e.value.clone().into_bytes() })
            .collect(),
        advance,
        ticks: step.ticks,
        properties,
        foreign_callbacks: step
            .foreign_callbacks
            .iter()
            .map(|c| (c.get_ref().id, c.get_ref().args.clone().into_bytes()))
            .collect(),
        shutdown: step.shutdown,
        remove_properties: step.remove_properties.iter().map(|p| dotted(p.get_ref())).collect(),
        log_level: log_level(src, step.log_level.as_ref(), &format!("{field}.log_level"))?,
        wall_ns: step.wall.as_ref().map(|w| super::clock::wall_ns(src, w, &format!("{field}.wall"))).transpose()?,
        request,
        chain,
        worker,
        reload,
        id,
        resume,
        until,
        connection,
        tcp,
        callouts,
        grpc,
        hold,
        response,
        expect,
    })
}

fn tcp_event(src: &Source<'_>, raw: &RawSpanned<RawTcpEvent>, f: &str) -> Result<TcpEvent, ScenarioError> {
    let e = raw.get_ref();
    let peer = match &e.peer {
        None => PeerType::Remote,
        Some(p) => named(
            src,
            Some(&**p),
            &format!("{f}.peer"),
            |n| match n {
                "remote" => Some(PeerType::Remote),
                "local" => Some(PeerType::Local),
                _ => None,
            },
            &["remote", "local"],
        )?
        .unwrap_or(PeerType::Remote),
    };
    let close = e
        .close
        .as_ref()
        .map(|c| {
            named(
                src,
                Some(&**c),
                &format!("{f}.close"),
                |n| match n {
                    "downstream" => Some(TcpEvent::CloseDownstream(peer)),
                    "upstream" => Some(TcpEvent::CloseUpstream(peer)),
                    _ => None,
                },
                &["downstream", "upstream"],
            )
        })
        .transpose()?
        .flatten();
    let misplaced = |what: &str| src.at(raw, f.to_owned(), what.to_owned());
    if e.peer.is_some() && close.is_none() {
        return Err(misplaced("`peer` says who closed: it goes with `close`"));
    }
    match (&e.downstream, &e.upstream, close) {
        (Some(data), None, None) => Ok(TcpEvent::Downstream(data.clone().into_bytes(), e.end)),
        (None, Some(data), None) => Ok(TcpEvent::Upstream(data.clone().into_bytes(), e.end)),
        (None, None, Some(close)) if !e.end => Ok(close),
        (None, None, Some(_)) => Err(misplaced("`end` goes with data (a half-close); `close` closes the connection")),
        _ => Err(misplaced("a TCP event has exactly one of `downstream`, `upstream` or `close`")),
    }
}

fn grpc_answer(src: &Source<'_>, raw: &RawSpanned<RawGrpcAnswer>, f: &str) -> Result<GrpcAnswer, ScenarioError> {
    let g = raw.get_ref();
    let metadata = |table: &Option<RawSpanned<toml::Table>>, name: &str| -> Result<Option<HeaderMap>, ScenarioError> {
        table
            .as_deref()
            .map(|t| header_list(src, Some(t), &format!("{f}.{name}")).map(HeaderMap::from_pairs))
            .transpose()
    };
    let close = match &g.status {
        Some(status) if *status.get_ref() > 16 => {
            return Err(src.at(
                status,
                format!("{f}.status"),
                format!("a gRPC status is 0 to 16, found {}", status.get_ref()),
            ));
        }
        Some(status) => Some((*status.get_ref(), g.message.clone().unwrap_or_default())),
        None if g.message.is_some() => {
            return Err(src.at(raw, format!("{f}.message"), "`message` is the close's: it needs a `status`"));
        }
        None => None,
    };
    let timeout = g.timeout.as_ref().is_some_and(|t| *t.get_ref());
    if let Some(t) = g.timeout.as_ref().filter(|_| timeout) {
        let answered =
            g.initial_metadata.is_some() || !g.messages.is_empty() || g.trailing_metadata.is_some() || close.is_some();
        if answered {
            return Err(src.at(t, format!("{f}.timeout"), "a call that times out gets no metadata, messages or close"));
        }
    }
    let expect = match &g.expect {
        None => GrpcExpect::default(),
        Some(e) => GrpcExpect {
            cluster: e.cluster.clone(),
            service: e.service.clone(),
            method: e.method.clone(),
            stream: e
                .kind
                .as_ref()
                .map(|k| {
                    named(
                        src,
                        Some(&**k),
                        &format!("{f}.expect.kind"),
                        |n| match n {
                            "call" => Some(false),
                            "stream" => Some(true),
                            _ => None,
                        },
                        &["call", "stream"],
                    )
                })
                .transpose()?
                .flatten(),
            messages: e.messages.clone(),
            metadata: header_expect(src, &e.metadata, &format!("{f}.expect.metadata"))?,
            timeout: e
                .timeout
                .as_ref()
                .map(|t| duration(src, t, &format!("{f}.expect.timeout"), "\"1s\" or \"0ms\""))
                .transpose()?,
        },
    };
    Ok(GrpcAnswer {
        unused: src.at(
            raw,
            f.to_owned(),
            "no gRPC call or stream is open for this answer (the plugin opened none, or earlier answers ended them)",
        ),
        initial_metadata: metadata(&g.initial_metadata, "initial_metadata")?,
        messages: g.messages.iter().map(|m| m.clone().into_bytes()).collect(),
        trailing_metadata: metadata(&g.trailing_metadata, "trailing_metadata")?,
        close,
        timeout,
        expect,
    })
}

fn tcp_expect(src: &Source<'_>, raw: &RawTcpExpect, field: &str) -> Result<TcpExpect, ScenarioError> {
    let new_connection = raw
        .new_connection
        .as_ref()
        .map(|n| {
            named(
                src,
                Some(&**n),
                &format!("{field}.new_connection"),
                |n| match n {
                    "continue" => Some(true),
                    "pause" => Some(false),
                    _ => None,
                },
                &["continue", "pause"],
            )
        })
        .transpose()?
        .flatten();
    let closed_by_plugin = match &raw.closed_by_plugin {
        None => None,
        Some(sides) => Some(
            sides
                .iter()
                .map(|side| {
                    named(
                        src,
                        Some(&**side),
                        &format!("{field}.closed_by_plugin"),
                        |n| ["downstream", "upstream"].contains(&n).then(|| n.to_owned()),
                        &["downstream", "upstream"],
                    )
                    .map(Option::unwrap_or_default)
                })
                .collect::<Result<_, _>>()?,
        ),
    };
    Ok(TcpExpect {
        upstream_received: raw.upstream_received.clone(),
        client_received: raw.client_received.clone(),
        buffered: raw.buffered.clone(),
        new_connection,
        closed_by_plugin,
        finished: raw.finished,
    })
}

fn callout(src: &Source<'_>, raw: &RawSpanned<RawCallout>, f: &str) -> Result<CalloutAnswer, ScenarioError> {
    let c = raw.get_ref();
    let code = c.status.as_ref().map(|s| status(src, s, &format!("{f}.status"))).transpose()?;
    let mut headers = HeaderMap::from_pairs([(":status", code.unwrap_or(200).to_string())]);
    for (k, v) in header_list(src, c.headers.as_deref(), &format!("{f}.headers"))? {
        headers.add(k.as_bytes(), v.as_bytes());
    }
    let trailers = HeaderMap::from_pairs(header_list(src, c.trailers.as_deref(), &format!("{f}.trailers"))?);
    let timeout = c.timeout.as_ref().is_some_and(|t| *t.get_ref());
    if let Some(t) = c.timeout.as_ref().filter(|_| timeout) {
        let answered = c.status.is_some() || c.headers.is_some() || c.body.is_some() || c.trailers.is_some();
        if c.fail || answered {
            return Err(src.at(
                t,
                format!("{f}.timeout"),
                "a callout that times out has no `fail`, `status`, `headers`, `body` or `trailers`",
            ));
        }
    }
    let expect = match &c.expect {
        None => None,
        Some(e) => Some(CalloutExpect {
            headers: header_expect(src, &e.headers, &format!("{f}.expect.headers"))?,
            body: e.body.clone(),
            trailers: header_expect(src, &e.trailers, &format!("{f}.expect.trailers"))?,
            timeout: e
                .timeout
                .as_ref()
                .map(|t| duration(src, t, &format!("{f}.expect.timeout"), "\"5s\" or \"0ms\" (none)"))
                .transpose()?,
        }),
    };
    Ok(CalloutAnswer {
        expect,
        unused: src.at(
            raw,
            f.to_owned(),
            "no HTTP callout is pending for this answer (the plugin made none, or earlier answers took them all)",
        ),
        cluster: c.cluster.clone(),
        fail: c.fail,
        timeout,
        headers,
        body: c.body.clone().unwrap_or_default().into_bytes(),
        trailers,
    })
}

fn stream_expect(src: &Source<'_>, e: &RawStreamExpect, field: &str) -> Result<StreamExpect, ScenarioError> {
    let local_response = match &e.local_response {
        Some(l) => Some(LocalExpect {
            status: l.status,
            details: l.details.clone(),
            body: l.body.as_ref().map(|b| regex(src, b, &format!("{field}.expect.local_response.body"))).transpose()?,
            reason: l.reason.clone(),
        }),
        None => None,
    };
    let ended = named_in(src, e.ended.as_deref(), &format!("{field}.expect.ended"), &Ended::NAMES)?;
    let finished_callouts = match &e.finished_callouts {
        None => None,
        Some(list) => Some(
            list.iter()
                .enumerate()
                .map(|(i, f)| {
                    let at = format!("{field}.expect.finished_callouts[{}]", i + 1);
                    let f = f.get_ref();
                    let ended = named_in(src, Some(&*f.ended), &format!("{at}.ended"), &CALLOUT_ENDS)?;
                    let grpc = named_in(src, f.kind.as_deref(), &format!("{at}.kind"), &CALLOUT_KINDS)?;
                    Ok(FinishedExpect {
                        grpc: grpc.unwrap_or(false),
                        ended: ended.unwrap_or(crate::CalloutEnd::Answered),
                        cluster: f.cluster.clone(),
                    })
                })
                .collect::<Result<_, ScenarioError>>()?,
        ),
    };
    let forwarded = match &e.forwarded {
        None => None,
        Some(v) => Some(match v.get_ref() {
            toml::Value::Boolean(false) => Forwarded::Nothing,
            toml::Value::Boolean(true) => Forwarded::Headers,
            toml::Value::String(s) if s == "headers" => Forwarded::Headers,
            toml::Value::String(s) if s == "whole" => Forwarded::Whole,
            other => {
                return Err(src.at(
                    v,
                    format!("{field}.expect.forwarded"),
                    format!("expected true or \"headers\" (the request headers reached the upstream), \"whole\" (the whole request did) or false, found {other}"),
                ));
            }
        }),
    };
    Ok(StreamExpect {
        forwarded,
        upstream_headers: header_expect(src, &e.upstream_headers, &format!("{field}.expect.upstream_headers"))?,
        client_headers: header_expect(src, &e.client_headers, &format!("{field}.expect.client_headers"))?,
        upstream_body: e.upstream_body.clone(),
        client_body: e.client_body.clone(),
        upstream_trailers: header_expect(src, &e.upstream_trailers, &format!("{field}.expect.upstream_trailers"))?,
        client_trailers: header_expect(src, &e.client_trailers, &format!("{field}.expect.client_trailers"))?,
        ended,
        finished_callouts,
        local_response,
        logs: logs(src, &e.logs, &format!("{field}.expect.logs"))?,
        exact_logs: e.exact_logs.as_ref().map(|l| logs(src, l, &format!("{field}.expect.exact_logs"))).transpose()?,
        tick_period: e
            .tick_period
            .as_ref()
            .map(|t| duration(src, t, &format!("{field}.expect.tick_period"), "\"1s\" or \"0ms\" (none)"))
            .transpose()?,
        deleted: e.deleted,
        on_done: e.on_done,
        callouts: e.callouts,
        route: e.route.clone(),
        upstream_cluster: e.upstream_cluster.clone(),
        tcp: e.tcp.as_ref().map(|t| tcp_expect(src, t, &format!("{field}.expect.tcp"))).transpose()?,
        grpc_calls: e.grpc_calls,
        properties: {
            let mut read = Vec::new();
            if let Some(table) = &e.properties {
                flatten(
                    src,
                    table.span(),
                    table.get_ref(),
                    &mut Vec::new(),
                    &mut read,
                    &format!("{field}.expect.properties"),
                )?;
            }
            let absent = e.absent_properties.iter().map(|p| (dotted(p.get_ref()), None));
            read.into_iter().map(|(p, v)| (p, Some(v))).chain(absent).collect()
        },
        host_calls: e.host_calls.clone(),
        max_fuel: e.max_fuel,
        local_reply_from: e.local_reply_from.as_ref().map(|p| p.get_ref().clone()),
        worker: e.worker,
        reload_accepted: match &e.reload {
            None => None,
            Some(r) => match r.get_ref().as_str() {
                "accepted" => Some(true),
                "rejected" => Some(false),
                other => {
                    return Err(src.at(
                        r,
                        format!("{field}.expect.reload"),
                        format!("expected one of \"accepted\", \"rejected\", found {other:?}"),
                    ));
                }
            },
        },
        properties_set: match &e.properties_set {
            Some(table) => {
                let mut set = Vec::new();
                let field = format!("{field}.expect.properties_set");
                flatten(src, table.span(), table.get_ref(), &mut Vec::new(), &mut set, &field)?;
                Some(set)
            }
            None => None,
        },
        actions: match &e.actions {
            Some(actions) => actions_expect(src, actions, &format!("{field}.expect.actions"))?,
            None => Vec::new(),
        },
        usage: match &e.usage {
            Some(table) => usage_expect(src, table, &format!("{field}.expect.usage"))?,
            None => Vec::new(),
        },
    })
}

/// A dotted property path as its segments.
fn dotted(path: &str) -> Vec<String> {
    path.split('.').map(str::to_owned).collect()
}

fn expect(src: &Source<'_>, raw: &RawExpect) -> Result<Expect, ScenarioError> {
    Ok(Expect {
        logs: logs(src, &raw.logs, "expect.logs")?,
        exact_logs: raw.exact_logs.as_ref().map(|l| logs(src, l, "expect.exact_logs")).transpose()?,
        histograms: match raw.histograms.as_deref() {
            Some(table) => table
                .get_ref()
                .iter()
                .map(|(k, v)| {
                    let bad = |message: String| src.at_key(table, k, format!("expect.histograms.\"{k}\""), message);
                    let selector = Selector::parse(k).map_err(|e| bad(format!("not a metric or series: {e}")))?;
                    let values = v.as_array().and_then(|items| {
                        items
                            .iter()
                            .map(|i| i.as_integer().and_then(|n| u64::try_from(n).ok()))
                            .collect::<Option<Vec<u64>>>()
                    });
                    values
                        .map(|v| (selector, v))
                        .ok_or_else(|| bad("expected a list of sample values (integers, 0 or more)".into()))
                })
                .collect::<Result<_, _>>()?,
            None => Vec::new(),
        },
        no_logs: raw.no_logs.iter().map(|r| regex(src, r, "expect.no_logs")).collect::<Result<_, _>>()?,
        metrics: match raw.metrics.as_deref() {
            Some(table) => table
                .get_ref()
                .iter()
                .map(|(k, v)| {
                    let bad = |message: String| src.at_key(table, k, format!("expect.metrics.\"{k}\""), message);
                    let selector = Selector::parse(k).map_err(|e| bad(format!("not a metric or series: {e}")))?;
                    match v {
                        toml::Value::Integer(n) => Ok((selector, *n)),
                        other => Err(bad(format!(
                            "expected an integer (a counter or gauge value, or a histogram's sample count), found {}",
                            other.type_str()
                        ))),
                    }
                })
                .collect::<Result<_, _>>()?,
            None => Vec::new(),
        },
        shared_data: raw
            .shared_data
            .iter()
            .enumerate()
            .map(|(i, spanned)| {
                let d = spanned.get_ref();
                if d.absent && (d.value.is_some() || d.cas.is_some()) {
                    return Err(src.at(
                        spanned,
                        format!("expect.shared_data[{}].absent", i + 1),
                        "an absent key has no `value` or `cas`",
                    ));
                }
                Ok(SharedDataExpect {
                    vm_id: d.vm_id.clone(),
                    key: d.key.clone(),
                    value: d.value.clone(),
                    cas: d.cas,
                    absent: d.absent,
                })
            })
            .collect::<Result<_, _>>()?,
        queues: raw
            .queues
            .iter()
            .map(|q| q.get_ref())
            .map(|q| QueueExpect { vm_id: q.vm_id.clone(), name: q.name.clone(), items: q.items.clone() })
            .collect(),
        filter_state: raw.filter_state.clone(),
        declared_properties: raw.declared_properties.clone(),
    })
}

/// `path` with each `dir/..` pair and each `.` left out, for reading
/// (`examples/router/../../target/x.wasm` is `target/x.wasm`); a `..` that
/// has no directory before it to cancel stays. Only for showing: through a
/// symbolic link, `dir/..` is not always `dir`'s parent.
pub(super) fn tidy(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.components().next_back(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// `expect.actions`: per callback, one action name (the last call) or a
/// list of them (every call).
fn actions_expect(
    src: &Source<'_>,
    raw: &super::raw::RawActions,
    field: &str,
) -> Result<Vec<(&'static str, ActionsExpect)>, ScenarioError> {
    let names = ActionExpect::names();
    let expected = names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ");
    let mut out = Vec::new();
    for (callback, value) in raw.each() {
        let Some(value) = value else { continue };
        let at = format!("{field}.{callback}");
        let one = |v: &toml::Value, at: &str| match v {
            toml::Value::String(s) => ActionExpect::parse(s)
                .ok_or_else(|| src.at(value, at.to_owned(), format!("expected one of {expected}, found {s:?}"))),
            other => Err(src.at(value, at.to_owned(), format!("expected an action name ({expected}), found {other}"))),
        };
        let want = match value.get_ref() {
            toml::Value::Array(list) => ActionsExpect::Each(
                list.iter().enumerate().map(|(i, v)| one(v, &format!("{at}[{}]", i + 1))).collect::<Result<_, _>>()?,
            ),
            v => ActionsExpect::Last(one(v, &at)?),
        };
        out.push((callback, want));
    }
    Ok(out)
}

/// `expect.usage`: fields of [`crate::Usage`] (read from the struct itself,
/// so the names cannot drift from it) and their values.
fn usage_expect(
    src: &Source<'_>,
    table: &Spanned<toml::Table>,
    field: &str,
) -> Result<Vec<(String, u64)>, ScenarioError> {
    let fields: Vec<String> = match serde_json::to_value(crate::Usage::default()) {
        Ok(serde_json::Value::Object(map)) => map.keys().cloned().collect(),
        _ => Vec::new(),
    };
    let mut out = Vec::new();
    for (key, value) in table.get_ref() {
        let at = format!("{field}.{key}");
        if !fields.contains(key) {
            let known = fields.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(", ");
            return Err(src.at_key(table, key, at, format!("no such field of Usage (its fields: {known})")));
        }
        match value {
            toml::Value::Integer(n) if *n >= 0 => out.push((key.clone(), *n as u64)),
            other => {
                return Err(src.at_key(
                    table,
                    key,
                    at,
                    format!("expected a count (an integer, 0 or more), found {other}"),
                ));
            }
        }
    }
    Ok(out)
}

/// A value chosen by name, or an error listing the names.
fn named<T>(
    src: &Source<'_>,
    value: Option<&Spanned<String>>,
    field: &str,
    parse: impl Fn(&str) -> Option<T>,
    names: &[&str],
) -> Result<Option<T>, ScenarioError> {
    let Some(value) = value else { return Ok(None) };
    parse(value.get_ref()).map(Some).ok_or_else(|| {
        let expected = names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ");
        src.error(
            Some(value.span()),
            Some(field.into()),
            format!("expected one of {expected}, found {:?}", value.get_ref()),
        )
    })
}

/// [`named`] over a name table (see [`super::model::by_name`]).
fn named_in<T: Copy>(
    src: &Source<'_>,
    value: Option<&Spanned<String>>,
    field: &str,
    table: &[(&str, T)],
) -> Result<Option<T>, ScenarioError> {
    let names: Vec<&str> = table.iter().map(|(n, _)| *n).collect();
    named(src, value, field, |n| super::model::by_name(table, n), &names)
}

fn config_bytes(src: &Source<'_>, value: Option<&Spanned<toml::Value>>, field: &str) -> Result<Vec<u8>, ScenarioError> {
    match value.map(|v| (v.span(), v.get_ref())) {
        None => Ok(Vec::new()),
        Some((_, toml::Value::String(s))) => Ok(s.clone().into_bytes()),
        Some((span, v @ toml::Value::Table(_))) => serde_json::to_vec(v)
            .map_err(|e| src.error(Some(span), Some(field.into()), format!("cannot write as JSON: {e}"))),
        Some((span, other)) => Err(src.error(
            Some(span),
            Some(field.into()),
            format!("expected a string (sent as is) or a table (sent as JSON), found {}", other.type_str()),
        )),
    }
}

fn string_table(
    src: &Source<'_>,
    table: Option<&Spanned<toml::Table>>,
    field: &str,
) -> Result<Vec<(String, String)>, ScenarioError> {
    let Some(table) = table else { return Ok(Vec::new()) };
    table
        .get_ref()
        .iter()
        .map(|(k, v)| match v {
            toml::Value::String(s) => Ok((k.clone(), s.clone())),
            other => Err(src.at_key(
                table,
                k,
                format!("{field}.{k}"),
                format!("expected a string, found {}", other.type_str()),
            )),
        })
        .collect()
}

/// Header tables: `name = "value"` or `name = ["v1", "v2"]` (repeated), in file order.
fn header_list(
    src: &Source<'_>,
    table: Option<&Spanned<toml::Table>>,
    field: &str,
) -> Result<Vec<(String, String)>, ScenarioError> {
    let Some(table) = table else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for (k, v) in table.get_ref() {
        if k.is_empty() || k.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control()) {
            return Err(src.at_key(
                table,
                k,
                format!("{field}.\"{k}\""),
                "a header name is not empty and has no spaces or control characters",
            ));
        }
        let bad = || {
            src.at_key(
                table,
                k,
                format!("{field}.\"{k}\""),
                format!("expected a string or a list of strings, found {}", v.type_str()),
            )
        };
        match v {
            toml::Value::String(s) => out.push((k.clone(), s.clone())),
            toml::Value::Array(items) => {
                for item in items {
                    out.push((k.clone(), item.as_str().ok_or_else(bad)?.to_owned()));
                }
            }
            _ => return Err(bad()),
        }
    }
    Ok(out)
}

fn message(src: &Source<'_>, raw: &RawMessage, response: bool, field: &str) -> Result<Message, ScenarioError> {
    let given = header_list(src, raw.headers.as_deref(), &format!("{field}.headers"))?;
    let has = |name: &str| given.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
    let mut pseudo: Vec<(String, String)> = Vec::new();
    let request_fields =
        [("method", &raw.method), ("path", &raw.path), ("authority", &raw.authority), ("scheme", &raw.scheme)];
    if response {
        if let Some((name, value)) = request_fields.iter().find_map(|(n, v)| Some((n, v.as_ref()?))) {
            return Err(src.at(
                value,
                format!("{field}.{name}"),
                "a response has `status`, not method/path/authority/scheme",
            ));
        }
        let code = raw.status.as_ref().map(|s| status(src, s, &format!("{field}.status"))).transpose()?;
        if !has(":status") {
            pseudo.push((":status".into(), code.unwrap_or(200).to_string()));
        }
    } else {
        if let Some(status) = &raw.status {
            return Err(src.at(status, format!("{field}.status"), "a request has no status (the response has)"));
        }
        let defaults = [("GET", ":method"), ("/", ":path"), ("example.com", ":authority"), ("https", ":scheme")];
        let fill = raw.defaults != Some(false);
        for ((_, value), (default, pseudo_name)) in request_fields.iter().zip(defaults) {
            if has(pseudo_name) {
                continue;
            }
            match value {
                Some(v) => pseudo.push((pseudo_name.into(), v.get_ref().clone())),
                None if fill => pseudo.push((pseudo_name.into(), default.into())),
                None => {}
            }
        }
    }
    let headers = HeaderMap::from_pairs(pseudo.into_iter().chain(given));
    let chunks = match raw.body.as_ref().map(|b| (b.span(), b.get_ref())) {
        None => Vec::new(),
        Some((_, toml::Value::String(s))) if s.is_empty() => Vec::new(),
        Some((_, toml::Value::String(s))) => vec![s.clone().into_bytes()],
        Some((span, toml::Value::Array(items))) => {
            items.iter().map(|i| i.as_str().map(|s| s.as_bytes().to_vec())).collect::<Option<_>>().ok_or_else(|| {
                src.error(Some(span), Some(format!("{field}.body")), "expected a list of strings (body chunks)")
            })?
        }
        Some((span, other)) => {
            return Err(src.error(
                Some(span),
                Some(format!("{field}.body")),
                format!("expected a string or a list of strings (chunks), found {}", other.type_str()),
            ));
        }
    };
    let trailers = match &raw.trailers {
        Some(_) => {
            Some(HeaderMap::from_pairs(header_list(src, raw.trailers.as_deref(), &format!("{field}.trailers"))?))
        }
        None => None,
    };
    let protocol = match &raw.protocol {
        Some(p) if response => {
            return Err(src.at(p, format!("{field}.protocol"), "the protocol is the request's (request.protocol)"));
        }
        Some(p) => Some(p.get_ref().clone()),
        None => None,
    };
    Ok(Message { headers, chunks, trailers, protocol })
}

fn header_expect(src: &Source<'_>, raw: &RawHeaderExpect, field: &str) -> Result<HeaderExpect, ScenarioError> {
    let mut equals: Vec<(String, Vec<String>)> = Vec::new();
    for (k, v) in header_list(src, raw.equals.as_deref(), &format!("{field}.equals"))? {
        match equals.iter_mut().find(|(name, _)| *name == k) {
            Some((_, values)) => values.push(v),
            None => equals.push((k, vec![v])),
        }
    }
    let mut matches = Vec::new();
    for (k, v) in string_table(src, raw.matches.as_deref(), &format!("{field}.matches"))? {
        let span = raw.matches.as_ref().map(|m| m.span());
        let re = Regex::new(&v).map_err(|e| {
            src.error(span, Some(format!("{field}.matches.\"{k}\"")), format!("not a valid regex: {e}"))
        })?;
        matches.push((k, re));
    }
    let exactly = match &raw.exactly {
        Some(list) => Some(
            list.get_ref()
                .iter()
                .map(|pair| match pair.as_slice() {
                    [name, value] => Ok((name.clone(), value.clone())),
                    _ => Err(src.at(list, format!("{field}.exactly"), "each entry is a pair [\"name\", \"value\"]")),
                })
                .collect::<Result<_, _>>()?,
        ),
        None => None,
    };
    Ok(HeaderExpect { has: raw.has.clone(), absent: raw.absent.clone(), equals, matches, exactly })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_failure_fields_are_read() {
        let text = r#"
plugin = "p.wasm"
profile = "kong"
strict = true
fail_policy = "open"
rebuild = { max = 2, interval = "1m" }
[[stream]]
hold = true
request = { path = "/a" }
[[stream.callouts]]
timeout = true
[expect]
rebuilds = 1
vm_failed = true
"#;
        let s = parse(Path::new("/x/s.toml"), text).unwrap();
        assert_eq!((s.profile, s.strict, s.plugins[0].fail_policy), (HostProfile::Kong, true, Some(FailPolicy::Open)));
        assert_eq!(s.plugins[0].rebuild, Some(Rebuild::new(2, std::time::Duration::from_secs(60))));
        assert!(s.steps[0].hold && s.steps[0].callouts[0].timeout && !s.steps[0].callouts[0].fail);
        assert_eq!((s.plugins[0].expect.rebuilds, s.plugins[0].expect.vm_failed), (Some(1), Some(true)));

        let defaults = parse(Path::new("s.toml"), "plugin = \"p.wasm\"").unwrap();
        assert_eq!(
            (defaults.profile, defaults.strict, defaults.plugins[0].fail_policy),
            (HostProfile::Envoy133, false, None)
        );
        assert_eq!(defaults.plugins[0].rebuild, None);
    }

    #[test]
    fn the_readme_example_is_a_valid_scenario() {
        let readme = include_str!("../../README.md");
        let example = readme.split("```toml\n").nth(1).and_then(|rest| rest.split("```").next()).unwrap();
        let s = parse(Path::new("README.md"), example).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (s.plugins[0].fail_policy, s.plugins[0].rebuild),
            (Some(FailPolicy::Closed), Some(Rebuild::default()))
        );
        assert_eq!(s.steps[0].callouts.len(), 1);
        assert_eq!(s.routes.virtual_hosts[0].routes.len(), 2);
        assert_eq!((s.steps[0].expect.route.as_deref(), s.expect.metrics.len()), (Some("default"), 3));
    }

    #[test]
    fn the_readme_several_plugins_example_is_a_valid_scenario() {
        let readme = include_str!("../../README.md");
        let example = readme.split("```toml\n").nth(2).and_then(|rest| rest.split("```").next()).unwrap();
        let s = parse(Path::new("README.md"), example).unwrap_or_else(|e| panic!("{e}"));
        let ids: Vec<&str> = s.plugins.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["producer", "consumer"]);
        assert_eq!(s.plugins[1].expect.vm_failed, Some(false));
        assert_eq!(
            (s.steps[0].plugin, s.steps[0].until, s.steps[1].resume.as_deref()),
            (1, Some(Part::RequestHeaders), Some("A"))
        );
        let request = s.steps[0].request.as_ref().unwrap();
        assert_eq!(request.headers.get_str(":path"), None, "defaults = false leaves :path out");
        assert_eq!(s.steps[0].expect.forwarded, Some(Forwarded::Whole));
        assert_eq!(s.expect.shared_data[0].cas, Some(7));
    }

    #[test]
    fn the_plugin_path_is_resolved_against_the_scenario_and_shown_tidied() {
        let plugin = |file: &str, plugin: &str| {
            parse(Path::new(file), &format!("plugin = {plugin:?}")).unwrap().plugins[0].plugin.clone()
        };
        let router = plugin("examples/router/scenario.toml", "../../target/r.wasm");
        assert_eq!(
            (router.as_path(), tidy(&router)),
            (Path::new("examples/router/../../target/r.wasm"), "target/r.wasm".into())
        );
        assert_eq!(tidy(&plugin("/w/a/s.toml", "./b/../../c.wasm")), Path::new("/w/c.wasm"));
        assert_eq!(tidy(&plugin("s.toml", "../up.wasm")), Path::new("../up.wasm"));
        assert_eq!(plugin("a/s.toml", "/abs/p.wasm"), Path::new("/abs/p.wasm"));
    }

    #[test]
    fn a_protocol_is_the_requests() {
        let text = |m: &str| format!("plugin = \"p.wasm\"\n[[stream]]\nrequest = {{ path = \"/\" }}\nresponse = {m}\n");
        let err = parse(Path::new("s.toml"), &text("{ protocol = \"HTTP/2\" }")).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("stream[1].response.protocol"), "{err}");
        let request = "plugin = \"p.wasm\"\n[[stream]]\nrequest = { path = \"/\", protocol = \"HTTP/2\" }\n";
        let s = parse(Path::new("s.toml"), request).unwrap();
        assert_eq!(s.steps[0].request.as_ref().unwrap().protocol.as_deref(), Some("HTTP/2"));
    }

    #[test]
    fn a_held_step_needs_a_request() {
        let err = parse(Path::new("s.toml"), "plugin = \"p.wasm\"\n[[stream]]\nhold = true\n").unwrap_err();
        assert_eq!(err.field.as_deref(), Some("stream[1].hold"));
        assert!(err.message.contains("needs a request"), "{err}");
    }
}
