//! Scenario: 200 threads pile up in one named blocking function; the process dumps its
//! threads on demand and writes the pprof profile and the text to `HOLMES_TEST_DIR`.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Where every pile-up thread waits: on a condition nobody signals.
#[inline(never)]
fn threads_pileup_blocked_here(gate: &(Mutex<bool>, Condvar), parked: &Mutex<usize>) {
    *parked.lock().expect("lock") += 1;
    let (lock, cv) = gate;
    let mut open = lock.lock().expect("lock");
    while !*open {
        open = cv.wait(open).expect("wait");
    }
    std::hint::black_box(&open);
}

fn main() {
    let dir = std::path::PathBuf::from(std::env::var("HOLMES_TEST_DIR").expect("HOLMES_TEST_DIR"));
    std::fs::create_dir_all(&dir).expect("create dir");
    let gate = Arc::new((Mutex::new(false), Condvar::new()));
    let parked = Arc::new(Mutex::new(0usize));
    for i in 0..200 {
        let (g, p) = (gate.clone(), parked.clone());
        std::thread::Builder::new()
            .name(format!("pileup-{i}"))
            .stack_size(64 * 1024)
            .spawn(move || threads_pileup_blocked_here(&g, &p))
            .expect("spawn");
    }
    while *parked.lock().expect("lock") < 200 {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(100)); // let the last ones reach the wait
    let dump = holmes::dump_threads().expect("thread dump");
    let mut sym = holmes_runtime::symbol::Symbolizer::new();
    let profile = dump.to_profile(&mut sym);
    let gz = holmes_runtime::dump::profile::to_pprof_gz(&profile).expect("encode");
    std::fs::write(dir.join("threads.pb.gz"), gz).expect("write pprof");
    std::fs::write(dir.join("threads.txt"), dump.to_text(&mut sym)).expect("write text");
    println!(
        "threads={} captured={} duration={:?}",
        dump.threads.len(),
        dump.captured().count(),
        dump.capture_duration
    );
    // Exit with the threads still parked.
    std::process::exit(0);
}
