//! [`Timestamp`]: a point in time as Envoy serializes a timestamp property.

use core::time::Duration;

/// A point in time, as Envoy serializes a timestamp property (for example
/// `request.time`): signed nanoseconds since the Unix epoch, UTC. That covers
/// the years 1677 to 2262; times before 1970 are negative.
///
/// ```
/// use core::time::Duration;
/// use sluice::property::Timestamp;
///
/// let start = Timestamp::from_nanos_since_epoch(1_700_000_000_000_000_000);
/// let end = start.checked_add(Duration::from_millis(1500)).unwrap();
/// assert_eq!(end.duration_since(start), Some(Duration::from_millis(1500)));
/// assert_eq!(start.duration_since(end), None);
/// assert_eq!(start.since_epoch(), Some(Duration::from_secs(1_700_000_000)));
/// ```
///
/// With the `std` feature it converts to and from `std::time::SystemTime`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    nanos: i64,
}

impl Timestamp {
    /// 1970-01-01T00:00:00Z.
    pub const UNIX_EPOCH: Timestamp = Timestamp { nanos: 0 };

    /// The time `nanos` nanoseconds after the epoch (before it if negative).
    pub const fn from_nanos_since_epoch(nanos: i64) -> Timestamp {
        Timestamp { nanos }
    }

    /// Nanoseconds since the epoch, negative before it.
    pub const fn nanos_since_epoch(self) -> i64 {
        self.nanos
    }

    /// The time `since_epoch` after the epoch; `None` past the year 2262.
    pub fn from_duration_since_epoch(since_epoch: Duration) -> Option<Timestamp> {
        i64::try_from(since_epoch.as_nanos()).ok().map(Timestamp::from_nanos_since_epoch)
    }

    /// How long after the epoch this is; `None` before 1970.
    pub fn since_epoch(self) -> Option<Duration> {
        self.duration_since(Timestamp::UNIX_EPOCH)
    }

    /// How long after `earlier` this is; `None` if it is before `earlier`.
    pub fn duration_since(self, earlier: Timestamp) -> Option<Duration> {
        let nanos = i128::from(self.nanos) - i128::from(earlier.nanos);
        u64::try_from(nanos).ok().map(Duration::from_nanos)
    }

    /// This time plus `duration`; `None` past the representable range.
    pub fn checked_add(self, duration: Duration) -> Option<Timestamp> {
        self.offset(i128::try_from(duration.as_nanos()).ok()?)
    }

    /// This time minus `duration`; `None` past the representable range.
    pub fn checked_sub(self, duration: Duration) -> Option<Timestamp> {
        self.offset(-i128::try_from(duration.as_nanos()).ok()?)
    }

    fn offset(self, nanos: i128) -> Option<Timestamp> {
        i64::try_from(i128::from(self.nanos) + nanos).ok().map(Timestamp::from_nanos_since_epoch)
    }

    /// The same time as a `SystemTime`; `None` if the platform's
    /// `SystemTime` cannot hold it (some cannot go before 1970).
    #[cfg(feature = "std")]
    pub fn to_system_time(self) -> Option<std::time::SystemTime> {
        let epoch = std::time::SystemTime::UNIX_EPOCH;
        let distance = Duration::from_nanos(self.nanos.unsigned_abs());
        if self.nanos >= 0 { epoch.checked_add(distance) } else { epoch.checked_sub(distance) }
    }

    /// A `SystemTime` as a timestamp; `None` outside the years 1677 to 2262.
    #[cfg(feature = "std")]
    pub fn from_system_time(time: std::time::SystemTime) -> Option<Timestamp> {
        match time.duration_since(std::time::SystemTime::UNIX_EPOCH) {
            Ok(after) => Timestamp::from_duration_since_epoch(after),
            Err(before) => Timestamp::UNIX_EPOCH.checked_sub(before.duration()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_and_shifts_across_the_whole_range() {
        let min = Timestamp::from_nanos_since_epoch(i64::MIN);
        let max = Timestamp::from_nanos_since_epoch(i64::MAX);
        assert_eq!(max.duration_since(min), Some(Duration::from_nanos(u64::MAX)));
        assert_eq!(min.duration_since(max), None);
        assert_eq!(min.since_epoch(), None);
        assert_eq!(max.checked_add(Duration::from_nanos(1)), None);
        assert_eq!(min.checked_sub(Duration::from_nanos(1)), None);
        assert_eq!(
            Timestamp::UNIX_EPOCH.checked_sub(Duration::from_secs(1)).map(Timestamp::nanos_since_epoch),
            Some(-1_000_000_000)
        );
        assert_eq!(Timestamp::UNIX_EPOCH.checked_add(Duration::MAX), None);
        assert_eq!(Timestamp::from_duration_since_epoch(Duration::from_nanos(i64::MAX as u64)), Some(max));
        assert_eq!(Timestamp::from_duration_since_epoch(Duration::from_nanos(i64::MAX as u64 + 1)), None);
        assert!(min < Timestamp::UNIX_EPOCH && Timestamp::UNIX_EPOCH < max);
    }

    #[cfg(feature = "std")]
    #[test]
    fn converts_to_and_from_system_time() {
        use std::time::SystemTime;
        let t = Timestamp::from_nanos_since_epoch(1_700_000_000_123_456_789);
        let system = t.to_system_time().unwrap();
        assert_eq!(system.duration_since(SystemTime::UNIX_EPOCH).unwrap(), Duration::new(1_700_000_000, 123_456_789));
        assert_eq!(Timestamp::from_system_time(system), Some(t));
        let before = Timestamp::from_nanos_since_epoch(-1_500_000_000);
        let system = before.to_system_time().expect("native SystemTime holds times before 1970");
        assert_eq!(SystemTime::UNIX_EPOCH.duration_since(system).unwrap(), Duration::from_millis(1500));
        assert_eq!(Timestamp::from_system_time(system), Some(before));
        let far = SystemTime::UNIX_EPOCH + Duration::from_secs(300 * 365 * 86_400);
        assert_eq!(Timestamp::from_system_time(far), None, "past 2262");
    }
}
