// With a `mem` or `heap` rule the attribute installs holmes' allocator; a program with
// its own `#[global_allocator]` writes `allocator = ItsAllocator` (holmes wraps it) or
// `allocator = false` (and installs `holmes::Allocator` itself). rustc's error underlines
// the rule, and its note names a macro whose name says so.
use std::alloc::System;

#[global_allocator]
static MINE: System = System;

#[holmes::watch(mem(3, 25, 80))]
fn main() {}
