//! A thread's stack bounds from its thread pointer, without `/proc/self/maps`.
//!
//! A thread started by `pthread_create` (glibc and musl: every Rust, tokio and C thread
//! but the main one) has its thread control block at the top of its stack mapping, its
//! static TLS next to it and its stack below; the thread pointer names the block. So
//! `[sp, thread pointer)` is live stack and TLS of the calling thread, and asking the
//! kernel to read a byte of each of its pages (into a pipe, see [`readable`]) proves
//! it readable in ~4 µs, instead of parsing the memory map (~40 µs here with 40
//! mappings, longer with more). The proof is what makes it safe, not the layout: a
//! span with any page that cannot be read (a guard page between a signal or coroutine
//! stack and the thread's own, say) is refused and the caller falls back to the maps
//! lookup, which bounds the walk by the one mapping that holds `sp`.
//!
//! The main thread's control block is not above its stack (the loader allocates it
//! elsewhere); its stack ends where glibc's loader recorded the initial stack pointer,
//! `__libc_stack_end`, above every frame of the program, and the same proof makes
//! `[sp, __libc_stack_end)` its bounds. musl records no such thing; there the top is
//! the executable's file name that the kernel copies to the top of the initial stack
//! (`AT_EXECFN`).

/// Spans longer than this between `sp` and the thread pointer are left to the maps
/// lookup (a thread this deep in its stack is rare; the check reads 64 pages a call).
const MAX_SPAN: usize = 16 << 20;

/// The smallest page size of the supported targets: checking every 4 KiB is exhaustive
/// for any larger page size too.
const PAGE: usize = 4096;

/// Bounds of the calling thread's stack around `sp` without the memory map:
/// `[page of sp, thread pointer)`, or on the main thread `[page of sp, stack end)`
/// (see the module docs), when every page in between is proven readable. `cached` is
/// the thread's last answer (its pages are not read again).
pub(super) fn proven_bounds(sp: usize, cached: (usize, usize)) -> Option<(usize, usize)> {
    below(sp, thread_pointer(), cached).or_else(|| below(sp, main_stack_end()?, cached))
}

/// `[page of sp, top)` when `top` lies above `sp`, within [`MAX_SPAN`], and every page
/// in between is readable. Pages already proven for `cached` (the same top, `sp`
/// deeper than its `lo`) are not read again.
fn below(sp: usize, top: usize, cached: (usize, usize)) -> Option<(usize, usize)> {
    if top <= sp || top - sp > MAX_SPAN {
        return None;
    }
    let lo = sp & !(PAGE - 1);
    let unproven_end = if cached.1 == top && lo < cached.0 {
        cached.0
    } else {
        top
    };
    readable(lo, unproven_end).then_some((lo, top))
}

/// Where the main thread's stack ends: glibc's `__libc_stack_end`, the stack pointer
/// the loader found at start-up (argc's address), set before any code of the program
/// runs and never changed.
#[cfg(target_env = "gnu")]
fn main_stack_end() -> Option<usize> {
    extern "C" {
        static __libc_stack_end: *const libc::c_void;
    }
    // SAFETY: a pointer-sized variable glibc defines and writes once, before `main`.
    let end = unsafe { __libc_stack_end } as usize;
    (end != 0).then_some(end)
}

/// Where the main thread's stack ends, where the C library records no such thing
/// (musl): the executable's file name that `AT_EXECFN` points to, which the kernel
/// copies to the very top of the initial stack, above the argument, environment and
/// auxiliary vectors and so above every frame.
#[cfg(not(target_env = "gnu"))]
fn main_stack_end() -> Option<usize> {
    // SAFETY: reads an entry of the auxiliary vector; no other effect.
    let execfn = unsafe { libc::getauxval(libc::AT_EXECFN) } as usize;
    (execfn != 0).then_some(execfn)
}

/// The thread pointer: the address of the calling thread's control block.
#[inline(always)]
fn thread_pointer() -> usize {
    let tp: usize;
    // SAFETY: reads the first word of the thread control block, which the ELF TLS ABI
    // makes its own address (glibc and musl set it), through %fs.
    #[cfg(target_arch = "x86_64")]
    unsafe {
        std::arch::asm!("mov {}, qword ptr fs:[0]", out(reg) tp,
            options(nostack, readonly, preserves_flags));
    }
    // SAFETY: reads a register.
    #[cfg(target_arch = "aarch64")]
    unsafe {
        std::arch::asm!("mrs {}, tpidr_el0", out(reg) tp, options(nomem, nostack, preserves_flags));
    }
    tp
}

