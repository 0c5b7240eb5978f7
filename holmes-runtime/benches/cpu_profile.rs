//! Overhead of a running CPU profile (99 Hz SIGPROF, frame-pointer walk per sample) on a
//! CPU-bound workload, against the same workload without profiling, in the same run.
//!
//! Run: `cargo bench -p holmes-runtime --bench cpu_profile`
//!
//! Method: a fixed amount of work (hashing in a loop, ~300 ms) is timed by the thread's
//! own CPU clock, alternating runs without and with a capture running in the
//! background (ABAB…), 11 pairs; the table shows the medians and their ratio.
//!
//! CPU profiles are Linux only; elsewhere the bench says so and measures nothing.
#![cfg_attr(not(target_os = "linux"), allow(dead_code, unused_imports))]

use std::time::{Duration, Instant};

#[cfg(target_os = "linux")]
use holmes_runtime::dump::cpu;
use holmes_runtime::symbol::Symbolizer;

#[inline(never)]
fn workload() -> u64 {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for i in 0..60_000_000u64 {
        x = std::hint::black_box((x ^ i).rotate_left(7).wrapping_mul(0xff51_afd7_ed55_8ccd));
    }
    x
}

fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn timed() -> Duration {
    let t0 = thread_cpu();
    std::hint::black_box(workload());
    thread_cpu() - t0
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[cfg(not(target_os = "linux"))]
fn main() {
    println!("CPU profiles are Linux only: nothing to measure on this platform");
}

#[cfg(target_os = "linux")]
fn main() {
    // HOLMES_BENCH_WALK=dwarf|frame_pointers|auto picks the stack walker (default: auto).
    if let Some(w) = std::env::var("HOLMES_BENCH_WALK")
        .ok()
        .and_then(|w| holmes_runtime::StackWalk::parse(&w))
    {
        eprintln!("stacks walked by {:?}", holmes_runtime::stack::choose(w));
    }
    let (_keep, rx) = crossbeam_channel::bounded::<()>(0);
    let _ = timed(); // warm caches
    let (mut plain, mut profiled) = (Vec::new(), Vec::new());
    let mut samples = 0usize;
    for _ in 0..11 {
        plain.push(timed());
        let (tx_done, rx_done) = crossbeam_channel::bounded::<Duration>(1);
        let rx2 = rx.clone();
        let profiler = std::thread::spawn(move || {
            let mut sym = Symbolizer::new();
            let (stop_tx, stop_rx) = crossbeam_channel::bounded::<()>(0);
            let started = Instant::now();
            // Profile until the workload reports it finished.
            let h = std::thread::spawn(move || {
                cpu::capture(Duration::from_secs(30), &stop_rx, &mut sym)
            });
            let _ = rx_done.recv();
            drop(stop_tx);
            let _ = rx2.try_recv();
            let c = h.join().expect("capture thread").expect("capture");
            (
                started.elapsed(),
                c.profile
                    .sample
                    .iter()
                    .map(|s| s.value[0] as usize)
                    .sum::<usize>(),
            )
        });
        std::thread::sleep(Duration::from_millis(20)); // let the timer start
        let d = timed();
        profiled.push(d);
        let _ = tx_done.send(d);
        let (_, n) = profiler.join().expect("profiler");
        samples += n;
    }
    let (a, b) = (median(plain), median(profiled));
    println!("| case | without profiling | with a CPU profile at 99 Hz | ratio |");
    println!("|---|---|---|---|");
    println!(
        "| CPU-bound workload (thread CPU time, median of 11) | {:.1} ms | {:.1} ms | {:.3}× |",
        a.as_secs_f64() * 1e3,
        b.as_secs_f64() * 1e3,
        b.as_secs_f64() / a.as_secs_f64()
    );
    println!("({samples} samples taken in all)");
}
