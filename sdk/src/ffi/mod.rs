//! The raw ABI: the `env.proxy_*` host functions of v0.2.1, integers and
//! pointers only, generated from the ABI's one description
//! ([`sluice_abi::for_each_host_function!`]).
//!
//! On wasm these are imports from module `env`. Because each one is a separate
//! import that the linker keeps only when something calls it, a plugin imports
//! exactly the host functions it uses. On every other target the same
//! functions are implemented by [`native`], which forwards each call to the
//! [`Host`](crate::native::Host) table installed for the current thread, so the
//! safe wrappers run the same code natively and on wasm.
//!
//! Nothing outside the hostcall wrappers calls into this module.

mod calls;
#[cfg(not(target_arch = "wasm32"))]
mod native;

pub(crate) use calls::*;
#[cfg(not(target_arch = "wasm32"))]
use native::*;

/// Declares every host function as a wasm import.
macro_rules! imports {
    ( $( [ ($(#[$meta:meta])*) $name:ident $method:ident $area:ident [$($ret:ident)?]
        ( $( $in:ident $inkind:ident ( $( $raw:ident $rawkind:ident )+ ) )* )
        ( $( $out:ident $outkind:ident ( $( $oraw:ident $orawkind:ident )+ ) )* ) $rules:tt ] )*
    ) => {
        #[cfg(target_arch = "wasm32")]
        #[link(wasm_import_module = "env")]
        unsafe extern "C" {
            $(
                fn $name(
                    $( $( $raw: sluice_abi::raw_type!($rawkind), )+ )*
                    $( $( $oraw: sluice_abi::raw_type!($orawkind), )+ )*
                ) -> u32;
            )*
        }
    };
}

sluice_abi::for_each_host_function!(imports);
