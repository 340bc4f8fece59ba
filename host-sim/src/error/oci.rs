//! Why pulling a plugin from an OCI registry failed ([`OciError`], shown
//! as `host_sim::oci::OciError`), kept with the other errors so that
//! [`Error`](crate::Error) does not depend on the `oci` client.

use std::fmt;
use std::path::PathBuf;

/// Why a pull (or push) failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum OciError {
    /// The reference is not `[oci://]HOST/NAME[:TAG][@sha256:HEX]`.
    Reference(String),
    /// The registry could not be reached (connection refused, DNS, TLS).
    Unreachable {
        /// The registry host.
        registry: String,
        /// What failed.
        message: String,
    },
    /// The registry refused the credentials (or asked for some).
    Unauthorized {
        /// The registry host.
        registry: String,
        /// What it answered.
        message: String,
    },
    /// The tag or digest does not exist in the repository.
    NotFound {
        /// The reference.
        reference: String,
        /// What the registry answered.
        message: String,
    },
    /// Content did not match its digest.
    DigestMismatch {
        /// What was checked (the manifest, a layer, the cached module).
        what: String,
        /// The digest it should have.
        expected: String,
        /// The digest it has.
        found: String,
    },
    /// The image holds no Proxy-Wasm module in a format Istio pulls.
    Format(String),
    /// Any other registry answer.
    Registry(String),
    /// Reading or writing a local file (cache, Docker config) failed.
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl fmt::Display for OciError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OciError::Reference(m) => write!(f, "invalid image reference: {m}"),
            OciError::Unreachable { registry, message } => {
                write!(f, "cannot reach the registry {registry}: {message}")
            }
            OciError::Unauthorized { registry, message } => write!(
                f,
                "the registry {registry} refused the credentials: {message} (log in with `docker login {registry}`, \
                 or give --username/--password)"
            ),
            OciError::NotFound { reference, message } => write!(f, "{reference} does not exist: {message}"),
            OciError::DigestMismatch { what, expected, found } => {
                write!(f, "digest mismatch: {what} should be {expected}, it is {found}")
            }
            OciError::Format(m) => write!(f, "not a Wasm plugin image: {m}"),
            OciError::Registry(m) => write!(f, "registry error: {m}"),
            OciError::Io { path, source } => write!(f, "{}: {source}", path.display()),
        }
    }
}

impl std::error::Error for OciError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            OciError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
