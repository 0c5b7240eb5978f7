//! holmes' sampling allocator against its peers, measured the same way in one run:
//! an alloc+free pair of one block (64 B, 4 KiB) in a loop, through the `GlobalAlloc`
//! methods of explicit allocator instances, on 1 and 2 threads.
//!
//! - `System` / `holmes<System>`: glibc malloc, bare and wrapped by holmes (512 KiB).
//! - `pprof-alloc`: `PprofAlloc::new().with_pprof()` (wraps System, samples 512 KiB).
//! - `jemalloc` / `jemalloc+prof`: tikv-jemallocator. With the default feature
//!   `jemalloc-prof` jemalloc is built with profiling and configured with
//!   `prof:true,prof_active:false,lg_prof_sample:19`; the `jemalloc+prof` runs switch
//!   `prof.active` on (sampling every 512 KiB on average, like Go and holmes), the
//!   `jemalloc` runs switch it off. `--no-default-features` builds plain jemalloc.
//!   Profiling compiled in and `prof:true` already slow jemalloc down (measured: its
//!   64 B pair ~2x plain jemalloc's, even inactive), so the cost of jemalloc's
//!   profiler over plain jemalloc is read across the two builds through System,
//!   measured in both: (jemalloc+prof / System) / (plain jemalloc / System).
//! - `holmes<jemalloc>`: holmes wrapping jemalloc (prof inactive).
//!
//! - The realistic workload of issue #4, building and dropping a `HashMap<String,
//!   String>` of 20 000 entries, through this binary's global allocator: a `Switch`
//!   that forwards every call to the allocator under test (all of them pay the same
//!   predictable dispatch).
//!
//! Timing and statistics are holmes' own alloc bench's (`holmes-runtime/benches/
//! support/mod.rs`, included by path): every round runs each allocator once (the
//! order rotates from round to round), and each overhead is the median of the
//! per-round ratios to its baseline (System or jemalloc) with their quartiles.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU8, Ordering};

use holmes_runtime::alloc::{self as halloc, Allocator};
use pprof_alloc::PprofAlloc;
use tikv_jemallocator::Jemalloc;

#[path = "../../../holmes-runtime/benches/support/mod.rs"]
mod support;
use support::{hashmap_build_drop, pairs, pairs_mt, quantile, steady_glibc_heap, Overhead};

static HOLMES: Allocator<System> = Allocator::system();
static HOLMES_JE: Allocator<Jemalloc> = Allocator::new(Jemalloc);
static PPROF: PprofAlloc = PprofAlloc::new().with_pprof();
static JE: Jemalloc = Jemalloc;

/// jemalloc's `malloc_conf` (symbol prefixed `_rjem_` by tikv-jemalloc-sys): a
/// `const char *` read at jemalloc's initialisation.
#[cfg(feature = "jemalloc-prof")]
#[export_name = "_rjem_malloc_conf"]
pub static MALLOC_CONF: &u8 = &b"prof:true,prof_active:false,lg_prof_sample:19\0"[0];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
enum Which {
    System,
    Holmes,
    PprofAlloc,
    Jemalloc,
    JemallocProf,
    HolmesJemalloc,
}

impl Which {
    fn name(self) -> &'static str {
        match self {
            Which::System => "System",
            Which::Holmes => "holmes<System>",
            Which::PprofAlloc => "pprof-alloc",
            Which::Jemalloc => "jemalloc",
            Which::JemallocProf => "jemalloc+prof",
            Which::HolmesJemalloc => "holmes<jemalloc>",
        }
    }
}

/// The allocator the global `Switch` forwards to; `System` outside the map runs.
static GLOBAL_MODE: AtomicU8 = AtomicU8::new(Which::System as u8);

/// Calls `$f` on the allocator selected by `GLOBAL_MODE`. Every allocator, System
/// included, is one entry of the same jump table: with System as the fall-through
/// default, the others paid an indirect jump System did not (measured with
/// `benches/instructions.sh`: ~4 instructions per call).
macro_rules! dispatch {
    ($f:ident($($a:expr),*)) => {
        match GLOBAL_MODE.load(Ordering::Relaxed) {
            0 => System.$f($($a),*),
            1 => HOLMES.$f($($a),*),
            2 => PPROF.$f($($a),*),
            3 | 4 => JE.$f($($a),*),
            5 => HOLMES_JE.$f($($a),*),
            // SAFETY: only `Which` discriminants (0..=5, checked below) are stored.
            _ => std::hint::unreachable_unchecked(),
        }
    };
}

