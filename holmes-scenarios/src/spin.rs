//! Shared by the `watch_sync` and `watch_tokio` scenarios (included with `#[path]`,
//! not a scenario itself): the CPU spike both of them make.

use std::time::{Duration, Instant};

/// The function the CPU profile must show on top. It spins until holmes has written the
/// CPU profile of the spike (so the capture saw it spinning from start to end, even on a
/// loaded machine where the rule fires late), or until `limit`.
#[inline(never)]
pub fn watch_spin_culprit(limit: Duration) -> u64 {
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
