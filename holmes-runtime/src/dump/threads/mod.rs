//! Thread dumps: the stack of every thread of the process, captured from inside it.
//!
//! "What is everybody waiting on?" — [`dump_threads`] answers it for OS threads the way
//! a Java thread dump or Go's goroutine dump does: every thread's id, name, scheduler
//! state and stack, identical stacks grouped ([`ThreadDump::to_text`]), or as a pprof
//! profile counting threads per stack ([`ThreadDump::to_profile`]).
//!
//! # How (Linux, x86_64 and aarch64)
//! No ptrace and no stop-the-world: the capturing thread lists `/proc/self/task`, reads
//! each thread's name and state from `/proc/self/task/<tid>/stat`, snapshots the
//! readable mappings of `/proc/self/maps` into a preallocated array, then sends each
//! thread the real-time signal [`dump_signal`] with `rt_tgsigqueueinfo`. Each thread's
//! handler walks its own frame pointers from the interrupted registers into a
//! preallocated slot and publishes it; the capturer collects the answers until a
//! deadline (200 ms by default) and symbolizes nothing: symbolization happens later,
//! through a cached [`Symbolizer`], when the dump is rendered. Each thread is
//! interrupted only for the walk (a few microseconds; the benchmark
//! `cargo bench -p holmes-runtime --bench threads` measures it).
//!
//! Threads that block the signal, or do not run before the deadline, are listed as
//! such ([`StackStatus::SignalBlocked`], [`StackStatus::TimedOut`]); threads that exit
//! meanwhile as [`StackStatus::Exited`]. A thread whose blocked mask (`SigBlk` in its
//! `/proc` status) holds the signal is not signalled at all: the request would stay
//! queued on it, and a program that later resets the signal to `SIG_DFL` and unblocks it,
//! or re-executes itself (mask and queue survive `execve`, the handler does not), would
//! die of it. Only a thread that blocks the signal between that read and the send can
//! keep one request queued; it is not signalled again while it blocks the signal.
//!
//! # The timeout
//! The timeout bounds every wait of the capture: for a concurrent capture to finish
//! (the capture lock), for handlers of an earlier capture still writing, and for the
//! answers (plus 1 ms, once, for a handler caught mid-walk at the deadline). After it,
//! the capture only reads `/proc` for the names and states of the threads that did not
//! answer, without waiting.
//!
//! # Signal safety (rules of the handler)
//! The handler runs on the interrupted thread, which may hold any lock (including the
//! allocator's) and be in the middle of any function. So, like the "Signal Safety"
//! rules of pprof-rs, and stricter:
//! - no allocation, no lock, no `println!`/logging, no panic path, no thread-locals
//!   with destructors;
//! - no unwinder: libgcc's `_Unwind_Backtrace` (used by `backtrace` and by
//!   `std::backtrace`) takes a global lock and may allocate; the handler only walks
//!   frame pointers, checking every read against the thread's stack bounds;
//! - only async-signal-safe calls: `clock_gettime` (vDSO) and one `futex` wake;
//! - memory reads only inside the thread's own live stack `[SP, end of its mapping)`
//!   and inside code mappings of the snapshot taken just before the signals (a library
//!   `dlclose`d in between is the one way to fault; holmes never unloads code);
//! - `errno` is saved and restored;
//! - all shared memory it touches is atomics in a pool that is never freed, so a
//!   handler that runs late (its signal stayed pending) can neither corrupt a newer
//!   capture nor write into freed memory: it finds a generation that is not its own
//!   and returns.
//!
//! # Why by hand
//! pprof-rs and `backtrace` unwind the *current* thread; none offers "the stacks of all
//! threads from inside the process". Alternatives were rejected: ptrace-based tools
//! (`rstack`, `remoteprocess`) need a helper process, `CAP_SYS_PTRACE` or a permissive
//! Yama scope, and stop every thread; DWARF unwinding in a handler is not
//! async-signal-safe. The handler walks with [`crate::stack`]'s walker, allocation-free:
//! frame pointers where the build forces them (`-C force-frame-pointers=yes`), DWARF
//! call-frame information from preallocated caches otherwise.
//! Libraries built without frame pointers (glibc, the vDSO) would hide the function
//! that called into them — the one that says *which* wait a thread is in
//! (`futex_wait`, `Mutex::lock_contended`). When the interrupted PC lies in another
//! code mapping than the first walked return address, the handler looks at the first
//! 16 words above SP for a return address into a different code mapping that follows a
//! call instruction, and inserts it as the second frame. Frames inside such a library
//! other than the interrupted one are not shown.
//!
//! # Effect on the host: interrupted system calls
//! The handler is installed with `SA_RESTART`, so most blocking calls (`read`/`write`
//! on pipes, sockets and terminals, `wait`, `open` of a FIFO, `flock`, futex waits
//! without timeout as used by `std`'s `Mutex`/`Condvar::wait`, …) restart
//! transparently. Per `man 7 signal`, the kernel never restarts these after a
//! handler, whatever `SA_RESTART` says; they return `EINTR` (or their remaining time)
//! and the caller must retry:
//! - sleeps: `nanosleep`/`clock_nanosleep` return the time left (Rust's
//!   `thread::sleep` loops on it, so it sleeps the full time), `usleep`, `pause`,
//!   `sigsuspend`, `sigtimedwait`/`sigwaitinfo`;
//! - multiplexing: `epoll_wait`, `epoll_pwait`, `poll`, `ppoll`, `select`, `pselect`
//!   (tokio and mio retry on `EINTR`);
//! - socket calls with a timeout set by `SO_RCVTIMEO`/`SO_SNDTIMEO` (`recv`, `send`,
//!   `accept`, `connect`, …);
//! - `FUTEX_WAIT` with a timeout (`Condvar::wait_timeout`, `park_timeout`: std
//!   re-checks and waits again), `semop`/`semtimedop`, `msgrcv`/`msgsnd`,
//!   `io_getevents`, `inotify` `read` before Linux 3.8.
//!
//! Well-written code already handles `EINTR` (any signal, e.g. `SIGCHLD` or a CPU
//! profiler's `SIGPROF`, causes the same).
//!
//! # One at a time, process-wide state
//! Capturing is process-wide: one capture runs at a time, a concurrent caller waits up
//! to its timeout and then gets [`CaptureError::Busy`]. The first capture installs the
//! handler for [`dump_signal`] for the rest of the process's life (it is never
//! uninstalled: a request still queued on a thread that blocks the signal must find a
//! handler, not the default action, which would kill the process). Every capture checks
//! the disposition first: if the host installed a handler of its own (or `SIG_IGN`)
//! meanwhile, the capture refuses with [`CaptureError::SignalInUse`] rather than send
//! the host's handler signals it does not expect. The slot pool, about
//! 0.5 KiB per thread of the largest process seen plus the memory-map snapshot, is kept
//! for the process's life too.
//!
//! [`dump_threads`] itself is not async-signal-safe: call it from an ordinary thread
//! (a debug endpoint, the thread that receives signals through `signal-hook`'s
//! iterator, a test), never from inside a signal handler.

