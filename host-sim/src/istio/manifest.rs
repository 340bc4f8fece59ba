//! The `WasmPlugin` resource (`extensions.istio.io/v1alpha1`) as YAML, with
//! every field host-sim models; any other field is refused by name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::ManifestError;

/// The API version and kind every manifest must have.
pub const API_VERSION: &str = "extensions.istio.io/v1alpha1";
/// The resource kind.
pub const KIND: &str = "WasmPlugin";

/// One `WasmPlugin` resource.
#[derive(Clone, Debug, PartialEq)]
pub struct WasmPlugin {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace` (default `default`, as `kubectl apply` without
    /// `-n` would use).
    pub namespace: String,
    /// `metadata.creationTimestamp` (RFC 3339) as nanoseconds since the Unix
    /// epoch: Istio orders plugins of equal priority by it, then by name and
    /// namespace. Absent: all such plugins count as created at the same time.
    pub creation_ns: Option<u64>,
    /// The spec.
    pub spec: Spec,
    /// The file the manifest came from: relative `file://` URLs are resolved
    /// against its folder.
    pub source: Option<PathBuf>,
}

/// `WasmPlugin.spec`: the fields host-sim models.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Spec {
    /// `selector.matchLabels`: the workload labels it applies to (`None`:
    /// every workload of its namespace, or of the mesh from the root
    /// namespace).
    pub match_labels: Option<BTreeMap<String, String>>,
    /// `url`: `file://`, `oci://` or no scheme (OCI, Istio's default).
    pub url: String,
    /// `sha256`: the module's checksum, checked when the module is read.
    pub sha256: Option<String>,
    /// `imagePullPolicy` (`IfNotPresent`, `Always`).
    pub image_pull_policy: Option<PullPolicy>,
    /// `pluginConfig`, sent to the plugin as JSON (empty when absent or
    /// empty, as Istio sends no configuration then).
    pub plugin_config: Option<serde_json::Map<String, serde_json::Value>>,
    /// `pluginName`: Envoy's `root_id`.
    pub plugin_name: String,
    /// `phase`.
    pub phase: Phase,
    /// `priority` (`None`: unset, which Istio's sort puts after every set
    /// priority of the phase).
    pub priority: Option<i32>,
    /// `failStrategy`.
    pub fail_strategy: FailStrategy,
    /// `vmConfig.env`.
    pub env: Vec<EnvVar>,
    /// `match`: the traffic it sees (any selector matching is enough).
    pub traffic: Vec<TrafficSelector>,
    /// `type`.
    pub plugin_type: PluginType,
}

/// `phase`: where in the filter chain the plugin goes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// `AUTHN`: before Istio's authentication filters.
    Authn,
    /// `AUTHZ`: after authentication, before Istio's authorization (RBAC).
    Authz,
    /// `STATS`: after authorization, before Istio's stats filter.
    Stats,
    /// `UNSPECIFIED_PHASE` (or no phase): after the `STATS` plugins.
    #[default]
    Unspecified,
}

impl Phase {
    /// The name used in manifests.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Authn => "AUTHN",
            Phase::Authz => "AUTHZ",
            Phase::Stats => "STATS",
            Phase::Unspecified => "UNSPECIFIED_PHASE",
        }
    }
}

/// `imagePullPolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PullPolicy {
    /// `IfNotPresent`: a cached copy is used.
    IfNotPresent,
    /// `Always`: pulled again.
    Always,
}

/// `failStrategy`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum FailStrategy {
    /// `FAIL_CLOSE` (the default): 5xx once the plugin has failed.
    #[default]
    FailClose,
    /// `FAIL_OPEN`: the plugin is skipped once it has failed.
    FailOpen,
    /// `FAIL_RELOAD`: a new VM for the next request after a failure.
    FailReload,
}

/// `type`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PluginType {
    /// `HTTP` (also `UNSPECIFIED_PLUGIN_TYPE` and no type): an HTTP filter.
    #[default]
    Http,
    /// `NETWORK`: a network (TCP) filter.
    Network,
}

/// One `vmConfig.env` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnvVar {
    /// `value` (`valueFrom: INLINE`, the default).
    Inline {
        /// The name.
        name: String,
        /// The value (default empty).
        value: String,
    },
    /// `valueFrom: HOST`: the proxy's own environment variable, left out
    /// when the proxy has none of that name.
    Host {
        /// The name.
        name: String,
    },
}

/// One `match` entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrafficSelector {
    /// `mode`.
    pub mode: WorkloadMode,
    /// `ports[].number` (empty: any port).
    pub ports: Vec<u32>,
}

/// `match[].mode`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum WorkloadMode {
    /// `CLIENT`: outbound traffic (and all of a gateway's).
    Client,
    /// `SERVER`: inbound traffic of a sidecar.
    Server,
    /// `CLIENT_AND_SERVER` (also `UNDEFINED` and no mode): both.
    #[default]
    ClientAndServer,
}

