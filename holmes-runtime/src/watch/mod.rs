//! The `holmes-sampler` thread: every interval it samples the process, pushes the
//! metrics into the lock-free rings, checks each rule ([`crate::rule::evaluate`]) with
//! the trigger hygiene around it (sustain, escalation, dump limits) and hands triggers
//! to the dumper with `try_send` — it never waits on the dumper, on I/O or on a lock
//! (the configuration is read with `try_lock`; an update applies from the next tick).
//!
//! The `heap` rule is different: it is checked on the allocator's sampling path. The
//! sampler only computes, each tick, the live-heap size that would fire it, and the heap
//! watcher ([`heap`]) arms it in the allocator and turns a fire into a dump.
//!
//! No arithmetic here can panic: every instant is computed with
//! [`crate::clock::later`], which saturates, and the durations added are bounded at
//! `start()`/`update()` ([`crate::bounds`]).

pub(crate) mod heap;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};

use crate::alloc;
use crate::clock::later;
use crate::config::Builder;
use crate::dump::Job;
use crate::event::Trigger;
use crate::rule::{evaluate, CheckInput, Decision, Metric};
use crate::sample::Sampler;
use crate::state::Shared;

pub(crate) struct SamplerLoop {
    pub shared: Arc<Shared>,
    pub sampler: Sampler,
    pub tasks: Sender<Job>,
    pub cfg: Arc<Builder>,
    pub logged_error: bool,
    pub streaks: [u32; Metric::COUNT],
    pub high_water: [Option<(f64, Instant)>; Metric::COUNT],
    #[cfg(feature = "tokio")]
    pub tokio_handle: Option<tokio::runtime::Handle>,
}

impl SamplerLoop {
    pub fn new(shared: Arc<Shared>, sampler: Sampler, tasks: Sender<Job>) -> SamplerLoop {
        let cfg = shared.config();
        SamplerLoop {
            shared,
            sampler,
            tasks,
            cfg,
            logged_error: false,
            streaks: [0; Metric::COUNT],
            high_water: [None; Metric::COUNT],
            #[cfg(feature = "tokio")]
            tokio_handle: None,
        }
    }

    pub fn run(mut self, shutdown: &Receiver<()>) {
        if let Err(e) = self.sampler.rebase() {
            log::warn!(target: "holmes", "cannot read process metrics: {e}");
        }
        let mut next = later(Instant::now(), self.cfg.interval);
        loop {
            match shutdown.recv_deadline(next) {
                Err(RecvTimeoutError::Timeout) => {}
                _ => return,
            }
            let interval = self.cfg.interval;
            self.refresh_config();
            self.tick();
            // The allocator's walks cannot prepare unwind tables themselves: register
            // objects `dlopen`ed since (two counters of the C library, read each tick).
            #[cfg(linux_stack_walk)]
            if crate::stack::uses_dwarf() && crate::stack::dwarf::is_stale() {
                crate::stack::dwarf::prepare();
            }
            next = if self.cfg.interval != interval {
                later(Instant::now(), self.cfg.interval)
            } else {
                later(next, interval)
            };
            let now = Instant::now();
            if next < now {
                // Fell behind (suspended process): skip the missed ticks.
                next = later(now, self.cfg.interval);
            }
        }
    }

    /// Picks up a configuration replaced by `Guard::update`, without ever waiting.
    fn refresh_config(&mut self) {
        let Ok(cfg) = self.shared.config.try_lock() else {
            return;
        };
        if Arc::ptr_eq(&cfg, &self.cfg) {
            return;
        }
        self.cfg = cfg.clone();
        drop(cfg);
        self.streaks = [0; Metric::COUNT];
        log::info!(target: "holmes", "configuration updated: interval {:?}", self.cfg.interval);
    }

    /// Computes the live-heap bytes above which the heap rule would fire on its next
    /// check, for the allocator to watch between ticks: disarmed while warming up,
    /// cooling down, throttled or above `cpu_max`.
    fn update_heap_threshold(&self, cpu_now: f64, now: Instant) {
        let sh = &self.shared;
        let cfg = &self.cfg;
        let bytes = match cfg.rules[Metric::Heap as usize] {
            None => alloc::DISARMED,
            Some(rule) => {
                let ring = &sh.rings[Metric::Heap as usize];
                let snap = ring.snapshot();
                let slot = &sh.rules[Metric::Heap as usize];
                let quiet = (snap.pushes as usize) < ring.size()
                    || (cfg.cpu_max != 0 && cpu_now >= cfg.cpu_max as f64)
                    || sh.cooldown_until(Metric::Heap).is_some_and(|u| now < u)
                    || slot
                        .throttled_until_instant(sh.epoch)
                        .is_some_and(|u| now < u);
                if quiet {
                    alloc::DISARMED
                } else {
                    let mut pct = heap::fire_percent(&rule, &snap.values);
                    if let Some(mark) = heap::high_water(sh, now) {
                        pct = pct.max(mark);
                    }
                    (pct / 100.0 * sh.limits.memory_limit as f64) as u64
                }
            }
        };
        sh.heap_threshold.store(bytes, Ordering::Relaxed);
    }

