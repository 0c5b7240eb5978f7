//! The signal-driven capture: a process-wide slot pool, the handler that fills one slot
//! from inside the interrupted thread, and the capturer that requests and collects.
//!
//! # Protocol
//! Every slot carries a state word `generation << 8 | phase`. For capture `g`, the
//! capturer (holding the process-wide capture lock) first makes sure no handler of an
//! earlier capture is still inside the pool, rewrites the memory-map snapshot, then for
//! thread `i` stores `(g, REQUESTED)` into slot `i` (release) and sends the dump signal
//! carrying `g << 32 | i` as its value. The handler:
//! 1. moves slot `i` from `(g, REQUESTED)` to `(g, WRITING)` with one compare-exchange
//!    (acquire): if it fails, the signal is late (the capturer gave up, or the slot
//!    belongs to a later capture) and the handler returns without touching anything;
//! 2. reads PC/FP/SP from the `ucontext`, finds the stack bounds around SP by binary
//!    search in the snapshot, walks the frame pointers into a local [`Stack`] and
//!    copies it into the slot (relaxed atomics);
//! 3. decrements the pool's `remaining` counter (waking the capturer through a futex
//!    when it reaches zero) and publishes `(g, DONE)` with a release store.
//!
//! At its deadline the capturer turns every `(g, REQUESTED)` into `(g, ABANDONED)`; a
//! `(g, WRITING)` slot is waited for briefly and otherwise left alone: the next capture
//! does not rewrite a pool while a handler is writing into it — it waits, and if that
//! handler still does not finish it moves to a fresh pool. Pools are leaked, never
//! freed, so a handler that runs arbitrarily late (its signal stayed pending while the
//! thread blocked it) only ever reads and writes live memory, and finds a state word
//! that tells it to go away.

use std::cell::UnsafeCell;
use std::io;
use std::sync::atomic::{
    AtomicBool, AtomicI32, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering,
};
use std::time::{Duration, Instant, SystemTime};

use super::{procfs, CaptureError, StackStatus, ThreadDump, ThreadInfo, ThreadState};
use crate::stack::{self, Stack, MAX_FRAMES};

/// The real-time signal used to ask a thread for its stack: `SIGRTMIN() + 6`
/// (signal 40 with glibc, 41 with musl).
///
/// Why this one: a real-time signal is queued per thread and has no meaning to libc,
/// the Rust runtime or common libraries, unlike `SIGPROF` (CPU profilers, including
/// holmes's own CPU dump), `SIGUSR1`/`SIGUSR2` (applications) or `SIGURG` (Go). The
/// lowest real-time numbers (`SIGRTMIN`…`SIGRTMIN + 2`) are what applications and
/// `timer_create(SIGEV_SIGNAL)` users usually take, and Valgrind reserves `SIGRTMAX`,
/// hence a number in between. If another handler is already installed for it,
/// capturing refuses with [`CaptureError::SignalInUse`] instead of replacing it.
pub fn dump_signal() -> i32 {
    libc::SIGRTMIN() + 6
}

mod handler;
mod pool;

use handler::*;
pub(crate) use pool::reset_after_fork;
use pool::*;

/// Makes holmes' handler the dump signal's handler, checked before every capture: it is
/// installed over `SIG_DFL` and then kept for the life of the process (a request still
/// queued on a thread that blocks the signal must find it, not the default action, which
/// would kill the process). A handler the host installed meanwhile, or `SIG_IGN`, is not
/// replaced: the capture refuses with [`CaptureError::SignalInUse`].
fn ensure_installed() -> Result<(), CaptureError> {
    let signal = dump_signal();
    crate::dump::sigaction::ensure(signal, on_dump_signal, false).map_err(|r| match r {
        crate::dump::sigaction::Refused::InUse => CaptureError::SignalInUse { signal },
        crate::dump::sigaction::Refused::Os(source) => {
            CaptureError::InstallHandler { signal, source }
        }
    })
}

