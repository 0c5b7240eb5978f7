//! Scenario for `tests/hygiene.rs`: with `dump`, holmes dumps the threads continuously
//! (a pile-up above the rule, a 1 ms cooldown, no dump limits) into `HOLMES_TEST_DIR`
//! until the test kills the process with SIGKILL; with `start`, holmes only starts on
//! that directory (removing the temporary files of dead processes) and stops.

#[path = "../hygiene_pile.rs"]
mod pile;

use std::path::PathBuf;
use std::time::Duration;

use pile::{builder, threads_rule, Pile};

fn main() {
    pile::init_log();
    let dir = PathBuf::from(pile::env("HOLMES_TEST_DIR"));
    match std::env::args().nth(1).as_deref() {
        Some("dump") => {
            let _guard = builder(&dir)
                .interval(Duration::from_millis(10))
                .threads(threads_rule(Duration::from_millis(1)))
                .start()
                .expect("holmes starts");
            let mut pile = Pile::default();
            // More threads, bigger files: more time spent writing.
            pile.set(120);
            println!("dumping");
            // Bounded: the test kills the process long before.
            std::thread::sleep(Duration::from_secs(20));
            println!("not killed");
        }
        Some("start") => {
            let guard = builder(&dir).start().expect("holmes starts");
            drop(guard);
            println!("started and stopped");
        }
        other => panic!("unknown mode {other:?}"),
    }
}
