//! The scenario file: its TOML shape (deserialized with spans) and the
//! checks that turn it into a [`Scenario`] ready to run. Every error names
//! the file, line, column and field.

use std::ops::Range;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use regex::Regex;
use toml::Spanned;

use super::raw::{RawHeaderExpect, RawMessage, RawScenario};
use super::routes::route_table;
pub use super::source::ScenarioError;
use super::source::Source;
use crate::failure::{FailPolicy, Rebuild};
use crate::profile::HostProfile;
use crate::report::prometheus::Selector;
use crate::state::headers::HeaderMap;
use crate::state::properties::Value;

pub use super::model::{CalloutAnswer, Expect, HeaderExpect, LocalExpect, Message, Scenario, Step, StreamExpect};

/// Parses a duration: an integer followed by `ms`, `s`, `m` or `h`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = text.split_at(split);
    let n: u64 = n.parse().ok()?;
    match unit.trim() {
        "ms" => Some(Duration::from_millis(n)),
        "s" => Some(Duration::from_secs(n)),
        "m" => Some(Duration::from_secs(n.checked_mul(60)?)),
        "h" => Some(Duration::from_secs(n.checked_mul(3600)?)),
        _ => None,
    }
}

/// Reads and checks a scenario file.
pub fn load(file: &Path) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(file).map_err(|e| ScenarioError {
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
    let raw: RawScenario = toml::from_str(text).map_err(|e| src.error(e.span(), None, e.message().trim()))?;
    let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let plugin_path = Path::new(raw.plugin.get_ref());
    if raw.plugin.get_ref().trim().is_empty() {
        return Err(src.error(Some(raw.plugin.span()), Some("plugin".into()), "the plugin path is empty"));
    }
    let plugin = if plugin_path.is_absolute() { plugin_path.to_path_buf() } else { dir.join(plugin_path) };

    let configuration = config_bytes(&src, raw.configuration.as_ref(), "configuration")?;
    let vm_configuration = config_bytes(&src, raw.vm_configuration.as_ref(), "vm_configuration")?;
    let mut properties = Vec::new();
    if let Some(table) = &raw.properties {
        flatten(&src, table.span(), table.get_ref(), &mut Vec::new(), &mut properties)?;
    }
    let environment = string_table(&src, raw.environment.as_ref(), "environment")?;
    let foreign_functions = string_table(&src, raw.foreign_functions.as_ref(), "foreign_functions")?
        .into_iter()
        .map(|(k, v)| (k, v.into_bytes()))
        .collect();

    let mut steps = Vec::new();
    for (i, step) in raw.stream.into_iter().enumerate() {
        let field = format!("stream[{}]", i + 1);
        let advance = match &step.advance {
            Some(a) => Some(parse_duration(a.get_ref()).ok_or_else(|| {
                src.error(
                    Some(a.span()),
                    Some(format!("{field}.advance")),
                    format!("expected a duration such as \"250ms\", \"5s\", \"2m\", found {:?}", a.get_ref()),
                )
            })?),
            None => None,
        };
        let request = step
            .request
            .as_ref()
            .map(|m| message(&src, m.get_ref(), false, &format!("{field}.request")))
            .transpose()?;
        if let (None, Some(response)) = (&request, &step.response) {
            return Err(src.at(
                response,
                format!("{field}.response"),
                "a response needs a request in the same [[stream]]",
            ));
        }
        let hold = step.hold.as_ref().is_some_and(|h| *h.get_ref());
        if let (None, Some(h)) = (&request, step.hold.as_ref().filter(|_| hold)) {
            return Err(src.at(h, format!("{field}.hold"), "`hold` keeps a stream open: it needs a request"));
        }
        let response = step
            .response
            .as_ref()
            .map(|m| message(&src, m.get_ref(), true, &format!("{field}.response")))
            .transpose()?;
        let mut callouts = Vec::new();
        for (j, c) in step.callouts.iter().enumerate() {
            let f = format!("{field}.callouts[{}]", j + 1);
            let mut headers = HeaderMap::from_pairs([(":status", c.status.unwrap_or(200).to_string())]);
            for (k, v) in header_list(&src, c.headers.as_ref(), &format!("{f}.headers"))? {
                headers.add(k.as_bytes(), v.as_bytes());
            }
            let trailers = HeaderMap::from_pairs(header_list(&src, c.trailers.as_ref(), &format!("{f}.trailers"))?);
            let timeout = c.timeout.as_ref().is_some_and(|t| *t.get_ref());
            if let Some(t) = c.timeout.as_ref().filter(|_| timeout) {
                let answered = c.status.is_some() || c.headers.is_some() || c.body.is_some() || c.trailers.is_some();
                if c.fail || answered {
                    return Err(src.error(
                        Some(t.span()),
                        Some(format!("{f}.timeout")),
                        "a callout that times out has no `fail`, `status`, `headers`, `body` or `trailers`",
                    ));
                }
            }
            callouts.push(CalloutAnswer {
                cluster: c.cluster.clone(),
                fail: c.fail,
                timeout,
                headers,
                body: c.body.clone().unwrap_or_default().into_bytes(),
                trailers,
            });
        }
        let e = &step.expect;
        let local_response = match &e.local_response {
            Some(l) => Some(LocalExpect {
                status: l.status,
                details: l.details.clone(),
                body: l
                    .body
                    .as_ref()
                    .map(|b| regex(&src, b, &format!("{field}.expect.local_response.body")))
                    .transpose()?,
            }),
            None => None,
        };
        let expect = StreamExpect {
            forwarded: e.forwarded,
            upstream_headers: header_expect(&src, &e.upstream_headers, &format!("{field}.expect.upstream_headers"))?,
            client_headers: header_expect(&src, &e.client_headers, &format!("{field}.expect.client_headers"))?,
            upstream_body: e.upstream_body.clone(),
            client_body: e.client_body.clone(),
            local_response,
            logs: e.logs.iter().map(|r| regex(&src, r, &format!("{field}.expect.logs"))).collect::<Result<_, _>>()?,
            callouts: e.callouts,
            route: e.route.clone(),
            upstream_cluster: e.upstream_cluster.clone(),
        };
        let name = step.name.clone().unwrap_or_else(|| match &request {
            Some(r) => {
                format!("{} {}", r.headers.get_str(":method").unwrap_or("?"), r.headers.get_str(":path").unwrap_or("?"))
            }
            None => "clock".into(),
        });
        steps.push(Step { name, advance, ticks: step.ticks, request, callouts, hold, response, expect });
    }

    let expect = Expect {
        logs: raw.expect.logs.iter().map(|r| regex(&src, r, "expect.logs")).collect::<Result<_, _>>()?,
        no_logs: raw.expect.no_logs.iter().map(|r| regex(&src, r, "expect.no_logs")).collect::<Result<_, _>>()?,
        metrics: match &raw.expect.metrics {
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
        rebuilds: raw.expect.rebuilds,
        vm_failed: raw.expect.vm_failed,
    };
    let profile =
        named(&src, raw.profile.as_ref(), "profile", HostProfile::from_name, &HostProfile::NAMES.map(|p| p.0))?;
    let fail_policy = named(&src, raw.fail_policy.as_ref(), "fail_policy", FailPolicy::from_name, &["closed", "open"])?;
    let routes = route_table(&src, &raw.virtual_hosts)?;
    let rebuild = match &raw.rebuild {
        Some(r) => {
            let interval = parse_duration(r.interval.get_ref()).ok_or_else(|| {
                src.error(
                    Some(r.interval.span()),
                    Some("rebuild.interval".into()),
                    format!("expected a duration such as \"30s\" or \"1m\", found {:?}", r.interval.get_ref()),
                )
            })?;
            Some(Rebuild::new(r.max, interval))
        }
        None => None,
    };

    Ok(Scenario {
        file: file.to_path_buf(),
        plugin,
        name: raw.name,
        root_id: raw.root_id,
        vm_id: raw.vm_id,
        configuration,
        vm_configuration,
        properties,
        environment,
        foreign_functions,
        clusters: raw.clusters,
        routes,
        profile: profile.unwrap_or_default(),
        strict: raw.strict,
        fail_policy,
        rebuild,
        steps,
        expect,
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

fn property_value(value: &toml::Value) -> Option<Value> {
    Some(match value {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::Int(*i),
        toml::Value::Float(f) => Value::Double(*f),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Array(a) => Value::List(a.iter().map(property_value).collect::<Option<_>>()?),
        toml::Value::Table(t) => {
            Value::Map(t.iter().map(|(k, v)| Some((k.clone(), property_value(v)?))).collect::<Option<_>>()?)
        }
        toml::Value::Datetime(_) => return None,
    })
}

fn flatten(
    src: &Source<'_>,
    span: Range<usize>,
    table: &toml::Table,
    path: &mut Vec<String>,
    out: &mut Vec<(Vec<String>, Value)>,
) -> Result<(), ScenarioError> {
    for (key, value) in table {
        path.push(key.clone());
        match value {
            toml::Value::Table(t) => flatten(src, span.clone(), t, path, out)?,
            v => {
                let value = property_value(v).ok_or_else(|| {
                    src.error(
                        Some(span.clone()),
                        Some(format!("properties.{}", path.join("."))),
                        "dates are not property values; use a string or an integer",
                    )
                })?;
                out.push((path.clone(), value));
            }
        }
        path.pop();
    }
    Ok(())
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
    let given = header_list(src, raw.headers.as_ref(), &format!("{field}.headers"))?;
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
        if !has(":status") {
            pseudo.push((":status".into(), raw.status.as_ref().map_or(200, |s| *s.get_ref()).to_string()));
        }
    } else {
        if let Some(status) = &raw.status {
            return Err(src.at(status, format!("{field}.status"), "a request has no status (the response has)"));
        }
        let defaults = [("GET", ":method"), ("/", ":path"), ("example.com", ":authority"), ("https", ":scheme")];
        for ((_, value), (default, pseudo_name)) in request_fields.iter().zip(defaults) {
            if !has(pseudo_name) {
                pseudo.push((pseudo_name.into(), value.as_ref().map_or(default, |v| v.get_ref()).into()));
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
        Some(_) => Some(HeaderMap::from_pairs(header_list(src, raw.trailers.as_ref(), &format!("{field}.trailers"))?)),
        None => None,
    };
    Ok(Message { headers, chunks, trailers })
}

fn regex(src: &Source<'_>, text: &Spanned<String>, field: &str) -> Result<Regex, ScenarioError> {
    Regex::new(text.get_ref()).map_err(|e| {
        let detail = e.to_string();
        let last = detail.lines().last().unwrap_or("").trim().to_owned();
        src.error(Some(text.span()), Some(field.into()), format!("not a valid regex: {last}"))
    })
}

fn header_expect(src: &Source<'_>, raw: &RawHeaderExpect, field: &str) -> Result<HeaderExpect, ScenarioError> {
    let equals = string_table(src, raw.equals.as_ref(), &format!("{field}.equals"))?;
    let mut matches = Vec::new();
    for (k, v) in string_table(src, raw.matches.as_ref(), &format!("{field}.matches"))? {
        let span = raw.matches.as_ref().map(|m| m.span());
        let re = Regex::new(&v).map_err(|e| {
            src.error(span, Some(format!("{field}.matches.\"{k}\"")), format!("not a valid regex: {e}"))
        })?;
        matches.push((k, re));
    }
    Ok(HeaderExpect { has: raw.has.clone(), absent: raw.absent.clone(), equals, matches })
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
        assert_eq!((s.profile, s.strict, s.fail_policy), (HostProfile::Kong, true, Some(FailPolicy::Open)));
        assert_eq!(s.rebuild, Some(Rebuild::new(2, Duration::from_secs(60))));
        assert!(s.steps[0].hold && s.steps[0].callouts[0].timeout && !s.steps[0].callouts[0].fail);
        assert_eq!((s.expect.rebuilds, s.expect.vm_failed), (Some(1), Some(true)));

        let defaults = parse(Path::new("s.toml"), "plugin = \"p.wasm\"").unwrap();
        assert_eq!((defaults.profile, defaults.strict, defaults.fail_policy), (HostProfile::Envoy133, false, None));
        assert_eq!(defaults.rebuild, None);
    }

    #[test]
    fn the_readme_example_is_a_valid_scenario() {
        let readme = include_str!("../../README.md");
        let example = readme.split("```toml\n").nth(1).and_then(|rest| rest.split("```").next()).unwrap();
        let s = parse(Path::new("README.md"), example).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((s.fail_policy, s.rebuild), (Some(FailPolicy::Closed), Some(Rebuild::default())));
        assert_eq!(s.steps[0].callouts.len(), 1);
        assert_eq!(s.routes.virtual_hosts[0].routes.len(), 2);
        assert_eq!((s.steps[0].expect.route.as_deref(), s.expect.metrics.len()), (Some("default"), 3));
    }

    #[test]
    fn the_plugin_path_is_resolved_against_the_scenario_and_shown_tidied() {
        let plugin = |file: &str, plugin: &str| parse(Path::new(file), &format!("plugin = {plugin:?}")).unwrap().plugin;
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
    fn a_held_step_needs_a_request() {
        let err = parse(Path::new("s.toml"), "plugin = \"p.wasm\"\n[[stream]]\nhold = true\n").unwrap_err();
        assert_eq!(err.field.as_deref(), Some("stream[1].hold"));
        assert!(err.message.contains("needs a request"), "{err}");
    }
}
