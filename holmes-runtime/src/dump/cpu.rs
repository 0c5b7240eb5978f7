//! CPU profiles: `SIGPROF` at 99 Hz, stacks by [`crate::stack`]'s walker (DWARF, or frame
//! pointers where the build forces them), pprof output.
//!
//! # Why not pprof-rs's profiler
//! pprof-rs (0.15) with its `frame-pointer` unwinder starts the walk at the interrupted
//! function's frame record and never records the interrupted PC, so the function that
//! was actually running — in an optimized hot loop, the culprit — is missing from every
//! sample; its collector may also write to a temporary file from the signal handler.
//! holmes needs the leaf, so the signal handler is written here, on the shared
//! [`crate::stack`] walker. Its `Profile` protobuf types are holmes' own too
//! ([`crate::pprof`]).
//!
//! # How
//! `setitimer(ITIMER_PROF)` makes the kernel send `SIGPROF` to the process every
//! 1/99 s of process CPU time; the thread that consumed it takes the signal. The handler
//! records the interrupted PC and the frame-pointer chain into a preallocated sample
//! buffer. After the capture the dumper thread symbolizes the samples and builds a
//! profile with Go's CPU sample types (`samples/count`, `cpu/nanoseconds`). The kernel
//! tick here is 250 Hz, so faster timers would not sample more finely.
//!
//! # Signal safety (the handler's rules)
//! - No allocation, no lock, no libgcc: the handler claims a slot of a buffer allocated
//!   before the timer starts with one `fetch_add`, walks frame pointers bounded by the
//!   thread's own stack (looked up once per thread with raw `open`/`read`), and publishes
//!   the slot with a release store. A full buffer drops the sample and counts it.
//! - `errno` is saved and restored.
//! - The buffer is freed only after the timer is disarmed, the buffer pointer cleared
//!   and no handler is running (an in-handler counter with sequentially consistent
//!   ordering, so a late signal never writes into freed memory).
//! - `SA_RESTART`: system calls interrupted by `SIGPROF` are restarted where the kernel
//!   allows (see `man 7 signal`); this is the same exposure as any `setitimer` profiler.
//! - A sample interrupted in a function's prologue (before it set its frame pointer)
//!   recovers the caller from the top of the stack, accepted only when the word points
//!   into a code mapping right after a call instruction. Code mappings are listed before
//!   the timer starts. Known risk: a library `dlclose`d during the capture could make
//!   that check read unmapped memory (the thread dump's equivalent check shares it).
//!
//! # Sharing `SIGPROF` with the host
//! CPU profiling is process-wide (one `SIGPROF` disposition, one `ITIMER_PROF` per
//! process), so holmes captures one profile at a time ([`CpuError::Busy`]) and:
//! - **keeps its handler installed once installed**, for the life of the process: outside
//!   a capture it returns at once. A `SIGPROF` generated just before the timer was
//!   disarmed may be delivered a moment after the capture ended (to a thread woken from
//!   `epoll_wait` that waited for a CPU); restoring the default action there would kill
//!   the process. The handler is installed only over `SIG_DFL` or `SIG_IGN`; another
//!   handler (a profiler of the host's) makes the capture refuse
//!   ([`CpuError::SignalInUse`]), and so does an `ITIMER_PROF` someone else armed
//!   ([`CpuError::TimerInUse`]; checked atomically with the arming itself).
//! - arms `ITIMER_PROF` with a period of [`PERIOD_US`] µs, a value other profilers do not
//!   use (1 s / 99 is 10 101 µs), and at the end disarms the timer only if it still has
//!   that period: a timer the host re-armed during the capture is put back as it was
//!   (the swap is one `setitimer` call that returns the old value). A handler the host
//!   installed during the capture is left in place. Either is reported in
//!   [`CpuCapture::host_took_over`], which the dumper logs and counts.
//!
//! After `fork()`, the child's capture state is reset (see `crate::fork`).
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;

