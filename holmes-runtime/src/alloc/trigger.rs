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

/// Waits until the trigger fires (its live estimate), `timeout` passes or [`poke`] is
/// called (`None`).
pub(crate) fn wait(timeout: Duration) -> Option<u64> {
    let start = Instant::now();
    loop {
        let seq = SEQ.load(Ordering::Acquire);
        let v = FIRED.swap(0, Ordering::AcqRel);
        if v != 0 {
            return Some(v);
        }
        let left = timeout.saturating_sub(start.elapsed());
        if left.is_zero() {
            return None;
        }
        sleep_while(seq, left);
        if SEQ.load(Ordering::Acquire) != seq {
            // Fired or poked: either way the wait is over.
            let v = FIRED.swap(0, Ordering::AcqRel);
            return (v != 0).then_some(v);
        }
    }
}

/// Ends a [`wait`] in progress at once (shutdown), without firing.
pub(crate) fn poke() {
    SEQ.fetch_add(1, Ordering::Release);
    wake();
}

fn wake() {
    crate::futex::wake(&SEQ);
}

fn sleep_while(seq: u32, left: Duration) {
    crate::futex::wait(&SEQ, seq, left);
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
