//! The `holmes-heap` thread: arms the allocator's peak trigger with the threshold the
//! sampler computed, and when it fires snapshots the heap at its peak and hands it to
//! the dumper together with a baseline taken before the spike (for `pprof -base`).
//!
//! Only this thread arms and consumes the trigger, so a fire is never cleared before
//! it is handled. It wakes a few times per interval to pick up a new threshold
//! ([`super::poll_interval`]), and refreshes its baseline only when the heap changed
//! (new samples) and is calm (not above its recent average); the allocating threads
//! never wait for it.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{Receiver, Sender, TryRecvError};

use crate::alloc;
use crate::clock::later;
use crate::dump::Job;
use crate::event::Trigger;
use crate::rule::Rule;
use crate::rule::{average, FireReason, Metric};
use crate::state::Shared;

/// The smallest heap % that would fire `rule` as the next sample, given the recent
/// samples `ring` (oldest first): it must reach `min`, and either exceed `abs` or be
/// `diff` % above the average of the ring with it replacing the oldest sample.
pub(crate) fn fire_percent(rule: &Rule, ring: &[f64]) -> f64 {
    let abs = rule.abs as f64;
    let min = rule.min as f64;
    let k = (100 + rule.diff) as f64 / 100.0;
    let n = ring.len().max(1) as f64;
    // v ≥ k·(S − oldest + v)/n  ⇔  v·(n − k) ≥ k·(S − oldest)
    let rest: f64 = ring.iter().skip(1).sum();
    let by_diff = if n > k {
        k * rest / (n - k)
    } else {
        f64::INFINITY
    };
    // Just above abs fires on abs; the allocator fires strictly above the threshold.
    min.max(by_diff.min(abs))
}

/// The heap rule's escalation mark in force, if any.
pub(crate) fn high_water(sh: &Shared, now: Instant) -> Option<f64> {
    let bits = sh.heap_high_water.load(Ordering::Relaxed);
    let until = sh.heap_high_water_until(now)?;
    (now < until).then(|| f64::from_bits(bits))
}

pub(crate) struct HeapWatcher {
    pub shared: Arc<Shared>,
    pub tasks: Sender<Job>,
}

impl HeapWatcher {
    pub fn run(self, shutdown: &Receiver<()>) {
        let sh = &self.shared;
        let mut armed = alloc::DISARMED;
        let mut base: Option<alloc::HeapSnapshot> = None;
        let mut last_base: Option<(Instant, u64)> = None;
        loop {
            if !matches!(shutdown.try_recv(), Err(TryRecvError::Empty)) {
                alloc::set_trigger(alloc::DISARMED);
                return;
            }
            let cfg = sh.config();
            let want = sh.heap_threshold.load(Ordering::Relaxed);
            if want != armed {
                alloc::set_trigger(want);
                armed = want;
            }
            if armed != alloc::DISARMED {
                // Keep a recent baseline for `pprof -base`, taken before waiting so that
                // one exists as soon as the rule is armed.
                let seen = alloc::stats();
                let moved = seen.total_sampled_allocs + seen.sampled_frees;
                let due = last_base.is_none_or(|(t, m)| t.elapsed() >= cfg.interval && m != moved);
                // Only a calm heap is a baseline: not above its recent average (else a
                // slow climb towards the threshold would end up in the baseline and
                // `pprof -base` would understate what grew).
                let avg = sh.rings[Metric::Heap as usize].snapshot().average();
                let avg_bytes = avg / 100.0 * sh.limits.memory_limit as f64;
                let calm =
                    seen.live_bytes_estimate as f64 <= avg_bytes * 1.05 + (1u64 << 20) as f64;
                if due && calm {
                    base = Some(alloc::snapshot());
                    last_base = Some((Instant::now(), moved));
                }
            }
            let Some(fired_at) = alloc::wait_trigger(super::poll_interval(&cfg)) else {
                continue;
            };
            armed = alloc::DISARMED; // the allocator disarmed itself
            let Some(rule) = cfg.rules[Metric::Heap as usize] else {
                continue;
            };
            let now = Instant::now();
            sh.heap_threshold.store(alloc::DISARMED, Ordering::Relaxed);
            if !sh.admit(Metric::Heap, &cfg, now) {
                log::info!(target: "holmes", "heap rule fired but is throttled by the dump limits");
                continue;
            }
            sh.set_cooldown_until(
                Metric::Heap,
                later(now, Shared::cooldown(&cfg, Metric::Heap)),
            );
            let peak = alloc::snapshot_peak(Duration::from_secs(1));
            let limit = sh.limits.memory_limit.max(1) as f64;
            let value = peak.inuse_space().max(fired_at) as f64 * 100.0 / limit;
            if let Some(reset) = rule.escalate {
                sh.set_heap_high_water(value, later(now, reset));
            }
            let mut ring = sh.rings[Metric::Heap as usize].snapshot().values;
            if !ring.is_empty() {
                ring.remove(0);
            }
            ring.push(value);
            let trigger = Trigger {
                id: sh.next_event.fetch_add(1, Ordering::Relaxed),
                metric: Metric::Heap,
                reason: if value > rule.abs as f64 {
                    FireReason::AboveAbs
                } else {
                    FireReason::Diff
                },
                value,
                average: average(&ring),
                ring,
                rule,
                time: SystemTime::now(),
                cascade: cfg.cascade,
            };
            let job = Job::HeapPeak {
                trigger,
                peak: Box::new(peak),
                base: base.take().map(Box::new),
            };
            sh.set_pending(Metric::Heap, true);
            if self.tasks.try_send(job).is_err() {
                sh.set_pending(Metric::Heap, false);
                sh.counters.dropped.inc();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::{evaluate, CheckInput, Decision};

    #[test]
    fn fire_percent_matches_the_evaluator() {
        let rule = Rule::new(10, 25, 80);
        for ring in [
            vec![5.0; 10],
            vec![20.0; 10],
            vec![70.0; 10],
            vec![1.0, 2.0, 30.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0],
        ] {
            let t = fire_percent(&rule, &ring);
            let check = |v: f64| {
                let mut r = ring.clone();
                r.remove(0);
                r.push(v);
                evaluate(&CheckInput {
                    rule: &rule,
                    values: &r,
                    collects: 100,
                    warmup: 10,
                    cpu_now: 0.0,
                    cpu_max: 0,
                    cooldown_until: None,
                    streak: 0,
                    high_water: None,
                    now: Instant::now(),
                })
            };
            assert!(
                matches!(check(t + 0.01), Decision::Fire(_)),
                "{ring:?}: {t} + ε must fire"
            );
            assert!(
                !matches!(check(t - 0.01), Decision::Fire(_)),
                "{ring:?}: {t} − ε must not fire"
            );
        }
    }
}
