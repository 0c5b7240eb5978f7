//! Shared by the `hygiene_*` scenarios (included with `#[path]`, not a scenario itself):
//! a pile of parked threads whose size the scenario sets, to move the `threads` metric
//! on demand, and the configuration every hygiene scenario starts from.
#![allow(dead_code)]

use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Threads of the process that are not in the pile: main, holmes-sampler and
/// holmes-dumper. A pile of [`HIGH`] puts the count well above [`ABS`].
pub const ABS: u64 = 20;
pub const HIGH: usize = 30;

/// Where every pile thread waits until the pile shrinks.
#[inline(never)]
fn parked_in_hygiene_pile(rx: mpsc::Receiver<()>) {
    let _ = rx.recv();
    std::hint::black_box(());
}

/// A set of parked threads.
#[derive(Default)]
pub struct Pile {
    threads: Vec<(mpsc::Sender<()>, JoinHandle<()>)>,
}

impl Pile {
    /// Grows or shrinks the pile to `n` threads; returns when they exist (or have exited).
    pub fn set(&mut self, n: usize) {
        while self.threads.len() < n {
            let (tx, rx) = mpsc::channel();
            let h = std::thread::Builder::new()
                .name(format!("pile-{}", self.threads.len()))
                .stack_size(64 << 10)
                .spawn(move || parked_in_hygiene_pile(rx))
                .expect("spawn a pile thread");
            self.threads.push((tx, h));
        }
        while self.threads.len() > n {
            let (tx, h) = self.threads.pop().expect("non-empty");
            drop(tx);
            let _ = h.join();
        }
    }
}

impl Drop for Pile {
    fn drop(&mut self) {
        self.set(0);
    }
}

/// The threads rule every hygiene scenario uses: fires on `abs` (the diff of 1000 %
/// never matches a pile-up of [`HIGH`] over a ring of 2).
pub fn threads_rule(cooldown: Duration) -> holmes::Rule {
    holmes::Rule::new(5, 1000, ABS).cooldown(cooldown)
}

/// A fast-ticking holmes writing to `dir`, with no free-space floor, no environment
/// overrides and generous dump limits (each scenario narrows what it tests).
pub fn builder(dir: &Path) -> holmes::Builder {
    holmes::Holmes::builder()
        .env_overrides(false)
        .interval(Duration::from_millis(20))
        .ring_size(2)
        .dump_dir(dir)
        .min_free_space(0)
        .max_dumps_per_rule(1000, Duration::from_secs(1))
        .max_dumps(1000, Duration::from_secs(1))
}

/// Polls `cond` every 10 ms until it holds or `timeout` passes; returns whether it held.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < timeout {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    cond()
}

/// The last dump of the threads rule.
pub fn last_dump(guard: &holmes::Guard) -> Option<holmes::DumpEvent> {
    guard
        .status()
        .metric(holmes::Metric::Threads)
        .last_dump
        .clone()
}

/// env_logger at `holmes=info` unless `RUST_LOG` says otherwise.
pub fn init_log() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("holmes=info"))
        .init();
}

/// The environment variable `name`, required.
pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} must be set"))
}
