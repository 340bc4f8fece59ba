//! The typed errors of host-sim's API.

mod oci;

pub use oci::OciError;

use std::fmt;
use std::path::PathBuf;

/// Why a host-sim operation failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The `.wasm` file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The bytes are not a valid wasm module (or wasmtime could not compile them).
    Compile(String),
    /// The module exports no (or an unknown) `proxy_abi_version_*` marker.
    UnknownAbi {
        /// The marker-like exports found, if any.
        found: Vec<String>,
    },
    /// The module exports neither `proxy_on_memory_allocate` nor `malloc`.
    MissingAllocator,
    /// An export has the wrong type (e.g. a callback with the wrong arity).
    BadExport {
        /// Export name.
        name: String,
        /// What it should be.
        expected: String,
        /// What it is.
        found: String,
    },
    /// Linking or instantiating failed (e.g. an unknown import).
    Instantiate(String),
    /// The guest trapped (panic, `unreachable`, `proc_exit`, ...) in a callback;
    /// the VM is marked failed.
    Trap {
        /// The callback that was running, e.g. `proxy_on_request_headers`.
        callback: &'static str,
        /// The trap message with the guest backtrace.
        message: String,
    },
    /// The VM failed earlier and is not used any more.
    VmFailed {
        /// The original failure.
        reason: String,
    },
    /// `proxy_on_vm_start` returned false.
    VmStartRejected {
        /// The plugin's root id.
        root_id: String,
        /// What the guest wrote to stdout and stderr while it started.
        output: String,
    },
    /// `proxy_on_configure` returned false.
    ConfigureRejected {
        /// The plugin's root id.
        root_id: String,
        /// What the guest wrote to stdout and stderr while it started.
        output: String,
    },
    /// The handle does not name a live plugin, stream or callout.
    NotFound(String),
    /// The operation is not valid at this point of the stream (a test mistake,
    /// e.g. body before headers, or data after the stream ended).
    InvalidPhase(String),
    /// An argument of a host-sim call is out of range (e.g. advancing the
    /// clock past the end of time).
    InvalidArgument(String),
    /// A reload ([`Host::reload`](crate::Host::reload)) was rejected, as
    /// Envoy rejects (NACKs) a filter configuration whose plugin does not
    /// start: the plugin as it was keeps serving.
    ReloadRejected {
        /// The plugin's name.
        plugin: String,
        /// Why the new version did not start.
        reason: Box<Error>,
    },
    /// Pulling the plugin from an OCI registry failed (see [`crate::oci`]).
    Oci(OciError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, source } => write!(f, "cannot read {}: {source}", path.display()),
            Error::Compile(m) => write!(f, "cannot compile the module: {m}"),
            Error::UnknownAbi { found } if found.is_empty() => write!(
                f,
                "Missing or unknown Proxy-Wasm ABI version: the module exports none of \
                 proxy_abi_version_0_1_0, proxy_abi_version_0_2_0, proxy_abi_version_0_2_1"
            ),
            Error::UnknownAbi { found } => write!(
                f,
                "Missing or unknown Proxy-Wasm ABI version: found {}, supported are \
                 proxy_abi_version_0_1_0, proxy_abi_version_0_2_0, proxy_abi_version_0_2_1",
                found.join(", ")
            ),
            Error::MissingAllocator => {
                write!(f, "Wasm module is missing malloc function (neither proxy_on_memory_allocate nor malloc)")
            }
            Error::BadExport { name, expected, found } => {
                write!(f, "export `{name}` has type {found}, expected {expected}")
            }
            Error::Instantiate(m) => write!(f, "cannot instantiate the module: {m}"),
            Error::Trap { callback, message } => write!(f, "Function: {callback} failed: {message}"),
            Error::VmFailed { reason } => write!(f, "the VM failed earlier: {reason}"),
            Error::VmStartRejected { root_id, output } => {
                write!(f, "plugin `{root_id}`: proxy_on_vm_start returned false{}", shown_output(output))
            }
            Error::ConfigureRejected { root_id, output } => {
                write!(f, "plugin `{root_id}`: proxy_on_configure returned false{}", shown_output(output))
            }
            Error::NotFound(m) => write!(f, "not found: {m}"),
            Error::InvalidPhase(m) => write!(f, "invalid at this point of the stream: {m}"),
            Error::InvalidArgument(m) => write!(f, "invalid argument: {m}"),
            Error::ReloadRejected { plugin, reason } => write!(
                f,
                "reload of plugin `{plugin}` rejected (Envoy: Failed to configure base Wasm plugin; the update \
                 is NACKed and the previous version keeps serving): {reason}"
            ),
            Error::Oci(e) => write!(f, "cannot pull the plugin: {e}"),
        }
    }
}

/// The guest's start output under a start error, indented; nothing when
/// there was none.
fn shown_output(output: &str) -> String {
    if output.is_empty() {
        return String::new();
    }
    let lines: Vec<String> = output.lines().map(|l| format!("  {l}")).collect();
    format!("\nwhat the guest wrote to stdout/stderr while it started:\n{}", lines.join("\n"))
}

impl Error {
    /// The error of a start that failed, with what the guest wrote to
    /// stdout/stderr meanwhile (a Go or C++ runtime's abort message is there,
    /// not in the trap).
    pub(crate) fn with_output(self, output: Option<Vec<u8>>) -> Error {
        let output = String::from_utf8_lossy(&output.unwrap_or_default()).trim_end().to_owned();
        if output.is_empty() {
            return self;
        }
        match self {
            Error::Trap { callback, message } => Error::Trap { callback, message: message + &shown_output(&output) },
            Error::Instantiate(message) => Error::Instantiate(message + &shown_output(&output)),
            Error::VmStartRejected { root_id, .. } => Error::VmStartRejected { root_id, output },
            Error::ConfigureRejected { root_id, .. } => Error::ConfigureRejected { root_id, output },
            other => other,
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            Error::Oci(e) => Some(e),
            Error::ReloadRejected { reason, .. } => Some(reason.as_ref()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn a_rejected_reload_keeps_why_as_its_source() {
        let why = Error::VmStartRejected { root_id: "r".into(), output: String::new() };
        let rejected = Error::ReloadRejected { plugin: "p".into(), reason: Box::new(why) };
        let source = rejected.source().map(ToString::to_string);
        assert_eq!(source, Some(Error::VmStartRejected { root_id: "r".into(), output: String::new() }.to_string()));
    }
}
