//! The `HOLMES_*` environment variables: read once at `start()` (unless
//! [`Builder::env_overrides`] is off), over what the code or the attribute set. A
//! malformed or out-of-range value is logged and ignored, never fatal.

use super::*;

impl Builder {
    /// Applies the `HOLMES_*` variables read through `var` and returns the builder and
    /// one warning per malformed value (which is ignored); no builder when
    /// `HOLMES_DISABLE` is set.
    pub(crate) fn apply_env(
        mut self,
        var: impl Fn(&str) -> Option<String>,
    ) -> (Option<Self>, Vec<String>) {
        let mut warnings = Vec::new();
        let mut bad = |name: &str, value: &str, why: String| {
            warnings.push(format!("ignoring {name}={value:?}: {why}"));
        };
        if let Some(v) = var("HOLMES_DISABLE") {
            match v.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => return (None, warnings),
                "" | "0" | "false" | "no" | "off" => {}
                _ => bad(
                    "HOLMES_DISABLE",
                    &v,
                    "expected 1/true/yes or 0/false/no".into(),
                ),
            }
        }
        if let Some(v) = var("HOLMES_DUMP_DIR") {
            if v.is_empty() {
                bad("HOLMES_DUMP_DIR", &v, "empty".into());
            } else {
                self.dump_dir = PathBuf::from(v);
            }
        }
        // Out of range is as bad as malformed: logged and ignored, never fatal.
        let duration = |name: &str,
                        (min, max): (Duration, Duration),
                        bad: &mut dyn FnMut(&str, &str, String)|
         -> Option<Duration> {
            let v = var(name)?;
            match holmes_settings::parse_duration(&v) {
                Ok(d) => match check_duration(d, min, max) {
                    Ok(()) => Some(d),
                    Err(why) => {
                        bad(name, &v, why);
                        None
                    }
                },
                Err(e) => {
                    bad(name, &v, e);
                    None
                }
            }
        };
        let nonzero = Duration::from_nanos(1);
        let interval = (bounds::MIN_INTERVAL, bounds::MAX_INTERVAL);
        if let Some(d) = duration("HOLMES_INTERVAL", interval, &mut bad) {
            self.interval = d;
        }
        let cooldown = (nonzero, bounds::MAX_COOLDOWN);
        if let Some(d) = duration("HOLMES_COOLDOWN", cooldown, &mut bad) {
            self.cooldown = d;
        }
        let profile = (nonzero, bounds::MAX_CPU_PROFILE);
        if let Some(d) = duration("HOLMES_CPU_PROFILE", profile, &mut bad) {
            self.cpu_profile_duration = d;
        }
        if let Some(v) = var("HOLMES_STACK_WALK") {
            match StackWalk::parse(v.trim()) {
                Some(w) => self.stack_walk = w,
                None => bad(
                    "HOLMES_STACK_WALK",
                    &v,
                    "expected auto, frame_pointers or dwarf".into(),
                ),
            }
        }
        if let Some(v) = var("HOLMES_CPU_MAX") {
            match v.trim().parse::<u64>() {
                Ok(n) if n <= 100 => self.cpu_max = n,
                _ => bad("HOLMES_CPU_MAX", &v, "expected a percentage 0..=100".into()),
            }
        }
        if let Some(v) = var("HOLMES_MEMORY_LIMIT") {
            match holmes_settings::parse_size(&v) {
                Ok(n) if n > 0 => self.memory_limit = Some(n),
                Ok(_) => bad("HOLMES_MEMORY_LIMIT", &v, "must be above zero".into()),
                Err(why) => bad("HOLMES_MEMORY_LIMIT", &v, why),
            }
        }
        if let Some(v) = var("HOLMES_CPU_CORES") {
            match v.trim().parse::<f64>() {
                Ok(c) if c.is_finite() && c > 0.0 => self.cpu_cores = Some(c),
                _ => bad("HOLMES_CPU_CORES", &v, "expected a positive number".into()),
            }
        }
        for m in Metric::ALL {
            let name = format!("HOLMES_{}", m.name().to_ascii_uppercase());
            let Some(v) = var(&name) else { continue };
            match parse_rule(&v, m, self.rules[m as usize]) {
                Ok(r) => self.rules[m as usize] = r,
                Err(e) => bad(&name, &v, e),
            }
        }
        (Some(self), warnings)
    }
}

/// The environment variables holmes reads at start (unless
/// [`Builder::env_overrides`]`(false)`), applied over the code's configuration. A
/// malformed or out-of-range value is logged at warn level and ignored, never fatal.
///
/// | variable | value |
/// |---|---|
/// | `HOLMES_DISABLE` | `1`/`true`/`yes`: holmes does not start ([`Error::Disabled`]) |
/// | `HOLMES_DUMP_DIR` | a directory |
/// | `HOLMES_INTERVAL`, `HOLMES_COOLDOWN`, `HOLMES_CPU_PROFILE` | durations: `500ms`, `1.5s`, `1m30s`, within the [`bounds`] |
/// | `HOLMES_CPU_MAX` | a percentage |
/// | `HOLMES_STACK_WALK` | `auto`, `frame_pointers` or `dwarf` ([`StackWalk`]) |
/// | `HOLMES_MEMORY_LIMIT` | a size: `2GiB`, `2Gi`, `512MB`, `1073741824` (bytes) |
/// | `HOLMES_CPU_CORES` | a number: `1.5` |
/// | `HOLMES_CPU`, `HOLMES_MEM`, `HOLMES_HEAP`, `HOLMES_THREADS`, `HOLMES_TASKS` | `min,diff,abs` or `min,diff,abs,max`, or `off` |
pub const ENV_VARS: &[&str] = &[
    "HOLMES_DISABLE",
    "HOLMES_DUMP_DIR",
    "HOLMES_INTERVAL",
    "HOLMES_COOLDOWN",
    "HOLMES_CPU_PROFILE",
    "HOLMES_CPU_MAX",
    "HOLMES_STACK_WALK",
    "HOLMES_MEMORY_LIMIT",
    "HOLMES_CPU_CORES",
    "HOLMES_CPU",
    "HOLMES_MEM",
    "HOLMES_HEAP",
    "HOLMES_THREADS",
    "HOLMES_TASKS",
];

/// `min,diff,abs[,max]` or `off`; keeps the existing rule's cooldown and options.
fn parse_rule(v: &str, m: Metric, old: Option<Rule>) -> std::result::Result<Option<Rule>, String> {
    let v = v.trim();
    if v.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let nums: Vec<u64> = v
        .split(',')
        .map(|p| p.trim().parse::<u64>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| format!("expected min,diff,abs[,max]: {e}"))?;
    let (min, diff, abs, max) = match nums[..] {
        [min, diff, abs] => (min, diff, abs, 0),
        [min, diff, abs, max] if m.is_count() => (min, diff, abs, max),
        _ => {
            return Err(if m.is_count() {
                "expected min,diff,abs or min,diff,abs,max".into()
            } else {
                "expected min,diff,abs".into()
            })
        }
    };
    let mut r = old.unwrap_or(Rule::new(min, diff, abs));
    (r.min, r.diff, r.abs, r.max) = (min, diff, abs, max);
    r.validate(m).map_err(|e| e.to_string())?;
    Ok(Some(r))
}
