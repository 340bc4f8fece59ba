//! Plugins by reference: pulling a Proxy-Wasm module from an OCI registry
//! (`oci://HOST/NAME:TAG`, `oci://HOST/NAME@sha256:...`) as Istio's and
//! Envoy Gateway's image fetchers do, verified and cached on disk by digest.
//!
//! Three image formats hold a module, tried in Istio's order
//! (`pkg/wasm/imagefetcher.go`):
//!
//! | variant | manifest | the module |
//! |---|---|---|
//! | Docker (compat) | `application/vnd.docker.distribution.manifest.v2+json` | the last layer, `application/vnd.docker.image.rootfs.diff.tar.gzip`, a gzip tar holding `plugin.wasm` |
//! | OCI compat | an OCI image manifest | the last layer, `application/vnd.oci.image.layer.v1.tar+gzip`, holding `plugin.wasm` |
//! | OCI artifact | an OCI image manifest with exactly two layers | the layer `application/vnd.module.wasm.content.layer.v1+wasm`, the module itself (the other layer is the runtime configuration, `application/vnd.module.wasm.config.v1+json`) |
//!
//! Every download is checked: the manifest against its digest (the one in
//! an `@sha256:` reference, and the one the registry reports), each blob
//! against the digest its descriptor gives, the module against its wasm
//! header. The cache directory ([`cache_dir`]) keeps one module per
//! manifest digest, so a reference by digest is pulled once ever and a tag
//! costs one manifest request.
//!
//! Credentials come from the Docker config file (`$DOCKER_CONFIG/config.json`
//! or `~/.docker/config.json`, `auths` entries) unless given
//! ([`PullOptions::credentials`]). Registries are reached over TLS; plain
//! HTTP only when [`PullOptions::insecure`] says so (a registry on loopback).

mod auth;
mod cache;
mod image;
mod reference;
mod registry;
pub mod wasm_plugin;

use std::path::PathBuf;

pub use auth::{Credentials, docker_config_credentials};
pub use cache::cache_dir;
pub use image::{ParsedManifest, Variant, extract_module, parse_manifest};
pub use reference::Reference;
pub use registry::{Descriptor, Manifest, Registry};

/// The manifest media type of the Docker-compatible variant.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// The config media type of a Docker image.
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// The layer media type of the Docker-compatible variant (a gzip tar).
pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
/// The OCI image manifest media type.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// The layer media type of the OCI compat variant (a gzip tar).
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// The OCI artifact variant's runtime configuration (config and layer).
pub const WASM_CONFIG: &str = "application/vnd.module.wasm.config.v1+json";
/// The OCI artifact variant's module layer (the module bytes themselves).
pub const WASM_LAYER: &str = "application/vnd.module.wasm.content.layer.v1+wasm";
/// The file the gzip tar variants hold the module in.
pub const PLUGIN_FILE: &str = "plugin.wasm";

pub use crate::error::OciError;
pub use crate::istio::manifest::is_sha256_hex;

/// Whether a digest string is `sha256:` and 64 lowercase hex digits.
pub fn is_sha256_digest(digest: &str) -> bool {
    digest.strip_prefix("sha256:").is_some_and(is_sha256_hex)
}

/// `sha256:` and the hex SHA-256 of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", crate::istio::sha256_hex(bytes))
}

/// Checks `bytes` against `expected` (`sha256:HEX`).
pub fn verify_digest(what: &str, bytes: &[u8], expected: &str) -> Result<(), OciError> {
    let found = sha256_digest(bytes);
    if found != expected {
        return Err(OciError::DigestMismatch { what: what.to_owned(), expected: expected.to_owned(), found });
    }
    Ok(())
}

/// Whether a pull asks the registry when a copy is cached.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PullPolicy {
    /// A reference by digest is served from the cache without asking the
    /// registry; a tag is resolved once per process (Istio's
    /// `IfNotPresent`, its default).
    #[default]
    IfNotPresent,
    /// The registry is asked for the manifest every time (blobs already
    /// cached by digest are not downloaded again).
    Always,
}

/// How to pull.
#[derive(Clone, Debug)]
pub struct PullOptions {
    /// Plain HTTP instead of TLS.
    pub insecure: bool,
    /// The credentials (`None`: from the Docker config file, else anonymous).
    pub credentials: Option<Credentials>,
    /// The cache directory (`None`: no disk cache).
    pub cache: Option<PathBuf>,
    /// When to ask the registry.
    pub policy: PullPolicy,
}

