//! The range of every bounded setting. The builder (`Builder::start`, `Guard::update`)
//! returns `Error::Setting` outside it, `#[holmes::watch]` refuses to compile, and a
//! `HOLMES_*` variable outside it is logged and ignored.
//!
//! Each bound keeps holmes cheap and its arithmetic exact: an interval below 10 ms
//! busies a core for nothing; an interval, cooldown or window beyond its maximum has
//! no use that "off" does not serve better (disable the rule, or raise `max_dumps`).

use std::time::Duration;

/// The shortest `interval`: 10 ms.
pub const MIN_INTERVAL: Duration = Duration::from_millis(10);
/// The longest `interval`: 1 day.
pub const MAX_INTERVAL: Duration = Duration::from_secs(24 * 3600);
/// The longest cooldown (`Builder::cooldown`, `Rule::cooldown`), escalation reset
/// (`Rule::escalate`) and dump-limit window (`Builder::max_dumps`,
/// `Builder::max_dumps_per_rule`): 1 year (365.25 days, humantime's `1y`).
pub const MAX_COOLDOWN: Duration = Duration::from_secs(31_557_600);
/// The longest `cpu_profile_duration`: 1 hour (a profile keeps at most 16 384 samples;
/// a longer one would drop most).
pub const MAX_CPU_PROFILE: Duration = Duration::from_secs(3600);
/// The largest `report_queue`: 65 536 reports.
pub const MAX_REPORT_QUEUE: usize = 65_536;
/// The longest timeout of one reporter upload attempt (`HttpReporter::timeout`,
/// `PyroscopeReporter::timeout`): 10 min. A reporter is built apart from the builder,
/// so a longer value is not an error: it is clamped to this.
pub const MAX_REPORT_TIMEOUT: Duration = Duration::from_secs(600);

/// `Err(reason)` when `d` is zero or outside `min..=max`; the reason names the range
/// and the value, in humantime syntax.
pub fn check_duration(d: Duration, min: Duration, max: Duration) -> Result<(), String> {
    let show = |d: Duration| humantime::format_duration(d).to_string();
    if d.is_zero() {
        Err("must be longer than zero".into())
    } else if d < min {
        Err(format!("must be at least {}, found {}", show(min), show(d)))
    } else if d > max {
        Err(format!("must be at most {}, found {}", show(max), show(d)))
    } else {
        Ok(())
    }
}
