//! The range of every bounded setting. The builder ([`Builder::start`](crate::Builder::start),
//! [`crate::Guard::update`]) returns [`Error::Setting`] outside it, `#[holmes::watch]`
//! refuses to compile, and a `HOLMES_*` variable outside it is logged and ignored.
//!
//! Each bound keeps holmes cheap and its arithmetic exact: an interval below 10 ms
//! busies a core for nothing; an interval, cooldown or window beyond its maximum has
//! no use that "off" does not serve better (disable the rule, or raise `max_dumps`).

use std::time::Duration;

use crate::error::{Error, Result};

pub use holmes_settings::bounds::{
    MAX_COOLDOWN, MAX_CPU_PROFILE, MAX_INTERVAL, MAX_REPORT_QUEUE, MAX_REPORT_TIMEOUT, MIN_INTERVAL,
};
pub(crate) use holmes_settings::check_duration;

/// [`check_duration`] as an [`Error::Setting`] naming `setting`.
pub(crate) fn check_setting(
    setting: &str,
    d: Duration,
    min: Duration,
    max: Duration,
) -> Result<()> {
    check_duration(d, min, max).map_err(|reason| Error::Setting {
        setting: setting.into(),
        reason,
    })
}
