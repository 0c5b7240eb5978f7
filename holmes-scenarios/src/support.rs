//! Shared by the `rule_*` and `cpu_spike` scenarios (included with `#[path]`, not a
//! scenario itself).

use std::time::{Duration, Instant};

/// Sets up a scenario: logs at `holmes=info` (unless `RUST_LOG` says otherwise) and
/// returns a builder that dumps into `HOLMES_TEST_DIR` (set by the test), sampling
/// every 100 ms.
pub fn builder() -> holmes::Builder {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("holmes=info"))
        .init();
    let dir = std::env::var("HOLMES_TEST_DIR").expect("HOLMES_TEST_DIR");
    holmes::Holmes::builder()
        .interval(Duration::from_millis(100))
        .dump_dir(dir)
}

/// Waits (bounded) until `metric`'s rule has written a dump; returns it.
pub fn wait_for_dump(
    guard: &holmes::Guard,
    metric: holmes::Metric,
    limit: Duration,
) -> Option<holmes::DumpEvent> {
    let t0 = Instant::now();
    loop {
        if let Some(e) = guard.status().metric(metric).last_dump.clone() {
            return Some(e);
        }
        if t0.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
