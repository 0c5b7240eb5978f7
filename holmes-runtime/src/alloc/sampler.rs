//! The per-thread sampling decision: a byte countdown drawn from an exponential
//! distribution, exactly as Go's `mcache.nextSample`, and Go's unbiasing weight.
//!
//! Every item here runs inside `GlobalAlloc`: thread-locals are const-initialised
//! `Cell`s without destructors (no allocation on first access, no TLS destructor, still
//! readable while the thread is torn down), the PRNG is a 64-bit xorshift, and `ln`
//! and `1 − e^(−x)` are computed here (libm only for blocks of at least half the rate).

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Go's `runtime.MemProfileRate` default: one sample per 512 KiB allocated, on average.
pub const DEFAULT_SAMPLE_RATE: u64 = 512 * 1024;

/// Mean bytes between samples; 0 = off, 1 = every allocation.
pub(crate) static SAMPLE_RATE: AtomicU64 = AtomicU64::new(DEFAULT_SAMPLE_RATE);

/// Set on the first allocation that went through the wrapper (see `HeapStats::installed`).
pub(crate) static INSTALLED: AtomicBool = AtomicBool::new(false);

/// While sampling is off, a thread rechecks the rate after this many bytes.
const OFF_RECHECK: i64 = 16 << 20;

/// Seeds the per-thread PRNGs apart from each other.
static SEED: AtomicU64 = AtomicU64::new(0x9E37_79B9_7F4A_7C15);

thread_local! {
    /// Bytes this thread may still allocate before the next sample. 0 on a new thread,
    /// so its first allocation takes the slow path and draws a real countdown. Signed,
    /// as Go's `nextSample`: the hot path subtracts unconditionally, one
    /// read-modify-write on the thread-local (measured: ~1 % less overhead on the
    /// HashMap bench than compare-then-store).
    static COUNTDOWN: Cell<i64> = const { Cell::new(0) };
    /// xorshift64 state; 0 = not seeded yet.
    static RNG: Cell<u64> = const { Cell::new(0) };
    /// True when `COUNTDOWN` was drawn from a non-zero rate (false: fresh thread, just
    /// reset by `set_sample_rate`, or sampling off).
    static ARMED: Cell<bool> = const { Cell::new(false) };
    /// Re-entrancy guard: set while this thread records a sample.
    static BUSY: Cell<bool> = const { Cell::new(false) };
    /// Set on holmes' own threads: never sampled.
    static EXCLUDED: Cell<bool> = const { Cell::new(false) };
}

/// Marks the calling thread as never sampled (see `alloc::exclude_current_thread`).
pub(crate) fn exclude_current_thread() {
    let _ = EXCLUDED.try_with(|e| e.set(true));
}

/// Keeps the calling thread unsampled until dropped, then puts back what it was: the
/// memory holmes uses on a caller's thread (an on-demand profile's symbolization) is not
/// the service's heap.
pub(crate) struct ExcludedScope(bool);

impl ExcludedScope {
    pub(crate) fn enter() -> ExcludedScope {
        ExcludedScope(EXCLUDED.try_with(|e| e.replace(true)).unwrap_or(true))
    }
}

impl Drop for ExcludedScope {
    fn drop(&mut self) {
        let was = self.0;
        let _ = EXCLUDED.try_with(|e| e.set(was));
    }
}

/// The hot path: charges `size` bytes to this thread's countdown. Returns true when the
/// countdown ran out (the caller then asks [`expired`] whether to sample, which also
/// redraws it). One subtract on the thread-local whose flags decide; never touches
/// shared memory.
#[inline(always)]
pub(crate) fn take(size: usize) -> bool {
    COUNTDOWN
        .try_with(|c| {
            // `size <= isize::MAX` and the countdown stays within ±2^63: no overflow.
            // Written as "compare the old value, store the difference" so it compiles
            // to one `sub size, %fs:COUNTDOWN` whose flags feed the branch (testing the
            // new value's sign took a load, a store and a test).
            let left = c.get();
            c.set(left.wrapping_sub(size as i64));
            left <= size as i64
        })
        // TLS gone (thread teardown on a platform that tears it down): do not sample.
        .unwrap_or(false)
}

