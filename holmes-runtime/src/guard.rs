//! Starting and stopping holmes: the `holmes-sampler` thread, the [`Guard`] and its [`Handle`].
//!
//! Lifecycle (sentry's transport thread is the model): `start()` validates, prepares the
//! dump directory, detects limits and spawns two named threads. The sampler ticks every
//! interval, pushes the metrics into lock-free rings, evaluates the rules and `try_send`s
//! triggers to the dumper; it never blocks on I/O or on the dumper. Dropping the
//! [`Guard`] disconnects a shutdown channel that both threads wait on, so a sleeping
//! sampler and a running CPU capture end at once; the drop then waits at most
//! [`FLUSH_TIMEOUT`] for the dumper to write what it captured, joins, logs a worker panic
//! instead of re-raising it, and never panics itself.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TrySendError};

use crate::alloc;
use crate::config::Builder;
use crate::dump::{Dumper, Job, Trigger};
use crate::error::{Error, Result};
use crate::escape::{Escaped, EscapedPath};
use crate::event::{DumpEvent, DumpKind};
use crate::rule::Metric;
use crate::sample::{limits, ProcessReader, Sampler};
use crate::state::{Shared, Status};
use crate::symbol::Symbolizer;
use crate::watch::heap::HeapWatcher;
use crate::watch::SamplerLoop;

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
///
/// Its methods are those of its [`Handle`] (`guard.handle()`, or [`Handle::current`]
/// where the guard is out of reach, as with `#[holmes::watch]`).
#[must_use = "holmes stops when the Guard is dropped; bind it: `let _guard = …`"]
pub struct Guard {
    handle: Handle,
    shutdown: Option<Sender<()>>,
    exited: Option<Receiver<()>>,
    threads: Vec<JoinHandle<()>>,
    /// The process that started holmes: in the child of a `fork()` the guard is inert.
    pid: u32,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("dump_dir", &self.handle.shared.dump_dir)
            .finish()
    }
}

/// A reference to the running holmes, to read its [`Status`], change its configuration
/// or take a dump now; cheap to clone, `Send` and `Sync`. From the [`Guard`]
/// ([`Guard::handle`]) or, anywhere in the program, [`Handle::current`]: the way to
/// reach the holmes that `#[holmes::watch]` started.
///
/// A handle does not keep holmes running: once the guard is dropped, [`dump_now`]
/// returns [`Error::NotRunning`] and [`current`] returns `None`.
///
/// [`dump_now`]: Handle::dump_now
/// [`current`]: Handle::current
#[derive(Clone)]
pub struct Handle {
    shared: Arc<Shared>,
    jobs: Sender<Job>,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("dump_dir", &self.shared.dump_dir)
            .finish()
    }
}

/// The running holmes' handle, for [`Handle::current`]. Locked only to set, clear or
/// clone it: never on the sampler's or the allocator's path.
static CURRENT: Mutex<Option<Handle>> = Mutex::new(None);
/// The process that set [`CURRENT`]: in the child of a `fork()` it is not this one, and
/// `current()` answers `None` without touching the lock (held, maybe, by a thread that
/// the fork did not copy).
static CURRENT_PID: AtomicU32 = AtomicU32::new(0);

fn set_current(h: Option<Handle>) {
    let mut c = match CURRENT.lock() {
        Ok(c) => c,
        Err(p) => p.into_inner(),
    };
    CURRENT_PID.store(
        if h.is_some() { std::process::id() } else { 0 },
        Ordering::Release,
    );
    *c = h;
}

