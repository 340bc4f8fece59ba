//! Running one test body twice: against the plugin compiled natively into
//! the test binary (the null VM) and against its `.wasm`.
//!
//! ```
//! use host_sim::{Host, Mode, PluginSpec, Request, Response};
//!
//! mod plugin {
//!     pub struct Hello;
//!     impl sluice::RootContext for Hello {}
//!     pub fn sluice_main() {
//!         sluice::set_root_context(|_| Box::new(Hello));
//!     }
//! }
//!
//! /// The plugin in `mode` (a real test builds the wasm with `guest-build`
//! /// or reads it from `target/`).
//! fn spec(mode: Mode) -> Option<PluginSpec> {
//!     match mode {
//!         Mode::Native => Some(PluginSpec::native(plugin::sluice_main)),
//!         Mode::Wasm => None,
//!     }
//! }
//!
//! host_sim::dual_tests! {
//!     /// Generates `passes_requests::native` and `passes_requests::wasm`.
//!     fn passes_requests(mode) {
//!         let Some(spec) = spec(mode) else { return };
//!         let mut host = Host::new();
//!         let plugin = host.load(spec).unwrap();
//!         let outcome = host.run_http(plugin, Request::get("/"), Response::ok()).unwrap();
//!         assert!(outcome.local_response.is_none(), "{mode:?}");
//!     }
//! }
//! ```

use crate::native::NativeEntry;
use crate::spec::PluginSpec;

/// How a plugin runs in a test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Compiled into the test binary and run natively ([`PluginSpec::native`]).
    Native,
    /// Compiled to wasm and run on wasmtime.
    Wasm,
}

impl Mode {
    /// Both modes, native first.
    pub const ALL: [Mode; 2] = [Mode::Native, Mode::Wasm];

    /// The plugin's spec in this mode: its native entry point, or the module
    /// `wasm` returns (called only in wasm mode, so native runs build nothing).
    pub fn spec(self, native: NativeEntry, wasm: impl FnOnce() -> Vec<u8>) -> PluginSpec {
        match self {
            Mode::Native => PluginSpec::native(native),
            Mode::Wasm => PluginSpec::from_bytes(wasm()),
        }
    }
}

/// Defines each test twice, as `<name>::native` and `<name>::wasm`, binding
/// the given identifier to the [`Mode`]. The body is the same in both; test
/// attributes (`#[should_panic]`, `#[ignore]`, docs) apply to both. See the
/// [module example](self).
#[macro_export]
macro_rules! dual_tests {
    ($($(#[$meta:meta])* fn $name:ident($mode:ident) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                $(#[$meta])*
                #[test]
                fn native() {
                    let $mode = $crate::Mode::Native;
                    $body
                }

                $(#[$meta])*
                #[test]
                fn wasm() {
                    let $mode = $crate::Mode::Wasm;
                    $body
                }
            }
        )*
    };
}
