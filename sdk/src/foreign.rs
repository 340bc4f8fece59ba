//! Functions the host registers under a name (`proxy_call_foreign_function`),
//! and the arguments of host-initiated foreign calls.

use alloc::vec::Vec;

use crate::buffers::Buffer;
use crate::error::Result;
use crate::ffi;
use crate::types::BufferType;

/// Calls the host function `name` with serialized `arguments`; returns its
/// serialized results (empty if it returns none).
pub fn call(name: impl AsRef<[u8]>, arguments: impl AsRef<[u8]>) -> Result<Vec<u8>> {
    ffi::call_foreign_function(name.as_ref(), arguments.as_ref())
}

/// The arguments of the foreign call being delivered to
/// [`RootContext::on_foreign_function`](crate::RootContext::on_foreign_function).
pub fn arguments(arguments_size: usize) -> Result<Vec<u8>> {
    if arguments_size == 0 {
        Ok(Vec::new())
    } else {
        Buffer::new(BufferType::ForeignFunctionArguments).get(0, arguments_size)
    }
}
