// With a `mem` or `heap` rule the attribute installs holmes's allocator; a program with
// its own `#[global_allocator]` must say `allocator = false` (and install
// `holmes::Allocator` itself) or `allocator = ItsAllocator` (to have it wrapped).
use std::alloc::System;

#[global_allocator]
static MINE: System = System;

#[holmes::watch(mem(3, 25, 80))]
fn main() {}
