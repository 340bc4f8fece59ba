//! Test support: builds the plugin from source, loads it in host-sim with
//! Istio-like node metadata, and reads metrics back the way Envoy's
//! `stats_tags` would, with the regexes Istio puts in its bootstrap.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use guest_build::{Guest, Target};
use host_sim::{Host, MetricValue, Mode, PluginId, PluginSpec};
use regex::Regex;

/// The node id of the proxy under test.
pub const NODE_ID: &str = "sidecar~10.44.0.9~ratings-v1-7dc98c7588-x2kqp.default~default.svc.cluster.local";

/// The plugin's wasm, built from source once per target.
pub fn wasm(target: Target) -> Vec<u8> {
    static BUILT: [OnceLock<Vec<u8>>; 2] = [OnceLock::new(), OnceLock::new()];
    let slot = &BUILT[Target::ALL.iter().position(|t| *t == target).unwrap_or(0)];
    slot.get_or_init(|| {
        let path = Guest::package("sluice-example-telemetry")
            .target(target)
            .build()
            .unwrap_or_else(|e| panic!("the telemetry plugin builds for {}: {e}", target.triple()));
        std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
    })
    .clone()
}

/// A spec for the plugin with node metadata preloaded: this proxy is
/// `ratings-v1` (app `ratings`, version `v1`) in `default`, cluster `east`.
pub fn spec(target: Target, configuration: &str) -> PluginSpec {
    with_node(PluginSpec::from_bytes(wasm(target)), configuration)
}

/// The same in `mode`: natively compiled, or built for wasm32-wasip1.
pub fn mode_spec(mode: Mode, configuration: &str) -> PluginSpec {
    with_node(mode.spec(sluice_example_telemetry::filter::sluice_main, || wasm(Target::Wasip1)), configuration)
}

fn with_node(base: PluginSpec, configuration: &str) -> PluginSpec {
    base.configuration(configuration)
        .property(&["node", "id"], NODE_ID)
        .property(&["node", "metadata", "WORKLOAD_NAME"], "ratings-v1")
        .property(&["node", "metadata", "NAMESPACE"], "default")
        .property(&["node", "metadata", "CLUSTER_ID"], "east")
        .property(&["node", "metadata", "LABELS", "app"], "ratings")
        .property(&["node", "metadata", "LABELS", "version"], "v1")
}

/// A host with the plugin loaded in `mode`.
pub fn load(mode: Mode, configuration: &str) -> (Host, PluginId) {
    let mut host = Host::new();
    let plugin = host.load(mode_spec(mode, configuration)).expect("the plugin starts");
    (host, plugin)
}

/// Istio's tag names; each is extracted with `(<name>=\.=(.*?);\.;)`, except
/// `response_code`, whose value may not be empty: `(response_code=\.=(.+?);\.;)`.
pub const ISTIO_TAGS: [&str; 21] = [
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

/// The `stats_tags` regexes: Istio's, plus one per extra tag name.
pub fn tag_regexes(extra: &[&str]) -> Vec<(String, Regex)> {
    ISTIO_TAGS
        .iter()
        .chain(extra)
        .map(|name| {
            let value = if *name == "response_code" { "(.+?)" } else { "(.*?)" };
            let regex = Regex::new(&format!(r"({name}=\.={value};\.;)")).expect("valid regex");
            (name.to_string(), regex)
        })
        .collect()
}

/// A stat after tag extraction: its name and labels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stat {
    /// What is left of the name once every tag is cut out.
    pub name: String,
    /// Tag name → value.
    pub labels: BTreeMap<String, String>,
    /// The value.
    pub value: MetricValue,
}

impl Stat {
    /// A label's value (panics with the stat if absent).
    pub fn label(&self, name: &str) -> &str {
        self.labels.get(name).unwrap_or_else(|| panic!("no label {name} on {self:?}"))
    }
}

/// Envoy's tag extraction: for each regex, search the current name; the
/// second group is the tag's value and the first is removed from the name.
pub fn extract(stat_name: &str, regexes: &[(String, Regex)]) -> (String, BTreeMap<String, String>) {
    let mut name = stat_name.to_string();
    let mut labels = BTreeMap::new();
    for (tag, regex) in regexes {
        let Some(captures) = regex.captures(&name) else { continue };
        let (Some(whole), Some(value)) = (captures.get(1), captures.get(2)) else { continue };
        labels.insert(tag.clone(), value.as_str().to_string());
        let range = whole.range();
        name.replace_range(range, "");
    }
    (name, labels)
}

/// Every metric of the host with its tags extracted.
pub fn stats(host: &Host, extra_tags: &[&str]) -> Vec<Stat> {
    let regexes = tag_regexes(extra_tags);
    host.metrics()
        .into_iter()
        .map(|(stat_name, value)| {
            let (name, labels) = extract(&stat_name, &regexes);
            Stat { name, labels, value }
        })
        .collect()
}

/// The stats named `name` (after extraction).
pub fn named<'a>(stats: &'a [Stat], name: &str) -> Vec<&'a Stat> {
    stats.iter().filter(|s| s.name == name).collect()
}

/// A counter's value (panics on another type).
pub fn counter(stat: &Stat) -> u64 {
    match stat.value {
        MetricValue::Counter(v) => v,
        ref other => panic!("{} is not a counter: {other:?}", stat.name),
    }
}

/// A histogram's samples (panics on another type).
pub fn samples(stat: &Stat) -> &[u64] {
    match &stat.value {
        MetricValue::Histogram(v) => v,
        other => panic!("{} is not a histogram: {other:?}", stat.name),
    }
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard padded base64, written independently of the plugin's.
pub fn base64(input: &[u8]) -> String {
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            out.push(if i <= chunk.len() { ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char } else { '=' });
        }
    }
    out
}

/// Decodes standard padded base64 (panics on anything else).
pub fn unbase64(input: &str) -> Vec<u8> {
    let digits: Vec<u32> = input
        .trim_end_matches('=')
        .bytes()
        .map(|b| ALPHABET.iter().position(|a| *a == b).expect("base64 digit") as u32)
        .collect();
    let mut out = Vec::new();
    for chunk in digits.chunks(4) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, d)| n | (d << (18 - 6 * i)));
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

/// A peer's `x-envoy-peer-metadata` value for a workload.
pub fn peer_metadata(workload: &str, app: &str, version: &str) -> String {
    base64(
        format!(
            r#"{{"NAME":"{workload}-pod","WORKLOAD_NAME":"{workload}","NAMESPACE":"bookinfo","CLUSTER_ID":"west","MESH_ID":"cluster.local","LABELS":{{"app":"{app}","version":"{version}"}}}}"#
        )
        .as_bytes(),
    )
}
