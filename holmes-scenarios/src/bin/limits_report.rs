//! Scenario: starts holmes and prints the limits it detected, and the memory % it
//! samples, as `key=value` lines.

use std::time::Duration;

fn main() {
    let dir = std::env::var("HOLMES_TEST_DIR").expect("HOLMES_TEST_DIR");
    let guard = holmes::Holmes::builder()
        .interval(Duration::from_millis(50))
        .dump_dir(dir)
        .start()
        .expect("holmes starts");
    // Touch 32 MiB so that RSS is clearly non-zero against a small limit.
    let mut v = vec![0u8; 32 << 20];
    for i in (0..v.len()).step_by(4096) {
        v[i] = 1;
    }
    std::hint::black_box(&v);
    std::thread::sleep(Duration::from_millis(300));
    let s = guard.status();
    println!("cores={}", s.cores);
    println!("cores_source={}", s.cores_source);
    println!("memory_limit={}", s.memory_limit);
    println!("memory_source={}", s.memory_source);
    println!(
        "mem_percent={}",
        s.metric(holmes::Metric::Mem).current.unwrap_or(-1.0)
    );
}
