//! Scenario for `tests/watch_runtime.rs`: an async `main` with `#[holmes::watch]` above
//! `#[tokio::main]` idles through the warm-up, then spins a blocking task for ~4 s and
//! returns. See `watch_sync.rs` for why `cpu_cores = 1` and the relative `dump_dir`.

use std::time::{Duration, Instant};

/// The function the CPU profile must show on top.
#[inline(never)]
fn watch_tokio_spin_culprit(deadline: Instant) -> u64 {
    let mut x = 1u64;
    while Instant::now() < deadline {
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
#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::init();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let x = tokio::task::spawn_blocking(|| {
        watch_tokio_spin_culprit(Instant::now() + Duration::from_secs(4))
    })
    .await?;
    println!("spun: {x}");
    Ok(())
}
