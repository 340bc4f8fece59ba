//! The OCI image layout on disk (`oci-layout`, `index.json`,
//! `blobs/sha256/`): written by `package`, read by `push`.

use std::path::{Path, PathBuf};

use crate::error::{Failure, Result, io};
use crate::image::Image;

/// The image index media type.
const INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// The tag annotation of an index entry.
const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// Writes `image` as a layout at `dir` (which must not exist, or be
/// empty), tagged `tag`. Everything goes to a sibling temporary directory
/// first, renamed into place at the end: an error leaves nothing behind.
pub fn write(dir: &Path, image: &Image, tag: &str) -> Result<()> {
    if let Ok(mut entries) = std::fs::read_dir(dir)
        && entries.next().is_some()
    {
        return Err(Failure::new(format!("{} exists and is not empty", dir.display())));
    }
    let name = dir.file_name().ok_or_else(|| Failure::new(format!("{} is not a directory name", dir.display())))?;
    let temporary = dir.with_file_name(format!(".{}.tmp{}", name.to_string_lossy(), std::process::id()));
    let result = write_into(&temporary, image, tag).and_then(|()| {
        if dir.exists() {
            std::fs::remove_dir(dir).map_err(io(dir))?;
        }
        std::fs::rename(&temporary, dir).map_err(io(dir))
    });
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&temporary);
    }
    result
}

fn write_into(dir: &Path, image: &Image, tag: &str) -> Result<()> {
    let blobs = dir.join("blobs").join("sha256");
    std::fs::create_dir_all(&blobs).map_err(io(&blobs))?;
    let put = |path: PathBuf, bytes: &[u8]| std::fs::write(&path, bytes).map_err(io(&path));
    for (digest, bytes) in image.blobs.iter().chain(std::iter::once(&(image.digest.clone(), image.manifest.clone()))) {
        put(blobs.join(hex(digest)?), bytes)?;
    }
    put(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": INDEX,
        "manifests": [{
            "mediaType": image.media_type,
            "digest": image.digest,
            "size": image.manifest.len(),
            "annotations": {REF_NAME: tag},
        }],
    });
    put(dir.join("index.json"), index.to_string().as_bytes())
}

fn hex(digest: &str) -> Result<&str> {
    digest
        .strip_prefix("sha256:")
        .filter(|_| host_sim::oci::is_sha256_digest(digest))
        .ok_or_else(|| Failure::new(format!("{digest:?} is not a sha256 digest")))
}

/// A layout read back: its manifest (by tag, or its only one) and blobs,
/// every blob checked against its digest.
pub fn read(dir: &Path, tag: Option<&str>) -> Result<Image> {
    let index_path = dir.join("index.json");
    let index = std::fs::read(&index_path).map_err(io(&index_path))?;
    let index: serde_json::Value =
        serde_json::from_slice(&index).map_err(|e| Failure::new(format!("{}: not JSON: {e}", index_path.display())))?;
    let manifests = index["manifests"].as_array().cloned().unwrap_or_default();
    let entry = match tag {
        Some(tag) => manifests.iter().find(|m| m["annotations"][REF_NAME] == tag),
        None if manifests.len() == 1 => manifests.first(),
        None => None,
    }
    .ok_or_else(|| Failure::new(format!("{}: no single image (or none tagged {tag:?})", index_path.display())))?;
    let digest = entry["digest"].as_str().unwrap_or_default().to_owned();
    let blob = |digest: &str| -> Result<Vec<u8>> {
        let path = dir.join("blobs").join("sha256").join(hex(digest)?);
        let bytes = host_sim::limits::read_regular_file(&path, host_sim::limits::MAX_FILE_BYTES).map_err(io(&path))?;
        host_sim::oci::verify_digest(&path.display().to_string(), &bytes, digest)?;
        Ok(bytes)
    };
    let manifest = blob(&digest)?;
    let served_as = entry["mediaType"].as_str().unwrap_or(host_sim::oci::OCI_MANIFEST);
    let parsed = host_sim::oci::parse_manifest(&manifest, served_as)?;
    let media_type = match parsed.media_type.as_deref() {
        Some(host_sim::oci::DOCKER_MANIFEST) => host_sim::oci::DOCKER_MANIFEST,
        Some(host_sim::oci::OCI_MANIFEST) => host_sim::oci::OCI_MANIFEST,
        other => return Err(Failure::new(format!("unsupported manifest media type {other:?}"))),
    };
    let mut blobs: Vec<(String, Vec<u8>)> = Vec::new();
    for d in std::iter::once(&parsed.config).chain(&parsed.layers) {
        if !blobs.iter().any(|(have, _)| *have == d.digest) {
            blobs.push((d.digest.clone(), blob(&d.digest)?));
        }
    }
    Ok(Image { manifest, media_type, digest, blobs })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Format;

    #[test]
    fn a_layout_round_trips_and_damage_is_found() {
        let root = std::env::temp_dir().join(format!("sluice-layout-test-{}", std::process::id()));
        let dir = root.join("image");
        let image = crate::image::build(b"\0asm\x01\0\0\0", "p", "0.2.1", Format::Oci).unwrap();
        write(&dir, &image, "v1").unwrap();
        let back = read(&dir, Some("v1")).unwrap();
        assert_eq!((back.digest.as_str(), &back.manifest), (image.digest.as_str(), &image.manifest));
        assert_eq!(read(&dir, None).unwrap().digest, image.digest);
        assert!(read(&dir, Some("v2")).is_err());
        assert!(write(&dir, &image, "v1").unwrap_err().to_string().contains("not empty"));
        let module = dir.join("blobs/sha256").join(&image.blobs[1].0[7..]);
        std::fs::write(&module, b"\0asm\x01\0\0\x01").unwrap();
        assert!(read(&dir, None).unwrap_err().to_string().contains("digest mismatch"));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