/// True when every byte of `[lo, hi)` can be read. The kernel is asked to copy one
/// byte of each 4 KiB page into a fresh pipe (`writev`, 64 pages a call): it reports a
/// page it cannot read (a short count or `EFAULT`) instead of faulting. Four system
/// calls that every seccomp allow-list a service runs under has. `process_vm_readv`
/// would be one call, but sandboxes treat it as a debugging call: systemd lists it in
/// `@debug` (older versions only there), nspawn denies it without `CAP_SYS_PTRACE`,
/// and under a filter whose default action is to kill (systemd's) the service would
/// die on it. False also when no pipe can be had; `errno` is left as it was.
fn readable(lo: usize, hi: usize) -> bool {
    const BATCH: usize = 64;
    // SAFETY: errno is thread-local; restored below.
    let saved_errno = unsafe { *libc::__errno_location() };
    let mut fds = [-1; 2];
    // SAFETY: writes two descriptors into `fds`. Non-blocking: a pipe too small for
    // the bytes (one per page: 4 097 at most, a one-page pipe holds 4 096) fails the
    // check instead of waiting.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
        // SAFETY: as above.
        unsafe { *libc::__errno_location() = saved_errno };
        return false;
    }
    let mut iov = [libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 1,
    }; BATCH];
    let mut page = lo & !(PAGE - 1);
    let mut ok = true;
    while ok && page < hi {
        let mut n = 0;
        while n < BATCH && page < hi {
            iov[n].iov_base = page as *mut libc::c_void;
            page += PAGE;
            n += 1;
        }
        // SAFETY: the kernel reads the `n` one-byte ranges itself, reporting (not
        // faulting on) any it cannot read, and writes them into our pipe.
        let wrote = unsafe { libc::writev(fds[1], iov.as_ptr(), n as libc::c_int) };
        ok = wrote == n as isize;
    }
    // SAFETY: our own descriptors, closed once; closing drops what the pipe holds.
    unsafe {
        libc::close(fds[0]);
        libc::close(fds[1]);
        *libc::__errno_location() = saved_errno;
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(len: usize, prot: libc::c_int) -> usize {
        // SAFETY: a fresh anonymous mapping.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                prot,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED);
        p as usize
    }

    #[test]
    fn readable_tells_mapped_from_guarded_and_unmapped() {
        let len = 200 * PAGE; // more than one batch
        let base = map(len, libc::PROT_READ | libc::PROT_WRITE);
        assert!(readable(base, base + len));
        assert!(readable(base + 5, base + 6), "unaligned bounds");
        // SAFETY: pages of our own mapping.
        unsafe {
            assert_eq!(
                libc::mprotect((base + 150 * PAGE) as _, PAGE, libc::PROT_NONE),
                0
            );
        }
        assert!(
            !readable(base, base + len),
            "a guard page in the second batch"
        );
        assert!(readable(base, base + 150 * PAGE));
        // SAFETY: pages of our own mapping.
        unsafe { assert_eq!(libc::munmap((base + 10 * PAGE) as _, PAGE), 0) };
        assert!(!readable(base, base + 20 * PAGE), "a hole");
    }

    #[test]
    fn spawned_thread_bounds_reach_its_control_block_inside_its_stack_mapping() {
        std::thread::spawn(|| {
            let probe = 0u8;
            let sp = std::ptr::addr_of!(probe) as usize;
            let (lo, hi) = proven_bounds(sp, (0, 0)).expect("a pthread's bounds");
            assert!(lo <= sp && sp < hi);
            assert_eq!(hi, thread_pointer());
            // The same answer as the memory map's, only narrower.
            let (start, end) = super::super::maps::find_mapping(sp).expect("stack mapping");
            assert!(
                start <= lo && hi <= end,
                "[{lo:#x}, {hi:#x}) in [{start:#x}, {end:#x})"
            );
            // What the walkers get: these bounds, not the mapping's.
            assert_eq!(
                super::super::thread_bounds_containing(sp).map(|b| b.1),
                Some(hi)
            );
            // Deeper: only the new pages are proven, the top stays.
            let deeper = proven_bounds(lo - 3 * PAGE, (lo, hi)).expect("deeper");
            assert_eq!(deeper, (lo - 3 * PAGE, hi));
        })
        .join()
        .unwrap();
    }

    #[test]
    fn spans_not_below_the_top_are_refused() {
        let tp = thread_pointer();
        assert_eq!(below(tp, tp, (0, 0)), None, "at the top");
        assert_eq!(below(tp + PAGE, tp, (0, 0)), None, "above it");
        assert_eq!(below(tp - MAX_SPAN - PAGE, tp, (0, 0)), None, "too deep");
    }

    #[test]
    fn the_main_stack_end_is_in_the_main_stack_and_bounds_it() {
        let end = main_stack_end().expect("__libc_stack_end, or AT_EXECFN");
        // Its mapping is the one /proc/self/maps calls [stack].
        let (start, stop) = super::super::maps::find_mapping(end).expect("mapped");
        let maps = std::fs::read_to_string("/proc/self/maps").expect("maps");
        let line = maps
            .lines()
            .find(|l| l.starts_with(&format!("{start:x}-{stop:x} ")))
            .expect("its line");
        assert!(line.ends_with("[stack]"), "{line}");
        // The pages below it (the main thread's frames lie there) are proven and
        // bounded by it; a span from another thread's stack is refused (too far, or
        // not all readable).
        assert_eq!(
            below(end - 100, end, (0, 0)),
            Some(((end - 100) & !(PAGE - 1), end))
        );
        let probe = 0u8;
        let here = std::ptr::addr_of!(probe) as usize;
        if here < end {
            assert_eq!(below(here, end, (0, 0)), None, "{here:#x} on a test thread");
        }
    }
}
