//! The holmes demo: a process that spikes and gets caught.
//!
//! Run: `cargo run --release --example quickstart`
//!
//! holmes samples this process every 200 ms. After the warm-up (10 samples), the demo
//! provokes spikes, each in a clearly named function; holmes notices each one and writes
//! the matching profile. At the end the demo lists every dump: the rule and the reason
//! that fired, the files, and the top functions — the culprits.

use std::time::{Duration, Instant};

use holmes::{Holmes, Metric, Rule};

/// The CPU culprit: a hot loop on two threads.
#[inline(never)]
fn burn_cpu_in_a_hot_loop(until: Instant) -> u64 {
    let mut x = 1u64;
    while Instant::now() < until {
        for i in 0..50_000u64 {
            x = std::hint::black_box(x.rotate_left(5) ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        }
    }
    x
}

fn step(msg: &str) {
    println!("[demo {:>5.1}s] {msg}", START.elapsed().as_secs_f64());
}

static START: std::sync::LazyLock<Instant> = std::sync::LazyLock::new(Instant::now);

fn wait_for(guard: &holmes::Guard, what: &str, mut done: impl FnMut(&holmes::Status) -> bool, limit: Duration) {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if done(&guard.status()) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    step(&format!("gave up waiting for {what}"));
}

fn main() -> Result<(), holmes::Error> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("holmes=warn")).init();
    std::sync::LazyLock::force(&START);
    let dump_dir = std::env::temp_dir().join("holmes-quickstart");
    let _ = std::fs::remove_dir_all(&dump_dir);

    let guard = Holmes::builder()
        .interval(Duration::from_millis(200))
        .dump_dir(&dump_dir)
        .cooldown(Duration::from_secs(3600))
        .cpu(Rule::new(10, 25, 80))
        .cpu_profile_duration(Duration::from_secs(2))
        .start()?;
    let s = guard.status();
    step(&format!(
        "holmes watches this process: {:.2} cores ({}), memory limit {} MiB ({}); dumps go to {}",
        s.cores,
        s.cores_source,
        s.memory_limit >> 20,
        s.memory_source,
        s.dump_dir.display()
    ));

    step("warming up: holmes needs 10 samples before it judges anything");
    wait_for(&guard, "the warm-up", |s| s.ticks >= 11, Duration::from_secs(10));

    step("act 1: CPU spike — two threads run burn_cpu_in_a_hot_loop for 4 s");
    let until = Instant::now() + Duration::from_secs(4);
    let burners: Vec<_> = (0..2)
        .map(|_| std::thread::spawn(move || burn_cpu_in_a_hot_loop(until)))
        .collect();
    wait_for(
        &guard,
        "the CPU dump",
        |s| s.metric(Metric::Cpu).last_dump.is_some(),
        Duration::from_secs(15),
    );
    for b in burners {
        let _ = b.join();
    }

    let status = guard.status();
    drop(guard);
    println!();
    println!("=== what holmes caught ({} dumps) ===", status.dumps);
    for m in &status.metrics {
        let Some(e) = &m.last_dump else { continue };
        println!();
        println!(
            "{} rule ({}, {}, {}) fired: {} — value {:.1}, average {:.1}",
            e.metric,
            e.rule.min(),
            e.rule.diff(),
            e.rule.abs(),
            e.reason,
            e.value,
            e.average
        );
        if let Some(c) = e.capture_cpu_percent {
            println!("  CPU during the {:.1?} capture: {c:.1}%", e.capture_duration);
        }
        println!("  files:");
        for f in &e.files {
            println!("    {}", f.display());
        }
        println!("  top functions (flat):");
        for t in e.top.iter().take(5) {
            println!("    {:>6.1}%  {}", t.flat as f64 * 100.0 / e.top_total.max(1) as f64, t.name);
        }
        if let Some(err) = &e.error {
            println!("  error: {err}");
        }
    }
    println!();
    println!("Open a profile: go tool pprof -top {}/cpu.*.pb.gz", dump_dir.display());
    println!("or the flamegraph: {}/cpu.*.svg in a browser", dump_dir.display());
    Ok(())
}
