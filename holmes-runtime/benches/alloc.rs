//! Overhead of `holmes_runtime::alloc::Allocator<System>` over `System`, sampling at
//! the default 512 KiB rate. A plain bench binary (`harness = false`) printing a table:
//!
//! ```text
//! cargo bench -p holmes-runtime --bench alloc
//! ```
//!
//! Method, so the numbers can be judged (timing and statistics in `support/mod.rs`):
//! - *64 B / 4 KiB pair*: `alloc` + `dealloc` of one block in a loop, called through the
//!   `GlobalAlloc` methods of two explicit instances (`System` and `HOLMES`), on 1 and
//!   on 2 threads at once (ns per pair, per thread).
//! - *HashMap*: build and drop a `HashMap<String, String>` of 20 000 entries
//!   (`format!`ed keys and values, a fixed hasher, glibc told to keep freed memory:
//!   see `main`), the "realistic allocation-heavy workload" of issue #4. Std
//!   collections use the global allocator, so this binary's global allocator is a
//!   `Switch` that forwards to `System` or to `HOLMES` depending on a flag flipped
//!   between runs; both modes pay the same (predictable) branch.
//!   Before it, holmes's live table is brought to the state of a service that has
//!   run for a while (see `main`).
//! - Every case runs in rounds of one System run and one holmes run back to back
//!   (alternating which goes first); the overhead is the median of the per-round
//!   ratios, printed with its quartiles.
//! - `HOLMES_BENCH_CASES=map,pair64x1,…` runs only those cases and
//!   `HOLMES_BENCH_TSV=1` prints one line per case for scripts: `benches/layouts.sh`
//!   runs this bench over randomized code layouts. `HOLMES_BENCH_RATE` sets the sample
//!   rate (bytes; 0 = off) and `HOLMES_BENCH_N` the pairs per run (500 000).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, Ordering};

use holmes_runtime::alloc::{self as halloc, Allocator};

mod support;
use support::{hashmap_build_drop, pairs, pairs_mt, quantile, steady_glibc_heap, Overhead};

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

struct Row {
    key: String,
    name: String,
    system: f64,
    holmes: f64,
    overhead: Overhead,
    unit: &'static str,
}

/// `rounds` paired rounds of `run(false)` (System) and `run(true)` (holmes).
fn ab(
    key: &str,
    name: &str,
    unit: &'static str,
    rounds: usize,
    mut run: impl FnMut(bool) -> f64,
) -> Row {
    run(false);
    run(true);
    let (mut s, mut h) = (Vec::new(), Vec::new());
    for i in 0..rounds {
        if i % 2 == 0 {
            s.push(run(false));
            h.push(run(true));
        } else {
            h.push(run(true));
            s.push(run(false));
        }
    }
    Row {
        key: key.to_owned(),
        name: name.to_owned(),
        system: quantile(&s, 0.5),
        holmes: quantile(&h, 0.5),
        overhead: Overhead::paired(&s, &h),
        unit,
    }
}

