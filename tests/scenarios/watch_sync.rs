//! Scenario for `tests/watch_runtime.rs`: a synchronous `main` under `#[holmes::watch]`
//! idles through the warm-up, then spins one thread until its CPU profile is on disk
//! (at most 30 s) and returns, which drops the guard.
//!
//! `cpu_cores = 1` makes one busy thread read as 100 % on an idle machine, far above
//! `abs`; on a loaded machine the spinner may get only a fraction of a core, so `min` is
//! a low 5 % (idle reads ~0.2 %) and the `diff` trigger (25 % above the recent average)
//! fires instead. `dump_dir` is relative: the test runs this binary with its working
//! directory set to a fresh directory and looks for `dumps/cpu.*.pb.gz` there.
//! `on_error = "panic"` turns a start failure into a failed test, not a missing dump.

use std::time::{Duration, Instant};

/// The function the CPU profile must show on top. It spins until holmes has written the
/// CPU profile of the spike (so the capture saw it spinning from start to end, even on a
/// loaded machine where the rule fires late), or until `limit`.
#[inline(never)]
fn watch_sync_spin_culprit(limit: Duration) -> u64 {
    let start = Instant::now();
    let mut checked = start;
    let mut x = 1u64;
    while start.elapsed() < limit {
        // Plenty of work between clock reads, so the samples land in this function. A
        // plain counter, not a range iterator: in a debug build `Range::next` is a call
        // of its own and would take the samples.
        let mut i = 0u32;
        while i < 200_000 {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            x = std::hint::black_box(x);
            i += 1;
        }
        if checked.elapsed() >= Duration::from_millis(100) {
            checked = Instant::now();
            if cpu_dump_written() {
                break;
            }
        }
    }
    x
}

/// Whether `dumps/cpu.*.pb.gz` exists (files are renamed into place once complete).
fn cpu_dump_written() -> bool {
    std::fs::read_dir("dumps")
        .map(|entries| {
            entries.filter_map(Result::ok).any(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                name.starts_with("cpu.") && name.ends_with(".pb.gz")
            })
        })
        .unwrap_or(false)
}

#[holmes::watch(
    cpu(5, 25, 80),
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
        .spawn(|| watch_sync_spin_culprit(Duration::from_secs(30)))
        .expect("spawn the spinner");
    let x = spinner.join().expect("spinner panicked");
    println!("spun: {x}");
    // Returning drops the guard, which flushes the dump in flight.
}
