//! The host table a natively hosted plugin calls: every `sluice::native::Host`
//! method goes through the very host function a wasm guest would import
//! (`env.proxy_*` in host-sim's linker, re-exported by the shim module), so
//! phase checks, strict mode, capabilities, redaction, the trace and every
//! status are exactly the wasm ones.
//!
//! Arguments are copied into the shim's memory from its heap base, output
//! slots laid out next to them, and results read back; the shim's bump
//! allocator, which host functions use to return bytes, starts after them.
//! Nothing outlives one host call, so every call starts again at the base.

use std::cell::{Cell, RefCell};

use sluice::native::{Host, HostResult};
use wasmtime::{Caller, Func, Global, Memory, Val};

use super::panics::TrapUnwind;
use crate::store::VmState;
use crate::types::Status;

/// The `env` functions a plugin built with the SDK may call: the 39 of ABI
/// v0.2.1. The shim imports each and re-exports it as `host:<name>`.
pub(crate) const HOSTCALLS: [&str; 39] = [
    "proxy_log",
    "proxy_get_log_level",
    "proxy_get_current_time_nanoseconds",
    "proxy_set_tick_period_milliseconds",
    "proxy_done",
    "proxy_set_effective_context",
    "proxy_set_buffer_bytes",
    "proxy_get_buffer_bytes",
    "proxy_get_buffer_status",
    "proxy_get_header_map_size",
    "proxy_get_header_map_pairs",
    "proxy_set_header_map_pairs",
    "proxy_get_header_map_value",
    "proxy_add_header_map_value",
    "proxy_replace_header_map_value",
    "proxy_remove_header_map_value",
    "proxy_continue_stream",
    "proxy_close_stream",
    "proxy_get_status",
    "proxy_send_local_response",
    "proxy_http_call",
    "proxy_grpc_call",
    "proxy_grpc_stream",
    "proxy_grpc_send",
    "proxy_grpc_cancel",
    "proxy_grpc_close",
    "proxy_set_shared_data",
    "proxy_get_shared_data",
    "proxy_register_shared_queue",
    "proxy_resolve_shared_queue",
    "proxy_enqueue_shared_queue",
    "proxy_dequeue_shared_queue",
    "proxy_define_metric",
    "proxy_record_metric",
    "proxy_increment_metric",
    "proxy_get_metric",
    "proxy_get_property",
    "proxy_set_property",
    "proxy_call_foreign_function",
];

/// Where each host call's arguments start in the shim's memory (0 stays null).
pub(crate) const HEAP_BASE: i32 = 16;

const PAGE: usize = 65536;

/// The shim instance's parts the bridge uses.
pub(crate) struct Shim {
    pub memory: Memory,
    pub bump: Global,
    /// The re-exported host functions, in [`HOSTCALLS`] order.
    pub funcs: Vec<Func>,
}

/// Why a host call could not complete: it trapped (the plugin stops there).
type Trap = wasmtime::Error;

/// The plugin's host table. While a callback runs, it holds a pointer to the
/// wasmtime `Caller` of that callback (see [`Bridge::attach`]).
pub(crate) struct Bridge {
    shim: Shim,
    caller: Cell<*mut ()>,
    trap: RefCell<Option<Trap>>,
}

/// Detaches the bridge from the callback's `Caller` when the callback ends,
/// however it ends.
pub(crate) struct Attached<'a> {
    bridge: &'a Bridge,
}

impl Drop for Attached<'_> {
    fn drop(&mut self) {
        self.bridge.caller.set(std::ptr::null_mut());
    }
}

impl Bridge {
    pub(crate) fn new(shim: Shim) -> Bridge {
        Bridge { shim, caller: Cell::new(std::ptr::null_mut()), trap: RefCell::new(None) }
    }

