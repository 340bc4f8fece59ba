//! The plugin's counters, defined once per configuration and shared by the
//! root and every stream:
//!
//! | name | counts |
//! |---|---|
//! | `<prefix>.decode_ok` | requests whose mapped claims were all copied |
//! | `<prefix>.decode_failed.<reason>` | requests that failed, by [`Reason`] name |
//! | `<prefix>.rejected` | local replies sent (`on_error: reject`) |
//! | `<prefix>.spoofed_headers_removed` | client-sent target headers removed |

use alloc::format;

use sluice::metrics::Metric;

use crate::reason::Reason;

/// The metric ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counters {
    ok: Metric,
    failed: [Metric; Reason::ALL.len()],
    rejected: Metric,
    spoofed: Metric,
}

impl Counters {
    /// Defines (or finds) every counter under `prefix`.
    pub fn define(prefix: &str) -> sluice::Result<Counters> {
        let mut failed = [Metric::from_id(0); Reason::ALL.len()];
        for reason in Reason::ALL {
            failed[reason.index()] = Metric::counter(format!("{prefix}.decode_failed.{}", reason.name()))?;
        }
        Ok(Counters {
            ok: Metric::counter(format!("{prefix}.decode_ok"))?,
            failed,
            rejected: Metric::counter(format!("{prefix}.rejected"))?,
            spoofed: Metric::counter(format!("{prefix}.spoofed_headers_removed"))?,
        })
    }

    // A counter that cannot be incremented has nowhere to report to; the
    // request is handled the same either way.

    /// Counts a request whose claims were all copied.
    pub fn ok(&self) {
        let _ = self.ok.increment(1);
    }

    /// Counts a failed request.
    pub fn failed(&self, reason: Reason) {
        let _ = self.failed[reason.index()].increment(1);
    }

    /// Counts a local reply.
    pub fn rejected(&self) {
        let _ = self.rejected.increment(1);
    }

    /// Counts removed client-sent copies of target headers.
    pub fn spoofed(&self, removed: usize) {
        if removed > 0 {
            let _ = self.spoofed.increment(i64::try_from(removed).unwrap_or(i64::MAX));
        }
    }
}
