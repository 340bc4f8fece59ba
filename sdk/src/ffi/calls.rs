//! One safe function per host function, generated from the ABI's
//! description: slices in, owned values out, every status mapped through
//! [`Error::check`]. The only code that calls the raw imports; the hostcall
//! modules of the crate build on these.

use alloc::vec::Vec;
use core::ptr::{null, null_mut};

#[allow(unused_imports)]
use super::*;
use crate::error::{Error, Result};

/// An input as the raw parameters it becomes.
trait Lower {
    type Raw;
    fn lower(self) -> Self::Raw;
}

macro_rules! lower_as_itself {
    ($($t:ty),*) => { $( impl Lower for $t { type Raw = $t; fn lower(self) -> $t { self } } )* };
}
lower_as_itself!(u32, i32, u64, i64, usize);

impl Lower for bool {
    type Raw = u32;
    fn lower(self) -> u32 {
        u32::from(self)
    }
}

impl Lower for &[u8] {
    type Raw = (*const u8, usize);
    /// A null pointer for an empty slice, as the hosts accept.
    fn lower(self) -> (*const u8, usize) {
        (if self.is_empty() { null() } else { self.as_ptr() }, self.len())
    }
}

/// Where the host writes one output, and the value it becomes.
trait Slot: Default {
    type Ptrs;
    type Value;
    fn ptrs(&mut self) -> Self::Ptrs;
    fn value(self) -> Self::Value;
}

macro_rules! scalar_slot {
    ($($t:ty),*) => { $( impl Slot for $t {
        type Ptrs = *mut $t;
        type Value = $t;
        fn ptrs(&mut self) -> *mut $t { self }
        fn value(self) -> $t { self }
    } )* };
}
scalar_slot!(u32, u64, usize);

/// The two out-pointers of returned bytes.
struct BytesSlot {
    data: *mut u8,
    size: usize,
}

impl Default for BytesSlot {
    fn default() -> BytesSlot {
        BytesSlot { data: null_mut(), size: 0 }
    }
}

impl Slot for BytesSlot {
    type Ptrs = (*mut *mut u8, *mut usize);
    type Value = Vec<u8>;
    fn ptrs(&mut self) -> (*mut *mut u8, *mut usize) {
        (&mut self.data, &mut self.size)
    }
    /// Takes ownership of a buffer the host allocated with the guest allocator.
    fn value(self) -> Vec<u8> {
        if self.data.is_null() || self.size == 0 {
            return Vec::new();
        }
        // SAFETY: the host wrote `data`/`size` after allocating exactly `size`
        // bytes with `proxy_on_memory_allocate` (which allocates with the global
        // allocator at alignment 1, like a `Vec<u8>`), and ownership passed to us.
        unsafe { Vec::from_raw_parts(self.data, self.size, self.size) }
    }
}

macro_rules! slot_type {
    (bytes) => {
        BytesSlot
    };
    ($scalar:ident) => {
        $scalar
    };
}

/// Defines the safe wrapper of every host function.
macro_rules! wrappers {
    ( $( [ ($(#[$meta:meta])*) $name:ident $method:ident $area:ident [$($ret:ident)?]
        ( $( $in:ident $inkind:ident ( $( $raw:ident $rawkind:ident )+ ) )* )
        ( $( $out:ident $outkind:ident ( $( $oraw:ident $orawkind:ident )+ ) )* ) $rules:tt ] )*
    ) => { $(
        #[allow(unused_parens, clippy::unused_unit)]
        pub(crate) fn $method(
            $( $in: sluice_abi::input_type!($inkind) ),*
        ) -> Result<sluice_abi::returns!([$($ret)?] $($outkind)*)> {
            $( let ($($raw),+) = Lower::lower($in); )*
            $( let mut $out = <slot_type!($outkind)>::default(); )*
            $( let ($($oraw),+) = $out.ptrs(); )*
            // SAFETY: every pointer/size pair comes from a live slice and
            // every out-pointer from a live local slot above.
            let status = unsafe { $name( $( $($raw,)+ )* $( $($oraw,)+ )* ) };
            // Take ownership first so a returned buffer is freed even on an error status.
            $( let $out = $out.value(); )*
            Error::check(status).map(|()| sluice_abi::outputs!([$($ret)?] $($out)*))
        }
    )* };
}

sluice_abi::for_each_host_function!(wrappers);
