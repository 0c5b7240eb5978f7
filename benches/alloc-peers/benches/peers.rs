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
//! - `holmes<jemalloc>`: holmes wrapping jemalloc (prof inactive).
//!
//! Timing and statistics are holmes' own alloc bench's (`holmes-runtime/benches/
//! support/mod.rs`, included by path): every round runs each allocator once (the
//! order rotates from round to round), and each overhead is the median of the
//! per-round ratios to its baseline (System or jemalloc) with their quartiles.

use std::alloc::System;

use holmes_runtime::alloc::{self as halloc, Allocator};
use pprof_alloc::PprofAlloc;
use tikv_jemallocator::Jemalloc;

#[path = "../../../holmes-runtime/benches/support/mod.rs"]
mod support;
use support::{pairs_mt, quantile, Overhead};

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

fn set_jemalloc_prof(on: bool) {
    #[cfg(feature = "jemalloc-prof")]
    {
        // SAFETY: "prof.active" is a bool mallctl of a jemalloc built with profiling.
        unsafe { tikv_jemalloc_ctl::raw::write(b"prof.active\0", on) }.expect("prof.active");
    }
    #[cfg(not(feature = "jemalloc-prof"))]
    let _ = on;
}

fn run(w: Which, size: usize, n: u64, threads: usize) -> f64 {
    set_jemalloc_prof(w == Which::JemallocProf);
    let ns = match w {
        Which::System => pairs_mt(&System, size, n, threads),
        Which::Holmes => pairs_mt(&HOLMES, size, n, threads),
        Which::PprofAlloc => pairs_mt(&PPROF, size, n, threads),
        Which::Jemalloc | Which::JemallocProf => pairs_mt(&JE, size, n, threads),
        Which::HolmesJemalloc => pairs_mt(&HOLMES_JE, size, n, threads),
    };
    set_jemalloc_prof(false);
    ns
}

fn main() {
    halloc::set_sample_rate(halloc::DEFAULT_SAMPLE_RATE);
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

    for (size, label) in [(64usize, "64 B"), (4096, "4 KiB")] {
        for threads in [1usize, 2] {
            for &w in &all {
                run(w, size, n / 10, threads); // warm-up
            }
            let mut res: Vec<Vec<f64>> = vec![Vec::new(); all.len()];
            for r in 0..rounds {
                for k in 0..all.len() {
                    let i = (k + r) % all.len();
                    res[i].push(run(all[i], size, n, threads));
                }
            }
            println!();
            println!(
                "{label} alloc+free pair, {threads} thread(s): ns/pair (median of {rounds} \
                 rounds), overhead = median of per-round ratios [quartiles]"
            );
            let base_of = |w: Which| match w {
                Which::System | Which::Holmes | Which::PprofAlloc => Which::System,
                _ => Which::Jemalloc,
            };
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
        }
    }
    let s = halloc::stats();
    println!(
        "\nholmes: {} samples, {} dropped",
        s.total_sampled_allocs, s.dropped_samples
    );
}
