// Every argument may appear once.
#[holmes::watch(cpu(10, 25, 80), interval = "1s", interval = "2s")]
fn duplicate_setting() {}

#[holmes::watch(cpu(10, 25, 80), cpu(20, 25, 90))]
fn duplicate_rule() {}

#[holmes::watch(cpu(10, 25, 80, cooldown = "1s", cooldown = "2s"))]
fn duplicate_rule_option() {}

#[holmes::watch(cpu(10, 25, 80), formats(svg, svg))]
fn duplicate_format() {}

fn main() {}
