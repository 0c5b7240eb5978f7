//! State shared between the sampler, the heap watcher, the dumper and
//! [`crate::Guard::status`].
//!
//! Everything the sampler writes on its tick is an atomic or a [`Ring`]: readers never
//! block the sampler. The configuration (replaced by [`crate::Guard::update`]) and the
//! last dump of each rule sit behind mutexes held only for the time of a clone; the
//! sampler only ever `try_lock`s the configuration, so it never waits.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::clock::{later, later_wall};
use crate::config::Builder;
use crate::event::DumpEvent;
use crate::limit::Limiter;
use crate::rule::Rule;
use crate::rule::{cooldown_of, Metric, Ring};
use crate::sample::limits::{LimitSource, Limits};

/// A relaxed event counter.
#[derive(Default)]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

#[derive(Default)]
pub(crate) struct Counters {
    pub ticks: Counter,
    pub dumps: Counter,
    pub dump_failures: Counter,
    pub write_failures: Counter,
    pub dropped: Counter,
    pub sample_errors: Counter,
    pub throttled: Counter,
    pub skipped_low_disk: Counter,
    pub files_deleted: Counter,
    pub signal_takeovers: Counter,
}

/// Nanoseconds after `Shared::epoch`; 0 = unset.
pub(crate) struct AtomicInstant(AtomicU64);

impl AtomicInstant {
    fn new() -> Self {
        AtomicInstant(AtomicU64::new(0))
    }
    fn get(&self, epoch: Instant) -> Option<Instant> {
        match self.0.load(Ordering::Relaxed) {
            0 => None,
            ns => Some(later(epoch, Duration::from_nanos(ns))),
        }
    }
    fn set(&self, epoch: Instant, t: Instant) {
        let ns = t.saturating_duration_since(epoch).as_nanos().max(1);
        let ns = u64::try_from(ns).unwrap_or(u64::MAX);
        self.0.store(ns, Ordering::Relaxed);
    }
}

pub(crate) struct RuleSlot {
    pub cooldown_until: AtomicInstant,
    pub throttled_until: AtomicInstant,
    pub last_dump: Mutex<Option<DumpEvent>>,
    /// A dump of this rule is queued or being taken: the rule does not fire again
    /// until it is done (no pile of stale triggers behind a slow dump).
    pub pending: std::sync::atomic::AtomicBool,
}

impl RuleSlot {
    pub fn throttled_until_instant(&self, epoch: Instant) -> Option<Instant> {
        self.throttled_until.get(epoch)
    }
}

pub(crate) struct Shared {
    pub epoch: Instant,
    pub rings: Vec<Ring>,
    pub rules: Vec<RuleSlot>,
    pub counters: Counters,
    pub limits: Limits,
    pub dump_dir: PathBuf,
    pub next_event: AtomicU64,
    /// Live-heap bytes above which the heap rule fires, computed by the sampler each
    /// tick and armed in the allocator by the heap watcher; `alloc::DISARMED` = off.
    pub heap_threshold: AtomicU64,
    /// The configuration in force; replaced whole by `Guard::update`.
    pub config: Mutex<Arc<Builder>>,
    pub limiter: Mutex<Limiter>,
    /// The reporters' queue, taken out at shutdown.
    pub reports: Mutex<Option<Arc<crate::report::ReportQueue>>>,
    /// The heap rule's escalation mark (`f64` bits) and its end.
    pub heap_high_water: AtomicU64,
    heap_high_water_until: AtomicInstant,
}

impl Shared {
    pub fn new(b: Builder, limits: Limits, dump_dir: PathBuf) -> Shared {
        Shared {
            epoch: Instant::now(),
            rings: (0..Metric::COUNT).map(|_| Ring::new(b.ring_size)).collect(),
            rules: (0..Metric::COUNT)
                .map(|_| RuleSlot {
                    cooldown_until: AtomicInstant::new(),
                    throttled_until: AtomicInstant::new(),
                    last_dump: Mutex::new(None),
                    pending: std::sync::atomic::AtomicBool::new(false),
                })
                .collect(),
            counters: Counters::default(),
            limits,
            dump_dir,
            next_event: AtomicU64::new(1),
            heap_threshold: AtomicU64::new(crate::alloc::DISARMED),
            config: Mutex::new(Arc::new(b)),
            limiter: Mutex::new(Limiter::new()),
            reports: Mutex::new(None),
            heap_high_water: AtomicU64::new(0),
            heap_high_water_until: AtomicInstant::new(),
        }
    }

    pub fn set_heap_high_water(&self, value: f64, until: Instant) {
        self.heap_high_water
            .store(value.to_bits(), Ordering::Relaxed);
        self.heap_high_water_until.set(self.epoch, until);
    }

    pub fn heap_high_water_until(&self, _now: Instant) -> Option<Instant> {
        self.heap_high_water_until.get(self.epoch)
    }

