//! What a `#![no_std]` plugin needs from its runtime on wasm, behind opt-in
//! features (both compiled only for wasm32):
//!
//! * `global-allocator`: a `#[global_allocator]` made for plugins:
//!   segregated free lists over `memory.grow`, cheaper per allocation than
//!   dlmalloc and a fraction of its code. Sizes round up to classes of 16,
//!   32, 48, 64 bytes, then four steps per doubling (at most a fifth
//!   wasted); memory a class took stays with it, so a steady workload has a
//!   steady footprint. Usable with `std` too (it replaces the standard
//!   library's allocator).
//! * `panic-handler`: a `#[panic_handler]` that reports the panic message
//!   through `proxy_log` at critical level and traps. It reports a message
//!   without arguments as it is (`called \`Option::unwrap()\` on a \`None\`
//!   value`) and leaves out where the panic happened, so that a plugin
//!   carries no `core::fmt` for it (rustc still emits each panic site's
//!   location; only nightly's `-Zlocation-detail=none` drops them); with
//!   `panic-details` it formats the whole message and its location
//!   (`panicked at src/lib.rs:10:5: ...`), at about 2 KB more. Compiled only without
//!   the `std` feature; a plugin that links `std` itself must not enable it
//!   (std has its own handler; use the `std` feature's panic hook instead).
//!   On wasm32-wasip1 it also brings `memcmp`/`bcmp`, which a plugin without
//!   wasi-libc would otherwise import from the host.
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
    #[cfg(feature = "panic-details")]
    crate::panic::report(info);
    #[cfg(not(feature = "panic-details"))]
    crate::panic::report_message(info.message().as_str());
    core::arch::wasm32::unreachable()
}

#[cfg(all(feature = "global-allocator", target_arch = "wasm32"))]
#[global_allocator]
static ALLOCATOR: crate::allocator::Heap = crate::allocator::Heap::new();

/// `memcmp` and `bcmp` for `#![no_std]` plugins on wasm32-wasip1.
///
/// On wasm32-wasip1, `core` expects the C library (wasi-libc, linked by `std`)
/// to provide the byte-comparison functions that slice and string equality
/// compile to; copies and fills lower to bulk-memory instructions instead. A
/// `#![no_std]` plugin links no C library, so without these definitions its
/// module imports `env.memcmp`, which no host provides, and fails to load.
/// wasm32-unknown-unknown needs nothing: `compiler_builtins` provides them.
/// Compiled with `panic-handler`, which already means the plugin does not link
/// `std` (a std plugin has wasi-libc's versions).
#[cfg(all(feature = "panic-handler", not(feature = "std"), target_os = "wasi"))]
mod mem {
    /// Compares `n` bytes; the sign of the first difference, as C's `memcmp`.
    ///
    /// # Safety
    /// `a` and `b` must be valid for reads of `n` bytes, as for C's `memcmp`.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
        let mut i = 0;
        while i < n {
            // SAFETY: the caller guarantees both ranges are readable for `n` bytes,
            // and `i < n`. Volatile reads keep the optimiser from recognising this
            // loop as `memcmp` and calling itself.
            let (x, y) = unsafe { (core::ptr::read_volatile(a.add(i)), core::ptr::read_volatile(b.add(i))) };
            if x != y {
                return i32::from(x) - i32::from(y);
            }
            i += 1;
        }
        0
    }

    /// Whether `n` bytes are equal (zero if they are), as C's `bcmp`.
    ///
    /// # Safety
    /// `a` and `b` must be valid for reads of `n` bytes.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
        // SAFETY: same contract as `memcmp`.
        unsafe { memcmp(a, b, n) }
    }
}
