//! Starting and stopping holmes: the `holmes-sampler` thread and the [`Guard`].
//!
//! Lifecycle (sentry's transport thread is the model): `start()` validates, prepares the
//! dump directory, detects limits and spawns two named threads. The sampler ticks every
//! interval, pushes the metrics into lock-free rings, evaluates the rules and `try_send`s
//! triggers to the dumper; it never blocks on I/O or on the dumper. Dropping the
//! [`Guard`] disconnects a shutdown channel that both threads wait on, so a sleeping
//! sampler and a running CPU capture end at once; the drop then waits at most
//! [`FLUSH_TIMEOUT`] for the dumper to write what it captured, joins, logs a worker panic
//! instead of re-raising it, and never panics itself.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TrySendError};

use crate::alloc;
use crate::config::{Builder, Rule};
use crate::dump::{Dumper, Task, Trigger};
use crate::error::{Error, Result};
use crate::rule::{average, evaluate, CheckInput, Decision, FireReason, Metric};
use crate::sample::{limits, ProcessReader, Sampler};
use crate::state::{Shared, Status};
use crate::symbol::Symbolizer;

/// How long dropping a [`Guard`] waits for an in-flight dump to be written.
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// Capacity of the sampler → dumper queue; triggers beyond it are dropped and counted.
const QUEUE: usize = 8;

/// True while a holmes instance (or its threads) runs in this process.
static RUNNING: AtomicBool = AtomicBool::new(false);

/// Entry point: `holmes::Holmes::builder()`.
#[derive(Debug)]
pub struct Holmes(());

impl Holmes {
    /// A [`Builder`] with the defaults (interval 5 s, cooldown 1 min, no rule).
    pub fn builder() -> Builder {
        Builder::default()
    }
}

/// A running holmes. Dropping it stops holmes: see the module docs of
/// [`Builder::start`]. `#[must_use]`: `let _ = builder.start()` would stop it at once.
#[must_use = "holmes stops when the Guard is dropped; bind it: `let _guard = …`"]
pub struct Guard {
    shared: Arc<Shared>,
    shutdown: Option<Sender<()>>,
    exited: Receiver<()>,
    threads: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("dump_dir", &self.shared.dump_dir)
            .finish()
    }
}

impl Guard {
    /// A snapshot of the metrics, rules and counters. Lock-free with respect to the
    /// sampler; callable from any thread.
    pub fn status(&self) -> Status {
        self.shared.status()
    }

    /// Where dumps are written.
    pub fn dump_dir(&self) -> &std::path::Path {
        &self.shared.dump_dir
    }

