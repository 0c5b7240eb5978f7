//! Scenario for `tests/watch_runtime.rs`: an async `main` with `#[holmes::watch]` above
//! `#[tokio::main]` idles through the warm-up, then spins a blocking task until its CPU
//! profile is on disk (at most 30 s) and returns. See `watch_sync.rs` for the choice of
//! rule, `cpu_cores = 1` and the relative `dump_dir`.

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
#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::init();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let x =
        tokio::task::spawn_blocking(|| spin::watch_spin_culprit(Duration::from_secs(30))).await?;
    println!("spun: {x}");
    Ok(())
}
