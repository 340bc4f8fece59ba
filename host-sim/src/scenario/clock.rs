//! The scenario's `[clock]` table: where the host's clocks start.
//!
//! ```toml
//! [clock]
//! wall = "2026-03-01T08:30:00Z"   # RFC 3339, with a `Z` or an offset
//! monotonic = "30s"               # since boot (default a day)
//! ```

use super::raw::{RawClock, Spanned};
use super::source::{ScenarioError, Source};
use crate::HostOptions;

/// Where the clocks start: `(wall, monotonic)` in nanoseconds, each `None`
/// for the host's default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClockStart {
    /// Wall time, nanoseconds since the Unix epoch.
    pub realtime_ns: Option<u64>,
    /// Monotonic time, nanoseconds since boot.
    pub monotonic_ns: Option<u64>,
}

impl ClockStart {
    /// The host options with these clocks.
    pub fn apply(self, options: HostOptions) -> HostOptions {
        HostOptions {
            realtime_ns: self.realtime_ns.unwrap_or(options.realtime_ns),
            monotonic_ns: self.monotonic_ns.unwrap_or(options.monotonic_ns),
            ..options
        }
    }
}

pub(super) fn clock(src: &Source<'_>, raw: Option<&RawClock>) -> Result<ClockStart, ScenarioError> {
    let Some(raw) = raw else { return Ok(ClockStart::default()) };
    let realtime_ns = raw.wall.as_ref().map(|wall| wall_ns(src, wall, "clock.wall")).transpose()?;
    let monotonic_ns = raw
        .monotonic
        .as_ref()
        .map(|m| {
            let d = super::format::duration(src, m, "clock.monotonic", "\"30s\", \"24h\"")?;
            u64::try_from(d.as_nanos())
                .map_err(|_| src.at(m, "clock.monotonic".to_owned(), "past the end of time (u64::MAX ns)".to_owned()))
        })
        .transpose()?;
    Ok(ClockStart { realtime_ns, monotonic_ns })
}

/// A wall time (RFC 3339 with `Z` or an offset) in ns since the Unix epoch.
pub(super) fn wall_ns(src: &Source<'_>, wall: &Spanned<String>, field: &str) -> Result<u64, ScenarioError> {
    rfc3339_ns(wall.get_ref()).map_err(|why| {
        src.at(
            wall,
            field.to_owned(),
            format!("expected an RFC 3339 time such as \"2026-03-01T08:30:00Z\" ({why}), found {:?}", wall.get_ref()),
        )
    })
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
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
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
    use std::path::Path;

    use crate::state::clock::{DEFAULT_EPOCH_NS, DEFAULT_MONOTONIC_NS};

    fn start(text: &str) -> Result<super::ClockStart, String> {
        let text = format!("plugin = \"p.wasm\"\n{text}");
        crate::scenario::parse(Path::new("s.toml"), &text).map(|s| s.clock).map_err(|e| e.to_string())
    }

    #[test]
    fn wall_times_are_rfc_3339_with_an_offset() {
        assert_eq!(super::days_from_civil(1970, 1, 1), 0);
        assert_eq!(super::days_from_civil(2000, 3, 1), 11_017);
        let at = |wall: &str| start(&format!("[clock]\nwall = \"{wall}\"\n")).unwrap().realtime_ns.unwrap();
        assert_eq!(at("2025-01-01T00:00:00Z"), DEFAULT_EPOCH_NS);
        assert_eq!(at("2025-01-01T01:00:00+01:00"), DEFAULT_EPOCH_NS);
        assert_eq!(at("2024-12-31T23:59:59.5Z"), DEFAULT_EPOCH_NS - 500_000_000);
        assert_eq!(at("2024-02-29T00:00:00Z"), 1_709_164_800_000_000_000);
        let none = start("").unwrap();
        let options = none.apply(crate::HostOptions::default());
        assert_eq!((options.realtime_ns, options.monotonic_ns), (DEFAULT_EPOCH_NS, DEFAULT_MONOTONIC_NS));
    }

    #[test]
    fn bad_clocks_are_refused_where_they_are() {
        for (text, said) in [
            ("wall = \"2025-01-01T00:00:00\"", "with `Z` or an offset"),
            ("wall = \"2025-01-01\"", "a date and a time"),
            ("wall = \"noon\"", "not a date and time"),
            ("wall = \"1969-12-31T23:59:59Z\"", "not before 1970"),
            ("wall = \"2600-01-01T00:00:00Z\"", "before 2554"),
            ("monotonic = \"soon\"", "expected a duration"),
        ] {
            let err = start(&format!("[clock]\n{text}\n")).unwrap_err();
            assert!(err.starts_with("s.toml:3:"), "{err}");
            assert!(err.contains(said), "{said:?} in {err}");
        }
        let monotonic = start("[clock]\nmonotonic = \"2s\"\n").unwrap();
        assert_eq!(monotonic.monotonic_ns, Some(2_000_000_000));
    }
}
