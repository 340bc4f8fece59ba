//! Key-value data shared by all plugin instances of a VM, with
//! compare-and-swap versions.

use alloc::vec::Vec;

use crate::error::Result;
use crate::ffi;

/// A stored value and its compare-and-swap version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SharedValue {
    /// The value.
    pub value: Vec<u8>,
    /// The version: pass it to [`set`] as `cas` to write only if nobody
    /// wrote since this read.
    pub cas: u32,
}

/// Reads `key`: its value and CAS version, or `None` if absent.
pub fn get(key: impl AsRef<[u8]>) -> Result<Option<SharedValue>> {
    match ffi::get_shared_data(key.as_ref()) {
        Ok((value, cas)) => Ok(Some(SharedValue { value, cas })),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Writes `key`. With `cas` = `Some(version)` the write succeeds only if the
/// stored version still matches (else [`Status::CasMismatch`](crate::Status::CasMismatch)).
pub fn set(key: impl AsRef<[u8]>, value: impl AsRef<[u8]>, cas: Option<u32>) -> Result<()> {
    ffi::set_shared_data(key.as_ref(), value.as_ref(), cas.unwrap_or(0))
}
