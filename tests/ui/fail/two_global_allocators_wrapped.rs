// `allocator = X` wraps the program's allocator in holmes' one: the program's own
// `#[global_allocator]` must go, which the note's macro name says.
use std::alloc::System;

#[global_allocator]
static MINE: System = System;

#[holmes::watch(heap(3, 25, 80), allocator = System)]
fn main() {}
