//! The Go library's trigger rule, on lock-free rings of recent samples.
//!
//! [`Ring`] keeps the last N samples of one metric. The sampler thread is its only
//! writer; any thread may read it through [`Ring::snapshot`] without taking a lock (a
//! sequence counter detects a concurrent write and the read is retried).
//!
//! [`evaluate`] is a pure function of (rule, recent samples, now): it is the whole rule
//! semantics of `mosn/holmes` (`matchRule`), with one deliberate change: the average is
//! computed in floating point, not truncated to an integer, so a ring of `{1, 2}` averages
//! 1.5, not 1 (truncation made the diff trigger fire early on small values).

use std::sync::atomic::{fence, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::bounds::{self, check_setting};
use crate::error::{Error, Result};

/// A trigger rule: `(min, diff, abs)` in the Go library's order, plus `max` for count
/// rules and an optional per-rule cooldown.
///
/// After the warm-up (the ring of recent samples is full), a sample `cur` fires a dump when
/// `cur >= min` and either `cur > abs`, or `cur >= avg × (100 + diff) / 100` where `avg` is
/// the mean of the ring *including* `cur`. For count rules a non-zero `max` skips dumping
/// when `cur >= max` (too many threads or tasks to dump cheaply).
///
/// ```
/// use std::time::Duration;
/// let rule = holmes_runtime::Rule::new(10, 25, 80).cooldown(Duration::from_secs(30));
/// assert_eq!(rule.abs(), 80);
/// ```
///
/// Serialized (feature `serde`) as configured: `{"min": 10, "diff": 25, "abs": 80,
/// "max": 0, "cooldown": "30s", "sustain": 1, "escalate": null}`, `max` 0 for none and a
/// `null` cooldown for the builder's.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[must_use]
pub struct Rule {
    pub(crate) min: u64,
    pub(crate) diff: u64,
    pub(crate) abs: u64,
    pub(crate) max: u64,
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::serde_util::option_duration")
    )]
    pub(crate) cooldown: Option<Duration>,
    pub(crate) sustain: u32,
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::serde_util::option_duration")
    )]
    pub(crate) escalate: Option<Duration>,
}

impl Rule {
    /// A rule with the Go library's `(min, diff, abs)` arguments: fire only at or above
    /// `min`; fire when the value exceeds `abs`; or fire when it is `diff` percent above
    /// the recent average.
    pub const fn new(min: u64, diff: u64, abs: u64) -> Rule {
        Rule {
            min,
            diff,
            abs,
            max: 0,
            cooldown: None,
            sustain: 1,
            escalate: None,
        }
    }

    /// Fire only when the rule matched on `samples` consecutive samples (default 1, the
    /// Go behaviour); any sample that does not match resets the count. Applies to the
    /// interval checks; the `heap` rule's allocation-path check fires on the first match.
    pub const fn sustain(mut self, samples: u32) -> Rule {
        self.sustain = samples;
        self
    }

    /// Escalation: after a dump, fire again only above the value that fired (the new
    /// high-water mark) until `reset` has passed since the last dump. A flapping metric
    /// then gives one dump, and a metric that keeps climbing gives one per new peak.
    /// `reset` must be above zero and at most [`bounds::MAX_COOLDOWN`] (1 year).
    pub const fn escalate(mut self, reset: Duration) -> Rule {
        self.escalate = Some(reset);
        self
    }

    /// The minimum below which the rule never fires.
    pub const fn min(&self) -> u64 {
        self.min
    }

    /// The percentage above the recent average that fires.
    pub const fn diff(&self) -> u64 {
        self.diff
    }

    /// The absolute value above which the rule fires.
    pub const fn abs(&self) -> u64 {
        self.abs
    }

    /// The `max` of a count rule (0 = none).
    pub const fn max_value(&self) -> u64 {
        self.max
    }

    /// For count rules (`threads`, `tasks`): skip dumping while the value is at or above
    /// `max` — too many threads or tasks to dump cheaply. 0, the default, means no max.
    pub const fn max(mut self, max: u64) -> Rule {
        self.max = max;
        self
    }

    /// The per-rule cooldown, if set (otherwise the builder's default applies).
    pub const fn cooldown_override(&self) -> Option<Duration> {
        self.cooldown
    }

