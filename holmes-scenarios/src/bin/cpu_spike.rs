//! Scenario: after the warm-up, one thread spins in a named function; holmes must
//! catch it with a CPU profile. Dump directory from `HOLMES_TEST_DIR`.

#[path = "../support.rs"]
mod support;

use std::time::{Duration, Instant};

#[inline(never)]
fn cpu_spike_culprit(until: Instant) -> u64 {
    let mut x = 0u64;
    while Instant::now() < until {
        // A plain counter, not a range iterator: in a debug build `Range::next` is a
        // call of its own and would take the flat samples from the culprit.
        let mut i = 0u64;
        while i < 10_000 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i));
            i += 1;
        }
    }
    x
}

fn main() {
    let guard = support::builder()
        .cpu(holmes::Rule::new(10, 25, 80).cooldown(Duration::from_secs(3600)))
        .cpu_profile_duration(Duration::from_secs(1))
        .start()
        .expect("holmes starts");
    // Warm-up: 10 samples of 100 ms.
    std::thread::sleep(Duration::from_millis(1500));
    // Spin until holmes has written the dump (at most 30 s: a loaded CI machine gives
    // the spinner less CPU, the profile still names it).
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s2 = stop.clone();
    let spinner = std::thread::Builder::new()
        .name("spinner".into())
        .spawn(move || {
            while !s2.load(std::sync::atomic::Ordering::Relaxed) {
                cpu_spike_culprit(Instant::now() + Duration::from_millis(100));
            }
        })
        .expect("spawn");
    support::wait_for_dump(&guard, holmes::Metric::Cpu, Duration::from_secs(30));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    spinner.join().expect("join");
    let t0 = Instant::now();
    let status = guard.status();
    drop(guard);
    println!("drop took {:?}", t0.elapsed());
    println!("dumps={} failures={}", status.dumps, status.dump_failures);
    if let Some(e) = &status.metric(holmes::Metric::Cpu).last_dump {
        println!("event: {e}");
    }
}
