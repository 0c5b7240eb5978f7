// At least one rule, and settings that need a rule need that rule.
#[holmes::watch(interval = "1s")]
fn no_rule() {}

#[holmes::watch(threads(10, 25, 70), cpu_profile = "1s")]
fn cpu_profile_without_cpu() {}

#[holmes::watch(cpu(10, 25, 80), allocator = false)]
fn allocator_without_mem() {}

fn main() {}
