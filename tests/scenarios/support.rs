//! Shared by the `rule_*` and `cpu_spike` scenarios (included with `#[path]`, not a
//! scenario itself).

use std::time::{Duration, Instant};

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
