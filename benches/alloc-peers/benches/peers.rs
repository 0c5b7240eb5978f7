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
//! Runs alternate between allocators (round robin) and each cell is the median of
//! the rounds (the minimum is printed too: on a shared machine noise only adds).
//! Times are thread CPU time (`CLOCK_THREAD_CPUTIME_ID`), so time spent descheduled
//! on a busy machine does not count.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::time::Duration;

use holmes_runtime::alloc::{self as halloc, Allocator};
use pprof_alloc::PprofAlloc;
use tikv_jemallocator::Jemalloc;

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

fn run_one<A: GlobalAlloc + Sync>(a: &'static A, size: usize, n: u64, threads: usize) -> f64 {
    let hs: Vec<_> = (0..threads)
        .map(|_| std::thread::spawn(move || pairs(a, size, n)))
        .collect();
    let total: Duration = hs.into_iter().map(|h| h.join().expect("thread")).sum();
    total.as_nanos() as f64 / (n as f64 * threads as f64)
}

fn run(w: Which, size: usize, n: u64, threads: usize) -> f64 {
    set_jemalloc_prof(w == Which::JemallocProf);
    let ns = match w {
        Which::System => run_one(&System, size, n, threads),
        Which::Holmes => run_one(&HOLMES, size, n, threads),
        Which::PprofAlloc => run_one(&PPROF, size, n, threads),
        Which::Jemalloc | Which::JemallocProf => run_one(&JE, size, n, threads),
        Which::HolmesJemalloc => run_one(&HOLMES_JE, size, n, threads),
    };
    set_jemalloc_prof(false);
    ns
}

fn stat(v: &mut [f64]) -> (f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    (v[v.len() / 2], v[0])
}

fn main() {
    halloc::set_sample_rate(halloc::DEFAULT_SAMPLE_RATE);
    let quick = std::env::var_os("HOLMES_BENCH_QUICK").is_some();
    let n: u64 = if quick { 500_000 } else { 2_000_000 };
    let rounds = if quick { 3 } else { 15 };
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
            for _ in 0..rounds {
                for (i, &w) in all.iter().enumerate() {
                    res[i].push(run(w, size, n, threads));
                }
            }
            println!();
            println!(
                "{label} alloc+free pair, {threads} thread(s), ns/pair (median of {rounds}, min)"
            );
            let stats: Vec<(f64, f64)> = res.iter_mut().map(|v| stat(v)).collect();
            let base_of = |w: Which| match w {
                Which::System | Which::Holmes | Which::PprofAlloc => Which::System,
                _ => Which::Jemalloc,
            };
            for (i, &w) in all.iter().enumerate() {
                let b = all.iter().position(|&x| x == base_of(w)).expect("baseline");
                let (med, min) = stats[i];
                let (bmed, bmin) = stats[b];
                println!(
                    "  {:<18} {:>8.2} {:>8.2}   vs {:<9} {:>+8.1}% (median) {:>+8.1}% (min)",
                    w.name(),
                    med,
                    min,
                    base_of(w).name(),
                    (med / bmed - 1.0) * 100.0,
                    (min / bmin - 1.0) * 100.0
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