/// The countdown ran out on an allocation of `size` bytes: redraws it and returns the
/// rate to sample this allocation with, or `None` when it is not sampled (sampling off,
/// a fresh countdown that covers it, a nested allocation of the sampler, TLS gone).
#[cold]
#[inline(never)]
pub(crate) fn expired(size: usize) -> Option<u64> {
    if !INSTALLED.load(Ordering::Relaxed) {
        INSTALLED.store(true, Ordering::Relaxed);
    }
    let busy =
        BUSY.try_with(Cell::get).unwrap_or(true) || EXCLUDED.try_with(Cell::get).unwrap_or(true);
    let rate = SAMPLE_RATE.load(Ordering::Relaxed);
    let armed = ARMED.try_with(Cell::get).ok()?;
    if rate == 0 {
        let _ = ARMED.try_with(|a| a.set(false));
        let _ = COUNTDOWN.try_with(|c| c.set(OFF_RECHECK));
        return None;
    }
    let mut state = RNG.try_with(Cell::get).ok()?;
    if state == 0 {
        state = seed();
    }
    let next = draw(&mut state, rate);
    let _ = RNG.try_with(|r| r.set(state));
    let _ = ARMED.try_with(|a| a.set(true));
    if !armed && (size as u64) < next {
        // A fresh countdown (new thread, rate just changed, sampling back on): this
        // allocation is the first one charged to it, as in Go's `nextSample` at start.
        let _ = COUNTDOWN.try_with(|c| c.set((next - size as u64) as i64));
        return None;
    }
    let _ = COUNTDOWN.try_with(|c| c.set(next as i64));
    if busy {
        return None;
    }
    Some(rate)
}

/// Forgets the calling thread's countdown so its next allocation draws one from the
/// current rate.
pub(crate) fn reset_current_thread() {
    let _ = COUNTDOWN.try_with(|c| c.set(0));
    let _ = ARMED.try_with(|a| a.set(false));
}

/// Runs `f` with the re-entrancy guard set: allocations made by `f` are not sampled.
#[inline]
pub(crate) fn guarded<R>(f: impl FnOnce() -> R) -> R {
    let _ = BUSY.try_with(|b| b.set(true));
    let r = f();
    let _ = BUSY.try_with(|b| b.set(false));
    r
}

fn seed() -> u64 {
    let local = 0u8;
    let addr = std::ptr::addr_of!(local) as u64;
    let s = SEED.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
    let x = mix(addr ^ s.rotate_left(17));
    if x == 0 {
        0x2545_F491_4F6C_DD1D
    } else {
        x
    }
}

fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    x ^= x >> 33;
    x = x.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    x ^ (x >> 33)
}

