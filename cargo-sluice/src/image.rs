//! Building a plugin image, byte for byte deterministic: the same module,
//! name and format give the same manifest digest.
//!
//! The OCI variant is what Istio's and Envoy Gateway's fetchers take as
//! the "oci" variant: the manifest's config is the runtime configuration
//! (`application/vnd.module.wasm.config.v1+json`), and the layers are that
//! same configuration blob and the module
//! (`application/vnd.module.wasm.content.layer.v1+wasm`): their fetchers
//! require exactly two layers, one of them the module. The Docker variant
//! is a Docker image manifest whose one layer is a gzip tar holding
//! `plugin.wasm` (fixed mtime 0, owner 0, mode 0644, no gzip file name).

use std::collections::BTreeMap;
use std::io::Write;

use host_sim::oci::{DOCKER_CONFIG, DOCKER_LAYER, DOCKER_MANIFEST, OCI_MANIFEST, PLUGIN_FILE, WASM_CONFIG, WASM_LAYER};
use serde::Serialize;

use crate::cli::Format;
use crate::error::{Failure, Result};

/// The annotation (OCI) or label (Docker) with the Proxy-Wasm ABI version.
pub const ABI_ANNOTATION: &str = "io.github.sluice-rs.proxy-wasm.abi-version";
/// The annotation (OCI) or label (Docker) with the plugin's name.
pub const NAME_ANNOTATION: &str = "org.opencontainers.image.title";

/// A built image: its manifest and blobs.
#[derive(Clone, Debug)]
pub struct Image {
    /// The manifest bytes.
    pub manifest: Vec<u8>,
    /// The manifest media type.
    pub media_type: &'static str,
    /// The manifest digest.
    pub digest: String,
    /// The blobs the manifest references (config first), by digest.
    pub blobs: Vec<(String, Vec<u8>)>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    media_type: &'static str,
    digest: String,
    size: usize,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<&'static str, String>,
}

impl Descriptor {
    fn of(media_type: &'static str, bytes: &[u8]) -> Descriptor {
        Descriptor {
            media_type,
            digest: host_sim::oci::sha256_digest(bytes),
            size: bytes.len(),
            annotations: BTreeMap::new(),
        }
    }

    fn titled(mut self, title: &str) -> Descriptor {
        self.annotations.insert("org.opencontainers.image.title", title.to_owned());
        self
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ManifestJson {
    schema_version: u32,
    media_type: &'static str,
    config: Descriptor,
    layers: Vec<Descriptor>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<&'static str, String>,
}

fn json(value: &impl Serialize) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| Failure::new(format!("cannot write JSON: {e}")))
}

/// The image of `module` (checked to be Proxy-Wasm by the caller), with
/// ABI version `abi` (`0.2.1`) and plugin name `name`.
pub fn build(module: &[u8], name: &str, abi: &str, format: Format) -> Result<Image> {
    match format {
        Format::Oci => oci(module, name, abi),
        Format::Docker => docker(module, name, abi),
    }
}

fn oci(module: &[u8], name: &str, abi: &str) -> Result<Image> {
    // The runtime configuration of the Wasm artifact image format: the
    // target runtime, the ABI versions, runtime-specific config.
    let config = json(&serde_json::json!({
        "type": "envoy_proxy",
        "abiVersions": [format!("proxy_abi_version_{}", abi.replace('.', "_"))],
        "config": {},
    }))?;
    let manifest = ManifestJson {
        schema_version: 2,
        media_type: OCI_MANIFEST,
        config: Descriptor::of(WASM_CONFIG, &config),
        layers: vec![
            Descriptor::of(WASM_CONFIG, &config).titled("runtime-config.json"),
            Descriptor::of(WASM_LAYER, module).titled(PLUGIN_FILE),
        ],
        annotations: BTreeMap::from([(ABI_ANNOTATION, abi.to_owned()), (NAME_ANNOTATION, name.to_owned())]),
    };
    let manifest = json(&manifest)?;
    Ok(Image {
        digest: host_sim::oci::sha256_digest(&manifest),
        manifest,
        media_type: OCI_MANIFEST,
        blobs: vec![
            (host_sim::oci::sha256_digest(&config), config),
            (host_sim::oci::sha256_digest(module), module.to_vec()),
        ],
    })
}

