//! Scenario (1gbslice): a handler allocates and touches 1 GiB; the `mem` rule (RSS % of
//! a 2 GiB limit) must dump a heap profile led by that handler.

#[path = "../support.rs"]
mod support;

use std::time::Duration;

#[global_allocator]
static ALLOC: holmes::Allocator = holmes::Allocator::system();

#[inline(never)]
fn make_1gb_handler() -> Vec<u8> {
    let mut v = vec![0u8; 1 << 30];
    for i in (0..v.len()).step_by(4096) {
        v[i] = 1; // touch every page: RSS grows
    }
    v
}

fn main() {
    let guard = support::builder()
        .memory_limit(2 << 30)
        .mem(holmes::Rule::new(10, 25, 40).cooldown(Duration::from_secs(3600)))
        .start()
        .expect("holmes starts");
    std::thread::sleep(Duration::from_millis(1500));
    let v = std::hint::black_box(make_1gb_handler());
    support::wait_for_dump(&guard, holmes::Metric::Mem, Duration::from_secs(20));
    drop(v);
    let s = guard.status();
    println!("dumps={} failures={}", s.dumps, s.dump_failures);
}