impl PullOptions {
    /// The options host-sim uses for a reference in a scenario file or a
    /// [`PluginSpec`](crate::PluginSpec): TLS, except for a registry on a
    /// loopback address (Docker and containerd treat `127.0.0.0/8` as an
    /// insecure registry by default) or one listed in
    /// `HOST_SIM_INSECURE_REGISTRIES` (comma-separated hosts, `*` for all,
    /// like istio-agent's `WASM_INSECURE_REGISTRIES`); Docker config
    /// credentials; the disk cache at [`cache_dir`]; [`PullPolicy::IfNotPresent`].
    pub fn for_reference(reference: &Reference) -> PullOptions {
        let host = reference.host();
        let listed = std::env::var("HOST_SIM_INSECURE_REGISTRIES")
            .map(|list| list.split(',').map(str::trim).any(|h| h == "*" || h == reference.registry() || h == host))
            .unwrap_or(false);
        PullOptions {
            insecure: listed || reference.is_loopback(),
            credentials: None,
            cache: cache_dir(),
            policy: PullPolicy::IfNotPresent,
        }
    }
}

/// A pulled module.
#[derive(Clone, Debug)]
pub struct Pulled {
    /// The module bytes.
    pub module: Vec<u8>,
    /// The image manifest's digest (`sha256:...`): what Istio's `WasmPlugin`
    /// `sha256` field is compared with for an `oci://` URL.
    pub manifest_digest: String,
    /// The module's own digest (`sha256:...`).
    pub module_digest: String,
    /// The image format the module came in.
    pub variant: Variant,
    /// Whether the module came from the disk cache.
    pub cached: bool,
}

/// Pulls the module `reference` names (see the [module docs](self)).
pub fn pull(reference: &Reference, options: &PullOptions) -> Result<Pulled, OciError> {
    if options.policy == PullPolicy::IfNotPresent
        && let Some(dir) = &options.cache
    {
        let digest = reference.digest().map(str::to_owned).or_else(|| cache::resolved_tag(reference));
        if let Some(digest) = digest
            && let Some(hit) = cache::lookup(dir, &digest)?
        {
            return Ok(hit);
        }
    }
    let registry = Registry::connect(reference, options.insecure, options.credentials.clone())?;
    let manifest = registry.manifest(reference)?;
    if let Some(dir) = &options.cache
        && let Some(hit) = cache::lookup(dir, &manifest.digest)?
    {
        cache::remember_tag(reference, &manifest.digest);
        return Ok(hit);
    }
    let parsed = parse_manifest(&manifest.bytes, &manifest.media_type)?;
    let (module, variant) = extract_module(&parsed, |descriptor| registry.blob(reference, descriptor))?;
    let pulled = Pulled {
        module_digest: sha256_digest(&module),
        module,
        manifest_digest: manifest.digest.clone(),
        variant,
        cached: false,
    };
    if let Some(dir) = &options.cache {
        cache::store(dir, &pulled)?;
    }
    cache::remember_tag(reference, &manifest.digest);
    Ok(pulled)
}

/// How a scenario's `plugin` is loaded when it is not a module file: an
/// `oci://` reference is pulled ([`PluginSpec::from_reference`]), a `.yaml`
/// or `.yml` file is a `WasmPlugin` manifest
/// ([`PluginSpec::from_wasm_plugin`]); `None` for a module file.
///
/// [`PluginSpec::from_reference`]: crate::PluginSpec::from_reference
/// [`PluginSpec::from_wasm_plugin`]: crate::PluginSpec::from_wasm_plugin
pub(crate) fn scenario_plugin(plugin: &std::path::Path) -> Option<Result<crate::PluginSpec, crate::Error>> {
    let text = plugin.to_str()?;
    if text.starts_with("oci://") {
        return Some(crate::PluginSpec::from_reference(text));
    }
    let manifest = plugin.extension().is_some_and(|e| e == "yaml" || e == "yml");
    manifest.then(|| crate::PluginSpec::from_wasm_plugin(plugin))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_checked_and_formatted() {
        let d = sha256_digest(b"abc");
        assert_eq!(d, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert!(is_sha256_digest(&d));
        assert!(!is_sha256_digest("sha256:ABC"));
        assert!(!is_sha256_digest(&d.to_uppercase()));
        assert!(verify_digest("x", b"abc", &d).is_ok());
        let err = verify_digest("the layer", b"abd", &d).unwrap_err().to_string();
        assert!(err.starts_with("digest mismatch: the layer should be sha256:ba78"), "{err}");
    }
}
