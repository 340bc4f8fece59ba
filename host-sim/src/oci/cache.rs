//! The disk cache of pulled modules, by manifest digest, and the tags this
//! process resolved.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use serde::{Deserialize, Serialize};

use super::{OciError, Pulled, Reference, Variant, sha256_digest};

/// Where pulled modules are kept: `$HOST_SIM_OCI_CACHE_DIR`, else
/// `host-sim-oci` in the system temporary directory; `None` when
/// `HOST_SIM_NO_DISK_CACHE` is set.
pub fn cache_dir() -> Option<PathBuf> {
    if std::env::var_os("HOST_SIM_NO_DISK_CACHE").is_some() {
        return None;
    }
    Some(
        std::env::var_os("HOST_SIM_OCI_CACHE_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| std::env::temp_dir().join("host-sim-oci")),
    )
}

/// What is kept beside a cached module.
#[derive(Serialize, Deserialize)]
struct Entry {
    module_digest: String,
    variant: String,
}

fn paths(dir: &Path, manifest_digest: &str) -> Option<(PathBuf, PathBuf)> {
    let hex = manifest_digest.strip_prefix("sha256:").filter(|_| super::is_sha256_digest(manifest_digest))?;
    let base = dir.join("sha256");
    Some((base.join(format!("{hex}.wasm")), base.join(format!("{hex}.json"))))
}

/// The module cached for `manifest_digest`, checked against the digest it
/// was stored with; a missing or damaged entry is a miss.
pub(super) fn lookup(dir: &Path, manifest_digest: &str) -> Result<Option<Pulled>, OciError> {
    let Some((module_path, entry_path)) = paths(dir, manifest_digest) else { return Ok(None) };
    let (Ok(entry), Ok(module)) = (std::fs::read(&entry_path), std::fs::read(&module_path)) else { return Ok(None) };
    let Ok(entry) = serde_json::from_slice::<Entry>(&entry) else { return Ok(None) };
    if sha256_digest(&module) != entry.module_digest {
        return Ok(None);
    }
    let variant = match entry.variant.as_str() {
        "docker" => Variant::Docker,
        "oci-compat" => Variant::OciCompat,
        _ => Variant::OciArtifact,
    };
    Ok(Some(Pulled {
        module,
        manifest_digest: manifest_digest.to_owned(),
        module_digest: entry.module_digest,
        variant,
        cached: true,
    }))
}

/// Stores a pulled module (written to a temporary name, then renamed, so a
/// reader never sees half a file).
pub(super) fn store(dir: &Path, pulled: &Pulled) -> Result<(), OciError> {
    let Some((module_path, entry_path)) = paths(dir, &pulled.manifest_digest) else { return Ok(()) };
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| OciError::Io { path, source }
    };
    let base = dir.join("sha256");
    std::fs::create_dir_all(&base).map_err(io(&base))?;
    let entry = Entry { module_digest: pulled.module_digest.clone(), variant: pulled.variant.name().to_owned() };
    let entry = serde_json::to_vec(&entry).map_err(|e| OciError::Registry(e.to_string()))?;
    for (path, bytes) in [(&module_path, &pulled.module[..]), (&entry_path, &entry[..])] {
        let temporary = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&temporary, bytes).map_err(io(&temporary))?;
        std::fs::rename(&temporary, path).map_err(io(path))?;
    }
    Ok(())
}

fn tags() -> &'static Mutex<HashMap<String, String>> {
    static TAGS: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
    TAGS.get_or_init(Default::default)
}

/// The manifest digest this process last pulled `reference`'s tag as.
pub(super) fn resolved_tag(reference: &Reference) -> Option<String> {
    tags().lock().unwrap_or_else(|p| p.into_inner()).get(&reference.to_string()).cloned()
}

/// Remembers what `reference`'s tag resolved to.
pub(super) fn remember_tag(reference: &Reference, digest: &str) {
    if reference.digest().is_none() {
        tags().lock().unwrap_or_else(|p| p.into_inner()).insert(reference.to_string(), digest.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_damage_is_a_miss() {
        let dir = std::env::temp_dir().join(format!("host-sim-oci-cache-test-{}", std::process::id()));
        let module = b"\0asm\x01\0\0\0".to_vec();
        let manifest_digest = sha256_digest(b"manifest");
        let pulled = Pulled {
            module_digest: sha256_digest(&module),
            module: module.clone(),
            manifest_digest: manifest_digest.clone(),
            variant: Variant::Docker,
            cached: false,
        };
        assert!(lookup(&dir, &manifest_digest).unwrap().is_none());
        store(&dir, &pulled).unwrap();
        let hit = lookup(&dir, &manifest_digest).unwrap().unwrap();
        assert_eq!((hit.module, hit.variant, hit.cached), (module, Variant::Docker, true));
        let (module_path, _) = paths(&dir, &manifest_digest).unwrap();
        std::fs::write(&module_path, b"\0asm\x01\0\0\x01").unwrap();
        assert!(lookup(&dir, &manifest_digest).unwrap().is_none(), "a changed module is not served");
        assert!(lookup(&dir, "sha256:../../etc").unwrap().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
