//! A virtual clock the test advances, and the tick timers of root contexts.

use std::collections::BTreeMap;
use std::time::Duration;

/// 2025-01-01T00:00:00Z in nanoseconds since the Unix epoch: the default wall time.
pub const DEFAULT_EPOCH_NS: u64 = 1_735_689_600_000_000_000;

/// The default monotonic time: a proxy up for a day (86 400 s since boot, as
/// `CLOCK_MONOTONIC` counts). Never 0: the Go runtime refuses to start on a
/// monotonic clock that reads 0 ("nanotime returning zero").
pub const DEFAULT_MONOTONIC_NS: u64 = 86_400_000_000_000;

/// Wall and monotonic time, both moved only by the test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    realtime_ns: u64,
    monotonic_ns: u64,
}

impl Default for Clock {
    fn default() -> Clock {
        Clock { realtime_ns: DEFAULT_EPOCH_NS, monotonic_ns: DEFAULT_MONOTONIC_NS }
    }
}

impl Clock {
    /// Wall time in nanoseconds since the Unix epoch.
    pub fn realtime_ns(&self) -> u64 {
        self.realtime_ns
    }

    /// Monotonic time in nanoseconds since the host started.
    pub fn monotonic_ns(&self) -> u64 {
        self.monotonic_ns
    }

    /// Sets the wall time (monotonic time is unaffected).
    pub fn set_realtime_ns(&mut self, ns: u64) {
        self.realtime_ns = ns;
    }

    /// Sets the monotonic time (wall time is unaffected); timers and
    /// timeouts keep their instants, so only a host without them sets it.
    pub fn set_monotonic_ns(&mut self, ns: u64) {
        self.monotonic_ns = ns;
    }

    /// Moves both clocks forward.
    pub fn advance(&mut self, by: Duration) {
        let ns = by.as_nanos().min(u64::MAX as u128) as u64;
        self.realtime_ns = self.realtime_ns.saturating_add(ns);
        self.monotonic_ns = self.monotonic_ns.saturating_add(ns);
    }

    /// Moves both clocks forward to a monotonic instant (never backwards).
    pub fn advance_to(&mut self, monotonic_ns: u64) {
        if monotonic_ns > self.monotonic_ns {
            self.advance(Duration::from_nanos(monotonic_ns - self.monotonic_ns));
        }
    }
}

/// Who owns a timer: a root context of a VM.
pub type TimerOwner = (usize, u32);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Timer {
    period_ns: u64,
    /// `None`: its next tick would fall past the end of time (`u64::MAX` ns).
    next_due_ns: Option<u64>,
}

/// Tick timers keyed by their root context.
#[derive(Debug, Default)]
pub struct Timers {
    timers: BTreeMap<TimerOwner, Timer>,
}

impl Timers {
    /// Sets (or with 0 clears) the tick period of `owner`; the first tick is one
    /// period from `now_ns`.
    pub fn set_period(&mut self, owner: TimerOwner, period_ms: u32, now_ns: u64) {
        if period_ms == 0 {
            self.timers.remove(&owner);
        } else {
            let period_ns = period_ms as u64 * 1_000_000;
            self.timers.insert(owner, Timer { period_ns, next_due_ns: now_ns.checked_add(period_ns) });
        }
    }

    /// The tick period of `owner`.
    pub fn period(&self, owner: TimerOwner) -> Option<Duration> {
        self.timers.get(&owner).map(|t| Duration::from_nanos(t.period_ns))
    }

    /// Removes every timer of a VM or root.
    pub fn remove(&mut self, owner: TimerOwner) {
        self.timers.remove(&owner);
    }

    /// The earliest timer due at or before `until_ns`: its owner and due time.
    /// The timer is rescheduled one period later (never, if that is past
    /// the end of time: a tick is due once at most at any instant).
    pub fn pop_due(&mut self, until_ns: u64) -> Option<(TimerOwner, u64)> {
        let (&owner, timer) = self
            .timers
            .iter_mut()
            .filter(|(_, t)| t.next_due_ns.is_some_and(|due| due <= until_ns))
            .min_by_key(|(o, t)| (t.next_due_ns, **o))?;
        let due = timer.next_due_ns?;
        timer.next_due_ns = due.checked_add(timer.period_ns);
        Some((owner, due))
    }
}

/// An RFC 3339 time with `Z` or an offset, from 1970 to 2554, in ns since
/// the Unix epoch; the error says what is wrong with it.
pub(crate) fn rfc3339_ns(text: &str) -> Result<u64, &'static str> {
    let parsed: toml::value::Datetime = text.trim().parse().map_err(|_| "not a date and time")?;
    let (Some(date), Some(time)) = (parsed.date, parsed.time) else { return Err("a date and a time") };
    let offset_minutes = match parsed.offset {
        Some(toml::value::Offset::Z) => 0,
        Some(toml::value::Offset::Custom { minutes }) => i64::from(minutes),
        None => return Err("with `Z` or an offset"),
    };
    let days = days_from_civil(i64::from(date.year), i64::from(date.month), i64::from(date.day));
    let seconds =
        days * 86_400 + i64::from(time.hour) * 3600 + i64::from(time.minute) * 60 + i64::from(time.second.unwrap_or(0))
            - offset_minutes * 60;
    if seconds < 0 {
        return Err("not before 1970");
    }
    let ns = (seconds as u128) * 1_000_000_000 + u128::from(time.nanosecond.unwrap_or(0));
    u64::try_from(ns).map_err(|_| "before 2554")
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar
/// (Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_advances_both_times() {
        let mut c = Clock::default();
        c.advance(Duration::from_millis(1500));
        assert_eq!(c.monotonic_ns(), DEFAULT_MONOTONIC_NS + 1_500_000_000);
        assert_eq!(c.realtime_ns(), DEFAULT_EPOCH_NS + 1_500_000_000);
        c.advance_to(1_000);
        assert_eq!(c.monotonic_ns(), DEFAULT_MONOTONIC_NS + 1_500_000_000);
    }

    #[test]
    fn timers_fire_in_order_and_repeat() {
        let mut t = Timers::default();
        t.set_period((0, 1), 100, 0);
        t.set_period((0, 2), 250, 0);
        let mut fired = Vec::new();
        while let Some((owner, due)) = t.pop_due(500_000_000) {
            fired.push((owner.1, due / 1_000_000));
        }
        assert_eq!(fired, vec![(1, 100), (1, 200), (2, 250), (1, 300), (1, 400), (1, 500), (2, 500)]);
        assert_eq!(t.period((0, 1)), Some(Duration::from_millis(100)));
        t.set_period((0, 1), 0, 0);
        assert_eq!(t.period((0, 1)), None);
    }

    #[test]
    fn a_timer_at_the_end_of_time_fires_once() {
        let mut t = Timers::default();
        let period = u32::MAX as u64 * 1_000_000;
        t.set_period((0, 1), u32::MAX, u64::MAX - period - 1);
        assert_eq!(t.pop_due(u64::MAX), Some(((0, 1), u64::MAX - 1)));
        assert_eq!(t.pop_due(u64::MAX), None, "the next tick would be past u64::MAX ns");
        t.set_period((0, 2), u32::MAX, u64::MAX - 5);
        assert_eq!(t.pop_due(u64::MAX), None);
        assert!(t.period((0, 2)).is_some());
    }
}