    /// How long the rule stays quiet after a dump. Overrides [`Builder::cooldown`](crate::Builder::cooldown).
    /// Above zero and at most [`bounds::MAX_COOLDOWN`] (1 year).
    pub const fn cooldown(mut self, cooldown: Duration) -> Rule {
        self.cooldown = Some(cooldown);
        self
    }

    /// Validates the rule for `kind`; `percent` rules are capped at 100.
    pub(crate) fn validate(&self, kind: Metric) -> Result<()> {
        let name = kind.name();
        let kind = if kind.is_percent() {
            holmes_settings::RuleKind::Percent
        } else {
            holmes_settings::RuleKind::Count
        };
        let max = (self.max != 0).then_some(self.max);
        if let Some(p) = holmes_settings::check_rule(kind, self.min, self.diff, self.abs, max)
            .into_iter()
            .next()
        {
            return Err(Error::Config(format!("{name} rule: {}", p.message)));
        }
        if self.sustain == 0 {
            return Err(Error::Config(format!(
                "{name} rule: sustain must be at least 1 sample"
            )));
        }
        let nonzero = Duration::from_nanos(1);
        if let Some(reset) = self.escalate {
            check_setting(
                &format!("{name}.escalate"),
                reset,
                nonzero,
                bounds::MAX_COOLDOWN,
            )?;
        }
        if let Some(cooldown) = self.cooldown {
            check_setting(
                &format!("{name}.cooldown"),
                cooldown,
                nonzero,
                bounds::MAX_COOLDOWN,
            )?;
        }
        Ok(())
    }
}

/// At most `max` events in any `window`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DumpLimit {
    /// Events allowed per window (0 = none at all).
    pub max: usize,
    /// The sliding window.
    pub window: Duration,
}

impl DumpLimit {
    /// `max` dumps per `window`.
    pub const fn new(max: usize, window: Duration) -> DumpLimit {
        DumpLimit { max, window }
    }
}

/// A metric that holmes samples, and the rule that watches it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Metric {
    /// CPU used by the process, as a percentage of the available cores (100 = all busy).
    Cpu = 0,
    /// Resident memory (RSS) as a percentage of the memory limit.
    Mem = 1,
    /// Number of OS threads of the process.
    Threads = 2,
    /// The live heap estimated by [`crate::Allocator`]'s samples, as a percentage of the
    /// memory limit. Its rule is checked on the allocator's sampling path, not only on
    /// the interval.
    Heap = 3,
    /// Alive tasks of the tokio runtime (feature `tokio`).
    #[cfg(feature = "tokio")]
    Tasks = 4,
}

impl Metric {
    /// Number of metrics.
    #[cfg(feature = "tokio")]
    pub const COUNT: usize = 5;
    /// Number of metrics.
    #[cfg(not(feature = "tokio"))]
    pub const COUNT: usize = 4;
    /// Every metric, in index order.
    #[cfg(feature = "tokio")]
    pub const ALL: [Metric; Metric::COUNT] = [
        Metric::Cpu,
        Metric::Mem,
        Metric::Threads,
        Metric::Heap,
        Metric::Tasks,
    ];
    /// Every metric, in index order.
    #[cfg(not(feature = "tokio"))]
    pub const ALL: [Metric; Metric::COUNT] =
        [Metric::Cpu, Metric::Mem, Metric::Threads, Metric::Heap];

