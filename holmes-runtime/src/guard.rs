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

use crate::config::Builder;
use crate::dump::{Dumper, Task, Trigger};
use crate::error::{Error, Result};
use crate::rule::{evaluate, CheckInput, Decision, Metric};
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
        tasks: task_tx,
        interval: b.interval,
        cpu_max: b.cpu_max,
        logged_error: false,
    };
    let t = token();
    let sd = shutdown_rx;
    match spawn("holmes-sampler", move || {
        let _t = t;
        loop_state.run(&sd);
    }) {
        Ok(h) => threads.push(h),
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
        sh.counters.ticks.inc();
        let now = Instant::now();
        for m in Metric::ALL {
            let Some(rule) = sh.rules[m as usize].rule else {
                continue;
            };
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
