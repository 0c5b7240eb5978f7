//! The dump signal's handler: runs inside the interrupted thread, in signal context —
//! no allocation, no lock, no libgcc, no panic path; it claims its slot, walks the
//! thread's stack from the `ucontext` and publishes the frames (see the parent module's
//! protocol).

use super::*;
/// `si_code` of a signal sent with `sigqueue`/`rt_tgsigqueueinfo`.
pub(super) const SI_QUEUE: i32 = -1;

/// The leading fields of the kernel's `siginfo_t` for a queued signal, on 64-bit Linux
/// (`si_signo`, `si_errno`, `si_code`, padding, then the `_rt` union member).
#[repr(C)]
pub(super) struct QueuedSigInfo {
    pub(super) signo: libc::c_int,
    pub(super) errno: libc::c_int,
    pub(super) code: libc::c_int,
    pub(super) _pad: libc::c_int,
    pub(super) pid: libc::pid_t,
    pub(super) uid: libc::uid_t,
    pub(super) value: usize,
    pub(super) _rest: [u8; 128 - 32],
}

pub(super) fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer; CLOCK_MONOTONIC always exists. clock_gettime
    // is async-signal-safe (POSIX) and served by the vDSO on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

pub(super) fn gettid() -> u32 {
    // SAFETY: gettid has no arguments and cannot fail.
    unsafe { libc::syscall(libc::SYS_gettid) as u32 }
}

/// The signal handler. Async-signal-safe: no allocation, no lock, no libgcc, no panic
/// path; errno is saved and restored.
pub(super) extern "C" fn on_dump_signal(
    _sig: libc::c_int,
    info: *mut libc::siginfo_t,
    ctx: *mut libc::c_void,
) {
    // SAFETY: __errno_location returns this thread's errno slot; always valid.
    let errno = unsafe { libc::__errno_location() };
    // SAFETY: see above.
    let saved = unsafe { *errno };
    let t0 = monotonic_ns();
    if !info.is_null() && !ctx.is_null() {
        // SAFETY: the kernel passes a valid siginfo_t (128 bytes) and ucontext_t to an
        // SA_SIGINFO handler; QueuedSigInfo is a 128-byte prefix-compatible view.
        unsafe { answer(&*(info as *const QueuedSigInfo), ctx, t0) };
    }
    // SAFETY: see above.
    unsafe { *errno = saved };
}

/// # Safety
/// Called only from [`on_dump_signal`] with the kernel's context pointer.
#[inline(always)]
pub(super) unsafe fn answer(info: &QueuedSigInfo, ctx: *mut libc::c_void, t0: u64) {
    let pool = POOL.load(Ordering::Acquire);
    if pool.is_null() || info.code != SI_QUEUE {
        return;
    }
    // SAFETY: non-null pool pointers come from Box::leak and are never freed.
    let pool = unsafe { &*pool };
    if info.pid != pool.pid.load(Ordering::Relaxed) {
        return;
    }
    let gen = (info.value >> 32) as u32;
    let Some(slot) = pool.slots.get(info.value & 0xffff_ffff) else {
        return;
    };
    if slot
        .state
        .compare_exchange(
            word(gen, REQUESTED),
            word(gen, WRITING),
            Ordering::Acquire,
            Ordering::Relaxed,
        )
        .is_err()
    {
        return; // late or foreign: not ours to answer
    }
    // SAFETY: ctx is the kernel's ucontext_t (contract of this function).
    let (pc, fp, sp) = unsafe { stack::registers(ctx) }.unwrap_or((0, 0, 0));
    let mut walked = Stack::empty();
    let mut leaf_caller = None;
    let mut by_cfi = false;
    if let Some(i) = pool.find(sp).filter(|_| stack::uses_dwarf()) {
        let (_, hi) = pool.range(i);
        let regs = stack::dwarf::Regs {
            pc,
            sp,
            fp,
            // SAFETY: ctx is the kernel's ucontext_t.
            lr: unsafe { stack::dwarf::context_lr(ctx) },
        };
        // SAFETY: [sp, hi) is the live part of this thread's own stack (see below).
        by_cfi = unsafe { stack::dwarf::walk(regs, sp, hi, &mut walked) };
    }
    if by_cfi {
        // `walked` holds the PC and its callers.
    } else if let Some(i) = pool.find(sp) {
        let (_, hi) = pool.range(i);
        // SAFETY: [sp, hi) is the live part of the stack this very thread is running
        // on (the handler runs on it, below sp), so it stays mapped during the walk.
        unsafe { stack::walk(fp, sp, hi, &mut walked) };
        // SAFETY: same range as the walk.
        let leaf = unsafe { caller_of_foreign_leaf(pool, pc, sp, fp, hi, &walked) };
        if let Some((_, at)) = leaf.filter(|&(_, at)| walked.is_empty() && at > sp) {
            // FP held no frame pointer (the interrupted code, built without them, uses
            // the register for something else: musl's `syscall` keeps the syscall
            // number there). Code that saved the caller's frame pointer on entry
            // (`push rbp`; `stp x29, x30`) left it right below the return address:
            // walk on from there. A wrong guess ends the walk at once (bounds, order).
            // SAFETY: `at` is a word of [sp, hi) above sp, so `at - 8` is one too, and
            // the walk reads inside [at + 8, hi) only.
            unsafe {
                let saved = ((at - std::mem::size_of::<usize>()) as *const usize).read();
                stack::walk(saved, at + std::mem::size_of::<usize>(), hi, &mut walked);
            }
        }
        leaf_caller = leaf.map(|(ret, _)| ret);
    }
    let frames = (!by_cfi)
        .then_some(pc)
        .into_iter()
        .chain(leaf_caller)
        .chain(walked.ips().iter().copied());
    let mut n = 0;
    for (dst, ip) in slot.ips.iter().zip(frames) {
        dst.store(ip, Ordering::Relaxed);
        n += 1;
    }
    slot.len.store(n, Ordering::Relaxed);
    slot.handler_ns
        .store(monotonic_ns().wrapping_sub(t0), Ordering::Relaxed);
    if pool.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
        crate::futex::wake(&pool.remaining);
    }
    slot.state.store(word(gen, DONE), Ordering::Release);
}

