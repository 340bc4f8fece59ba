//! Native implementations of the `env.proxy_*` functions, generated from
//! the ABI's description: each converts its pointers to slices, calls the
//! current thread's [`Host`] and writes the outputs back exactly as a wasm
//! host writes them into guest memory (returned bytes become an allocation
//! owned by the caller).

use alloc::boxed::Box;
use alloc::vec::Vec;

use crate::native::{Host, HostResult, current_host};
use crate::types::Status;

/// Calls the installed host, or answers `UNIMPLEMENTED` when none is installed.
/// While the host runs, the SDK's logger ignores records (the host's own
/// `log` output must not loop back into `proxy_log`).
fn with_host<T>(f: impl FnOnce(&dyn Host) -> HostResult<T>) -> HostResult<T> {
    match current_host() {
        Some(host) => crate::native::in_host_call(|| f(&*host)),
        None => Err(Status::Unimplemented as u32),
    }
}

/// An input rebuilt from the raw parameters it was passed as.
trait Lift<Raw> {
    /// # Safety
    /// Raw pointers must be valid for what they describe (a pointer/size
    /// pair readable for `size` bytes unless `size` is 0).
    unsafe fn lift(raw: Raw) -> Self;
}

macro_rules! lift_as_itself {
    ($($t:ty),*) => { $( impl Lift<$t> for $t { unsafe fn lift(raw: $t) -> $t { raw } } )* };
}
lift_as_itself!(u32, i32, u64, i64, usize);

impl Lift<u32> for bool {
    unsafe fn lift(raw: u32) -> bool {
        raw != 0
    }
}

impl<'a> Lift<(*const u8, usize)> for &'a [u8] {
    unsafe fn lift((data, size): (*const u8, usize)) -> &'a [u8] {
        if size == 0 || data.is_null() {
            &[]
        } else {
            // SAFETY: the caller guarantees `data` is readable for `size` bytes.
            unsafe { core::slice::from_raw_parts(data, size) }
        }
    }
}

/// An output written through the out-pointers the caller provided, the way
/// a host writes into guest memory.
trait Put<Ptrs> {
    /// # Safety
    /// Every pointer must be valid for a write of its type.
    unsafe fn put(self, ptrs: Ptrs);
}

macro_rules! put_scalar {
    ($($t:ty),*) => { $( impl Put<*mut $t> for $t {
        unsafe fn put(self, out: *mut $t) {
            // SAFETY: the caller guarantees `out` is writable.
            unsafe { out.write(self) }
        }
    } )* };
}
put_scalar!(u32, u64, usize);

impl Put<(*mut *mut u8, *mut usize)> for Vec<u8> {
    /// Hands the bytes to the caller as an allocation it owns (`ptr = 0,
    /// size = 0` when empty, as the reference host does).
    unsafe fn put(self, (data, size): (*mut *mut u8, *mut usize)) {
        let len = self.len();
        let ptr = if len == 0 { core::ptr::null_mut() } else { Box::into_raw(self.into_boxed_slice()).cast::<u8>() };
        // SAFETY: the caller guarantees both output pointers are writable.
        unsafe {
            data.write(ptr);
            size.write(len);
        }
    }
}

/// Defines every host function natively. Each has the contract of the wasm
/// import of the same name: every pointer/size pair is readable and every
/// return pointer writable.
macro_rules! shims {
    ( $( [ ($(#[$meta:meta])*) $name:ident $method:ident $area:ident [$($ret:ident)?]
        ( $( $in:ident $inkind:ident ( $( $raw:ident $rawkind:ident )+ ) )* )
        ( $( $out:ident $outkind:ident ( $( $oraw:ident $orawkind:ident )+ ) )* ) $rules:tt ] )*
    ) => { $(
        #[allow(unused_parens, clippy::too_many_arguments)]
        pub(crate) unsafe fn $name(
            $( $( $raw: sluice_abi::raw_type!($rawkind), )+ )*
            $( $( $oraw: sluice_abi::raw_type!($orawkind), )+ )*
        ) -> u32 {
            // SAFETY: the import's contract (above).
            $( let $in: sluice_abi::input_type!($inkind) = unsafe { Lift::lift(($($raw),+)) }; )*
            match with_host(|h| h.$method($($in),*)) {
                Ok(sluice_abi::outputs!([$($ret)?] $($out)*)) => {
                    // SAFETY: the import's contract (above).
                    $( unsafe { $out.put(($($oraw),+)) }; )*
                    0
                }
                Err(status) => status,
            }
        }
    )* };
}

sluice_abi::for_each_host_function!(shims);
