//! Timing shared by the allocator benches: `benches/alloc.rs` here and the peer
//! comparison in `benches/alloc-peers` (which includes this file by path, so both
//! measure the same way without putting bench code in the library).
//!
//! Method: a case is run in many short rounds; each round runs the baseline and the
//! candidate back to back (alternating which goes first) and yields one ratio. The
//! overhead reported is the median of those paired ratios, with their quartiles: a
//! machine that slows down for a while slows both halves of a round, so drift and
//! neighbours cancel out instead of landing on one side. Times are thread CPU time
//! (`CLOCK_THREAD_CPUTIME_ID`): time spent descheduled does not count.

#![allow(dead_code)] // each bench uses its own subset

use std::alloc::{GlobalAlloc, Layout};
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::hint::black_box;
use std::time::Duration;

/// CPU time of the calling thread.
pub fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes one timespec; CLOCK_THREAD_CPUTIME_ID is always available on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// `n` alloc+free pairs of one `size`-byte block through `a`'s `GlobalAlloc` methods.
#[inline(never)]
pub fn pairs<A: GlobalAlloc>(a: &A, size: usize, n: u64) -> Duration {
    let layout = Layout::from_size_align(size, 8).expect("layout");
    let t = thread_cpu();
    for _ in 0..n {
        // SAFETY: non-zero size; the block is freed with its layout.
        unsafe {
            let p = a.alloc(black_box(layout));
            black_box(p);
            a.dealloc(p, layout);
        }
    }
    thread_cpu() - t
}

/// The "realistic allocation-heavy workload" of issue #4: builds and drops a
/// `HashMap<String, String>` of `n` entries (`format!`ed keys and values: per entry
/// two allocations, two reallocations as the strings grow, two frees) through the
/// global allocator; returns the thread CPU time it took.
#[inline(never)]
pub fn hashmap_build_drop(n: usize) -> Duration {
    let t = thread_cpu();
    // A fixed hasher: every run builds the same table (RandomState would change the
    // probe sequences, and the run time, from run to run).
    let mut m: HashMap<String, String, BuildHasherDefault<DefaultHasher>> = HashMap::default();
    for i in 0..n {
        m.insert(format!("key-{i:08}"), format!("value-{i}-{}", i * 7));
    }
    black_box(&m);
    drop(m);
    thread_cpu() - t
}

/// A steady-state heap, as in a long-running service: glibc keeps freed memory
/// instead of unmapping and trimming it after every run, so page faults (the kernel's
/// cost, the same on both sides, and most of the run-to-run noise) do not dilute the
/// ratio. Without this the HashMap runs are ~2x longer.
pub fn steady_glibc_heap() {
    // SAFETY: mallopt only sets glibc tunables.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}

/// The body of the two direct-global-allocator binaries (`global_system.rs`,
/// `global_holmes.rs`): `HOLMES_BENCH_COUNT=map:<n>` builds and drops the 20 000-entry
/// map `n` times through whatever `#[global_allocator]` the binary has, for counting
/// its instructions (`benches/instructions.sh`).
pub fn count_map_main() {
    let spec = std::env::var("HOLMES_BENCH_COUNT").unwrap_or_default();
    let Some(n) = spec.strip_prefix("map:").and_then(|n| n.parse().ok()) else {
        println!("an instruction-count target: run benches/instructions.sh");
        return;
    };
    steady_glibc_heap();
    for _ in 0..n {
        hashmap_build_drop(20_000);
    }
}

/// ns per pair per thread, `threads` threads running [`pairs`] at once.
pub fn pairs_mt<A: GlobalAlloc + Sync>(a: &'static A, size: usize, n: u64, threads: usize) -> f64 {
    let handles: Vec<_> = (0..threads)
        .map(|_| std::thread::spawn(move || pairs(a, size, n)))
        .collect();
    let total: Duration = handles
        .into_iter()
        .map(|h| h.join().expect("bench thread"))
        .sum();
    total.as_nanos() as f64 / (n as f64 * threads as f64)
}

/// The `q` quantile (0..=1) of `v`, nearest rank.
pub fn quantile(v: &[f64], q: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// Overhead of a candidate over its baseline, in %, from paired rounds.
#[derive(Clone, Copy, Debug)]
pub struct Overhead {
    /// Median of the per-round overheads.
    pub median: f64,
    /// First quartile.
    pub p25: f64,
    /// Third quartile.
    pub p75: f64,
}

impl Overhead {
    /// `base[i]` and `cand[i]` were measured in the same round.
    pub fn paired(base: &[f64], cand: &[f64]) -> Overhead {
        assert_eq!(base.len(), cand.len());
        let pct: Vec<f64> = base
            .iter()
            .zip(cand)
            .map(|(b, c)| (c / b - 1.0) * 100.0)
            .collect();
        Overhead {
            median: quantile(&pct, 0.5),
            p25: quantile(&pct, 0.25),
            p75: quantile(&pct, 0.75),
        }
    }
}

impl std::fmt::Display for Overhead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cell = format!("{:+.1}..{:+.1}", self.p25, self.p75);
        write!(f, "{:>+7.2}%  [{cell:>13}]", self.median)
    }
}