use super::sigaction;
use crate::pprof::Profile;
use crate::profile::ProfileBuilder;
use crate::stack::{self, Stack};
use crate::symbol::Symbolizer;

/// Sampling frequency of CPU profiles.
pub const FREQUENCY_HZ: u32 = 99;

/// The `ITIMER_PROF` period holmes arms, in µs: 99.0 Hz, and distinct from the 10 101 µs
/// of other 99 Hz profilers, so that holmes can tell its own timer from a host's.
pub const PERIOD_US: i64 = 10_099;

/// Why a CPU profile could not be captured.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CpuError {
    /// Another CPU capture of holmes runs in this process.
    #[error("another CPU profile is being captured in this process")]
    Busy,
    /// `SIGPROF` has a handler that is not holmes's: another profiler is running.
    #[error("SIGPROF already has a handler that is not holmes's (is another CPU profiler running?); not replacing it")]
    SignalInUse,
    /// `ITIMER_PROF` is armed by someone else.
    #[error("ITIMER_PROF is already armed by someone else (is another CPU profiler running?)")]
    TimerInUse,
    /// A system call failed.
    #[error("{call} failed")]
    Os {
        /// The call.
        call: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

fn os_error(call: &'static str) -> CpuError {
    CpuError::Os {
        call,
        source: std::io::Error::last_os_error(),
    }
}

/// Most samples one capture keeps (~0.5 KiB each); more are dropped and counted.
pub const MAX_SAMPLES: usize = 16 * 1024;

struct Slot {
    ready: AtomicBool,
    tid: AtomicU64,
    stack: std::cell::UnsafeCell<Stack>,
}

// SAFETY: a slot's stack is written by exactly one handler (the one that claimed its
// index) before `ready` is set with release ordering, and read only after that.
unsafe impl Sync for Slot {}

struct Buffer {
    next: AtomicUsize,
    dropped: AtomicU64,
    slots: Box<[Slot]>,
    /// Readable executable mappings `[start, end)`, sorted, taken before the timer
    /// starts: lets the handler check that a stack word is a return address (the byte
    /// before it is a call instruction) without reading unmapped memory.
    code: Box<[(usize, usize)]>,
}

impl Buffer {
    /// The code mapping containing `addr`.
    fn code_range(&self, addr: usize) -> Option<(usize, usize)> {
        let i = self.code.partition_point(|&(start, _)| start <= addr);
        let (start, end) = *self.code.get(i.checked_sub(1)?)?;
        (addr < end).then_some((start, end))
    }

    /// True when `w` points into code right after a call instruction.
    fn is_return_address(&self, w: usize) -> bool {
        match self.code_range(w) {
            // SAFETY: the range is a readable code mapping containing `w`.
            Some(range) => unsafe { stack::follows_call(w, range) },
            None => false,
        }
    }
}

static BUFFER: AtomicPtr<Buffer> = AtomicPtr::new(std::ptr::null_mut());
static IN_HANDLER: AtomicUsize = AtomicUsize::new(0);
/// Held by the one capture in progress.
static CAPTURING: AtomicBool = AtomicBool::new(false);

/// True while a capture holds the process-wide capture lock.
#[cfg(test)]
pub(crate) fn capturing() -> bool {
    CAPTURING.load(Ordering::Acquire)
}

/// Resets the capture state in the child of a `fork()`, where no capture and no handler
/// of the parent's threads runs (they were not copied) and no timer is armed (timers are
/// not inherited). Async-signal-safe: atomic stores only. The parent's buffer, if a
/// capture was running, is left to the child's address space, unused.
pub(crate) fn reset_after_fork() {
    BUFFER.store(std::ptr::null_mut(), Ordering::SeqCst);
    IN_HANDLER.store(0, Ordering::SeqCst);
    CAPTURING.store(false, Ordering::SeqCst);
}

/// The one capture in progress; released on drop.
struct CaptureLock;

impl CaptureLock {
    fn take() -> Result<CaptureLock, CpuError> {
        CAPTURING
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .map(|_| CaptureLock)
            .map_err(|_| CpuError::Busy)
    }
}

impl Drop for CaptureLock {
    fn drop(&mut self) {
        CAPTURING.store(false, Ordering::Release);
    }
}

/// A finished CPU capture.
pub struct CpuCapture {
    /// The profile (`samples/count`, `cpu/nanoseconds`).
    pub profile: Profile,
    /// Wall time covered.
    pub duration: Duration,
    /// CPU time the process used during the capture.
    pub cpu_time: Duration,
    /// Samples dropped because the buffer was full.
    pub dropped: u64,
    /// What of `SIGPROF` the host took over during the capture, if anything: holmes left
    /// it in place (the profile may be missing the samples after that moment).
    pub host_took_over: Option<Takeover>,
}

/// What the host changed of holmes' `SIGPROF` set-up during a capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Takeover {
    /// The host installed its own `SIGPROF` handler.
    Handler,
    /// The host re-armed `ITIMER_PROF` with its own period.
    Timer,
    /// Both.
    HandlerAndTimer,
}

