//! `fork()`: the child of a forking host is a process of its own.
//!
//! Pre-fork servers and daemons fork after holmes started. Only the forking thread is
//! copied into the child: holmes' threads, and any capture they were running, are not.
//! A `pthread_atfork` child handler, registered once by [`register`] (at `start()` and
//! before the first capture), resets what the parent's threads could have left in a
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

/// Registers the child handler, once per process.
pub(crate) fn register() {
    #[cfg(unix)]
    {
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
    }
}

#[cfg(unix)]
extern "C" fn in_child() {
    crate::guard::reset_after_fork();
    #[cfg(target_os = "linux")]
    crate::dump::cpu::reset_after_fork();
    crate::dump::threads::reset_after_fork();
    crate::alloc::disarm_trigger_after_fork();
    #[cfg(not(target_os = "linux"))]
    crate::symbol::reset_after_fork();
}
