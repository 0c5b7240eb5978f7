// The program's `#[global_allocator]` after the attribute: rustc reports the error at
// the program's static, the second allocator, and underlines the rule as the previous
// one; its note is about the second, so it names no macro of holmes.
use std::alloc::System;

#[holmes::watch(cpu(10, 25, 80), heap(3, 25, 80))]
fn main() {}

#[global_allocator]
static MINE: System = System;
