//! The SDK's error type: a host status that was not `OK`, or bytes from the
//! host that could not be decoded.

use core::fmt;

pub use sluice_abi::map::MapError;

use crate::types::{Status, UnknownValue};

/// Everything a hostcall wrapper or decoder can fail with.
///
/// The SDK never panics on what the host returns: every non-`OK` status and
/// every malformed payload ends up here.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The host returned a known, non-`OK` status.
    Status(Status),
    /// The host returned a status code this SDK does not know.
    UnknownStatus(u32),
    /// The host returned a value of an enumeration this SDK does not know.
    UnknownValue(UnknownValue),
    /// A serialized map from the host is malformed.
    MalformedMap(MapError),
    /// A property value does not have the size or shape of the requested type.
    MalformedProperty {
        /// What the caller asked for (for example `"i64"`).
        expected: &'static str,
        /// How many bytes the host returned.
        len: usize,
    },
    /// Bytes that should be UTF-8 text are not.
    InvalidUtf8,
    /// A value is too large for the 32-bit ABI (a length, or a map of more
    /// than `u32::MAX` pairs).
    TooLarge,
    /// A callout handler was registered for a context that does not exist or
    /// is not of the handler's type.
    WrongContext {
        /// The context the handler was meant for.
        context_id: u32,
    },
}

impl Error {
    /// Maps a raw host status to `Ok(())` or the matching error.
    pub fn check(status: u32) -> Result<(), Error> {
        match Status::try_from(status) {
            Ok(Status::Ok) => Ok(()),
            Ok(status) => Err(Error::Status(status)),
            Err(_) => Err(Error::UnknownStatus(status)),
        }
    }

    /// The host status behind this error, if it is one the SDK knows.
    pub fn status(&self) -> Option<Status> {
        match self {
            Error::Status(status) => Some(*status),
            _ => None,
        }
    }

    /// Whether the host answered `NOT_FOUND`.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(Status::NotFound)
    }
}

impl From<MapError> for Error {
    fn from(e: MapError) -> Error {
        Error::MalformedMap(e)
    }
}

impl From<UnknownValue> for Error {
    fn from(e: UnknownValue) -> Error {
        Error::UnknownValue(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Status(status) => write!(f, "host returned {status:?} ({})", u32::from(*status)),
            Error::UnknownStatus(code) => write!(f, "host returned unknown status {code}"),
            Error::UnknownValue(e) => write!(f, "host sent an {e}"),
            Error::MalformedMap(e) => write!(f, "malformed serialized map: {e}"),
            Error::MalformedProperty { expected, len } => {
                write!(f, "property value of {len} bytes is not a valid {expected}")
            }
            Error::InvalidUtf8 => f.write_str("value is not valid UTF-8"),
            Error::TooLarge => f.write_str("value too large for the 32-bit ABI"),
            Error::WrongContext { context_id } => {
                write!(f, "context {context_id} does not exist or has another type than the handler expects")
            }
        }
    }
}

impl core::error::Error for Error {}

/// The result of every SDK function that can fail.
pub type Result<T, E = Error> = core::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_host_status_maps_to_a_typed_error() {
        assert_eq!(Error::check(0), Ok(()));
        let expected = [
            (1, Status::NotFound),
            (2, Status::BadArgument),
            (3, Status::SerializationFailure),
            (4, Status::ParseFailure),
            (5, Status::BadExpression),
            (6, Status::InvalidMemoryAccess),
            (7, Status::Empty),
            (8, Status::CasMismatch),
            (9, Status::ResultMismatch),
            (10, Status::InternalFailure),
            (11, Status::BrokenConnection),
            (12, Status::Unimplemented),
        ];
        for (code, status) in expected {
            assert_eq!(Error::check(code), Err(Error::Status(status)), "code {code}");
        }
        assert_eq!(Error::check(13), Err(Error::UnknownStatus(13)));
        assert_eq!(Error::check(u32::MAX), Err(Error::UnknownStatus(u32::MAX)));
        assert!(Error::check(1).unwrap_err().is_not_found());
    }
}