    /// The rule's name as written in configuration (`cpu`, `mem`, …).
    pub const fn name(self) -> &'static str {
        match self {
            Metric::Cpu => "cpu",
            Metric::Mem => "mem",
            Metric::Threads => "threads",
            Metric::Heap => "heap",
            #[cfg(feature = "tokio")]
            Metric::Tasks => "tasks",
        }
    }

    /// True for metrics measured in percent (their rules are capped at 100).
    pub const fn is_percent(self) -> bool {
        matches!(self, Metric::Cpu | Metric::Mem | Metric::Heap)
    }

    /// True for count metrics, whose rules may set a `max`.
    pub const fn is_count(self) -> bool {
        !self.is_percent()
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Metric {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A fixed-size ring of the most recent samples of one metric: single writer, lock-free
/// readers.
pub struct Ring {
    /// Even when stable, odd while the writer is writing.
    seq: AtomicU64,
    /// Number of samples ever pushed.
    pushes: AtomicU64,
    slots: Box<[AtomicU64]>,
}

/// A consistent copy of a [`Ring`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RingSnapshot {
    /// The samples held, oldest first (at most the ring's size).
    pub values: Vec<f64>,
    /// How many samples were ever pushed.
    pub pushes: u64,
}

impl RingSnapshot {
    /// The mean of the held samples (0 for an empty ring), without integer truncation.
    pub fn average(&self) -> f64 {
        average(&self.values)
    }

    /// The newest sample.
    pub fn current(&self) -> Option<f64> {
        self.values.last().copied()
    }
}

/// The mean of `values`, 0 when empty.
pub fn average(values: &[f64]) -> f64 {
    if values.is_empty() {
        0.0
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    }
}

impl Ring {
    /// An empty ring of `size` samples (at least 1).
    pub fn new(size: usize) -> Ring {
        let size = size.max(1);
        Ring {
            seq: AtomicU64::new(0),
            pushes: AtomicU64::new(0),
            slots: (0..size).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Capacity.
    pub fn size(&self) -> usize {
        self.slots.len()
    }

    /// Appends a sample, overwriting the oldest when full. Only one thread may push.
    pub fn push(&self, value: f64) {
        let seq = self.seq.load(Ordering::Relaxed);
        self.seq.store(seq.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        let n = self.pushes.load(Ordering::Relaxed);
        self.slots[(n % self.slots.len() as u64) as usize]
            .store(value.to_bits(), Ordering::Relaxed);
        self.pushes.store(n + 1, Ordering::Relaxed);
        self.seq.store(seq.wrapping_add(2), Ordering::Release);
    }

    /// A consistent copy, oldest first. Never blocks the writer; retries while a push
    /// is in progress (a push is a handful of stores, so this ends at once).
    pub fn snapshot(&self) -> RingSnapshot {
        let size = self.slots.len() as u64;
        let mut values = Vec::with_capacity(self.slots.len());
        loop {
            let s1 = self.seq.load(Ordering::Acquire);
            if s1 % 2 == 1 {
                std::hint::spin_loop();
                continue;
            }
            values.clear();
            let pushes = self.pushes.load(Ordering::Relaxed);
            let held = pushes.min(size);
            for i in 0..held {
                let idx = ((pushes - held + i) % size) as usize;
                values.push(f64::from_bits(self.slots[idx].load(Ordering::Relaxed)));
            }
            fence(Ordering::Acquire);
            if self.seq.load(Ordering::Relaxed) == s1 {
                return RingSnapshot { values, pushes };
            }
        }
    }
}

/// Why a check fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "snake_case")
)]
pub enum FireReason {
    /// The value is above `abs`.
    AboveAbs,
    /// The value is at least `diff` percent above the recent average.
    Diff,
    /// Not a rule: asked for with [`Handle::dump_now`](crate::Handle::dump_now).
    OnDemand,
}

impl std::fmt::Display for FireReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FireReason::AboveAbs => "curVal > ruleAbs",
            FireReason::Diff => "curVal >= ruleMin, and meet diff trigger condition",
            FireReason::OnDemand => "on demand",
        })
    }
}

/// The outcome of one rule check.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Decision {
    /// The ring is not full yet: `samples` of `of` collected.
    WarmingUp {
        /// Samples collected.
        samples: u64,
        /// Samples needed.
        of: u64,
    },
    /// CPU is at or above `cpu_max`: every check is skipped this tick.
    CpuMax,
    /// The rule fired recently and stays quiet until `until`.
    CoolingDown {
        /// End of the cooldown.
        until: Instant,
    },
    /// Below `min`.
    BelowMin,
    /// At or above `max` (count rules): too many to dump cheaply.
    AboveMax,
    /// Above `min` but neither above `abs` nor `diff` above the average.
    DiffNotMet,
    /// Matched, but not yet on `sustain` consecutive samples: `matched` of `of`.
    Sustaining {
        /// Consecutive matching samples, this one included.
        matched: u32,
        /// Samples needed.
        of: u32,
    },
    /// Matched, but escalation holds the rule until the value exceeds `mark`.
    BelowHighWater {
        /// The value of the last dump.
        mark: f64,
    },
    /// Dump.
    Fire(FireReason),
}