#[cfg(linux_stack_walk)]
mod procfs;
#[cfg(linux_stack_walk)]
mod signal;

#[cfg(linux_stack_walk)]
pub use signal::dump_signal;

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::time::{Duration, SystemTime};

use crate::profile::ProfileBuilder;
use crate::symbol::Symbolizer;

/// Default bound on a whole capture.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(200);

/// Why a thread dump could not be taken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
    /// Not Linux on x86_64/aarch64.
    #[error("thread dumps are unsupported on this platform")]
    Unsupported,
    /// `/proc/self/task` could not be listed.
    #[error("cannot list the threads of this process (/proc/self/task)")]
    ListThreads(#[source] std::io::Error),
    /// `/proc/self/maps` could not be read.
    #[error("cannot read the memory map (/proc/self/maps)")]
    ReadMaps(#[source] std::io::Error),
    /// Another handler owns the dump signal; holmes does not replace it.
    #[error("signal {signal} already has a handler that is not holmes's; not replacing it")]
    SignalInUse {
        /// The signal number.
        signal: i32,
    },
    /// `sigaction` failed.
    #[error("cannot install the thread-dump handler for signal {signal}")]
    InstallHandler {
        /// The signal number.
        signal: i32,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Another capture held the process-wide capture lock for the whole timeout.
    #[error("another thread dump is in progress (waited {waited:?})")]
    Busy {
        /// How long this caller waited.
        waited: Duration,
    },
    /// Handlers of earlier captures never finished (a thread stopped inside the
    /// handler, e.g. by a debugger), too many times to keep moving to fresh storage.
    #[error("thread-dump handlers of earlier captures never finished; refusing to capture")]
    HandlerStuck,
}

/// Scheduler state of a thread, from `/proc/<pid>/task/<tid>/stat`, read just before
/// the thread was signalled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ThreadState {
    /// `R`: running or runnable.
    Running,
    /// `S`: interruptible sleep (waiting on a lock, a condition, I/O readiness…).
    Sleeping,
    /// `D`: uninterruptible sleep, usually disk I/O.
    DiskWait,
    /// `T`: stopped by a signal.
    Stopped,
    /// `t`: stopped by a tracer.
    TracingStop,
    /// `Z`: zombie.
    Zombie,
    /// `X`: dead (also used when the thread was gone before it could be read).
    Dead,
    /// `I`: idle kernel thread.
    Idle,
    /// Any other letter.
    Other(char),
}

impl ThreadState {
    /// The state for a `/proc` state letter.
    pub fn from_code(c: char) -> Self {
        match c {
            'R' => Self::Running,
            'S' => Self::Sleeping,
            'D' => Self::DiskWait,
            'T' => Self::Stopped,
            't' => Self::TracingStop,
            'Z' => Self::Zombie,
            'X' | 'x' => Self::Dead,
            'I' => Self::Idle,
            other => Self::Other(other),
        }
    }

    /// The `/proc` state letter.
    pub fn code(&self) -> char {
        match self {
            Self::Running => 'R',
            Self::Sleeping => 'S',
            Self::DiskWait => 'D',
            Self::Stopped => 'T',
            Self::TracingStop => 't',
            Self::Zombie => 'Z',
            Self::Dead => 'X',
            Self::Idle => 'I',
            Self::Other(c) => *c,
        }
    }

    /// A word for humans: "running", "sleeping", "disk wait", …
    pub fn describe(&self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Sleeping => "sleeping",
            Self::DiskWait => "disk wait",
            Self::Stopped => "stopped",
            Self::TracingStop => "tracing stop",
            Self::Zombie => "zombie",
            Self::Dead => "dead",
            Self::Idle => "idle",
            Self::Other(_) => "unknown",
        }
    }
}

