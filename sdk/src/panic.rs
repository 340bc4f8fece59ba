//! Reporting panics through the host before the module traps.
//!
//! * With the `std` feature, [`main!`](crate::main) installs a panic hook
//!   that logs the panic message at critical level.
//! * A `#![no_std]` plugin on wasm enables the `panic-handler` feature to get a
//!   `#[panic_handler]` that logs the message at critical level and then
//!   traps (`unreachable`). It is compiled only without `std`, so it never
//!   clashes with the standard library's handler.

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
pub(crate) fn report(info: &dyn fmt::Display) {
    let mut message = Message { bytes: [0; 512], len: 0 };
    let _ = write!(message, "{info}");
    let _ = ffi::log(LogLevel::Critical.into(), &message.bytes[..message.len]);
}

/// Installs the panic hook that reports panics through the host.
#[cfg(any(feature = "std", not(target_arch = "wasm32")))]
pub(crate) fn install_hook() {
    std::panic::set_hook(alloc::boxed::Box::new(|info| report(info)));
}