    fn shutdown(&mut self) {
        drop(self.shutdown.take());
        // Each thread holds a clone of the `exited` sender; all dropped = all done.
        let deadline = Instant::now() + FLUSH_TIMEOUT;
        loop {
            match self.exited.recv_deadline(deadline) {
                Ok(()) => continue,
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    log::warn!(
                        target: "holmes",
                        "holmes threads did not stop within {FLUSH_TIMEOUT:?}; leaving them to finish"
                    );
                    self.threads.clear(); // detach
                    return;
                }
            }
        }
        for t in self.threads.drain(..) {
            let name = t.thread().name().unwrap_or("holmes").to_owned();
            if t.join().is_err() {
                log::error!(target: "holmes", "thread {name} panicked");
            }
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Decrements the live-thread count when a holmes thread ends (even by panic) and frees
/// the process-wide slot when it was the last.
struct ThreadToken {
    alive: Arc<AtomicUsize>,
    _exited: Sender<()>,
}

impl Drop for ThreadToken {
    fn drop(&mut self) {
        if self.alive.fetch_sub(1, Ordering::AcqRel) == 1 {
            RUNNING.store(false, Ordering::Release);
        }
    }
}

/// Frees the process-wide slot if `start` fails before any thread took it over.
struct StartSlot(bool);

impl Drop for StartSlot {
    fn drop(&mut self) {
        if self.0 {
            RUNNING.store(false, Ordering::Release);
        }
    }
}

pub(crate) fn start(b: Builder) -> Result<Guard> {
    b.validate()?;
    if RUNNING
        .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return Err(Error::AlreadyRunning);
    }
    let mut slot = StartSlot(true);
    let writer = crate::dump::writer::DumpWriter::prepare(&b.dump_dir)?;
    let (limits, notes) = limits::detect(b.cpu_cores, b.memory_limit);
    for n in notes {
        log::warn!(target: "holmes", "{n}");
    }
    let reader = ProcessReader::new()
        .map_err(|e| Error::Config(format!("cannot read process metrics: {e}")))?;
    if b.rules[Metric::Threads as usize].is_some() && !ProcessReader::counts_threads() {
        return Err(Error::Unsupported {
            what: "the threads rule (OS thread count)",
        });
    }
    let heap_rule = b.rules[Metric::Heap as usize];
    if (heap_rule.is_some() || b.rules[Metric::Mem as usize].is_some()) && !alloc::stats().installed
    {
        return Err(Error::Config(
            "the mem and heap rules need holmes::Allocator as the global allocator \
             (`#[global_allocator] static A: holmes::Allocator = holmes::Allocator::system();`, \
             which #[holmes::watch] adds unless `allocator = false`)"
                .into(),
        ));
    }
    if let Some(rate) = b.heap_sample_rate {
        alloc::set_sample_rate(rate);
    }
    #[cfg(feature = "tokio")]
    let tokio_handle = match (&b.rules[Metric::Tasks as usize], b.tokio_handle.clone()) {
        (_, Some(h)) => Some(h),
        (Some(_), None) => Some(tokio::runtime::Handle::try_current().map_err(|_| {
            Error::Config(
                "the tasks rule needs a tokio runtime: start holmes inside one or pass .tokio_handle(handle)".into(),
            )
        })?),
        (None, None) => tokio::runtime::Handle::try_current().ok(),
    };
    let shared = Arc::new(Shared::new(&b, limits.clone(), writer.dir().to_path_buf()));
    let (shutdown_tx, shutdown_rx) = bounded::<()>(0);
    let (exited_tx, exited_rx) = bounded::<()>(0);
    let (task_tx, task_rx) = bounded::<Task>(QUEUE);
    let alive = Arc::new(AtomicUsize::new(0));
    let token = || {
        alive.fetch_add(1, Ordering::AcqRel);
        ThreadToken {
            alive: alive.clone(),
            _exited: exited_tx.clone(),
        }
    };

    let dumper = Dumper {
        writer,
        formats: b.formats.clone(),
        cpu_profile_duration: b.cpu_profile_duration,
        cores: limits.cores,
        shared: shared.clone(),
        shutdown: shutdown_rx.clone(),
        sym: Symbolizer::new(),
        #[cfg(feature = "tokio")]
        tokio_handle: tokio_handle.clone(),
    };
    let mut threads = Vec::new();
    let t = token();
    threads.push(spawn("holmes-dumper", move || {
        let _t = t;
        dumper.run(task_rx);
    })?);
    slot.0 = false; // a live thread now owns the slot

    let sampler = Sampler::new(reader, limits.cores, limits.memory_limit);
    let loop_state = SamplerLoop {
        shared: shared.clone(),
        sampler,
        tasks: task_tx.clone(),
        interval: b.interval,
        cpu_max: b.cpu_max,
        logged_error: false,
        #[cfg(feature = "tokio")]
        tokio_handle,
    };
    let t = token();
    let sd = shutdown_rx.clone();
    let mut spawned = spawn("holmes-sampler", move || {
        let _t = t;
        loop_state.run(&sd);
    })
    .map(|h| threads.push(h));
    if spawned.is_ok() && heap_rule.is_some() {
        let t = token();
        let watcher = HeapWatcher {
            shared: shared.clone(),
            tasks: task_tx,
            baseline_every: b.interval,
        };
        spawned = spawn("holmes-heap", move || {
            let _t = t;
            watcher.run(&shutdown_rx);
        })
        .map(|h| threads.push(h));
    }
    match spawned {
        Ok(()) => {}
        Err(e) => {
            // Stop the dumper we already started.
            drop(shutdown_tx);
            drop(exited_tx);
            for t in threads {
                let _ = t.join();
            }
            return Err(e);
        }
    }
    drop(exited_tx);
    log::info!(
        target: "holmes",
        "holmes started: interval {:?}, {:.2} cores ({}), memory limit {} MiB ({}), dumps in {}",
        b.interval,
        limits.cores,
        limits.cores_source,
        limits.memory_limit >> 20,
        limits.memory_source,
        shared.dump_dir.display()
    );
    Ok(Guard {
        shared,
        shutdown: Some(shutdown_tx),
        exited: exited_rx,
        threads,
    })
}

fn spawn(name: &'static str, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            if let Err(p) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
                let msg = p
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| p.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                log::error!(target: "holmes", "{name} panicked: {msg}; holmes stops watching");
            }
        })
        .map_err(|source| Error::Spawn { name, source })
}

struct SamplerLoop {
    shared: Arc<Shared>,
    sampler: Sampler,
    tasks: Sender<Task>,
    interval: Duration,
    cpu_max: u64,
    logged_error: bool,
    #[cfg(feature = "tokio")]
    tokio_handle: Option<tokio::runtime::Handle>,
}

impl SamplerLoop {
    fn run(mut self, shutdown: &Receiver<()>) {
        if let Err(e) = self.sampler.rebase() {
            log::warn!(target: "holmes", "cannot read process metrics: {e}");
        }
        let mut next = Instant::now() + self.interval;
        loop {
            match shutdown.recv_deadline(next) {
                Err(RecvTimeoutError::Timeout) => {}
                _ => return,
            }
            self.tick();
            next += self.interval;
            let now = Instant::now();
            if next < now {
                // Fell behind (suspended process): skip the missed ticks.
                next = now + self.interval;
            }
        }
    }

