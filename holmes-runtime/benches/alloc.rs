//! Overhead of `holmes_runtime::alloc::Allocator<System>` over `System`, sampling at
//! the default 512 KiB rate. A plain bench binary (`harness = false`) printing a table:
//!
//! ```text
//! cargo bench -p holmes-runtime --bench alloc
//! ```
//!
//! Method, so the numbers can be judged:
//! - *64 B / 4 KiB pair*: `alloc` + `dealloc` of one block in a loop, called through the
//!   `GlobalAlloc` methods of two explicit instances (`System` and `HOLMES`), on 1 and
//!   on 2 threads at once (ns per pair, per thread).
//! - *HashMap*: build and drop a `HashMap<String, String>` of 100 000 entries. Std
//!   collections use the global allocator, so this binary's global allocator is a
//!   `Switch` that forwards to `System` or to `HOLMES` depending on a flag flipped
//!   between runs; both modes pay the same (predictable) branch.
//! - Every case alternates System and holmes runs (ABAB…) and reports the median of
//!   each, so drift of the machine hits both sides.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use holmes_runtime::alloc::{self as halloc, Allocator};

static HOLMES: Allocator<System> = Allocator::system();
static USE_HOLMES: AtomicBool = AtomicBool::new(false);

struct Switch;

// SAFETY: forwards every call unchanged to System or to HOLMES (which forwards to
// System), chosen per call; a block allocated in one mode and freed in the other is
// still a System block.
unsafe impl GlobalAlloc for Switch {
    #[inline]
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        // SAFETY: caller's contract.
        unsafe {
            if USE_HOLMES.load(Ordering::Relaxed) {
                HOLMES.alloc(l)
            } else {
                System.alloc(l)
            }
        }
    }
    #[inline]
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: caller's contract.
        unsafe {
            if USE_HOLMES.load(Ordering::Relaxed) {
                HOLMES.dealloc(p, l)
            } else {
                System.dealloc(p, l)
            }
        }
    }
    #[inline]
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        // SAFETY: caller's contract.
        unsafe {
            if USE_HOLMES.load(Ordering::Relaxed) {
                HOLMES.alloc_zeroed(l)
            } else {
                System.alloc_zeroed(l)
            }
        }
    }
    #[inline]
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        // SAFETY: caller's contract.
        unsafe {
            if USE_HOLMES.load(Ordering::Relaxed) {
                HOLMES.realloc(p, l, n)
            } else {
                System.realloc(p, l, n)
            }
        }
    }
}

#[global_allocator]
static GLOBAL: Switch = Switch;

/// CPU time of the calling thread: time spent descheduled (the machine may be shared)
/// does not count.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes one timespec; CLOCK_THREAD_CPUTIME_ID is always available on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

#[inline(never)]
fn pairs<A: GlobalAlloc>(a: &A, size: usize, n: u64) -> Duration {
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

/// ns per pair per thread, `threads` threads running at once.
fn pairs_mt<A: GlobalAlloc + Sync>(a: &'static A, size: usize, n: u64, threads: usize) -> f64 {
    let handles: Vec<_> = (0..threads)
        .map(|_| std::thread::spawn(move || pairs(a, size, n)))
        .collect();
    let total: Duration = handles
        .into_iter()
        .map(|h| h.join().expect("bench thread"))
        .sum();
    total.as_nanos() as f64 / (n as f64 * threads as f64)
}

#[inline(never)]
fn hashmap_build_drop(n: usize) -> Duration {
    let t = thread_cpu();
    let mut m = HashMap::new();
    for i in 0..n {
        m.insert(format!("key-{i:08}"), format!("value-{i}-{}", i * 7));
    }
    black_box(&m);
    drop(m);
    thread_cpu() - t
}

/// (median, minimum)
fn stat(v: &mut [f64]) -> (f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    (v[v.len() / 2], v[0])
}

struct Row {
    name: String,
    system: (f64, f64),
    holmes: (f64, f64),
    unit: &'static str,
}

fn ab(name: &str, unit: &'static str, reps: usize, mut run: impl FnMut(bool) -> f64) -> Row {
    run(false);
    run(true);
    let (mut s, mut h) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        s.push(run(false));
        h.push(run(true));
    }
    Row {
        name: name.to_owned(),
        system: stat(&mut s),
        holmes: stat(&mut h),
        unit,
    }
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is not supported.
    // HOLMES_BENCH_RATE overrides the rate (e.g. 1 to measure the cost of a sample).
    let rate = std::env::var("HOLMES_BENCH_RATE")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(halloc::DEFAULT_SAMPLE_RATE);
    halloc::set_sample_rate(rate);
    let quick = std::env::var_os("HOLMES_BENCH_QUICK").is_some();
    let n: u64 = if quick { 1_000_000 } else { 2_000_000 };
    let reps = if quick { 5 } else { 21 };
    let mut rows = Vec::new();
    for (size, label) in [(64usize, "64 B"), (4096, "4 KiB")] {
        for threads in [1usize, 2] {
            rows.push(ab(
                &format!("{label} alloc+free pair, {threads} thread(s)"),
                "ns",
                reps,
                |h| {
                    if h {
                        pairs_mt(&HOLMES, size, n, threads)
                    } else {
                        pairs_mt(&System, size, n, threads)
                    }
                },
            ));
        }
    }
    let entries = 100_000;
    rows.push(ab(
        "HashMap<String,String> 100k build+drop",
        "ms",
        if quick { 5 } else { 31 },
        |h| {
            USE_HOLMES.store(h, Ordering::Relaxed);
            let d = hashmap_build_drop(entries);
            USE_HOLMES.store(false, Ordering::Relaxed);
            d.as_secs_f64() * 1e3
        },
    ));

    let s = halloc::stats();
    println!();
    println!(
        "holmes::Allocator<System> vs System, sample rate {} B, thread CPU time, \
         {reps} alternating runs per side",
        s.sample_rate
    );
    println!(
        "{:<42} {:>11} {:>11} {:>10} {:>11} {:>11} {:>10}",
        "case", "System med", "holmes med", "overhead", "System min", "holmes min", "overhead"
    );
    for r in &rows {
        let u = r.unit;
        println!(
            "{:<42} {:>8.2} {u} {:>8.2} {u} {:>+9.2}% {:>8.2} {u} {:>8.2} {u} {:>+9.2}%",
            r.name,
            r.system.0,
            r.holmes.0,
            (r.holmes.0 / r.system.0 - 1.0) * 100.0,
            r.system.1,
            r.holmes.1,
            (r.holmes.1 / r.system.1 - 1.0) * 100.0
        );
    }
    println!(
        "samples taken: {}, live: {}, dropped: {}",
        s.total_sampled_allocs, s.live_samples, s.dropped_samples
    );
}