impl fmt::Display for ThreadState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.code(), self.describe())
    }
}

/// Whether and how a thread's stack was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StackStatus {
    /// The stack is in [`ThreadInfo::stack`].
    Captured,
    /// The thread blocks the dump signal (`SigBlk` in `/proc/self/task/<tid>/status`), so
    /// it was not asked; or it blocked it right after being asked and did not unblock it
    /// before the deadline (the request then waits in its queue).
    SignalBlocked,
    /// The thread did not answer before the deadline (not scheduled in time, or it
    /// blocked the signal and unblocked it too late to be seen).
    TimedOut,
    /// The thread exited between the listing and the signal.
    Exited,
    /// Sending the signal failed with this OS error (e.g. `EAGAIN`: the process hit
    /// its `RLIMIT_SIGPENDING`).
    SendFailed(i32),
}

impl fmt::Display for StackStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Captured => f.write_str("captured"),
            Self::SignalBlocked => f.write_str("did not answer (signal blocked)"),
            Self::TimedOut => f.write_str("did not answer (signal blocked or timed out)"),
            Self::Exited => f.write_str("exited during the capture"),
            Self::SendFailed(e) => write!(
                f,
                "could not be signalled ({})",
                std::io::Error::from_raw_os_error(*e)
            ),
        }
    }
}

/// One thread of a [`ThreadDump`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ThreadInfo {
    /// Kernel thread id.
    pub tid: u32,
    /// Thread name (`comm`, at most 15 bytes: Rust truncates longer names).
    pub name: String,
    /// Scheduler state just before the capture.
    pub state: ThreadState,
    /// Whether the stack was captured, and if not why.
    pub status: StackStatus,
    /// Code addresses, innermost first; `Some` exactly when `status` is `Captured`.
    pub stack: Option<Vec<usize>>,
    /// True when `stack[0]` is the interrupted program counter rather than a return
    /// address (every signalled thread; not the capturing thread).
    pub first_is_pc: bool,
    /// Time spent inside the dump handler (measured by the handler with
    /// `CLOCK_MONOTONIC`; excludes the kernel's signal delivery and return).
    pub interrupted_for: Option<Duration>,
    /// True for the thread that took the dump (its stack is walked directly).
    pub is_capturing_thread: bool,
}