fn send(pid: i32, uid: libc::uid_t, tid: u32, sig: i32, value: usize) -> io::Result<()> {
    let info = QueuedSigInfo {
        signo: sig,
        errno: 0,
        code: SI_QUEUE,
        _pad: 0,
        pid,
        uid,
        value,
        _rest: [0; 128 - 32],
    };
    // SAFETY: rt_tgsigqueueinfo reads a 128-byte siginfo_t from a valid pointer; we
    // only target threads of our own process.
    let r = unsafe {
        libc::syscall(
            libc::SYS_rt_tgsigqueueinfo,
            pid,
            tid as libc::pid_t,
            sig,
            &info as *const QueuedSigInfo,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Takes the capture lock, waiting for it until `deadline` at most.
fn lock(deadline: Instant) -> Result<Held, CaptureError> {
    let start = Instant::now();
    loop {
        if CAPTURER
            .held
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            return Ok(Held(&CAPTURER));
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(CaptureError::Busy {
                waited: now - start,
            });
        }
        std::thread::sleep((deadline - now).min(Duration::from_millis(1)));
    }
}

/// A pool with room for `threads` slots and `maps` mappings that no handler is using.
/// A handler still writing into it is waited for 20 ms at most, and not past `deadline`.
fn ready_pool(
    c: &mut Capturer,
    threads: usize,
    maps: usize,
    deadline: Instant,
) -> Result<&'static Pool, CaptureError> {
    if let Some(pool) = c.pool {
        pool.abandon_leftovers();
        let deadline = deadline.min(Instant::now() + Duration::from_millis(20));
        while pool.writing() && Instant::now() < deadline {
            std::thread::yield_now();
        }
        let stuck = pool.writing();
        if !stuck && pool.slots.len() >= threads && pool.maps_lo.len() >= maps {
            return Ok(pool);
        }
        if stuck {
            if c.abandoned_pools >= MAX_ABANDONED_POOLS {
                return Err(CaptureError::HandlerStuck);
            }
            c.abandoned_pools += 1;
        }
    }
    // Grow geometrically so repeated captures of a growing process leak little.
    let old = c.pool.map_or((0, 0), |p| (p.slots.len(), p.maps_lo.len()));
    let slots = (threads + threads / 2 + 16).max(old.0);
    let maps_cap = (maps + maps / 2 + 64).max(old.1);
    let pool: &'static Pool = Box::leak(Box::new(Pool::new(slots, maps_cap)));
    POOL.store(pool as *const Pool as *mut Pool, Ordering::Release);
    c.pool = Some(pool);
    Ok(pool)
}

/// Captures the current thread's stack, innermost first (return addresses only).
#[inline(never)]
fn capture_self() -> Vec<usize> {
    let mut s = Stack::empty();
    stack::capture_current(&mut s);
    s.ips().to_vec()
}

/// What happened to one listed thread.
struct Entry {
    tid: u32,
    name: String,
    state: ThreadState,
    status: StackStatus,
    stack: Option<Vec<usize>>,
    first_is_pc: bool,
    handler_ns: Option<u64>,
    /// Slot index while a request is outstanding.
    slot: Option<usize>,
    /// Name and state were read (with the signal masks, before the thread was asked).
    described: bool,
}

pub(super) fn capture(timeout: Duration) -> Result<ThreadDump, CaptureError> {
    let captured_at = SystemTime::now();
    let started = Instant::now();
    let deadline = crate::clock::later(started, timeout);
    let mut guard = lock(deadline)?;
    let c = &mut *guard;
    ensure_installed()?;
    stack::ensure_chosen();
    if stack::uses_dwarf() {
        stack::dwarf::prepare(); // objects loaded since the last capture
    }
    let sig = dump_signal();
    let pid = std::process::id() as i32;
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    let me = gettid();

    let tids = procfs::list_tasks().map_err(CaptureError::ListThreads)?;
    let dir = procfs::TaskDir::open().map_err(CaptureError::ListThreads)?;
    let mut entries: Vec<Entry> = tids
        .iter()
        .map(|&tid| Entry {
            tid,
            name: String::new(),
            state: ThreadState::Dead,
            status: StackStatus::TimedOut,
            stack: None,
            first_is_pc: true,
            handler_ns: None,
            slot: None,
            described: false,
        })
        .collect();

    let mut maps = Vec::with_capacity(256);
    let ok = stack::maps::for_each_mapping(|m| {
        if m.readable() {
            maps.push((m.start, m.end, m.perms[2] == b'x'));
        }
        true
    });
    if !ok {
        return Err(CaptureError::ReadMaps(io::Error::last_os_error()));
    }
    maps.sort_unstable();

    let pool = ready_pool(c, entries.len(), maps.len(), deadline)?;
    for (i, &(lo, hi, exec)) in maps.iter().enumerate() {
        pool.maps_lo[i].store(lo, Ordering::Relaxed);
        pool.maps_hi[i].store(hi, Ordering::Relaxed);
        pool.maps_exec[i].store(exec, Ordering::Relaxed);
    }
    pool.maps_len.store(maps.len(), Ordering::Relaxed);
    pool.pid.store(pid, Ordering::Relaxed);
    pool.remaining.store(0, Ordering::Relaxed);
    c.generation = c.generation.wrapping_add(1).max(1);
    let gen = c.generation;

    // 1. Ask every thread that can take the signal. Nothing slow happens between two
    //    sends. A thread that blocks the signal is not asked: the request would stay
    //    queued on it, and a program that later resets the signal to SIG_DFL and
    //    unblocks it, or re-executes itself (the mask and the queue survive `execve`,
    //    the handler does not), would be killed by it. A sleeping one (a `sigwait`
    //    thread) is reported at once; a runnable one is usually in a short blocked
    //    section (glibc's `pthread_create` blocks every signal while it sets a thread
    //    up) and is looked at again until the deadline, and asked once it unblocks.
    let ask = |e: &mut Entry, i: usize| {
        let slot = &pool.slots[i];
        slot.state.store(word(gen, REQUESTED), Ordering::Release);
        pool.remaining.fetch_add(1, Ordering::AcqRel);
        match send(pid, uid, e.tid, sig, ((gen as usize) << 32) | i) {
            Ok(()) => e.slot = Some(i),
            Err(err) => {
                // The handler cannot have run: take the request back.
                slot.state.store(word(gen, ABANDONED), Ordering::Release);
                pool.remaining.fetch_sub(1, Ordering::AcqRel);
                e.status = if err.raw_os_error() == Some(libc::ESRCH) {
                    StackStatus::Exited
                } else {
                    StackStatus::SendFailed(err.raw_os_error().unwrap_or(0))
                };
            }
        }
    };
    let mut ask_later = Vec::new();
    for (i, e) in entries.iter_mut().enumerate() {
        if e.tid == me {
            e.stack = Some(capture_self());
            e.first_is_pc = false;
            e.status = StackStatus::Captured;
            continue;
        }
        match blocks(&dir, e, sig) {
            Blocks::Gone => e.status = StackStatus::Exited,
            Blocks::Asleep => e.status = StackStatus::SignalBlocked,
            Blocks::ForNow => ask_later.push(i),
            Blocks::No => ask(e, i),
        }
    }

    // 2. Collect the answers already in, and read those threads' name and state while
    //    the others are still answering (on other cores). A thread's state is read
    //    right after its handler returned: what it went back to doing.
    let mut deferred = Vec::new();
    for (k, e) in entries.iter_mut().enumerate() {
        if let Some(i) = e.slot {
            if pool.slots[i].state.load(Ordering::Acquire) != word(gen, DONE) {
                deferred.push(k);
                continue;
            }
            collect(e, &pool.slots[i], gen);
        }
        describe(&dir, e);
    }

    // 3. Wait for the rest, or the deadline, asking the threads that unblock the
    //    signal meanwhile. A thread that exits after it was signalled never answers,
    //    and one that blocks the signal answers only when it unblocks it: probe the
    //    stragglers so neither costs the whole deadline.
    // Signal masks are read every 10 ms, not once: a thread may only block the
    // signal and fall asleep after the first look (found by `tests/threads_stress.rs`:
    // a thread still setting up at the first check cost the dump its whole deadline).
    const MASK_PERIOD: Duration = Duration::from_millis(10);
    let mut next_mask_check = Instant::now() + MASK_PERIOD;
    loop {
        let left = pool.remaining.load(Ordering::Acquire);
        let now = Instant::now();
        if (left == 0 && ask_later.is_empty()) || now >= deadline {
            break;
        }
        let nap = if ask_later.is_empty() { 2 } else { 1 };
        crate::futex::wait(
            &pool.remaining,
            left,
            (deadline - now).min(Duration::from_millis(nap)),
        );
        ask_later.retain(|&k| {
            let e = &mut entries[k];
            match blocks(&dir, e, sig) {
                Blocks::ForNow => return true,
                Blocks::Gone => e.status = StackStatus::Exited,
                Blocks::Asleep => e.status = StackStatus::SignalBlocked,
                Blocks::No => {
                    ask(e, k);
                    if e.slot.is_some() {
                        deferred.push(k);
                    }
                }
            }
            if e.slot.is_none() {
                describe(&dir, e);
            }
            false
        });
        if pool.remaining.load(Ordering::Acquire) == 0 && ask_later.is_empty() {
            break;
        }
        let now = Instant::now();
        let check_masks = now >= next_mask_check;
        if check_masks {
            next_mask_check = now + MASK_PERIOD;
        }
        for &k in &deferred {
            let e = &mut entries[k];
            let Some(i) = e.slot else { continue };
            let why = if !alive(pid, e.tid) {
                StackStatus::Exited
            } else if check_masks && refuses(&dir, e.tid, sig) {
                StackStatus::SignalBlocked
            } else {
                continue;
            };
            if abandon(pool, i, gen) {
                e.slot = None;
                e.status = why;
            }
        }
    }
    // Still blocking the signal at the deadline: never asked.
    for k in ask_later {
        let e = &mut entries[k];
        e.status = StackStatus::SignalBlocked;
        describe(&dir, e);
    }
    // A handler caught mid-walk at the deadline gets 1 ms more, once for all of them.
    let grace_end = crate::clock::later(deadline.max(Instant::now()), Duration::from_millis(1));
    for k in deferred {
        let e = &mut entries[k];
        let Some(i) = e.slot else {
            describe(&dir, e); // abandoned while waiting
            continue;
        };
        let slot = &pool.slots[i];
        if abandon(pool, i, gen) {
            e.slot = None;
            e.status = not_answered(&dir, e.tid, sig);
        } else {
            if slot.state.load(Ordering::Acquire) == word(gen, WRITING) {
                // A handler is mid-walk: it finishes in microseconds unless descheduled.
                while slot.state.load(Ordering::Acquire) == word(gen, WRITING)
                    && Instant::now() < grace_end
                {
                    std::thread::yield_now();
                }
            }
            collect(e, slot, gen);
        }
        describe(&dir, e);
    }
    drop(guard);

    let threads = entries
        .into_iter()
        .map(|e| ThreadInfo {
            tid: e.tid,
            name: e.name,
            state: e.state,
            status: e.status,
            stack: e.stack,
            first_is_pc: e.first_is_pc,
            interrupted_for: e.handler_ns.map(Duration::from_nanos),
            is_capturing_thread: e.tid == me,
        })
        .collect();
    Ok(ThreadDump {
        pid: pid as u32,
        threads,
        captured_at,
        capture_duration: started.elapsed(),
        timeout,
        signal: sig,
    })
}

/// Withdraws the request in slot `i` if its handler has not started; true if withdrawn.
fn abandon(pool: &Pool, i: usize, gen: u32) -> bool {
    let ok = pool.slots[i]
        .state
        .compare_exchange(
            word(gen, REQUESTED),
            word(gen, ABANDONED),
            Ordering::AcqRel,
            Ordering::Acquire,
        )
        .is_ok();
    if ok {
        pool.remaining.fetch_sub(1, Ordering::AcqRel);
    }
    ok
}

/// False once thread `tid` of process `pid` has exited (`tgkill` with signal 0).
fn alive(pid: i32, tid: u32) -> bool {
    // SAFETY: signal 0 only checks that the thread exists.
    let r = unsafe { libc::syscall(libc::SYS_tgkill, pid, tid as libc::pid_t, 0) };
    !(r != 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH))
}

