//! Cost of one stack walk, frame pointers against DWARF call-frame information, from
//! 32 nested calls (the walk a sampled allocation does), in the same run.
//!
//! Run: `cargo bench -p holmes-runtime --bench walk`. Prints ns per walk (median of 21
//! batches of 20 000 walks, warm caches), frames per walk and the ratio, then the
//! resident memory the DWARF walker added: its tables registry and every cache of its
//! pool used once (RSS from `/proc/self/statm`, before and after).

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
fn main() {
    use holmes_runtime::stack::{self, Stack};
    use holmes_runtime::StackWalk;
    use std::time::Instant;

    #[inline(never)]
    fn nest(depth: u32, walks: u32, out: &mut Stack) -> u64 {
        if depth == 0 {
            let t0 = Instant::now();
            for _ in 0..walks {
                stack::capture_current(out);
                std::hint::black_box(&out);
            }
            return t0.elapsed().as_nanos() as u64;
        }
        let t = nest(depth - 1, walks, out);
        std::hint::black_box(t)
    }

    fn rss_kib() -> u64 {
        let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
        let pages: u64 = statm
            .split_whitespace()
            .nth(1)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        pages * 4
    }

    let rss0 = rss_kib();
    let prepared = stack::dwarf::prepare();
    // Use every cache of the pool once: walks from as many threads at once.
    std::thread::scope(|s| {
        for _ in 0..stack::dwarf::CACHES {
            s.spawn(|| {
                let mut out = Stack::empty();
                let (lo, hi) = stack::current_thread_bounds().expect("bounds");
                for _ in 0..2000 {
                    let regs = stack::dwarf::current_regs();
                    // SAFETY: this thread's own live stack.
                    unsafe { stack::dwarf::walk(regs, regs.sp.max(lo), hi, &mut out) };
                }
            });
        }
    });
    let rss1 = rss_kib();

    let mut rows = Vec::new();
    for walk in [StackWalk::FramePointers, StackWalk::Dwarf] {
        let used = stack::choose(walk);
        assert_eq!(used, walk, "this build cannot walk by {walk:?}");
        let mut out = Stack::empty();
        nest(32, 1000, &mut out); // warm the caches
        let mut per_walk: Vec<f64> = (0..21)
            .map(|_| nest(32, 20_000, &mut out) as f64 / 20_000.0)
            .collect();
        per_walk.sort_by(f64::total_cmp);
        rows.push((walk, per_walk[10], out.len()));
    }
    println!("{:>16} {:>10} {:>8}", "walker", "ns/walk", "frames");
    for (w, ns, frames) in &rows {
        println!("{:>16} {:>10.1} {:>8}", w.name(), ns, frames);
    }
    println!("DWARF / frame pointers: {:.2}x", rows[1].1 / rows[0].1);
    println!(
        "DWARF walker resident memory: +{} KiB ({} objects, {} with unwind tables, {} caches)",
        rss1.saturating_sub(rss0),
        prepared.modules,
        prepared.with_tables,
        stack::dwarf::CACHES
    );
}

#[cfg(not(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
fn main() {
    println!("stack walks are measured on Linux (x86_64, aarch64) only");
}
