//! Loading a plugin as an Istio `WasmPlugin` manifest or an `oci://`
//! reference names it.
//!
//! From a `WasmPlugin` (`extensions.istio.io/v1alpha1`) host-sim takes what
//! Istio puts into Envoy's configuration: `spec.url` (`oci://`, the default
//! scheme when there is none, or `file://`), checked against `spec.sha256`
//! (for `oci://`, Istio compares it with the image's manifest digest; for a
//! file, with the module's SHA-256), `spec.pluginConfig` as the JSON plugin
//! configuration, `spec.pluginName` as the root id, `metadata.namespace` and
//! `metadata.name` as the plugin name (`NAMESPACE.NAME`, as istiod names the
//! filter), `spec.vmConfig.env` values as the VM's environment, and
//! `spec.failStrategy` (`FAIL_OPEN`, else fail closed).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{OciError, PullOptions, Pulled, Reference, pull, sha256_digest};
use crate::error::Error;
use crate::failure::FailPolicy;
use crate::spec::PluginSpec;

/// The parts of a `WasmPlugin` host-sim uses.
#[derive(Clone, Debug, PartialEq)]
pub struct WasmPlugin {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace` (default `default`).
    pub namespace: String,
    /// `spec.url`, with `oci://` added when it has no scheme.
    pub url: String,
    /// `spec.sha256` (hex, no `sha256:`), if set.
    pub sha256: Option<String>,
    /// `spec.pluginConfig` as JSON text (empty when absent).
    pub plugin_config: String,
    /// `spec.pluginName` (Envoy's root id).
    pub plugin_name: Option<String>,
    /// `spec.vmConfig.env` entries that have a `value`.
    pub env: Vec<(String, String)>,
    /// `spec.failStrategy == FAIL_OPEN`.
    pub fail_open: bool,
    /// `spec.phase`, if set.
    pub phase: Option<String>,
    /// `spec.priority`, if set.
    pub priority: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw {
    api_version: String,
    kind: String,
    metadata: RawMetadata,
    spec: RawSpec,
}

#[derive(Deserialize)]
struct RawMetadata {
    name: String,
    #[serde(default)]
    namespace: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSpec {
    url: String,
    #[serde(default)]
    sha256: Option<String>,
    #[serde(default)]
    plugin_config: Option<serde_json::Value>,
    #[serde(default)]
    plugin_name: Option<String>,
    #[serde(default)]
    vm_config: Option<RawVmConfig>,
    #[serde(default)]
    fail_strategy: Option<String>,
    #[serde(default)]
    phase: Option<String>,
    #[serde(default)]
    priority: Option<i64>,
}

#[derive(Deserialize)]
struct RawVmConfig {
    #[serde(default)]
    env: Vec<RawEnv>,
}

#[derive(Deserialize)]
struct RawEnv {
    name: String,
    #[serde(default)]
    value: Option<String>,
}

impl WasmPlugin {
    /// Parses a `WasmPlugin` manifest (YAML or JSON).
    pub fn parse(text: &str) -> Result<WasmPlugin, String> {
        let raw: Raw = serde_yaml_ng::from_str(text).map_err(|e| format!("not a WasmPlugin manifest: {e}"))?;
        if raw.kind != "WasmPlugin" || !raw.api_version.starts_with("extensions.istio.io/") {
            return Err(format!("kind {} of {} is not a WasmPlugin of extensions.istio.io", raw.kind, raw.api_version));
        }
        let url = if raw.spec.url.contains("://") { raw.spec.url } else { format!("oci://{}", raw.spec.url) };
        let sha256 = raw.spec.sha256.map(|s| s.strip_prefix("sha256:").unwrap_or(&s).to_owned());
        if let Some(hex) = &sha256
            && !super::is_sha256_digest(&format!("sha256:{hex}"))
        {
            return Err(format!("spec.sha256 {hex:?} is not 64 lowercase hex digits"));
        }
        let plugin_config = match raw.spec.plugin_config {
            None | Some(serde_json::Value::Null) => String::new(),
            Some(value) => value.to_string(),
        };
        Ok(WasmPlugin {
            name: raw.metadata.name,
            namespace: raw.metadata.namespace.unwrap_or_else(|| "default".to_owned()),
            url,
            sha256,
            plugin_config,
            plugin_name: raw.spec.plugin_name,
            env: raw
                .spec
                .vm_config
                .map(|vm| vm.env.into_iter().filter_map(|e| Some((e.name, e.value?))).collect())
                .unwrap_or_default(),
            fail_open: raw.spec.fail_strategy.as_deref() == Some("FAIL_OPEN"),
            phase: raw.spec.phase,
            priority: raw.spec.priority,
        })
    }
}

fn oci_error(error: OciError) -> Error {
    Error::Oci(error)
}

/// Reads the module at `file://PATH` (relative to `base`).
fn file_module(url: &str, base: &Path) -> Result<Vec<u8>, Error> {
    let path = PathBuf::from(url.trim_start_matches("file://"));
    let path = if path.is_absolute() { path } else { base.join(path) };
    crate::limits::read_regular_file(&path, crate::limits::MAX_FILE_BYTES).map_err(|source| Error::Io { path, source })
}

impl PluginSpec {
    /// A plugin pulled from an OCI registry: `oci://HOST/NAME:TAG` or
    /// `oci://HOST/NAME@sha256:...` (see [`crate::oci`] for the formats,
    /// checks and cache), with [`PullOptions::for_reference`]'s options.
    pub fn from_reference(url: &str) -> Result<PluginSpec, Error> {
        let reference = Reference::parse(url).map_err(oci_error)?;
        Self::from_reference_with(&reference, &PullOptions::for_reference(&reference)).map(|(spec, _)| spec)
    }

