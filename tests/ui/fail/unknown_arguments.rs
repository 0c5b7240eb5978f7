// Unknown arguments, rule options and formats: the message lists the valid names.
#[holmes::watch(cpu(10, 25, 80), intervall = "5s")]
fn typo() {}

#[holmes::watch(cpu(10, 25, 80), goroutines(3000, 20, 200000))]
fn unknown_rule() {}

#[holmes::watch(cpu(10, 25, 80, colddown = "30s"))]
fn unknown_rule_option() {}

#[holmes::watch(cpu(10, 25, 80), formats(pprof, json))]
fn unknown_format() {}

fn main() {}
