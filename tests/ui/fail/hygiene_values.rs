// A sustain of zero samples, a malformed escalation reset and a non-boolean cascade are
// errors at the offending token, all reported together.
#[holmes::watch(cpu(10, 25, 80, sustain = 0, escalate = "soon"), cascade = "yes")]
fn main() {}
