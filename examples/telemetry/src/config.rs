//! The plugin configuration, read from JSON by the `Config` derive. Values
//! that have rules of their own (the metric prefix, label names, property
//! paths, the list of extra dimensions) are newtypes whose `FromJson`
//! checks them, so a bad value is reported with its field path:
//!
//! ```text
//! plugin configuration: field "metric_prefix": expected letters, digits and '_', not starting with a digit, found "istio-mesh"
//! ```

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::ops::Deref;

use sluice::Config;
use sluice::json::{Error, FromJson, Value};

use crate::labels::STANDARD_DIMENSIONS;

/// The default bound of the peer cache (Istio's `max_peer_cache_size`).
pub const DEFAULT_MAX_PEER_CACHE_SIZE: u32 = 500;

/// The plugin configuration.
///
/// ```json
/// {"direction": "inbound", "metric_prefix": "istio",
///  "dimensions": [{"name": "route", "property": "route_name"}],
///  "max_peer_cache_size": 500}
/// ```
#[derive(Config, Debug)]
#[sluice(deny_unknown_fields)]
pub struct Settings {
    /// Which side of the workload this proxy filter sits on.
    pub direction: Direction,
    /// Prefix of every metric name (`istio` gives `istio_requests_total`).
    #[sluice(default = MetricPrefix(String::from("istio")))]
    pub metric_prefix: MetricPrefix,
    /// Extra dimensions, each read from a host property at the end of the stream.
    #[sluice(default)]
    pub dimensions: Dimensions,
    /// How many decoded peers to keep, by peer id (0: decode every time).
    #[sluice(default = DEFAULT_MAX_PEER_CACHE_SIZE)]
    pub max_peer_cache_size: u32,
}

/// The traffic direction, as in Istio's stats and metadata exchange filters.
#[derive(Config, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// The filter runs in an inbound listener: the peer is the downstream
    /// client, and this proxy reports as the destination.
    Inbound,
    /// The filter runs in an outbound listener: the peer is the upstream
    /// server, and this proxy reports as the source.
    Outbound,
}

impl Direction {
    /// The `reporter` label value.
    pub fn reporter(self) -> &'static str {
        match self {
            Direction::Inbound => "destination",
            Direction::Outbound => "source",
        }
    }
}

