//! What a `#![no_std]` plugin needs from its runtime on wasm, behind opt-in
//! features (both compiled only for wasm32):
//!
//! * `global-allocator`: a `#[global_allocator]` backed by `dlmalloc`, the
//!   allocator the Rust standard library itself uses on wasm, so behaviour
//!   matches a std build. Harmless with `std` (it replaces the same
//!   allocator), so it is not tied to `no_std`.
//! * `panic-handler`: a `#[panic_handler]` that reports the panic message
//!   through `proxy_log` at critical level and traps. Compiled only without
//!   the `std` feature; a plugin that links `std` itself must not enable it
//!   (std has its own handler; use the `std` feature's panic hook instead).
//!
//! ```toml
//! [dependencies]
//! sluice = { version = "0.1", default-features = false, features = ["global-allocator", "panic-handler"] }
//! ```

/// Installs a panic hook that reports every panic through `proxy_log` at
/// critical level (with its message and location) before the default
/// behaviour continues. [`main!`](crate::main) calls it on wasm with the
/// `std` feature; natively, tests of a plugin can call it to see panics the
/// way the proxy would log them.
#[cfg(any(feature = "std", not(target_arch = "wasm32")))]
pub fn install_panic_hook() {
    crate::panic::install_hook();
}

#[cfg(all(feature = "panic-handler", not(feature = "std"), target_arch = "wasm32"))]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    crate::panic::report(info);
    core::arch::wasm32::unreachable()
}

#[cfg(all(feature = "global-allocator", target_arch = "wasm32"))]
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;