impl WasmPlugin {
    /// Every `WasmPlugin` of a YAML text (documents separated by `---`);
    /// `source` names it in errors and resolves relative `file://` URLs.
    pub fn parse(text: &str, source: Option<&Path>) -> Result<Vec<WasmPlugin>, ManifestError> {
        let mut plugins = Vec::new();
        for (index, document) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
            let at = |message: String| ManifestError {
                source: source.map(Path::to_path_buf),
                document: Some(index),
                message: super::explain_unknown_field(message),
            };
            // Deserialized in place (not through a Value) so that errors keep
            // their line and column.
            let raw = Option::<raw::Resource>::deserialize(document).map_err(|e| at(e.to_string()))?;
            // An empty document (a trailing `---`) is no resource.
            if let Some(raw) = raw {
                plugins.push(raw.check(source).map_err(at)?);
            }
        }
        if plugins.is_empty() {
            return Err(ManifestError {
                source: source.map(Path::to_path_buf),
                document: None,
                message: "no WasmPlugin resource in it".into(),
            });
        }
        Ok(plugins)
    }

    /// Every `WasmPlugin` of a YAML file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Vec<WasmPlugin>, ManifestError> {
        let path = path.as_ref();
        let bytes = crate::limits::read_regular_file(path, crate::limits::MAX_FILE_BYTES).map_err(|e| {
            ManifestError { source: Some(path.to_path_buf()), document: None, message: format!("cannot read it: {e}") }
        })?;
        let text = String::from_utf8(bytes).map_err(|_| ManifestError {
            source: Some(path.to_path_buf()),
            document: None,
            message: "it is not UTF-8 text".into(),
        })?;
        WasmPlugin::parse(&text, Some(path))
    }

    /// The plugin's name in Envoy (`PluginConfig.name`, the `plugin_name`
    /// property): `<namespace>.<name>`, as Istio's control plane builds it.
    pub fn envoy_name(&self) -> String {
        format!("{}.{}", self.namespace, self.name)
    }
}