/// The stacks of every thread of the process at one moment.
///
/// Render it with [`profile`](Self::profile) (pprof, text, SVG; symbolization happens
/// there, on the caller's thread), or simply `format!("{dump}")`.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ThreadDump {
    /// Process id.
    pub pid: u32,
    /// Every thread listed in `/proc/self/task` when the capture began.
    pub threads: Vec<ThreadInfo>,
    /// When the capture began.
    pub captured_at: SystemTime,
    /// How long the capture took (listing, signalling, collecting; no symbolization).
    pub capture_duration: Duration,
    /// The deadline the capture ran with.
    pub timeout: Duration,
    /// The signal used.
    pub signal: i32,
}

/// Captures the stack of every thread of this process, waiting at most
/// [`DEFAULT_TIMEOUT`] for the threads to answer. See the [module docs](self).
///
/// ```
/// # #[cfg(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64")))]
/// # {
/// let dump = holmes_runtime::dump::threads::dump_threads().expect("thread dump");
/// assert!(dump.threads.iter().any(|t| t.is_capturing_thread));
/// println!("{dump}"); // symbolized, grouped text
/// # }
/// ```
pub fn dump_threads() -> Result<ThreadDump, CaptureError> {
    dump_threads_with_timeout(DEFAULT_TIMEOUT)
}

/// [`dump_threads`] with an explicit bound on the whole capture (also the longest wait
/// for a concurrent capture to finish).
pub fn dump_threads_with_timeout(timeout: Duration) -> Result<ThreadDump, CaptureError> {
    #[cfg(linux_stack_walk)]
    {
        crate::fork::on_fork_child(reset_after_fork);
        signal::capture(timeout)
    }
    #[cfg(not(linux_stack_walk))]
    {
        let _ = timeout;
        Err(CaptureError::Unsupported)
    }
}

/// Resets the capture lock and pool in the child of a `fork()` (see `crate::fork`).
pub(crate) fn reset_after_fork() {
    #[cfg(linux_stack_walk)]
    signal::reset_after_fork();
}

/// Frame name used in profiles for threads whose stack was not captured.
fn missing_frame(status: StackStatus) -> String {
    format!("[no stack: {status}]")
}

impl ThreadDump {
    /// Threads whose stack was captured.
    pub fn captured(&self) -> impl Iterator<Item = &ThreadInfo> {
        self.threads.iter().filter(|t| t.stack.is_some())
    }

    /// Threads whose stack was not captured (blocked, timed out, exited, …).
    pub fn missing(&self) -> impl Iterator<Item = &ThreadInfo> {
        self.threads.iter().filter(|t| t.stack.is_none())
    }