impl Handle {
    /// The holmes running in this process, if any: the one `#[holmes::watch]` or
    /// [`Builder::start`] started.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), holmes_runtime::Error> {
    /// // Anywhere in the program, e.g. an admin endpoint's handler:
    /// if let Some(h) = holmes_runtime::Handle::current() {
    ///     let event = h.dump_now(holmes_runtime::DumpKind::Threads)?;
    ///     println!("written: {:?}", event.files);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn current() -> Option<Handle> {
        if CURRENT_PID.load(Ordering::Acquire) != std::process::id() {
            return None;
        }
        match CURRENT.lock() {
            Ok(c) => c.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// A snapshot of the metrics, rules and counters. Lock-free with respect to the
    /// sampler; callable from any thread.
    pub fn status(&self) -> Status {
        self.shared.status()
    }

    /// Where dumps are written.
    pub fn dump_dir(&self) -> &std::path::Path {
        &self.shared.dump_dir
    }

    /// The configuration in force, to change and pass to [`update`](Self::update).
    pub fn config(&self) -> Builder {
        (*self.shared.config()).clone()
    }

    /// Replaces the configuration of the running holmes (interval, rules, thresholds,
    /// cooldowns, limits, formats, retention) without a restart. It applies from the
    /// next tick; rule states (cooldowns, rings) are kept. Never blocks on the sampler.
    ///
    /// Fails, changing nothing, on an invalid configuration or when it changes what is
    /// fixed at start: the dump directory, the ring size, the memory limit and cores
    /// overrides, the tokio handle.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), holmes_runtime::Error> {
    /// let guard = holmes_runtime::Holmes::builder().cpu(holmes_runtime::Rule::new(10, 25, 80)).start()?;
    /// guard.update(guard.config().cpu(holmes_runtime::Rule::new(20, 50, 90)))?;
    /// # Ok(()) }
    /// ```
    pub fn update(&self, new: Builder) -> Result<()> {
        update(&self.shared, new)
    }

    /// Takes a `kind` dump now, through holmes' pipeline: the configured formats
    /// written to the dump directory, retention, the reporters, the log line, with the
    /// reason [`FireReason::OnDemand`](crate::FireReason). Rules, cooldowns and dump
    /// limits are neither consulted nor changed. Returns the dump's event (its files,
    /// its culprit).
    ///
    /// Blocks until the dump is written: for a CPU dump the configured
    /// `cpu_profile_duration`, and behind any dump holmes is taking. From async code call
    /// it on a blocking thread (`tokio::task::spawn_blocking`). For a profile in memory
    /// instead, see [`profile_cpu`](crate::profile_cpu) and its siblings.
    ///
    /// Fails with [`Error::Busy`] when the dumper's queue is full, [`Error::NotRunning`]
    /// after the guard was dropped, [`Error::DumpFailed`] when the capture failed or no
    /// file was written.
    pub fn dump_now(&self, kind: DumpKind) -> Result<DumpEvent> {
        let metric = kind.metric();
        if kind == DumpKind::Heap && !alloc::stats().installed {
            return Err(Error::DumpFailed {
                kind: kind.name(),
                reason: crate::ProfileError::NoAllocator.to_string(),
            });
        }
        let cfg = self.shared.config();
        let snap = self.shared.rings[metric as usize].snapshot();
        let trigger = Trigger {
            id: self.shared.next_event.fetch_add(1, Ordering::Relaxed),
            metric,
            reason: crate::rule::FireReason::OnDemand,
            value: snap.current().unwrap_or(0.0),
            average: snap.average(),
            ring: snap.values,
            rule: cfg.rules[metric as usize].unwrap_or(crate::Rule::new(0, 0, 0)),
            time: SystemTime::now(),
            cascade: false,
        };
        let (reply, answer) = bounded(1);
        self.jobs
            .try_send(Job::OnDemand {
                kind,
                trigger,
                reply,
            })
            .map_err(|e| match e {
                TrySendError::Full(_) => Error::Busy,
                TrySendError::Disconnected(_) => Error::NotRunning,
            })?;
        // The dumper answers every job it takes; this bound only guards against a
        // capture stuck beyond all of holmes' own timeouts.
        let wait = cfg.cpu_profile_duration + Duration::from_secs(120);
        let event = match answer.recv_timeout(wait) {
            Ok(e) => e,
            Err(RecvTimeoutError::Disconnected) => return Err(Error::NotRunning),
            Err(RecvTimeoutError::Timeout) => {
                return Err(Error::DumpFailed {
                    kind: kind.name(),
                    reason: format!("no answer from the holmes-dumper thread within {wait:?}"),
                })
            }
        };
        match &event.error {
            Some(e) if event.files.is_empty() => Err(Error::DumpFailed {
                kind: kind.name(),
                reason: e.clone(),
            }),
            _ => Ok(event),
        }
    }
}

impl Guard {
    /// A [`Handle`] to this holmes, to pass to other threads.
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// See [`Handle::status`].
    pub fn status(&self) -> Status {
        self.handle.status()
    }

