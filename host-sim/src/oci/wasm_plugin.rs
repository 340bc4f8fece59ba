//! Loading a plugin as an Istio `WasmPlugin` manifest or an `oci://`
//! reference names it.
//!
//! A manifest is read by [`crate::istio`] (one model of the resource, its
//! checks and its mapping onto what Envoy gets); here its module is fetched:
//! `file://` relative to the manifest, `oci://` (the default scheme) pulled
//! through [`crate::oci`], and `spec.sha256` compared with what Istio's agent
//! compares (the module for a file, the image manifest's digest for OCI).

use std::path::Path;

use super::{OciError, PullOptions, Pulled, Reference, pull};
use crate::error::Error;
use crate::istio::{ModuleSource, WasmPlugin, Workload};
use crate::spec::PluginSpec;

fn oci_error(error: OciError) -> Error {
    Error::Oci(error)
}

fn manifest_error(error: crate::istio::ManifestError) -> Error {
    Error::InvalidArgument(error.to_string())
}

/// The module a `WasmPlugin` names, checked against its `sha256`.
pub(crate) fn fetch(manifest: &WasmPlugin) -> Result<Vec<u8>, Error> {
    match manifest.module_source().map_err(manifest_error)? {
        ModuleSource::File(path) => {
            let wasm = crate::limits::read_regular_file(&path, crate::limits::MAX_FILE_BYTES)
                .map_err(|source| Error::Io { path: path.clone(), source })?;
            manifest.check_sha256(&crate::istio::sha256_hex(&wasm), "module").map_err(manifest_error)?;
            Ok(wasm)
        }
        ModuleSource::Oci(reference) => {
            // As istio-agent does: pull (by tag or digest), then compare the
            // image manifest's digest with spec.sha256.
            let reference = Reference::parse(&format!("oci://{reference}")).map_err(oci_error)?;
            let mut options = PullOptions::for_reference(&reference);
            if manifest.spec.image_pull_policy == Some(crate::istio::PullPolicy::Always) {
                options.policy = super::PullPolicy::Always;
            }
            let pulled = pull(&reference, &options).map_err(oci_error)?;
            let digest = pulled.manifest_digest.strip_prefix("sha256:").unwrap_or(&pulled.manifest_digest);
            manifest.check_sha256(digest, "image manifest").map_err(manifest_error)?;
            Ok(pulled.module)
        }
    }
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

    /// A plugin as an Istio `WasmPlugin` manifest file describes it (the
    /// file holds one resource; see [`crate::istio`]); a `file://` URL is
    /// relative to the manifest's directory, an `oci://` one is pulled.
    pub fn from_wasm_plugin(path: impl AsRef<Path>) -> Result<PluginSpec, Error> {
        let path = path.as_ref();
        let mut found = WasmPlugin::from_file(path).map_err(manifest_error)?;
        if found.len() != 1 {
            return Err(Error::InvalidArgument(format!(
                "{}: {} WasmPlugin resources; a plugin is one (several make a chain: [mesh] in a scenario)",
                path.display(),
                found.len()
            )));
        }
        Self::from_wasm_plugin_manifest(&found.remove(0))
    }

    /// A plugin from a parsed `WasmPlugin`, its module fetched and checked.
    pub fn from_wasm_plugin_manifest(manifest: &WasmPlugin) -> Result<PluginSpec, Error> {
        let wasm = fetch(manifest)?;
        manifest.plugin_spec(wasm, &Workload::default()).map_err(manifest_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let good = crate::istio::sha256_hex(&module);
        let text = |sha: &str| {
            format!(
                "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata:\n  name: router\n  namespace: edge\nspec:\n  url: file://p.wasm\n  sha256: {sha}\n  pluginName: router_root\n  pluginConfig: {{ header: x-hello }}\n"
            )
        };
        std::fs::write(dir.join("ok.yaml"), text(&good)).unwrap();
        let spec = PluginSpec::from_wasm_plugin(dir.join("ok.yaml")).unwrap();
        assert_eq!(spec.wasm(), &module[..]);
        assert_eq!(spec.root_id, "router_root");
        assert_eq!(spec.name, "edge.router");
        assert_eq!(spec.configuration, br#"{"header":"x-hello"}"#);
        std::fs::write(dir.join("bad.yaml"), text(&"0".repeat(64))).unwrap();
        let err = PluginSpec::from_wasm_plugin(dir.join("bad.yaml")).unwrap_err().to_string();
        assert!(err.contains("the module's SHA-256 is") && err.contains(&good), "{err}");
        std::fs::write(
            dir.join("two.yaml"),
            format!("{}---\n{}", text(&good), text(&good).replace("router\n", "other\n")),
        )
        .unwrap();
        let err = PluginSpec::from_wasm_plugin(dir.join("two.yaml")).unwrap_err().to_string();
        assert!(err.contains("2 WasmPlugin resources"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
