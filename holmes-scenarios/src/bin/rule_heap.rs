//! Scenario (gcheap): steady small churn, then a 200 MiB spike held for 200 ms *between*
//! two ticks of a 5 s interval. The `heap` rule, checked on the allocator's sampling
//! path, must catch it at its peak, with a baseline for `pprof -base`.

#[path = "../support.rs"]
mod support;

use std::time::{Duration, Instant};

#[global_allocator]
static ALLOC: holmes::Allocator = holmes::Allocator::system();

#[inline(never)]
fn heap_spike_culprit() -> Vec<Vec<u8>> {
    // 200 MiB in 1 MiB blocks.
    (0..200).map(|_| vec![7u8; 1 << 20]).collect()
}

#[inline(never)]
fn steady_churn(n: usize) -> usize {
    let v: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    v.len()
}

fn main() {
    let start = Instant::now();
    let guard = support::builder()
        .interval(Duration::from_secs(5))
        .ring_size(2)
        .memory_limit(1 << 30)
        .heap(holmes::Rule::new(5, 50, 15).cooldown(Duration::from_secs(3600)))
        .start()
        .expect("holmes starts");
    // Two ticks (10 s) of calm with a little churn, then the spike at 11.5 s, between
    // the ticks at 10 s and 15 s.
    while start.elapsed() < Duration::from_millis(11_500) {
        std::hint::black_box(steady_churn(1000));
        std::thread::sleep(Duration::from_millis(20));
    }
    let ticks_before = guard.status().ticks;
    let spike = std::hint::black_box(heap_spike_culprit());
    std::thread::sleep(Duration::from_millis(200));
    drop(spike);
    let ticks_after = guard.status().ticks;
    println!("ticks during the spike: {}", ticks_after - ticks_before);
    support::wait_for_dump(&guard, holmes::Metric::Heap, Duration::from_secs(10));
    let s = guard.status();
    println!("dumps={} failures={}", s.dumps, s.dump_failures);
}
