//! sluice-fuzz: deterministic fuzzing of host-sim and the SDK (issue 15).
//!
//! Every case is a pure function of its kind and a `u64` seed, on stable
//! Rust, without a fuzzing engine:
//!
//! * [`Kind::Guests`]: hostile guests generated with `wasm-encoder` (random
//!   host calls and arguments, loops, `memory.grow`, traps, endless loops)
//!   loaded next to a well-behaved plugin, under random options, limits,
//!   fail policies and profiles, and driven by random streams, clock steps,
//!   ticks, queue items and callout answers ([`hostile`]). The host must not
//!   panic and must keep serving the well-behaved plugin.
//! * [`Kind::Sdk`]: random host replies into the SDK through its native host
//!   table, for the test guests and examples linked natively ([`sdk`]).
//! * [`Kind::Scenarios`]: the repository's scenario files, mutated, through
//!   the scenario loader and runner ([`scenarios`]).
//!
//! `cargo test -p sluice-fuzz` runs a short run of each kind. The long run
//! is the `sluice-fuzz` binary, documented in host-sim's README ("Fuzzing"):
//!
//! ```text
//! cargo run --release -p sluice-fuzz -- --kind guests --host-calls 1000000
//! ```
//!
//! It runs the cases in a child process it watches, so that even an abort
//! (a stack overflow) or a hang is reported with its seed, and prints cases
//! per second, host calls made and every failing seed; `--seed S --cases 1`
//! replays one.

pub mod guest;
pub mod hostile;
pub mod rng;
pub mod scenarios;
pub mod sdk;

use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

/// What a case fuzzes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Hostile guests in host-sim.
    Guests,
    /// Random host replies into the SDK.
    Sdk,
    /// Malformed scenario files.
    Scenarios,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 3] = [Kind::Guests, Kind::Sdk, Kind::Scenarios];

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Guests => "guests",
            Kind::Sdk => "sdk",
            Kind::Scenarios => "scenarios",
        }
    }

    /// The kind of a command-line name.
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// How one case ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseOutcome {
    /// Host calls made: by the guests to host-sim ([`Kind::Guests`]), by
    /// the SDK to the random host ([`Kind::Sdk`]); 0 for scenarios.
    pub host_calls: u64,
    /// Why the case failed: a panic (with its location) or a broken
    /// promise of the host; `None` when it passed.
    pub failure: Option<String>,
}

thread_local! {
    /// The last panic on this thread: location and message.
    static PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Records every panic's location and message for [`run_case`], then lets
/// the previous hook (host-sim's, Rust's) report it as before.
fn install_panic_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(a non-string panic)".into());
            let location = info.location().map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
            let report = format!("panicked at {}: {message}", location.as_deref().unwrap_or("?"));
            PANIC.with(|p| *p.borrow_mut() = Some(report));
            previous(info);
        }));
    });
}

/// Runs one case, catching any panic.
pub fn run_case(kind: Kind, seed: u64) -> CaseOutcome {
    install_panic_hook();
    PANIC.with(|p| p.borrow_mut().take());
    let result = panic::catch_unwind(AssertUnwindSafe(|| match kind {
        Kind::Guests => hostile::run(seed),
        Kind::Sdk => sdk::run(seed),
        Kind::Scenarios => scenarios::run(seed),
    }));
    match result {
        Ok(Ok(host_calls)) => CaseOutcome { host_calls, failure: None },
        Ok(Err(failure)) => CaseOutcome { host_calls: 0, failure: Some(failure) },
        Err(_) => {
            let report = PANIC.with(|p| p.borrow_mut().take()).unwrap_or_else(|| "panicked".into());
            CaseOutcome { host_calls: 0, failure: Some(report) }
        }
    }
}

/// What a run of consecutive seeds did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Cases run.
    pub cases: u64,
    /// Host calls made in them.
    pub host_calls: u64,
    /// Every failing seed and why.
    pub failures: Vec<(u64, String)>,
}

/// Runs the cases `first..first + cases` of `kind` in this process.
pub fn run_cases(kind: Kind, first: u64, cases: u64) -> Summary {
    let mut summary = Summary::default();
    for seed in first..first.saturating_add(cases) {
        let outcome = run_case(kind, seed);
        summary.cases += 1;
        summary.host_calls += outcome.host_calls;
        if let Some(failure) = outcome.failure {
            summary.failures.push((seed, failure));
        }
    }
    summary
}
