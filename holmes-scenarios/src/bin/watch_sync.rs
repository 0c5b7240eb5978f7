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

use std::time::Duration;

#[path = "../spin.rs"]
mod spin;

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
        .spawn(|| spin::watch_spin_culprit(Duration::from_secs(30)))
        .expect("spawn the spinner");
    let x = spinner.join().expect("spinner panicked");
    println!("spun: {x}");
    // Returning drops the guard, which flushes the dump in flight.
}