    fn tick(&mut self) {
        let s = match self.sampler.sample() {
            Ok(s) => s,
            Err(e) => {
                self.shared.counters.sample_errors.inc();
                if !std::mem::replace(&mut self.logged_error, true) {
                    log::warn!(target: "holmes", "cannot read process metrics: {e} (retrying every tick)");
                }
                return;
            }
        };
        let sh = self.shared.clone();
        sh.rings[Metric::Cpu as usize].push(s.cpu_percent);
        sh.rings[Metric::Mem as usize].push(s.mem_percent);
        sh.rings[Metric::Threads as usize].push(s.threads);
        let heap = alloc::stats();
        let heap_percent = if heap.installed {
            heap.live_bytes_estimate as f64 * 100.0 / sh.limits.memory_limit.max(1) as f64
        } else {
            0.0
        };
        sh.rings[Metric::Heap as usize].push(heap_percent);
        #[cfg(feature = "tokio")]
        if let Some(h) = &self.tokio_handle {
            sh.rings[Metric::Tasks as usize].push(crate::dump::tasks::alive_tasks(h) as f64);
        }
        sh.counters.ticks.inc();
        let now = Instant::now();
        self.update_heap_threshold(s.cpu_percent, now);
        let cfg = self.cfg.clone();
        for m in Metric::ALL {
            let Some(rule) = cfg.rules[m as usize] else {
                self.streaks[m as usize] = 0;
                continue;
            };
            if m == Metric::Heap {
                continue; // checked on the allocator's sampling path (heap watcher)
            }
            let snap = sh.rings[m as usize].snapshot();
            let high_water = self.high_water[m as usize]
                .filter(|(_, until)| now < *until)
                .map(|(v, _)| v);
            let decision = evaluate(&CheckInput {
                rule: &rule,
                values: &snap.values,
                collects: snap.pushes,
                warmup: sh.rings[m as usize].size() as u64,
                cpu_now: s.cpu_percent,
                cpu_max: cfg.cpu_max,
                cooldown_until: sh.cooldown_until(m),
                streak: self.streaks[m as usize],
                high_water,
                now,
            });
            self.streaks[m as usize] = if decision.matched() {
                self.streaks[m as usize] + 1
            } else {
                0
            };
            log::debug!(
                target: "holmes",
                "[holmes] {} {}, config_min : {}, config_diff : {}, config_abs : {}, config_max : {}, previous : {:?}, current: {:.2} ({})",
                if matches!(decision, Decision::Fire(_)) { "pprof" } else { "NODUMP" },
                m,
                rule.min,
                rule.diff,
                rule.abs,
                rule.max,
                snap.values.iter().map(|v| (v * 100.0).round() / 100.0).collect::<Vec<_>>(),
                snap.current().unwrap_or(0.0),
                decision.describe(),
            );
            let Decision::Fire(reason) = decision else {
                continue;
            };
            self.streaks[m as usize] = 0;
            if sh.pending(m) {
                log::debug!(target: "holmes", "{m} rule matched while its previous dump is still being taken");
                continue;
            }
            if !sh.admit(m, &cfg, now) {
                log::info!(target: "holmes", "{m} rule fired but is throttled by the dump limits");
                continue;
            }
            let value = snap.current().unwrap_or(0.0);
            let trigger = Trigger {
                id: sh.next_event.fetch_add(1, Ordering::Relaxed),
                metric: m,
                reason,
                value,
                average: snap.average(),
                ring: snap.values,
                rule,
                time: SystemTime::now(),
                cascade: cfg.cascade,
            };
            sh.set_pending(m, true);
            match self.tasks.try_send(Job::Dump(trigger)) {
                Ok(()) => {
                    sh.set_cooldown_until(m, later(now, Shared::cooldown(&cfg, m)));
                    if let Some(reset) = rule.escalate {
                        self.high_water[m as usize] = Some((value, later(now, reset)));
                    }
                }
                // No cooldown: the rule may fire again next tick (as a failed start in Go).
                Err(TrySendError::Full(_)) => {
                    sh.set_pending(m, false);
                    sh.counters.dropped.inc();
                }
                Err(TrySendError::Disconnected(_)) => return,
            }
        }
    }
}

/// How often the heap watcher looks for a new threshold: a quarter of the interval
/// (thresholds change once per tick), between 50 ms and 1 s; 1 s without a heap rule.
pub(crate) fn poll_interval(cfg: &Builder) -> Duration {
    if cfg.rules[Metric::Heap as usize].is_some() {
        (cfg.interval / 4).clamp(Duration::from_millis(50), Duration::from_secs(1))
    } else {
        Duration::from_secs(1)
    }
}
