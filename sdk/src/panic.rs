//! Reporting panics through the host before the module traps.
//!
//! Which build reports a panic through `proxy_log` at critical level (the
//! module traps right after, on both wasm targets):
//!
//! * A plugin that links std, with the `std` feature: yes. [`main!`](crate::main)
//!   (and so the derives' entry point) installs a panic hook in `_initialize`.
//! * A `#![no_std]` plugin with the `panic-handler` feature (and without
//!   `std`): yes, from the `#[panic_handler]` in `runtime`, which then traps
//!   (`unreachable`). It is compiled only without `std`, so it never clashes
//!   with the standard library's handler.
//! * A plugin that links std but leaves the `std` feature off (for example
//!   with the default features): **no**. The SDK cannot reach std's hook
//!   without the feature, so std's default hook runs: on wasm32-wasip1 it
//!   writes the message to stderr, which Envoy logs at *error* level (WASI
//!   `fd_write` on fd 2); on wasm32-unknown-unknown the message is lost. Such
//!   a plugin must enable `std`.
//! * A `#![no_std]` plugin with its own `#[panic_handler]` reports what that
//!   handler reports.
//! * Natively (tests, host-sim's null VM) the host catches the unwind and
//!   reports the panic itself; [`runtime::install_panic_hook`](crate::runtime::install_panic_hook)
//!   logs it through the host as on wasm.

use core::fmt::{self, Write};

use crate::ffi;
use crate::types::LogLevel;

/// A fixed buffer: reporting a panic must not allocate (the panic may be an
/// allocation failure). Longer messages are cut.
struct Message {
    bytes: [u8; 512],
    len: usize,
}

impl Write for Message {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.bytes.len() - self.len;
        let n = s.len().min(room);
        self.bytes[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// Logs a panic (`info` is a `PanicInfo` or `PanicHookInfo`, whose `Display`
/// gives the location and message) at critical level.
#[cfg(any(feature = "std", feature = "panic-details", not(target_arch = "wasm32")))]
pub(crate) fn report(info: &dyn fmt::Display) {
    let mut message = Message { bytes: [0; 512], len: 0 };
    let _ = write!(message, "{info}");
    let _ = ffi::log(LogLevel::Critical.into(), &message.bytes[..message.len]);
}

/// Logs a panic at critical level without `core::fmt`: its message when it
/// has no arguments, else a line saying how to see it.
#[cfg(all(feature = "panic-handler", not(feature = "panic-details"), not(feature = "std"), target_arch = "wasm32"))]
pub(crate) fn report_message(message: Option<&str>) {
    let mut line = Message { bytes: [0; 512], len: 0 };
    let _ = match message {
        Some(text) => line.write_str("panicked: ").and_then(|()| line.write_str(text)),
        None => line.write_str(
            "panicked (its message has arguments: enable sluice's `panic-details` feature to see it and where it happened)",
        ),
    };
    let _ = ffi::log(LogLevel::Critical.into(), &line.bytes[..line.len]);
}

/// Installs the panic hook that reports panics through the host.
#[cfg(any(feature = "std", not(target_arch = "wasm32")))]
pub(crate) fn install_hook() {
    std::panic::set_hook(alloc::boxed::Box::new(|info| report(info)));
}