    #[doc(hidden)] // Takes holmes' internal symbolizer: for its own pipeline and tests.
    /// A pprof profile with sample type `threads/count`: one sample per thread,
    /// merged by identical stack and labels (`thread_name`, `thread_state`), so
    /// `go tool pprof -top` counts threads per function. Threads without a stack
    /// appear under a single `[no stack: …]` frame.
    pub fn to_profile(&self, sym: &mut Symbolizer) -> crate::pprof::Profile {
        let mut b = ProfileBuilder::new(
            sym,
            &[("threads", "count")],
            ("threads", "count"),
            1,
            "threads",
        );
        for t in &self.threads {
            let state = t.state.code().to_string();
            let labels = [
                ("thread_name", t.name.as_str()),
                ("thread_state", state.as_str()),
            ];
            match &t.stack {
                Some(stack) => b.add(stack, t.first_is_pc, &[1], &labels),
                None => b.add_named(&[&missing_frame(t.status)], &[1], &labels),
            }
        }
        b.duration(self.capture_duration);
        b.comment(&self.summary());
        let mut p = b.build();
        p.time_nanos = self
            .captured_at
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0);
        p
    }

    /// One line: pid, thread count, capture time, unanswered count.
    pub fn summary(&self) -> String {
        let missing = self.missing().count();
        format!(
            "thread dump of pid {} at {}: {} threads, captured in {:.2?}{}",
            self.pid,
            humantime::format_rfc3339_millis(self.captured_at),
            self.threads.len(),
            self.capture_duration,
            if missing > 0 {
                format!(", {missing} without a stack")
            } else {
                String::new()
            }
        )
    }

    #[doc(hidden)] // Takes holmes' internal symbolizer: for its own pipeline and tests.
    /// A readable dump, like a Java thread dump or Go's goroutine dump: threads with
    /// identical stacks grouped ("37 threads with this stack:"), largest group first,
    /// each group listing its threads (name, tid, state) and then the symbolized
    /// frames with `file:line`; threads without a stack listed at the end.
    pub fn to_text(&self, sym: &mut Symbolizer) -> String {
        let mut groups: HashMap<(&[usize], bool), Vec<&ThreadInfo>> = HashMap::new();
        for t in &self.threads {
            if let Some(s) = &t.stack {
                groups.entry((s, t.first_is_pc)).or_default().push(t);
            }
        }
        let mut groups: Vec<_> = groups.into_iter().collect();
        groups.sort_by(|a, b| {
            b.1.len()
                .cmp(&a.1.len())
                .then_with(|| a.1[0].tid.cmp(&b.1[0].tid))
        });
        let mut out = String::new();
        let _ = writeln!(out, "{}", self.summary());
        for ((stack, first_is_pc), threads) in groups {
            let n = threads.len();
            let _ = writeln!(
                out,
                "\n{n} thread{} with this stack:",
                if n == 1 { "" } else { "s" }
            );
            write_threads(&mut out, &threads);
            write_frames(&mut out, sym, stack, first_is_pc);
        }
        let missing: Vec<&ThreadInfo> = self.missing().collect();
        if !missing.is_empty() {
            let _ = writeln!(out, "\n{} threads without a stack:", missing.len());
            for t in missing {
                let _ = writeln!(
                    out,
                    "  \"{}\" tid={} state={}: {}",
                    t.name, t.tid, t.state, t.status
                );
            }
        }
        out
    }

    /// [`to_text`](Self::to_text) with a fresh [`Symbolizer`] (convenient, but a
    /// long-lived symbolizer is faster for repeated dumps).
    pub fn symbolized_text(&self) -> String {
        self.to_text(&mut Symbolizer::new())
    }
}

/// Threads one per line, the first [`LISTED`] of a group; the rest packed several to
/// a line (`"name" tid state`) so a pile-up of 1000 threads stays readable.
fn write_threads(out: &mut String, threads: &[&ThreadInfo]) {
    const LISTED: usize = 16;
    for t in threads.iter().take(LISTED) {
        let _ = writeln!(
            out,
            "  \"{}\" tid={} state={}{}",
            t.name,
            t.tid,
            t.state,
            if t.is_capturing_thread {
                " [capturing thread]"
            } else {
                ""
            }
        );
    }
    if threads.len() > LISTED {
        let _ = writeln!(out, "  and {} more:", threads.len() - LISTED);
        let mut line = String::from("   ");
        for t in &threads[LISTED..] {
            let item = format!(" \"{}\" {} {},", t.name, t.tid, t.state.code());
            if line.len() + item.len() > 100 {
                let _ = writeln!(out, "{line}");
                line = String::from("   ");
            }
            line.push_str(&item);
        }
        let _ = writeln!(out, "{}", line.trim_end_matches(','));
    }
}

fn write_frames(out: &mut String, sym: &mut Symbolizer, stack: &[usize], first_is_pc: bool) {
    let mut n = 0;
    for (i, &addr) in stack.iter().enumerate() {
        let frames = sym.resolve(addr, !(i == 0 && first_is_pc));
        let last = frames.len().saturating_sub(1);
        for (j, f) in frames.iter().enumerate() {
            let _ = write!(out, "    #{n:<2} {}", f.name);
            if j < last {
                out.push_str(" (inlined)");
            }
            out.push('\n');
            match (&f.file, f.line) {
                (Some(file), Some(line)) => {
                    let _ = writeln!(out, "         at {file}:{line}");
                }
                (Some(file), None) => {
                    let _ = writeln!(out, "         at {file}");
                }
                _ => {
                    let _ = writeln!(out, "         at {addr:#x}");
                }
            }
            n += 1;
        }
    }
    if stack.is_empty() {
        out.push_str("    (empty stack)\n");
    }
}

