//! Metrics in the Prometheus text exposition format, with labels extracted
//! from the metric names the way Istio's `stats_tags` do.
//!
//! Istio-style plugins encode labels in the metric name:
//! `reporter=.=destination;.;response_code=.=200;.;istio_requests_total`.
//! Each `(<label>=\.=(.*?);\.;)` match becomes a label and is cut out of the
//! name, so that series renders as
//! `istio_requests_total{reporter="destination",response_code="200"}`.
//! Names without tags render as they are, with characters Prometheus does
//! not allow in a name (such as `.` and `-`) replaced by `_`.
//!
//! ```
//! use host_sim::MetricValue;
//! use host_sim::report::prometheus;
//!
//! let metrics = vec![("response_code=.=503;.;istio_requests_total".to_string(), MetricValue::Counter(2))];
//! let text = prometheus::render(&metrics);
//! assert!(text.contains("# TYPE istio_requests_total counter\n"));
//! assert!(text.contains("istio_requests_total{response_code=\"503\"} 2\n"));
//! ```

use std::fmt::Write as _;
use std::sync::OnceLock;

use regex::Regex;

use crate::state::metrics::MetricValue;

/// Envoy's default histogram bucket bounds (milliseconds for durations).
pub const ENVOY_BUCKETS: [f64; 19] = [
    0.5, 1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 30000.0, 60000.0, 300000.0,
    600000.0, 1800000.0, 3600000.0,
];

fn tag_regex() -> &'static Regex {
    static TAG: OnceLock<Regex> = OnceLock::new();
    // The label name, then `=.=`, the value up to the first `;.;`.
    TAG.get_or_init(|| Regex::new(r"([A-Za-z_][A-Za-z0-9_]*)=\.=(.*?);\.;").expect("a valid regex"))
}

/// A metric name split into its Prometheus name and labels (in the order
/// they appear in the name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Series {
    /// The metric family name, sanitized for Prometheus.
    pub name: String,
    /// Label names and values.
    pub labels: Vec<(String, String)>,
}

impl Series {
    /// Extracts the labels of a raw metric name.
    pub fn parse(raw: &str) -> Series {
        let mut labels = Vec::new();
        let mut rest = String::with_capacity(raw.len());
        let mut last = 0;
        for captures in tag_regex().captures_iter(raw) {
            let (Some(whole), Some(label), Some(value)) = (captures.get(0), captures.get(1), captures.get(2)) else {
                continue;
            };
            rest.push_str(&raw[last..whole.start()]);
            last = whole.end();
            labels.push((label.as_str().to_owned(), value.as_str().to_owned()));
        }
        rest.push_str(&raw[last..]);
        Series { name: sanitize(&rest), labels }
    }

    /// The series as Prometheus prints it: `name{label="value",...}`.
    pub fn to_prometheus(&self) -> String {
        self.with_labels(&self.name, &[])
    }

    fn with_labels(&self, name: &str, extra: &[(&str, String)]) -> String {
        let all: Vec<String> = self
            .labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .chain(extra.iter().map(|(k, v)| (*k, v.as_str())))
            .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
            .collect();
        if all.is_empty() { name.to_owned() } else { format!("{name}{{{}}}", all.join(",")) }
    }
}

/// What an expectation names: a raw metric name, or a series as Prometheus
/// prints it with some or all of its labels
/// (`istio_requests_total{response_code="503"}`), which selects every series
/// of that name carrying those labels, whatever its other labels are (as a
/// PromQL selector does).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector {
    text: String,
    name: String,
    labels: Vec<(String, String)>,
}