impl std::fmt::Display for Takeover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Takeover::Handler => "the host installed its own SIGPROF handler",
            Takeover::Timer => "the host re-armed ITIMER_PROF",
            Takeover::HandlerAndTimer => {
                "the host installed its own SIGPROF handler and re-armed ITIMER_PROF"
            }
        })
    }
}

extern "C" fn on_sigprof(_sig: libc::c_int, _info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let errno = Errno::save();
    IN_HANDLER.fetch_add(1, Ordering::SeqCst);
    let buf = BUFFER.load(Ordering::SeqCst);
    if !buf.is_null() && !ctx.is_null() {
        // SAFETY: non-null while IN_HANDLER > 0 keeps the collector from freeing it.
        let buf = unsafe { &*buf };
        let i = buf.next.fetch_add(1, Ordering::Relaxed);
        if let Some(slot) = buf.slots.get(i) {
            // SAFETY: index i is claimed by this handler only.
            let out = unsafe { &mut *slot.stack.get() };
            // SAFETY: ctx is the kernel's ucontext for this signal.
            unsafe { record(buf, ctx, out) };
            // SAFETY: gettid has no preconditions.
            slot.tid.store(
                unsafe { libc::syscall(libc::SYS_gettid) } as u64,
                Ordering::Relaxed,
            );
            slot.ready.store(true, Ordering::Release);
        } else {
            buf.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
    IN_HANDLER.fetch_sub(1, Ordering::SeqCst);
    errno.restore();
}

/// The interrupted PC, then its callers: by DWARF CFI when walks use it, else the
/// frame-pointer chain from the interrupted frame.
///
/// # Safety
/// `ctx` must be the `ucontext_t` the kernel passed to a signal handler of this thread.
unsafe fn record(buf: &Buffer, ctx: *mut libc::c_void, out: &mut Stack) {
    const WORD: usize = std::mem::size_of::<usize>();
    out.clear();
    let Some((pc, fp, sp)) = (unsafe { stack::registers(ctx) }) else {
        return;
    };
    let Some((_, hi)) = stack::thread_bounds_containing(sp) else {
        out.push(pc);
        return;
    };
    if stack::uses_dwarf() {
        // SAFETY: ctx is the kernel's ucontext; [sp, hi) is this thread's live stack.
        let regs = stack::dwarf::Regs {
            pc,
            sp,
            fp,
            lr: unsafe { stack::dwarf::context_lr(ctx) },
        };
        // SAFETY: as above.
        if unsafe { stack::dwarf::walk(regs, sp, hi, out) } {
            return;
        }
    }
    out.push(pc);
    // Interrupted in a function's prologue, before it set its frame pointer, the walk
    // would start at the caller's frame record and miss the caller itself; its return
    // address is then at [sp] (first instruction, x86_64) or at [sp + 8] right after
    // `push rbp` (the saved frame pointer at [sp] still equals fp).
    let mut pushed = false;
    if cfg!(target_arch = "x86_64") && sp.saturating_add(2 * WORD) <= hi {
        // SAFETY: [sp, sp + 2 words) lies inside [sp, hi), this thread's live stack.
        let (w0, w1) = unsafe {
            (
                (sp as *const usize).read(),
                ((sp + WORD) as *const usize).read(),
            )
        };
        if buf.is_return_address(w0) {
            pushed = out.push(w0);
        } else if w0 == fp && buf.is_return_address(w1) {
            pushed = out.push(w1);
        }
    }
    // SAFETY: [sp, hi) is the live part of this thread's own stack.
    unsafe { stack::walk(fp, sp, hi, out) };
    // A prologue frame pushed above could also be the walk's first frame (a function
    // with a frame record whose [sp] happens to hold its own return address): drop
    // the duplicate.
    if pushed && out.len() >= 3 && out.ips()[1] == out.ips()[2] {
        let ips: Stack = *out;
        out.clear();
        out.push(ips.ips()[0]);
        for &ip in &ips.ips()[2..] {
            out.push(ip);
        }
    }
}

struct Errno(i32);

impl Errno {
    fn save() -> Errno {
        // SAFETY: errno is thread-local.
        Errno(unsafe { *libc::__errno_location() })
    }
    fn restore(self) {
        // SAFETY: errno is thread-local.
        unsafe { *libc::__errno_location() = self.0 };
    }
}

fn on_sigprof_address() -> libc::sighandler_t {
    sigaction::address(on_sigprof)
}

/// The current `SIGPROF` handler.
fn current_handler() -> Result<libc::sighandler_t, CpuError> {
    sigaction::current(libc::SIGPROF).map_err(|source| CpuError::Os {
        call: "sigaction(SIGPROF)",
        source,
    })
}

/// Makes holmes' handler the `SIGPROF` handler, over `SIG_DFL` or `SIG_IGN` only. It is
/// never uninstalled (see the module docs).
fn ensure_installed() -> Result<(), CpuError> {
    sigaction::ensure(libc::SIGPROF, on_sigprof, true).map_err(|r| match r {
        sigaction::Refused::InUse => CpuError::SignalInUse,
        sigaction::Refused::Os(source) => CpuError::Os {
            call: "sigaction(SIGPROF)",
            source,
        },
    })
}

fn itimerval(period_us: i64) -> libc::itimerval {
    let tv = libc::timeval {
        tv_sec: 0,
        tv_usec: period_us as _, // `suseconds_t`: deprecated by name on musl
    };
    libc::itimerval {
        it_interval: tv,
        it_value: tv,
    }
}

fn is_armed(it: &libc::itimerval) -> bool {
    let zero = |tv: &libc::timeval| tv.tv_sec == 0 && tv.tv_usec == 0;
    !zero(&it.it_value) || !zero(&it.it_interval)
}

/// Sets `ITIMER_PROF` to `new`, returning what it was, in one call.
fn swap_timer(new: &libc::itimerval) -> Result<libc::itimerval, CpuError> {
    // SAFETY: valid itimervals.
    unsafe {
        let mut old: libc::itimerval = std::mem::zeroed();
        if libc::setitimer(libc::ITIMER_PROF, new, &mut old) != 0 {
            return Err(os_error("setitimer(ITIMER_PROF)"));
        }
        Ok(old)
    }
}

/// Arms holmes' timer unless someone else's is armed (then that one is put back).
fn arm_timer() -> Result<(), CpuError> {
    let old = swap_timer(&itimerval(PERIOD_US))?;
    if is_armed(&old) {
        let _ = swap_timer(&old);
        return Err(CpuError::TimerInUse);
    }
    Ok(())
}

/// Disarms holmes' timer; a timer with another period is the host's and is put back.
/// True when the host had re-armed it.
fn disarm_timer() -> bool {
    let Ok(old) = swap_timer(&itimerval(0)) else {
        return false;
    };
    let ours = old.it_interval.tv_sec == 0
        && old.it_interval.tv_usec == itimerval(PERIOD_US).it_interval.tv_usec;
    if !ours && is_armed(&old) {
        let _ = swap_timer(&old);
        return true;
    }
    false
}

/// Profiles the process for `duration`, or until `shutdown` is disconnected.
pub fn capture(
    duration: Duration,
    shutdown: &Receiver<()>,
    sym: &mut Symbolizer,
) -> Result<CpuCapture, CpuError> {
    crate::fork::on_fork_child(reset_after_fork);
    let _lock = CaptureLock::take()?;
    stack::ensure_chosen();
    if stack::uses_dwarf() {
        stack::dwarf::prepare(); // objects loaded since the last capture
    }
    let cap = MAX_SAMPLES.min(
        (duration.as_secs_f64() * FREQUENCY_HZ as f64 * available_cpus() as f64 * 1.5) as usize
            + 64,
    );
    let mut code = Vec::new();
    stack::maps::for_each_mapping(|m| {
        if m.readable() && m.perms[2] == b'x' {
            code.push((m.start, m.end));
        }
        true
    });
    let buffer = Box::new(Buffer {
        code: code.into_boxed_slice(),
        next: AtomicUsize::new(0),
        dropped: AtomicU64::new(0),
        slots: (0..cap)
            .map(|_| Slot {
                ready: AtomicBool::new(false),
                tid: AtomicU64::new(0),
                stack: std::cell::UnsafeCell::new(Stack::empty()),
            })
            .collect(),
    });
    ensure_installed()?;
    let raw = Box::into_raw(buffer);
    BUFFER.store(raw, Ordering::SeqCst);
    let t0 = Instant::now();
    let c0 = crate::sample::process_cpu_time().unwrap_or_default();
    let armed = arm_timer();
    let mut timer_taken = false;
    if armed.is_ok() {
        let _ = shutdown.recv_timeout(duration);
        timer_taken = disarm_timer();
    }
    let elapsed = t0.elapsed();
    let cpu_time = crate::sample::process_cpu_time()
        .unwrap_or_default()
        .saturating_sub(c0);
    BUFFER.store(std::ptr::null_mut(), Ordering::SeqCst);
    while IN_HANDLER.load(Ordering::SeqCst) != 0 {
        std::thread::yield_now();
    }
    // SAFETY: no handler can reach the buffer any more (see the module docs).
    let buffer = unsafe { Box::from_raw(raw) };
    armed?;
    let handler_taken = current_handler().is_ok_and(|h| h != on_sigprof_address());
    let host_took_over = match (handler_taken, timer_taken) {
        (false, false) => None,
        (true, false) => Some(Takeover::Handler),
        (false, true) => Some(Takeover::Timer),
        (true, true) => Some(Takeover::HandlerAndTimer),
    };

    // The kernel delivers ITIMER_PROF on its tick (250 Hz here), so the real rate is
    // below 99 Hz (1/99 s rounds up to 3 ticks: ~83 Hz). Each sample is therefore worth
    // the measured CPU time divided by the samples taken, not the nominal period, so
    // the profile's total equals the CPU time the process really used.
    // Thread names first, before symbolizing (which takes a while): a thread that
    // exits meanwhile would only be known by its tid.
    let mut names = std::collections::HashMap::new();
    let mut taken = buffer.dropped.load(Ordering::Relaxed) as usize;
    for slot in buffer
        .slots
        .iter()
        .filter(|s| s.ready.load(Ordering::Acquire))
    {
        taken += 1;
        let tid = slot.tid.load(Ordering::Relaxed);
        names.entry(tid).or_insert_with(|| thread_name(tid));
    }
    let nominal = 1_000_000_000 / FREQUENCY_HZ as i64;
    let period = if taken > 0 && !cpu_time.is_zero() {
        (cpu_time.as_nanos() / taken as u128) as i64
    } else {
        nominal
    };
    let mut b = ProfileBuilder::new(
        sym,
        &[("samples", "count"), ("cpu", "nanoseconds")],
        ("cpu", "nanoseconds"),
        nominal,
        "cpu",
    );
    for slot in buffer.slots.iter() {
        if !slot.ready.load(Ordering::Acquire) {
            continue;
        }
        // SAFETY: `ready` was set after the handler finished writing.
        let stack = unsafe { &*slot.stack.get() };
        let tid = slot.tid.load(Ordering::Relaxed);
        let name = names.get(&tid).map_or("?", String::as_str);
        b.add(stack.ips(), true, &[1, period], &[("thread", name)]);
    }
    b.duration(elapsed);
    let dropped = buffer.dropped.load(Ordering::Relaxed);
    if dropped > 0 {
        b.comment(&format!("{dropped} samples dropped (buffer of {cap} full)"));
    }
    if let Some(t) = host_took_over {
        b.comment(&format!("during the capture {t}; holmes left it in place"));
    }
    Ok(CpuCapture {
        profile: b.build(),
        duration: elapsed,
        cpu_time,
        dropped,
        host_took_over,
    })
}

fn available_cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

fn thread_name(tid: u64) -> String {
    std::fs::read_to_string(format!("/proc/self/task/{tid}/comm"))
        .map(|s| s.trim_end().to_owned())
        .unwrap_or_else(|_| format!("tid {tid}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[inline(never)]
    fn hot_leaf_for_cpu_test(stop: &std::sync::atomic::AtomicBool) -> u64 {
        let mut x = 1u64;
        while !stop.load(Ordering::Relaxed) {
            for i in 0..10_000u64 {
                x = std::hint::black_box(x.rotate_left(3) ^ i);
            }
        }
        x
    }

    #[test]
    fn samples_name_the_running_function() {
        let (_tx, rx) = crossbeam_channel::bounded::<()>(0);
        // The spinner outlives the capture, so its name is still readable afterwards.
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop2 = stop.clone();
        let spinner = std::thread::Builder::new()
            .name("cpu-test-spin".into())
            .spawn(move || hot_leaf_for_cpu_test(&stop2))
            .unwrap();
        let mut sym = Symbolizer::new();
        let c = capture(Duration::from_millis(600), &rx, &mut sym).unwrap();
        stop.store(true, Ordering::Relaxed);
        spinner.join().unwrap();
        // Other tests of this binary run meanwhile: judge the spinner's own samples.
        let p = &c.profile;
        let s = |i: i64| p.string_table[i as usize].as_str();
        let fn_name = |loc_id: u64| {
            let loc = p.location.iter().find(|l| l.id == loc_id).unwrap();
            loc.line
                .iter()
                .map(|l| {
                    s(p.function
                        .iter()
                        .find(|f| f.id == l.function_id)
                        .unwrap()
                        .name)
                })
                .collect::<Vec<_>>()
                .join(" ")
        };
        let spinner_samples: Vec<_> = p
            .sample
            .iter()
            .filter(|smp| smp.label.iter().any(|l| s(l.str) == "cpu-test-spin"))
            .collect();
        assert!(!spinner_samples.is_empty(), "no samples of the spinner");
        let naming = spinner_samples
            .iter()
            .filter(|smp| {
                smp.location_id
                    .iter()
                    .any(|&id| fn_name(id).contains("hot_leaf_for_cpu_test"))
            })
            .count();
        assert!(
            naming * 10 >= spinner_samples.len() * 9,
            "{naming} of {} spinner samples name the running function",
            spinner_samples.len()
        );
        assert!(c.cpu_time > Duration::ZERO);
        assert_eq!(c.host_took_over, None);
        // The handler stays (a late SIGPROF finds it), the timer is disarmed.
        assert_eq!(current_handler().unwrap(), on_sigprof_address());
        let mut it: libc::itimerval = unsafe { std::mem::zeroed() };
        unsafe { libc::getitimer(libc::ITIMER_PROF, &mut it) };
        assert!(!is_armed(&it));
    }
}
