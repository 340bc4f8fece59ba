//! Field parsers that the scenario file's sections share (`format` for
//! steps and plugins, `mesh` for mesh plugins, `clock` for the clock):
//! durations, regexes, what `[expect]` says of every plugin, property
//! tables. They use only the raw model, the parsed model and the source.

use std::ops::Range;
use std::time::Duration;

use regex::Regex;
use toml::Spanned;

use super::model::PluginExpect;
use super::raw::RawExpect;
use super::source::{ScenarioError, Source};
use crate::state::properties::Value;

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

pub(super) fn duration(
    src: &Source<'_>,
    text: &Spanned<String>,
    field: &str,
    example: &str,
) -> Result<Duration, ScenarioError> {
    parse_duration(text.get_ref()).ok_or_else(|| {
        src.at(text, field.to_owned(), format!("expected a duration such as {example}, found {:?}", text.get_ref()))
    })
}

pub(super) fn regex(src: &Source<'_>, text: &Spanned<String>, field: &str) -> Result<Regex, ScenarioError> {
    Regex::new(text.get_ref()).map_err(|e| {
        let detail = e.to_string();
        let last = detail.lines().last().unwrap_or("").trim().to_owned();
        src.error(Some(text.span()), Some(field.into()), format!("not a valid regex: {last}"))
    })
}

/// What the top of `[expect]` says of every plugin's VM.
pub(super) fn plugin_expect(src: &Source<'_>, expect: &RawExpect) -> Result<PluginExpect, ScenarioError> {
    Ok(PluginExpect {
        start_fails: expect.start_fails,
        start_error: expect.start_error.as_ref().map(|r| regex(src, r, "expect.start_error")).transpose()?,
        rebuilds: expect.rebuilds,
        vm_failed: expect.vm_failed,
    })
}

pub(super) fn property_value(value: &toml::Value) -> Option<Value> {
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

pub(super) fn flatten(
    src: &Source<'_>,
    span: Range<usize>,
    table: &toml::Table,
    path: &mut Vec<String>,
    out: &mut Vec<(Vec<String>, Value)>,
    field: &str,
) -> Result<(), ScenarioError> {
    for (key, value) in table {
        path.push(key.clone());
        match value {
            toml::Value::Table(t) => flatten(src, span.clone(), t, path, out, field)?,
            v => {
                let value = property_value(v).ok_or_else(|| {
                    src.error(
                        Some(span.clone()),
                        Some(format!("{field}.{}", path.join("."))),
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
