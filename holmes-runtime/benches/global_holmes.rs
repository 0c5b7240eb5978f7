//! The HashMap workload with `holmes::Allocator<System>` as the `#[global_allocator]`,
//! sampling at the default rate; its baseline is `global_system.rs`.

use holmes_runtime::alloc::Allocator;

mod support;

#[global_allocator]
static GLOBAL: Allocator = Allocator::system();

fn main() {
    support::count_map_main();
}
