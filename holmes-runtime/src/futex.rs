//! Sleeping on an `AtomicU32` until another thread changes it: the Linux futex, a raw
//! syscall (async-signal-safe, allocation-free, no lock), so a signal handler or the
//! allocator's slow path can wake a waiting holmes thread. Elsewhere the waiter polls
//! every 2 ms and waking is a no-op.

use std::sync::atomic::AtomicU32;
use std::time::Duration;

/// Wakes every thread sleeping in [`wait`] on `word`.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn wake(word: &AtomicU32) {
    // SAFETY: FUTEX_WAKE on a valid, aligned u32 that outlives the call; it reads the word
    // only. A raw syscall is async-signal-safe.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            i32::MAX,
        );
    }
}

/// Sleeps while `word == expected`, at most `timeout`. Wake-ups may be spurious and a
/// signal (EINTR) ends the wait early: the caller rechecks its condition and deadline.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn wait(word: &AtomicU32, expected: u32, timeout: Duration) {
    let ts = libc::timespec {
        tv_sec: timeout.as_secs().min(i32::MAX as u64) as _, // `time_t`: deprecated by name on musl
        tv_nsec: timeout.subsec_nanos() as _,
    };
    // SAFETY: FUTEX_WAIT on a valid, aligned u32 with a relative timeout that lives
    // across the call; every result (woken, EAGAIN, ETIMEDOUT, EINTR) only ends the wait.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected,
            &ts as *const libc::timespec,
        );
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn wake(_word: &AtomicU32) {}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn wait(word: &AtomicU32, expected: u32, timeout: Duration) {
    if word.load(std::sync::atomic::Ordering::Acquire) == expected {
        std::thread::sleep(timeout.min(Duration::from_millis(2)));
    }
}
