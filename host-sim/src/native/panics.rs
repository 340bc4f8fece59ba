//! Turning a panic in a natively hosted plugin into what a trap is on wasm.
//!
//! Plugin code runs under `catch_unwind`. A process-wide panic hook (chained
//! to the previous one, installed once) records the location, message and
//! backtrace of panics raised while a plugin call is active *on the current
//! thread*, and stays silent for them; any other panic goes to the previous
//! hook unchanged. Tests running in parallel never see each other's reports.

use std::any::Any;
use std::backtrace::{Backtrace, BacktraceStatus};
use std::cell::{Cell, RefCell};
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

/// The unwind payload of a host call that trapped (strict mode, a refused
/// function, the memory cap): it stops the plugin where it stands, as a
/// trap stops wasm code.
pub(super) struct TrapUnwind;

/// A panic raised by plugin code.
#[derive(Debug)]
pub(super) struct Report {
    location: Option<String>,
    message: String,
    backtrace: Option<String>,
}

impl Report {
    /// `panicked at src/lib.rs:10:5:\nmessage`, as Rust's own hook words it.
    pub(super) fn headline(&self) -> String {
        match &self.location {
            Some(location) => format!("panicked at {location}:\n{}", self.message),
            None => format!("panicked: {}", self.message),
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.headline())?;
        match &self.backtrace {
            Some(backtrace) => write!(f, "\nbacktrace:\n{backtrace}"),
            None => f.write_str("\n(run with RUST_BACKTRACE=1 for the plugin's backtrace)"),
        }
    }
}

/// How plugin code stopped early.
pub(super) enum Caught {
    Trap,
    Panic(Report),
}

thread_local! {
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
    static REPORT: RefCell<Option<Report>> = const { RefCell::new(None) };
}

fn message(payload: &dyn Any) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "Box<dyn Any>".to_owned()
    }
}

fn install_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !ACTIVE.get() {
                return previous(info);
            }
            let backtrace = Backtrace::capture();
            let report = Report {
                location: info.location().map(|l| l.to_string()),
                message: message(info.payload()),
                backtrace: (backtrace.status() == BacktraceStatus::Captured).then(|| backtrace.to_string()),
            };
            REPORT.set(Some(report));
        }));
    });
}

/// Runs plugin code; a panic or a trapping host call comes back as [`Caught`].
pub(super) fn catch<R>(f: impl FnOnce() -> R) -> Result<R, Caught> {
    install_hook();
    let outer = ACTIVE.replace(true);
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    ACTIVE.set(outer);
    result.map_err(|payload| {
        if payload.is::<TrapUnwind>() {
            return Caught::Trap;
        }
        let report =
            REPORT.take().unwrap_or_else(|| Report { location: None, message: message(&*payload), backtrace: None });
        Caught::Panic(report)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_is_caught_with_its_location_and_message() {
        let Err(Caught::Panic(report)) = catch(|| panic!("boom {}", 7)) else { panic!("expected a panic") };
        assert_eq!(report.message, "boom 7");
        assert!(report.location.as_deref().is_some_and(|l| l.contains("panics.rs")), "{report:?}");
        assert!(report.headline().starts_with("panicked at "), "{}", report.headline());
    }

    #[test]
    fn a_trap_unwind_is_not_a_panic() {
        let caught = catch(|| panic::resume_unwind(Box::new(TrapUnwind)));
        assert!(matches!(caught, Err(Caught::Trap)));
        assert_eq!(catch(|| 5).ok(), Some(5));
    }
}