    /// Lets host calls reach `caller` until the returned guard drops. The
    /// callback must not use `caller` itself while attached.
    pub(crate) fn attach<'a>(&'a self, caller: &mut Caller<'_, VmState>) -> Attached<'a> {
        self.caller.set((caller as *mut Caller<'_, VmState>).cast());
        Attached { bridge: self }
    }

    /// The trap a host call raised during the callback, if one did.
    pub(crate) fn take_trap(&self) -> Option<Trap> {
        self.trap.borrow_mut().take()
    }

    /// Runs a host call against the attached caller. A trap is stored and
    /// unwinds the plugin (as a trap stops wasm code); the callback reports it.
    fn run<T>(&self, f: impl FnOnce(&mut Call<'_, '_>) -> Result<HostResult<T>, Trap>) -> HostResult<T> {
        let ptr = self.caller.get();
        if ptr.is_null() {
            // Only reachable if plugin code entered its instance by hand,
            // outside any callback host-sim runs.
            return Err(Status::InternalFailure as u32);
        }
        // SAFETY: `ptr` was set by `attach` from a `&mut Caller` that outlives
        // the guard, and is cleared when the guard drops; while attached, the
        // callback's own frame does not touch the caller (it is running plugin
        // code, which is what called us), so this is the only live reference.
        let caller = unsafe { &mut *ptr.cast::<Caller<'_, VmState>>() };
        let result = f(&mut Call { caller, shim: &self.shim, next: HEAP_BASE as u32 });
        match result {
            Ok(result) => result,
            Err(trap) => {
                *self.trap.borrow_mut() = Some(trap);
                std::panic::resume_unwind(Box::new(TrapUnwind))
            }
        }
    }
}

/// One host call being marshalled into the shim. Arguments and output
/// slots are laid out from the heap base by the bridge itself; the shim's
/// allocator (which host functions use for returned bytes) continues after
/// them.
struct Call<'a, 'c> {
    caller: &'a mut Caller<'c, VmState>,
    shim: &'a Shim,
    /// Where the next argument goes.
    next: u32,
}

fn v(value: u32) -> Val {
    Val::I32(value as i32)
}

fn flag(value: bool) -> Val {
    v(u32::from(value))
}

/// `Ok(())` for status 0, else the status.
fn status(code: u32) -> HostResult<()> {
    if code == 0 { Ok(()) } else { Err(code) }
}

impl Call<'_, '_> {
    fn alloc(&mut self, len: usize) -> Result<u32, Trap> {
        let too_large = || wasmtime::Error::msg("a host call's arguments exceed 4 GiB");
        let ptr = self.next.checked_add(7).ok_or_else(too_large)? & !7;
        let end = u32::try_from(len).ok().and_then(|len| ptr.checked_add(len)).ok_or_else(too_large)?;
        let have = self.shim.memory.data_size(&*self.caller);
        if end as usize > have {
            let pages = (end as usize - have).div_ceil(PAGE) as u64;
            if self.shim.memory.grow(&mut *self.caller, pages).is_err() {
                let limit = self.caller.data().limits.memory_limit;
                return Err(wasmtime::Error::msg(format!(
                    "the VM's memory cap of {limit} bytes refused {len} bytes for a host call's arguments"
                )));
            }
        }
        self.next = end;
        Ok(ptr)
    }

    /// Copies `bytes` into the shim: `(ptr, len)` arguments (`(0, 0)` when empty).
    fn bytes(&mut self, bytes: &[u8]) -> Result<[Val; 2], Trap> {
        if bytes.is_empty() {
            return Ok([v(0), v(0)]);
        }
        let ptr = self.alloc(bytes.len())?;
        self.shim.memory.write(&mut *self.caller, ptr as usize, bytes)?;
        Ok([v(ptr), v(bytes.len() as u32)])
    }

    /// An output slot of `size` zeroed bytes.
    fn slot(&mut self, size: usize) -> Result<u32, Trap> {
        let ptr = self.alloc(size)?;
        self.shim.memory.write(&mut *self.caller, ptr as usize, &vec![0; size])?;
        Ok(ptr)
    }

    /// Calls host function `name` with `args`; its status.
    fn invoke(&mut self, name: &'static str, args: &[Val]) -> Result<u32, Trap> {
        if let Some(why) = self.caller.data().policy.profile.link_error(name) {
            // A wasm module importing it would not have linked at all.
            return Err(wasmtime::Error::msg(why));
        }
        let func = HOSTCALLS
            .iter()
            .position(|n| *n == name)
            .and_then(|index| self.shim.funcs.get(index))
            .ok_or_else(|| wasmtime::Error::msg(format!("the native shim does not import env.{name}")))?;
        // The shim's allocator hands out memory after the arguments.
        self.shim.bump.set(&mut *self.caller, Val::I32(self.next as i32))?;
        let mut result = [Val::I32(0)];
        func.call(&mut *self.caller, args, &mut result)?;
        Ok(result[0].unwrap_i32() as u32)
    }

    fn read(&mut self, ptr: u32, len: usize) -> Result<Vec<u8>, Trap> {
        let mut out = vec![0; len];
        self.shim.memory.read(&*self.caller, ptr as usize, &mut out)?;
        Ok(out)
    }

    fn u32_at(&mut self, ptr: u32) -> Result<u32, Trap> {
        let bytes = self.read(ptr, 4)?;
        Ok(u32::from_le_bytes(bytes.try_into().expect("4 bytes")))
    }

    fn u64_at(&mut self, ptr: u32) -> Result<u64, Trap> {
        let bytes = self.read(ptr, 8)?;
        Ok(u64::from_le_bytes(bytes.try_into().expect("8 bytes")))
    }

    /// The bytes a host function returned through `(ptr_ptr, size_ptr)`.
    fn returned(&mut self, ptr_ptr: u32, size_ptr: u32) -> Result<Vec<u8>, Trap> {
        let (ptr, size) = (self.u32_at(ptr_ptr)?, self.u32_at(size_ptr)?);
        if size == 0 { Ok(Vec::new()) } else { self.read(ptr, size as usize) }
    }

    /// Calls `name` with the leading `args` plus two out-slots for returned
    /// bytes; the bytes on success.
    fn bytes_out(&mut self, name: &'static str, args: &[Val]) -> Result<HostResult<Vec<u8>>, Trap> {
        let (pp, sp) = (self.slot(4)?, self.slot(4)?);
        let mut all = args.to_vec();
        all.extend([v(pp), v(sp)]);
        let code = self.invoke(name, &all)?;
        if code != 0 {
            return Ok(Err(code));
        }
        self.returned(pp, sp).map(Ok)
    }

    /// Calls `name` with `args` plus one 4-byte out-slot; the value on success.
    fn u32_out(&mut self, name: &'static str, args: &[Val]) -> Result<HostResult<u32>, Trap> {
        let slot = self.slot(4)?;
        let mut all = args.to_vec();
        all.push(v(slot));
        let code = self.invoke(name, &all)?;
        if code != 0 {
            return Ok(Err(code));
        }
        self.u32_at(slot).map(Ok)
    }

    /// Calls `name` with `args` plus one 8-byte out-slot; the value on success.
    fn u64_out(&mut self, name: &'static str, args: &[Val]) -> Result<HostResult<u64>, Trap> {
        let slot = self.slot(8)?;
        let mut all = args.to_vec();
        all.push(v(slot));
        let code = self.invoke(name, &all)?;
        if code != 0 {
            return Ok(Err(code));
        }
        self.u64_at(slot).map(Ok)
    }

    /// Calls `name` with `args`; only its status.
    fn status(&mut self, name: &'static str, args: &[Val]) -> Result<HostResult<()>, Trap> {
        self.invoke(name, args).map(status)
    }
}

impl Host for Bridge {
    fn log(&self, level: u32, message: &[u8]) -> HostResult<()> {
        self.run(|c| {
            let [p, l] = c.bytes(message)?;
            c.status("proxy_log", &[v(level), p, l])
        })
    }

    fn get_log_level(&self) -> HostResult<u32> {
        self.run(|c| c.u32_out("proxy_get_log_level", &[]))
    }

    fn get_current_time_nanoseconds(&self) -> HostResult<u64> {
        self.run(|c| c.u64_out("proxy_get_current_time_nanoseconds", &[]))
    }

    fn set_tick_period_milliseconds(&self, period: u32) -> HostResult<()> {
        self.run(|c| c.status("proxy_set_tick_period_milliseconds", &[v(period)]))
    }

    fn done(&self) -> HostResult<()> {
        self.run(|c| c.status("proxy_done", &[]))
    }

    fn set_effective_context(&self, context_id: u32) -> HostResult<()> {
        self.run(|c| c.status("proxy_set_effective_context", &[v(context_id)]))
    }

    fn set_buffer_bytes(&self, buffer_type: u32, start: usize, size: usize, value: &[u8]) -> HostResult<()> {
        self.run(|c| {
            let [p, l] = c.bytes(value)?;
            c.status("proxy_set_buffer_bytes", &[v(buffer_type), v(start as u32), v(size as u32), p, l])
        })
    }

    fn get_buffer_bytes(&self, buffer_type: u32, start: usize, max_size: usize) -> HostResult<Vec<u8>> {
        self.run(|c| c.bytes_out("proxy_get_buffer_bytes", &[v(buffer_type), v(start as u32), v(max_size as u32)]))
    }

    fn get_buffer_status(&self, buffer_type: u32) -> HostResult<(usize, u32)> {
        self.run(|c| {
            let (size, flags) = (c.slot(4)?, c.slot(4)?);
            let code = c.invoke("proxy_get_buffer_status", &[v(buffer_type), v(size), v(flags)])?;
            if code != 0 {
                return Ok(Err(code));
            }
            Ok(Ok((c.u32_at(size)? as usize, c.u32_at(flags)?)))
        })
    }

    fn get_header_map_size(&self, map_type: u32) -> HostResult<usize> {
        self.run(|c| Ok(c.u32_out("proxy_get_header_map_size", &[v(map_type)])?.map(|n| n as usize)))
    }

    fn get_header_map_pairs(&self, map_type: u32) -> HostResult<Vec<u8>> {
        self.run(|c| c.bytes_out("proxy_get_header_map_pairs", &[v(map_type)]))
    }

    fn set_header_map_pairs(&self, map_type: u32, serialized: &[u8]) -> HostResult<()> {
        self.run(|c| {
            let [p, l] = c.bytes(serialized)?;
            c.status("proxy_set_header_map_pairs", &[v(map_type), p, l])
        })
    }

    fn get_header_map_value(&self, map_type: u32, key: &[u8]) -> HostResult<Vec<u8>> {
        self.run(|c| {
            let [k, kl] = c.bytes(key)?;
            c.bytes_out("proxy_get_header_map_value", &[v(map_type), k, kl])
        })
    }

    fn add_header_map_value(&self, map_type: u32, key: &[u8], value: &[u8]) -> HostResult<()> {
        self.run(|c| {
            let ([k, kl], [p, l]) = (c.bytes(key)?, c.bytes(value)?);
            c.status("proxy_add_header_map_value", &[v(map_type), k, kl, p, l])
        })
    }

    fn replace_header_map_value(&self, map_type: u32, key: &[u8], value: &[u8]) -> HostResult<()> {
        self.run(|c| {
            let ([k, kl], [p, l]) = (c.bytes(key)?, c.bytes(value)?);
            c.status("proxy_replace_header_map_value", &[v(map_type), k, kl, p, l])
        })
    }

    fn remove_header_map_value(&self, map_type: u32, key: &[u8]) -> HostResult<()> {
        self.run(|c| {
            let [k, kl] = c.bytes(key)?;
            c.status("proxy_remove_header_map_value", &[v(map_type), k, kl])
        })
    }

    fn continue_stream(&self, stream_type: u32) -> HostResult<()> {
        self.run(|c| c.status("proxy_continue_stream", &[v(stream_type)]))
    }

    fn close_stream(&self, stream_type: u32) -> HostResult<()> {
        self.run(|c| c.status("proxy_close_stream", &[v(stream_type)]))
    }

    fn get_status(&self) -> HostResult<(u32, Vec<u8>)> {
        self.run(|c| {
            let (code_slot, pp, sp) = (c.slot(4)?, c.slot(4)?, c.slot(4)?);
            let code = c.invoke("proxy_get_status", &[v(code_slot), v(pp), v(sp)])?;
            if code != 0 {
                return Ok(Err(code));
            }
            Ok(Ok((c.u32_at(code_slot)?, c.returned(pp, sp)?)))
        })
    }

    fn send_local_response(
        &self,
        status_code: u32,
        details: &[u8],
        body: &[u8],
        serialized_headers: &[u8],
        grpc_status: i32,
    ) -> HostResult<()> {
        self.run(|c| {
            let ([d, dl], [b, bl], [h, hl]) = (c.bytes(details)?, c.bytes(body)?, c.bytes(serialized_headers)?);
            c.status("proxy_send_local_response", &[v(status_code), d, dl, b, bl, h, hl, Val::I32(grpc_status)])
        })
    }

    fn http_call(
        &self,
        upstream: &[u8],
        serialized_headers: &[u8],
        body: &[u8],
        serialized_trailers: &[u8],
        timeout_ms: u32,
    ) -> HostResult<u32> {
        self.run(|c| {
            let [u, ul] = c.bytes(upstream)?;
            let [h, hl] = c.bytes(serialized_headers)?;
            let [b, bl] = c.bytes(body)?;
            let [t, tl] = c.bytes(serialized_trailers)?;
            c.u32_out("proxy_http_call", &[u, ul, h, hl, b, bl, t, tl, v(timeout_ms)])
        })
    }

    fn grpc_call(
        &self,
        upstream: &[u8],
        service: &[u8],
        method: &[u8],
        serialized_initial_metadata: &[u8],
        message: &[u8],
        timeout_ms: u32,
    ) -> HostResult<u32> {
        self.run(|c| {
            let [u, ul] = c.bytes(upstream)?;
            let [s, sl] = c.bytes(service)?;
            let [m, ml] = c.bytes(method)?;
            let [h, hl] = c.bytes(serialized_initial_metadata)?;
            let [b, bl] = c.bytes(message)?;
            c.u32_out("proxy_grpc_call", &[u, ul, s, sl, m, ml, h, hl, b, bl, v(timeout_ms)])
        })
    }

    fn grpc_stream(
        &self,
        upstream: &[u8],
        service: &[u8],
        method: &[u8],
        serialized_initial_metadata: &[u8],
    ) -> HostResult<u32> {
        self.run(|c| {
            let [u, ul] = c.bytes(upstream)?;
            let [s, sl] = c.bytes(service)?;
            let [m, ml] = c.bytes(method)?;
            let [h, hl] = c.bytes(serialized_initial_metadata)?;
            c.u32_out("proxy_grpc_stream", &[u, ul, s, sl, m, ml, h, hl])
        })
    }

    fn grpc_send(&self, stream_id: u32, message: &[u8], end_stream: bool) -> HostResult<()> {
        self.run(|c| {
            let [m, ml] = c.bytes(message)?;
            c.status("proxy_grpc_send", &[v(stream_id), m, ml, flag(end_stream)])
        })
    }

    fn grpc_cancel(&self, call_or_stream_id: u32) -> HostResult<()> {
        self.run(|c| c.status("proxy_grpc_cancel", &[v(call_or_stream_id)]))
    }

    fn grpc_close(&self, call_or_stream_id: u32) -> HostResult<()> {
        self.run(|c| c.status("proxy_grpc_close", &[v(call_or_stream_id)]))
    }

    fn set_shared_data(&self, key: &[u8], value: &[u8], cas: u32) -> HostResult<()> {
        self.run(|c| {
            let ([k, kl], [p, l]) = (c.bytes(key)?, c.bytes(value)?);
            c.status("proxy_set_shared_data", &[k, kl, p, l, v(cas)])
        })
    }

    fn get_shared_data(&self, key: &[u8]) -> HostResult<(Vec<u8>, u32)> {
        self.run(|c| {
            let [k, kl] = c.bytes(key)?;
            let (pp, sp, cas) = (c.slot(4)?, c.slot(4)?, c.slot(4)?);
            let code = c.invoke("proxy_get_shared_data", &[k, kl, v(pp), v(sp), v(cas)])?;
            if code != 0 {
                return Ok(Err(code));
            }
            Ok(Ok((c.returned(pp, sp)?, c.u32_at(cas)?)))
        })
    }

    fn register_shared_queue(&self, name: &[u8]) -> HostResult<u32> {
        self.run(|c| {
            let [n, nl] = c.bytes(name)?;
            c.u32_out("proxy_register_shared_queue", &[n, nl])
        })
    }

    fn resolve_shared_queue(&self, vm_id: &[u8], name: &[u8]) -> HostResult<u32> {
        self.run(|c| {
            let ([i, il], [n, nl]) = (c.bytes(vm_id)?, c.bytes(name)?);
            c.u32_out("proxy_resolve_shared_queue", &[i, il, n, nl])
        })
    }

    fn enqueue_shared_queue(&self, queue_id: u32, value: &[u8]) -> HostResult<()> {
        self.run(|c| {
            let [p, l] = c.bytes(value)?;
            c.status("proxy_enqueue_shared_queue", &[v(queue_id), p, l])
        })
    }

    fn dequeue_shared_queue(&self, queue_id: u32) -> HostResult<Vec<u8>> {
        self.run(|c| c.bytes_out("proxy_dequeue_shared_queue", &[v(queue_id)]))
    }

    fn define_metric(&self, metric_type: u32, name: &[u8]) -> HostResult<u32> {
        self.run(|c| {
            let [n, nl] = c.bytes(name)?;
            c.u32_out("proxy_define_metric", &[v(metric_type), n, nl])
        })
    }

    fn record_metric(&self, metric_id: u32, value: u64) -> HostResult<()> {
        self.run(|c| c.status("proxy_record_metric", &[v(metric_id), Val::I64(value as i64)]))
    }

    fn increment_metric(&self, metric_id: u32, delta: i64) -> HostResult<()> {
        self.run(|c| c.status("proxy_increment_metric", &[v(metric_id), Val::I64(delta)]))
    }

    fn get_metric(&self, metric_id: u32) -> HostResult<u64> {
        self.run(|c| c.u64_out("proxy_get_metric", &[v(metric_id)]))
    }

    fn get_property(&self, path: &[u8]) -> HostResult<Vec<u8>> {
        self.run(|c| {
            let [p, l] = c.bytes(path)?;
            c.bytes_out("proxy_get_property", &[p, l])
        })
    }

    fn set_property(&self, path: &[u8], value: &[u8]) -> HostResult<()> {
        self.run(|c| {
            let ([p, pl], [x, xl]) = (c.bytes(path)?, c.bytes(value)?);
            c.status("proxy_set_property", &[p, pl, x, xl])
        })
    }

    fn call_foreign_function(&self, name: &[u8], arguments: &[u8]) -> HostResult<Vec<u8>> {
        self.run(|c| {
            let ([n, nl], [a, al]) = (c.bytes(name)?, c.bytes(arguments)?);
            c.bytes_out("proxy_call_foreign_function", &[n, nl, a, al])
        })
    }
}
