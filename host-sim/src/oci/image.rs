//! Finding the module in an image manifest, by Istio's rules (see the
//! [module docs](super)).

use std::io::Read;

use serde::Deserialize;

use super::{
    DOCKER_LAYER, DOCKER_MANIFEST, Descriptor, OCI_LAYER, OCI_MANIFEST, OciError, PLUGIN_FILE, WASM_CONFIG, WASM_LAYER,
};
use crate::limits::MAX_FILE_BYTES;

/// The image format a module came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Variant {
    /// The OCI artifact variant: `application/vnd.module.wasm.content.layer.v1+wasm`.
    OciArtifact,
    /// The OCI compat variant: a `tar+gzip` layer holding `plugin.wasm`.
    OciCompat,
    /// The Docker variant: a Docker manifest, a gzip tar layer holding `plugin.wasm`.
    Docker,
}

impl Variant {
    /// `oci`, `oci-compat` or `docker`.
    pub fn name(self) -> &'static str {
        match self {
            Variant::OciArtifact => "oci",
            Variant::OciCompat => "oci-compat",
            Variant::Docker => "docker",
        }
    }
}

/// An image manifest's fields that say where the module is.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ParsedManifest {
    /// Always 2.
    pub schema_version: u32,
    /// The media type (OCI manifests may leave it out).
    #[serde(default)]
    pub media_type: Option<String>,
    /// The config blob.
    pub config: Descriptor,
    /// The layers, in order.
    pub layers: Vec<Descriptor>,
    /// Manifest annotations.
    #[serde(default)]
    pub annotations: std::collections::BTreeMap<String, String>,
}

/// Parses an image manifest (`served_as`: the media type the registry or
/// the layout gave, used when the manifest has none).
pub fn parse_manifest(bytes: &[u8], served_as: &str) -> Result<ParsedManifest, OciError> {
    let mut manifest: ParsedManifest = serde_json::from_slice(bytes)
        .map_err(|e| OciError::Format(format!("the manifest is not an image manifest: {e}")))?;
    if manifest.schema_version != 2 {
        return Err(OciError::Format(format!("manifest schemaVersion {} (expected 2)", manifest.schema_version)));
    }
    if manifest.media_type.is_none() {
        manifest.media_type = Some(served_as.to_owned());
    }
    for d in std::iter::once(&manifest.config).chain(&manifest.layers) {
        if !super::is_sha256_digest(&d.digest) {
            return Err(OciError::Format(format!("the descriptor digest {:?} is not sha256:HEX", d.digest)));
        }
    }
    Ok(manifest)
}

/// The module in `manifest`, fetching blobs with `blob` (which checks
/// their digests): the Docker variant for a Docker manifest, else the OCI
/// compat variant, else the OCI artifact variant, as Istio tries them.
pub fn extract_module(
    manifest: &ParsedManifest,
    mut blob: impl FnMut(&Descriptor) -> Result<Vec<u8>, OciError>,
) -> Result<(Vec<u8>, Variant), OciError> {
    let media_type = manifest.media_type.as_deref().unwrap_or(OCI_MANIFEST);
    let (module, variant) = if media_type == DOCKER_MANIFEST {
        let layer = last_layer(manifest, DOCKER_LAYER).map_err(|e| OciError::Format(format!("docker variant: {e}")))?;
        (plugin_in_tar_gz(&blob(layer)?)?, Variant::Docker)
    } else if media_type == OCI_MANIFEST {
        match last_layer(manifest, OCI_LAYER) {
            Ok(layer) => (plugin_in_tar_gz(&blob(layer)?)?, Variant::OciCompat),
            Err(compat) => {
                let layer = artifact_layer(manifest).map_err(|artifact| {
                    OciError::Format(format!("neither the compat variant ({compat}) nor the oci variant ({artifact})"))
                })?;
                (blob(layer)?, Variant::OciArtifact)
            }
        }
    } else {
        return Err(OciError::Format(format!("unknown manifest media type {media_type}")));
    };
    if module.len() < 8 || module[..4] != *b"\0asm" {
        return Err(OciError::Format(format!(
            "the {} image's module is not a wasm binary (no \\0asm header)",
            variant.name()
        )));
    }
    Ok((module, variant))
}

fn last_layer<'m>(manifest: &'m ParsedManifest, media_type: &str) -> Result<&'m Descriptor, String> {
    let layer = manifest.layers.last().ok_or("the image has no layers")?;
    if layer.media_type != media_type {
        return Err(format!("its last layer is {}, expected {media_type}", layer.media_type));
    }
    Ok(layer)
}

fn artifact_layer(manifest: &ParsedManifest) -> Result<&Descriptor, String> {
    if manifest.layers.len() != 2 {
        return Err(format!(
            "Istio wants exactly 2 layers ({WASM_CONFIG} and {WASM_LAYER}), the image has {}",
            manifest.layers.len()
        ));
    }
    manifest.layers.iter().find(|l| l.media_type == WASM_LAYER).ok_or_else(|| format!("no {WASM_LAYER} layer"))
}

