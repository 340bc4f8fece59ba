//! A blocking session with one registry, over oci-client on a
//! current-thread tokio runtime (host-sim's API is synchronous).

use std::time::Duration;

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::manifest::OciDescriptor;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, RegistryOperation};
use serde::Deserialize;

use super::{
    Credentials, DOCKER_MANIFEST, OCI_MANIFEST, OciError, Reference, docker_config_credentials, verify_digest,
};
use crate::limits::MAX_FILE_BYTES;

/// The image index media types (a list of manifests), refused with a
/// clear error: a Wasm plugin image has one manifest.
const INDEX_TYPES: [&str; 2] =
    ["application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json"];

/// A content descriptor in a manifest.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// The media type.
    pub media_type: String,
    /// `sha256:...`.
    pub digest: String,
    /// The size in bytes.
    pub size: u64,
    /// Annotations.
    #[serde(default)]
    pub annotations: std::collections::BTreeMap<String, String>,
}

/// A manifest as the registry served it.
#[derive(Clone, Debug)]
pub struct Manifest {
    /// The exact bytes (their digest is the image's).
    pub bytes: Vec<u8>,
    /// `sha256:...` of the bytes.
    pub digest: String,
    /// The media type (from the manifest, else the response).
    pub media_type: String,
}

/// A connected registry client for one reference's registry.
pub struct Registry {
    client: Client,
    auth: RegistryAuth,
    runtime: tokio::runtime::Runtime,
    registry: String,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").field("registry", &self.registry).finish_non_exhaustive()
    }
}

impl Registry {
    /// A client for `reference`'s registry: plain HTTP if `insecure`, the
    /// given credentials, else the Docker config file's, else anonymous.
    pub fn connect(
        reference: &Reference,
        insecure: bool,
        credentials: Option<Credentials>,
    ) -> Result<Registry, OciError> {
        let registry = reference.registry().to_owned();
        let credentials = match credentials {
            Some(c) => Some(c),
            None => docker_config_credentials(&registry)?,
        };
        let auth = credentials.map_or(RegistryAuth::Anonymous, |c| RegistryAuth::Basic(c.username, c.password));
        let config = ClientConfig {
            protocol: if insecure { ClientProtocol::Http } else { ClientProtocol::Https },
            connect_timeout: Some(Duration::from_secs(10)),
            read_timeout: Some(Duration::from_secs(60)),
            user_agent: concat!("host-sim/", env!("CARGO_PKG_VERSION")),
            ..ClientConfig::default()
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| OciError::Registry(format!("cannot start the I/O runtime: {e}")))?;
        Ok(Registry { client: Client::new(config), auth, runtime, registry })
    }

    fn authenticate(&self, reference: &Reference, operation: RegistryOperation) -> Result<(), OciError> {
        let r = reference.client_reference();
        self.runtime
            .block_on(self.client.auth(r, &self.auth, operation))
            .map(drop)
            .map_err(|e| self.error(reference, e))
    }