const _: () = assert!(
    Which::System as u8 == 0
        && Which::Holmes as u8 == 1
        && Which::PprofAlloc as u8 == 2
        && Which::Jemalloc as u8 == 3
        && Which::JemallocProf as u8 == 4
        && Which::HolmesJemalloc as u8 == 5
);

struct Switch;

// SAFETY: every call is forwarded unchanged to one allocator. The mode changes only
// around a map run, which frees everything it allocated before it ends, so a block is
// always freed by the allocator that allocated it.
unsafe impl GlobalAlloc for Switch {
    #[inline]
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        // SAFETY: caller's contract.
        unsafe { dispatch!(alloc(l)) }
    }
    #[inline]
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: caller's contract.
        unsafe { dispatch!(dealloc(p, l)) }
    }
    #[inline]
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        // SAFETY: caller's contract.
        unsafe { dispatch!(alloc_zeroed(l)) }
    }
    #[inline]
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        // SAFETY: caller's contract.
        unsafe { dispatch!(realloc(p, l, n)) }
    }
}

#[global_allocator]
static GLOBAL: Switch = Switch;

/// One map build+drop through `w` as the global allocator, in ms.
fn run_map(w: Which, entries: usize) -> f64 {
    set_jemalloc_prof(w == Which::JemallocProf);
    GLOBAL_MODE.store(w as u8, Ordering::Relaxed);
    let d = hashmap_build_drop(entries);
    GLOBAL_MODE.store(Which::System as u8, Ordering::Relaxed);
    set_jemalloc_prof(false);
    d.as_secs_f64() * 1e3
}

fn set_jemalloc_prof(on: bool) {
    #[cfg(feature = "jemalloc-prof")]
    {
        // SAFETY: "prof.active" is a bool mallctl of a jemalloc built with profiling.
        unsafe { tikv_jemalloc_ctl::raw::write(b"prof.active\0", on) }.expect("prof.active");
    }
    #[cfg(not(feature = "jemalloc-prof"))]
    let _ = on;
}

/// Evaluates `$body` with `$a` bound to the allocator instance `$w` names, jemalloc's
/// profiler switched on for `jemalloc+prof` only. A macro, not a `&dyn GlobalAlloc`:
/// each arm is its own inlined loop, as the timed and counted runs need.
macro_rules! with_allocator {
    ($w:expr, $a:ident => $body:expr) => {{
        let w: Which = $w;
        set_jemalloc_prof(w == Which::JemallocProf);
        let r = match w {
            Which::System => {
                let $a = &System;
                $body
            }
            Which::Holmes => {
                let $a = &HOLMES;
                $body
            }
            Which::PprofAlloc => {
                let $a = &PPROF;
                $body
            }
            Which::Jemalloc | Which::JemallocProf => {
                let $a = &JE;
                $body
            }
            Which::HolmesJemalloc => {
                let $a = &HOLMES_JE;
                $body
            }
        };
        set_jemalloc_prof(false);
        r
    }};
}

fn run(w: Which, size: usize, n: u64, threads: usize) -> f64 {
    with_allocator!(w, a => pairs_mt(a, size, n, threads))
}

/// `HOLMES_BENCH_COUNT=<case>:<allocator>:<n>` runs one case through one allocator `n`
/// times on this thread and nothing else, for counting instructions under valgrind
/// (`benches/instructions.sh`): `map` is one 20 000-entry build+drop, `pair64` /
/// `pair4k` 100 000 alloc+free pairs; the allocator is named as in the tables.
fn count_only(spec: &str) {
    let mut it = spec.split(':');
    let (case, name, n) = match (it.next(), it.next(), it.next()) {
        (Some(c), Some(a), Some(n)) => (c, a, n.parse::<usize>().expect("a count")),
        _ => panic!("HOLMES_BENCH_COUNT=<case>:<allocator>:<n>"),
    };
    let w = [
        Which::System,
        Which::Holmes,
        Which::PprofAlloc,
        Which::Jemalloc,
        Which::JemallocProf,
        Which::HolmesJemalloc,
    ]
    .into_iter()
    .find(|w| w.name() == name)
    .expect("allocator: a name from the tables");
    for _ in 0..n {
        let size = match case {
            "map" => {
                run_map(w, 20_000);
                continue;
            }
            "pair64" => 64,
            "pair4k" => 4096,
            _ => panic!("case: map, pair64 or pair4k"),
        };
        with_allocator!(w, a => pairs(a, size, 100_000));
    }
}

