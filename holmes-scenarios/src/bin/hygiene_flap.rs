//! Scenario for `tests/hygiene.rs`: the thread count flaps between low and high every
//! 5 ticks of a 10 ms interval into `HOLMES_TEST_DIR`.
//!
//! - `limits`: ~10 s (≈ 1000 ticks) with a 20 ms cooldown, `max_dumps_per_rule(3, 2 s)`
//!   and `retention(12, 2 MiB)`: the dump limits and retention must bound the dumps,
//!   the files and the bytes.
//! - `escalate`: ~3 s at the same level with `escalate(1 h)`: one dump.

#[path = "../hygiene_pile.rs"]
mod pile;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use pile::{threads_rule, Pile, HIGH};

fn main() {
    pile::init_log();
    let dir = PathBuf::from(pile::env("HOLMES_TEST_DIR"));
    let mode = std::env::args().nth(1);
    let (rule, run_for) = match mode.as_deref() {
        Some("limits") => (
            threads_rule(Duration::from_millis(20)),
            Duration::from_secs(10),
        ),
        // sustain(2): the value that fires is a whole pile, not one caught mid-spawn.
        Some("escalate") => (
            threads_rule(Duration::from_millis(20))
                .escalate(Duration::from_secs(3600))
                .sustain(2),
            Duration::from_secs(3),
        ),
        other => panic!("unknown mode {other:?}"),
    };
    let t0 = Instant::now();
    let guard = pile::builder(&dir)
        .interval(Duration::from_millis(10))
        .threads(rule)
        .max_dumps_per_rule(3, Duration::from_secs(2))
        .max_dumps(1000, Duration::from_secs(1))
        .retention(12, 2 << 20)
        .start()
        .expect("holmes starts");
    let mut pile = Pile::default();
    let mut saw_throttled = false;
    let mut high = false;
    while t0.elapsed() < run_for {
        high = !high;
        pile.set(if high { HIGH } else { 0 });
        std::thread::sleep(Duration::from_millis(50));
        let state = guard.status().metric(holmes::Metric::Threads).state.clone();
        saw_throttled |= matches!(state, holmes::RuleState::Throttled { .. });
    }
    pile.set(0);
    drop(pile);
    // Let a dump in flight finish.
    std::thread::sleep(Duration::from_millis(200));
    let s = guard.status();
    let elapsed = t0.elapsed();
    drop(guard);
    println!(
        "elapsed_ms={} ticks={} dumps={} dump_failures={} throttled={} files_deleted={} saw_throttled={}",
        elapsed.as_millis(),
        s.ticks,
        s.dumps,
        s.dump_failures,
        s.throttled,
        s.files_deleted,
        saw_throttled
    );
}