/// Whether `hex` is 64 lowercase hex digits (a SHA-256 as `WasmPlugin.sha256`
/// and digests spell it).
pub fn is_sha256_hex(hex: &str) -> bool {
    hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The serde shape of the YAML, and its checks.
mod raw {
    use super::*;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub(super) struct Resource {
        api_version: String,
        kind: String,
        metadata: Metadata,
        spec: Spec,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct Metadata {
        name: String,
        #[serde(default)]
        namespace: Option<String>,
        #[serde(default)]
        creation_timestamp: Option<String>,
        // Labels and annotations on the resource itself change nothing in
        // how Istio runs the plugin.
        #[serde(default, rename = "labels")]
        _labels: Option<BTreeMap<String, String>>,
        #[serde(default, rename = "annotations")]
        _annotations: Option<BTreeMap<String, String>>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct Spec {
        #[serde(default)]
        selector: Option<Selector>,
        url: String,
        #[serde(default)]
        sha256: Option<String>,
        #[serde(default)]
        image_pull_policy: Option<String>,
        #[serde(default)]
        plugin_config: Option<serde_json::Map<String, serde_json::Value>>,
        #[serde(default)]
        plugin_name: Option<String>,
        #[serde(default)]
        phase: Option<String>,
        #[serde(default)]
        priority: Option<i32>,
        #[serde(default)]
        fail_strategy: Option<String>,
        #[serde(default)]
        vm_config: Option<VmConfig>,
        #[serde(default, rename = "match")]
        traffic: Option<Vec<Traffic>>,
        #[serde(default, rename = "type")]
        plugin_type: Option<String>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct Selector {
        #[serde(default)]
        match_labels: BTreeMap<String, String>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct VmConfig {
        #[serde(default)]
        env: Vec<Env>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct Env {
        name: String,
        #[serde(default)]
        value: Option<String>,
        #[serde(default)]
        value_from: Option<String>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Traffic {
        #[serde(default)]
        mode: Option<String>,
        #[serde(default)]
        ports: Vec<Port>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Port {
        number: u32,
    }

    fn one_of<T: Copy>(field: &str, value: &str, choices: &[(&str, T)]) -> Result<T, String> {
        choices.iter().find(|(name, _)| *name == value).map(|(_, v)| *v).ok_or_else(|| {
            let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
            format!("`{field}`: unknown value `{value}`, expected one of {}", names.join(", "))
        })
    }

    /// `value` as [`one_of`] reads it, `absent` when the field is left out.
    fn one_of_or<T: Copy>(field: &str, value: Option<&str>, absent: T, choices: &[(&str, T)]) -> Result<T, String> {
        value.map_or(Ok(absent), |value| one_of(field, value, choices))
    }

    const PHASES: &[(&str, Phase)] = &[
        ("UNSPECIFIED_PHASE", Phase::Unspecified),
        ("AUTHN", Phase::Authn),
        ("AUTHZ", Phase::Authz),
        ("STATS", Phase::Stats),
    ];
    const FAIL_STRATEGIES: &[(&str, FailStrategy)] = &[
        ("FAIL_CLOSE", FailStrategy::FailClose),
        ("FAIL_OPEN", FailStrategy::FailOpen),
        ("FAIL_RELOAD", FailStrategy::FailReload),
    ];
    const PLUGIN_TYPES: &[(&str, PluginType)] =
        &[("UNSPECIFIED_PLUGIN_TYPE", PluginType::Http), ("HTTP", PluginType::Http), ("NETWORK", PluginType::Network)];

    impl Resource {
        pub(super) fn check(self, source: Option<&Path>) -> Result<WasmPlugin, String> {
            if self.api_version != API_VERSION {
                return Err(format!("`apiVersion`: `{}` is not {API_VERSION}", self.api_version));
            }
            if self.kind != KIND {
                return Err(format!("`kind`: `{}` is not {KIND}", self.kind));
            }
            let name = self.metadata.name;
            if name.is_empty() {
                return Err("`metadata.name` is empty".into());
            }
            let namespace = self.metadata.namespace.unwrap_or_else(|| "default".into());
            let creation_ns = match &self.metadata.creation_timestamp {
                None => None,
                Some(text) => Some(crate::state::clock::rfc3339_ns(text).map_err(|why| {
                    format!("`metadata.creationTimestamp`: expected an RFC 3339 time ({why}), found {text:?}")
                })?),
            };
            let spec = self.spec;
            if spec.url.is_empty() {
                return Err("`spec.url` is empty".into());
            }
            if let Some(sum) = &spec.sha256
                && !is_sha256_hex(sum)
            {
                return Err(format!("`spec.sha256`: `{sum}` is not 64 lowercase hex digits"));
            }
            let image_pull_policy = match spec.image_pull_policy.as_deref() {
                None | Some("UNSPECIFIED_POLICY") => None,
                Some(p) => Some(one_of(
                    "spec.imagePullPolicy",
                    p,
                    &[("IfNotPresent", PullPolicy::IfNotPresent), ("Always", PullPolicy::Always)],
                )?),
            };
            let phase = one_of_or("spec.phase", spec.phase.as_deref(), Phase::Unspecified, PHASES)?;
            let fail_strategy = one_of_or(
                "spec.failStrategy",
                spec.fail_strategy.as_deref(),
                FailStrategy::FailClose,
                FAIL_STRATEGIES,
            )?;
            let plugin_type = one_of_or("spec.type", spec.plugin_type.as_deref(), PluginType::Http, PLUGIN_TYPES)?;
            let mut env = Vec::new();
            for (i, e) in spec.vm_config.map(|v| v.env).unwrap_or_default().into_iter().enumerate() {
                if e.name.is_empty() {
                    return Err(format!("`spec.vmConfig.env[{i}].name` is empty"));
                }
                match e.value_from.as_deref() {
                    None | Some("INLINE") => {
                        env.push(EnvVar::Inline { name: e.name, value: e.value.unwrap_or_default() })
                    }
                    Some("HOST") => {
                        if e.value.is_some() {
                            return Err(format!(
                                "`spec.vmConfig.env[{i}]`: `value` may only be set when `valueFrom` is INLINE"
                            ));
                        }
                        env.push(EnvVar::Host { name: e.name })
                    }
                    Some(other) => {
                        one_of::<()>(
                            &format!("spec.vmConfig.env[{i}].valueFrom"),
                            other,
                            &[("INLINE", ()), ("HOST", ())],
                        )?;
                    }
                }
            }
            let mut traffic = Vec::new();
            for (i, t) in spec.traffic.unwrap_or_default().into_iter().enumerate() {
                let mode = match t.mode.as_deref() {
                    None => WorkloadMode::ClientAndServer,
                    Some(m) => one_of(
                        &format!("spec.match[{i}].mode"),
                        m,
                        &[
                            ("UNDEFINED", WorkloadMode::ClientAndServer),
                            ("CLIENT", WorkloadMode::Client),
                            ("SERVER", WorkloadMode::Server),
                            ("CLIENT_AND_SERVER", WorkloadMode::ClientAndServer),
                        ],
                    )?,
                };
                traffic.push(TrafficSelector { mode, ports: t.ports.into_iter().map(|p| p.number).collect() });
            }
            Ok(WasmPlugin {
                name,
                namespace,
                creation_ns,
                spec: super::Spec {
                    match_labels: spec.selector.map(|s| s.match_labels),
                    url: spec.url,
                    sha256: spec.sha256,
                    image_pull_policy,
                    plugin_config: spec.plugin_config,
                    plugin_name: spec.plugin_name.unwrap_or_default(),
                    phase,
                    priority: spec.priority,
                    fail_strategy,
                    env,
                    traffic,
                    plugin_type,
                },
                source: source.map(Path::to_path_buf),
            })
        }
    }
}
