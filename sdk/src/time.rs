//! Host time and the root context's timer.

use core::time::Duration;

use crate::error::Result;
use crate::ffi;
use crate::http::millis;

/// Wall-clock time since the Unix epoch, as the host sees it (may be frozen
/// for the duration of a callback).
pub fn now() -> Result<Duration> {
    ffi::get_current_time_nanoseconds().map(Duration::from_nanos)
}

/// Sets the period of [`RootContext::on_tick`](crate::RootContext::on_tick)
/// for the calling root context; zero stops the timer.
pub fn set_tick_period(period: Duration) -> Result<()> {
    ffi::set_tick_period_milliseconds(millis(period))
}