    /// The manifest `reference` names, its digest checked against the bytes
    /// (and against the reference's digest, if any).
    pub fn manifest(&self, reference: &Reference) -> Result<Manifest, OciError> {
        self.authenticate(reference, RegistryOperation::Pull)?;
        let accepted = [OCI_MANIFEST, DOCKER_MANIFEST, INDEX_TYPES[0], INDEX_TYPES[1]];
        let (bytes, digest) = self
            .runtime
            .block_on(self.client.pull_manifest_raw(reference.client_reference(), &self.auth, &accepted))
            .map_err(|e| self.error(reference, e))?;
        verify_digest("the manifest", &bytes, &digest)?;
        if let Some(expected) = reference.digest() {
            verify_digest(&format!("the manifest of {reference}"), &bytes, expected)?;
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Head {
            #[serde(default)]
            media_type: Option<String>,
        }
        let head: Head = serde_json::from_slice(&bytes)
            .map_err(|e| OciError::Format(format!("the manifest of {reference} is not JSON: {e}")))?;
        let media_type = head.media_type.unwrap_or_else(|| OCI_MANIFEST.to_owned());
        if INDEX_TYPES.contains(&media_type.as_str()) {
            return Err(OciError::Format(format!(
                "{reference} is an image index ({media_type}); a Wasm plugin image has a single manifest"
            )));
        }
        Ok(Manifest { bytes: bytes.to_vec(), digest, media_type })
    }

    /// The blob `descriptor` names, checked against its digest and size.
    pub fn blob(&self, reference: &Reference, descriptor: &Descriptor) -> Result<Vec<u8>, OciError> {
        if descriptor.size > MAX_FILE_BYTES {
            return Err(OciError::Format(format!(
                "the layer {} is {} bytes, more than host-sim reads ({MAX_FILE_BYTES})",
                descriptor.digest, descriptor.size
            )));
        }
        let oci = OciDescriptor {
            media_type: descriptor.media_type.clone(),
            digest: descriptor.digest.clone(),
            size: descriptor.size as i64,
            ..OciDescriptor::default()
        };
        let mut out = Vec::with_capacity(descriptor.size as usize);
        self.runtime
            .block_on(self.client.pull_blob(reference.client_reference(), &oci, &mut out))
            .map_err(|e| self.error(reference, e))?;
        verify_digest(&format!("the blob {}", descriptor.media_type), &out, &descriptor.digest)?;
        if out.len() as u64 != descriptor.size {
            return Err(OciError::Format(format!(
                "the blob {} has {} bytes, its descriptor says {}",
                descriptor.digest,
                out.len(),
                descriptor.size
            )));
        }
        Ok(out)
    }

    /// Uploads a blob (skipped when the registry has it); returns its digest.
    pub fn push_blob(&self, reference: &Reference, bytes: &[u8]) -> Result<String, OciError> {
        self.authenticate(reference, RegistryOperation::Push)?;
        let digest = super::sha256_digest(bytes);
        let r = reference.client_reference();
        let exists =
            self.runtime.block_on(self.client.blob_exists(r, &digest)).map_err(|e| self.error(reference, e))?;
        if !exists {
            self.runtime
                .block_on(self.client.push_blob(r, bytes.to_vec(), &digest))
                .map_err(|e| self.error(reference, e))?;
        }
        Ok(digest)
    }

    /// Uploads a manifest under `reference`'s tag (or digest), byte for
    /// byte; returns its digest.
    pub fn push_manifest(&self, reference: &Reference, bytes: &[u8], media_type: &str) -> Result<String, OciError> {
        self.authenticate(reference, RegistryOperation::Push)?;
        let content_type =
            media_type.parse().map_err(|_| OciError::Format(format!("{media_type:?} is not a valid media type")))?;
        self.runtime
            .block_on(self.client.push_manifest_raw(reference.client_reference(), bytes.to_vec(), content_type))
            .map_err(|e| self.error(reference, e))?;
        Ok(super::sha256_digest(bytes))
    }

    /// The error for what the client reported, by kind.
    fn error(&self, reference: &Reference, error: OciDistributionError) -> OciError {
        let registry = self.registry.clone();
        match error {
            OciDistributionError::RequestError(e) if e.is_connect() || e.is_timeout() => {
                let mut message = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(cause) = source {
                    message = format!("{message}: {cause}");
                    source = cause.source();
                }
                OciError::Unreachable { registry, message }
            }
            OciDistributionError::RequestError(e) if e.status().is_some_and(|s| s == 401 || s == 403) => {
                OciError::Unauthorized { registry, message: e.to_string() }
            }
            OciDistributionError::RequestError(e) if e.status().is_some_and(|s| s == 404) => {
                OciError::NotFound { reference: reference.to_string(), message: e.to_string() }
            }
            OciDistributionError::AuthenticationFailure(message) => OciError::Unauthorized { registry, message },
            OciDistributionError::UnauthorizedError { url } => {
                OciError::Unauthorized { registry, message: format!("401 Unauthorized at {url}") }
            }
            OciDistributionError::ImageManifestNotFoundError(message) => {
                OciError::NotFound { reference: reference.to_string(), message }
            }
            OciDistributionError::RegistryError { envelope, url } => {
                let codes: Vec<&OciErrorCode> = envelope.errors.iter().map(|e| &e.code).collect();
                let message = envelope
                    .errors
                    .iter()
                    .map(|e| format!("{:?}: {}", e.code, e.message))
                    .collect::<Vec<_>>()
                    .join("; ");
                let message = format!("{message} ({url})");
                if codes.iter().any(|c| {
                    matches!(
                        c,
                        OciErrorCode::ManifestUnknown
                            | OciErrorCode::NameUnknown
                            | OciErrorCode::BlobUnknown
                            | OciErrorCode::NotFound
                    )
                }) {
                    OciError::NotFound { reference: reference.to_string(), message }
                } else if codes.iter().any(|c| matches!(c, OciErrorCode::Unauthorized | OciErrorCode::Denied)) {
                    OciError::Unauthorized { registry, message }
                } else {
                    OciError::Registry(message)
                }
            }
            OciDistributionError::ServerError { code: 404, url, message } => {
                OciError::NotFound { reference: reference.to_string(), message: format!("404 at {url} {message}") }
            }
            OciDistributionError::ServerError { code: 401 | 403, url, message } => {
                OciError::Unauthorized { registry, message: format!("{url}: {message}") }
            }
            OciDistributionError::DigestError(e) => OciError::DigestMismatch {
                what: format!("content of {reference}"),
                expected: reference.digest().unwrap_or("the digest the registry reported").to_owned(),
                found: e.to_string(),
            },
            other => {
                let mut message = other.to_string();
                let mut source = std::error::Error::source(&other);
                while let Some(cause) = source {
                    message = format!("{message}: {cause}");
                    source = cause.source();
                }
                OciError::Registry(message)
            }
        }
    }
}