impl Selector {
    /// Parses `name` or `name{label="value",...}` (values escaped as
    /// Prometheus prints them: `\"`, `\\`, `\n`).
    pub fn parse(text: &str) -> Result<Selector, String> {
        let selector = |name: &str, labels| Selector { text: text.to_owned(), name: name.to_owned(), labels };
        let Some((name, rest)) = text.split_once('{') else { return Ok(selector(text, Vec::new())) };
        let body = rest.strip_suffix('}').ok_or("a series selector ends with `}`")?;
        if name.is_empty() {
            return Err("the metric name is missing before `{`".into());
        }
        let mut labels = Vec::new();
        let mut chars = body.chars().peekable();
        while chars.peek().is_some() {
            let label: String = chars.by_ref().take_while(|c| *c != '=').collect();
            let label = label.trim().to_owned();
            if label.is_empty() || sanitize(&label) != label {
                return Err(format!("expected `label=\"value\"`, found {label:?} before `=`"));
            }
            if chars.next() != Some('"') {
                return Err(format!("the value of label `{label}` must be in double quotes"));
            }
            let mut value = String::new();
            loop {
                match chars.next() {
                    None => return Err(format!("the value of label `{label}` has no closing quote")),
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some('n') => value.push('\n'),
                        Some(c @ ('"' | '\\')) => value.push(c),
                        _ => return Err(format!("the value of label `{label}` has an unknown escape")),
                    },
                    Some(c) => value.push(c),
                }
            }
            while chars.next_if(|c| c.is_whitespace()).is_some() {}
            if let Some(c) = chars.next().filter(|c| *c != ',') {
                return Err(format!("expected `,` or `}}` after the value of label `{label}`, found {c:?}"));
            }
            labels.push((label, value));
        }
        Ok(selector(name, labels))
    }

    /// Whether the series of the raw name `raw` has the selector's name and
    /// carries each of its labels with that value.
    pub fn matches(&self, raw: &str) -> bool {
        let series = Series::parse(raw);
        series.name == self.name && self.labels.iter().all(|label| series.labels.contains(label))
    }

    /// The values of the series selected among `metrics` (raw name, value):
    /// the metric whose raw name is the selector's text if there is one,
    /// else every series that [`matches`](Selector::matches).
    pub fn select<'m, T>(&self, metrics: &'m [(String, T)]) -> Vec<&'m T> {
        match metrics.iter().find(|(raw, _)| *raw == self.text) {
            Some((_, value)) => vec![value],
            None => metrics.iter().filter(|(raw, _)| self.matches(raw)).map(|(_, value)| value).collect(),
        }
    }
}

impl std::fmt::Display for Selector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// Replaces characters a Prometheus metric name cannot hold with `_`.
pub fn sanitize(name: &str) -> String {
    let mut out: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == ':' { c } else { '_' }).collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn kind(value: &MetricValue) -> &'static str {
    match value {
        MetricValue::Counter(_) => "counter",
        MetricValue::Gauge(_) => "gauge",
        MetricValue::Histogram(_) => "histogram",
    }
}

fn number(value: f64) -> String {
    if value.fract() == 0.0 { format!("{value:.0}") } else { value.to_string() }
}

