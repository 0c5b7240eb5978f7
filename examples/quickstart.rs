//! The holmes demo: a process that spikes and gets caught.
//!
//! Run: `cargo run --release --example quickstart`
//!
//! holmes samples this process every 200 ms. After the warm-up (10 samples) the demo
//! provokes four problems, each in a clearly named function, and holmes catches each one
//! with the matching profile:
//!
//! 1. a CPU spike            → `cpu` rule     → CPU profile
//! 2. a 150 ms heap spike    → `heap` rule    → heap profile at the peak + a baseline
//! 3. memory held for long   → `mem` rule     → heap profile
//! 4. a thread pile-up       → `threads` rule → every thread's stack
//!
//! At the end it prints, for each dump, the rule and the reason that fired, the files,
//! and the culprit.

use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use holmes::{Guard, Holmes, Metric, Rule};

// Heap profiles need holmes' sampling allocator (`#[holmes::watch]` installs it).
#[global_allocator]
static ALLOC: holmes::Allocator = holmes::Allocator::system();

/// Act 1: a hot loop on two threads.
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

/// Act 2: 300 MiB that live for 150 ms — between two samples, gone before anyone looks.
/// (Zeroed and never written, so the pages are not even resident: RSS does not move,
/// only the heap does.)
#[inline(never)]
fn allocate_a_short_lived_spike() {
    let spike: Vec<Vec<u8>> = (0..300).map(|_| vec![0u8; 1 << 20]).collect();
    std::thread::sleep(Duration::from_millis(150));
    drop(std::hint::black_box(spike));
}

/// Act 3: 600 MiB, touched and held (RSS grows).
#[inline(never)]
fn hold_a_big_buffer() -> Vec<u8> {
    let mut v = vec![0u8; 600 << 20];
    for i in (0..v.len()).step_by(4096) {
        v[i] = 1;
    }
    v
}

/// Act 4: a thread that waits for a lock that main holds.
#[inline(never)]
fn wait_for_the_lock_main_holds(lock: &Mutex<()>, started: &Barrier) {
    started.wait();
    drop(lock.lock());
}

static START: std::sync::LazyLock<Instant> = std::sync::LazyLock::new(Instant::now);

fn step(msg: &str) {
    println!("[demo {:>5.1}s] {msg}", START.elapsed().as_secs_f64());
}