/// xorshift64* step; `state` must be non-zero.
#[inline]
pub(crate) fn next_u64(state: &mut u64) -> u64 {
    let mut x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    x.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

/// Bytes until the next sample: exponential with mean `rate` (Go's `fastexprand`);
/// 0 for `rate <= 1` (every allocation is sampled).
pub(crate) fn draw(state: &mut u64, rate: u64) -> u64 {
    if rate <= 1 {
        return 0;
    }
    // Uniform in (0, 1]: never 0, so ln is finite.
    let u = ((next_u64(state) >> 11) as f64 + 1.0) * (1.0 / (1u64 << 53) as f64);
    let v = -ln_unit(u) * rate as f64;
    if v >= (u64::MAX >> 1) as f64 {
        u64::MAX >> 1
    } else {
        v as u64
    }
}

/// Go's unbiasing weight of one sampled allocation of `size` bytes at `rate`: the
/// inverse of the probability it was sampled, `1 / (1 − e^(−size/rate))`; 1 when every
/// allocation is sampled.
pub fn weight(size: u64, rate: u64) -> f64 {
    if rate <= 1 || size == 0 {
        return 1.0;
    }
    let x = size as f64 / rate as f64;
    1.0 / one_minus_exp_neg(x)
}

// The two functions below keep libm off the sampling path: a sample of a small block
// (nearly every sample) is then computed in this binary's own code, with no jump
// through the PLT into libm's pages and its tables, which a sample taken once per
// ~512 KiB finds cold. Both are within 1e-13 (relative) of libm, tested against it.

/// `ln(u)` for `u` in (0, 1] (normal numbers): `u = m·2^e` with `m` in [√½, √2), and
/// `ln m = 2·atanh(s)`, `s = (m − 1)/(m + 1)`, `|s| ≤ 0.1716`, summed to `s^15`
/// (truncation below 1e-13 relative).
#[inline]
fn ln_unit(u: f64) -> f64 {
    debug_assert!(u > 0.0 && u <= 1.0 && u.is_normal());
    let bits = u.to_bits();
    let mut e = ((bits >> 52) & 0x7FF) as i64 - 1023;
    // The mantissa with exponent 0: m in [1, 2).
    let mut m = f64::from_bits((bits & ((1u64 << 52) - 1)) | (1023u64 << 52));
    if m > std::f64::consts::SQRT_2 {
        m *= 0.5;
        e += 1;
    }
    let s = (m - 1.0) / (m + 1.0);
    let z = s * s;
    let series = 1.0
        + z * (1.0 / 3.0
            + z * (1.0 / 5.0
                + z * (1.0 / 7.0
                    + z * (1.0 / 9.0 + z * (1.0 / 11.0 + z * (1.0 / 13.0 + z * (1.0 / 15.0)))))));
    e as f64 * std::f64::consts::LN_2 + 2.0 * s * series
}

/// `1 − e^(−x)` for `x > 0`, without cancellation for small `x` (small blocks at
/// large rates, where `x = size/rate` is tiny): the Taylor series to `x^12` below
/// 0.5 (truncation below 1e-13 relative), libm above (blocks of at least half the
/// rate, rare and expensive themselves).
#[inline]
fn one_minus_exp_neg(x: f64) -> f64 {
    if x >= 0.5 {
        return -(-x).exp_m1();
    }
    // x·(1 − x/2! + x²/3! − …) in Horner form: coefficients (−1)^k / (k+1)!.
    const C: [f64; 12] = [
        -1.0 / 2.0,
        1.0 / 6.0,
        -1.0 / 24.0,
        1.0 / 120.0,
        -1.0 / 720.0,
        1.0 / 5_040.0,
        -1.0 / 40_320.0,
        1.0 / 362_880.0,
        -1.0 / 3_628_800.0,
        1.0 / 39_916_800.0,
        -1.0 / 479_001_600.0,
        1.0 / 6_227_020_800.0,
    ];
    let mut p = 0.0;
    for c in C.iter().rev() {
        p = p * x + c;
    }
    x * (1.0 + x * p)
}

/// Fixed-point scale of estimated object counts (weights are fractional).
pub(crate) const COUNT_ONE: u64 = 1 << 16;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_mean_within_tolerance() {
        let mut s = 0x1234_5678_9ABC_DEF1;
        for rate in [512 * 1024u64, 4096, 7] {
            let n = 200_000;
            let sum: f64 = (0..n).map(|_| draw(&mut s, rate) as f64).sum();
            let mean = sum / n as f64;
            let err = (mean - rate as f64).abs() / rate as f64;
            // Truncation to integer bytes lowers the mean by ~0.5 byte: matters at rate 7.
            let tol = if rate < 100 { 0.1 } else { 0.01 };
            assert!(err < tol, "rate {rate}: mean {mean} err {err}");
        }
        assert_eq!(draw(&mut s, 1), 0, "rate 1 samples everything");
    }

    #[test]
    fn exponential_shape_median() {
        // Median of Exp(mean) is mean * ln 2: catches a uniform draw with the right mean.
        let mut s = 42;
        let rate = 1_000_000u64;
        let mut v: Vec<u64> = (0..100_001).map(|_| draw(&mut s, rate)).collect();
        v.sort_unstable();
        let median = v[v.len() / 2] as f64;
        let want = rate as f64 * std::f64::consts::LN_2;
        assert!(
            (median - want).abs() / want < 0.02,
            "median {median} want {want}"
        );
    }

    #[test]
    fn unbiasing_weights() {
        assert_eq!(weight(64, 1), 1.0);
        assert_eq!(weight(0, 512 * 1024), 1.0);
        // Small objects: weight ~ rate / size.
        let w = weight(64, 512 * 1024);
        assert!((w - 8192.5).abs() < 0.01, "{w}");
        // Size == rate: 1 / (1 - 1/e).
        let w = weight(1 << 19, 1 << 19);
        assert!((w - 1.0 / (1.0 - (-1.0f64).exp())).abs() < 1e-12, "{w}");
        // Huge objects are sampled almost surely.
        assert!((weight(1 << 30, 1 << 19) - 1.0).abs() < 1e-12);
        // Expected value check: P(sampled) * weight * size == size.
        for size in [16u64, 4096, 1 << 20] {
            let rate = 512 * 1024;
            let p = 1.0 - (-(size as f64) / rate as f64).exp();
            assert!((p * weight(size, rate) - 1.0).abs() < 1e-9);
        }
    }

    #[test]
    fn ln_and_one_minus_exp_neg_match_libm() {
        let rel = |a: f64, b: f64| ((a - b) / b).abs();
        // ln over (0, 1]: the draw's whole input range, both sides of every branch.
        let mut s = 99;
        let mut us: Vec<f64> = (0..200_000)
            .map(|_| ((next_u64(&mut s) >> 11) as f64 + 1.0) / (1u64 << 53) as f64)
            .collect();
        us.extend([
            1.0,
            0.5,
            std::f64::consts::FRAC_1_SQRT_2,
            1.0 / (1u64 << 53) as f64,
            1.0 - f64::EPSILON / 2.0,
        ]);
        for u in us {
            let (got, want) = (ln_unit(u), u.ln());
            if want == 0.0 {
                assert_eq!(got, 0.0, "ln({u})");
            } else {
                assert!(rel(got, want) < 1e-13, "ln({u}) = {got}, libm {want}");
            }
        }
        // 1 − e^(−x) from a byte at 1 TiB rates to far past the rate.
        let mut x = 1e-12;
        while x < 50.0 {
            let (got, want) = (one_minus_exp_neg(x), -(-x).exp_m1());
            assert!(rel(got, want) < 1e-13, "1-e^-{x} = {got}, libm {want}");
            x *= 1.01;
        }
        for x in [0.5 - 1e-12, 0.5, 0.499_999] {
            assert!(rel(one_minus_exp_neg(x), -(-x).exp_m1()) < 1e-13, "{x}");
        }
    }

    #[test]
    fn countdown_sampling_frequency_matches_rate() {
        // Simulates the hot path: with 64 B allocations at rate 4096, one sample per
        // 64 allocations on average (the countdown counts bytes, not calls).
        let mut s = 7;
        let rate = 4096;
        let mut left = draw(&mut s, rate);
        let mut samples = 0u64;
        let n = 1_000_000u64;
        for _ in 0..n {
            if 64 < left {
                left -= 64;
            } else {
                samples += 1;
                left = draw(&mut s, rate);
            }
        }
        // Each sample carries weight(64, rate); the estimate must match the bytes.
        let est = samples as f64 * weight(64, rate) * 64.0;
        let truth = (n * 64) as f64;
        assert!(
            (est - truth).abs() / truth < 0.03,
            "est {est} truth {truth}"
        );
    }
}