fn main() {
    halloc::set_sample_rate(halloc::DEFAULT_SAMPLE_RATE);
    steady_glibc_heap();
    if let Ok(spec) = std::env::var("HOLMES_BENCH_COUNT") {
        count_only(&spec);
        return;
    }
    let quick = std::env::var_os("HOLMES_BENCH_QUICK").is_some();
    let n: u64 = if quick { 100_000 } else { 300_000 };
    let rounds = if quick { 9 } else { 61 };
    let mut all = vec![
        Which::System,
        Which::Holmes,
        Which::PprofAlloc,
        Which::Jemalloc,
    ];
    if cfg!(feature = "jemalloc-prof") {
        all.push(Which::JemallocProf);
    }
    all.push(Which::HolmesJemalloc);

    #[cfg(feature = "jemalloc-prof")]
    {
        // SAFETY: documented read-only mallctls of a profiling build.
        let (prof, lg): (bool, usize) = unsafe {
            (
                tikv_jemalloc_ctl::raw::read(b"opt.prof\0").expect("opt.prof"),
                tikv_jemalloc_ctl::raw::read(b"opt.lg_prof_sample\0").expect("lg_prof_sample"),
            )
        };
        println!("jemalloc: built with profiling, opt.prof={prof}, opt.lg_prof_sample={lg}");
        assert!(prof && lg == 19, "malloc_conf not applied");
    }
    #[cfg(not(feature = "jemalloc-prof"))]
    println!("jemalloc: plain build (no profiling)");

    let entries = 20_000;
    let map_rounds = if quick { 11 } else { 101 };
    let base_of = |w: Which| match w {
        Which::System | Which::Holmes | Which::PprofAlloc => Which::System,
        _ => Which::Jemalloc,
    };
    // (title, short name for the ratio lines, one run, rounds, whether each measured
    // run follows an unmeasured one of the same allocator)
    type Case = (String, &'static str, Box<dyn Fn(Which) -> f64>, usize, bool);
    let mut cases: Vec<Case> = Vec::new();
    for (size, label) in [(64usize, "64 B"), (4096, "4 KiB")] {
        for threads in [1usize, 2] {
            let short = match (size, threads) {
                (64, 1) => "pair-64B-1t",
                (64, _) => "pair-64B-2t",
                (_, 1) => "pair-4KiB-1t",
                _ => "pair-4KiB-2t",
            };
            cases.push((
                format!("{label} alloc+free pair, {threads} thread(s): ns/pair"),
                short,
                Box::new(move |w| run(w, size, n, threads)),
                rounds,
                false,
            ));
        }
    }
    cases.push((
        format!("HashMap<String,String> {}k build+drop: ms", entries / 1000),
        "map",
        Box::new(move |w| run_map(w, entries)),
        map_rounds,
        // A map run leaves the heap shaped by the allocator that ran it; without a run
        // of its own first, each allocator would be measured on the heap its
        // predecessor in the rotation left (measured: up to 6 % apart).
        true,
    ));
    for (title, short, case, rounds, warm_each) in &cases {
        for &w in &all {
            case(w); // warm-up
        }
        let mut res: Vec<Vec<f64>> = vec![Vec::new(); all.len()];
        for r in 0..*rounds {
            for k in 0..all.len() {
                let i = (k + r) % all.len();
                if *warm_each {
                    case(all[i]);
                }
                res[i].push(case(all[i]));
            }
        }
        println!();
        println!(
            "{title} (median of {rounds} rounds), overhead = median of per-round ratios \
             [quartiles]"
        );
        for (i, &w) in all.iter().enumerate() {
            let b = all.iter().position(|&x| x == base_of(w)).expect("baseline");
            println!(
                "  {:<18} {:>8.2}   vs {:<9} {}",
                w.name(),
                quantile(&res[i], 0.5),
                base_of(w).name(),
                Overhead::paired(&res[b], &res[i]),
            );
        }
        // For comparisons across the two jemalloc builds (see the module docs): every
        // allocator's paired ratio to System, one parseable line each.
        let sys = all
            .iter()
            .position(|&x| x == Which::System)
            .expect("System");
        for (i, &w) in all.iter().enumerate() {
            println!(
                "  ratio-to-System\t{}\t{}\t{:.4}",
                short,
                w.name(),
                1.0 + Overhead::paired(&res[sys], &res[i]).median / 100.0
            );
        }
    }
    let s = halloc::stats();
    println!(
        "\nholmes: {} samples, {} dropped",
        s.total_sampled_allocs, s.dropped_samples
    );
}
