// Arguments written in the wrong shape.
#[holmes::watch(cpu = 10)]
fn rule_as_setting() {}

#[holmes::watch(cpu(10, 25, 80), interval("5s"))]
fn setting_as_rule() {}

#[holmes::watch(cpu(10, 25, 80), formats = "svg")]
fn formats_as_setting() {}

#[holmes::watch(cpu(10, 25, 80) interval = "5s")]
fn missing_comma() {}

#[holmes::watch(cpu(10, 25, 80), interval =)]
fn missing_value() {}

fn main() {}
