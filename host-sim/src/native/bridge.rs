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

/// Where each host call's arguments start in the shim's memory (0 stays null).
pub(crate) const HEAP_BASE: i32 = 16;

const PAGE: usize = 65536;

/// The shim instance's parts the bridge uses.
pub(crate) struct Shim {
    pub memory: Memory,
    pub bump: Global,
    /// The re-exported host functions, in [`sluice::abi::HOST_FUNCTIONS`] order.
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
        let func = sluice::abi::HOST_FUNCTIONS
            .iter()
            .position(|f| f.name == name)
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
}

/// An input as the wasm arguments of a host call.
trait Input {
    fn push(self, call: &mut Call<'_, '_>, args: &mut Vec<Val>) -> Result<(), Trap>;
}

/// Scalars: one wasm value each.
macro_rules! scalar_inputs {
    ($($t:ty => $val:expr),* $(,)?) => { $(
        impl Input for $t {
            fn push(self, _: &mut Call<'_, '_>, args: &mut Vec<Val>) -> Result<(), Trap> {
                let val: fn($t) -> Val = $val;
                args.push(val(self));
                Ok(())
            }
        }
    )* };
}

scalar_inputs!(
    u32 => v,
    usize => |n| v(n as u32),
    bool => |b| v(u32::from(b)),
    i32 => Val::I32,
    u64 => |n| Val::I64(n as i64),
    i64 => Val::I64,
);

impl Input for &[u8] {
    /// Copies the bytes into the shim: `(ptr, len)` arguments (`(0, 0)` when empty).
    fn push(self, call: &mut Call<'_, '_>, args: &mut Vec<Val>) -> Result<(), Trap> {
        args.extend(call.bytes(self)?);
        Ok(())
    }
}

/// An output: the slots a host call writes it to, and how it is read back.
trait Output: Sized {
    /// Lays out its slots and pushes their addresses; the addresses.
    fn slots(call: &mut Call<'_, '_>, args: &mut Vec<Val>) -> Result<[u32; 2], Trap>;
    fn read(call: &mut Call<'_, '_>, slots: [u32; 2]) -> Result<Self, Trap>;
}

impl Output for u32 {
    fn slots(call: &mut Call<'_, '_>, args: &mut Vec<Val>) -> Result<[u32; 2], Trap> {
        let slot = call.slot(4)?;
        args.push(v(slot));
        Ok([slot, 0])
    }
    fn read(call: &mut Call<'_, '_>, [slot, _]: [u32; 2]) -> Result<u32, Trap> {
        call.u32_at(slot)
    }
}

impl Output for usize {
    fn slots(call: &mut Call<'_, '_>, args: &mut Vec<Val>) -> Result<[u32; 2], Trap> {
        u32::slots(call, args)
    }
    fn read(call: &mut Call<'_, '_>, slots: [u32; 2]) -> Result<usize, Trap> {
        Ok(u32::read(call, slots)? as usize)
    }
}

impl Output for u64 {
    fn slots(call: &mut Call<'_, '_>, args: &mut Vec<Val>) -> Result<[u32; 2], Trap> {
        let slot = call.slot(8)?;
        args.push(v(slot));
        Ok([slot, 0])
    }
    fn read(call: &mut Call<'_, '_>, [slot, _]: [u32; 2]) -> Result<u64, Trap> {
        call.u64_at(slot)
    }
}

impl Output for Vec<u8> {
    fn slots(call: &mut Call<'_, '_>, args: &mut Vec<Val>) -> Result<[u32; 2], Trap> {
        let (pp, sp) = (call.slot(4)?, call.slot(4)?);
        args.extend([v(pp), v(sp)]);
        Ok([pp, sp])
    }
    fn read(call: &mut Call<'_, '_>, [pp, sp]: [u32; 2]) -> Result<Vec<u8>, Trap> {
        call.returned(pp, sp)
    }
}

/// Implements [`Host`] for the bridge from the ABI's description: each
/// method copies its inputs into the shim, lays out its output slots, calls
/// the host function the shim imports and reads the outputs back.
macro_rules! bridge {
    ( $( [ ($(#[$meta:meta])*) $name:ident $method:ident $area:ident [$($ret:ident)?]
        ( $( $in:ident $inkind:ident ( $( $raw:ident $rawkind:ident )+ ) )* )
        ( $( $out:ident $outkind:ident ( $( $oraw:ident $orawkind:ident )+ ) )* ) $rules:tt ] )*
    ) => {
        impl Host for Bridge {
            $(
                #[allow(unused_parens, unused_mut, clippy::unused_unit)]
                fn $method(
                    &self,
                    $( $in: sluice::abi::input_type!($inkind) ),*
                ) -> HostResult<sluice::abi::returns!([$($ret)?] $($outkind)*)> {
                    self.run(|c| {
                        let mut args = Vec::new();
                        $( $in.push(c, &mut args)?; )*
                        $( let $out = <sluice::abi::output_type!($outkind) as Output>::slots(c, &mut args)?; )*
                        let code = c.invoke(stringify!($name), &args)?;
                        if code != 0 {
                            return Ok(Err(code));
                        }
                        $( let $out = Output::read(c, $out)?; )*
                        Ok(Ok(sluice::abi::outputs!([$($ret)?] $($out)*)))
                    })
                }
            )*
        }
    };
}

sluice::abi::for_each_host_function!(bridge);
