//! Scenario for `tests/watch_runtime.rs`: a synchronous `main` under `#[holmes::watch]`
//! idles through the warm-up, then spins one thread for ~4 s and returns.
//!
//! `cpu_cores = 1` makes one busy thread read as 100 % on any machine, far above `abs`.
//! `dump_dir` is relative: the test runs this binary with its working directory set to a
//! fresh directory and looks for `dumps/cpu.*.pb.gz` there. `on_error = "panic"` turns a
//! start failure into a failed test instead of a missing dump.

use std::time::{Duration, Instant};

/// The function the CPU profile must show on top.
#[inline(never)]
fn watch_sync_spin_culprit(deadline: Instant) -> u64 {
    let mut x = 1u64;
    while Instant::now() < deadline {
        // Plenty of work between clock reads, so the samples land in this function.
        // A plain counter, not a range iterator: in a debug build `Range::next` is a
        // call of its own and would take the samples.
        let mut i = 0u32;
        while i < 200_000 {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            x = std::hint::black_box(x);
            i += 1;
        }
    }
    x
}

#[holmes::watch(
    cpu(10, 25, 80),
    interval = "100ms",
    cpu_profile = "1s",
    cooldown = "1h",
    cpu_cores = 1,
    dump_dir = "dumps",
    on_error = "panic"
)]
fn main() {
    env_logger::init();
    // Warm-up: the rule needs 10 samples (1 s at 100 ms) before it may fire.
    std::thread::sleep(Duration::from_millis(1500));
    let spinner = std::thread::Builder::new()
        .name("spinner".into())
        .spawn(|| watch_sync_spin_culprit(Instant::now() + Duration::from_secs(4)))
        .expect("spawn the spinner");
    let x = spinner.join().expect("spinner panicked");
    println!("spun: {x}");
    // Returning drops the guard, which flushes the dump in flight.
}
