//! The scenario file: its TOML shape (deserialized with spans) and the
//! checks that turn it into a [`Scenario`] ready to run. Every error names
//! the file, line, column and field.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use regex::Regex;
use serde::Deserialize;
use toml::Spanned;

use crate::state::headers::HeaderMap;
use crate::state::properties::Value;

/// A scenario file that could not be read or is not valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    /// The scenario file.
    pub file: PathBuf,
    /// 1-based line and column, when the error has a place in the file.
    pub position: Option<(usize, usize)>,
    /// The field (a dotted path such as `stream[2].request.headers`), when known.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
    /// The offending line of the file.
    pub line_text: Option<String>,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some((line, column)) = self.position {
            write!(f, ":{line}:{column}")?;
        }
        write!(f, ": ")?;
        if let Some(field) = &self.field {
            write!(f, "field `{field}`: ")?;
        }
        write!(f, "{}", self.message)?;
        if let (Some(text), Some((line, column))) = (&self.line_text, self.position) {
            let gutter = line.to_string().len();
            write!(f, "\n {:gutter$} |\n {line} | {text}\n {:gutter$} | {:>column$}", "", "", "^")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioError {}

struct Source<'a> {
    file: &'a Path,
    text: &'a str,
}

impl Source<'_> {
    fn error(&self, span: Option<Range<usize>>, field: Option<String>, message: impl Into<String>) -> ScenarioError {
        let message = message.into();
        let (position, line_text) = match span {
            Some(span) => {
                let start = span.start.min(self.text.len());
                let before = &self.text[..start];
                let line = before.matches('\n').count() + 1;
                let line_start = before.rfind('\n').map_or(0, |i| i + 1);
                let column = self.text[line_start..start].chars().count() + 1;
                let text = self.text[line_start..].lines().next().unwrap_or("").to_owned();
                (Some((line, column)), Some(text))
            }
            None => (None, None),
        };
        let field = field.or_else(|| position.and_then(|(line, _)| self.field_at(line, &message)));
        ScenarioError { file: self.file.to_path_buf(), position, field, message, line_text }
    }

    /// The field a TOML error is about: the key named in the message
    /// (`unknown field`, `missing field`) or on the error's line, under the
    /// nearest table header above it.
    fn field_at(&self, line: usize, message: &str) -> Option<String> {
        let lines: Vec<&str> = self.text.lines().collect();
        let mut table = String::new();
        let mut counts: Vec<(String, usize)> = Vec::new();
        for text in lines.iter().take(line) {
            let t = text.trim();
            if let Some(name) = t.strip_prefix("[[").and_then(|t| t.split("]]").next()) {
                let name = name.trim().to_owned();
                let n = match counts.iter_mut().find(|(k, _)| *k == name) {
                    Some((_, n)) => {
                        *n += 1;
                        *n
                    }
                    None => {
                        counts.push((name.clone(), 1));
                        1
                    }
                };
                table = format!("{name}[{n}]");
            } else if let Some(name) = t.strip_prefix('[').and_then(|t| t.split(']').next()) {
                let name = name.trim();
                // `[stream.expect]` after `[[stream]]`: a sub-table of the last entry.
                table = match counts.iter().find(|(k, _)| name.starts_with(&format!("{k}."))) {
                    Some((k, n)) => format!("{k}[{n}]{}", &name[k.len()..]),
                    None => name.to_owned(),
                };
            }
        }
        let named = ["unknown field `", "missing field `"]
            .iter()
            .find_map(|p| message.split(p).nth(1).and_then(|r| r.split('`').next()).map(str::to_owned));
        let key = named.or_else(|| {
            let text = lines.get(line.checked_sub(1)?)?;
            let (key, _) = text.split_once('=')?;
            let key = key.trim().trim_matches('"');
            (!key.is_empty() && !key.starts_with('[')).then(|| key.to_owned())
        });
        match (table.is_empty(), key) {
            (_, None) if table.is_empty() => None,
            (_, None) => Some(table),
            (true, Some(key)) => Some(key),
            (false, Some(key)) => Some(format!("{table}.{key}")),
        }
    }
}

