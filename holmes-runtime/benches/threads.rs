//! Thread-dump capture cost (no symbolization) for 10, 100 and 1000 parked threads:
//! total time per dump and per-thread interruption (time inside the handler).
//!
//! Run: `cargo bench -p holmes-runtime --bench threads` (targets: p50 ≤ 50 ms total at
//! 1000 threads, ≤ 50 µs per thread). Prints a table.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use holmes_runtime::dump::threads::{dump_threads_with_timeout, StackStatus};

#[inline(never)]
fn bench_parked_thread(gate: &(Mutex<bool>, Condvar)) {
    let (lock, cv) = gate;
    let mut open = lock.lock().unwrap_or_else(|e| e.into_inner());
    while !*open {
        open = cv.wait(open).unwrap_or_else(|e| e.into_inner());
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn main() {
    // `cargo bench` passes `--bench`; ignore arguments.
    // HOLMES_BENCH_WALK=dwarf|frame_pointers|auto picks the stack walker (default: auto).
    if let Some(w) = std::env::var("HOLMES_BENCH_WALK")
        .ok()
        .and_then(|w| holmes_runtime::StackWalk::parse(&w))
    {
        eprintln!("stacks walked by {:?}", holmes_runtime::stack::choose(w));
    }
    println!(
        "{:>8} {:>6} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>9}",
        "threads",
        "dumps",
        "total p50",
        "total p99",
        "total max",
        "intr p50",
        "intr p99",
        "intr max",
        "answered"
    );
    for &n in &[10usize, 100, 1000] {
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let g = gate.clone();
                std::thread::Builder::new()
                    .name(format!("bench-{i}"))
                    .stack_size(64 * 1024)
                    .spawn(move || bench_parked_thread(&g))
                    .expect("spawn")
            })
            .collect();
        std::thread::sleep(Duration::from_millis(200));
        let dumps = if n >= 1000 { 30 } else { 100 };
        // Warm-up: installs the handler, sizes the pool, faults the pages in.
        for _ in 0..3 {
            dump_threads_with_timeout(Duration::from_secs(1)).expect("dump");
        }
        let mut totals = Vec::with_capacity(dumps);
        let mut intr = Vec::with_capacity(dumps * (n + 1));
        let (mut answered, mut listed) = (0usize, 0usize);
        for _ in 0..dumps {
            let d = dump_threads_with_timeout(Duration::from_secs(1)).expect("dump");
            totals.push(d.capture_duration);
            for t in &d.threads {
                listed += 1;
                if t.status == StackStatus::Captured {
                    answered += 1;
                }
                if let Some(i) = t.interrupted_for {
                    intr.push(i);
                }
            }
        }
        totals.sort();
        intr.sort();
        println!(
            "{:>8} {:>6} {:>10.2?} {:>10.2?} {:>10.2?} {:>10.2?} {:>10.2?} {:>10.2?} {:>8.1}%",
            n,
            dumps,
            percentile(&totals, 0.5),
            percentile(&totals, 0.99),
            totals.last().copied().unwrap_or_default(),
            percentile(&intr, 0.5),
            percentile(&intr, 0.99),
            intr.last().copied().unwrap_or_default(),
            answered as f64 * 100.0 / listed.max(1) as f64
        );
        *gate.0.lock().unwrap_or_else(|e| e.into_inner()) = true;
        gate.1.notify_all();
        for h in handles {
            let _ = h.join();
        }
    }
}
