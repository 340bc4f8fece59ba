//! The host function table for native builds, generated from the ABI's
//! description ([`sluice_abi::for_each_host_function!`]).

use crate::types::Status;

/// What a [`Host`] method returns: a value, or the raw status code the plugin
/// sees (any `u32`, so a test can also return codes the SDK does not know).
pub type HostResult<T> = core::result::Result<T, u32>;

const UNIMPLEMENTED: u32 = Status::Unimplemented as u32;

/// Defines the [`Host`] trait: one method per host function.
macro_rules! host_trait {
    ( $( [ ($(#[$meta:meta])*) $name:ident $method:ident $area:ident [$($ret:ident)?]
        ( $( $in:ident $inkind:ident ( $( $raw:ident $rawkind:ident )+ ) )* )
        ( $( $out:ident $outkind:ident ( $( $oraw:ident $orawkind:ident )+ ) )* ) $rules:tt ] )*
    ) => {
        /// The `env.proxy_*` host functions of ABI v0.2.1 (every one in
        /// [`sluice_abi::HOST_FUNCTIONS`]), as an in-process host implements
        /// them.
        ///
        /// On native targets every hostcall the SDK makes goes through the `Host`
        /// installed for the current plugin instance (see [`Instance`](super::Instance)).
        /// Inputs arrive as slices; byte outputs are returned as `Vec<u8>` and the SDK
        /// takes ownership of them exactly as it takes ownership of host-allocated
        /// memory on wasm. Enumerations arrive as raw `u32`, as on the wire.
        ///
        /// Every method has a default body that answers `UNIMPLEMENTED` (12), the
        /// status a real host gives for a function it does not offer, so a test host
        /// implements only what its plugin calls.
        #[allow(unused_variables)]
        pub trait Host {
            $(
                #[doc = concat!("`", stringify!($name), "`: ")]
                $(#[$meta])*
                fn $method(
                    &self,
                    $( $in: sluice_abi::input_type!($inkind) ),*
                ) -> HostResult<sluice_abi::returns!([$($ret)?] $($outkind)*)> {
                    Err(UNIMPLEMENTED)
                }
            )*
        }
    };
}

sluice_abi::for_each_host_function!(host_trait);