/// A tar holding `plugin.wasm`, fixed metadata.
fn plugin_tar(module: &[u8]) -> Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_ustar();
    header.set_size(module.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_uid(0);
    header.set_gid(0);
    header.set_entry_type(tar::EntryType::Regular);
    builder
        .append_data(&mut header, PLUGIN_FILE, module)
        .and_then(|()| builder.into_inner())
        .map_err(|e| Failure::new(format!("cannot write the layer: {e}")))
}

/// Gzip with no file name and mtime 0.
fn gzip(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut gz = flate2::GzBuilder::new().mtime(0).write(Vec::new(), flate2::Compression::best());
    gz.write_all(bytes).and_then(|()| gz.finish()).map_err(|e| Failure::new(format!("cannot compress the layer: {e}")))
}

fn docker(module: &[u8], name: &str, abi: &str) -> Result<Image> {
    let tar = plugin_tar(module)?;
    let layer = gzip(&tar)?;
    // A Docker image configuration: the layer's uncompressed digest as its
    // diff id, the ABI version and name as labels (Docker manifests have no
    // annotations).
    let config = json(&serde_json::json!({
        "architecture": "wasm",
        "os": "wasip1",
        "config": {"Labels": {ABI_ANNOTATION: abi, NAME_ANNOTATION: name}},
        "rootfs": {"type": "layers", "diff_ids": [host_sim::oci::sha256_digest(&tar)]},
    }))?;
    let manifest = ManifestJson {
        schema_version: 2,
        media_type: DOCKER_MANIFEST,
        config: Descriptor::of(DOCKER_CONFIG, &config),
        layers: vec![Descriptor::of(DOCKER_LAYER, &layer)],
        annotations: BTreeMap::new(),
    };
    let manifest = json(&manifest)?;
    Ok(Image {
        digest: host_sim::oci::sha256_digest(&manifest),
        manifest,
        media_type: DOCKER_MANIFEST,
        blobs: vec![(host_sim::oci::sha256_digest(&config), config), (host_sim::oci::sha256_digest(&layer), layer)],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use host_sim::oci::{Variant, extract_module, parse_manifest};

    const MODULE: &[u8] = b"\0asm\x01\0\0\0";

    fn extracted(image: &Image) -> (Vec<u8>, Variant) {
        let parsed = parse_manifest(&image.manifest, image.media_type).unwrap();
        extract_module(&parsed, |d| {
            let blob = image.blobs.iter().find(|(digest, _)| *digest == d.digest).map(|(_, b)| b.clone()).unwrap();
            host_sim::oci::verify_digest("blob", &blob, &d.digest)?;
            Ok(blob)
        })
        .unwrap()
    }

    #[test]
    fn both_formats_hold_the_module_as_istio_reads_it() {
        let oci = build(MODULE, "p", "0.2.1", Format::Oci).unwrap();
        assert_eq!(extracted(&oci), (MODULE.to_vec(), Variant::OciArtifact));
        let docker = build(MODULE, "p", "0.2.1", Format::Docker).unwrap();
        assert_eq!(extracted(&docker), (MODULE.to_vec(), Variant::Docker));
        let manifest: serde_json::Value = serde_json::from_slice(&oci.manifest).unwrap();
        assert_eq!(manifest["config"]["mediaType"], WASM_CONFIG);
        assert_eq!(manifest["annotations"][ABI_ANNOTATION], "0.2.1");
        assert_eq!(manifest["annotations"][NAME_ANNOTATION], "p");
    }

    #[test]
    fn the_same_input_gives_the_same_digest() {
        for format in [Format::Oci, Format::Docker] {
            let a = build(MODULE, "p", "0.2.1", format).unwrap();
            let b = build(MODULE, "p", "0.2.1", format).unwrap();
            assert_eq!(a.digest, b.digest);
            assert_eq!(a.manifest, b.manifest);
            let renamed = build(MODULE, "q", "0.2.1", format).unwrap();
            assert_ne!(a.digest, renamed.digest, "the name is part of the image");
        }
        let gz = gzip(b"x").unwrap();
        assert_eq!(&gz[4..8], &[0, 0, 0, 0], "gzip mtime 0");
        assert_eq!(gz[3] & 0x08, 0, "no file name in the gzip header");
    }
}