    /// The configuration in force (a clone of the `Arc`).
    pub fn config(&self) -> Arc<Builder> {
        match self.config.lock() {
            Ok(c) => c.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    pub fn cooldown_until(&self, m: Metric) -> Option<Instant> {
        self.rules[m as usize].cooldown_until.get(self.epoch)
    }

    pub fn set_cooldown_until(&self, m: Metric, until: Instant) {
        self.rules[m as usize].cooldown_until.set(self.epoch, until);
    }

    pub fn set_throttled_until(&self, m: Metric, until: Instant) {
        self.rules[m as usize]
            .throttled_until
            .set(self.epoch, until);
    }

    /// Records a fire of `m` now against the dump limits; on `Err` the rule is
    /// throttled (counted, visible in the status).
    pub fn admit(&self, m: Metric, cfg: &Builder, now: Instant) -> bool {
        let verdict = match self.limiter.lock() {
            Ok(mut l) => l.admit(m, cfg.per_rule_limit, cfg.overall_limit, now),
            Err(p) => p
                .into_inner()
                .admit(m, cfg.per_rule_limit, cfg.overall_limit, now),
        };
        match verdict {
            Ok(()) => true,
            Err(until) => {
                self.set_throttled_until(m, until);
                self.counters.throttled.inc();
                false
            }
        }
    }

    /// The cooldown of `m`'s rule under `cfg`.
    pub fn cooldown(cfg: &Builder, m: Metric) -> Duration {
        cfg.rules[m as usize].map_or(cfg.cooldown, |r| cooldown_of(&r, cfg.cooldown))
    }

    /// True when a dump of `m` is queued or in progress.
    pub fn pending(&self, m: Metric) -> bool {
        self.rules[m as usize].pending.load(Ordering::Acquire)
    }

    pub fn set_pending(&self, m: Metric, on: bool) {
        self.rules[m as usize].pending.store(on, Ordering::Release);
    }

    pub fn record_dump(&self, event: DumpEvent) {
        if let Ok(mut last) = self.rules[event.metric as usize].last_dump.lock() {
            *last = Some(event);
        }
    }

    pub fn status(&self) -> Status {
        let now = Instant::now();
        let cfg = self.config();
        let wall = |t: Instant| later_wall(SystemTime::now(), t.saturating_duration_since(now));
        let metrics = Metric::ALL
            .iter()
            .map(|&m| {
                let ring = &self.rings[m as usize];
                let snap = ring.snapshot();
                let slot = &self.rules[m as usize];
                let rule = cfg.rules[m as usize];
                let throttled = slot.throttled_until.get(self.epoch).filter(|&u| u > now);
                let cooling = self.cooldown_until(m).filter(|&u| u > now);
                let state = match (rule, throttled, cooling) {
                    (None, _, _) => RuleState::Disabled,
                    (Some(_), _, _) if (snap.pushes as usize) < ring.size() => {
                        RuleState::WarmingUp {
                            samples: snap.pushes,
                            of: ring.size() as u64,
                        }
                    }
                    (Some(_), Some(until), _) => RuleState::Throttled { until: wall(until) },
                    (Some(_), None, Some(until)) => RuleState::CoolingDown { until: wall(until) },
                    (Some(_), None, None) => RuleState::Armed,
                };
                MetricStatus {
                    metric: m,
                    current: snap.current(),
                    average: snap.average(),
                    ring: snap.values,
                    rule,
                    state,
                    last_dump: slot.last_dump.lock().ok().and_then(|l| l.clone()),
                }
            })
            .collect();
        let c = &self.counters;
        Status {
            metrics,
            ticks: c.ticks.get(),
            dumps: c.dumps.get(),
            dump_failures: c.dump_failures.get(),
            write_failures: c.write_failures.get(),
            dump_requests_dropped: c.dropped.get(),
            sample_errors: c.sample_errors.get(),
            throttled: c.throttled.get(),
            skipped_low_disk: c.skipped_low_disk.get(),
            files_deleted: c.files_deleted.get(),
            signal_takeovers: c.signal_takeovers.get(),
            reports: self
                .reports
                .lock()
                .ok()
                .and_then(|q| q.as_ref().map(|q| q.stats()))
                .unwrap_or_default(),
            interval: cfg.interval,
            cores: self.limits.cores,
            cores_source: self.limits.cores_source.clone(),
            memory_limit: self.limits.memory_limit,
            memory_source: self.limits.memory_source.clone(),
            dump_dir: self.dump_dir.clone(),
            stack_walk: crate::stack::walker(),
            stacks_truncated: crate::stack::stacks_truncated(),
        }
    }
}

/// The state of one rule. Serialized (feature `serde`) tagged by `state`, in snake case:
/// `{"state": "warming_up", "samples": 3, "of": 10}`, `{"state": "armed"}`.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(tag = "state", rename_all = "snake_case")
)]
#[non_exhaustive]
pub enum RuleState {
    /// No rule is configured for this metric.
    Disabled,
    /// Collecting the first samples: `samples` of `of`.
    WarmingUp {
        /// Samples collected.
        samples: u64,
        /// Samples needed.
        of: u64,
    },
    /// Checking every sample.
    Armed,
    /// Fired recently; quiet until `until`.
    CoolingDown {
        /// End of the cooldown.
        #[cfg_attr(feature = "serde", serde(serialize_with = "crate::serde_util::time"))]
        until: SystemTime,
    },
    /// Reached its dump limit (per rule or overall); quiet until `until`.
    Throttled {
        /// When the limit allows the next dump.
        #[cfg_attr(feature = "serde", serde(serialize_with = "crate::serde_util::time"))]
        until: SystemTime,
    },
}

