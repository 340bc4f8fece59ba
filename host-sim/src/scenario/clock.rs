//! The scenario's `[clock]` table: where the host's clocks start.
//!
//! ```toml
//! [clock]
//! wall = "2026-03-01T08:30:00Z"   # RFC 3339, with a `Z` or an offset
//! monotonic = "30s"               # since boot (default a day)
//! ```

use super::raw::{RawClock, Spanned};
use super::source::{ScenarioError, Source};
use crate::state::clock::rfc3339_ns;

pub use super::model::ClockStart;

pub(super) fn clock(src: &Source<'_>, raw: Option<&RawClock>) -> Result<ClockStart, ScenarioError> {
    let Some(raw) = raw else { return Ok(ClockStart::default()) };
    let realtime_ns = raw.wall.as_ref().map(|wall| wall_ns(src, wall, "clock.wall")).transpose()?;
    let monotonic_ns = raw
        .monotonic
        .as_ref()
        .map(|m| {
            let d = super::fields::duration(src, m, "clock.monotonic", "\"30s\", \"24h\"")?;
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
        assert_eq!(crate::state::clock::days_from_civil(1970, 1, 1), 0);
        assert_eq!(crate::state::clock::days_from_civil(2000, 3, 1), 11_017);
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
