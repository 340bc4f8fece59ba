//! The null VM: plugins compiled into the test binary, run natively.
//!
//! A natively hosted plugin is a `sluice` plugin whose entry point (the
//! `sluice_main` that `sluice::main!` and `derive(RootContext)` generate on
//! non-wasm targets) is passed to [`PluginSpec::native`](crate::PluginSpec::native)
//! instead of a `.wasm` file. Everything else is the wasm path, unchanged:
//!
//! * host-sim instantiates a small **shim module** in place of the plugin's
//!   module. It has a memory and a bump allocator, exports every callback of
//!   ABI v0.2.1 by importing it from `sluice:native` (host functions that call
//!   the plugin's `sluice::native::Instance`), and re-exports every `env`
//!   host function it imports. The VM driver calls the shim's exports like
//!   any module's: lifecycle, effective context, deferred actions, traps.
//! * The plugin's host table (`bridge`) turns each SDK host call into a
//!   call of the re-exported host function with the arguments copied into
//!   the shim's memory, so phases, statuses, strict mode, capabilities,
//!   redaction and the trace are the wasm ones.
//! * A panic in plugin code, or a host call that traps, stops the plugin
//!   like a trap and fails the VM with the panic's location and message.
//!
//! Each VM owns its own `Instance`, so any number of native plugins and VMs
//! coexist in a process and tests run in parallel. What differs from wasm:
//! the CPU deadline and fuel do not apply to native code (only to the
//! shim), the memory cap bounds only the shim's memory, and a plugin's
//! `static` items are shared by all its native instances in the process
//! (on wasm each instance has its own).
//!
//! Layer: VMs, with `vm`. Imports `engine`, `store` and the data modules,
//! never `host`.

mod bridge;
mod callbacks;
mod panics;
mod thread_bound;

use std::fmt::Write;
use std::rc::Rc;
use std::sync::{Arc, OnceLock};

use wasmtime::{Caller, Instance, Linker, Store};

use crate::engine::{self, Compiled, exports::Exports};
use crate::error::Error;
use crate::store::VmState;
use crate::types::{AbiVersion, LogLevel};
use bridge::{Bridge, HEAP_BASE, Shim};
use panics::Caught;
use sluice::abi::HOST_FUNCTIONS;
pub(crate) use thread_bound::ThreadBound;

pub use crate::spec::NativeEntry;

/// One natively hosted plugin instance, owned by its VM's state.
pub(crate) struct Plugin {
    entry: NativeEntry,
    instance: sluice::native::Instance,
    bridge: Rc<Bridge>,
}

impl Plugin {
    /// Runs plugin code with the bridge attached to `caller`.
    fn call<R>(&mut self, caller: &mut Caller<'_, VmState>, f: impl FnOnce(&mut Plugin) -> R) -> wasmtime::Result<R> {
        let bridge = Rc::clone(&self.bridge);
        let attached = bridge.attach(caller);
        let outcome = panics::catch(|| f(self));
        let result = match outcome {
            Ok(value) => Ok(value),
            Err(Caught::Trap) => Err(bridge
                .take_trap()
                .unwrap_or_else(|| wasmtime::Error::msg("a host call of the natively hosted plugin trapped"))),
            Err(Caught::Panic(report)) => {
                // As the SDK's panic handler does on wasm: report at critical
                // level through the host, then trap.
                use sluice::native::Host;
                let _ = panics::catch(|| bridge.log(LogLevel::Critical as u32, report.headline().as_bytes()));
                Err(wasmtime::Error::msg(report.to_string()))
            }
        };
        drop(attached);
        result
    }
}

/// The linker of the shim: host-sim's v0.2.1 host functions plus the
/// callbacks of module `sluice:native`.
fn linker() -> Result<Linker<VmState>, Error> {
    let mut linker = engine::linker(AbiVersion::V0_2_1)?.clone();
    callbacks::add_to_linker(&mut linker).map_err(|e| Error::Instantiate(format!("{e:#}")))?;
    Ok(linker)
}

