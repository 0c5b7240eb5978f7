//! Scenario: a lock-order deadlock between two named functions, then 50 threads waiting
//! on one of the deadlocked locks; the process dumps its threads on demand and writes
//! the text to `HOLMES_TEST_DIR`.

use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

#[inline(never)]
fn deadlock_takes_a_then_b(a: &Mutex<u64>, b: &Mutex<u64>, both: &Barrier) {
    let ga = a.lock().expect("lock a");
    both.wait(); // each side holds its first lock before taking the second
    let gb = b.lock().expect("lock b");
    std::hint::black_box((&ga, &gb));
}

#[inline(never)]
fn deadlock_takes_b_then_a(a: &Mutex<u64>, b: &Mutex<u64>, both: &Barrier) {
    let gb = b.lock().expect("lock b");
    both.wait();
    let ga = a.lock().expect("lock a");
    std::hint::black_box((&ga, &gb));
}

#[inline(never)]
fn deadlock_waiter_wants_a(a: &Mutex<u64>) {
    let g = a.lock().expect("lock a");
    std::hint::black_box(&g);
}

fn main() {
    let dir = std::path::PathBuf::from(std::env::var("HOLMES_TEST_DIR").expect("HOLMES_TEST_DIR"));
    std::fs::create_dir_all(&dir).expect("create dir");
    let a = Arc::new(Mutex::new(0u64));
    let b = Arc::new(Mutex::new(0u64));
    let both = Arc::new(Barrier::new(2));
    {
        let (a, b, both) = (a.clone(), b.clone(), both.clone());
        std::thread::Builder::new()
            .name("deadlock-ab".into())
            .spawn(move || deadlock_takes_a_then_b(&a, &b, &both))
            .expect("spawn");
    }
    {
        let (a, b, both) = (a.clone(), b.clone(), both.clone());
        std::thread::Builder::new()
            .name("deadlock-ba".into())
            .spawn(move || deadlock_takes_b_then_a(&a, &b, &both))
            .expect("spawn");
    }
    std::thread::sleep(Duration::from_millis(100));
    for i in 0..50 {
        let a = a.clone();
        std::thread::Builder::new()
            .name(format!("waiter-{i}"))
            .stack_size(64 * 1024)
            .spawn(move || deadlock_waiter_wants_a(&a))
            .expect("spawn");
    }
    std::thread::sleep(Duration::from_millis(300));
    let dump = holmes::dump_threads().expect("thread dump");
    let text = dump.symbolized_text();
    std::fs::write(dir.join("threads.txt"), &text).expect("write text");
    println!(
        "threads={} captured={}",
        dump.threads.len(),
        dump.captured().count()
    );
    std::process::exit(0);
}
