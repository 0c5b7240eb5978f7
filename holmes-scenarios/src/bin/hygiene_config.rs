//! Scenarios for `tests/hygiene.rs` about changing holmes without a rebuild:
//!
//! - `update`: `Guard::update` enables the threads rule, raises its `abs` above the
//!   pile-up (no more dumps), lowers it again (a dump) and changes the interval.
//! - `env`: run with `HOLMES_*` variables set by the test; the code's rule cannot fire
//!   and its dump directory cannot be created, the environment's can.
//! - `disable`: run with `HOLMES_DISABLE=1`: `start()` is `Error::Disabled` and the
//!   program runs without holmes.
//! - `extreme`: every extreme setting (`Duration::MAX`, 1 ns, `usize::MAX`) given to
//!   `start()`, each result printed; then, run with `HOLMES_COOLDOWN=500000000000y` set
//!   by the test, holmes dumps a pile-up and keeps ticking.

#[path = "../hygiene_pile.rs"]
mod pile;

use std::path::{Path, PathBuf};
use std::time::Duration;

use pile::{builder, last_dump, threads_rule, wait_until, Pile, ABS, HIGH};

fn main() {
    pile::init_log();
    let dir = PathBuf::from(pile::env("HOLMES_TEST_DIR"));
    match std::env::args().nth(1).as_deref() {
        Some("update") => update(&dir),
        Some("env") => env(),
        Some("disable") => disable(&dir),
        Some("extreme") => extreme(&dir),
        other => panic!("unknown mode {other:?}"),
    }
    println!("host: still running");
}

fn update(dir: &Path) {
    let cooldown = Duration::from_millis(100);
    let guard = builder(dir).start().expect("holmes starts");
    let mut pile = Pile::default();
    pile.set(HIGH);
    std::thread::sleep(Duration::from_millis(300));
    let s = guard.status();
    assert_eq!(s.dumps + s.dump_failures, 0, "no rule, no dump: {s:?}");

    // Enable the threads rule: a dump.
    guard
        .update(guard.config().threads(threads_rule(cooldown)))
        .expect("enable the rule");
    assert!(
        wait_until(Duration::from_secs(10), || guard.status().dumps >= 1),
        "no dump once the rule was enabled: {:?}",
        guard.status()
    );
    println!("enabled: dumps={}", guard.status().dumps);

    // Raise abs above the pile-up and change the interval: quiet.
    let high_abs = 10 * ABS;
    guard
        .update(
            guard
                .config()
                .interval(Duration::from_millis(30))
                .threads(holmes::Rule::new(5, 1000, high_abs).cooldown(cooldown)),
        )
        .expect("raise abs");
    // Triggers queued before the update (the first dump is slow: the symbolizer warms
    // up) are still written; wait until the dumper is idle.
    let updated_at = std::time::SystemTime::now();
    let at_update = guard.status().dumps;
    let mut last = at_update;
    let idle = wait_until(Duration::from_secs(10), || {
        std::thread::sleep(Duration::from_millis(400));
        let now = guard.status().dumps;
        std::mem::replace(&mut last, now) == now
    });
    assert!(
        idle,
        "dumps go on after abs was raised: {:?}",
        guard.status()
    );
    let before = guard.status().dumps;
    let last_trigger = last_dump(&guard).expect("event").time;
    println!(
        "drained: {} dumps queued before the update (the last one triggered {:?} before it)",
        before - at_update,
        updated_at.duration_since(last_trigger).ok()
    );
    std::thread::sleep(Duration::from_secs(1));
    let s = guard.status();
    let rule_abs = s.metric(holmes::Metric::Threads).rule.map(|r| r.abs());
    println!(
        "raised: before={before} after={} interval={:?} abs={rule_abs:?} current={:?}",
        s.dumps,
        s.interval,
        s.metric(holmes::Metric::Threads).current
    );
    assert_eq!(s.dumps, before, "dumps above the raised abs: {s:?}");
    assert_eq!(s.interval, Duration::from_millis(30));
    assert_eq!(rule_abs, Some(high_abs));

    // Lower it again: a dump.
    guard
        .update(guard.config().threads(threads_rule(cooldown)))
        .expect("lower abs");
    assert!(
        wait_until(Duration::from_secs(10), || guard.status().dumps > before),
        "no dump after lowering abs: {:?}",
        guard.status()
    );
    pile.set(0);
    println!("lowered: dumps={}", guard.status().dumps);
}

