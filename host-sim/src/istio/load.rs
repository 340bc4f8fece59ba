//! A `WasmPlugin` as the [`PluginSpec`] Envoy would get from Istio.

use std::path::{Path, PathBuf};

use super::ManifestError;
use super::chain::Workload;
use super::manifest::{EnvVar, FailStrategy, WasmPlugin};
use crate::failure::{FailPolicy, Rebuild};
use crate::spec::PluginSpec;

/// Where a `WasmPlugin`'s module comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModuleSource {
    /// `file://PATH`: absolute, or relative to the manifest's folder.
    File(PathBuf),
    /// `oci://REFERENCE`, or a URL without a scheme (Istio's default): the
    /// reference without the scheme.
    Oci(String),
}

impl WasmPlugin {
    /// Where the module comes from. `http://` and `https://` URLs are
    /// refused: host-sim runs offline (download the module and use
    /// `file://`).
    pub fn module_source(&self) -> Result<ModuleSource, ManifestError> {
        let url = self.spec.url.as_str();
        if let Some(path) = url.strip_prefix("file://") {
            let path = Path::new(path);
            let resolved = match (&self.source, path.is_relative()) {
                (Some(manifest), true) => manifest.parent().unwrap_or(Path::new("")).join(path),
                _ => path.to_path_buf(),
            };
            return Ok(ModuleSource::File(resolved));
        }
        if let Some(reference) = url.strip_prefix("oci://") {
            return Ok(ModuleSource::Oci(reference.to_owned()));
        }
        if url.starts_with("http://") || url.starts_with("https://") {
            return Err(self.error(format!(
                "`spec.url`: `{url}` is fetched over the network, which host-sim does not do: \
                 download the module and use a file:// URL (or push it to a registry and use oci://)"
            )));
        }
        match url.split_once("://") {
            Some((scheme, _)) => Err(self
                .error(format!("`spec.url`: the scheme `{scheme}` is not one Istio accepts (file, oci, http, https)"))),
            None => Ok(ModuleSource::Oci(url.to_owned())),
        }
    }

    /// The plugin as Envoy gets it from Istio, with the module bytes given
    /// (read from [`module_source`](WasmPlugin::module_source), their
    /// checksum checked with [`check_sha256`](WasmPlugin::check_sha256)):
    ///
    /// - `name` is `<namespace>.<name>`, `root_id` is `pluginName`;
    /// - the configuration is `pluginConfig` as JSON, none when it is empty;
    /// - the VM's environment is the `vmConfig.env` values, and the proxy's
    ///   variables named with `valueFrom: HOST` that `workload.env` has (the
    ///   others are left out, as Envoy does); Istio's own `ISTIO_META_*`
    ///   variables are stripped by the Istio agent before Envoy sees them;
    /// - `failStrategy`: `FAIL_CLOSE` is fail closed, `FAIL_OPEN` fail open,
    ///   `FAIL_RELOAD` fail closed with a rebuild of the VM for the next
    ///   stream, at most one per second (Envoy's reload backoff starts at
    ///   1 s).
    pub fn plugin_spec(&self, wasm: Vec<u8>, workload: &Workload) -> Result<PluginSpec, ManifestError> {
        let mut spec = PluginSpec::from_bytes(wasm)
            .name(self.envoy_name())
            .root_id(self.spec.plugin_name.clone())
            .configuration(self.configuration()?);
        for (name, value) in self.environment(workload) {
            spec = spec.env(name, value);
        }
        let (policy, rebuild) = self.failure();
        spec = spec.fail_policy(policy);
        if let Some(rebuild) = rebuild {
            spec = spec.rebuild(rebuild);
        }
        Ok(spec)
    }

    /// The plugin configuration Envoy gets: `pluginConfig` as JSON, none
    /// when it is absent or empty.
    pub fn configuration(&self) -> Result<Vec<u8>, ManifestError> {
        match &self.spec.plugin_config {
            Some(map) if !map.is_empty() => {
                serde_json::to_vec(map).map_err(|e| self.error(format!("`spec.pluginConfig`: {e}")))
            }
            _ => Ok(Vec::new()),
        }
    }

    /// The VM's environment: the `vmConfig.env` values, and the proxy's
    /// variables named with `valueFrom: HOST` that `workload.env` has.
    pub fn environment(&self, workload: &Workload) -> Vec<(String, String)> {
        self.spec
            .env
            .iter()
            .filter_map(|var| match var {
                EnvVar::Inline { name, value } => Some((name.clone(), value.clone())),
                EnvVar::Host { name } => workload.env.get(name).map(|value| (name.clone(), value.clone())),
            })
            .collect()
    }

    /// `failStrategy` as the fail policy, and the rebuild `FAIL_RELOAD` adds.
    pub fn failure(&self) -> (FailPolicy, Option<Rebuild>) {
        match self.spec.fail_strategy {
            FailStrategy::FailClose => (FailPolicy::Closed, None),
            FailStrategy::FailOpen => (FailPolicy::Open, None),
            FailStrategy::FailReload => (FailPolicy::Closed, Some(Rebuild::new(1, std::time::Duration::from_secs(1)))),
        }
    }

    /// `spec.sha256`, when set, against the checksum of what was fetched:
    /// `actual` is the lowercase hex SHA-256 of the module for a `file://`
    /// URL, of the image manifest for an `oci://` one (Istio's agent compares
    /// the digest its image fetcher reports, `pkg/wasm/cache.go`). Istio
    /// passes no checksum for a local file; host-sim checks it anyway, so
    /// that a stale checksum is caught before the manifest ships.
    pub fn check_sha256(&self, actual: &str, what: &str) -> Result<(), ManifestError> {
        match &self.spec.sha256 {
            Some(expected) if expected != actual => {
                Err(self
                    .error(format!("`spec.sha256`: the {what}'s SHA-256 is {actual}, the manifest says {expected}")))
            }
            _ => Ok(()),
        }
    }

    /// The plugin as Envoy gets it from Istio, its module read from a
    /// `file://` URL and checked against `spec.sha256` (see
    /// [`plugin_spec`](WasmPlugin::plugin_spec)).
    pub fn plugin_spec_from_file(&self, workload: &Workload) -> Result<PluginSpec, ManifestError> {
        match self.module_source()? {
            ModuleSource::File(path) => {
                let wasm = crate::limits::read_regular_file(&path, crate::limits::MAX_FILE_BYTES)
                    .map_err(|e| self.error(format!("`spec.url`: cannot read {}: {e}", path.display())))?;
                self.check_sha256(&sha256_hex(&wasm), "module")?;
                self.plugin_spec(wasm, workload)
            }
            ModuleSource::Oci(reference) => {
                Err(self
                    .error(format!("`spec.url`: oci://{reference} is an OCI image; this call reads file:// URLs only")))
            }
        }
    }

    pub(super) fn error(&self, message: String) -> ManifestError {
        ManifestError {
            source: self.source.clone(),
            document: None,
            message: format!("WasmPlugin {}/{}: {message}", self.namespace, self.name),
        }
    }
}

/// The lowercase hex SHA-256 of `bytes`, as `WasmPlugin.sha256` spells it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