// ---- the TOML shape ----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    plugin: Spanned<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    root_id: Option<String>,
    #[serde(default)]
    vm_id: Option<String>,
    #[serde(default)]
    configuration: Option<Spanned<toml::Value>>,
    #[serde(default)]
    vm_configuration: Option<Spanned<toml::Value>>,
    #[serde(default)]
    properties: Option<Spanned<toml::Table>>,
    #[serde(default)]
    environment: Option<Spanned<toml::Table>>,
    #[serde(default)]
    foreign_functions: Option<Spanned<toml::Table>>,
    #[serde(default)]
    clusters: Option<Vec<String>>,
    #[serde(default)]
    stream: Vec<RawStep>,
    #[serde(default)]
    expect: RawExpect,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    advance: Option<Spanned<String>>,
    #[serde(default)]
    ticks: u32,
    #[serde(default)]
    request: Option<RawMessage>,
    #[serde(default)]
    callouts: Vec<RawCallout>,
    #[serde(default)]
    response: Option<RawMessage>,
    #[serde(default)]
    expect: RawStreamExpect,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMessage {
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    authority: Option<String>,
    #[serde(default)]
    scheme: Option<String>,
    #[serde(default)]
    status: Option<u16>,
    #[serde(default)]
    headers: Option<Spanned<toml::Table>>,
    #[serde(default)]
    body: Option<Spanned<toml::Value>>,
    #[serde(default)]
    trailers: Option<Spanned<toml::Table>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCallout {
    #[serde(default)]
    cluster: Option<String>,
    #[serde(default)]
    fail: bool,
    #[serde(default)]
    status: Option<u16>,
    #[serde(default)]
    headers: Option<Spanned<toml::Table>>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    trailers: Option<Spanned<toml::Table>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeaderExpect {
    #[serde(default)]
    has: Vec<String>,
    #[serde(default)]
    absent: Vec<String>,
    #[serde(default)]
    equals: Option<Spanned<toml::Table>>,
    #[serde(default)]
    matches: Option<Spanned<toml::Table>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLocal {
    #[serde(default)]
    status: Option<u32>,
    #[serde(default)]
    details: Option<String>,
    #[serde(default)]
    body: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStreamExpect {
    #[serde(default)]
    forwarded: Option<bool>,
    #[serde(default)]
    upstream_headers: RawHeaderExpect,
    #[serde(default)]
    client_headers: RawHeaderExpect,
    #[serde(default)]
    upstream_body: Option<String>,
    #[serde(default)]
    client_body: Option<String>,
    #[serde(default)]
    local_response: Option<RawLocal>,
    #[serde(default)]
    logs: Vec<Spanned<String>>,
    #[serde(default)]
    callouts: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    #[serde(default)]
    logs: Vec<Spanned<String>>,
    #[serde(default)]
    no_logs: Vec<Spanned<String>>,
    #[serde(default)]
    metrics: Option<Spanned<toml::Table>>,
}

// ---- the checked scenario ----

/// A scenario ready to run.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The scenario file.
    pub file: PathBuf,
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
    /// Foreign functions the host offers: name and the bytes they return.
    pub foreign_functions: Vec<(String, Vec<u8>)>,
    /// Callout clusters the host knows (all when `None`).
    pub clusters: Option<Vec<String>>,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// Expectations on the whole run.
    pub expect: Expect,
}

/// One `[[stream]]` entry: clock and ticks first, then an HTTP stream.
#[derive(Debug, Clone)]
pub struct Step {
    /// A name for the trace and failure messages.
    pub name: String,
    /// Moves the virtual clock first (ticks that fall due fire).
    pub advance: Option<Duration>,
    /// `proxy_on_tick` calls after that.
    pub ticks: u32,
    /// The client's request, if the step runs a stream.
    pub request: Option<Message>,
    /// Answers to callouts, oldest pending callout first.
    pub callouts: Vec<CalloutAnswer>,
    /// The upstream's response.
    pub response: Option<Message>,
    /// Expectations on this step.
    pub expect: StreamExpect,
}

/// Headers, body chunks and trailers: the same message the library API sends.
pub type Message = crate::exchange::Exchange;

/// How to answer a callout.
#[derive(Debug, Clone)]
pub struct CalloutAnswer {
    /// The cluster the callout must have gone to.
    pub cluster: Option<String>,
    /// Fail it (reset) instead of answering.
    pub fail: bool,
    /// Response headers (`:status` included).
    pub headers: HeaderMap,
    /// Response body.
    pub body: Vec<u8>,
    /// Response trailers.
    pub trailers: HeaderMap,
}

/// Expectations on one side's headers.
#[derive(Debug, Clone, Default)]
pub struct HeaderExpect {
    /// Headers that must be present.
    pub has: Vec<String>,
    /// Headers that must be absent.
    pub absent: Vec<String>,
    /// Exact values.
    pub equals: Vec<(String, String)>,
    /// Values matching a regex.
    pub matches: Vec<(String, Regex)>,
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
}

/// Expectations on one step.
#[derive(Debug, Clone, Default)]
pub struct StreamExpect {
    /// Whether the upstream received the request headers.
    pub forwarded: Option<bool>,
    /// The request as the upstream received it.
    pub upstream_headers: HeaderExpect,
    /// The response as the client received it.
    pub client_headers: HeaderExpect,
    /// The upstream request body.
    pub upstream_body: Option<String>,
    /// The client's response body.
    pub client_body: Option<String>,
    /// A local response was sent, with these properties.
    pub local_response: Option<LocalExpect>,
    /// Regexes, each matching a log line of this step.
    pub logs: Vec<Regex>,
    /// How many callouts the plugin made in this step.
    pub callouts: Option<usize>,
}

/// Expectations on the whole run.
#[derive(Debug, Clone, Default)]
pub struct Expect {
    /// Regexes, each matching some log line.
    pub logs: Vec<Regex>,
    /// Regexes no log line may match.
    pub no_logs: Vec<Regex>,
    /// Metric (raw name or Prometheus series) and value (histograms: sample count).
    pub metrics: Vec<(String, i64)>,
}

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
        let request =
            step.request.as_ref().map(|m| message(&src, m, false, &format!("{field}.request"))).transpose()?;
        let response =
            step.response.as_ref().map(|m| message(&src, m, true, &format!("{field}.response"))).transpose()?;
        let mut callouts = Vec::new();
        for (j, c) in step.callouts.iter().enumerate() {
            let f = format!("{field}.callouts[{}]", j + 1);
            let mut headers = HeaderMap::from_pairs([(":status", c.status.unwrap_or(200).to_string())]);
            for (k, v) in header_list(&src, c.headers.as_ref(), &format!("{f}.headers"))? {
                headers.add(k.as_bytes(), v.as_bytes());
            }
            let trailers = HeaderMap::from_pairs(header_list(&src, c.trailers.as_ref(), &format!("{f}.trailers"))?);
            callouts.push(CalloutAnswer {
                cluster: c.cluster.clone(),
                fail: c.fail,
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
        };
        if request.is_none() && response.is_some() {
            return Err(src.error(
                None,
                Some(format!("{field}.response")),
                "a response needs a request in the same [[stream]]",
            ));
        }
        let name = step.name.clone().unwrap_or_else(|| match &request {
            Some(r) => {
                format!("{} {}", r.headers.get_str(":method").unwrap_or("?"), r.headers.get_str(":path").unwrap_or("?"))
            }
            None => "clock".into(),
        });
        steps.push(Step { name, advance, ticks: step.ticks, request, callouts, response, expect });
    }

    let expect = Expect {
        logs: raw.expect.logs.iter().map(|r| regex(&src, r, "expect.logs")).collect::<Result<_, _>>()?,
        no_logs: raw.expect.no_logs.iter().map(|r| regex(&src, r, "expect.no_logs")).collect::<Result<_, _>>()?,
        metrics: match &raw.expect.metrics {
            Some(table) => table
                .get_ref()
                .iter()
                .map(|(k, v)| match v {
                    toml::Value::Integer(n) => Ok((k.clone(), *n)),
                    other => Err(src.error(
                        Some(table.span()),
                        Some(format!("expect.metrics.\"{k}\"")),
                        format!(
                            "expected an integer (a counter or gauge value, or a histogram's sample count), found {}",
                            other.type_str()
                        ),
                    )),
                })
                .collect::<Result<_, _>>()?,
            None => Vec::new(),
        },
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
        steps,
        expect,
    })
}

fn config_bytes(src: &Source<'_>, value: Option<&Spanned<toml::Value>>, field: &str) -> Result<Vec<u8>, ScenarioError> {
    match value.map(|v| (v.span(), v.get_ref())) {
        None => Ok(Vec::new()),
        Some((_, toml::Value::String(s))) => Ok(s.clone().into_bytes()),
        Some((_, v @ toml::Value::Table(_))) => {
            serde_json::to_vec(v).map_err(|e| src.error(None, Some(field.into()), format!("cannot write as JSON: {e}")))
        }
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
            other => Err(src.error(
                Some(table.span()),
                Some(format!("{field}.{k}")),
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
            src.error(
                Some(table.span()),
                Some(format!("{field}.\"{k}\"")),
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
    if response {
        if raw.method.is_some() || raw.path.is_some() || raw.authority.is_some() || raw.scheme.is_some() {
            return Err(src.error(
                None,
                Some(field.into()),
                "a response has `status`, not method/path/authority/scheme",
            ));
        }
        if !has(":status") {
            pseudo.push((":status".into(), raw.status.unwrap_or(200).to_string()));
        }
    } else {
        if raw.status.is_some() {
            return Err(src.error(None, Some(format!("{field}.status")), "a request has no status"));
        }
        let defaults = [
            (":method", raw.method.as_deref().unwrap_or("GET")),
            (":path", raw.path.as_deref().unwrap_or("/")),
            (":authority", raw.authority.as_deref().unwrap_or("example.com")),
            (":scheme", raw.scheme.as_deref().unwrap_or("https")),
        ];
        for (k, v) in defaults {
            if !has(k) {
                pseudo.push((k.into(), v.into()));
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