/// A family: name, type, and its series with their values.
type Family<'a> = (String, &'static str, Vec<(Series, &'a MetricValue)>);

/// Renders metrics in the Prometheus text format: one `# TYPE` line per
/// family (families in order of first appearance, series in definition
/// order), histograms as cumulative `_bucket` series with Envoy's default
/// bounds (those where the count grows, and `+Inf`) plus `_sum` and `_count`.
pub fn render(metrics: &[(String, MetricValue)]) -> String {
    let mut families: Vec<Family<'_>> = Vec::new();
    for (raw, value) in metrics {
        let series = Series::parse(raw);
        let t = kind(value);
        match families.iter_mut().find(|(name, k, _)| *name == series.name && *k == t) {
            Some((_, _, members)) => members.push((series, value)),
            None => families.push((series.name.clone(), t, vec![(series, value)])),
        }
    }
    let mut out = String::new();
    for (name, t, members) in families {
        let _ = writeln!(out, "# TYPE {name} {t}");
        for (series, value) in members {
            match value {
                MetricValue::Counter(v) => {
                    let _ = writeln!(out, "{} {v}", series.to_prometheus());
                }
                MetricValue::Gauge(v) => {
                    let _ = writeln!(out, "{} {v}", series.to_prometheus());
                }
                MetricValue::Histogram(samples) => {
                    // Only the buckets where the cumulative count grows (the
                    // text format allows any subset; `+Inf` is always there).
                    let mut previous = 0;
                    for bound in ENVOY_BUCKETS {
                        let n = samples.iter().filter(|&&s| s as f64 <= bound).count();
                        if n == previous {
                            continue;
                        }
                        previous = n;
                        let line = series.with_labels(&format!("{name}_bucket"), &[("le", number(bound))]);
                        let _ = writeln!(out, "{line} {n}");
                    }
                    let inf = series.with_labels(&format!("{name}_bucket"), &[("le", "+Inf".into())]);
                    let _ = writeln!(out, "{inf} {}", samples.len());
                    let sum: u128 = samples.iter().map(|&s| u128::from(s)).sum();
                    let _ = writeln!(out, "{} {sum}", series.with_labels(&format!("{name}_sum"), &[]));
                    let _ = writeln!(out, "{} {}", series.with_labels(&format!("{name}_count"), &[]), samples.len());
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn istio_tags_become_labels() {
        let s = Series::parse("reporter=.=destination;.;source_app=.=;.;response_code=.=200;.;istio_requests_total");
        assert_eq!(s.name, "istio_requests_total");
        assert_eq!(
            s.labels,
            [
                ("reporter".into(), "destination".into()),
                ("source_app".into(), String::new()),
                ("response_code".into(), "200".into())
            ]
        );
        assert_eq!(
            s.to_prometheus(),
            r#"istio_requests_total{reporter="destination",source_app="",response_code="200"}"#
        );
    }

    #[test]
    fn plain_names_are_sanitized_and_values_escaped() {
        assert_eq!(Series::parse("header_decode.decode_ok").to_prometheus(), "header_decode_decode_ok");
        assert_eq!(sanitize("9-lives"), "_9_lives");
        assert_eq!(Series::parse("k=.=a\"b\\c;.;m").to_prometheus(), r#"m{k="a\"b\\c"}"#);
    }

    #[test]
    fn selectors_pick_series_by_some_of_their_labels() {
        let raw = "reporter=.=destination;.;response_code=.=503;.;istio_requests_total";
        let select = |text: &str| Selector::parse(text).unwrap().matches(raw);
        assert!(select("istio_requests_total"));
        assert!(select(r#"istio_requests_total{response_code="503"}"#));
        assert!(select(r#"istio_requests_total{ response_code="503", reporter="destination" }"#));
        assert!(!select(r#"istio_requests_total{response_code="200"}"#));
        assert!(!select(r#"istio_requests_total{source_app="503"}"#));
        assert!(!select(r#"requests_total{response_code="503"}"#));
        assert!(Selector::parse(r#"m{k="a\"b\\c"}"#).unwrap().matches("k=.=a\"b\\c;.;m"));
        let metrics = [
            (raw.to_owned(), 1),
            ("response_code=.=200;.;istio_requests_total".to_owned(), 2),
            ("a.b".to_owned(), 3),
            ("a_b".to_owned(), 4),
        ];
        let values =
            |text: &str| Selector::parse(text).unwrap().select(&metrics).into_iter().copied().collect::<Vec<_>>();
        assert_eq!(values("istio_requests_total"), [1, 2]);
        assert_eq!(values(r#"istio_requests_total{response_code="200"}"#), [2]);
        assert_eq!(values(raw), [1], "a raw name selects that metric");
        assert_eq!((values("a.b"), values("a_b"), values("c")), (vec![3], vec![4], vec![]));
        for bad in ["m{k=\"v\"", "{k=\"v\"}", "m{k=v}", "m{k=\"v}", "m{=\"v\"}", "m{k=\"v\" x}"] {
            assert!(Selector::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn families_group_series_and_histograms_are_cumulative() {
        let metrics = vec![
            ("response_code=.=200;.;requests_total".to_string(), MetricValue::Counter(2)),
            ("active".to_string(), MetricValue::Gauge(-1)),
            ("response_code=.=503;.;requests_total".to_string(), MetricValue::Counter(1)),
            ("response_code=.=200;.;duration_ms".to_string(), MetricValue::Histogram(vec![3, 7, 20000])),
        ];
        let text = render(&metrics);
        let expected_start = "# TYPE requests_total counter\n\
            requests_total{response_code=\"200\"} 2\n\
            requests_total{response_code=\"503\"} 1\n\
            # TYPE active gauge\n\
            active -1\n\
            # TYPE duration_ms histogram\n\
            duration_ms_bucket{response_code=\"200\",le=\"5\"} 1\n\
            duration_ms_bucket{response_code=\"200\",le=\"10\"} 2\n";
        assert!(text.starts_with(expected_start), "{text}");
        assert!(text.contains("duration_ms_bucket{response_code=\"200\",le=\"30000\"} 3\n"), "{text}");
        assert!(!text.contains("le=\"0.5\"") && !text.contains("le=\"25\""), "unchanged buckets are left out: {text}");
        assert!(text.contains("duration_ms_bucket{response_code=\"200\",le=\"+Inf\"} 3\n"));
        assert!(
            text.ends_with(
                "duration_ms_sum{response_code=\"200\"} 20010\nduration_ms_count{response_code=\"200\"} 3\n"
            )
        );
    }
}
