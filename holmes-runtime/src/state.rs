//! State shared between the sampler, the dumper and [`crate::Guard::status`].
//!
//! Everything the sampler writes on its tick is an atomic or a [`Ring`]: readers never
//! block the sampler. The last dump of each rule sits behind a mutex that only the
//! dumper (after a dump) and `status()` take, for the time of a clone.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use crate::config::{Builder, Rule};
use crate::dump::DumpEvent;
use crate::rule::{cooldown_of, Metric, Ring};
use crate::sample::limits::{LimitSource, Limits};

/// A relaxed event counter.
#[derive(Default)]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
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
}

pub(crate) struct RuleSlot {
    pub rule: Option<Rule>,
    pub cooldown: Duration,
    /// Nanoseconds after `Shared::epoch` until which the rule is quiet; 0 = never fired.
    pub cooldown_until: AtomicU64,
    pub last_dump: Mutex<Option<DumpEvent>>,
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
}

impl Shared {
    pub fn new(b: &Builder, limits: Limits, dump_dir: PathBuf) -> Shared {
        Shared {
            epoch: Instant::now(),
            rings: (0..Metric::COUNT).map(|_| Ring::new(b.ring_size)).collect(),
            rules: Metric::ALL
                .iter()
                .map(|&m| {
                    let rule = b.rules[m as usize];
                    RuleSlot {
                        rule,
                        cooldown: rule.map_or(b.cooldown, |r| cooldown_of(&r, b.cooldown)),
                        cooldown_until: AtomicU64::new(0),
                        last_dump: Mutex::new(None),
                    }
                })
                .collect(),
            counters: Counters::default(),
            limits,
            dump_dir,
            next_event: AtomicU64::new(1),
            heap_threshold: AtomicU64::new(crate::alloc::DISARMED),
        }
    }

    pub fn cooldown_until(&self, m: Metric) -> Option<Instant> {
        match self.rules[m as usize]
            .cooldown_until
            .load(Ordering::Relaxed)
        {
            0 => None,
            ns => Some(self.epoch + Duration::from_nanos(ns)),
        }
    }

    pub fn set_cooldown_until(&self, m: Metric, until: Instant) {
        let ns = until
            .saturating_duration_since(self.epoch)
            .as_nanos()
            .max(1) as u64;
        self.rules[m as usize]
            .cooldown_until
            .store(ns, Ordering::Relaxed);
    }

    pub fn record_dump(&self, event: DumpEvent) {
        if let Ok(mut last) = self.rules[event.metric as usize].last_dump.lock() {
            *last = Some(event);
        }
    }

    pub fn status(&self) -> Status {
        let now = Instant::now();
        let metrics = Metric::ALL
            .iter()
            .map(|&m| {
                let snap = self.rings[m as usize].snapshot();
                let slot = &self.rules[m as usize];
                let state = match slot.rule {
                    None => RuleState::Disabled,
                    Some(_) if (snap.pushes as usize) < self.rings[m as usize].size() => {
                        RuleState::WarmingUp {
                            samples: snap.pushes,
                            of: self.rings[m as usize].size() as u64,
                        }
                    }
                    Some(_) => match self.cooldown_until(m) {
                        Some(until) if until > now => RuleState::CoolingDown {
                            until: SystemTime::now() + (until - now),
                        },
                        _ => RuleState::Armed,
                    },
                };
                MetricStatus {
                    metric: m,
                    current: snap.current(),
                    average: snap.average(),
                    ring: snap.values,
                    rule: slot.rule,
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
            cores: self.limits.cores,
            cores_source: self.limits.cores_source.clone(),
            memory_limit: self.limits.memory_limit,
            memory_source: self.limits.memory_source.clone(),
            dump_dir: self.dump_dir.clone(),
        }
    }
}

/// The state of one rule.
#[derive(Clone, Debug, PartialEq)]
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
        until: SystemTime,
    },
}

/// One metric in a [`Status`].
#[derive(Clone, Debug)]
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
#[derive(Clone, Debug)]
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
    /// Cores CPU % refers to.
    pub cores: f64,
    /// Where `cores` came from.
    pub cores_source: LimitSource,
    /// Memory limit memory % refers to, in bytes.
    pub memory_limit: u64,
    /// Where `memory_limit` came from.
    pub memory_source: LimitSource,
    /// Where dumps are written.
    pub dump_dir: PathBuf,
}

impl Status {
    /// The status of one metric.
    pub fn metric(&self, m: Metric) -> &MetricStatus {
        &self.metrics[m as usize]
    }
}
