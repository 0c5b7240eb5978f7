//! Deadlines that never overflow: `t + d` saturating at a far future instead of
//! panicking, for limits and timeouts taken from user settings (up to a year).

use std::time::{Duration, Instant, SystemTime};

/// `t + d` that never panics: holmes' threads add configured durations to instants, and
/// a sum `Instant` cannot hold (a duration of centuries) saturates to the farthest of
/// `t` + 100 years, 1 year, 1 day, or `t` itself, i.e. "not in this process's life".
pub(crate) fn later(t: Instant, d: Duration) -> Instant {
    const DAY: u64 = 24 * 3600;
    t.checked_add(d)
        .or_else(|| t.checked_add(Duration::from_secs(100 * 365 * DAY)))
        .or_else(|| t.checked_add(Duration::from_secs(365 * DAY)))
        .or_else(|| t.checked_add(Duration::from_secs(DAY)))
        .unwrap_or(t)
}

/// `t + d` for wall-clock times, saturating like [`later`].
pub(crate) fn later_wall(t: SystemTime, d: Duration) -> SystemTime {
    const DAY: u64 = 24 * 3600;
    t.checked_add(d)
        .or_else(|| t.checked_add(Duration::from_secs(100 * 365 * DAY)))
        .or_else(|| t.checked_add(Duration::from_secs(DAY)))
        .unwrap_or(t)
}
