//! The guest-facing ABI: one module per area of the ABI's description
//! (`sluice::abi::Area`), each doing nothing but marshalling between guest
//! memory and host state. The linker registrations are generated from the
//! description: every host function `proxy_x as x` of area `a` is
//! implemented by `a::x(caller, raw parameters...)`, and passes its gate
//! ([`crate::abi::gate::gate`]) and [`finish`] around the call.

pub(crate) mod buffers;
pub(crate) mod callouts;
pub(crate) mod context;
pub(crate) mod gate;
pub(crate) mod headers;
pub(crate) mod kong;
pub(crate) mod memory;
pub(crate) mod metrics;
pub(crate) mod properties;
pub(crate) mod shared;
pub(crate) mod stream;
pub(crate) mod wasi;

use sluice::abi::HostFunction;
use wasmtime::{Caller, Engine, Linker};

use crate::store::VmState;
use crate::types::{AbiVersion, LogLevel};
use memory::{HostError, HostResult};

/// Logs what the host refused, at error level on the effective context.
pub(crate) fn log_error(state: &mut VmState, message: String) {
    let context_id = state.effective;
    state.log_line(LogLevel::Error, context_id, message);
}

/// Turns a host function's result into what the guest gets: the status code,
/// or a trap. Every call is recorded in the trace.
pub(crate) fn finish(
    caller: &mut Caller<'_, VmState>,
    function: &'static HostFunction,
    result: HostResult,
) -> wasmtime::Result<i32> {
    let name = function.name;
    let code = match result {
        Ok(()) => 0,
        Err(HostError::Status(status)) => match crate::abi::gate::strict_status(caller.data(), function, status) {
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

/// Runs one host call: its gate, then (if the gate lets it) `call`, then [`finish`].
pub(crate) fn run(
    caller: &mut Caller<'_, VmState>,
    function: &'static HostFunction,
    args: &[u64],
    call: impl FnOnce(&mut Caller<'_, VmState>) -> HostResult,
) -> wasmtime::Result<i32> {
    let result = match crate::abi::gate::gate(caller, function, args) {
        crate::abi::gate::Gate::Run => call(caller),
        crate::abi::gate::Gate::Return(result) => result,
    };
    finish(caller, function, result)
}

/// The description of `name` (every registered function has one).
pub(crate) fn described(name: &str) -> wasmtime::Result<&'static HostFunction> {
    sluice::abi::host_function(name)
        .ok_or_else(|| wasmtime::Error::msg(format!("{name} is not in the ABI's description")))
}

/// Registers every described host function of `abi` as `env.<name>`.
macro_rules! register {
    ( $( [ ($(#[$meta:meta])*) $name:ident $method:ident $area:ident [$($ret:ident)?]
        ( $( $in:ident $inkind:ident ( $( $raw:ident $rawkind:ident )+ ) )* )
        ( $( $out:ident $outkind:ident ( $( $oraw:ident $orawkind:ident )+ ) )* ) $rules:tt ] )*
    ) => {
        pub(super) fn register(
            linker: &mut wasmtime::Linker<crate::store::VmState>,
            abi: crate::types::AbiVersion,
        ) -> wasmtime::Result<()> {
            $(
                let function = super::described(stringify!($name))?;
                if function.in_version(abi) {
                    linker.func_wrap(
                        "env",
                        function.name,
                        move |mut caller: wasmtime::Caller<'_, crate::store::VmState>,
                              $( $( $raw: sluice::abi::host_raw_type!($rawkind), )+ )*
                              $( $( $oraw: sluice::abi::host_raw_type!($orawkind), )+ )*| {
                            let args: &[u64] = &[$( $( $raw as u64, )+ )* $( $( $oraw as u64, )+ )*];
                            super::run(&mut caller, function, args, |caller| {
                                super::$area::$method(caller, $( $( $raw, )+ )* $( $( $oraw, )+ )*)
                            })
                        },
                    )?;
                }
            )*
            Ok(())
        }
    };
}

mod current {
    sluice::abi::for_each_host_function!(register);
}

mod legacy {
    sluice::abi::for_each_legacy_host_function!(register);
}

/// A linker with every host function of `abi` (those of the ABI's
/// description the version has) and the WASI surface.
pub(crate) fn linker(engine: &Engine, abi: AbiVersion) -> wasmtime::Result<Linker<VmState>> {
    let mut linker = Linker::new(engine);
    current::register(&mut linker, abi)?;
    legacy::register(&mut linker, abi)?;
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
