//! Idle cost of a running holmes: the CPU it uses (% of one core) and the memory it
//! adds (RSS), at a 1 s and a 5 s interval, against the same process without holmes, in
//! the same run.
//!
//! Run: `cargo bench -p holmes-runtime --bench idle`
//!
//! holmes runs with the cpu, mem, threads and heap rules (so the sampler, the dumper and
//! the heap watcher all run) and thresholds that never fire; the process does nothing
//! else. Start-up (the symbolizer loading debug info) is excluded: measuring starts 2 s
//! after `start()`. RSS includes that loaded debug info.

use std::time::{Duration, Instant};

use holmes_runtime::{Allocator, Holmes, Rule};

#[global_allocator]
static ALLOC: Allocator = Allocator::system();

fn process_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .unwrap_or(0)
        * 4096
}

/// CPU % of one core used by the process over `window`.
fn measure(window: Duration) -> f64 {
    let (c0, t0) = (process_cpu(), Instant::now());
    std::thread::sleep(window);
    (process_cpu() - c0).as_secs_f64() / t0.elapsed().as_secs_f64() * 100.0
}

fn main() {
    let window = Duration::from_secs(10);
    let dir = std::env::temp_dir().join(format!("holmes-idle-bench-{}", std::process::id()));
    let base_rss = rss();
    let base_cpu = measure(window);
    println!("| idle process | CPU (% of a core) | RSS added by holmes |");
    println!("|---|---|---|");
    println!("| without holmes | {base_cpu:.4} % | — |");
    for interval in [Duration::from_secs(1), Duration::from_secs(5)] {
        let guard = Holmes::builder()
            .env_overrides(false)
            .interval(interval)
            .dump_dir(&dir)
            .cpu(Rule::new(100, 100, 100))
            .mem(Rule::new(100, 100, 100))
            .heap(Rule::new(100, 100, 100))
            .threads(Rule::new(100_000, 100, 100_000))
            .start()
            .expect("start");
        std::thread::sleep(Duration::from_secs(2));
        let cpu = measure(window);
        let added = rss().saturating_sub(base_rss);
        println!(
            "| holmes, interval {:?} | {cpu:.4} % | {:.1} MiB |",
            interval,
            added as f64 / (1 << 20) as f64
        );
        drop(guard);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