impl Decision {
    /// The Go library's wording of the outcome, for the per-tick log line.
    pub fn describe(&self) -> String {
        match self {
            Decision::WarmingUp { samples, of } => format!("warming up ({samples} of {of})"),
            Decision::CpuMax => "skipped: cpu >= cpu_max".into(),
            Decision::CoolingDown { .. } => "cooling down".into(),
            Decision::BelowMin => "curVal < ruleMin".into(),
            Decision::AboveMax => "curVal >= ruleMax".into(),
            Decision::DiffNotMet => {
                "curVal >= ruleMin, but don't meet diff trigger condition".into()
            }
            Decision::Sustaining { matched, of } => {
                format!("matched {matched} of {of} consecutive samples")
            }
            Decision::BelowHighWater { mark } => {
                format!("escalation: not above the last dump's {mark:.2}")
            }
            Decision::Fire(r) => r.to_string(),
        }
    }
}

/// Everything one check depends on.
#[derive(Clone, Copy, Debug)]
pub struct CheckInput<'a> {
    /// The rule.
    pub rule: &'a Rule,
    /// Recent samples, oldest first, the current one last.
    pub values: &'a [f64],
    /// Samples ever collected for this metric (including the current one).
    pub collects: u64,
    /// Samples needed before any check (the ring's size; 10 by default).
    pub warmup: u64,
    /// The current CPU %, for `cpu_max`.
    pub cpu_now: f64,
    /// `cpu_max` (0 = off).
    pub cpu_max: u64,
    /// End of the rule's cooldown, if it fired before.
    pub cooldown_until: Option<Instant>,
    /// Consecutive matching samples before this one (for `sustain`).
    pub streak: u32,
    /// The escalation high-water mark in force, if any.
    pub high_water: Option<f64>,
    /// Now.
    pub now: Instant,
}

/// The rule check of `mosn/holmes` (`matchRule`), as a pure function.
pub fn evaluate(c: &CheckInput<'_>) -> Decision {
    if c.collects < c.warmup {
        return Decision::WarmingUp {
            samples: c.collects,
            of: c.warmup,
        };
    }
    if c.cpu_max != 0 && c.cpu_now >= c.cpu_max as f64 {
        return Decision::CpuMax;
    }
    if let Some(until) = c.cooldown_until {
        if c.now < until {
            return Decision::CoolingDown { until };
        }
    }
    let Some(&cur) = c.values.last() else {
        return Decision::WarmingUp {
            samples: 0,
            of: c.warmup,
        };
    };
    let r = c.rule;
    if cur < r.min as f64 {
        return Decision::BelowMin;
    }
    if r.max != 0 && cur >= r.max as f64 {
        return Decision::AboveMax;
    }
    let reason = if cur > r.abs as f64 {
        FireReason::AboveAbs
    } else if cur >= average(c.values) * (100 + r.diff) as f64 / 100.0 {
        FireReason::Diff
    } else {
        return Decision::DiffNotMet;
    };
    if let Some(mark) = c.high_water {
        if cur <= mark {
            return Decision::BelowHighWater { mark };
        }
    }
    let matched = c.streak.saturating_add(1);
    if matched < r.sustain {
        return Decision::Sustaining {
            matched,
            of: r.sustain,
        };
    }
    Decision::Fire(reason)
}

impl Decision {
    /// True when the sample matched the rule (fired, or would have but for sustain):
    /// the sustain streak continues.
    pub fn matched(&self) -> bool {
        matches!(self, Decision::Fire(_) | Decision::Sustaining { .. })
    }
}