    /// Computes the live-heap bytes above which the heap rule would fire on its next
    /// check, for the allocator to watch between ticks: disarmed while warming up,
    /// cooling down or above `cpu_max`.
    fn update_heap_threshold(&self, cpu_now: f64, now: Instant) {
        let sh = &self.shared;
        let Some(rule) = sh.rules[Metric::Heap as usize].rule else {
            return;
        };
        let ring = &sh.rings[Metric::Heap as usize];
        let snap = ring.snapshot();
        let quiet = (snap.pushes as usize) < ring.size()
            || (self.cpu_max != 0 && cpu_now >= self.cpu_max as f64)
            || sh.cooldown_until(Metric::Heap).is_some_and(|u| now < u);
        let bytes = if quiet {
            alloc::DISARMED
        } else {
            let pct = heap_fire_percent(&rule, &snap.values);
            (pct / 100.0 * sh.limits.memory_limit as f64) as u64
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
        let sh = &self.shared;
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
        for m in Metric::ALL {
            let Some(rule) = sh.rules[m as usize].rule else {
                continue;
            };
            if m == Metric::Heap {
                continue; // checked on the allocator's sampling path (HeapWatcher)
            }
            let snap = sh.rings[m as usize].snapshot();
            let decision = evaluate(&CheckInput {
                rule: &rule,
                values: &snap.values,
                collects: snap.pushes,
                warmup: sh.rings[m as usize].size() as u64,
                cpu_now: s.cpu_percent,
                cpu_max: self.cpu_max,
                cooldown_until: sh.cooldown_until(m),
                now,
            });
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
            let trigger = Trigger {
                id: sh.next_event.fetch_add(1, Ordering::Relaxed),
                metric: m,
                reason,
                value: snap.current().unwrap_or(0.0),
                average: snap.average(),
                ring: snap.values,
                rule,
                time: SystemTime::now(),
            };
            match self.tasks.try_send(Task::Dump(trigger)) {
                Ok(()) => sh.set_cooldown_until(m, now + sh.rules[m as usize].cooldown),
                // No cooldown: the rule may fire again next tick (as a failed start in Go).
                Err(TrySendError::Full(_)) => sh.counters.dropped.inc(),
                Err(TrySendError::Disconnected(_)) => return,
            }
        }
    }
}

/// The smallest heap % that would fire `rule` as the next sample, given the recent
/// samples `ring` (oldest first): it must reach `min`, and either exceed `abs` or be
/// `diff` % above the average of the ring with it replacing the oldest sample.
pub(crate) fn heap_fire_percent(rule: &Rule, ring: &[f64]) -> f64 {
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

/// Waits on the allocator's peak trigger and turns a fire into a heap dump, with the
/// baseline it keeps refreshing while the heap is calm.
struct HeapWatcher {
    shared: Arc<Shared>,
    tasks: Sender<Task>,
    baseline_every: Duration,
}

impl HeapWatcher {
    fn run(self, shutdown: &Receiver<()>) {
        let sh = &self.shared;
        let Some(rule) = sh.rules[Metric::Heap as usize].rule else {
            return;
        };
        let cooldown = sh.rules[Metric::Heap as usize].cooldown;
        let mut armed = alloc::DISARMED;
        let mut base: Option<alloc::HeapSnapshot> = None;
        let mut last_base = Instant::now() - self.baseline_every;
        loop {
            if !matches!(
                shutdown.try_recv(),
                Err(crossbeam_channel::TryRecvError::Empty)
            ) {
                alloc::set_trigger(alloc::DISARMED);
                return;
            }
            let want = sh.heap_threshold.load(Ordering::Relaxed);
            if want != armed {
                alloc::set_trigger(want);
                armed = want;
            }
            let Some(fired_at) = alloc::wait_trigger(Duration::from_millis(50)) else {
                if armed != alloc::DISARMED && last_base.elapsed() >= self.baseline_every {
                    base = Some(alloc::snapshot());
                    last_base = Instant::now();
                }
                continue;
            };
            armed = alloc::DISARMED; // the allocator disarmed itself
            let now = Instant::now();
            sh.set_cooldown_until(Metric::Heap, now + cooldown);
            sh.heap_threshold.store(alloc::DISARMED, Ordering::Relaxed);
            let peak = alloc::snapshot_peak(Duration::from_secs(1));
            let limit = sh.limits.memory_limit.max(1) as f64;
            let value = peak.inuse_space().max(fired_at) as f64 * 100.0 / limit;
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
            };
            let task = Task::HeapPeak {
                trigger,
                peak,
                base: base.take(),
            };
            if self.tasks.try_send(task).is_err() {
                sh.counters.dropped.inc();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heap_fire_percent_matches_the_evaluator() {
        let rule = Rule::new(10, 25, 80);
        for ring in [
            vec![5.0; 10],
            vec![20.0; 10],
            vec![70.0; 10],
            vec![1.0, 2.0, 30.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0],
        ] {
            let t = heap_fire_percent(&rule, &ring);
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