/// Waits until `metric`'s rule has dumped, printing what holmes sees meanwhile.
fn wait_for_dump(guard: &Guard, metric: Metric, limit: Duration) {
    let t0 = Instant::now();
    let mut last_print = Instant::now();
    while t0.elapsed() < limit {
        let s = guard.status();
        let m = s.metric(metric);
        if let Some(e) = &m.last_dump {
            step(&format!(
                "  caught: {} rule fired ({}), dump #{} written",
                e.metric, e.reason, e.id
            ));
            return;
        }
        if last_print.elapsed() >= Duration::from_millis(600) {
            last_print = Instant::now();
            step(&format!(
                "  {metric}: current {:.1}, average {:.1} — waiting for the dump",
                m.current.unwrap_or(0.0),
                m.average
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    step(&format!("  gave up waiting for the {metric} dump"));
}

fn main() -> Result<(), holmes::Error> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("holmes=error"))
        .init();
    std::sync::LazyLock::force(&START);
    let dump_dir = std::env::temp_dir().join("holmes-quickstart");
    let _ = std::fs::remove_dir_all(&dump_dir);

    let guard = Holmes::builder()
        .interval(Duration::from_millis(200))
        .dump_dir(&dump_dir)
        .cooldown(Duration::from_secs(3600)) // one dump per rule in this demo
        .memory_limit(1 << 30) // percentages of 1 GiB, whatever this machine has
        .cpu(Rule::new(10, 25, 80))
        .cpu_profile_duration(Duration::from_secs(2))
        .heap(Rule::new(10, 50, 25))
        .mem(Rule::new(10, 25, 40))
        .threads(Rule::new(20, 25, 100))
        .start()?;
    let s = guard.status();
    step(&format!(
        "holmes watches this process: {:.2} cores ({}), memory limit {} MiB ({})",
        s.cores,
        s.cores_source,
        s.memory_limit >> 20,
        s.memory_source
    ));
    step(&format!("dumps go to {}", s.dump_dir.display()));
    step("warming up: holmes judges nothing before it has 10 samples (2 s)");
    while guard.status().ticks < 11 {
        std::thread::sleep(Duration::from_millis(50));
    }

    step("act 1: CPU spike — two threads run burn_cpu_in_a_hot_loop for 4 s");
    let until = Instant::now() + Duration::from_secs(4);
    let burners: Vec<_> = (0..2)
        .map(|_| std::thread::spawn(move || burn_cpu_in_a_hot_loop(until)))
        .collect();
    wait_for_dump(&guard, Metric::Cpu, Duration::from_secs(15));
    for b in burners {
        let _ = b.join();
    }

    step("act 2: heap spike — allocate_a_short_lived_spike holds 300 MiB for 150 ms");
    allocate_a_short_lived_spike();
    wait_for_dump(&guard, Metric::Heap, Duration::from_secs(10));

    step("act 3: memory — hold_a_big_buffer touches and keeps 600 MiB");
    let buffer = hold_a_big_buffer();
    wait_for_dump(&guard, Metric::Mem, Duration::from_secs(10));
    drop(std::hint::black_box(buffer));

    step("act 4: thread pile-up — 150 threads block in wait_for_the_lock_main_holds");
    let lock = Arc::new(Mutex::new(()));
    let held = lock.lock();
    let started = Arc::new(Barrier::new(151));
    let waiters: Vec<_> = (0..150)
        .map(|i| {
            let (l, b) = (lock.clone(), started.clone());
            std::thread::Builder::new()
                .name(format!("waiter-{i}"))
                .spawn(move || wait_for_the_lock_main_holds(&l, &b))
                .expect("spawn")
        })
        .collect();
    started.wait();
    wait_for_dump(&guard, Metric::Threads, Duration::from_secs(10));
    drop(held);
    for w in waiters {
        let _ = w.join();
    }

    let status = guard.status();
    drop(guard);
    println!();
    println!(
        "=== what holmes caught: {} dumps in {} ===",
        status.dumps,
        dump_dir.display()
    );
    let mut events: Vec<_> = status
        .metrics
        .iter()
        .filter_map(|m| m.last_dump.as_ref())
        .collect();
    events.sort_by_key(|e| e.id);
    for e in events {
        println!();
        println!(
            "{} dump #{} — {} rule ({}, {}, {}) fired: {}; value {:.1}, average of the last samples {:.1}",
            e.kind,
            e.id,
            e.metric,
            e.rule.min(),
            e.rule.diff(),
            e.rule.abs(),
            e.reason,
            e.value,
            e.average
        );
        if let Some(c) = &e.culprit {
            println!("  culprit: {c}");
        }
        if let Some(c) = e.capture_cpu_percent {
            println!(
                "  CPU during the {:.1?} capture: {c:.1}%",
                e.capture_duration
            );
        }
        for f in &e.files {
            println!("  {}", f.display());
        }
        if let Some(err) = &e.error {
            println!("  error: {err}");
        }
    }
    println!();
    println!("Read them:");
    println!("  go tool pprof -top {}/cpu.*.pb.gz", dump_dir.display());
    println!(
        "  go tool pprof -top -sample_index=inuse_space {}/heap.*[0-9].pb.gz",
        dump_dir.display()
    );
    println!("  go tool pprof -http=:8080 <file>        (graphs, flamegraphs in a browser)");
    println!(
        "  less {}/threads.*.txt                   (stacks grouped, like a Go goroutine dump)",
        dump_dir.display()
    );
    println!("  open the .svg flamegraphs in a browser");
    Ok(())
}
