//! Scenario (thread_trigger): after the warm-up, 200 threads park in a named blocking
//! function; the `threads` rule must dump every thread's stack.

#[path = "../support.rs"]
mod support;

use std::sync::{Arc, Barrier};
use std::time::Duration;

#[inline(never)]
fn park_in_pileup_culprit(b: Arc<Barrier>, release: Arc<Barrier>) {
    b.wait();
    release.wait();
    std::hint::black_box(());
}

fn main() {
    let guard = support::builder()
        // sustain(5): the count must hold for 5 ticks (500 ms), so the dump sees the whole
        // pile-up rather than the first threads of it on a slow machine.
        .threads(
            holmes::Rule::new(20, 25, 100)
                .max(5000)
                .sustain(5)
                .cooldown(Duration::from_secs(3600)),
        )
        .start()
        .expect("holmes starts");
    std::thread::sleep(Duration::from_millis(1500));
    let n = 200;
    let started = Arc::new(Barrier::new(n + 1));
    let release = Arc::new(Barrier::new(n + 1));
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let (b, r) = (started.clone(), release.clone());
            std::thread::Builder::new()
                .name(format!("pileup-{i}"))
                .stack_size(128 << 10)
                .spawn(move || park_in_pileup_culprit(b, r))
                .expect("spawn")
        })
        .collect();
    started.wait();
    support::wait_for_dump(&guard, holmes::Metric::Threads, Duration::from_secs(20));
    release.wait();
    for h in handles {
        let _ = h.join();
    }
    let s = guard.status();
    println!("dumps={} failures={}", s.dumps, s.dump_failures);
}
