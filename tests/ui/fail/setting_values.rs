// Settings with a value of the wrong type or out of range.
#[holmes::watch(cpu(10, 25, 80), interval = 5)]
fn duration_without_unit() {}

#[holmes::watch(cpu(10, 25, 80), interval = "5 parsecs")]
fn malformed_duration() {}

#[holmes::watch(cpu(10, 25, 80), interval = "0s")]
fn zero_interval() {}

#[holmes::watch(cpu(10, 25, 80, cooldown = "0s"))]
fn zero_cooldown() {}

#[holmes::watch(cpu(10, 25, 80), memory_limit = "2 gigs")]
fn malformed_size() {}

#[holmes::watch(cpu(10, 25, 80), cpu_max = 101)]
fn cpu_max_out_of_range() {}

#[holmes::watch(cpu(10, 25, 80), cpu_cores = "2")]
fn cores_as_string() {}

#[holmes::watch(cpu(10, 25, 80), enabled = "no")]
fn enabled_as_string() {}

#[holmes::watch(cpu(10, 25, 80), on_error = "ignore")]
fn unknown_on_error() {}

#[holmes::watch(cpu(10, 25, 80), crate = "not a path")]
fn bad_crate_path() {}

fn main() {}
