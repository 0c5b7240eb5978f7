// Durations outside their range (`holmes::bounds`): an error on the literal.
#[holmes::watch(cpu(10, 25, 80), interval = "1ns")]
fn interval_too_short() {}

#[holmes::watch(cpu(10, 25, 80), interval = "2days")]
fn interval_too_long() {}

#[holmes::watch(cpu(10, 25, 80), cooldown = "100y")]
fn cooldown_of_centuries() {}

#[holmes::watch(cpu(10, 25, 80, cooldown = "2y", escalate = "2y"))]
fn rule_options_too_long() {}

#[holmes::watch(cpu(10, 25, 80), cpu_profile = "2h")]
fn cpu_profile_too_long() {}

fn main() {}
