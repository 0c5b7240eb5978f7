//! The grammar and the bounds of holmes' settings, shared by the `#[holmes::watch]`
//! attribute (checked at compile time) and the runtime (the builder and the `HOLMES_*`
//! variables), so that one spelling means one thing everywhere and a bad value gets the
//! same reason in a compile error and in a log line.
//!
//! - [`parse_size`]: `2GiB`, `2Gi`, `2048MiB`, `512KiB`, `1.5GB`, `64k`, `4096` (bytes).
//! - [`parse_duration`]: humantime's grammar (`500ms`, `1h 30m`, `2days`) plus decimal
//!   fractions and units written together (`1.5s`, `1m30s`).
//! - [`check_rule`]: the constraints on a rule's `(min, diff, abs[, max])`.
//! - [`bounds`]: the range of every bounded setting, [`check_duration`] against one.
//!
//! Errors are plain messages; the caller adds where the value came from (the token's
//! span, the variable's name).

use std::time::Duration;

pub mod bounds;

pub use bounds::check_duration;

/// Size units: binary ones (`KiB`, `Ki`: 1024) and decimal ones (`KB`, `K`: 1000), as
/// Kubernetes spells memory limits too. Matched without regard to case.
const SIZE_UNITS: &[(&str, u64)] = &[
    ("B", 1),
    ("KB", 1_000),
    ("K", 1_000),
    ("KiB", 1 << 10),
    ("Ki", 1 << 10),
    ("MB", 1_000_000),
    ("M", 1_000_000),
    ("MiB", 1 << 20),
    ("Mi", 1 << 20),
    ("GB", 1_000_000_000),
    ("G", 1_000_000_000),
    ("GiB", 1 << 30),
    ("Gi", 1 << 30),
    ("TB", 1_000_000_000_000),
    ("T", 1_000_000_000_000),
    ("TiB", 1 << 40),
    ("Ti", 1 << 40),
];

/// Parses a size into bytes: a number (`_` separators and a decimal fraction allowed)
/// and a unit (`B`, `KB`/`K`, `KiB`/`Ki`, `MB`/`M`, `MiB`/`Mi`, `GB`/`G`, `GiB`/`Gi`,
/// `TB`/`T`, `TiB`/`Ti`, any case; none means bytes), spaces between them allowed. A
/// fraction must come out as a whole number of bytes.
///
/// ```
/// assert_eq!(holmes_settings::parse_size("2GiB"), Ok(2 << 30));
/// assert_eq!(holmes_settings::parse_size("2Gi"), Ok(2 << 30));
/// assert_eq!(holmes_settings::parse_size("1.5KB"), Ok(1500));
/// assert!(holmes_settings::parse_size("2 parsecs").is_err());
/// ```
pub fn parse_size(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let number = number.replace('_', "");
    let unit = unit.trim_start();
    if number.is_empty() {
        return Err(format!(
            "invalid size \"{text}\": expected a number and a unit, like \"512KiB\", \"2GiB\" or \"2Gi\""
        ));
    }
    let multiplier = if unit.is_empty() {
        1
    } else {
        SIZE_UNITS
            .iter()
            .find(|(u, _)| u.eq_ignore_ascii_case(unit))
            .map(|(_, m)| *m)
            .ok_or_else(|| {
                format!(
                    "unknown size unit \"{unit}\" in \"{text}\"; valid units: B, KiB (Ki), MiB (Mi), GiB (Gi), TiB (Ti) of 1024, KB (K), MB (M), GB (G), TB (T) of 1000"
                )
            })?
    };
    let multiplier = u128::from(multiplier);
    let (whole, fraction) = number.split_once('.').unwrap_or((&number, ""));
    let malformed = || format!("invalid number in size \"{text}\"");
    if whole.is_empty() || fraction.contains('.') {
        return Err(malformed());
    }
    let too_large = || format!("size \"{text}\" does not fit in 64 bits");
    let whole: u128 = whole.parse().map_err(|_| too_large())?;
    let mut bytes = whole.checked_mul(multiplier).ok_or_else(too_large)?;
    if !fraction.is_empty() {
        let digits = u32::try_from(fraction.len()).map_err(|_| malformed())?;
        let scale = 10u128.checked_pow(digits).ok_or_else(malformed)?;
        let numerator: u128 = fraction.parse().map_err(|_| malformed())?;
        let scaled = numerator.checked_mul(multiplier).ok_or_else(too_large)?;
        if scaled % scale != 0 {
            return Err(format!("size \"{text}\" is not a whole number of bytes"));
        }
        bytes = bytes.checked_add(scaled / scale).ok_or_else(too_large)?;
    }
    u64::try_from(bytes).map_err(|_| too_large())
}

