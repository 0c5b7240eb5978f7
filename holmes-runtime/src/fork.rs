//! `fork()`: the child of a forking host is a process of its own.
//!
//! Pre-fork servers and daemons fork after holmes started. Only the forking thread is
//! copied into the child: holmes' threads, and any capture they were running, are not.
//! A `pthread_atfork` child handler runs the resets registered with [`on_fork_child`]
//! (at `start()` and before the first capture of each kind); they reset what the parent's threads could have left in a
//! state no thread of the child will ever change:
//! - the one-instance slot, so that `start()` works in the child;
//! - the CPU capture (lock, buffer, in-handler count) and the thread-dump capture (lock
//!   and slot pool), so that captures work in the child;
//! - the heap rule's peak trigger, disarmed until the child's own holmes arms it;
//! - outside Linux, the symbolizer: if a holmes thread was inside `backtrace` at the
//!   fork, its lock is lost to the child, whose dumps then name frames by address (see
//!   `crate::symbol`; on Linux the symbolizer has no global state).
//!
//! The allocator needs nothing: it holds no lock (its table and buckets are atomics;
//! a record a parent thread was writing at the fork is at worst one lost sample).
//! The [`Guard`](crate::Guard) the child inherited is inert: it remembers the process
//! that started it, and dropping it in another process returns at once without touching
//! channels or threads of the parent's.
//!
//! The handler runs in the child between `fork()` and its return, where only
//! async-signal-safe work is allowed: it does atomic stores only. `posix_spawn`,
//! `vfork` and raw `clone` do not run atfork handlers; their children exec at once.

/// Reset functions the child handler runs, in the order registered; 0 = free.
#[cfg(unix)]
static HOOKS: [std::sync::atomic::AtomicUsize; 16] =
    [const { std::sync::atomic::AtomicUsize::new(0) }; 16];

/// Registers `reset` to run in the child of every later `fork()` (once: a function
/// registered again is not added twice), and the child handler, once per process.
/// Each module registers its own reset where it starts keeping state (`start()`, the
/// first capture), so this module depends on none of them.
pub(crate) fn on_fork_child(reset: fn()) {
    #[cfg(unix)]
    {
        use std::sync::atomic::Ordering;
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // SAFETY: registers a handler that does atomic stores only (see above).
            let r = unsafe { libc::pthread_atfork(None, None, Some(in_child)) };
            if r != 0 {
                log::warn!(
                    target: "holmes",
                    "pthread_atfork failed ({}): a forked child would inherit holmes' state",
                    std::io::Error::from_raw_os_error(r)
                );
            }
        });
        let addr = reset as usize;
        for slot in &HOOKS {
            match slot.compare_exchange(0, addr, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return,
                Err(a) if a == addr => return,
                Err(_) => {}
            }
        }
        // Five functions register (see the module docs); sixteen slots.
        debug_assert!(false, "fork hooks full");
    }
    #[cfg(not(unix))]
    let _ = reset;
}

#[cfg(unix)]
extern "C" fn in_child() {
    for slot in &HOOKS {
        let addr = slot.load(std::sync::atomic::Ordering::Acquire);
        if addr != 0 {
            // SAFETY: every non-zero slot holds a `fn()` stored by `on_fork_child`.
            let reset: fn() = unsafe { std::mem::transmute::<usize, fn()>(addr) };
            reset();
        }
    }
}
