//! Cost of one sampler tick (holmes' `/proc` reader) against sysinfo's single-process
//! refresh, in the same run, with 1 and 1000 extra threads alive.
//!
//! Run: `cargo bench -p holmes-runtime --bench sampler`

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use holmes_runtime::sample::ProcessReader;
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

fn time_per_call(iters: u32, mut f: impl FnMut()) -> Duration {
    for _ in 0..iters / 10 {
        f();
    }
    let t0 = Instant::now();
    for _ in 0..iters {
        f();
    }
    t0.elapsed() / iters
}

fn measure(label: &str) {
    let mut reader = ProcessReader::new().expect("reader");
    let holmes = time_per_call(20_000, || {
        std::hint::black_box(reader.read().expect("read"));
    });
    let mut sys = System::new();
    let pid = Pid::from_u32(std::process::id());
    let sysinfo = time_per_call(2_000, || {
        sys.refresh_processes_specifics(
            ProcessesToUpdate::Some(&[pid]),
            true,
            ProcessRefreshKind::nothing().with_cpu().with_memory(),
        );
        std::hint::black_box(sys.process(pid).map(|p| p.memory()));
    });
    println!(
        "| sampler tick, {label:<12} | {:>8.2} µs | {:>8.2} µs | {:>6.1}× |",
        holmes.as_secs_f64() * 1e6,
        sysinfo.as_secs_f64() * 1e6,
        sysinfo.as_secs_f64() / holmes.as_secs_f64()
    );
}

fn main() {
    println!("| case                      | holmes      | sysinfo     | sysinfo / holmes |");
    println!("|---------------------------|-------------|-------------|---------|");
    measure("1 thread");
    let n = 1000;
    let barrier = Arc::new(Barrier::new(n + 1));
    let done = Arc::new(Barrier::new(n + 1));
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let (b, d) = (barrier.clone(), done.clone());
            std::thread::Builder::new()
                .stack_size(64 << 10)
                .spawn(move || {
                    b.wait();
                    d.wait();
                })
                .expect("spawn")
        })
        .collect();
    barrier.wait();
    measure("1000 threads");
    done.wait();
    for h in handles {
        let _ = h.join();
    }
}