/// Duration units for the fractional form, in nanoseconds (humantime's spellings).
const DURATION_UNITS: &[(&[&str], u128)] = &[
    (&["ns", "nsec", "nanos"], 1),
    (&["us", "µs", "usec", "micros"], 1_000),
    (&["ms", "msec", "millis"], 1_000_000),
    (&["s", "sec", "secs", "second", "seconds"], 1_000_000_000),
    (&["m", "min", "mins", "minute", "minutes"], 60_000_000_000),
    (&["h", "hr", "hrs", "hour", "hours"], 3_600_000_000_000),
    (&["d", "day", "days"], 86_400_000_000_000),
    (&["w", "week", "weeks"], 604_800_000_000_000),
];

/// Parses a duration: humantime's grammar (`500ms`, `5s`, `1m`, `1h 30m`, `2days`, `0`)
/// and components with a decimal fraction (`1.5s`, `0.5h`, `1m 30.5s`). A bare number
/// other than `0` has no unit and is refused.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(holmes_settings::parse_duration("1m30s"), Ok(Duration::from_secs(90)));
/// assert_eq!(holmes_settings::parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
/// assert!(holmes_settings::parse_duration("5").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let hint = "write it like \"500ms\", \"1.5s\", \"1m30s\" or \"1h 30m\"";
    if !t.contains('.') {
        return humantime::parse_duration(t)
            .map_err(|e| format!("invalid duration \"{text}\": {e}; {hint}"));
    }
    let bad = |why: &str| format!("invalid duration \"{text}\": {why}; {hint}");
    let too_long = || format!("duration \"{text}\" is too long");
    let mut nanos: u128 = 0;
    let mut rest = t;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(n);
        let after = after.trim_start();
        let u = after
            .find(|c: char| c.is_ascii_digit() || c.is_whitespace())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(u);
        rest = after.trim_start();
        if number.is_empty() {
            return Err(bad("expected a number"));
        }
        let scale = DURATION_UNITS
            .iter()
            .find(|(names, _)| names.contains(&unit))
            .map(|(_, ns)| *ns)
            .ok_or_else(|| bad(&format!("unknown unit \"{unit}\"")))?;
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
            return Err(bad("expected a number"));
        }
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| too_long())?
        };
        let mut part = whole.checked_mul(scale).ok_or_else(too_long)?;
        if !fraction.is_empty() {
            // Digits beyond nanoseconds are dropped.
            let digits = u32::try_from(fraction.len().min(30)).map_err(|_| too_long())?;
            let f: u128 = fraction[..digits as usize]
                .parse()
                .map_err(|_| bad("expected a number"))?;
            part = part
                .checked_add(f.checked_mul(scale).ok_or_else(too_long)? / 10u128.pow(digits))
                .ok_or_else(too_long)?;
        }
        nanos = nanos.checked_add(part).ok_or_else(too_long)?;
    }
    let secs = u64::try_from(nanos / 1_000_000_000).map_err(|_| too_long())?;
    Ok(Duration::new(secs, (nanos % 1_000_000_000) as u32))
}

/// What a rule watches, for [`check_rule`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleKind {
    /// A percentage (CPU, memory, heap): `min` and `abs` at most 100; no `max`.
    Percent,
    /// A count (threads, tasks): `max` allowed.
    Count,
}

/// One problem with a rule's numbers: the parameter it is about (`"min"`, `"diff"`,
/// `"abs"` or `"max"`) and why, without the rule's name (the caller says which rule).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleProblem {
    /// The parameter at fault.
    pub param: &'static str,
    /// Why, in a sentence that starts with the parameter's name.
    pub message: String,
}