impl fmt::Display for ThreadDump {
    /// The grouped, symbolized text of [`ThreadDump::to_text`] (fresh symbolizer).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.symbolized_text())
    }
}

#[cfg(all(test, linux_stack_walk))]
mod tests {
    use super::*;
    use std::sync::{Arc, Barrier};

    #[inline(never)]
    fn parked_in_a_named_function_for_the_dump(b: Arc<Barrier>, stop: Arc<Barrier>) {
        b.wait();
        stop.wait();
        std::hint::black_box(());
    }

    #[test]
    fn dumps_named_threads_and_renders() {
        let ready = Arc::new(Barrier::new(4));
        let stop = Arc::new(Barrier::new(4));
        let handles: Vec<_> = (0..3)
            .map(|i| {
                let (r, s) = (ready.clone(), stop.clone());
                std::thread::Builder::new()
                    .name(format!("unit-parked-{i}"))
                    .spawn(move || parked_in_a_named_function_for_the_dump(r, s))
                    .unwrap()
            })
            .collect();
        ready.wait();
        std::thread::sleep(Duration::from_millis(20));
        let dump = dump_threads().unwrap();
        stop.wait();
        for h in handles {
            h.join().unwrap();
        }
        let parked: Vec<_> = dump
            .threads
            .iter()
            .filter(|t| t.name.starts_with("unit-parked-"))
            .collect();
        assert_eq!(parked.len(), 3, "{dump:?}");
        for t in &parked {
            assert_eq!(t.status, StackStatus::Captured);
            assert!(t.interrupted_for.is_some());
        }
        let text = dump.symbolized_text();
        assert!(text.contains("3 threads with this stack:"), "{text}");
        assert!(
            text.contains("parked_in_a_named_function_for_the_dump"),
            "{text}"
        );
        assert!(text.contains("[capturing thread]"), "{text}");
        let mut sym = Symbolizer::new();
        let p = dump.to_profile(&mut sym);
        let (rows, total) = crate::profile::top(&p, 500);
        assert_eq!(total as usize, dump.threads.len());
        let named = rows
            .iter()
            .find(|r| r.name.contains("parked_in_a_named_function_for_the_dump"))
            .expect("named function in the profile");
        assert_eq!(named.cum, 3);
    }

    #[test]
    fn a_thread_blocking_the_signal_is_reported_and_not_requeued() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
        let h = std::thread::Builder::new()
            .name("unit-blocker".into())
            .spawn(move || {
                // SAFETY: plain sigset manipulation of this thread's mask.
                unsafe {
                    let mut set: libc::sigset_t = std::mem::zeroed();
                    libc::sigemptyset(&mut set);
                    libc::sigaddset(&mut set, dump_signal());
                    libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
                }
                ready_tx.send(()).unwrap();
                rx.recv().unwrap();
                // Unblocking delivers the stale request: the late handler must
                // neither crash nor corrupt anything.
                // SAFETY: as above.
                unsafe {
                    let mut set: libc::sigset_t = std::mem::zeroed();
                    libc::sigemptyset(&mut set);
                    libc::sigaddset(&mut set, dump_signal());
                    libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
                }
            })
            .unwrap();
        ready_rx.recv().unwrap();
        for _ in 0..3 {
            let dump = dump_threads_with_timeout(Duration::from_millis(50)).unwrap();
            let t = dump
                .threads
                .iter()
                .find(|t| t.name == "unit-blocker")
                .expect("blocker listed");
            assert_eq!(t.status, StackStatus::SignalBlocked, "{dump:?}");
        }
        tx.send(()).unwrap();
        h.join().unwrap();
        let dump = dump_threads().unwrap();
        assert!(dump.captured().count() >= 1);
        // The stale request was delivered on unblocking and ignored; nothing is
        // left blocked.
        assert!(
            dump.threads
                .iter()
                .all(|t| t.status != StackStatus::SignalBlocked),
            "{dump:?}"
        );
    }
}
