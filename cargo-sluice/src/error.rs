//! The command-line error: a message and an exit code.

use std::fmt;

/// Why a command failed.
#[derive(Debug)]
pub struct Failure {
    message: String,
    code: u8,
}

impl Failure {
    /// A failure with exit code 1.
    pub fn new(message: impl Into<String>) -> Failure {
        Failure { message: message.into(), code: 1 }
    }

    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        self.code
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<host_sim::oci::OciError> for Failure {
    fn from(e: host_sim::oci::OciError) -> Failure {
        Failure::new(e.to_string())
    }
}

impl From<host_sim::Error> for Failure {
    fn from(e: host_sim::Error) -> Failure {
        Failure::new(e.to_string())
    }
}

/// The result of a command.
pub type Result<T> = std::result::Result<T, Failure>;

/// An I/O error about `path`.
pub fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Failure + '_ {
    move |e| Failure::new(format!("{}: {e}", path.display()))
}