/// Checks a rule's `(min, diff, abs)` and optional `max` (`0` or `None`: no upper
/// bound); every problem found, in parameter order.
///
/// ```
/// use holmes_settings::{check_rule, RuleKind};
/// assert!(check_rule(RuleKind::Percent, 10, 25, 80, None).is_empty());
/// assert_eq!(check_rule(RuleKind::Percent, 10, 0, 80, None)[0].param, "diff");
/// ```
pub fn check_rule(
    kind: RuleKind,
    min: u64,
    diff: u64,
    abs: u64,
    max: Option<u64>,
) -> Vec<RuleProblem> {
    let mut out = Vec::new();
    let mut say = |param: &'static str, message: String| out.push(RuleProblem { param, message });
    if kind == RuleKind::Percent && min > 100 {
        say(
            "min",
            format!("`min` is a percentage and must be at most 100, found {min}"),
        );
    }
    if diff == 0 {
        say(
            "diff",
            "`diff` must be at least 1: it is the rise over the recent average, in percent, that fires a dump".into(),
        );
    }
    if min > abs {
        say("min", format!("`min` ({min}) must not be greater than `abs` ({abs}): the rule could never fire on `abs`"));
    }
    if kind == RuleKind::Percent && abs > 100 {
        say(
            "abs",
            format!("`abs` is a percentage and must be at most 100, found {abs}"),
        );
    }
    match max {
        Some(max) if max != 0 && kind != RuleKind::Count => say(
            "max",
            format!("`max` ({max}) is only for count rules (threads, tasks)"),
        ),
        Some(max) if max != 0 && max <= abs => say(
            "max",
            format!(
                "`max` ({max}) must be greater than `abs` ({abs}); leave it out for no upper bound"
            ),
        ),
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_every_spelling() {
        for (text, bytes) in [
            ("2GiB", 2u64 << 30),
            ("2Gi", 2 << 30),
            ("2gib", 2 << 30),
            ("2048MiB", 2 << 30),
            ("512KiB", 512 << 10),
            ("512Ki", 512 << 10),
            ("64k", 64_000),
            ("64K", 64_000),
            ("1.5KiB", 1536),
            ("1.5KB", 1500),
            ("2 GB", 2_000_000_000),
            ("2G", 2_000_000_000),
            ("1_000B", 1000),
            ("4096", 4096),
            ("1TiB", 1 << 40),
        ] {
            assert_eq!(parse_size(text), Ok(bytes), "{text}");
        }
    }

    #[test]
    fn bad_sizes_say_why() {
        assert!(parse_size("lots")
            .unwrap_err()
            .contains("expected a number"));
        assert!(parse_size("5 parsecs")
            .unwrap_err()
            .contains("unknown size unit \"parsecs\""));
        assert!(parse_size("1.5B")
            .unwrap_err()
            .contains("whole number of bytes"));
        assert!(parse_size("1.2.3KB")
            .unwrap_err()
            .contains("invalid number"));
        assert!(parse_size("99999999999TiB")
            .unwrap_err()
            .contains("64 bits"));
        assert!(parse_size("").is_err());
    }

    #[test]
    fn durations_every_spelling() {
        let s = Duration::from_secs;
        for (text, d) in [
            ("500ms", Duration::from_millis(500)),
            ("5s", s(5)),
            ("1m", s(60)),
            ("1h 30m", s(5400)),
            ("1m30s", s(90)),
            ("1.5s", Duration::from_millis(1500)),
            ("0.5h", s(1800)),
            ("1m 30.5s", Duration::from_millis(90_500)),
            ("2days", s(2 * 86_400)),
            ("0", Duration::ZERO),
            (" 2s ", s(2)),
        ] {
            assert_eq!(parse_duration(text), Ok(d), "{text}");
        }
    }

    #[test]
    fn bad_durations_say_why() {
        let e = parse_duration("5").unwrap_err();
        assert!(e.starts_with("invalid duration \"5\""), "{e}");
        assert!(e.contains("\"1.5s\""), "{e}");
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("1.5 parsecs")
            .unwrap_err()
            .contains("unknown unit"));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("1.5").is_err());
        assert!(parse_duration("99999999999999999999.5w")
            .unwrap_err()
            .contains("too long"));
    }

    #[test]
    fn rules() {
        assert!(check_rule(RuleKind::Percent, 10, 25, 80, None).is_empty());
        assert!(check_rule(RuleKind::Count, 10, 25, 80, Some(100)).is_empty());
        assert!(check_rule(RuleKind::Count, 10, 25, 180, None).is_empty());
        let params = |p: Vec<RuleProblem>| p.iter().map(|p| p.param).collect::<Vec<_>>();
        assert_eq!(
            params(check_rule(RuleKind::Percent, 101, 0, 100, None)),
            ["min", "diff", "min"]
        );
        assert_eq!(
            params(check_rule(RuleKind::Percent, 10, 25, 180, None)),
            ["abs"]
        );
        assert_eq!(
            params(check_rule(RuleKind::Count, 10, 25, 80, Some(80))),
            ["max"]
        );
        assert_eq!(
            params(check_rule(RuleKind::Percent, 10, 25, 80, Some(90))),
            ["max"]
        );
        assert!(check_rule(RuleKind::Percent, 10, 25, 80, Some(0)).is_empty());
    }
}