fn is_identifier(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A metric name prefix: ASCII letters, digits and `_`, not starting with a
/// digit (a valid start of a Prometheus metric name), at most 64 bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricPrefix(String);

impl Deref for MetricPrefix {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl FromJson for MetricPrefix {
    fn from_json(value: &Value) -> Result<Self, Error> {
        checked(
            value,
            |s| is_identifier(s) && s.len() <= 64,
            "letters, digits and '_', not starting with a digit, at most 64 bytes",
        )
        .map(MetricPrefix)
    }
}

/// The string in `value` if `valid` accepts it; otherwise an error saying
/// what was `expected`.
fn checked(value: &Value, valid: impl Fn(&str) -> bool, expected: &str) -> Result<String, Error> {
    let s = String::from_json(value)?;
    if valid(&s) { Ok(s) } else { Err(Error::custom(format!("expected {expected}, found {s:?}"))) }
}

/// A label (dimension) name: a Prometheus label name that is not reserved
/// (`__` prefix), at most 64 bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelName(String);

impl Deref for LabelName {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl FromJson for LabelName {
    fn from_json(value: &Value) -> Result<Self, Error> {
        let valid = |s: &str| is_identifier(s) && !s.starts_with("__") && s.len() <= 64;
        checked(value, valid, "a label name of letters, digits and '_', not starting with a digit or \"__\"")
            .map(LabelName)
    }
}

/// A property path: `"request.headers.x-tenant"` (split at dots) or a list
/// of segments (`["request", "headers", "x.with.dots"]`). No segment may be
/// empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PropertyPath(Vec<String>);

impl PropertyPath {
    /// The segments.
    pub fn segments(&self) -> &[String] {
        &self.0
    }
}

impl FromJson for PropertyPath {
    fn from_json(value: &Value) -> Result<Self, Error> {
        let segments: Vec<String> = match value {
            Value::String(s) => s.split('.').map(String::from).collect(),
            Value::Array(_) => Vec::from_json(value)?,
            other => return Err(Error::invalid_type("a dotted path string or a list of path segments", other)),
        };
        if segments.is_empty() || segments.iter().any(String::is_empty) {
            return Err(Error::custom("expected a property path without empty segments"));
        }
        Ok(PropertyPath(segments))
    }
}

/// An extra dimension: a label whose value is a host property.
#[derive(Config, Clone, Debug, PartialEq, Eq)]
#[sluice(deny_unknown_fields)]
pub struct ExtraDimension {
    /// The label name.
    pub name: LabelName,
    /// The property its value is read from.
    pub property: PropertyPath,
}

/// The extra dimensions: names unique and distinct from Istio's standard ones.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dimensions(Vec<ExtraDimension>);

impl Deref for Dimensions {
    type Target = [ExtraDimension];
    fn deref(&self) -> &[ExtraDimension] {
        &self.0
    }
}

impl FromJson for Dimensions {
    fn from_json(value: &Value) -> Result<Self, Error> {
        let list: Vec<ExtraDimension> = Vec::from_json(value)?;
        for (i, dimension) in list.iter().enumerate() {
            let name: &str = &dimension.name;
            let problem = if STANDARD_DIMENSIONS.contains(&name) {
                Some(format!("{name:?} is one of the standard dimensions; choose another name"))
            } else if list[..i].iter().any(|d| *d.name == *name) {
                Some(format!("{name:?} is declared twice"))
            } else {
                None
            };
            if let Some(problem) = problem {
                return Err(Error::custom(problem).in_field("name").at_index(i));
            }
        }
        Ok(Dimensions(list))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use sluice::json;

    fn parse(text: &str) -> Result<Settings, String> {
        json::from_config::<Settings>(text.as_bytes()).map_err(|e| e.to_string())
    }

    #[test]
    fn full_configuration() {
        let s = parse(
            r#"{"direction": "outbound", "metric_prefix": "mesh", "max_peer_cache_size": 3,
                "dimensions": [{"name": "route", "property": "route_name"},
                               {"name": "tenant", "property": ["request", "headers", "x.tenant"]}]}"#,
        )
        .unwrap();
        assert_eq!(s.direction, Direction::Outbound);
        assert_eq!(&*s.metric_prefix, "mesh");
        assert_eq!(s.max_peer_cache_size, 3);
        assert_eq!(s.dimensions.len(), 2);
        assert_eq!(&*s.dimensions[0].name, "route");
        assert_eq!(s.dimensions[0].property.segments(), ["route_name"]);
        assert_eq!(s.dimensions[1].property.segments(), ["request", "headers", "x.tenant"]);
    }

    #[test]
    fn defaults() {
        let s = parse(r#"{"direction": "inbound"}"#).unwrap();
        assert_eq!(&*s.metric_prefix, "istio");
        assert!(s.dimensions.is_empty());
        assert_eq!(s.max_peer_cache_size, DEFAULT_MAX_PEER_CACHE_SIZE);
        assert_eq!(Direction::Inbound.reporter(), "destination");
        assert_eq!(Direction::Outbound.reporter(), "source");
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            ("", r#"field "direction": required, but missing"#),
            (r#"{"direction": "sideways"}"#, r#"field "direction": expected one of "inbound", "outbound""#),
            (
                r#"{"direction": "inbound", "metric_prefix": "istio-mesh"}"#,
                r#"field "metric_prefix": expected letters"#,
            ),
            (r#"{"direction": "inbound", "metric_prefix": "9x"}"#, r#"field "metric_prefix": expected letters"#),
            (r#"{"direction": "inbound", "metric_prefix": ""}"#, r#"field "metric_prefix": expected letters"#),
            (
                r#"{"direction": "inbound", "max_peer_cache_size": -1}"#,
                r#"field "max_peer_cache_size": expected an integer"#,
            ),
            (r#"{"direction": "inbound", "metric_prefx": "x"}"#, r#"field "metric_prefx": unknown field"#),
            (
                r#"{"direction": "inbound", "dimensions": [{"name": "a", "property": "x"}, {"name": "a", "property": "y"}]}"#,
                r#"field "dimensions[1].name": "a" is declared twice"#,
            ),
            (
                r#"{"direction": "inbound", "dimensions": [{"name": "response_code", "property": "x"}]}"#,
                r#"field "dimensions[0].name": "response_code" is one of the standard dimensions"#,
            ),
            (
                r#"{"direction": "inbound", "dimensions": [{"name": "__x", "property": "x"}]}"#,
                r#"field "dimensions[0].name": expected a label name"#,
            ),
            (
                r#"{"direction": "inbound", "dimensions": [{"name": "x", "property": "a..b"}]}"#,
                r#"field "dimensions[0].property": expected a property path without empty segments"#,
            ),
            (
                r#"{"direction": "inbound", "dimensions": [{"name": "x", "property": 3}]}"#,
                r#"field "dimensions[0].property": expected a dotted path string or a list of path segments"#,
            ),
            (
                r#"{"direction": "inbound", "dimensions": [{"name": "x"}]}"#,
                r#"field "dimensions[0].property": required"#,
            ),
        ];
        for (text, expected) in cases {
            let error = parse(text).unwrap_err();
            assert!(error.starts_with(expected), "{text}: {error}");
        }
    }
}