/// The shim module's text: its imports take their signatures from `linker`.
fn shim_wat(linker: &Linker<VmState>) -> Result<String, Error> {
    let functions = engine::functions_of(linker)?;
    let signature = |module: &str, name: &str| {
        functions.iter().find(|f| f.0 == module && f.1 == name).map(|(_, _, params, results)| {
            let params: String = params.iter().map(|p| format!(" {p}")).collect();
            let results: String = results.iter().map(|r| format!(" {r}")).collect();
            format!("(param{params}) (result{results})")
        })
    };
    let mut wat = String::from("(module\n");
    let mut exports = String::new();
    for (i, name) in HOST_FUNCTIONS.iter().map(|f| f.name).enumerate() {
        let sig = signature("env", name)
            .ok_or_else(|| Error::Instantiate(format!("host-sim links no env.{name} for ABI v0.2.1")))?;
        let _ = writeln!(wat, "  (import \"env\" \"{name}\" (func $h{i} {sig}))");
        let _ = writeln!(exports, "  (export \"host:{name}\" (func $h{i}))");
    }
    let callbacks = functions.iter().filter(|f| f.0 == callbacks::MODULE);
    for (i, (module, name, _, _)) in callbacks.enumerate() {
        let sig = signature(module, name).unwrap_or_default();
        let _ = writeln!(wat, "  (import \"{module}\" \"{name}\" (func $c{i} {sig}))");
        let _ = writeln!(exports, "  (export \"{name}\" (func $c{i}))");
    }
    wat.push_str(&exports);
    let _ = write!(
        wat,
        r#"  (memory (export "memory") 1)
  (global $bump (export "sluice:bump") (mut i32) (i32.const {HEAP_BASE}))
  (func (export "proxy_abi_version_0_2_1"))
  ;; A bump allocator for the bytes host functions return, moved past its
  ;; arguments by the bridge before each host call: 8-byte aligned, growing
  ;; memory as needed, 0 when memory cannot grow.
  (func (export "proxy_on_memory_allocate") (param $size i32) (result i32)
    (local $ptr i32) (local $end i64) (local $pages i64)
    (local.set $ptr (i32.and (i32.add (global.get $bump) (i32.const 7)) (i32.const -8)))
    (local.set $end (i64.add (i64.extend_i32_u (local.get $ptr)) (i64.extend_i32_u (local.get $size))))
    (local.set $pages (i64.shr_u (i64.add (local.get $end) (i64.const 65535)) (i64.const 16)))
    (if (i64.gt_u (local.get $pages) (i64.const 65536)) (then (return (i32.const 0))))
    (if (i64.gt_u (local.get $pages) (i64.extend_i32_u (memory.size)))
      (then
        (if (i32.eq
              (memory.grow (i32.sub (i32.wrap_i64 (local.get $pages)) (memory.size)))
              (i32.const -1))
          (then (return (i32.const 0))))))
    (global.set $bump (i32.wrap_i64 (local.get $end)))
    (local.get $ptr))
)
"#
    );
    Ok(wat)
}

/// The shim, compiled and pre-instantiated once per process.
pub(crate) fn compiled() -> Result<Arc<Compiled>, Error> {
    static SHIM: OnceLock<Result<Arc<Compiled>, String>> = OnceLock::new();
    SHIM.get_or_init(|| {
        let build = || -> Result<Arc<Compiled>, Error> {
            let linker = linker()?;
            let wasm = wat::parse_str(shim_wat(&linker)?).map_err(|e| Error::Compile(format!("the shim: {e}")))?;
            engine::compile_with(&wasm, &linker).map(Arc::new)
        };
        build().map_err(|e| e.to_string())
    })
    .clone()
    .map_err(Error::Instantiate)
}

/// Creates the native plugin of a freshly instantiated shim: its bridge and
/// its own `sluice::native::Instance`. The entry point runs later, when the
/// VM starts (the shim's `_initialize`).
pub(crate) fn plugin(
    instance: Instance,
    store: &mut Store<VmState>,
    exports: &Exports,
    entry: NativeEntry,
) -> Result<ThreadBound<Plugin>, Error> {
    let missing = |what: &str| Error::Instantiate(format!("the native shim lacks {what}"));
    let memory = exports.memory.ok_or_else(|| missing("its memory"))?;
    let bump = instance.get_global(&mut *store, "sluice:bump").ok_or_else(|| missing("its bump pointer"))?;
    let funcs = HOST_FUNCTIONS
        .iter()
        .map(|f| f.name)
        .map(|name| instance.get_func(&mut *store, &format!("host:{name}")).ok_or_else(|| missing(name)))
        .collect::<Result<Vec<_>, _>>()?;
    let bridge = Rc::new(Bridge::new(Shim { memory, bump, funcs }));
    let instance = sluice::native::Instance::new(Rc::clone(&bridge) as Rc<dyn sluice::native::Host>);
    Ok(ThreadBound::new(Plugin { entry, instance, bridge }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shim_compiles_and_declares_abi_0_2_1_with_every_callback() {
        let compiled = compiled().unwrap();
        assert_eq!(compiled.abi(), AbiVersion::V0_2_1);
        let imports = compiled.imports();
        assert_eq!(imports.iter().filter(|(m, _)| m == "env").count(), HOST_FUNCTIONS.len());
        for callback in ["_initialize", "proxy_on_request_headers", "proxy_on_grpc_close", "proxy_on_foreign_function"]
        {
            assert!(imports.iter().any(|(m, n)| m == callbacks::MODULE && n == callback), "{callback}");
        }
    }
}
