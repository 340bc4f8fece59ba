//! Logging through the host (`proxy_log`), directly or as a [`log`](mod@log) crate logger.
//!
//! ```no_run
//! sluice::logging::init().ok(); // in the entry point
//! log::info!("configured with {} bytes", 42);
//! ```
//!
//! The logger filters with `log::max_level()`, which [`init`] and
//! [`refresh_level`] set from the host's level (`proxy_get_log_level`).
//!
//! The host can change its level at run time (Envoy's admin `/logging`), so
//! the level is re-read: a plugin built with the derives has it re-read after
//! every `on_configure`, `on_tick` and new stream, lazily on wasm (the first
//! record logged after one of them asks the host once; a stream that does
//! not log asks nothing). A plugin with a hand-written root context calls
//! [`refresh_level`] where it wants (for example in `on_configure` or
//! `on_tick`). Nothing of this is linked into a plugin that never calls
//! [`init`]: it imports neither `proxy_get_log_level` nor, unless it logs
//! itself, `proxy_log`. The entry point does not call [`init`] for you, for
//! that reason: call it in `on_vm_start`.
//!
//! Natively the filter is per plugin instance (see [`refresh_level`]).

#[cfg(target_arch = "wasm32")]
use core::sync::atomic::{AtomicBool, Ordering};

use crate::error::Result;
use crate::ffi;
use crate::types::LogLevel;

/// Logs `message` at `level`.
pub fn log(level: LogLevel, message: impl AsRef<[u8]>) -> Result<()> {
    ffi::log(level.into(), message.as_ref())
}

/// The host's current log level.
pub fn level() -> Result<LogLevel> {
    Ok(LogLevel::try_from(ffi::get_log_level()?)?)
}

/// The `log` crate level filter matching a host level.
pub fn filter_for(level: LogLevel) -> log::LevelFilter {
    match level {
        LogLevel::Trace => log::LevelFilter::Trace,
        LogLevel::Debug => log::LevelFilter::Debug,
        LogLevel::Info => log::LevelFilter::Info,
        LogLevel::Warn => log::LevelFilter::Warn,
        LogLevel::Error => log::LevelFilter::Error,
        // `log` has no critical level: nothing it emits passes.
        LogLevel::Critical => log::LevelFilter::Off,
    }
}

/// The host level for a `log` crate level.
pub fn host_level(level: log::Level) -> LogLevel {
    match level {
        log::Level::Error => LogLevel::Error,
        log::Level::Warn => LogLevel::Warn,
        log::Level::Info => LogLevel::Info,
        log::Level::Debug => LogLevel::Debug,
        log::Level::Trace => LogLevel::Trace,
    }
}

/// Whether a line at `level` passes the plugin's own filter, as the level
/// macros ([`info!`](crate::info) and the others) ask before building it.
///
/// With the SDK's logger installed ([`init`]), the filter is the host's
/// level as last read (re-read first if it may have changed); without it,
/// every line passes and the host filters by its own level, so a plugin
/// that never calls [`init`] imports no `proxy_get_log_level`. Critical
/// lines always pass.
pub fn enabled(level: LogLevel) -> bool {
    // `log` has no critical level (its filter is `Off`).
    let Some(level) = filter_for(level).to_level() else { return true };
    #[cfg(target_arch = "wasm32")]
    {
        if !INSTALLED.load(Ordering::Relaxed) {
            return true;
        }
        // Through the installed logger, which re-reads a stale level: only
        // `init` links that code (and its `proxy_get_log_level` import).
        log::logger().enabled(&log::Metadata::builder().level(level).build())
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        !crate::native::logger_installed() || crate::native::log_enabled(level)
    }
}

/// The [`log::Log`] implementation that forwards to `proxy_log`.
#[derive(Debug)]
pub struct Logger;

static LOGGER: Logger = Logger;

/// [`init`] installed [`Logger`] in this module instance.
#[cfg(target_arch = "wasm32")]
static INSTALLED: AtomicBool = AtomicBool::new(false);
/// The host's level may have changed since it was last read.
#[cfg(target_arch = "wasm32")]
static STALE: AtomicBool = AtomicBool::new(false);

/// Notes that the host's level may have changed (a new configuration, a
/// tick, a new stream); does nothing unless the SDK's logger is installed.
///
/// On wasm it costs no hostcall and links none: the next record reaches the
/// logger, which re-reads the level first. Natively the level is read now,
/// from plugin code (the logger also sees the host's own records, during
/// which it must not call the host), for the current instance.
pub(crate) fn level_may_have_changed() {
    #[cfg(target_arch = "wasm32")]
    if INSTALLED.load(Ordering::Relaxed) {
        STALE.store(true, Ordering::Relaxed);
        log::set_max_level(log::LevelFilter::Trace);
    }
    #[cfg(not(target_arch = "wasm32"))]
    if crate::native::logger_installed() {
        refresh_level();
    }
}

impl log::Log for Logger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        #[cfg(not(target_arch = "wasm32"))]
        {
            crate::native::log_enabled(metadata.level())
        }
        #[cfg(target_arch = "wasm32")]
        {
            if STALE.swap(false, Ordering::Relaxed) {
                refresh_level();
            }
            metadata.level() <= log::max_level()
        }
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            // Into the level macros' reused buffer, with no formatting at
            // all for a message without arguments.
            let mut line = crate::log_line::Line::new();
            line.fmt(*record.args());
            line.log(host_level(record.level()));
        }
    }

    fn flush(&self) {}
}

/// Installs [`Logger`] as the `log` crate's logger and sets the maximum level
/// from the host. Fails if another logger is installed.
///
/// Calling it again is fine: a host starts every plugin (root context) of a
/// VM with its own `on_vm_start`, so the second plugin of a VM finds the
/// SDK's logger already installed; `init` then only refreshes the level.
pub fn init() -> core::result::Result<(), log::SetLoggerError> {
    match log::set_logger(&LOGGER) {
        Ok(()) => {}
        Err(_) if is_installed() => {}
        Err(e) => return Err(e),
    }
    #[cfg(target_arch = "wasm32")]
    INSTALLED.store(true, Ordering::Relaxed);
    refresh_level();
    Ok(())
}

/// Whether the `log` crate's logger is this SDK's [`Logger`].
fn is_installed() -> bool {
    core::ptr::addr_eq(log::logger() as *const dyn log::Log, &LOGGER as *const Logger)
}

/// Sets `log::max_level()` from the host's current level (all levels if the
/// host does not say).
///
/// Natively (see [`native`](crate::native)) the filter is the current plugin
/// instance's own, since `log::max_level()` is shared by the whole process;
/// `log::max_level()` is then left open (`Trace`) so that records reach the
/// logger, which applies the instance's filter.
pub fn refresh_level() {
    let filter = level().map_or(log::LevelFilter::Trace, filter_for);
    #[cfg(target_arch = "wasm32")]
    log::set_max_level(filter);
    #[cfg(not(target_arch = "wasm32"))]
    {
        crate::native::set_log_filter(filter);
        log::set_max_level(log::LevelFilter::Trace);
    }
}