/// One metric in a [`Status`].
#[derive(Clone, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct MetricStatus {
    /// Which metric.
    pub metric: Metric,
    /// The newest sample.
    pub current: Option<f64>,
    /// Recent samples, oldest first.
    pub ring: Vec<f64>,
    /// Mean of `ring` (not truncated).
    pub average: f64,
    /// The rule watching it, if any.
    pub rule: Option<Rule>,
    /// The rule's state.
    pub state: RuleState,
    /// The rule's most recent dump.
    pub last_dump: Option<DumpEvent>,
}

/// A snapshot of a running holmes, from [`crate::Guard::status`].
///
/// With the feature `serde`, it and everything in it implement `serde::Serialize`, for
/// a status endpoint or a script: times as RFC 3339 UTC strings with milliseconds
/// (`"2026-11-27T12:50:09.751Z"`), durations as humantime strings (`"20ms"`,
/// `"1m 30s"`), paths as strings, metrics, dump kinds, fire reasons and stack walkers
/// as lowercase names (`"cpu"`, `"above_abs"`, `"frame_pointers"`), a [`RuleState`]
/// tagged by `state` (`{"state": "cooling_down", "until": "…"}`), a [`LimitSource`]
/// by `kind` (`{"kind": "cgroup", "path": "…"}`).
#[derive(Clone, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct Status {
    /// Every metric, in [`Metric::ALL`] order.
    pub metrics: Vec<MetricStatus>,
    /// Sampler ticks so far.
    pub ticks: u64,
    /// Dumps written.
    pub dumps: u64,
    /// Dumps whose capture or files failed.
    pub dump_failures: u64,
    /// Dumps with at least one file that could not be written.
    pub write_failures: u64,
    /// Triggers dropped because the dumper was busy and its queue full.
    pub dump_requests_dropped: u64,
    /// Ticks whose reading failed.
    pub sample_errors: u64,
    /// Fires suppressed by the dump limits.
    pub throttled: u64,
    /// Dumps skipped because the dump directory's disk was below the free-space floor.
    pub skipped_low_disk: u64,
    /// Old dump files deleted by retention.
    pub files_deleted: u64,
    /// CPU captures during which the host installed its own `SIGPROF` handler or
    /// re-armed `ITIMER_PROF` (holmes left them in place), and thread dumps refused
    /// because the host took over the dump signal.
    pub signal_takeovers: u64,
    /// What the reporters did (all zero without reporters).
    pub reports: crate::report::ReportStats,
    /// The sampling interval in force.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::serde_util::duration")
    )]
    pub interval: Duration,
    /// Cores CPU % refers to.
    pub cores: f64,
    /// Where `cores` came from.
    pub cores_source: LimitSource,
    /// Memory limit memory % refers to, in bytes.
    pub memory_limit: u64,
    /// Where `memory_limit` came from.
    pub memory_source: LimitSource,
    /// Where dumps are written.
    #[cfg_attr(feature = "serde", serde(serialize_with = "crate::serde_util::path"))]
    pub dump_dir: PathBuf,
    /// The stack walker in use: [`StackWalk::FramePointers`](crate::StackWalk) or
    /// [`StackWalk::Dwarf`](crate::StackWalk), chosen at start.
    pub stack_walk: crate::StackWalk,
    /// True when a check at start found the stacks short (frame pointers chosen, the
    /// build has none): dumps then lack callers.
    pub stacks_truncated: bool,
}

impl Status {
    /// The status of one metric.
    pub fn metric(&self, m: Metric) -> &MetricStatus {
        &self.metrics[m as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Guards against: `now + cooldown` panicking holmes' threads with a huge duration.
    #[test]
    fn later_saturates_instead_of_panicking() {
        let t = Instant::now();
        assert_eq!(later(t, Duration::from_secs(5)), t + Duration::from_secs(5));
        let far = later(t, Duration::MAX);
        assert!(far >= t + Duration::from_secs(365 * 24 * 3600), "{far:?}");
        assert!(later_wall(SystemTime::now(), Duration::MAX) > SystemTime::now());
        // Stored and read back relative to an epoch, still without panicking.
        let a = AtomicInstant::new();
        a.set(t, far);
        assert!(a.get(t).is_some_and(|u| u > t));
    }
}