    /// [`PluginSpec::from_reference`] with explicit options; also returns
    /// what was pulled (digests, variant, whether it was cached).
    pub fn from_reference_with(reference: &Reference, options: &PullOptions) -> Result<(PluginSpec, Pulled), Error> {
        let pulled = pull(reference, options).map_err(oci_error)?;
        Ok((PluginSpec::from_bytes(pulled.module.clone()), pulled))
    }

    /// A plugin as an Istio `WasmPlugin` manifest file describes it (see
    /// [`crate::oci::wasm_plugin`]); a `file://` URL is relative to the
    /// manifest's directory.
    pub fn from_wasm_plugin(path: impl AsRef<Path>) -> Result<PluginSpec, Error> {
        let path = path.as_ref();
        let text = crate::limits::read_regular_file(path, crate::limits::MAX_SCENARIO_BYTES)
            .map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
        let text = String::from_utf8(text)
            .map_err(|_| Error::InvalidArgument(format!("{}: the WasmPlugin manifest is not UTF-8", path.display())))?;
        let manifest =
            WasmPlugin::parse(&text).map_err(|e| Error::InvalidArgument(format!("{}: {e}", path.display())))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::from_wasm_plugin_manifest(&manifest, base)
    }

    /// A plugin from a parsed `WasmPlugin`; `base` resolves relative `file://` URLs.
    pub fn from_wasm_plugin_manifest(manifest: &WasmPlugin, base: &Path) -> Result<PluginSpec, Error> {
        let mismatch = |found: String| {
            Error::Oci(OciError::DigestMismatch {
                what: format!("{} (WasmPlugin {}/{} spec.sha256)", manifest.url, manifest.namespace, manifest.name),
                expected: format!("sha256:{}", manifest.sha256.clone().unwrap_or_default()),
                found,
            })
        };
        let wasm = if manifest.url.starts_with("oci://") {
            // As istio-agent does: pull (by tag or digest), then compare
            // the image's manifest digest with spec.sha256.
            let reference = Reference::parse(&manifest.url).map_err(oci_error)?;
            let options = PullOptions::for_reference(&reference);
            let pulled = pull(&reference, &options).map_err(oci_error)?;
            if let Some(hex) = &manifest.sha256
                && pulled.manifest_digest != format!("sha256:{hex}")
            {
                return Err(mismatch(pulled.manifest_digest));
            }
            pulled.module
        } else if manifest.url.starts_with("file://") {
            let wasm = file_module(&manifest.url, base)?;
            if let Some(hex) = &manifest.sha256
                && sha256_digest(&wasm) != format!("sha256:{hex}")
            {
                return Err(mismatch(sha256_digest(&wasm)));
            }
            wasm
        } else {
            return Err(Error::InvalidArgument(format!(
                "{}: host-sim loads WasmPlugin URLs with oci:// or file://",
                manifest.url
            )));
        };
        let mut spec = PluginSpec::from_bytes(wasm)
            .configuration(manifest.plugin_config.clone())
            .name(format!("{}.{}", manifest.namespace, manifest.name))
            .fail_policy(if manifest.fail_open { FailPolicy::Open } else { FailPolicy::Closed });
        if let Some(root_id) = &manifest.plugin_name {
            spec = spec.root_id(root_id.clone());
        }
        for (k, v) in &manifest.env {
            spec = spec.env(k.clone(), v.clone());
        }
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata:
  name: router
  namespace: edge
spec:
  url: 127.0.0.1:5000/router:v1
  sha256: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
  phase: AUTHN
  priority: 10
  pluginName: router_root
  failStrategy: FAIL_OPEN
  pluginConfig:
    header: x-hello
    n: 2
  vmConfig:
    env:
    - name: MODE
      value: strict
    - name: POD_NAME
      valueFrom: HOST
"#;

    #[test]
    fn a_wasm_plugin_manifest_is_read() {
        let m = WasmPlugin::parse(MANIFEST).unwrap();
        assert_eq!(m.url, "oci://127.0.0.1:5000/router:v1");
        assert_eq!((m.name.as_str(), m.namespace.as_str()), ("router", "edge"));
        assert_eq!(m.plugin_config, r#"{"header":"x-hello","n":2}"#);
        assert_eq!(m.plugin_name.as_deref(), Some("router_root"));
        assert_eq!(m.env, vec![("MODE".to_owned(), "strict".to_owned())]);
        assert!(m.fail_open);
        assert_eq!((m.phase.as_deref(), m.priority), (Some("AUTHN"), Some(10)));
        let wrong = MANIFEST.replace("kind: WasmPlugin", "kind: EnvoyFilter");
        assert!(WasmPlugin::parse(&wrong).unwrap_err().contains("EnvoyFilter"));
        let short = MANIFEST.replace("0123456789abcdef0123", "0123");
        assert!(WasmPlugin::parse(&short).unwrap_err().contains("spec.sha256"));
    }

    #[test]
    fn a_file_url_is_checked_against_sha256() {
        let dir = std::env::temp_dir().join(format!("host-sim-wasmplugin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let module = wat::parse_str(
            r#"(module (memory (export "memory") 1) (func (export "proxy_abi_version_0_2_1"))
               (func (export "malloc") (param i32) (result i32) i32.const 0))"#,
        )
        .unwrap();
        std::fs::write(dir.join("p.wasm"), &module).unwrap();
        let good = sha256_digest(&module)[7..].to_owned();
        let text = |sha: &str| {
            MANIFEST
                .replace("url: 127.0.0.1:5000/router:v1", "url: file://p.wasm")
                .replace("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", sha)
        };
        std::fs::write(dir.join("ok.yaml"), text(&good)).unwrap();
        let spec = PluginSpec::from_wasm_plugin(dir.join("ok.yaml")).unwrap();
        assert_eq!(spec.wasm(), &module[..]);
        assert_eq!(spec.root_id, "router_root");
        assert_eq!(spec.name, "edge.router");
        std::fs::write(dir.join("bad.yaml"), text(&"0".repeat(64))).unwrap();
        let err = PluginSpec::from_wasm_plugin(dir.join("bad.yaml")).unwrap_err().to_string();
        assert!(err.contains("digest mismatch") && err.contains(&good), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
