// Wrong number or type of values in a rule.
#[holmes::watch(cpu(10, 25))]
fn too_few() {}

#[holmes::watch(cpu(10, 25, 80, 90))]
fn max_on_a_percent_rule() {}

#[holmes::watch(threads(10, 25, 70, 500, 600))]
fn too_many() {}

#[holmes::watch(cpu("10", 25, 80))]
fn string_value() {}

#[holmes::watch(cpu(10, -25, 80))]
fn negative_value() {}

#[holmes::watch(cpu(cooldown = "30s", 10, 25, 80))]
fn option_before_values() {}

fn main() {}