/// The cooldown that applies to `rule`.
pub fn cooldown_of(rule: &Rule, default: Duration) -> Duration {
    rule.cooldown.unwrap_or(default)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring_of(size: usize, values: &[f64]) -> RingSnapshot {
        let r = Ring::new(size);
        for &v in values {
            r.push(v);
        }
        r.snapshot()
    }

    // The Go library's ring cases.
    #[test]
    fn ring_cases_from_go() {
        assert_eq!(ring_of(10, &[]).average(), 0.0);
        assert_eq!(ring_of(10, &[1.0, 2.0, 3.0]).average(), 2.0);
        assert_eq!(ring_of(1, &[1.0, 2.0, 3.0]).average(), 3.0);
        let s = ring_of(3, &[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(s.values, vec![3.0, 4.0, 5.0], "oldest first");
        assert_eq!(s.pushes, 5);
        assert_eq!(s.current(), Some(5.0));
    }

    #[test]
    fn average_is_not_truncated() {
        assert_eq!(ring_of(10, &[1.0, 2.0]).average(), 1.5);
    }

    #[test]
    fn concurrent_readers_see_consistent_rings() {
        // The writer pushes i, so a consistent snapshot is always consecutive.
        let ring = std::sync::Arc::new(Ring::new(10));
        let w = ring.clone();
        let writer = std::thread::spawn(move || {
            for i in 0..200_000u64 {
                w.push(i as f64);
            }
        });
        for _ in 0..20_000 {
            let s = ring.snapshot();
            for pair in s.values.windows(2) {
                assert_eq!(pair[1], pair[0] + 1.0, "torn snapshot {:?}", s.values);
            }
            if let Some(&last) = s.values.last() {
                assert_eq!(last, (s.pushes - 1) as f64);
            }
        }
        writer.join().unwrap();
    }

    struct Series {
        rule: Rule,
        ring: Ring,
        collects: u64,
        cooldown_until: Option<Instant>,
        cooldown: Duration,
        now: Instant,
        streak: u32,
        high_water: Option<(f64, Instant)>,
    }

    impl Series {
        fn new(rule: Rule) -> Self {
            Series {
                rule,
                ring: Ring::new(10),
                collects: 0,
                cooldown_until: None,
                cooldown: Duration::from_secs(60),
                now: Instant::now(),
                streak: 0,
                high_water: None,
            }
        }
        /// Pushes one sample 5 s after the previous and checks it like the sampler.
        fn tick(&mut self, v: f64, cpu_now: f64, cpu_max: u64) -> Decision {
            self.now += Duration::from_secs(5);
            self.ring.push(v);
            self.collects += 1;
            let snap = self.ring.snapshot();
            let d = evaluate(&CheckInput {
                rule: &self.rule,
                values: &snap.values,
                collects: self.collects,
                warmup: 10,
                cpu_now,
                cpu_max,
                cooldown_until: self.cooldown_until,
                streak: self.streak,
                high_water: self
                    .high_water
                    .filter(|(_, until)| self.now < *until)
                    .map(|(m, _)| m),
                now: self.now,
            });
            self.streak = if d.matched() { self.streak + 1 } else { 0 };
            if let Decision::Fire(_) = d {
                self.streak = 0;
                self.cooldown_until = Some(self.now + cooldown_of(&self.rule, self.cooldown));
                if let Some(reset) = self.rule.escalate {
                    self.high_water = Some((v, self.now + reset));
                }
            }
            d
        }
    }

    #[test]
    fn warm_up_takes_ten_samples() {
        let mut s = Series::new(Rule::new(10, 25, 80));
        for i in 1..10 {
            assert_eq!(
                s.tick(99.0, 0.0, 0),
                Decision::WarmingUp { samples: i, of: 10 }
            );
        }
        assert_eq!(s.tick(99.0, 0.0, 0), Decision::Fire(FireReason::AboveAbs));
    }

    #[test]
    fn min_abs_diff_and_cooldown() {
        let mut s = Series::new(Rule::new(10, 25, 80));
        for _ in 0..9 {
            s.tick(20.0, 0.0, 0);
        }
        // The 10th sample is the first checked; a flat ring never meets the diff.
        assert_eq!(s.tick(20.0, 0.0, 0), Decision::DiffNotMet);
        assert_eq!(s.tick(9.0, 0.0, 0), Decision::BelowMin);
        // 20 vs an average of (8×20 + 9 + 20)/10 = 18.9: not 25 % above.
        assert_eq!(s.tick(20.0, 0.0, 0), Decision::DiffNotMet);
        // 30 vs (7×20 + 9 + 20 + 30)/10 = 19.9 → 30 ≥ 24.875: diff fires.
        assert_eq!(s.tick(30.0, 0.0, 0), Decision::Fire(FireReason::Diff));
        // Cooldown of 60 s = 12 ticks of 5 s: quiet even above abs.
        for _ in 0..11 {
            assert!(matches!(s.tick(95.0, 0.0, 0), Decision::CoolingDown { .. }));
        }
        assert_eq!(s.tick(95.0, 0.0, 0), Decision::Fire(FireReason::AboveAbs));
    }

    #[test]
    fn exactly_at_abs_does_not_fire_on_abs() {
        let mut s = Series::new(Rule::new(10, 25, 80));
        for _ in 0..10 {
            s.tick(80.0, 0.0, 0);
        }
        // 80 is not > 80, and a flat ring never meets the diff.
        assert_eq!(s.tick(80.0, 0.0, 0), Decision::DiffNotMet);
    }

    #[test]
    fn cpu_max_skips_every_check() {
        let mut s = Series::new(Rule::new(10, 25, 80));
        for _ in 0..10 {
            s.tick(5.0, 0.0, 0);
        }
        assert_eq!(s.tick(99.0, 96.0, 95), Decision::CpuMax);
        assert_eq!(s.tick(99.0, 94.0, 95), Decision::Fire(FireReason::AboveAbs));
    }

    #[test]
    fn max_skips_count_rules() {
        let mut rule = Rule::new(10, 25, 100);
        rule.max = 1000;
        let mut s = Series::new(rule);
        for _ in 0..10 {
            s.tick(50.0, 0.0, 0);
        }
        assert_eq!(s.tick(5000.0, 0.0, 0), Decision::AboveMax);
        assert_eq!(s.tick(500.0, 0.0, 0), Decision::Fire(FireReason::AboveAbs));
    }

    #[test]
    fn sustain_needs_consecutive_matches() {
        let mut s = Series::new(Rule::new(10, 25, 80).sustain(3));
        for _ in 0..10 {
            s.tick(5.0, 0.0, 0);
        }
        assert_eq!(
            s.tick(90.0, 0.0, 0),
            Decision::Sustaining { matched: 1, of: 3 }
        );
        assert_eq!(
            s.tick(90.0, 0.0, 0),
            Decision::Sustaining { matched: 2, of: 3 }
        );
        // A miss resets the count.
        assert_eq!(s.tick(5.0, 0.0, 0), Decision::BelowMin);
        assert_eq!(
            s.tick(90.0, 0.0, 0),
            Decision::Sustaining { matched: 1, of: 3 }
        );
        assert_eq!(
            s.tick(90.0, 0.0, 0),
            Decision::Sustaining { matched: 2, of: 3 }
        );
        assert_eq!(s.tick(90.0, 0.0, 0), Decision::Fire(FireReason::AboveAbs));
    }

    #[test]
    fn escalation_fires_only_on_new_peaks_until_reset() {
        let rule = Rule::new(10, 25, 80)
            .cooldown(Duration::from_secs(5))
            .escalate(Duration::from_secs(60));
        let mut s = Series::new(rule);
        for _ in 0..10 {
            s.tick(5.0, 0.0, 0);
        }
        assert_eq!(s.tick(85.0, 0.0, 0), Decision::Fire(FireReason::AboveAbs));
        // Flapping at the same level: held by the high-water mark, not by the cooldown.
        assert_eq!(
            s.tick(85.0, 0.0, 0),
            Decision::BelowHighWater { mark: 85.0 }
        );
        assert_eq!(
            s.tick(84.0, 0.0, 0),
            Decision::BelowHighWater { mark: 85.0 }
        );
        // A new peak fires and raises the mark.
        assert_eq!(s.tick(90.0, 0.0, 0), Decision::Fire(FireReason::AboveAbs));
        assert_eq!(
            s.tick(89.0, 0.0, 0),
            Decision::BelowHighWater { mark: 90.0 }
        );
        // After the reset interval (60 s = 12 ticks) the mark is gone.
        for _ in 0..12 {
            s.tick(50.0, 0.0, 0);
        }
        assert_eq!(s.tick(85.0, 0.0, 0), Decision::Fire(FireReason::AboveAbs));
    }

    #[test]
    fn per_rule_cooldown_overrides_default() {
        let mut s = Series::new(Rule::new(10, 25, 80).cooldown(Duration::from_secs(10)));
        for _ in 0..10 {
            s.tick(5.0, 0.0, 0);
        }
        assert!(matches!(s.tick(90.0, 0.0, 0), Decision::Fire(_)));
        assert!(matches!(s.tick(90.0, 0.0, 0), Decision::CoolingDown { .. }));
        assert!(matches!(s.tick(90.0, 0.0, 0), Decision::Fire(_)));
    }
}
