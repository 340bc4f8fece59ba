//! The runtime of [`info!`](crate::info) and the other level macros: a log
//! line built in a reused buffer by appending the format string's literal
//! pieces (split at compile time) and its arguments, then sent with one
//! `proxy_log`. Not a public API: the macros' expansion calls it.
//!
//! Arguments are appended by [`Arg`]: strings, integers, `bool` and `char`
//! directly ([`Direct`]), anything else through its `Display`
//! ([`ByDisplay`]); the macro calls `(&Arg(value)).put(line)`, and method
//! resolution picks `Direct` when the type has it (it needs no auto-ref),
//! `ByDisplay` otherwise.

#[cfg(not(test))]
use alloc::string::String;
#[cfg(test)]
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use crate::types::LogLevel;

pub use crate::logging::enabled;

/// Buffers of at most this many bytes are kept for the next line.
#[cfg(target_arch = "wasm32")]
const KEEP: usize = 4096;

/// Logs a line at trace level; see [`info!`](crate::info) for the syntax and costs.
#[cfg(feature = "macros")]
#[macro_export]
macro_rules! trace {
    ($($args:tt)*) => {
        $crate::__private::format_log_line!($crate, $crate::LogLevel::Trace, $($args)*)
    };
}

/// Logs a line at debug level; see [`info!`](crate::info) for the syntax and costs.
#[cfg(feature = "macros")]
#[macro_export]
macro_rules! debug {
    ($($args:tt)*) => {
        $crate::__private::format_log_line!($crate, $crate::LogLevel::Debug, $($args)*)
    };
}
/// Logs a line at info level through `proxy_log`, with Rust's format syntax.
///
/// ```no_run
/// # let (id, name, value) = (2, "user-agent", "curl");
/// sluice::info!("#{} -> {}: {}", id, name, value);
/// sluice::info!("#{id} completed");
/// sluice::warn!("slow upstream: {:.1} ms", 12.25);
/// ```
///
/// Unlike `format!` and the `log` crate's macros, the format string is split
/// at compile time: the line is built by appending its pieces and arguments
/// to a reused buffer, strings, integers, `bool` and `char` directly, other
/// types through `Display`, and placeholders with a specification (`{:?}`,
/// `{:>8}`) through `format_args!` one by one. A header plugin's log line
/// costs about half the wasm instructions of `format!` (see `BENCHMARKS.md`).
///
/// The arguments are evaluated only if the level is enabled: with the SDK's
/// `log` crate logger installed ([`logging::init`](crate::logging::init)),
/// by the host's level as it last read it (re-read after each
/// configuration, tick and new stream); without it, every line goes to the
/// host, which filters by its own level (as Envoy does). Feature `macros`.
#[cfg(feature = "macros")]
#[macro_export]
macro_rules! info {
    ($($args:tt)*) => {
        $crate::__private::format_log_line!($crate, $crate::LogLevel::Info, $($args)*)
    };
}

/// Logs a line at warn level; see [`info!`](crate::info) for the syntax and costs.
#[cfg(feature = "macros")]
#[macro_export]
macro_rules! warn {
    ($($args:tt)*) => {
        $crate::__private::format_log_line!($crate, $crate::LogLevel::Warn, $($args)*)
    };
}

/// Logs a line at error level; see [`info!`](crate::info) for the syntax and costs.
#[cfg(feature = "macros")]
#[macro_export]
macro_rules! error {
    ($($args:tt)*) => {
        $crate::__private::format_log_line!($crate, $crate::LogLevel::Error, $($args)*)
    };
}

/// Logs a line at critical level; see [`info!`](crate::info) for the syntax and costs.
#[cfg(feature = "macros")]
#[macro_export]
macro_rules! critical {
    ($($args:tt)*) => {
        $crate::__private::format_log_line!($crate, $crate::LogLevel::Critical, $($args)*)
    };
}

#[cfg(target_arch = "wasm32")]
mod scratch {
    use alloc::vec::Vec;
    use core::cell::UnsafeCell;

    /// The buffer of the last line, kept for the next one.
    pub(super) struct Scratch(pub(super) UnsafeCell<Vec<u8>>);

    // SAFETY: a wasm32 module without the `atomics` feature (which the
    // dispatcher's state refuses) runs on one thread; the buffer is only
    // moved in and out with `mem::take`/`replace`, never borrowed across calls.
    unsafe impl Sync for Scratch {}

    pub(super) static SCRATCH: Scratch = Scratch(UnsafeCell::new(Vec::new()));

    pub(super) fn take() -> Vec<u8> {
        // SAFETY: see `Sync`; no reference outlives this statement.
        core::mem::take(unsafe { &mut *SCRATCH.0.get() })
    }

    pub(super) fn put(buffer: Vec<u8>) {
        // SAFETY: as in `take`. A line logged while another was being built
        // (from a `Display` impl) may leave its buffer first; either is fine.
        drop(core::mem::replace(unsafe { &mut *SCRATCH.0.get() }, buffer));
    }
}

/// A log line being built.
#[derive(Debug)]
pub struct Line(Vec<u8>);