/// `plugin.wasm` (by its base name, as Istio looks for it) in a gzip tar.
fn plugin_in_tar_gz(bytes: &[u8]) -> Result<Vec<u8>, OciError> {
    let gz = flate2::read::GzDecoder::new(bytes).take(MAX_FILE_BYTES + 1);
    let mut archive = tar::Archive::new(gz);
    let entries = archive.entries().map_err(|e| OciError::Format(format!("the layer is not a gzip tar: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| OciError::Format(format!("the layer is not a gzip tar: {e}")))?;
        let path = entry.path().map_err(|e| OciError::Format(format!("a tar entry has a bad name: {e}")))?;
        if path.file_name().is_some_and(|n| n == PLUGIN_FILE) && entry.header().entry_type().is_file() {
            let mut out = Vec::new();
            entry.read_to_end(&mut out).map_err(|e| OciError::Format(format!("reading {PLUGIN_FILE}: {e}")))?;
            return Ok(out);
        }
    }
    Err(OciError::Format(format!("{PLUGIN_FILE} is not in the layer")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::sha256_digest;

    const MODULE: &[u8] = b"\0asm\x01\0\0\0";

    fn descriptor(media_type: &str, bytes: &[u8]) -> Descriptor {
        Descriptor {
            media_type: media_type.into(),
            digest: sha256_digest(bytes),
            size: bytes.len() as u64,
            annotations: Default::default(),
        }
    }

    fn tar_gz(name: &str, bytes: &[u8]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, name, bytes).unwrap();
        let tar = builder.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, &tar).unwrap();
        gz.finish().unwrap()
    }

    fn manifest(media_type: &str, layers: Vec<Descriptor>) -> ParsedManifest {
        ParsedManifest {
            schema_version: 2,
            media_type: Some(media_type.into()),
            config: descriptor(WASM_CONFIG, b"{}"),
            layers,
            annotations: Default::default(),
        }
    }

    fn blobs(all: Vec<Vec<u8>>) -> impl FnMut(&Descriptor) -> Result<Vec<u8>, OciError> {
        move |d| {
            all.iter()
                .find(|b| sha256_digest(b) == d.digest)
                .cloned()
                .ok_or(OciError::NotFound { reference: d.digest.clone(), message: "no blob".into() })
        }
    }

    #[test]
    fn each_variant_yields_its_module() {
        let layer = tar_gz("./plugin.wasm", MODULE);
        let docker = manifest(DOCKER_MANIFEST, vec![descriptor(DOCKER_LAYER, &layer)]);
        assert_eq!(extract_module(&docker, blobs(vec![layer.clone()])).unwrap(), (MODULE.to_vec(), Variant::Docker));
        let compat = manifest(OCI_MANIFEST, vec![descriptor(OCI_LAYER, &layer)]);
        assert_eq!(extract_module(&compat, blobs(vec![layer])).unwrap().1, Variant::OciCompat);
        let artifact = manifest(OCI_MANIFEST, vec![descriptor(WASM_CONFIG, b"{}"), descriptor(WASM_LAYER, MODULE)]);
        assert_eq!(
            extract_module(&artifact, blobs(vec![b"{}".to_vec(), MODULE.to_vec()])).unwrap(),
            (MODULE.to_vec(), Variant::OciArtifact)
        );
    }

    #[test]
    fn images_without_a_module_say_why() {
        let one = manifest(OCI_MANIFEST, vec![descriptor(WASM_LAYER, MODULE)]);
        let err = extract_module(&one, blobs(vec![MODULE.to_vec()])).unwrap_err().to_string();
        assert!(err.contains("exactly 2 layers") && err.contains("the image has 1"), "{err}");
        let other = tar_gz("other.wasm", MODULE);
        let docker = manifest(DOCKER_MANIFEST, vec![descriptor(DOCKER_LAYER, &other)]);
        let err = extract_module(&docker, blobs(vec![other])).unwrap_err().to_string();
        assert!(err.contains("plugin.wasm is not in the layer"), "{err}");
        let text = tar_gz("plugin.wasm", b"not wasm");
        let docker = manifest(DOCKER_MANIFEST, vec![descriptor(DOCKER_LAYER, &text)]);
        let err = extract_module(&docker, blobs(vec![text])).unwrap_err().to_string();
        assert!(err.contains("not a wasm binary"), "{err}");
        assert!(parse_manifest(b"{\"schemaVersion\":1}", OCI_MANIFEST).is_err());
        let bad = br#"{"schemaVersion":2,"config":{"mediaType":"x","digest":"md5:00","size":1},"layers":[]}"#;
        assert!(parse_manifest(bad, OCI_MANIFEST).unwrap_err().to_string().contains("md5:00"));
    }
}
