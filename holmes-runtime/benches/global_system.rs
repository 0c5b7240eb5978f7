//! The HashMap workload with `System` as the `#[global_allocator]`: the baseline of
//! `global_holmes.rs`. The alloc bench compares both allocators through a switching
//! global allocator (one binary, so they can alternate); this pair has no switch, so
//! the count is what a program pays with and without holmes. Counted by
//! `benches/instructions.sh`.

use std::alloc::System;

mod support;

#[global_allocator]
static GLOBAL: System = System;

fn main() {
    support::count_map_main();
}
