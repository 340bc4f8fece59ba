//! Key-value data shared by all plugin instances of a VM, with
//! compare-and-swap versions.

pub use sluice_abi::SharedValue;

use crate::error::Result;
use crate::ffi;

/// Reads `key`: its value and CAS version, or `None` if absent.
pub fn get(key: impl AsRef<[u8]>) -> Result<Option<SharedValue>> {
    match ffi::get_shared_data(key.as_ref()) {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Writes `key`. With `cas` = `Some(version)` the write succeeds only if the
/// stored version still matches (else [`Status::CasMismatch`](crate::Status::CasMismatch)).
pub fn set(key: impl AsRef<[u8]>, value: impl AsRef<[u8]>, cas: Option<u32>) -> Result<()> {
    ffi::set_shared_data(key.as_ref(), value.as_ref(), cas.unwrap_or(0))
}
