// Values that cannot make a working rule.
#[holmes::watch(cpu(90, 25, 80))]
fn min_above_abs() {}

#[holmes::watch(mem(10, 25, 120))]
fn percent_above_100() {}

#[holmes::watch(cpu(10, 0, 80))]
fn zero_diff() {}

#[holmes::watch(threads(10, 25, 70, 70))]
fn max_not_above_abs() {}

fn main() {}