impl Line {
    /// An empty line, in the buffer the previous line used.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Line {
        #[cfg(target_arch = "wasm32")]
        {
            Line(scratch::take())
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            Line(Vec::new())
        }
    }

    /// Appends literal text.
    pub fn text(&mut self, text: &str) {
        self.0.extend_from_slice(text.as_bytes());
    }

    /// Appends formatted text (a placeholder with a format specification).
    pub fn fmt(&mut self, args: fmt::Arguments<'_>) {
        match args.as_str() {
            Some(text) => self.text(text),
            None => {
                // Writing to a `Vec` cannot fail; a `Display` impl that fails
                // leaves what it wrote.
                let _ = fmt::Write::write_fmt(self, args);
            }
        }
    }

    /// Sends the line through `proxy_log`.
    pub fn log(self, level: LogLevel) {
        // A failing log call has nowhere to report to.
        let _ = crate::logging::log(level, &self.0);
    }
}

impl fmt::Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.text(s);
        Ok(())
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        #[cfg(target_arch = "wasm32")]
        if self.0.capacity() <= KEEP {
            let mut buffer = core::mem::take(&mut self.0);
            buffer.clear();
            scratch::put(buffer);
        }
    }
}

/// An argument of a log line.
#[derive(Debug)]
pub struct Arg<'a, T: ?Sized>(pub &'a T);

/// Appends an argument without `core::fmt`.
pub trait Direct {
    /// Appends the argument.
    fn put(&self, line: &mut Line);
}

/// Appends an argument through its `Display` implementation.
pub trait ByDisplay {
    /// Appends the argument.
    fn put(&self, line: &mut Line);
}

impl<T: fmt::Display + ?Sized> ByDisplay for &Arg<'_, T> {
    fn put(&self, line: &mut Line) {
        line.fmt(format_args!("{}", self.0));
    }
}

macro_rules! direct_text {
    ($($t:ty),*) => {$(
        impl Direct for Arg<'_, $t> {
            fn put(&self, line: &mut Line) {
                line.text(self.0);
            }
        }
    )*};
}
direct_text!(str, &str, &&str, String, &String);

impl Direct for Arg<'_, bool> {
    fn put(&self, line: &mut Line) {
        line.text(if *self.0 { "true" } else { "false" });
    }
}

impl Direct for Arg<'_, char> {
    fn put(&self, line: &mut Line) {
        line.text(self.0.encode_utf8(&mut [0; 4]));
    }
}

/// Appends the decimal digits of `n`, with a minus sign if `negative`.
fn decimal(line: &mut Line, mut n: u64, negative: bool) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if negative {
        line.0.push(b'-');
    }
    line.0.extend_from_slice(&digits[at..]);
}

macro_rules! direct_integer {
    ($($t:ty),*) => {$(
        impl Direct for Arg<'_, $t> {
            fn put(&self, line: &mut Line) {
                #[allow(unused_comparisons)]
                let negative = *self.0 < 0;
                decimal(line, (*self.0 as i128).unsigned_abs() as u64, negative);
            }
        }
    )*};
}
direct_integer!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize);

#[cfg(test)]
// The tests call `put` the way the macro does, through `&Arg`.
#[allow(clippy::needless_borrow)]
mod tests {
    use super::*;

    fn put_direct(arg: impl Fn(&mut Line)) -> String {
        let mut line = Line::new();
        arg(&mut line);
        String::from_utf8(line.0.clone()).unwrap()
    }

    #[test]
    fn integers_strings_and_the_rest_append_what_display_would() {
        assert_eq!(put_direct(|l| (&Arg(&0u32)).put(l)), "0");
        assert_eq!(put_direct(|l| (&Arg(&u64::MAX)).put(l)), u64::MAX.to_string());
        assert_eq!(put_direct(|l| (&Arg(&i64::MIN)).put(l)), i64::MIN.to_string());
        assert_eq!(put_direct(|l| (&Arg(&-42i8)).put(l)), "-42");
        assert_eq!(put_direct(|l| (&Arg(&"text")).put(l)), "text");
        assert_eq!(put_direct(|l| (&Arg(&String::from("owned"))).put(l)), "owned");
        assert_eq!(put_direct(|l| (&Arg(&true)).put(l)), "true");
        assert_eq!(put_direct(|l| (&Arg(&'é')).put(l)), "é");
        // No `Direct` impl: through `Display`.
        assert_eq!(put_direct(|l| (&Arg(&1.5f64)).put(l)), "1.5");
        let error = crate::Error::InvalidUtf8;
        assert_eq!(put_direct(|l| (&Arg(&error)).put(l)), error.to_string());
    }

    #[test]
    fn formatted_pieces_go_through_core_fmt() {
        let mut line = Line::new();
        line.text("[");
        line.fmt(format_args!("{:>4}", 7));
        line.fmt(format_args!("{:?}", "q"));
        line.text("]");
        assert_eq!(String::from_utf8(line.0.clone()).unwrap(), "[   7\"q\"]");
    }
}