/// Most stack words examined above SP for the caller of a frameless leaf.
pub(super) const LEAF_SCAN_WORDS: usize = 16;

/// The return address into the function that called the interrupted one, and the
/// stack word holding it, when the frame-pointer walk cannot see it.
///
/// The walk starts at the frame record of the innermost function that keeps frame
/// pointers. When the thread was interrupted inside a library built without them
/// (glibc's `syscall`, `pthread_cond_wait`, the vDSO…), the Rust function that called
/// into the library has no record yet: its return address sits just above SP, below
/// FP. So, only when the PC lies in a different code mapping than the first walked
/// return address (the interrupted code belongs to another object), the first word in
/// `[sp, min(fp, sp + 16 words))` that points into a code mapping other than the PC's,
/// right after a call instruction, is taken as that return address. When the walk
/// found nothing at all (FP was no frame pointer) and no such word is there, the first
/// one into the PC's own mapping is taken: a statically linked C library (musl)
/// shares the program's. Reads stay inside the stack `[sp, hi)` and inside readable
/// code mappings.
///
/// # Safety
/// `[sp, hi)` must be the live stack of the current thread.
#[inline(always)]
pub(super) unsafe fn caller_of_foreign_leaf(
    pool: &Pool,
    pc: usize,
    sp: usize,
    fp: usize,
    hi: usize,
    walked: &Stack,
) -> Option<(usize, usize)> {
    const WORD: usize = std::mem::size_of::<usize>();
    let pc_map = pool.code(pc)?;
    if let Some(&first) = walked.ips().first() {
        if pool.code(first) == Some(pc_map) {
            return None; // the interrupted code keeps frame pointers like its caller
        }
    }
    let mut end = hi.min(sp.saturating_add(LEAF_SCAN_WORDS * WORD));
    if fp > sp {
        end = end.min(fp);
    }
    let mut same_map = None;
    let mut at = sp;
    while at + WORD <= end {
        // SAFETY: [at, at + WORD) lies inside [sp, hi), the live stack (contract).
        let w = unsafe { (at as *const usize).read() };
        if let Some(m) = pool.code(w) {
            // SAFETY: m is a readable code mapping of the snapshot.
            if (m != pc_map || (walked.is_empty() && same_map.is_none()))
                && unsafe { stack::follows_call(w, pool.range(m)) }
            {
                if m != pc_map {
                    return Some((w, at));
                }
                same_map = Some((w, at));
            }
        }
        at += WORD;
    }
    same_map
}
