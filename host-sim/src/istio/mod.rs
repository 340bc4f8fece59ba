//! Istio `WasmPlugin` resources (`extensions.istio.io/v1alpha1`) as input:
//! parsed from YAML ([`WasmPlugin::parse`], [`WasmPlugin::from_file`]),
//! selected and ordered into the filter chain Istio builds for a workload's
//! listener ([`filter_chain`]), and turned into the [`PluginSpec`](crate::PluginSpec)
//! Envoy gets ([`WasmPlugin::plugin_spec`]).
//!
//! Every rule comes from Istio's source (istio/istio at 86c9f01, August
//! 2026) and its API (`extensions/v1alpha1/wasm.proto` in istio/api):
//!
//! | field | host-sim | where Istio defines it |
//! |---|---|---|
//! | `selector.matchLabels` | all labels must be the workload's; none: every workload of the namespace, or of the mesh from the root namespace | `PolicyMatcherForProxy` (`pilot/pkg/model/policyattachment.go`) |
//! | `url` | `file://` (relative to the manifest), `oci://`, no scheme = `oci://`; `http(s)://` refused (offline) | `convertToWasmPluginWrapper` / `buildDataSource` (`pilot/pkg/model/extensions.go`) |
//! | `sha256` | checked: the module's SHA-256 for `file://`, the image manifest's digest for `oci://` | `RemoteDataSource.sha256`, the agent's cache (`pkg/wasm/cache.go`) |
//! | `imagePullPolicy` | `IfNotPresent` uses the OCI cache, `Always` pulls again | `pkg/wasm/cache.go` |
//! | `pluginConfig` | sent as JSON; none when empty | `buildWasmConfig` |
//! | `pluginName` | the `root_id` | same |
//! | (metadata) | `plugin_name` is `<namespace>.<name>` | same |
//! | `phase`, `priority` | see [`filter_chain`] | `listener_builder.go`, `networkfilter.go`, `push_context.go` |
//! | `failStrategy` | `FAIL_CLOSE` (default) closed, `FAIL_OPEN` open, `FAIL_RELOAD` closed with a rebuild per second | `buildWasmConfig` |
//! | `vmConfig.env` | `value`, and `valueFrom: HOST` from the proxy's environment (absent ones left out) | `buildVMConfig`; Envoy's `EnvironmentVariables.host_env_keys` |
//! | `match` | `mode` (gateway and outbound are `CLIENT`, inbound `SERVER`) and `ports`; any entry matching is enough | `matchTrafficSelectorCommon` (`extensions.go`) |
//! | `type` | `HTTP` plugins on HTTP streams, `NETWORK` ones on TCP connections | `MatchType`, `BuildHTTPWasmFilter` |
//!
//! Where Istio's documentation and source differ, host-sim follows the
//! source: an unset `priority` is documented as 0 but sorts after every set
//! priority (`math.MinInt32` in `sortByPriority`), ties are broken by
//! namespace (the workload's first), creation time, then name (the docs say
//! name and namespace), and unspecified-phase plugins go right after the
//! `STATS` ones, before Istio's stats filter (the docs say "right before the
//! Router").
//!
//! Fields host-sim does not model are refused by name: `targetRef` and
//! `targetRefs` (Gateway API attachment), `imagePullSecret` (a Kubernetes
//! Secret; registry credentials come from the Docker configuration),
//! `verificationKey`, `status`, and any unknown field.

mod chain;
mod load;
pub(crate) mod manifest;

use std::fmt;
use std::path::PathBuf;

pub use chain::{ChainSlot, DEFAULT_ROOT_NAMESPACE, IstioFilter, Listener, ListenerClass, Workload, filter_chain};
pub use load::{ModuleSource, sha256_hex};
pub use manifest::{
    API_VERSION, EnvVar, FailStrategy, KIND, Phase, PluginType, PullPolicy, Spec, TrafficSelector, WasmPlugin,
    WorkloadMode,
};

/// A manifest that cannot be used: where, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestError {
    /// The file, when it came from one.
    pub source: Option<PathBuf>,
    /// The YAML document (0 for the first) the error is in, when it is
    /// about one document.
    pub document: Option<usize>,
    /// What is wrong, naming the field.
    pub message: String,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(path) = &self.source {
            write!(f, "{}: ", path.display())?;
        }
        if let Some(document) = self.document.filter(|&d| d > 0) {
            write!(f, "document {}: ", document + 1)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ManifestError {}

/// Istio fields host-sim knows and does not model, with what to do instead.
const NOT_MODELLED: &[(&str, &str)] = &[
    ("targetRef", "Gateway API attachment is not modelled: select the workload with `selector.matchLabels`"),
    ("targetRefs", "Gateway API attachment is not modelled: select the workload with `selector.matchLabels`"),
    (
        "imagePullSecret",
        "Kubernetes Secrets are not modelled: registry credentials come from the Docker configuration file",
    ),
    ("verificationKey", "image signature verification is not modelled (Istio does not implement it either)"),
    ("status", "a resource's status is written by the cluster, not read by Istio's proxy configuration"),
];

/// serde's "unknown field `x`, expected one of ..." with what host-sim
/// says about the Istio fields it does not model.
fn explain_unknown_field(message: String) -> String {
    let Some(rest) = message.split("unknown field `").nth(1) else { return message };
    let Some(field) = rest.split('`').next() else { return message };
    match NOT_MODELLED.iter().find(|(name, _)| *name == field) {
        Some((_, why)) => format!("{message}: `{field}` is an Istio field host-sim does not model ({why})"),
        None => format!("{message} (a field host-sim does not model is refused, not ignored)"),
    }
}

#[cfg(test)]
mod tests;
