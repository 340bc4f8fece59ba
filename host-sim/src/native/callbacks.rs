//! The plugin's callbacks as host functions of module `sluice:native`: the
//! shim module imports them and exports them under the ABI's names, so the
//! VM driver calls a natively hosted plugin exactly as it calls a wasm one
//! (same effective context, same fault handling, same deferred work).

use wasmtime::{Caller, Linker};

use super::{Plugin, ThreadBound};
use crate::store::VmState;

/// The import module of the callbacks.
pub(crate) const MODULE: &str = "sluice:native";

/// Runs `call` on the VM's native plugin, turning a panic or a trapping host
/// call into a trap.
fn run<R>(mut caller: Caller<'_, VmState>, call: impl FnOnce(&mut Plugin) -> R) -> wasmtime::Result<R> {
    let Some(mut slot) = caller.data_mut().native.take() else {
        return Err(wasmtime::Error::msg("the natively hosted plugin was called again while a callback of it ran"));
    };
    let result = match slot.downcast_mut::<ThreadBound<Plugin>>().and_then(ThreadBound::get_mut) {
        Some(plugin) => plugin.call(&mut caller, call),
        None => Err(wasmtime::Error::msg(
            "a natively hosted plugin runs only on the thread that loaded it (the Host was moved to another thread)",
        )),
    };
    caller.data_mut().native = Some(slot);
    result
}

/// Registers `name` as a callback calling `Instance::$method`.
macro_rules! callback {
    ($linker:expr, $name:literal, |$($arg:ident),*| $method:ident($($call:expr),*)) => {
        $linker.func_wrap(MODULE, $name, |caller: Caller<'_, VmState>, $($arg: u32),*| {
            run(caller, |plugin| Ret::wasm(plugin.instance.$method($($call),*)))
        })?;
    };
}

/// What a callback returns to the driver: nothing, or an `i32` (actions and
/// booleans as the ABI encodes them).
trait Ret {
    type Wasm;
    fn wasm(self) -> Self::Wasm;
}

impl Ret for () {
    type Wasm = ();
    fn wasm(self) {}
}

impl Ret for u32 {
    type Wasm = u32;
    fn wasm(self) -> u32 {
        self
    }
}

impl Ret for bool {
    type Wasm = u32;
    fn wasm(self) -> u32 {
        u32::from(self)
    }
}

fn size(n: u32) -> usize {
    n as usize
}

fn eos(flag: u32) -> bool {
    flag != 0
}

/// Adds every callback of ABI v0.2.1, and `_initialize` (the plugin's entry
/// point), to `linker`.
pub(crate) fn add_to_linker(linker: &mut Linker<VmState>) -> wasmtime::Result<()> {
    linker.func_wrap(MODULE, "_initialize", |caller: Caller<'_, VmState>| -> wasmtime::Result<()> {
        let registered = run(caller, |plugin| {
            let entry = plugin.entry;
            plugin.instance.enter(entry);
            plugin.instance.has_root_factory()
        })?;
        if registered {
            Ok(())
        } else {
            Err(wasmtime::Error::msg(
                "the native entry point registered no root context (is it the `sluice_main` that \
                 `sluice::main!` or `derive(RootContext)` generates, built against the same `sluice` as host-sim?)",
            ))
        }
    })?;
    callback!(linker, "proxy_on_context_create", |id, parent| on_context_create(id, parent));
    callback!(linker, "proxy_on_vm_start", |root, n| on_vm_start(root, size(n)));
    callback!(linker, "proxy_on_configure", |root, n| on_configure(root, size(n)));
    callback!(linker, "proxy_on_tick", |root| on_tick(root));
    callback!(linker, "proxy_on_queue_ready", |root, queue| on_queue_ready(root, queue));
    callback!(linker, "proxy_on_foreign_function", |root, f, n| on_foreign_function(root, f, size(n)));
    callback!(linker, "proxy_on_done", |id| on_done(id));
    callback!(linker, "proxy_on_log", |id| on_log(id));
    callback!(linker, "proxy_on_delete", |id| on_delete(id));
    callback!(linker, "proxy_on_new_connection", |id| on_new_connection(id));
    callback!(linker, "proxy_on_downstream_data", |id, n, end| on_downstream_data(id, size(n), eos(end)));
    callback!(linker, "proxy_on_downstream_connection_close", |id, peer| on_downstream_connection_close(id, peer));
    callback!(linker, "proxy_on_upstream_data", |id, n, end| on_upstream_data(id, size(n), eos(end)));
    callback!(linker, "proxy_on_upstream_connection_close", |id, peer| on_upstream_connection_close(id, peer));
    callback!(linker, "proxy_on_request_headers", |id, n, end| on_request_headers(id, size(n), eos(end)));
    callback!(linker, "proxy_on_request_body", |id, n, end| on_request_body(id, size(n), eos(end)));
    callback!(linker, "proxy_on_request_trailers", |id, n| on_request_trailers(id, size(n)));
    callback!(linker, "proxy_on_response_headers", |id, n, end| on_response_headers(id, size(n), eos(end)));
    callback!(linker, "proxy_on_response_body", |id, n, end| on_response_body(id, size(n), eos(end)));
    callback!(linker, "proxy_on_response_trailers", |id, n| on_response_trailers(id, size(n)));
    callback!(linker, "proxy_on_http_call_response", |id, call, h, b, t| on_http_call_response(
        id,
        call,
        size(h),
        size(b),
        size(t)
    ));
    callback!(linker, "proxy_on_grpc_receive_initial_metadata", |id, call, n| on_grpc_receive_initial_metadata(
        id,
        call,
        size(n)
    ));
    callback!(linker, "proxy_on_grpc_receive", |id, call, n| on_grpc_receive(id, call, size(n)));
    callback!(linker, "proxy_on_grpc_receive_trailing_metadata", |id, call, n| on_grpc_receive_trailing_metadata(
        id,
        call,
        size(n)
    ));
    callback!(linker, "proxy_on_grpc_close", |id, call, status| on_grpc_close(id, call, status));
    Ok(())
}
