//! Istio's dimensions and how they are written into metric names.
//!
//! Proxy-Wasm metrics have a name and no labels, so Istio encodes its labels
//! into the name, `<label>=.=<value>;.;` each, before the metric's own name:
//!
//! ```text
//! reporter=.=destination;.;source_workload=.=reviews-v2;.;...;.;response_code=.=200;.;...;.;istio_requests_total
//! ```
//!
//! Envoy's `stats_tags` (which Istio puts in the bootstrap) then extract each
//! label with a regex such as `(reporter=\.=(.*?);\.;)`: the second group is
//! the label's value and the first is cut out of the name, leaving
//! `istio_requests_total` for the Prometheus output.

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;

/// The value of a dimension nothing is known about.
pub const UNKNOWN: &str = "unknown";

/// Longest value kept (longer ones are cut at a character boundary), so a
/// value taken from a request cannot blow up the stat name.
pub const MAX_VALUE_LEN: usize = 256;

/// Istio's standard dimensions, in the order they appear in metric names.
pub const STANDARD_DIMENSIONS: [&str; 21] = [
    "reporter",
    "source_workload",
    "source_workload_namespace",
    "source_principal",
    "source_app",
    "source_version",
    "source_cluster",
    "destination_workload",
    "destination_workload_namespace",
    "destination_principal",
    "destination_app",
    "destination_version",
    "destination_service",
    "destination_service_name",
    "destination_service_namespace",
    "destination_cluster",
    "request_protocol",
    "response_code",
    "grpc_response_status",
    "response_flags",
    "connection_security_policy",
];

/// A dimension value as it goes into a name: empty becomes [`UNKNOWN`]; the
/// separators' characters `;` and `=` become `_`, so no value can end its
/// field early or forge another label; long values are cut to
/// [`MAX_VALUE_LEN`] bytes.
pub fn sanitize(value: &str) -> Cow<'_, str> {
    if value.is_empty() {
        return Cow::Borrowed(UNKNOWN);
    }
    let mut end = value.len().min(MAX_VALUE_LEN);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    let value = &value[..end];
    if value.contains([';', '=']) { Cow::Owned(value.replace([';', '='], "_")) } else { Cow::Borrowed(value) }
}

/// The labels part of a stat name: `<label>=.=<value>;.;` for each label
/// (values already [`sanitize`]d). It identifies the label tuple.
pub fn encode_labels<'a>(labels: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (label, value) in labels {
        out.push_str(label);
        out.push_str("=.=");
        out.push_str(value);
        out.push_str(";.;");
    }
    out
}

/// The stat name of metric `<prefix>_<metric>` with its encoded labels
/// (from [`encode_labels`]) in front.
pub fn metric_name(labels: &str, prefix: &str, metric: &str) -> String {
    let mut name = String::with_capacity(labels.len() + prefix.len() + 1 + metric.len());
    name.push_str(labels);
    name.push_str(prefix);
    name.push('_');
    name.push_str(metric);
    name
}

/// Envoy's response flags, by bit, with the short names its access log and
/// Istio's `response_flags` label use.
const RESPONSE_FLAGS: [&str; 28] = [
    "LH", "UH", "UT", "LR", "UR", "UF", "UC", "UO", "NR", "DI", "FI", "RL", "UAEX", "RLSE", "DC", "URX", "SI", "IH",
    "DPE", "UMSDR", "RFCF", "NFCF", "DT", "UPE", "NC", "OM", "DF", "DO",
];

/// The `response_flags` label for Envoy's `response.flags` bit set: `-`
/// when none is set, otherwise the short names joined by `,` (a bit Envoy
/// added later than this table shows as its number).
pub fn response_flags(bits: u64) -> String {
    if bits == 0 {
        return String::from("-");
    }
    let mut names: Vec<Cow<'_, str>> = Vec::new();
    for bit in 0..64 {
        if bits & (1 << bit) != 0 {
            names.push(match RESPONSE_FLAGS.get(bit) {
                Some(name) => Cow::Borrowed(*name),
                None => Cow::Owned(alloc::format!("0x{:x}", 1u64 << bit)),
            });
        }
    }
    names.join(",")
}

/// The service name and namespace of a destination host, when it looks like
/// a Kubernetes service name (`reviews.default.svc.cluster.local`,
/// `reviews.default`, or a bare `reviews`); `None` for an IP address.
pub fn service_of(host: &str) -> Option<(&str, Option<&str>)> {
    let host = strip_port(host);
    if host.is_empty() || host.starts_with('[') || host.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let mut labels = host.split('.');
    let name = labels.next()?;
    Some((name, labels.next()))
}

/// `host:port` → `host` (an IPv6 literal keeps its brackets).
pub fn strip_port(authority: &str) -> &str {
    match authority.rfind(':') {
        Some(colon)
            if !authority[colon..].contains(']') && authority[colon + 1..].bytes().all(|b| b.is_ascii_digit()) =>
        {
            &authority[..colon]
        }
        _ => authority,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_put_labels_first_then_the_metric() {
        let labels = encode_labels([("reporter", "destination"), ("response_code", "200")]);
        assert_eq!(labels, "reporter=.=destination;.;response_code=.=200;.;");
        let name = metric_name(&labels, "istio", "requests_total");
        assert_eq!(name, "reporter=.=destination;.;response_code=.=200;.;istio_requests_total");
        assert_eq!(metric_name(&encode_labels([]), "mesh", "request_bytes"), "mesh_request_bytes");
    }

    #[test]
    fn values_are_sanitized() {
        assert_eq!(sanitize(""), "unknown");
        assert_eq!(sanitize("reviews.default.svc.cluster.local"), "reviews.default.svc.cluster.local");
        assert_eq!(sanitize("a;.;response_code=.=999"), "a_._response_code_._999");
        let long = "é".repeat(200);
        let cut = sanitize(&long);
        assert!(cut.len() <= MAX_VALUE_LEN && cut.len() >= MAX_VALUE_LEN - 1);
        assert!(cut.chars().all(|c| c == 'é'));
    }

    #[test]
    fn response_flags_use_envoy_short_names() {
        assert_eq!(response_flags(0), "-");
        assert_eq!(response_flags(0x2), "UH");
        assert_eq!(response_flags(0x2 | 0x20 | 0x100), "UH,UF,NR");
        assert_eq!(response_flags(1 << 40), "0x10000000000");
    }

    #[test]
    fn services_from_hosts() {
        assert_eq!(service_of("reviews.default.svc.cluster.local:9080"), Some(("reviews", Some("default"))));
        assert_eq!(service_of("reviews"), Some(("reviews", None)));
        assert_eq!(service_of("10.0.0.1:80"), None);
        assert_eq!(service_of("[::1]:80"), None);
        assert_eq!(service_of(""), None);
        assert_eq!(strip_port("example.com:443"), "example.com");
        assert_eq!(strip_port("[::1]"), "[::1]");
        assert_eq!(strip_port("[::1]:8080"), "[::1]");
    }
}
