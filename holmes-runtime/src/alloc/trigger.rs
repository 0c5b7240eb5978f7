//! The one-shot peak trigger of the `heap` rule: armed by a holmes thread, fired from
//! the sampling path of whichever thread pushes the live estimate over the threshold.
//!
//! The allocating side does a relaxed load, one CAS (disarm) and, on Linux, one
//! `FUTEX_WAKE` syscall — no lock, no allocation. Elsewhere the waiter polls every
//! 2 ms instead.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Disarmed threshold.
pub const DISARMED: u64 = u64::MAX;

static THRESHOLD: AtomicU64 = AtomicU64::new(DISARMED);
/// Live estimate when the trigger fired; 0 = not fired since armed / consumed.
static FIRED: AtomicU64 = AtomicU64::new(0);
/// Bumped on every fire; the futex word waiters sleep on.
static SEQ: AtomicU32 = AtomicU32::new(0);

pub(crate) fn arm(threshold: u64) {
    FIRED.store(0, Ordering::Relaxed);
    THRESHOLD.store(threshold, Ordering::Release);
}

pub(crate) fn threshold() -> u64 {
    THRESHOLD.load(Ordering::Relaxed)
}

/// Called on the sampling path after the live estimate rose to `live`.
#[inline]
pub(crate) fn check(live: u64) {
    let t = THRESHOLD.load(Ordering::Relaxed);
    if live > t
        && THRESHOLD
            .compare_exchange(t, DISARMED, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    {
        FIRED.store(live.max(1), Ordering::Release);
        SEQ.fetch_add(1, Ordering::Release);
        wake();
    }
}

pub(crate) fn wait(timeout: Duration) -> Option<u64> {
    let deadline = crate::state::later(Instant::now(), timeout);
    loop {
        let seq = SEQ.load(Ordering::Acquire);
        let v = FIRED.swap(0, Ordering::AcqRel);
        if v != 0 {
            return Some(v);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        sleep_while(seq, left);
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn wake() {
    // SAFETY: FUTEX_WAKE on a valid, 'static, 4-byte aligned futex word; touches no
    // user memory besides reading the word.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            SEQ.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            i32::MAX,
        );
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn sleep_while(seq: u32, left: Duration) {
    let ts = libc::timespec {
        tv_sec: left.as_secs().min(i32::MAX as u64) as _, // `time_t`: deprecated by name on musl
        tv_nsec: left.subsec_nanos() as _,
    };
    // SAFETY: FUTEX_WAIT on a valid 'static futex word with a relative timeout that
    // lives across the call. EINTR, EAGAIN and ETIMEDOUT all just return: the caller
    // rechecks FIRED and the deadline.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            SEQ.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            seq,
            &ts as *const libc::timespec,
        );
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn wake() {}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn sleep_while(seq: u32, left: Duration) {
    if SEQ.load(Ordering::Acquire) == seq {
        std::thread::sleep(left.min(Duration::from_millis(2)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The trigger is process-global: trigger tests run one at a time.
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn fires_once_and_wakes_waiter() {
        let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        arm(1000);
        check(999);
        assert_eq!(wait(Duration::from_millis(10)), None, "below threshold");
        let waiter = std::thread::spawn(|| {
            let t = Instant::now();
            (wait(Duration::from_secs(5)), t.elapsed())
        });
        std::thread::sleep(Duration::from_millis(50));
        check(1500);
        check(3000); // one shot: disarmed by the first
        let (got, waited) = waiter.join().unwrap();
        assert_eq!(got, Some(1500));
        assert!(
            waited < Duration::from_secs(2),
            "woken, not timed out: {waited:?}"
        );
        assert_eq!(threshold(), DISARMED);
        assert_eq!(wait(Duration::from_millis(5)), None, "consumed");
    }

    #[test]
    fn rearm_clears_stale_fire() {
        let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        arm(10);
        check(11);
        arm(DISARMED);
        assert_eq!(wait(Duration::from_millis(5)), None);
        check(u64::MAX - 1);
        assert_eq!(wait(Duration::from_millis(5)), None, "disarmed never fires");
    }
}