    /// See [`Handle::dump_dir`].
    pub fn dump_dir(&self) -> &std::path::Path {
        self.handle.dump_dir()
    }

    /// See [`Handle::config`].
    pub fn config(&self) -> Builder {
        self.handle.config()
    }

    /// See [`Handle::update`].
    pub fn update(&self, new: Builder) -> Result<()> {
        self.handle.update(new)
    }

    /// See [`Handle::dump_now`].
    pub fn dump_now(&self, kind: DumpKind) -> Result<DumpEvent> {
        self.handle.dump_now(kind)
    }

    fn shutdown(&mut self) {
        if std::process::id() != self.pid {
            // The child of a fork: holmes' threads were not copied, and a lock inside
            // these channels may have been held by one of them at the fork. Touch
            // nothing (a one-time leak in the child); the Arc keeps one count so the
            // shared state is never dropped here either.
            std::mem::forget(self.shutdown.take());
            std::mem::forget(self.exited.take());
            std::mem::forget(std::mem::take(&mut self.threads));
            std::mem::forget(self.handle.clone());
            return;
        }
        set_current(None);
        drop(self.shutdown.take());
        let Some(exited) = self.exited.take() else {
            return;
        };
        // Each thread holds a clone of the `exited` sender; all dropped = all done.
        let deadline = Instant::now() + FLUSH_TIMEOUT;
        loop {
            // The heap watcher sleeps on the allocator's trigger, not on the shutdown
            // channel: wake it, again every few ms in case it was not asleep yet.
            alloc::poke_trigger_waiter();
            let wake = deadline.min(Instant::now() + Duration::from_millis(10));
            match exited.recv_deadline(wake) {
                Ok(()) => continue,
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) if Instant::now() < deadline => continue,
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
        // The dumper is gone, so the queue has one owner left: deliver what is queued.
        let queue = self
            .handle
            .shared
            .reports
            .lock()
            .ok()
            .and_then(|mut q| q.take());
        if let Some(q) = queue.and_then(|q| Arc::try_unwrap(q).ok()) {
            q.shutdown(FLUSH_TIMEOUT);
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// [`Handle::update`].
fn update(shared: &Shared, new: Builder) -> Result<()> {
    new.validate()?;
    let cur = shared.config();
    let fixed = |what: &str| {
        Err(Error::Config(format!(
            "{what} is fixed at start; drop the guard and start again"
        )))
    };
    if new.dump_dir != cur.dump_dir {
        return fixed("dump_dir");
    }
    if new.ring_size != cur.ring_size {
        return fixed("ring_size");
    }
    if new.memory_limit != cur.memory_limit || new.cpu_cores != cur.cpu_cores {
        return fixed("memory_limit / cpu_cores");
    }
    if new.stack_walk != cur.stack_walk {
        return fixed("stack_walk");
    }
    #[cfg(feature = "tokio")]
    if new.rules[Metric::Tasks as usize].is_some()
        && cur.tokio_handle.is_none()
        && new.tokio_handle.is_none()
    {
        return Err(Error::Config(
            "the tasks rule needs a tokio runtime handle given at start".into(),
        ));
    }
    check_supported(&new)?;
    if let Some(rate) = new.heap_sample_rate {
        alloc::set_sample_rate(rate);
    }
    let new = Arc::new(new);
    match shared.config.lock() {
        Ok(mut c) => *c = new,
        Err(p) => *p.into_inner() = new,
    }
    Ok(())
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

/// Frees the one-instance slot in the child of a `fork()`, where no holmes thread runs
/// (see `crate::fork`). Async-signal-safe: one atomic store.
pub(crate) fn reset_after_fork() {
    RUNNING.store(false, Ordering::Release);
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

impl Builder {
    /// Starts holmes: validates the configuration, prepares the dump directory and
    /// spawns the `holmes-sampler` and `holmes-dumper` threads.
    ///
    /// Fails on a bad configuration ([`Error::Config`], [`Error::Setting`] for a value
    /// outside its [`bounds`](crate::bounds)), a dump directory that cannot be created or written or
    /// is not trusted ([`Error::UntrustedDumpDir`]), or when holmes already runs in
    /// this process.
    pub fn start(self) -> Result<Guard> {
        start(self)
    }
}

pub(crate) fn start(b: Builder) -> Result<Guard> {
    let b = if b.env_overrides {
        let (b, warnings) = b.apply_env(|k| std::env::var(k).ok());
        for w in warnings {
            log::warn!(target: "holmes", "{}", Escaped(&w));
        }
        b.ok_or(Error::Disabled)?
    } else {
        b
    };
    b.validate()?;
    crate::fork::on_fork_child(reset_after_fork);
    crate::fork::on_fork_child(crate::alloc::disarm_trigger_after_fork);
    #[cfg(target_os = "linux")]
    crate::fork::on_fork_child(crate::dump::cpu::reset_after_fork);
    crate::fork::on_fork_child(crate::dump::threads::reset_after_fork);
    #[cfg(not(target_os = "linux"))]
    crate::fork::on_fork_child(crate::symbol::reset_after_fork);
    if RUNNING
        .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return Err(Error::AlreadyRunning);
    }
    let mut slot = StartSlot(true);
    let writer = crate::dump::writer::DumpWriter::prepare(&b.dump_dir)?;
    let stale = writer.remove_stale_tmp();
    if stale > 0 {
        log::info!(target: "holmes", "removed {stale} temporary files left by a crashed process");
    }
    let (limits, notes) = limits::detect(b.cpu_cores, b.memory_limit);
    for n in notes {
        log::warn!(target: "holmes", "{}", Escaped(&n));
    }
    let reader = ProcessReader::new()
        .map_err(|e| Error::Config(format!("cannot read process metrics: {e}")))?;
    check_supported(&b)?;
    // The walker first: setting the sample rate picks `auto` if none was chosen.
    let walker = crate::stack::choose(b.stack_walk);
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
    let interval = b.interval;
    let reporters: Vec<_> = b.reporters.iter().filter_map(|r| r.take()).collect();
    let reports = if reporters.is_empty() {
        None
    } else {
        Some(Arc::new(
            crate::report::ReportQueue::start(reporters, b.report_queue).map_err(|source| {
                Error::Spawn {
                    name: "holmes-reporter",
                    source,
                }
            })?,
        ))
    };
    let shared = Arc::new(Shared::new(b, limits.clone(), writer.dir().to_path_buf()));
    if let Ok(mut r) = shared.reports.lock() {
        r.clone_from(&reports);
    }
    let (shutdown_tx, shutdown_rx) = bounded::<()>(0);
    let (exited_tx, exited_rx) = bounded::<()>(0);
    let (task_tx, task_rx) = bounded::<Job>(QUEUE);
    let alive = Arc::new(AtomicUsize::new(0));
    let token = || {
        alive.fetch_add(1, Ordering::AcqRel);
        ThreadToken {
            alive: alive.clone(),
            _exited: exited_tx.clone(),
        }
    };

    let (warm_tx, warming) = bounded::<()>(0);
    let dumper = Dumper {
        writer,
        cores: limits.cores,
        shared: shared.clone(),
        shutdown: shutdown_rx.clone(),
        sym: Symbolizer::new(),
        reports,
        #[cfg(feature = "tokio")]
        tokio_handle: tokio_handle.clone(),
        warming: Some(warming),
    };
    let mut threads = Vec::new();
    // Not a holmes thread that shutdown waits for: it only fills process-wide caches.
    // If it cannot be spawned, `warm_tx` is dropped here and the dumper does not wait.
    if let Err(e) = spawn("holmes-warmup", move || {
        crate::dump::warm_up();
        drop(warm_tx);
    }) {
        log::warn!(target: "holmes", "{e}; the first dump loads debug info itself");
    }
    let t = token();
    threads.push(spawn("holmes-dumper", move || {
        let _t = t;
        dumper.run(task_rx);
    })?);
    slot.0 = false; // a live thread now owns the slot

    let sampler = Sampler::new(reader, limits.cores, limits.memory_limit);
    #[allow(unused_mut)]
    let mut loop_state = SamplerLoop::new(shared.clone(), sampler, task_tx.clone());
    let jobs_tx = task_tx.clone();
    #[cfg(feature = "tokio")]
    {
        loop_state.tokio_handle = tokio_handle;
    }
    let t = token();
    let sd = shutdown_rx.clone();
    let mut spawned = spawn("holmes-sampler", move || {
        let _t = t;
        loop_state.run(&sd);
    })
    .map(|h| threads.push(h));
    if spawned.is_ok() && alloc::stats().installed {
        let t = token();
        let watcher = HeapWatcher {
            shared: shared.clone(),
            tasks: task_tx,
        };
        spawned = spawn("holmes-heap", move || {
            let _t = t;
            watcher.run(&shutdown_rx);
        })
        .map(|h| threads.push(h));
    }
    if let Err(e) = spawned {
        // Stop the threads already started.
        drop(shutdown_tx);
        drop(exited_tx);
        for t in threads {
            let _ = t.join();
        }
        return Err(e);
    }
    drop(exited_tx);
    log::info!(
        target: "holmes",
        "holmes started: interval {:?}, {:.2} cores ({}), memory limit {} MiB ({}), stacks by {}, dumps in {}",
        interval,
        limits.cores,
        limits.cores_source,
        limits.memory_limit >> 20,
        limits.memory_source,
        crate::stack::walker_name(walker),
        EscapedPath(&shared.dump_dir)
    );
    let handle = Handle {
        shared,
        jobs: jobs_tx,
    };
    set_current(Some(handle.clone()));
    Ok(Guard {
        handle,
        shutdown: Some(shutdown_tx),
        exited: Some(exited_rx),
        threads,
        pid: std::process::id(),
    })
}

/// Rejects rules this process or platform cannot serve.
fn check_supported(b: &Builder) -> Result<()> {
    if b.rules[Metric::Threads as usize].is_some() && !ProcessReader::counts_threads() {
        return Err(Error::Unsupported {
            what: "the threads rule (OS thread count)",
        });
    }
    let heap_rules =
        b.rules[Metric::Heap as usize].is_some() || b.rules[Metric::Mem as usize].is_some();
    if heap_rules && !alloc::stats().installed {
        return Err(Error::Config(
            "the mem and heap rules need holmes::Allocator as the global allocator \
             (`#[global_allocator] static A: holmes::Allocator = holmes::Allocator::system();`, \
             which #[holmes::watch] adds unless `allocator = false`)"
                .into(),
        ));
    }
    Ok(())
}

fn spawn(name: &'static str, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            // holmes' own memory (symbol cache, buffers) is not the service's heap.
            crate::alloc::exclude_current_thread();
            if let Err(p) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
                let msg = p
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| p.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                log::error!(target: "holmes", "{name} panicked: {}; holmes stops watching", Escaped(&msg));
            }
        })
        .map_err(|source| Error::Spawn { name, source })
}

/// Serializes the unit tests that start holmes (one instance per process).
#[cfg(test)]
pub(crate) fn test_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_now_writes_through_the_pipeline_and_current_reaches_it() {
        let _serial = test_lock();
        assert!(Handle::current().is_none());
        let dir = std::env::temp_dir().join(format!("holmes-dump-now-{}", std::process::id()));
        let guard = Holmes::builder()
            .env_overrides(false)
            .interval(Duration::from_millis(20))
            .dump_dir(&dir)
            .cpu(crate::Rule::new(10, 25, 80))
            .start()
            .expect("start");
        let handle = Handle::current().expect("the running holmes");
        assert_eq!(handle.dump_dir(), guard.dump_dir());
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let parked = std::thread::Builder::new()
            .name("parked-dump-now".into())
            .spawn(move || {
                let _ = rx.recv();
            })
            .expect("spawn");
        let event = handle.dump_now(DumpKind::Threads).expect("dump now");
        drop(tx);
        let _ = parked.join();
        assert_eq!(event.reason, crate::rule::FireReason::OnDemand);
        assert_eq!(event.kind, DumpKind::Threads);
        assert!(!event.files.is_empty(), "{event}");
        let txt = event
            .files
            .iter()
            .find(|f| f.extension().is_some_and(|e| e == "txt"))
            .expect("a text file");
        let text = std::fs::read_to_string(txt).expect("read");
        assert!(text.contains("reason: on demand"), "{text}");
        assert!(text.contains("parked-dump-now"), "{text}");
        assert!(!text.contains("\nrule:"), "{text}");
        // Not the rule's last dump: that is for dumps a rule took.
        assert!(guard.status().metric(Metric::Threads).last_dump.is_none());
        drop(guard);
        assert!(Handle::current().is_none());
        assert!(matches!(
            handle.dump_now(DumpKind::Threads),
            Err(Error::NotRunning)
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }

    // An operator's CPU profile holds the process's profiler: a CPU dump waits for it
    // and is taken after, not lost.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_cpu_dump_waits_for_an_on_demand_profile_to_end() {
        let _serial = test_lock();
        let dir = std::env::temp_dir().join(format!("holmes-cpu-wait-{}", std::process::id()));
        let guard = Holmes::builder()
            .env_overrides(false)
            .interval(Duration::from_millis(20))
            .cpu_profile_duration(Duration::from_millis(200))
            .dump_dir(&dir)
            .cpu(crate::Rule::new(10, 25, 80))
            .start()
            .expect("start");
        let operator = std::thread::spawn(|| {
            crate::on_demand::tests::profile_cpu_when_free(Duration::from_millis(800))
        });
        while !crate::dump::cpu::capturing() {
            std::thread::sleep(Duration::from_millis(1));
        }
        let event = guard
            .dump_now(DumpKind::Cpu)
            .expect("the CPU dump, taken after");
        assert!(event.error.is_none(), "{event}");
        assert!(!event.files.is_empty(), "{event}");
        operator
            .join()
            .expect("join")
            .expect("the operator's profile, unharmed");
        drop(guard);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn update_rejects_changes_fixed_at_start() {
        let _serial = test_lock();
        let guard = Holmes::builder()
            .env_overrides(false)
            .interval(Duration::from_millis(20))
            .dump_dir(std::env::temp_dir().join(format!("holmes-update-{}", std::process::id())))
            .cpu(crate::Rule::new(10, 25, 80))
            .start()
            .expect("start");
        let err = guard
            .update(guard.config().dump_dir("/elsewhere"))
            .unwrap_err();
        assert!(err.to_string().contains("dump_dir is fixed"), "{err}");
        let err = guard
            .update(guard.config().cpu(crate::Rule::new(90, 25, 80)))
            .unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{err}");
        // Out-of-range values are refused by update() as by start().
        let err = guard
            .update(guard.config().interval(Duration::from_nanos(1)))
            .unwrap_err();
        assert!(matches!(err, Error::Setting { .. }), "{err}");
        // A valid change applies from the next tick.
        guard
            .update(
                guard
                    .config()
                    .interval(Duration::from_millis(10))
                    .cpu(crate::Rule::new(20, 50, 90)),
            )
            .expect("update");
        std::thread::sleep(Duration::from_millis(100));
        let s = guard.status();
        assert_eq!(s.interval, Duration::from_millis(10));
        assert_eq!(s.metric(Metric::Cpu).rule.map(|r| r.abs()), Some(90));
        // A rule can be switched off.
        guard
            .update(guard.config().disable(Metric::Cpu))
            .expect("disable");
        let s = guard.status();
        assert_eq!(s.metric(Metric::Cpu).state, crate::RuleState::Disabled);
        let _ = std::fs::remove_dir_all(guard.dump_dir());
    }
}
