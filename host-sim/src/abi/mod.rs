//! The guest-facing ABI: one module per area, each registering its imports
//! with its own `add_to_linker` and doing nothing but marshalling between
//! guest memory and host state.

pub(crate) mod buffers;
pub(crate) mod callouts;
pub(crate) mod context;
pub(crate) mod headers;
pub(crate) mod memory;
pub(crate) mod metrics;
pub(crate) mod properties;
pub(crate) mod shared;
pub(crate) mod stream;
pub(crate) mod wasi;

use wasmtime::{Caller, Engine, Linker};

use crate::store::VmState;
use crate::types::AbiVersion;
use memory::{HostError, HostResult};

/// Turns a host function's result into what the guest gets: the status code,
/// or a trap. Every call is recorded in the trace.
pub(crate) fn finish(
    caller: &mut Caller<'_, VmState>,
    name: &'static str,
    result: HostResult,
) -> wasmtime::Result<i32> {
    let code = match result {
        Ok(()) => 0,
        Err(HostError::Status(status)) => match crate::profile::strict_status(caller.data(), name, status) {
            Some(message) => {
                caller.data_mut().record(name, -1);
                return Err(wasmtime::Error::msg(message));
            }
            None => status as i32,
        },
        Err(HostError::Trap(error)) => {
            caller.data_mut().record(name, -1);
            return Err(error);
        }
    };
    caller.data_mut().record(name, code);
    Ok(code)
}

/// Registers `env.<name>` as a host function returning a status.
macro_rules! hostcall {
    ($linker:expr, $name:literal, $func:path, ($($arg:ident : $ty:ty),*)) => {{
        $linker.func_wrap(
            "env",
            $name,
            |mut caller: wasmtime::Caller<'_, $crate::store::VmState>, $($arg: $ty),*| -> wasmtime::Result<i32> {
                let args: &[u64] = &[$($arg as u64),*];
                let result = match $crate::profile::gate(&mut caller, $name, args) {
                    $crate::profile::Gate::Run => $func(&mut caller, $($arg),*),
                    $crate::profile::Gate::Return(result) => result,
                };
                $crate::abi::finish(&mut caller, $name, result)
            },
        )?;
    }};
}
pub(crate) use hostcall;

/// A linker with every host function of `abi`: the 36 common `proxy_*`
/// functions, the version's own ones, and the WASI surface.
pub(crate) fn linker(engine: &Engine, abi: AbiVersion) -> wasmtime::Result<Linker<VmState>> {
    let mut linker = Linker::new(engine);
    context::add_to_linker(&mut linker, abi)?;
    buffers::add_to_linker(&mut linker)?;
    headers::add_to_linker(&mut linker)?;
    stream::add_to_linker(&mut linker, abi)?;
    callouts::add_to_linker(&mut linker)?;
    shared::add_to_linker(&mut linker)?;
    metrics::add_to_linker(&mut linker)?;
    properties::add_to_linker(&mut linker)?;
    wasi::add_to_linker(&mut linker)?;
    Ok(linker)
}

/// The linker of `abi` as Kong's nginx module registers it: `proxy_get_log_level`
/// takes two `i32`s there, in every ABI version (its profile gate makes a call trap).
pub(crate) fn kong_linker(engine: &Engine, abi: AbiVersion) -> wasmtime::Result<Linker<VmState>> {
    let mut linker = linker(engine, abi)?;
    linker.allow_shadowing(true);
    context::add_kong_log_level(&mut linker)?;
    linker.allow_shadowing(false);
    Ok(linker)
}
