//! Bounds-checked access to guest memory. Every pointer and length coming
//! from the guest is checked here; a bad one is `INVALID_MEMORY_ACCESS`, never
//! a host panic. No slice of guest memory outlives a call into the guest: the
//! allocator is called only between whole copies.

use wasmtime::{Caller, Memory};

use crate::store::VmState;
use crate::types::Status;

/// A host function's failure: a status for the guest, or a trap (the guest's
/// own allocator trapped, or the guest exited).
#[derive(Debug)]
pub(crate) enum HostError {
    Status(Status),
    Trap(wasmtime::Error),
}

impl From<Status> for HostError {
    fn from(status: Status) -> HostError {
        HostError::Status(status)
    }
}

/// The result of a host function body.
pub(crate) type HostResult<T = ()> = Result<T, HostError>;

/// The guest's memory.
pub(crate) fn memory(caller: &Caller<'_, VmState>) -> Result<Memory, Status> {
    caller.data().memory.ok_or(Status::InvalidMemoryAccess)
}

/// `[ptr, ptr + len)` inside `data`.
pub(crate) fn slice(data: &[u8], ptr: u32, len: u32) -> Result<&[u8], Status> {
    let start = ptr as usize;
    let end = start.checked_add(len as usize).ok_or(Status::InvalidMemoryAccess)?;
    data.get(start..end).ok_or(Status::InvalidMemoryAccess)
}

fn slice_mut(data: &mut [u8], ptr: u32, len: usize) -> Result<&mut [u8], Status> {
    let start = ptr as usize;
    let end = start.checked_add(len).ok_or(Status::InvalidMemoryAccess)?;
    data.get_mut(start..end).ok_or(Status::InvalidMemoryAccess)
}

/// Runs `f` with guest memory (read-only) and the host state, without copying.
/// `f` must not call into the guest (it cannot: it gets no store).
pub(crate) fn with_memory<R>(
    caller: &mut Caller<'_, VmState>,
    f: impl FnOnce(&[u8], &mut VmState) -> Result<R, Status>,
) -> Result<R, Status> {
    let memory = memory(caller)?;
    let (data, state) = memory.data_and_store_mut(caller);
    f(data, state)
}

/// Writes bytes into the guest.
pub(crate) fn write(caller: &mut Caller<'_, VmState>, ptr: u32, bytes: &[u8]) -> Result<(), Status> {
    let memory = memory(caller)?;
    slice_mut(memory.data_mut(caller), ptr, bytes.len())?.copy_from_slice(bytes);
    Ok(())
}

/// Writes a little-endian `u32`.
pub(crate) fn write_u32(caller: &mut Caller<'_, VmState>, ptr: u32, value: u32) -> Result<(), Status> {
    write(caller, ptr, &value.to_le_bytes())
}

/// Writes a little-endian `u64`.
pub(crate) fn write_u64(caller: &mut Caller<'_, VmState>, ptr: u32, value: u64) -> Result<(), Status> {
    write(caller, ptr, &value.to_le_bytes())
}

/// Checks that `[ptr, ptr + len)` is writable guest memory.
pub(crate) fn check(caller: &mut Caller<'_, VmState>, ptr: u32, len: u32) -> Result<(), Status> {
    let memory = memory(caller)?;
    slice(memory.data(&*caller), ptr, len).map(|_| ())
}

/// Returns a value to the guest the ABI way: allocate exactly `bytes.len()`
/// with the guest's allocator, copy, then write the pointer and size through
/// the two out-pointers (validated before allocating). An empty value is
/// `(0, 0)` without an allocation.
pub(crate) fn return_bytes(caller: &mut Caller<'_, VmState>, bytes: &[u8], ptr_ptr: u32, size_ptr: u32) -> HostResult {
    let memory = memory(caller)?;
    let data = memory.data(&*caller);
    slice(data, ptr_ptr, 4)?;
    slice(data, size_ptr, 4)?;
    let ptr = if bytes.is_empty() { 0 } else { allocate(caller, bytes)? };
    // The allocator may have grown the memory: look it up again.
    let data = memory.data_mut(&mut *caller);
    slice_mut(data, ptr_ptr, 4)?.copy_from_slice(&ptr.to_le_bytes());
    slice_mut(data, size_ptr, 4)?.copy_from_slice(&(bytes.len() as u32).to_le_bytes());
    Ok(())
}

/// Allocates `bytes.len()` in the guest and copies `bytes` there.
///
/// The allocator is taken out of the state for the call rather than cloned
/// (a `TypedFunc` clone and drop cost a dozen atomic operations, on every
/// returned value): an allocator that itself calls a host function returning
/// a value gets `INVALID_MEMORY_ACCESS` there (cpp-host's V8 adapter does not
/// let an allocator make such calls at all).
pub(crate) fn allocate(caller: &mut Caller<'_, VmState>, bytes: &[u8]) -> HostResult<u32> {
    let len = u32::try_from(bytes.len()).map_err(|_| Status::InvalidMemoryAccess)?;
    let allocator = caller.data_mut().allocator.take().ok_or(Status::InvalidMemoryAccess)?;
    let called = allocator.call(&mut *caller, len);
    caller.data_mut().allocator = Some(allocator);
    let ptr = called.map_err(HostError::Trap)?;
    if ptr == 0 {
        return Err(Status::InvalidMemoryAccess.into());
    }
    write(caller, ptr, bytes)?;
    Ok(ptr)
}