/// Takes the answer out of `slot` if it is `(gen, DONE)`; otherwise marks the thread
/// as late.
fn collect(e: &mut Entry, slot: &Slot, gen: u32) {
    e.slot = None;
    if slot.state.load(Ordering::Acquire) != word(gen, DONE) {
        e.status = StackStatus::TimedOut;
        return;
    }
    let n = slot.len.load(Ordering::Relaxed).min(MAX_FRAMES);
    e.stack = Some(
        slot.ips[..n]
            .iter()
            .map(|a| a.load(Ordering::Relaxed))
            .collect(),
    );
    e.handler_ns = Some(slot.handler_ns.load(Ordering::Relaxed));
    e.status = StackStatus::Captured;
}

/// Fills in name and state unless read already; a thread gone from `/proc` without a
/// stack has exited.
fn describe(dir: &procfs::TaskDir, e: &mut Entry) {
    if e.described {
        return;
    }
    match dir.stat(e.tid) {
        Some((name, state)) => {
            e.name = name;
            e.state = state;
        }
        None if e.stack.is_none() => e.status = StackStatus::Exited,
        None => {}
    }
}

/// True when thread `tid` holds our request back and is asleep, so it cannot answer
/// before it wakes up. A runnable thread with the signal blocked is usually in a short
/// blocked section (glibc's `pthread_create` blocks every signal while it creates the
/// thread) and answers as soon as it gets a CPU: it is waited for until the deadline.
fn refuses(dir: &procfs::TaskDir, tid: u32, sig: i32) -> bool {
    dir.status(tid).is_some_and(|st| {
        st.masks.holds_back(sig)
            && matches!(st.state, ThreadState::Sleeping | ThreadState::DiskWait)
    })
}