fn env() {
    // The code's configuration: a rule that cannot fire, a directory that cannot be made.
    let guard = holmes::Holmes::builder()
        .interval(Duration::from_millis(20))
        .ring_size(2)
        .min_free_space(0)
        .dump_dir("/proc/holmes-env-override-missing")
        .threads(holmes::Rule::new(1000, 25, 5000).cooldown(Duration::from_secs(3600)))
        .start()
        .expect("holmes starts with the environment's dump directory");
    let s = guard.status();
    let rule = s
        .metric(holmes::Metric::Threads)
        .rule
        .expect("threads rule");
    println!(
        "env: interval={:?} rule=({},{},{}) cooldown={:?} dir={}",
        s.interval,
        rule.min(),
        rule.diff(),
        rule.abs(),
        rule.cooldown_override(),
        s.dump_dir.display()
    );
    let mut pile = Pile::default();
    pile.set(HIGH);
    assert!(
        wait_until(Duration::from_secs(10), || last_dump(&guard).is_some()),
        "no dump with the environment's rule: {:?}",
        guard.status()
    );
    pile.set(0);
    let e = last_dump(&guard).expect("event");
    println!("env: dump error={:?} files={:?}", e.error, e.files);
}

/// Names of this process's threads.
fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter_map(Result::ok)
        .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
        .map(|n| n.trim().to_owned())
        .collect()
}

fn disable(dir: &Path) {
    let b = builder(dir)
        .env_overrides(true)
        .threads(threads_rule(Duration::from_millis(100)));
    match b.clone().start() {
        Err(holmes::Error::Disabled) => println!("disable: start() -> Disabled"),
        other => panic!("expected Error::Disabled, got {other:?}"),
    }
    let guard = holmes::__private::start(b, holmes::__private::OnError::Panic);
    assert!(guard.is_none(), "holmes runs despite HOLMES_DISABLE");
    let mut pile = Pile::default();
    pile.set(HIGH);
    std::thread::sleep(Duration::from_millis(300));
    let holmes_threads: Vec<String> = thread_names()
        .into_iter()
        .filter(|n| n.starts_with("holmes"))
        .collect();
    pile.set(0);
    println!("disable: holmes threads={holmes_threads:?}");
}

fn extreme(dir: &Path) {
    let max = Duration::MAX;
    let rule = || threads_rule(Duration::from_millis(100));
    let cases: Vec<(&str, holmes::Builder)> = vec![
        ("interval", builder(dir).interval(max)),
        ("interval", builder(dir).interval(Duration::from_nanos(1))),
        (
            "interval",
            builder(dir).interval(Duration::from_secs(2 * 86400)),
        ),
        ("cooldown", builder(dir).cooldown(max).threads(rule())),
        ("threads.cooldown", builder(dir).threads(threads_rule(max))),
        (
            "threads.escalate",
            builder(dir).threads(rule().escalate(max)),
        ),
        (
            "max_dumps.window",
            builder(dir).max_dumps(1, max).threads(rule()),
        ),
        (
            "max_dumps_per_rule.window",
            builder(dir).max_dumps_per_rule(1, max).threads(rule()),
        ),
        (
            "cpu_profile_duration",
            builder(dir).cpu_profile_duration(max),
        ),
        (
            "report_queue",
            builder(dir)
                .report_queue(usize::MAX)
                .reporter(holmes::LogReporter::new()),
        ),
    ];
    let mut pile = Pile::default();
    pile.set(HIGH);
    for (name, b) in cases {
        match b.start() {
            Err(e) => println!("extreme: {name} -> {e}"),
            Ok(guard) => {
                // Long enough for the rule to fire twice (ring of 2, 20 ms ticks).
                std::thread::sleep(Duration::from_millis(300));
                let s = guard.status();
                drop(guard);
                println!("extreme: {name} -> started: dumps={}", s.dumps);
            }
        }
    }

    // HOLMES_COOLDOWN=500000000000y (set by the test): ignored, the code's 1 min applies.
    let guard = builder(dir)
        .env_overrides(true)
        .threads(holmes::Rule::new(5, 1000, ABS))
        .start()
        .expect("holmes starts: an out-of-range variable is ignored");
    assert!(
        wait_until(Duration::from_secs(10), || guard.status().dumps >= 1),
        "no dump: {:?}",
        guard.status()
    );
    let ticks = guard.status().ticks;
    let ticking = wait_until(Duration::from_secs(5), || guard.status().ticks >= ticks + 5);
    pile.set(0);
    let s = guard.status();
    let left = match s.metric(holmes::Metric::Threads).state {
        holmes::RuleState::CoolingDown { until } => until
            .duration_since(std::time::SystemTime::now())
            .map(|d| d.as_secs())
            .ok(),
        _ => None,
    };
    println!(
        "extreme env: cooldown_left_s={} dumps={} ticking={ticking}",
        left.map_or("none".into(), |l| l.to_string()),
        s.dumps
    );
}