/// `HOLMES_BENCH_COUNT=<case>-<side>:<n>` runs one side of one case `n` times and
/// nothing else, for counting instructions under `valgrind --tool=callgrind` (see
/// `benches/instructions.sh`): `map` is one 20 000-entry build+drop, `pair64` 100 000
/// alloc+free pairs of 64 B; `side` is `system` or `holmes`.
fn count_only(spec: &str) {
    let (what, n) = spec
        .split_once(':')
        .expect("HOLMES_BENCH_COUNT=<case>-<side>:<n>");
    let n: usize = n.parse().expect("a count");
    let holmes = match what.rsplit_once('-') {
        Some((_, "holmes")) => true,
        Some((_, "system")) => false,
        _ => panic!("side: system or holmes"),
    };
    for _ in 0..n {
        if what.starts_with("map-") {
            USE_HOLMES.store(holmes, Ordering::Relaxed);
            hashmap_build_drop(20_000);
            USE_HOLMES.store(false, Ordering::Relaxed);
        } else if what.starts_with("pair64-") {
            if holmes {
                pairs(&HOLMES, 64, 100_000);
            } else {
                pairs(&System, 64, 100_000);
            }
        } else {
            panic!("case: map or pair64");
        }
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
    // HOLMES_BENCH_WALK=dwarf|frame_pointers|auto picks the stack walker (default: auto).
    if let Some(w) = std::env::var("HOLMES_BENCH_WALK")
        .ok()
        .and_then(|w| holmes_runtime::StackWalk::parse(&w))
    {
        eprintln!("stacks walked by {:?}", holmes_runtime::stack::choose(w));
    }
    steady_glibc_heap();
    if let Ok(spec) = std::env::var("HOLMES_BENCH_COUNT") {
        count_only(&spec);
        return;
    }
    let quick = std::env::var_os("HOLMES_BENCH_QUICK").is_some();
    let n: u64 = std::env::var("HOLMES_BENCH_N")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(if quick { 200_000 } else { 500_000 });
    let rounds = if quick { 11 } else { 101 };
    // HOLMES_BENCH_CASES=map,pair64x1,… runs only those cases (benches/layouts.sh).
    let only = std::env::var("HOLMES_BENCH_CASES").ok();
    let wanted = |key: &str| {
        only.as_deref()
            .is_none_or(|o| o.split(',').any(|c| c == key))
    };
    let mut rows = Vec::new();
    for (size, label, short) in [(64usize, "64 B", "64"), (4096, "4 KiB", "4k")] {
        for threads in [1usize, 2] {
            let key = format!("pair{short}x{threads}");
            if !wanted(&key) {
                continue;
            }
            rows.push(ab(
                &key,
                &format!("{label} alloc+free pair, {threads} thread(s)"),
                "ns",
                rounds,
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
    // Many short rounds pair better than a few long ones on a noisy machine: 20 000
    // entries (~6 ms) x 301 rounds measured a 4x narrower quartile range than
    // 100 000 entries x 61 rounds.
    let entries = 20_000;
    let map_rounds = if quick { 21 } else { 301 };
    if wanted("map") {
        // Holmes in its steady state too: a service that has run for a while has taken
        // samples all over its heap, so the live table's pages (see `table`) are
        // resident. A fresh process faults them in one by one as samples land on them
        // (at most ~1 300 first-touch faults in its life, ~1.6 µs each here), which
        // in this short bench read as ~1 % of the map's time. Two builds with every
        // allocation sampled put a sample on each address the map uses.
        halloc::set_sample_rate(1);
        USE_HOLMES.store(true, Ordering::Relaxed);
        for _ in 0..2 {
            hashmap_build_drop(entries);
        }
        USE_HOLMES.store(false, Ordering::Relaxed);
        halloc::set_sample_rate(rate);
        rows.push(ab(
            "map",
            "HashMap<String,String> 20k build+drop",
            "ms",
            map_rounds,
            |h| {
                USE_HOLMES.store(h, Ordering::Relaxed);
                let d = hashmap_build_drop(entries);
                USE_HOLMES.store(false, Ordering::Relaxed);
                d.as_secs_f64() * 1e3
            },
        ));
    }
    if std::env::var_os("HOLMES_BENCH_TSV").is_some() {
        // One line per case for scripts: key, System, holmes, median overhead %.
        for r in &rows {
            println!(
                "row\t{}\t{}\t{}\t{}",
                r.key, r.system, r.holmes, r.overhead.median
            );
        }
        return;
    }

    let s = halloc::stats();
    println!();
    println!(
        "holmes::Allocator<System> vs System, sample rate {} B, thread CPU time; \
         {rounds} paired rounds per pair case, {map_rounds} for the map",
        s.sample_rate
    );
    println!(
        "{:<42} {:>11} {:>11}   {:>8}  {:>15}",
        "case", "System", "holmes", "overhead", "[quartiles]"
    );
    for r in &rows {
        let u = r.unit;
        println!(
            "{:<42} {:>8.2} {u} {:>8.2} {u}  {}",
            r.name, r.system, r.holmes, r.overhead
        );
    }
    println!(
        "(times: medians; overhead: median of the per-round holmes/System ratios)\n\
         samples taken (the map case's warm-up included): {}, live: {}, dropped: {}",
        s.total_sampled_allocs, s.live_samples, s.dropped_samples
    );
}