/// Whether a thread blocks the dump signal, before it is asked.
enum Blocks {
    /// It does not: ask it.
    No,
    /// It does and is runnable: probably a short blocked section; look again.
    ForNow,
    /// It does and sleeps (a `sigwait` thread): it would not answer.
    Asleep,
    /// The thread is gone.
    Gone,
}

/// Reads the thread's status once: its name and state go into `e` (the state it is in
/// when asked), the masks decide.
fn blocks(dir: &procfs::TaskDir, e: &mut Entry, sig: i32) -> Blocks {
    let Some(st) = dir.status(e.tid) else {
        return Blocks::Gone;
    };
    e.name = st.name;
    e.state = st.state;
    e.described = true;
    if !st.masks.is_blocked(sig) {
        Blocks::No
    } else if matches!(st.state, ThreadState::Sleeping | ThreadState::DiskWait) {
        Blocks::Asleep
    } else {
        Blocks::ForNow
    }
}

/// Why a signalled thread did not answer, from its signal masks.
fn not_answered(dir: &procfs::TaskDir, tid: u32, sig: i32) -> StackStatus {
    match dir.sigmasks(tid) {
        None => StackStatus::Exited,
        Some(m) if m.holds_back(sig) => StackStatus::SignalBlocked,
        Some(_) => StackStatus::TimedOut,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "x86_64")]
    use crate::stack::follows_call;

    fn pool_with(maps: &[(usize, usize, bool)]) -> Pool {
        let p = Pool::new(1, maps.len());
        for (i, &(lo, hi, x)) in maps.iter().enumerate() {
            p.maps_lo[i].store(lo, Ordering::Relaxed);
            p.maps_hi[i].store(hi, Ordering::Relaxed);
            p.maps_exec[i].store(x, Ordering::Relaxed);
        }
        p.maps_len.store(maps.len(), Ordering::Relaxed);
        p
    }

    // Broke: a handler stuck in an earlier capture (descheduled mid-walk, or stopped by a
    // debugger) made every later capture wait 20 ms for it, past its own deadline.
    #[test]
    fn a_stuck_handler_of_an_earlier_capture_does_not_stretch_the_deadline() {
        // Other tests of this binary capture too: hold the lock, put POOL back after.
        let held = lock(Instant::now() + Duration::from_secs(30)).expect("capture lock");
        let stuck: &'static Pool = Box::leak(Box::new(Pool::new(4, 4)));
        stuck.slots[1]
            .state
            .store(word(7, WRITING), Ordering::Release);
        let mut c = Capturer::new();
        c.pool = Some(stuck);
        let t0 = Instant::now();
        let pool = ready_pool(&mut c, 2, 2, t0).expect("a fresh pool");
        assert!(
            t0.elapsed() < Duration::from_millis(15),
            "waited {:?} past the deadline",
            t0.elapsed()
        );
        assert!(!std::ptr::eq(pool, stuck), "the stuck pool is not reused");
        assert_eq!(c.abandoned_pools, 1);
        // The handler pointer now names the fresh pool; put back the real capturer's.
        let real = held
            .pool
            .map_or(std::ptr::null_mut(), |p| p as *const Pool as *mut Pool);
        POOL.store(real, Ordering::Release);
        drop(held);
    }

    #[test]
    fn finds_mappings_by_binary_search() {
        let p = pool_with(&[
            (0x1000, 0x2000, true),
            (0x3000, 0x5000, false),
            (0x5000, 0x6000, true),
        ]);
        assert_eq!(p.find(0xfff), None);
        assert_eq!(p.find(0x1000), Some(0));
        assert_eq!(p.find(0x1fff), Some(0));
        assert_eq!(p.find(0x2000), None); // gap
        assert_eq!(p.find(0x4fff), Some(1));
        assert_eq!(p.find(0x5000), Some(2));
        assert_eq!(p.find(0x6000), None);
        assert_eq!(p.code(0x4000), None); // not executable
        assert_eq!(p.code(0x5800), Some(2));
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn recognises_call_sites() {
        let check = |code: &[u8]| {
            let lo = code.as_ptr() as usize;
            // SAFETY: [lo, lo + len) is the slice.
            unsafe { follows_call(lo + code.len(), (lo, lo + code.len())) }
        };
        assert!(check(&[0x90, 0xE8, 1, 2, 3, 4])); // call rel32
        assert!(check(&[0xFF, 0x15, 1, 2, 3, 4])); // call [rip+disp32]
        assert!(check(&[0x90, 0x41, 0xFF, 0xD3])); // call r11
        assert!(check(&[0x90, 0xFF, 0x50, 0x08])); // call [rax+8]
        assert!(check(&[0xFF, 0x90, 0x38, 0x06, 0, 0])); // call [rax+0x638]
        assert!(check(&[0x90, 0xFF, 0x54, 0x24, 0x08])); // call [rsp+8]
        assert!(check(&[0x90, 0xFF, 0xD0])); // call rax
        assert!(check(&[0x90, 0xFF, 0x10])); // call [rax]
        assert!(!check(&[0x90, 0xFF, 0xE0])); // jmp rax
        assert!(!check(&[0x90, 0x90, 0x90, 0x90, 0x90, 0x90]));
        assert!(!check(&[0xE8])); // would read before the mapping
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn return_addresses_of_a_real_stack_follow_calls() {
        let mut s = Stack::empty();
        stack::capture_current(&mut s);
        assert!(s.len() >= 2);
        for &ra in s.ips() {
            let (lo, hi) = stack::maps::find_mapping(ra).expect("code mapping");
            // SAFETY: [lo, hi) is a readable mapping containing ra.
            // SAFETY: [lo, hi) is a readable mapping containing ra; the bytes read
            // (for the message) lie in it too (a call is at least 2 bytes long).
            let (ok, before) = unsafe {
                let before: Vec<u8> = (1..=8.min(ra - lo))
                    .rev()
                    .map(|b| ((ra - b) as *const u8).read())
                    .collect();
                (follows_call(ra, (lo, hi)), before)
            };
            assert!(ok, "no call before {ra:#x}: {before:02x?}");
        }
    }
}
